package duosig

import (
	"crypto/hmac"
	"encoding/hex"
	"fmt"
	"hash"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultWindow is the accepted clock skew, as in Duo's mock server.
const DefaultWindow = 300 * time.Second

// Verifier checks signed requests. The zero value accepts any Host header
// as the signed host and uses DefaultWindow and time.Now.
type Verifier struct {
	// Hosts are the configured public API hostnames, e.g. "localhost:8443".
	// Each is tried as is and without its port, besides the Host header.
	Hosts  []string
	Window time.Duration    // 0 means DefaultWindow
	Now    func() time.Time // nil means time.Now
}

// Incoming is the parsed request the HTTP layer hands to Verify.
type Incoming struct {
	Method     string
	Path       string // raw escaped path, no query (RequestURI cut at '?')
	HostHeader string
	Query      url.Values // decoded query
	Form       url.Values // decoded form body (nil if none)
	Body       []byte     // raw body bytes as received
	JSONBody   bool       // the body is JSON (v4/v5)
	Header     http.Header
}

// NewIncoming builds an Incoming from a server request whose body has
// already been read into body. It takes the path from the request line
// verbatim (clients sign the escaped path they sent), decodes the query,
// and decodes body as a form unless it is JSON (by Content-Type, or by its
// first byte when Content-Type is absent). Malformed pairs are dropped;
// the signature check then fails on its own.
func NewIncoming(r *http.Request, body []byte) Incoming {
	in := Incoming{
		Method:     r.Method,
		HostHeader: r.Host,
		Body:       body,
		Header:     r.Header,
	}
	if p, _, _ := strings.Cut(r.RequestURI, "?"); strings.HasPrefix(p, "/") {
		in.Path = p
	} else {
		in.Path = r.URL.EscapedPath() // absolute-form request target, or a client-side request
	}
	in.Query, _ = url.ParseQuery(r.URL.RawQuery)
	ct := r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		in.JSONBody = true
	case ct == "" && len(body) > 0 && (body[0] == '{' || body[0] == '['):
		in.JSONBody = true
	case len(body) > 0 && (ct == "" || mt == "application/x-www-form-urlencoded"):
		in.Form, _ = url.ParseQuery(string(body))
	}
	return in
}

