package primary

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc3162"

	"github.com/assent-auth/assent/internal/authproxy/radiusmsg"
)

// Messages of the radius_client.
const (
	// MsgNoReplyMessage is Duo's text when the upstream reply has none.
	MsgNoReplyMessage    = "No reply message in packet"
	MsgRadiusUnavailable = "Failed to communicate with any RADIUS server"
)

// Microsoft vendor-specific attributes (RFC 2548) the client handles.
const (
	vendorMicrosoft    = 311
	msCHAPResponse     = 1
	msCHAPError        = 2
	msCHAPCPW1         = 3
	msCHAPCPW2         = 4
	msCHAPLMEncPW      = 5
	msCHAPNTEncPW      = 6
	msCHAPDomain       = 10
	msCHAPChallenge    = 11
	msMPPESendKey      = 16
	msMPPERecvKey      = 17
	msCHAP2Response    = 25
	msCHAP2Success     = 26
	msCHAP2CPW         = 27
	typeVendorSpecific = 26
)

// msCHAPRequest are the request attributes always relayed upstream.
var msCHAPRequest = []byte{msCHAPResponse, msCHAPCPW1, msCHAPCPW2, msCHAPLMEncPW, msCHAPNTEncPW, msCHAPChallenge, msCHAP2Response, msCHAP2CPW}

// msCHAPReply are the reply attributes always copied back.
var msCHAPReply = []byte{msCHAP2Success, msCHAPError, msCHAPDomain}

// AttrID names an attribute: a plain one (Vendor 0, Type) or a
// vendor-specific one (Vendor, VendorType inside attribute 26).
type AttrID struct {
	Type       radius.Type
	Vendor     uint32
	VendorType byte
}

// RadiusConfig is a [radius_client] section.
type RadiusConfig struct {
	// Hosts are "host:port" (or "host", port 1812), in order.
	Hosts  []string
	Secret string
	// Retries is how many times a request is re-sent, each time to the
	// next host (cycling); Duo's default is 3.
	Retries int
	// RetryWait is how long to wait for an answer before the next try
	// (default 2 s).
	RetryWait time.Duration
	// NASIP is sent as NAS-IP-Address (or NAS-IPv6-Address); zero means
	// the address this host uses to reach the internet (or the first
	// upstream host, without a default route).
	NASIP netip.Addr
	// PassThrough are reply attributes copied into the final answer
	// (pass_through_attr_names); PassThroughAll copies every reply
	// attribute except those that belong to this hop. MS-CHAP2-Success,
	// MS-CHAP-Error and MS-CHAP-Domain are always copied.
	PassThrough    []AttrID
	PassThroughAll bool
	// RequireMessageAuthenticator drops replies without one. They are
	// always verified when present.
	RequireMessageAuthenticator bool
	Logger                      *slog.Logger
}

// RadiusClient authenticates against upstream RADIUS servers. It is safe
// for concurrent use; each exchange uses its own sockets.
type RadiusClient struct {
	cfg   RadiusConfig
	hosts []string
	nasIP netip.Addr
	wait  time.Duration
	log   *slog.Logger
}

// NewRadius checks cfg and builds a client. It does not send anything.
func NewRadius(cfg RadiusConfig) (*RadiusClient, error) {
	c := &RadiusClient{cfg: cfg, wait: cfg.RetryWait, log: cfg.Logger}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.wait <= 0 {
		c.wait = 2 * time.Second
	}
	if cfg.Secret == "" {
		return nil, errors.New("radius_client: secret is required")
	}
	if cfg.Retries < 0 {
		return nil, fmt.Errorf("radius_client: negative retries %d", cfg.Retries)
	}
	if len(cfg.Hosts) == 0 {
		return nil, errors.New("radius_client: host is required")
	}
	for _, h := range cfg.Hosts {
		addr := h
		if _, _, err := net.SplitHostPort(h); err != nil {
			addr = net.JoinHostPort(h, "1812")
		}
		host, port, _ := net.SplitHostPort(addr)
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || host == "" {
			return nil, fmt.Errorf("radius_client: invalid host %q", h)
		}
		c.hosts = append(c.hosts, addr)
	}
	c.nasIP = cfg.NASIP
	if !c.nasIP.IsValid() {
		c.nasIP = autoNASIP(c.hosts[0])
	}
	return c, nil
}

