package radiusd

import (
	"net"
	"net/netip"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/assent-auth/assent/internal/authproxy/radiusmsg"
)

// statusServer answers a Status-Server (RFC 5997) from a known client:
// an Access-Accept, as for an authentication port (§4.1), signed with a
// Message-Authenticator first and echoing Proxy-State. It never reaches
// the primary or the Auth API, so it says that this socket is up and the
// secret right, nothing more.
//
// RFC 5997 §3 requires a Message-Authenticator in every Status-Server,
// whatever require_message_authenticator says: one without it, or with
// a wrong one, is dropped. Status-Server bypasses the duplicate cache
// (§3: no duplicate detection; each one is answered afresh): a
// Status-Server that reuses the Identifier of an Access-Request neither
// gets that request's cached answer nor evicts it.
func (s *Server) statusServer(conn net.PacketConn, raw []byte, addr net.Addr, src netip.AddrPort, rt *route) {
	pkt, err := radius.Parse(raw, rt.net.Secret)
	if err != nil {
		s.drop("malformed", src.Addr(), "nas", src.String(), "code", int(radius.CodeStatusServer), "err", err)
		return
	}
	switch present, valid := radiusmsg.VerifyRequest(raw, rt.net.Secret); {
	case !present:
		s.drop("status_server_without_message_authenticator", src.Addr(), "nas", src.String(), "section", rt.sec.Name,
			"hint", "RFC 5997 requires a Message-Authenticator in every Status-Server")
		return
	case !valid:
		s.drop("bad_message_authenticator", src.Addr(), "nas", src.String(), "section", rt.sec.Name,
			"code", int(radius.CodeStatusServer), "hint", "wrong shared secret or forged packet")
		return
	}
	resp := pkt.Response(radius.CodeAccessAccept)
	resp.Secret = rt.net.Secret
	for _, a := range pkt.Attributes {
		if a.Type == rfc2865.ProxyState_Type {
			resp.Attributes = append(resp.Attributes, a)
		}
	}
	b, err := radiusmsg.SignResponse(resp, pkt.Authenticator)
	if err != nil {
		s.log.Error("radius: encoding the answer to a Status-Server", "nas", src.String(), "err", err)
		return
	}
	s.obs.StatusServer(rt.sec.Name)
	// Monitoring sends these every few seconds: debug, not info.
	s.log.Debug("radius: Status-Server answered", "nas", src.String(), "section", rt.sec.Name, "id", pkt.Identifier)
	if _, err := conn.WriteTo(b, addr); err != nil {
		s.log.Warn("radius: sending the answer to a Status-Server", "nas", src.String(), "err", err)
	}
}
