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

// MaxBodyBytes bounds request bodies. Duo limits pushinfo to 20,000 bytes;
// nothing legitimate comes near this.
const MaxBodyBytes = 256 << 10

// Params is a decoded request: the merged parameters for business logic and
// the raw pieces the signature verifier needs.
type Params struct {
	Values   url.Values // query, form and JSON parameters merged; JSON values as strings
	Query    url.Values
	Form     url.Values // form-body parameters; nil without a form body
	Body     []byte     // raw body as received
	JSONBody bool
}

// Get returns the first value of key, or "".
func (p *Params) Get(key string) string { return p.Values.Get(key) }

// ReadParams decodes r's parameters from the query string and, for bodies,
// from application/x-www-form-urlencoded or application/json. Query and body
// parameters are merged (some clients send POST parameters in the query).
// The raw body is kept for signature checks of v4/v5 requests.
func ReadParams(w http.ResponseWriter, r *http.Request) (*Params, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, InvalidParams("malformed query string")
	}
	p := &Params{Query: q, Values: url.Values{}}
	for k, v := range q {
		p.Values[k] = append([]string(nil), v...)
	}
	if r.Body == nil || r.Body == http.NoBody {
		return p, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Message: "Request entity too large"}
		}
		return nil, InvalidParams("could not read the request body")
	}
	p.Body = body
	if len(bytes.TrimSpace(body)) == 0 {
		return p, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case ct == "application/json" || (ct == "" && looksLikeJSON(body)):
		obj, err := decodeJSONParams(body)
		if err != nil {
			return nil, InvalidParams(err.Error())
		}
		p.JSONBody = true
		for k, v := range obj {
			p.Values[k] = append(p.Values[k], v...)
		}
	case ct == "application/x-www-form-urlencoded" || ct == "":
		f, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, InvalidParams("malformed form body")
		}
		p.Form = f
		for k, v := range f {
			p.Values[k] = append(p.Values[k], v...)
		}
	default:
		return nil, InvalidParams("unsupported Content-Type " + strconv.Quote(ct))
	}
	return p, nil
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
	out := url.Values{}
	for k, v := range obj {
		if arr, ok := v.([]any); ok {
			for _, e := range arr {
				s, err := jsonScalar(e)
				if err != nil {
					return nil, fmt.Errorf("parameter %q: %w", k, err)
				}
				out.Add(k, s)
			}
			continue
		}
		s, err := jsonScalar(v)
		if err != nil {
			return nil, fmt.Errorf("parameter %q: %w", k, err)
		}
		out.Set(k, s)
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