// autoNASIP is the source address of a UDP "connection" to a public
// address, as Duo's proxy picks it; without a default route, the one used
// to reach the first upstream host. Nothing is sent.
func autoNASIP(firstHost string) netip.Addr {
	for _, target := range []string{"8.8.8.8:53", firstHost} {
		conn, err := net.Dial("udp", target)
		if err != nil {
			continue
		}
		a := conn.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
		conn.Close()
		if a.IsValid() && !a.IsUnspecified() {
			return a
		}
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1})
}

// NASIP is the NAS-IP-Address the client sends.
func (c *RadiusClient) NASIP() netip.Addr { return c.nasIP }

// Authenticate relays r upstream: PAP (r.Password) and/or the MS-CHAP
// attributes of r.Packet, plus r.Forward. No answer from any host after
// all tries is an *UnavailableError.
func (c *RadiusClient) Authenticate(ctx context.Context, r Request) (Result, error) {
	p := radius.New(radius.CodeAccessRequest, []byte(c.cfg.Secret))
	if err := rfc2865.UserName_SetString(p, r.Username); err != nil {
		return Result{Message: MsgUserAuthFailed, Reason: "username not sendable upstream: " + err.Error()}, nil
	}
	if r.Password != "" {
		if err := rfc2865.UserPassword_SetString(p, r.Password); err != nil {
			// Longer than RFC 2865 allows (128 bytes): no server could accept it.
			c.log.Info("radius_client: password not sendable", "user", r.Username, "error", err)
			return Result{Message: MsgUserAuthFailed, Reason: "password longer than RADIUS allows (128 bytes)"}, nil
		}
	}
	c.setNASIP(p)
	if r.Packet != nil {
		for _, a := range r.Packet.Attributes {
			if vt, ok := msVSA(a); ok && bytes.IndexByte(msCHAPRequest, vt) >= 0 {
				p.Attributes = append(p.Attributes, a)
			}
		}
	}
	for _, a := range r.Forward {
		switch a.Type {
		case 1, 2, 4, 24, 33, 80:
			// Built by this client, or hop-by-hop.
			continue
		}
		if !hasAVP(p.Attributes, a) {
			p.Attributes = append(p.Attributes, a)
		}
	}
	if r.Password == "" && !hasMSCHAP(p) {
		return Result{Message: MsgUserAuthFailed, Reason: "neither a password nor MS-CHAP attributes in the request"}, nil
	}
	reply, err := c.exchange(ctx, p)
	if err != nil {
		return Result{}, &UnavailableError{Message: MsgRadiusUnavailable, Err: err}
	}
	return c.result(reply), nil
}

func (c *RadiusClient) setNASIP(p *radius.Packet) {
	if c.nasIP.Is4() {
		ip := c.nasIP.As4()
		_ = rfc2865.NASIPAddress_Set(p, net.IP(ip[:]))
	} else {
		ip := c.nasIP.As16()
		_ = rfc3162.NASIPv6Address_Set(p, net.IP(ip[:]))
	}
}

func hasMSCHAP(p *radius.Packet) bool {
	for _, a := range p.Attributes {
		if vt, ok := msVSA(a); ok && (vt == msCHAP2Response || vt == msCHAPResponse || vt == msCHAP2CPW) {
			return true
		}
	}
	return false
}

func hasAVP(list radius.Attributes, a *radius.AVP) bool {
	for _, b := range list {
		if b.Type == a.Type && bytes.Equal(b.Attribute, a.Attribute) {
			return true
		}
	}
	return false
}

// msVSA returns the vendor type of a Microsoft vendor-specific attribute
// holding exactly one sub-attribute.
func msVSA(a *radius.AVP) (byte, bool) {
	id, ok := vsa(a)
	return id.VendorType, ok && id.Vendor == vendorMicrosoft
}

// vsa parses attribute 26 with one well-formed sub-attribute (RFC 2865
// §5.26 recommended format).
func vsa(a *radius.AVP) (AttrID, bool) {
	b := a.Attribute
	if a.Type != typeVendorSpecific || len(b) < 6 {
		return AttrID{}, false
	}
	if int(b[5]) != len(b)-4 || b[5] < 2 {
		return AttrID{}, false
	}
	return AttrID{Type: typeVendorSpecific, Vendor: binary.BigEndian.Uint32(b[:4]), VendorType: b[4]}, true
}

