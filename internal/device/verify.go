package device

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/duosig"
)

// maxSignatureBytes bounds the decoded signature: RSA-8192 is 1024 bytes;
// a longer one cannot verify and only costs work.
const maxSignatureBytes = 1024

// maxPKeyLen bounds the device ID taken from a header before it reaches
// the store.
const maxPKeyLen = 64

var errBadAuthorization = errors.New("device: malformed Authorization header")

// parseAuthorization reads "Basic base64(pkey:base64(signature))" (spec
// §5.3) as leniently as duosig reads the HMAC form: the scheme in any case
// with an optional trailing ':', the credentials as the last token, and
// base64 (outer and inner) with or without padding, standard or URL
// alphabet. The inner signature is split at the first ':', which neither
// base64 alphabet uses.
func parseAuthorization(h string) (pkey string, sig []byte, err error) {
	fields := strings.Fields(h)
	var tok string
	switch {
	case len(fields) == 0:
		return "", nil, errBadAuthorization
	case len(fields) == 1:
		f := fields[0]
		if len(f) < 6 || !strings.EqualFold(f[:6], "basic:") {
			return "", nil, errBadAuthorization
		}
		tok = f[6:]
	default:
		if !strings.EqualFold(strings.TrimSuffix(fields[0], ":"), "basic") {
			return "", nil, errBadAuthorization
		}
		tok = fields[len(fields)-1]
	}
	raw, ok := decodeBase64(tok)
	if !ok {
		return "", nil, errBadAuthorization
	}
	pkey, b64sig, found := strings.Cut(string(raw), ":")
	if !found || pkey == "" || len(pkey) > maxPKeyLen {
		return "", nil, errBadAuthorization
	}
	sig, ok = decodeBase64(b64sig)
	if !ok || len(sig) > maxSignatureBytes {
		return "", nil, errBadAuthorization
	}
	return pkey, sig, nil
}

func decodeBase64(s string) ([]byte, bool) {
	s = strings.TrimRight(s, "=")
	if s == "" {
		return nil, false
	}
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, true
	}
	return nil, false
}

// checkDate parses the request date and checks it lies within ±window of
// now: a missing date is ErrMissingTimestamp (401 40104), any other failure
// ErrBadTimestamp (401 40105, Duo's observed answer).
func checkDate(date string, now time.Time, window time.Duration) error {
	if date == "" {
		return fmt.Errorf("%w: no x-duo-date or Date header", duosig.ErrMissingTimestamp)
	}
	t, err := duosig.ParseDate(date)
	if err != nil {
		return fmt.Errorf("%w: unparseable date %.64q", duosig.ErrBadTimestamp, date)
	}
	if d := now.Sub(t); d > window || d < -window {
		return fmt.Errorf("%w: date %.64q is %v from now", duosig.ErrBadTimestamp, date, -d.Round(time.Second))
	}
	return nil
}

// signedRequest is what a device signature covers, as received.
type signedRequest struct {
	Date   string
	Method string
	Path   string   // raw escaped path, no query
	Hosts  []string // candidate host lines
	Query  url.Values
	Form   url.Values // nil without a form body
	// RawQuery and RawForm are the parameters exactly as sent: clients
	// that do not sort (duo-ext relies on insertion order) or encode in
	// some other way sign what they send.
	RawQuery, RawForm string
}

// maxCandidates bounds the canonical strings tried for one request: six
// parameter forms (see candidateDigests) for each configured host string.
// The work per request is fixed by the configuration, never by the request.
const maxCandidates = duosig.MaxHosts * 6

// verifySignature checks sig against every canonical string a known client
// could have signed for r (see candidateDigests) and reports whether one
// matches.
func verifySignature(key *rsa.PublicKey, sig []byte, r signedRequest) bool {
	for _, d := range candidateDigests(r) {
		if rsa.VerifyPKCS1v15(key, crypto.SHA512, d[:], sig) == nil {
			return true
		}
	}
	return false
}

