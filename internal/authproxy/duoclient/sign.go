package duoclient

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/assent-auth/assent/internal/duosig"
)

// signer signs calls as duosig.Signer does with version 2 and SHA-512
// (the canonical string is duosig's), and writes the whole HTTP/1.1
// request. The HMAC key schedule is computed once and cloned per call.
type signer struct {
	ikey, skey string
	host       string // as dialled and signed
	ua         string
	now        func() time.Time
	keyed      hash.Cloner // HMAC-SHA512 keyed with skey, never written to; nil if it cannot be cloned
}

func newSigner(ikey, skey, host, ua string, now func() time.Time) *signer {
	s := &signer{ikey: ikey, skey: skey, host: host, ua: ua, now: now}
	if c, ok := hmac.New(sha512.New, []byte(skey)).(hash.Cloner); ok {
		s.keyed = c
	}
	return s
}

func (s *signer) mac() hash.Hash {
	if s.keyed != nil {
		if c, err := s.keyed.Clone(); err == nil {
			if h, ok := c.(hash.Hash); ok {
				return h
			}
		}
	}
	return hmac.New(sha512.New, []byte(s.skey))
}

// reqBufs holds request buffers; requests are a few hundred bytes.
var reqBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// appendRequest appends the signed request: params in the query string
// for GET, as a form body for POST (the body is the canonical parameter
// string, as duosig.Signer sends it). method is GET or POST, path a plain
// absolute path.
func (s *signer) appendRequest(b []byte, method, path string, params url.Values) ([]byte, error) {
	date := s.now().UTC().Format(duosig.DateFormat)
	// A v2 canonical string ends with the canonical parameters, which are
	// also the body or query: duosig makes the lines before them, once.
	head, err := duosig.Canonicalize(2, duosig.Request{Method: method, Host: s.host, Path: path, Date: date})
	if err != nil {
		return b, err
	}
	q := duosig.CanonParams(params)
	m := s.mac()
	_, _ = io.WriteString(m, head)
	_, _ = io.WriteString(m, q)
	var sum [sha512.Size]byte
	var sig [2 * sha512.Size]byte
	hex.Encode(sig[:], m.Sum(sum[:0]))

	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, path...)
	if method != http.MethodPost && q != "" {
		b = append(b, '?')
		b = append(b, q...)
	}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, s.host...)
	b = append(b, "\r\nUser-Agent: "...)
	b = append(b, s.ua...)
	b = append(b, "\r\nDate: "...)
	b = append(b, date...)
	// duosig.Authorization's header (HTTP Basic, ikey:signature), appended
	// in place.
	b = append(b, "\r\nAuthorization: Basic "...)
	b = base64.StdEncoding.AppendEncode(b, append(append(append(make([]byte, 0, 160), s.ikey...), ':'), sig[:]...))
	if method == http.MethodPost {
		b = append(b, "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(q)), 10)
		b = append(b, "\r\n\r\n"...)
		b = append(b, q...)
		return b, nil
	}
	b = append(b, "\r\n\r\n"...)
	return b, nil
}
