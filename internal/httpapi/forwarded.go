package httpapi

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParseTrustedProxies reads trusted_proxies: IP addresses or CIDR prefixes.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted_proxies: %q is not an IP address or CIDR prefix", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// maxForwardedHops bounds the X-Forwarded-For entries read.
const maxForwardedHops = 16

// Forwarded makes the client a trusted reverse proxy names in
// X-Forwarded-For the request's RemoteAddr (as "ip:0"), for the auth log,
// the access log and the per-address limits. The header is read only when
// the peer is one of trusted, and from the right: each entry that is
// itself a trusted proxy is skipped, and the first that is not is the
// client (entries further left were written by the client and prove
// nothing). From any other peer the header is ignored. With no trusted
// proxies it returns next.
func Forwarded(trusted []netip.Prefix, next http.Handler) http.Handler {
	if len(trusted) == 0 {
		return next
	}
	isTrusted := func(a netip.Addr) bool {
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		xff := r.Header.Values("X-Forwarded-For")
		if err != nil || len(xff) == 0 || !isTrusted(peer.Addr()) {
			next.ServeHTTP(w, r)
			return
		}
		var hops []string
		for _, v := range xff {
			for h := range strings.SplitSeq(v, ",") {
				hops = append(hops, strings.TrimSpace(h))
			}
		}
		if len(hops) > maxForwardedHops {
			hops = hops[len(hops)-maxForwardedHops:]
		}
		client := netip.Addr{}
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(hops[i])
			if err != nil {
				break // unparsable: trust nothing further left
			}
			client = a.Unmap()
			if !isTrusted(client) {
				break
			}
		}
		if !client.IsValid() {
			next.ServeHTTP(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.RemoteAddr = net.JoinHostPort(client.String(), "0")
		next.ServeHTTP(w, r2)
	})
}