// Verify checks the request's date and signature against skey and returns
// nil, ErrBadTimestamp or ErrBadSignature (possibly wrapped).
//
// The date comes from X-Duo-Date, else Date; if present it must parse and
// lie within ±Window of now. Without any date header only version 1 (the
// one undated version, used by old duo_unix) can succeed, and a failure is
// reported as ErrBadTimestamp because dated versions need the date.
//
// The signature is compared, in constant time, with the HMAC of every
// plausible canonical string: each candidate host (configured hosts and
// the Host header, each with and without port) times versions 1 and 2
// (parameters: query merged with form, or query alone for JSON bodies)
// and, for SHA512 signatures, versions 4 and 5 (query parameters and the
// raw body hash; for v5 the x-duo header hash over no headers, all
// received x-duo-* headers, and all but x-duo-date). The digest follows
// the signature length: 40 hex chars SHA1, 128 SHA512.
func (v Verifier) Verify(in Incoming, cred Credentials, skey string) error {
	var want [64]byte
	var digest Digest
	switch len(cred.Signature) {
	case 40:
		digest = SHA1
	case 128:
		digest = SHA512
	default:
		return ErrBadSignature
	}
	n, err := hex.Decode(want[:], []byte(cred.Signature))
	if err != nil || skey == "" { // an empty key would make HMACs forgeable
		return ErrBadSignature
	}

	date := in.Header.Get("X-Duo-Date")
	if date == "" {
		date = in.Header.Get("Date")
	}
	if date != "" {
		t, err := ParseDate(date)
		if err != nil {
			return fmt.Errorf("%w: unparseable date %.64q", ErrBadTimestamp, date)
		}
		now := time.Now
		if v.Now != nil {
			now = v.Now
		}
		window := v.Window
		if window <= 0 {
			window = DefaultWindow
		}
		if d := now().Sub(t); d > window || d < -window {
			return fmt.Errorf("%w: date %.64q is %v from now", ErrBadTimestamp, date, -d.Round(time.Second))
		}
	}

	c := candidates{
		mac:    hmac.New(digest.new(), []byte(skey)),
		want:   want[:n],
		date:   date,
		method: strings.ToUpper(in.Method),
		path:   in.Path,
	}
	c.hosts = v.candidateHosts(c.hostBuf[:0], in.HostHeader)
	if in.JSONBody {
		c.params12 = canonParams(in.Query, nil)
	} else {
		c.params12 = canonParams(in.Query, in.Form)
	}
	// Size the buffer once for the longest candidate (v5 with the longest
	// host, v1/v2 params which include the v4/v5 ones).
	maxHost := 0
	for _, h := range c.hosts {
		maxHost = max(maxHost, len(h))
	}
	c.buf = make([]byte, 0, len(date)+len(c.method)+maxHost+len(c.path)+len(c.params12)+2*128+6)

	if date == "" {
		if c.try(1, "") {
			return nil
		}
		return fmt.Errorf("%w: missing date header", ErrBadTimestamp)
	}
	// Most likely first: v2 (Go, C#, duo_unix, PowerShell) and v5 without
	// extra headers (Python, Java, Go JSON); v1 and v4 are rare.
	if c.try(2, "") {
		return nil
	}
	if digest == SHA512 {
		if in.JSONBody || len(in.Form) == 0 {
			c.params45 = c.params12
		} else {
			c.params45 = canonParams(in.Query, nil)
		}
		c.bodyHash = sha512Hex(in.Body)
		if c.try(5, emptySHA512) {
			return nil
		}
	}
	if c.try(1, "") {
		return nil
	}
	if digest == SHA512 {
		if c.try(4, "") {
			return nil
		}
		all := xDuoHash(in.Header, false)
		if all != emptySHA512 && c.try(5, all) {
			return nil
		}
		if noDate := xDuoHash(in.Header, true); noDate != all && noDate != emptySHA512 && c.try(5, noDate) {
			return nil
		}
	}
	return ErrBadSignature
}

// candidates holds the per-request pieces shared by all candidate
// canonical strings, so each candidate costs one buffer fill and one HMAC.
type candidates struct {
	mac                hash.Hash
	want               []byte
	date, method, path string
	params12, params45 string
	bodyHash           string
	hosts              []string
	hostBuf            [8]string
	buf                []byte
	sum                [64]byte
}

// try reports whether any candidate host matches for version (hdrHash is
// the v5 header line).
func (c *candidates) try(version int, hdrHash string) bool {
	params := c.params12
	if version >= 4 {
		params = c.params45
	}
	for _, h := range c.hosts {
		c.buf = appendCanon(c.buf[:0], version, c.date, c.method, h, c.path, params, c.bodyHash, hdrHash)
		c.mac.Reset()
		c.mac.Write(c.buf)
		if hmac.Equal(c.mac.Sum(c.sum[:0]), c.want) {
			return true
		}
	}
	return false
}

// candidateHosts lists the configured hosts and the Host header, each also
// without its port, lower-cased and deduplicated, configured ones first.
func (v Verifier) candidateHosts(dst []string, hostHeader string) []string {
	add := func(h string) {
		if h == "" {
			return
		}
		for _, x := range dst {
			if x == h {
				return
			}
		}
		dst = append(dst, h)
	}
	for _, h := range v.Hosts {
		h = strings.ToLower(h)
		add(h)
		add(stripPort(h))
	}
	h := strings.ToLower(hostHeader)
	add(h)
	add(stripPort(h))
	return dst
}

// stripPort removes a trailing ":digits" from host, leaving bare IPv6
// literals ("::1") alone but handling bracketed ones ("[::1]:8443").
func stripPort(h string) string {
	i := strings.LastIndexByte(h, ':')
	if i < 0 {
		return h
	}
	if _, ok := atoi(h[i+1:], 1, 5); !ok {
		return h
	}
	host := h[:i]
	if strings.IndexByte(host, ':') >= 0 && !(strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]")) {
		return h
	}
	return host
}