// candidateDigests returns the distinct SHA-512 digests of the canonical
// strings "date\nMETHOD\nhost\npath\nparams" (spec §5.3) a client may
// have signed, most likely first: each candidate host times each way
// clients encode the parameters —
//   - sorted by key, Python urlencode ('+' for space; also Go's Encode);
//   - sorted, JavaScript encodeURIComponent ("%20", !'()* left literal);
//   - sorted, JavaScript URLSearchParams ('+', only *-._ left literal);
//   - as sent (the raw query string and/or form body);
//   - DuoBreak's: the sorted Python form or the parameters as sent, with
//     "&host=<host>" appended, because it signs a dict that carries the
//     host last but sends the dict without it.
//
// The canonical strings are hashed piece by piece, never built: a request
// costs its (small) body a few times over, not once per candidate. There
// are at most maxCandidates digests; usually two per host, since the
// encodings agree for plain parameters.
func candidateDigests(r signedRequest) [][sha512.Size]byte {
	pairs := mergedPairs(r.Query, r.Form)
	encodings := []string{
		encodePairs(pairs, pythonStyle),
		encodePairs(pairs, uriComponentStyle),
		encodePairs(pairs, searchParamsStyle),
	}
	sent := r.RawQuery
	switch {
	case sent != "" && r.RawForm != "":
		sent += "&" + r.RawForm
	case r.RawForm != "":
		sent = r.RawForm
	}
	if sent != "" {
		encodings = append(encodings, sent)
	}
	method := strings.ToUpper(r.Method)
	var out [][sha512.Size]byte
	h := sha512.New()
	add := func(host string, params ...string) {
		if len(out) == maxCandidates {
			return
		}
		h.Reset()
		for _, p := range [...]string{r.Date, "\n", method, "\n", host, "\n", r.Path, "\n"} {
			io.WriteString(h, p)
		}
		for _, p := range params {
			io.WriteString(h, p)
		}
		var d [sha512.Size]byte
		h.Sum(d[:0])
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	for _, host := range r.Hosts {
		for _, e := range encodings {
			add(host, e)
		}
	}
	for _, host := range r.Hosts {
		hp := "host=" + encodeComponent(host, pythonStyle)
		if encodings[0] == "" {
			add(host, hp)
		} else {
			add(host, encodings[0], "&", hp)
		}
		if sent != "" {
			add(host, sent, "&", hp)
		}
	}
	return out
}

type pair struct{ k, v string }

// mergedPairs lists query then form parameters sorted by key (stably, so
// repeated keys keep their order), as url.Values.Encode and the sorting
// clients do.
func mergedPairs(query, form url.Values) []pair {
	var pairs []pair
	for _, vs := range []url.Values{query, form} {
		keys := make([]string, 0, len(vs))
		for k := range vs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			for _, v := range vs[k] {
				pairs = append(pairs, pair{k, v})
			}
		}
	}
	slices.SortStableFunc(pairs, func(a, b pair) int { return strings.Compare(a.k, b.k) })
	return pairs
}

// encodeStyle is one client's form encoding: the bytes left literal besides
// ASCII letters and digits, and how a space is written.
type encodeStyle struct {
	literal   string
	plusSpace bool
}

var (
	pythonStyle       = encodeStyle{literal: "-._~", plusSpace: true}
	uriComponentStyle = encodeStyle{literal: "-._~!'()*"}
	searchParamsStyle = encodeStyle{literal: "*-._", plusSpace: true}
)

func encodePairs(pairs []pair, st encodeStyle) string {
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(encodeComponent(p.k, st))
		b.WriteByte('=')
		b.WriteString(encodeComponent(p.v, st))
	}
	return b.String()
}

func encodeComponent(s string, st encodeStyle) string {
	const hexUpper = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte(st.literal, c) >= 0:
			b.WriteByte(c)
		case c == ' ' && st.plusSpace:
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hexUpper[c>>4])
			b.WriteByte(hexUpper[c&15])
		}
	}
	return b.String()
}

// candidateHosts lists the lower-cased configured hostnames, each with and
// without its port (a client signs the host of its activation code, which
// may or may not carry the port), at most duosig.MaxHosts. The Host header
// is not a candidate: the client chooses it.
func candidateHosts(configured []string) []string {
	var out []string
	add := func(h string) {
		h = strings.ToLower(strings.TrimSpace(h))
		if h != "" && len(out) < duosig.MaxHosts && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	for _, h := range configured {
		add(h)
		add(stripPort(h))
	}
	return out
}

// stripPort removes a numeric ":port" from host, leaving bare IPv6
// addresses (several colons, no brackets) alone.
func stripPort(host string) string {
	i := strings.LastIndexByte(host, ':')
	if i < 0 || i == len(host)-1 {
		return host
	}
	if strings.Count(host, ":") > 1 && !(strings.HasPrefix(host, "[") && host[i-1] == ']') {
		return host
	}
	for _, c := range host[i+1:] {
		if c < '0' || c > '9' {
			return host
		}
	}
	return host[:i]
}
