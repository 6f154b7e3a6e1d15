package device

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
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
// matches. It costs one RSA operation however many candidates there are:
// signedDigest opens the signature once, and only a candidate whose digest
// it carries is verified, by crypto/rsa, which alone decides.
func verifySignature(key *rsa.PublicKey, sig []byte, r signedRequest) bool {
	signed, ok := signedDigest(key, sig)
	if !ok {
		return false
	}
	for _, d := range candidateDigests(r) {
		if bytes.Equal(d[:], signed) {
			return rsa.VerifyPKCS1v15(key, crypto.SHA512, d[:], sig) == nil
		}
	}
	return false
}

// sha512DigestInfo is the DER prefix of the DigestInfo in a PKCS #1 v1.5
// SHA-512 signature (RFC 8017 §9.2, note 1).
var sha512DigestInfo = []byte{0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40}

// signedDigest opens a PKCS #1 v1.5 signature with the public key (one RSA
// public-key operation; nothing here is secret) and returns the SHA-512
// digest it carries, or false when sig is not a well-formed SHA-512
// signature under key: 0x00 0x01 0xff… 0x00 DigestInfo digest (RFC 8017
// §9.2). It only picks the candidate to verify; verifySignature leaves the
// decision to rsa.VerifyPKCS1v15.
func signedDigest(key *rsa.PublicKey, sig []byte) ([]byte, bool) {
	k := key.Size()
	if key.N.Sign() <= 0 || key.E < 3 || key.E%2 == 0 || len(sig) != k || k < len(sha512DigestInfo)+sha512.Size+11 {
		return nil, false
	}
	s := new(big.Int).SetBytes(sig)
	if s.Cmp(key.N) >= 0 {
		return nil, false
	}
	em := new(big.Int).Exp(s, big.NewInt(int64(key.E)), key.N).FillBytes(make([]byte, k))
	t := k - sha512.Size - len(sha512DigestInfo) // where the DigestInfo starts
	if em[0] != 0 || em[1] != 1 || em[t-1] != 0 || !bytes.Equal(em[t:k-sha512.Size], sha512DigestInfo) {
		return nil, false
	}
	for _, b := range em[2 : t-1] {
		if b != 0xff {
			return nil, false
		}
	}
	return em[k-sha512.Size:], true
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
// The canonical strings, encodings included, are written straight into the
// hash through a small buffer, never built: a request costs its (small)
// body a few times over in CPU and nothing in memory. There are at most
// maxCandidates digests; usually two per host, since the encodings agree
// for plain parameters.
func candidateDigests(r signedRequest) [][sha512.Size]byte {
	pairs := mergedPairs(r.Query, r.Form)
	var sent []string // the parameters as sent, joined with '&'
	for _, raw := range []string{r.RawQuery, r.RawForm} {
		if raw != "" {
			sent = append(sent, raw)
		}
	}
	h := sha512.New()
	w := bufio.NewWriterSize(h, 4<<10)
	// The parameter forms, each written straight into the hash.
	forms := []func(){
		func() { writePairs(w, pairs, pythonStyle) },
		func() { writePairs(w, pairs, uriComponentStyle) },
		func() { writePairs(w, pairs, searchParamsStyle) },
	}
	asSent := func() {
		for i, raw := range sent {
			if i > 0 {
				w.WriteByte('&')
			}
			w.WriteString(raw)
		}
	}
	if len(sent) > 0 {
		forms = append(forms, asSent)
	}
	method := strings.ToUpper(r.Method)
	var out [][sha512.Size]byte
	add := func(host string, params func(), suffix string) {
		if len(out) == maxCandidates {
			return
		}
		h.Reset()
		w.Reset(h)
		for _, p := range [...]string{r.Date, "\n", method, "\n", host, "\n", r.Path, "\n"} {
			w.WriteString(p)
		}
		params()
		w.WriteString(suffix)
		w.Flush() // a hash never fails to write
		var d [sha512.Size]byte
		h.Sum(d[:0])
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	for _, host := range r.Hosts {
		for _, f := range forms {
			add(host, f, "")
		}
	}
	for _, host := range r.Hosts {
		hp := "host=" + encodeComponent(host, pythonStyle)
		if len(pairs) == 0 {
			add(host, func() {}, hp)
		} else {
			add(host, forms[0], "&"+hp)
		}
		if len(sent) > 0 {
			add(host, asSent, "&"+hp)
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

// byteWriter is what the encoders write to: a strings.Builder, or a
// bufio.Writer in front of a hash.
type byteWriter interface {
	WriteByte(c byte) error
	WriteString(s string) (int, error)
}

func encodePairs(pairs []pair, st encodeStyle) string {
	var b strings.Builder
	writePairs(&b, pairs, st)
	return b.String()
}

func writePairs(w byteWriter, pairs []pair, st encodeStyle) {
	for i, p := range pairs {
		if i > 0 {
			w.WriteByte('&')
		}
		writeComponent(w, p.k, st)
		w.WriteByte('=')
		writeComponent(w, p.v, st)
	}
}

func encodeComponent(s string, st encodeStyle) string {
	var b strings.Builder
	b.Grow(len(s))
	writeComponent(&b, s, st)
	return b.String()
}

func writeComponent(w byteWriter, s string, st encodeStyle) {
	const hexUpper = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte(st.literal, c) >= 0:
			w.WriteByte(c)
		case c == ' ' && st.plusSpace:
			w.WriteByte('+')
		default:
			w.WriteByte('%')
			w.WriteByte(hexUpper[c>>4])
			w.WriteByte(hexUpper[c&15])
		}
	}
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
