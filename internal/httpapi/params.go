package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// MaxBodyBytes bounds request bodies where the route sets no smaller
// limit. Duo limits pushinfo to 20,000 bytes; nothing legitimate comes near
// this.
const MaxBodyBytes = 256 << 10

// Params is a decoded request: the merged parameters for business logic and
// the raw pieces the signature verifier needs.
//
// Values shares its maps and slices with Query and Form where it can (a
// POST without a query string has Values == Form), so all three are
// read-only.
type Params struct {
	Values   url.Values // query, form and JSON parameters merged; JSON values as strings
	Query    url.Values
	Form     url.Values // form-body parameters; nil without a form body
	Body     []byte     // raw body as received
	JSONBody bool
}

// Get returns the first value of key, or "".
func (p *Params) Get(key string) string { return p.Values.Get(key) }

// ReadParams is ReadParamsLimit with MaxBodyBytes.
func ReadParams(w http.ResponseWriter, r *http.Request) (*Params, error) {
	return ReadParamsLimit(w, r, MaxBodyBytes)
}

// errTooLarge is Duo's answer to a body over the route's limit.
var errTooLarge = &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Message: "Request entity too large"}

// ReadParamsLimit decodes r's parameters from the query string and, for
// bodies, from application/x-www-form-urlencoded or application/json.
// Query and body parameters are merged (some clients send POST parameters
// in the query). The raw body is kept for signature checks of v4/v5
// requests. Before reading anything it refuses, cheaply, a body of another
// type (401/40106) or one declared longer than limit bytes (413/41301); a
// body that turns out longer than limit is refused the same way after
// limit bytes.
func ReadParamsLimit(w http.ResponseWriter, r *http.Request, limit int64) (*Params, error) {
	p := &Params{Query: url.Values{}}
	if r.URL.RawQuery != "" {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, InvalidParams("malformed query string")
		}
		p.Query = q
	}
	p.Values = p.Query
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return p, nil
	}
	ct, err := bodyType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	if r.ContentLength > limit {
		return nil, errTooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errTooLarge
		}
		return nil, InvalidParams("could not read the request body")
	}
	p.Body = body
	if len(bytes.TrimSpace(body)) == 0 {
		return p, nil
	}
	switch {
	case ct == "application/json" || (ct == "" && looksLikeJSON(body)):
		obj, err := decodeJSONParams(body)
		if err != nil {
			return nil, InvalidParams(err.Error())
		}
		p.JSONBody = true
		p.Values = merge(p.Query, obj)
	default: // a form, declared or not
		f, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, InvalidParams("malformed form body")
		}
		p.Form = f
		p.Values = merge(p.Query, f)
	}
	return p, nil
}

// merge returns the parameters of a followed by those of b: b itself when
// a is empty (the usual POST, without a query string), else a new map
// whose slices are a's and b's where a key is in only one of them. Slices
// are capped, so that an append never writes into a's or b's.
func merge(a, b url.Values) url.Values {
	if len(a) == 0 {
		return b
	}
	m := make(url.Values, len(a)+len(b))
	for k, v := range a {
		m[k] = v[:len(v):len(v)]
	}
	for k, v := range b {
		m[k] = append(m[k], v...)
	}
	return m
}

// bodyType returns the media type of a body's Content-Type header: "" (none
// given), application/x-www-form-urlencoded or application/json. Anything
// else, or a header that does not parse, is Duo's 401/40106.
func bodyType(header string) (string, error) {
	switch header {
	case "", "application/x-www-form-urlencoded", "application/json": // as most clients send it
		return header, nil
	}
	ct, _, err := mime.ParseMediaType(header)
	switch {
	case err != nil:
	case ct == "application/x-www-form-urlencoded", ct == "application/json":
		return ct, nil
	}
	return "", &Error{Status: http.StatusUnauthorized, Code: CodeBadContentType, Message: "Invalid content type",
		Detail: fmt.Sprintf("the body must be application/x-www-form-urlencoded or application/json, not %.64q", header)}
}

func looksLikeJSON(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{'
}

// decodeJSONParams turns a JSON object into string parameters: strings as
// they are, numbers in decimal, booleans as true/false, arrays as repeated
// values, objects as their JSON text.
func decodeJSONParams(body []byte) (url.Values, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, errors.New("the JSON body is not a JSON object")
	}
	// Not dec.More: it reports a trailing "}" or "]" as the end of input.
	if len(bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n")) > 0 {
		return nil, errors.New("the JSON body has trailing data")
	}
	out := make(url.Values, len(obj))
	// One array holds the values of all single-valued keys; each key's
	// slice is capped, so an append to it copies.
	single := make([]string, 0, len(obj))
	for k, v := range obj {
		if arr, ok := v.([]any); ok {
			for _, e := range arr {
				s, err := jsonScalar(e)
				if err != nil {
					return nil, fmt.Errorf("parameter %q: %w", k, err)
				}
				out[k] = append(out[k], s)
			}
			continue
		}
		s, err := jsonScalar(v)
		if err != nil {
			return nil, fmt.Errorf("parameter %q: %w", k, err)
		}
		single = append(single, s)
		out[k] = single[len(single)-1 : len(single) : len(single)]
	}
	return out, nil
}

func jsonScalar(v any) (string, error) {
	switch t := v.(type) {
	case string:
		return t, nil
	case json.Number:
		return t.String(), nil
	case bool:
		return strconv.FormatBool(t), nil
	case nil:
		return "", nil
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return "", errors.New("unsupported JSON value")
		}
		return string(b), nil
	}
}

// Bool reads a Duo-style boolean parameter ("1", "true" → true; "0",
// "false", "" → false). Anything else is a 40002 naming the parameter.
func (p *Params) Bool(key string) (bool, error) {
	switch strings.ToLower(p.Get(key)) {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	}
	return false, InvalidParams(key)
}