// result turns a verified reply into a Result.
func (c *RadiusClient) result(reply *radius.Packet) Result {
	res := Result{Accepted: reply.Code == radius.CodeAccessAccept}
	var msg strings.Builder
	for _, a := range reply.Attributes {
		if a.Type == rfc2865.ReplyMessage_Type {
			msg.Write(a.Attribute)
		}
	}
	res.Message = msg.String()
	if res.Message == "" {
		res.Message = MsgNoReplyMessage
	}
	for _, a := range reply.Attributes {
		if vt, ok := msVSA(a); ok {
			if vt == msCHAPError && bytes.Contains(a.Attribute[6:], []byte("E=648")) {
				res.PasswordExpired = true
			}
			if bytes.IndexByte(msCHAPReply, vt) >= 0 {
				res.Attributes = append(res.Attributes, a)
				continue
			}
		}
		if c.passThrough(a) {
			res.Attributes = append(res.Attributes, a)
		}
	}
	switch {
	case reply.Code == radius.CodeAccessChallenge:
		// Only EAP relays expect a challenge; for PAP and MS-CHAP it is
		// a refusal.
		res.Accepted = false
		res.Reason = "the upstream RADIUS server answered Access-Challenge, which only EAP relays take"
	case !res.Accepted:
		res.Reason = "the upstream RADIUS server answered " + reply.Code.String()
		if res.PasswordExpired {
			res.Reason += " (MS-CHAP E=648: password expired)"
		}
	}
	return res
}

func (c *RadiusClient) passThrough(a *radius.AVP) bool {
	switch a.Type {
	case rfc2865.ReplyMessage_Type, rfc2865.State_Type, rfc2865.ProxyState_Type, radiusmsg.Type:
		// Reply-Message becomes Result.Message; the rest belong to this hop.
		return false
	case 69: // Tunnel-Password is encrypted with this hop's secret
		return false
	}
	if vt, ok := msVSA(a); ok && (vt == msMPPESendKey || vt == msMPPERecvKey) {
		// Encrypted with the upstream secret and request authenticator:
		// meaningless to the NAS.
		return false
	}
	if c.cfg.PassThroughAll {
		return true
	}
	for _, id := range c.cfg.PassThrough {
		if id.Vendor == 0 && id.Type != typeVendorSpecific {
			if a.Type == id.Type {
				return true
			}
			continue
		}
		if got, ok := vsa(a); ok && got.Vendor == id.Vendor && got.VendorType == id.VendorType {
			return true
		}
	}
	return false
}

// answer is one datagram read by a reader goroutine.
type answer struct {
	host int
	b    []byte
	err  error
}

// exchange sends p to the hosts in turn: try i goes to host i mod n and
// waits RetryWait (less when the host refuses at once) for a valid reply
// from any host tried so far.
func (c *RadiusClient) exchange(ctx context.Context, p *radius.Packet) (*radius.Packet, error) {
	wire, err := radiusmsg.EncodeRequest(p)
	if err != nil {
		return nil, fmt.Errorf("encoding the request: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conns := make([]net.Conn, len(c.hosts))
	answers := make(chan answer, 16)
	defer func() {
		for _, conn := range conns {
			if conn != nil {
				conn.Close()
			}
		}
	}()
	var errs []error
	var d net.Dialer
	for try := 0; try <= c.cfg.Retries; try++ {
		i := try % len(c.hosts)
		if conns[i] == nil {
			conn, err := d.DialContext(ctx, "udp", c.hosts[i])
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", c.hosts[i], err))
				if ctx.Err() != nil {
					break
				}
				continue
			}
			conns[i] = conn
			go read(ctx, conn, i, answers)
		}
		if _, err := conns[i].Write(wire); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.hosts[i], err))
			continue
		}
		c.log.Debug("radius_client: request sent", "host", c.hosts[i], "try", try+1, "id", p.Identifier)
		timer := time.NewTimer(c.wait)
	wait:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return nil, errors.Join(append(errs, ctx.Err())...)
			case <-timer.C:
				errs = append(errs, fmt.Errorf("%s: no answer within %v", c.hosts[i], c.wait))
				c.log.Warn("radius_client: no answer", "host", c.hosts[i], "try", try+1)
				break wait
			case a := <-answers:
				if a.err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", c.hosts[a.host], a.err))
					c.log.Warn("radius_client: host refused", "host", c.hosts[a.host], "error", a.err)
					if a.host == i {
						// Refused at once (ICMP port unreachable): go on now.
						timer.Stop()
						break wait
					}
					continue
				}
				reply, err := c.verifyReply(a.b, wire, p)
				if err != nil {
					c.log.Warn("radius_client: reply dropped", "host", c.hosts[a.host], "error", err)
					continue
				}
				timer.Stop()
				return reply, nil
			}
		}
	}
	return nil, errors.Join(errs...)
}

