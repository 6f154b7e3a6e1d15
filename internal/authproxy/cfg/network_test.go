package cfg

import (
	"math/big"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

func TestParseNetworks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want, note, err string
	}{
		{"10.0.0.1", "10.0.0.1/32", "", ""},
		{" 10.0.0.1 ", "10.0.0.1/32", "", ""},
		{"2001:db8::1", "2001:db8::1/128", "", ""},
		{"::ffff:10.0.0.1", "10.0.0.1/32", "", ""},
		{"10.0.0.0/8", "10.0.0.0/8", "", ""},
		{"10.1.2.3/8", "10.0.0.0/8", "host bits", ""},
		{"2001:db8::/32", "2001:db8::/32", "", ""},
		{"0.0.0.0/0", "0.0.0.0/0", "", ""},
		{"10.0.0.0/255.255.255.0", "10.0.0.0/24", "", ""},
		{"10.0.0.0/255.255.255.255", "10.0.0.0/32", "", ""},
		{"10.0.0.0/0.0.0.255", "10.0.0.0/24", "", ""},
		{"10.0.0.0/0.0.0.0", "0.0.0.0/0", "host bits", ""},
		{"10.0.0.0/255.0.255.0", "", "", "not contiguous"},
		{"10.0.0.0/33", "", "", "longer than 32"},
		{"2001:db8::/ffff::", "", "", "neither a prefix length"},
		{"10.0.0.0/x", "", "", "neither a prefix length"},
		{"10.0.0.1-10.0.0.1", "10.0.0.1/32", "", ""},
		{"10.0.0.0 - 10.0.0.255", "10.0.0.0/24", "", ""},
		{"10.0.0.1-10.0.0.9", "10.0.0.1/32 10.0.0.2/31 10.0.0.4/30 10.0.0.8/31", "", ""},
		{"0.0.0.0-255.255.255.255", "0.0.0.0/0", "", ""},
		{"255.255.255.254-255.255.255.255", "255.255.255.254/31", "", ""},
		{"::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/0", "", ""},
		{"2001:db8::1-2001:db8::2", "2001:db8::1/128 2001:db8::2/128", "", ""},
		{"10.0.0.9-10.0.0.1", "", "", "before its start"},
		{"10.0.0.1-2001:db8::1", "", "", "mixes IPv4 and IPv6"},
		{"10.0.0.1-", "", "", "range end"},
		{"-10.0.0.1", "", "", "range start"},
		{"", "", "", "empty"},
		{"vpn.example.com", "", "", "not an IP address"},
		{"fe80::1%eth0", "", "", "zones"},
		{"10.0.0.1,10.0.0.2", "", "", "not an IP address"},
	} {
		got, note, err := ParseNetworks(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want ~%q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if strings.Join(s, " ") != tc.want {
			t.Errorf("%q = %v, want %s", tc.in, s, tc.want)
		}
		if (tc.note == "") != (note == "") || !strings.Contains(note, tc.note) {
			t.Errorf("%q: note %q, want ~%q", tc.in, note, tc.note)
		}
	}
}

// TestRangeCoverage checks on random ranges that the prefixes cover
// exactly the range, in order, without gaps or overlaps, and that no two
// neighbours could have been merged (so the list is minimal).
func TestRangeCoverage(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		var a, b netip.Addr
		if i%2 == 0 {
			x, y := rng.Uint32(), rng.Uint32()
			if i%4 == 0 {
				y = x + rng.Uint32N(5000) // small ranges too
				if y < x {
					y = x
				}
			}
			a, b = addr4(min(x, y)), addr4(max(x, y))
		} else {
			var x, y [16]byte
			for j := range x {
				x[j] = byte(rng.Uint32())
				y[j] = x[j]
			}
			for j := 8 + rng.IntN(8); j < 16; j++ {
				y[j] = byte(rng.Uint32())
			}
			a, b = netip.AddrFrom16(x), netip.AddrFrom16(y)
			if b.Less(a) {
				a, b = b, a
			}
		}
		ps := rangeToPrefixes(a, b)
		next := toInt(a)
		one := big.NewInt(1)
		for k, p := range ps {
			if p.Masked() != p {
				t.Fatalf("%s-%s: %s not masked", a, b, p)
			}
			if toInt(p.Addr()).Cmp(next) != 0 {
				t.Fatalf("%s-%s: gap or overlap before %s", a, b, p)
			}
			size := new(big.Int).Lsh(one, uint(p.Addr().BitLen()-p.Bits()))
			next.Add(next, size)
			if k > 0 {
				q := ps[k-1]
				if q.Bits() == p.Bits() {
					if merged := netip.PrefixFrom(q.Addr(), q.Bits()-1); merged.Masked() == merged {
						t.Fatalf("%s-%s: %s and %s could be one prefix", a, b, q, p)
					}
				}
			}
		}
		if want := new(big.Int).Add(toInt(b), one); next.Cmp(want) != 0 {
			t.Fatalf("%s-%s: prefixes %v end at %s", a, b, ps, next)
		}
	}
}

func addr4(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func toInt(a netip.Addr) *big.Int { return new(big.Int).SetBytes(a.AsSlice()) }
