package duosig

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Digest selects the HMAC hash function.
type Digest int

// Digests used by Duo clients. v4 and v5 always use SHA512.
const (
	SHA512 Digest = iota // the zero value, and the default everywhere
	SHA1
)

func (d Digest) String() string {
	switch d {
	case SHA1:
		return "SHA1"
	case SHA512:
		return "SHA512"
	}
	return fmt.Sprintf("Digest(%d)", int(d))
}

func (d Digest) new() func() hash.Hash {
	if d == SHA1 {
		return sha1.New
	}
	return sha512.New
}

// emptySHA512 is hex SHA-512 of the empty string: line 6 of a v4/v5
// canonical string without a body, and line 7 of v5 without x-duo headers.
const emptySHA512 = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"

// Request is the input to Canonicalize.
type Request struct {
	Method string // upper-cased when canonicalized
	Host   string // lower-cased when canonicalized
	Path   string // raw (escaped) path, without the query
	// Params are all parameters for v1/v2, the query parameters only for
	// v4/v5 (whose POST/PUT parameters travel in the hashed JSON body).
	Params url.Values
	Body   []byte // v4/v5 only: hashed as is
	Date   string // v2/v4/v5 line 1, verbatim
	// XDuoHeaders are the extra X-Duo-* headers hashed into v5 line 7;
	// headers with other names are ignored. May be nil.
	XDuoHeaders http.Header
}

// Canonicalize returns the canonical string of r for signature version 1,
// 2, 4 or 5.
func Canonicalize(version int, r Request) (string, error) {
	var bodyHash, hdrHash string
	switch version {
	case 1, 2:
	case 4, 5:
		bodyHash = sha512Hex(r.Body)
		if version == 5 {
			hdrHash = xDuoHash(r.XDuoHeaders, false)
		}
	default:
		return "", fmt.Errorf("duosig: unknown signature version %d", version)
	}
	b := appendCanon(nil, version, r.Date, strings.ToUpper(r.Method),
		strings.ToLower(r.Host), r.Path, CanonParams(r.Params), bodyHash, hdrHash)
	return string(b), nil
}

// appendCanon appends the canonical string from already-normalized pieces;
// Verify reuses it so candidates are built in one buffer without
// re-encoding parameters.
func appendCanon(b []byte, version int, date, method, host, path, params, bodyHash, hdrHash string) []byte {
	if version != 1 {
		b = append(b, date...)
		b = append(b, '\n')
	}
	b = append(b, method...)
	b = append(b, '\n')
	b = append(b, host...)
	b = append(b, '\n')
	b = append(b, path...)
	b = append(b, '\n')
	b = append(b, params...)
	if version >= 4 {
		b = append(b, '\n')
		b = append(b, bodyHash...)
	}
	if version == 5 {
		b = append(b, '\n')
		b = append(b, hdrHash...)
	}
	return b
}

// Sign returns the lowercase hex HMAC of canon keyed with skey.
func Sign(d Digest, skey, canon string) string {
	m := hmac.New(d.new(), []byte(skey))
	m.Write([]byte(canon))
	return hex.EncodeToString(m.Sum(nil))
}

func sha512Hex(b []byte) string {
	if len(b) == 0 {
		return emptySHA512
	}
	s := sha512.Sum512(b)
	return hex.EncodeToString(s[:])
}

// xDuoHash is v5 line 7: SHA-512 over lower-cased names and values of the
// x-duo-* headers, sorted by name, joined with NUL. skipDate leaves out
// x-duo-date, which some clients sign as the date line rather than here.
// Repeated values of one header are emitted as separate name/value pairs
// (clients never send them; this just keeps the result deterministic).
func xDuoHash(h http.Header, skipDate bool) string {
	type nv struct{ n, v string }
	var pairs []nv
	for name, vals := range h {
		ln := strings.ToLower(name)
		if !strings.HasPrefix(ln, "x-duo-") || (skipDate && ln == "x-duo-date") {
			continue
		}
		for _, v := range vals {
			pairs = append(pairs, nv{ln, v})
		}
	}
	if len(pairs) == 0 {
		return emptySHA512
	}
	slices.SortFunc(pairs, func(a, b nv) int {
		return cmp.Or(strings.Compare(a.n, b.n), strings.Compare(a.v, b.v))
	})
	s := sha512.New()
	for i, p := range pairs {
		if i > 0 {
			s.Write([]byte{0})
		}
		s.Write([]byte(p.n))
		s.Write([]byte{0})
		s.Write([]byte(p.v))
	}
	return hex.EncodeToString(s.Sum(nil))
}

// CanonParams returns Duo's canonical parameter string: keys and values
// percent-encoded as UTF-8 with only A-Z a-z 0-9 - . _ ~ left literal
// (upper-case hex, space as %20), sorted by encoded key and then encoded
// value, joined as k=v pairs with &. It is also valid as a query string
// or form body, which is how Signer sends parameters.
func CanonParams(p url.Values) string {
	return canonParams(p, nil)
}

// canonParams canonicalizes the union of a and b (the server merges query
// and form parameters) without building a merged map.
func canonParams(a, b url.Values) string {
	n := 0
	for _, vs := range a {
		n += len(vs)
	}
	for _, vs := range b {
		n += len(vs)
	}
	if n == 0 {
		return ""
	}
	type kv struct{ k, v string }
	var small [16]kv // a request has a handful of parameters
	pairs := small[:0]
	if n > len(small) {
		pairs = make([]kv, 0, n)
	}
	size := 0
	for _, p := range [2]url.Values{a, b} {
		for k, vs := range p {
			ek := escape(k)
			for _, v := range vs {
				ev := escape(v)
				pairs = append(pairs, kv{ek, ev})
				size += len(ek) + len(ev) + 2
			}
		}
	}
	slices.SortFunc(pairs, func(x, y kv) int {
		return cmp.Or(strings.Compare(x.k, y.k), strings.Compare(x.v, y.v))
	})
	var sb strings.Builder
	sb.Grow(size)
	for i, p := range pairs {
		if i > 0 {
			sb.WriteByte('&')
		}
		sb.WriteString(p.k)
		sb.WriteByte('=')
		sb.WriteString(p.v)
	}
	return sb.String()
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// escape percent-encodes s per RFC 3986 unreserved rules; it returns s
// itself (no allocation) when nothing needs escaping, the common case.
func escape(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hexUpper = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hexUpper[c>>4], hexUpper[c&15])
		}
	}
	return string(b)
}

// CanonDevice returns the canonical string Duo Mobile device clients sign
// with RSASSA-PKCS1-v1_5/SHA-512 (spec §5.3): date, METHOD, lower-cased host,
// path and the parameters in form encoding (sorted by key, '+' for space,
// as Python's urlencode produces). It is the v2 layout with a different
// parameter encoding.
func CanonDevice(r Request) string {
	return string(appendCanon(nil, 2, r.Date, strings.ToUpper(r.Method),
		strings.ToLower(r.Host), r.Path, r.Params.Encode(), "", ""))
}