// read forwards datagrams from conn until ctx ends or conn is closed.
func read(ctx context.Context, conn net.Conn, host int, out chan<- answer) {
	buf := make([]byte, radius.MaxPacketLength+1)
	for {
		n, err := conn.Read(buf)
		var a answer
		switch {
		case err == nil:
			a = answer{host: host, b: bytes.Clone(buf[:n])}
		case errors.Is(err, syscall.ECONNREFUSED):
			a = answer{host: host, err: errors.New("port unreachable")}
		default:
			return // closed
		}
		select {
		case out <- a:
		case <-ctx.Done():
			return
		}
	}
}

// verifyReply checks that b answers the request wire: Identifier,
// Response Authenticator, Message-Authenticator when present (or required)
// and an Access-Accept, -Reject or -Challenge code.
func (c *RadiusClient) verifyReply(b, wire []byte, req *radius.Packet) (*radius.Packet, error) {
	return verifyReply(b, wire, req.Identifier, req.Authenticator, req.Secret, c.cfg.RequireMessageAuthenticator,
		radius.CodeAccessAccept, radius.CodeAccessReject, radius.CodeAccessChallenge)
}

func verifyReply(b, wire []byte, id byte, reqAuth [16]byte, secret []byte, requireMA bool, codes ...radius.Code) (*radius.Packet, error) {
	if len(b) > radius.MaxPacketLength {
		return nil, errors.New("oversized packet")
	}
	reply, err := radius.Parse(b, secret)
	if err != nil {
		return nil, err
	}
	if reply.Identifier != id {
		return nil, fmt.Errorf("identifier %d, want %d", reply.Identifier, id)
	}
	ok := false
	for _, code := range codes {
		ok = ok || reply.Code == code
	}
	if !ok {
		return nil, fmt.Errorf("unexpected code %v", reply.Code)
	}
	if !radius.IsAuthenticResponse(b, wire, secret) {
		return nil, errors.New("bad Response Authenticator (wrong secret?)")
	}
	present, valid := radiusmsg.VerifyResponse(b, reqAuth, secret)
	switch {
	case present && !valid:
		return nil, errors.New("bad Message-Authenticator")
	case !present && requireMA:
		return nil, errors.New("no Message-Authenticator")
	}
	return reply, nil
}

// Check sends a Status-Server with a Message-Authenticator to every host
// (re-sent every RetryWait until ctx ends) and reports which answered.
func (c *RadiusClient) Check(ctx context.Context) []HostCheck {
	out := make([]HostCheck, len(c.hosts))
	done := make(chan struct{})
	for i, h := range c.hosts {
		go func() {
			defer func() { done <- struct{}{} }()
			start := time.Now()
			out[i] = HostCheck{Host: h, Err: c.statusServer(ctx, h)}
			out[i].Elapsed = time.Since(start)
		}()
	}
	for range c.hosts {
		<-done
	}
	return out
}

func (c *RadiusClient) statusServer(ctx context.Context, host string) error {
	p := radius.New(radius.CodeStatusServer, []byte(c.cfg.Secret))
	c.setNASIP(p)
	wire, err := radiusmsg.EncodeRequest(p)
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", host)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	answers := make(chan answer, 4)
	go read(ctx, conn, 0, answers)
	for {
		if _, err := conn.Write(wire); err != nil {
			return err
		}
		timer := time.NewTimer(c.wait)
	wait:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return fmt.Errorf("no answer to Status-Server: %w", ctx.Err())
			case <-timer.C:
				break wait
			case a := <-answers:
				if a.err != nil {
					timer.Stop()
					return a.err
				}
				// Status-Server is answered with Access-Accept (RFC 5997).
				if _, err := verifyReply(a.b, wire, p.Identifier, p.Authenticator, p.Secret, false, radius.CodeAccessAccept); err != nil {
					timer.Stop()
					return fmt.Errorf("invalid answer to Status-Server: %w", err)
				}
				timer.Stop()
				return nil
			}
		}
	}
}
