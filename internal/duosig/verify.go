package duosig

import (
	"crypto/hmac"
	"encoding/hex"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// DefaultWindow is the accepted clock skew, as in Duo's mock server.
const DefaultWindow = 300 * time.Second

// MaxHosts bounds the host strings a signature is checked against (each
// configured name as is and without its port); further names are ignored,
// and the configuration refuses more than half as many names.
const MaxHosts = 16

// MaxCandidates bounds the canonical strings Verify tries for one request:
// every host times at most six forms (v2, v1, v4 and three v5 header sets).
// The work per request is fixed by the configuration, never by the request.
const MaxCandidates = MaxHosts * 6

// Versions says which signature versions a route accepts.
type Versions int

const (
	// DatedOnly accepts the versions that sign the date (2, 4 and 5) and
	// requires a date header within the window: a captured request stops
	// working when its date is out of the window.
	DatedOnly Versions = iota
	// WithUndatedV1 also accepts version 1, which signs no date, so a
	// captured request can be replayed at any time. A request without a
	// date header can then succeed, with version 1 only. It is for the
	// legacy /rest/v1 routes (old duo_unix) and integrations marked legacy.
	WithUndatedV1
)

// Verifier checks signed requests. The zero value accepts no host (every
// signature fails) and uses DefaultWindow and time.Now.
type Verifier struct {
	// Hosts are the server's configured names (config.Hostnames()), e.g.
	// "localhost:8443". A request must sign one of them, as is or without
	// its port. The Host header is never a candidate: it is the client's
	// own choice, so a request signed for another server (another Duo
	// deployment sharing keys, a test instance) would otherwise pass.
	Hosts  []string
	Window time.Duration    // 0 means DefaultWindow
	Now    func() time.Time // nil means time.Now
	// MACs, when set, keeps keyed HMACs for reuse across requests; nil
	// makes a new one per request.
	MACs *MACPool
}

// Incoming is the parsed request the HTTP layer hands to Verify.
type Incoming struct {
	Method   string
	Path     string     // raw escaped path, no query (RequestURI cut at '?')
	Query    url.Values // decoded query
	Form     url.Values // decoded form body (nil if none)
	Body     []byte     // raw body bytes as received
	JSONBody bool       // the body is JSON (v4/v5)
	Header   http.Header
}

// NewIncoming builds an Incoming from a server request whose body has
// already been read into body. It takes the path from the request line
// verbatim (clients sign the escaped path they sent), decodes the query,
// and decodes body as a form unless it is JSON (by Content-Type, or by its
// first byte when Content-Type is absent). Malformed pairs are dropped;
// the signature check then fails on its own.
func NewIncoming(r *http.Request, body []byte) Incoming {
	in := Incoming{
		Method: r.Method,
		Body:   body,
		Header: r.Header,
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

// DateHeader is the request's date: X-Duo-Date, else Date, as Duo's mock
// server reads it.
func DateHeader(h http.Header) string {
	if d := h.Get("X-Duo-Date"); d != "" {
		return d
	}
	return h.Get("Date")
}

// CheckDate checks the request's date header (see DateHeader) and returns
// it. It costs no more than parsing a date, so the HTTP layer calls it
// before reading the body. Without a date header it returns
// ErrMissingTimestamp, except that vers WithUndatedV1 admits a missing date
// (returning ""); a date that does not parse or lies outside ±Window of now
// is ErrBadTimestamp.
func (v Verifier) CheckDate(h http.Header, vers Versions) (string, error) {
	date := DateHeader(h)
	if date == "" {
		if vers == WithUndatedV1 {
			return "", nil
		}
		return "", fmt.Errorf("%w: no X-Duo-Date or Date header", ErrMissingTimestamp)
	}
	t, err := ParseDate(date)
	if err != nil {
		return "", fmt.Errorf("%w: unparseable date %.64q", ErrBadTimestamp, date)
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
		return "", fmt.Errorf("%w: date %.64q is %v from now", ErrBadTimestamp, date, -d.Round(time.Second))
	}
	return date, nil
}

// Verify checks the request's date (CheckDate) and signature against skey
// and returns nil, ErrMissingTimestamp, ErrBadTimestamp or ErrBadSignature
// (possibly wrapped). vers says whether version 1 is admitted.
//
// The signature is compared, in constant time, with the HMAC of every
// plausible canonical string: each configured host (with and without its
// port) times version 2 and, with WithUndatedV1, version 1 (parameters:
// query merged with form, or query alone for JSON bodies) and, for SHA512
// signatures, versions 4 and 5 (query parameters and the raw body hash; for
// v5 the x-duo header hash over no headers, all received x-duo-* headers,
// and all but x-duo-date), never more than MaxCandidates. The digest
// follows the signature length: 40 hex chars SHA1, 128 SHA512. Without a
// date header (admitted only WithUndatedV1) only version 1 is tried.
func (v Verifier) Verify(in Incoming, cred Credentials, skey string, vers Versions) error {
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
	date, err := v.CheckDate(in.Header, vers)
	if err != nil {
		return err
	}

	m := v.MACs.get(digest, skey)
	c := candidates{
		want:   want[:n],
		date:   date,
		method: strings.ToUpper(in.Method),
		path:   in.Path,
	}
	defer v.MACs.put(digest, skey, m)
	var hostBuf [MaxHosts]string
	c.hosts = v.candidateHosts(hostBuf[:0])
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
	m.buf = slices.Grow(m.buf[:0], len(date)+len(c.method)+maxHost+len(c.path)+len(c.params12)+2*128+6)

	if date == "" { // only WithUndatedV1 gets here
		if c.try(m, 1, "") {
			return nil
		}
		return fmt.Errorf("%w: no date header, so only version 1 was tried", ErrBadSignature)
	}
	// Most likely first: v2 for form bodies and body-less requests (Go,
	// C#, duo_unix, PowerShell), v5 without extra headers for JSON bodies
	// (Python, Java, Go JSON); v1 and v4 are rare. The order only saves
	// work: the same bounded set is tried whatever the request.
	v5First := digest == SHA512 && in.JSONBody
	if v5First {
		c.prepare45(in)
		if c.try(m, 5, emptySHA512) {
			return nil
		}
	}
	if c.try(m, 2, "") {
		return nil
	}
	if digest == SHA512 && !v5First {
		c.prepare45(in)
		if c.try(m, 5, emptySHA512) {
			return nil
		}
	}
	if vers == WithUndatedV1 && c.try(m, 1, "") {
		return nil
	}
	if digest == SHA512 {
		if c.try(m, 4, "") {
			return nil
		}
		all := xDuoHash(in.Header, false)
		if all != emptySHA512 && c.try(m, 5, all) {
			return nil
		}
		if noDate := xDuoHash(in.Header, true); noDate != all && noDate != emptySHA512 && c.try(m, 5, noDate) {
			return nil
		}
	}
	return ErrBadSignature
}

// candidates holds the per-request pieces shared by all candidate
// canonical strings, so each candidate costs one buffer fill and one HMAC.
// (The HMAC is passed to try rather than kept here, so that c and what it
// points to stay on the stack.)
type candidates struct {
	want               []byte
	date, method, path string
	params12, params45 string
	bodyHash           string
	hosts              []string
	tried              int // candidates HMACed so far, at most MaxCandidates
}

// prepare45 computes the parameters and body hash of versions 4 and 5.
func (c *candidates) prepare45(in Incoming) {
	if in.JSONBody || len(in.Form) == 0 {
		c.params45 = c.params12
	} else {
		c.params45 = canonParams(in.Query, nil)
	}
	c.bodyHash = sha512Hex(in.Body)
}

// try reports whether the MAC by m of any candidate host matches for
// version (hdrHash is the v5 header line).
func (c *candidates) try(m *keyedMAC, version int, hdrHash string) bool {
	params := c.params12
	if version >= 4 {
		params = c.params45
	}
	for _, h := range c.hosts {
		if c.tried >= MaxCandidates {
			return false
		}
		c.tried++
		if hmac.Equal(m.sum(version, c.date, c.method, h, c.path, params, c.bodyHash, hdrHash), c.want) {
			return true
		}
	}
	return false
}

// candidateHosts lists the configured hosts, each also without its port,
// lower-cased and deduplicated, in configuration order, at most MaxHosts.
func (v Verifier) candidateHosts(dst []string) []string {
	add := func(h string) {
		if h == "" || len(dst) == MaxHosts {
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
