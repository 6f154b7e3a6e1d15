package duosig

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DateFormat is the RFC 1123Z layout Signer uses, always in UTC, as
// duo_api_golang does: "Tue, 21 Aug 2012 17:29:18 +0000".
const DateFormat = "Mon, 02 Jan 2006 15:04:05 -0700"

// Signer signs outgoing requests like Duo's own clients.
type Signer struct {
	IKey, SKey string
	Host       string // API host as signed and dialled, optionally with :port
	Version    int    // 1, 2, 4 or 5; 0 means 2
	Digest     Digest // for v1/v2; v4/v5 always use SHA512
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// NewRequest builds a signed request to https://Host+path.
//
// GET, DELETE and other body-less methods carry params in the query
// string. POST, PUT and PATCH carry them in the body: for versions 1 and 2
// as application/x-www-form-urlencoded (the body equals CanonParams), for
// versions 4 and 5 as a JSON object with sorted keys whose values are
// strings (or arrays of strings for repeated keys). The request gets Date
// and Authorization headers.
func (s Signer) NewRequest(ctx context.Context, method, path string, params url.Values) (*http.Request, error) {
	version := s.Version
	if version == 0 {
		version = 2
	}
	digest := s.Digest
	switch version {
	case 1, 2:
	case 4, 5:
		digest = SHA512
	default:
		return nil, fmt.Errorf("duosig: unknown signature version %d", version)
	}
	if s.Host == "" || strings.ContainsAny(s.Host, "/?#@") {
		return nil, fmt.Errorf("duosig: invalid host %q", s.Host)
	}
	p, err := url.Parse(path)
	if err != nil || !strings.HasPrefix(path, "/") || p.Scheme != "" || p.Host != "" ||
		p.RawQuery != "" || p.ForceQuery || p.Fragment != "" {
		return nil, fmt.Errorf("duosig: invalid path %q", path)
	}
	u := &url.URL{Scheme: "https", Host: s.Host, Path: p.Path, RawPath: p.RawPath}

	method = strings.ToUpper(method)
	r := Request{Method: method, Host: s.Host, Path: u.EscapedPath()}
	var body []byte
	var ctype string
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		if version >= 4 {
			body, err = jsonBody(params)
			if err != nil {
				return nil, err
			}
			ctype = "application/json"
		} else {
			body = []byte(CanonParams(params))
			ctype = "application/x-www-form-urlencoded"
			r.Params = params
		}
	default:
		u.RawQuery = CanonParams(params)
		r.Params = params
	}
	r.Body = body

	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	r.Date = now().UTC().Format(DateFormat)
	canon, err := Canonicalize(version, r)
	if err != nil {
		return nil, err
	}

	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Date", r.Date)
	req.Header.Set("Authorization", Authorization(s.IKey, Sign(digest, s.SKey, canon)))
	return req, nil
}

func jsonBody(params url.Values) ([]byte, error) {
	m := make(map[string]any, len(params))
	for k, vs := range params {
		switch len(vs) {
		case 0:
		case 1:
			m[k] = vs[0]
		default:
			m[k] = vs
		}
	}
	b, err := json.Marshal(m) // sorts map keys
	if err != nil {
		return nil, errors.Join(errors.New("duosig: encoding JSON body"), err)
	}
	return b, nil
}
