package cfg

import (
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"strings"
)

// ParseNetworks converts one radius_ip_N value to prefixes. Accepted forms,
// as in Duo's proxy: a single IPv4 or IPv6 address, a CIDR (host bits are
// cleared), IPv4 address/netmask (or hostmask), and a range
// "first-last" (converted to the smallest list of covering CIDRs, which
// cover exactly the range). IPv4-mapped IPv6 addresses are unmapped so a
// network matches packets however the socket reports their source. The
// returned note is non-empty when the value was changed in a way the
// administrator may not expect (host bits cleared).
func ParseNetworks(s string) (prefixes []netip.Prefix, note string, err error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, "", errors.New("empty")
	case strings.Contains(s, "-"):
		first, last, _ := strings.Cut(s, "-")
		a, err := parseAddr(strings.TrimSpace(first))
		if err != nil {
			return nil, "", fmt.Errorf("range start: %w", err)
		}
		b, err := parseAddr(strings.TrimSpace(last))
		if err != nil {
			return nil, "", fmt.Errorf("range end: %w", err)
		}
		if a.Is4() != b.Is4() {
			return nil, "", errors.New("range mixes IPv4 and IPv6")
		}
		if b.Less(a) {
			return nil, "", fmt.Errorf("range end %s is before its start %s", b, a)
		}
		return rangeToPrefixes(a, b), "", nil
	case strings.Contains(s, "/"):
		addrText, maskText, _ := strings.Cut(s, "/")
		a, err := parseAddr(addrText)
		if err != nil {
			return nil, "", err
		}
		n, err := prefixLen(a, maskText)
		if err != nil {
			return nil, "", err
		}
		p := netip.PrefixFrom(a, n)
		m := p.Masked()
		if m != p {
			note = fmt.Sprintf("%s has host bits set; it is read as %s", s, m)
		}
		return []netip.Prefix{m}, note, nil
	default:
		a, err := parseAddr(s)
		if err != nil {
			return nil, "", err
		}
		return []netip.Prefix{netip.PrefixFrom(a, a.BitLen())}, "", nil
	}
}

func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q: IPv6 zones are not allowed", s)
	}
	return a.Unmap(), nil
}

// prefixLen reads the part after "/": a length, or for IPv4 a dotted
// netmask (255.255.255.0) or hostmask (0.0.0.255).
func prefixLen(a netip.Addr, s string) (int, error) {
	s = strings.TrimSpace(s)
	if n, ok := atoiStrict(s); ok {
		if n > a.BitLen() {
			return 0, fmt.Errorf("prefix length /%d is longer than %d", n, a.BitLen())
		}
		return n, nil
	}
	m, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() || !m.Is4() {
		return 0, fmt.Errorf("%q is neither a prefix length nor an IPv4 netmask", s)
	}
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	if ones := bits.LeadingZeros32(^v); v<<ones == 0 {
		return ones, nil // netmask: ones then zeros
	}
	if zeros := bits.LeadingZeros32(v); ^v<<zeros == 0 {
		return zeros, nil // hostmask: zeros then ones
	}
	return 0, fmt.Errorf("netmask %s is not contiguous", s)
}

// rangeToPrefixes returns the fewest prefixes that together cover exactly
// first..last (inclusive).
func rangeToPrefixes(first, last netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	width := first.BitLen()
	for cur := first; ; {
		// The largest block starting at cur: as many host bits as cur has
		// trailing zeros, shrunk until the block ends at or before last.
		host := trailingZeros(cur)
		for host > 0 && lastOf(cur, host).Compare(last) > 0 {
			host--
		}
		out = append(out, netip.PrefixFrom(cur, width-host))
		end := lastOf(cur, host)
		if end == last {
			return out
		}
		cur = end.Next()
	}
}

func trailingZeros(a netip.Addr) int {
	b := a.AsSlice()
	n := 0
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != 0 {
			return n + bits.TrailingZeros8(b[i])
		}
		n += 8
	}
	return n
}

// lastOf returns a with its lowest host bits set to one.
func lastOf(a netip.Addr, host int) netip.Addr {
	b := a.AsSlice()
	for i := len(b) - 1; i >= 0 && host > 0; i-- {
		if host >= 8 {
			b[i] = 0xff
			host -= 8
		} else {
			b[i] |= byte(1<<host - 1)
			host = 0
		}
	}
	r, _ := netip.AddrFromSlice(b)
	return r
}

// atoiStrict parses a non-negative decimal number of at most 9 digits
// (enough for every number in the file, and no overflow).
func atoiStrict(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
