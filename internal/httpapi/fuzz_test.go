package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/duosig"
	"github.com/assent-auth/assent/internal/store"
)

// Fuzz targets for the untrusted input this package decodes (query
// strings, form and JSON bodies, signed requests) and the BSON answers it
// encodes from request data. FuzzReadParams (httpapi_test.go) feeds raw
// bytes; the targets here check what a decode must preserve.

// readParams runs ReadParams on a request like the server's: the target
// must see it through the exported function only.
func readParams(t *testing.T, method, rawQuery, ctype string, body []byte) (*Params, error) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/auth/v2/auth", strings.NewReader(string(body)))
	r.Method, r.URL.RawQuery = method, rawQuery
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	p, err := ReadParams(httptest.NewRecorder(), r)
	var he *Error
	if err != nil && !errors.As(err, &he) {
		t.Fatalf("ReadParams: %v is not an *httpapi.Error", err)
	}
	if err != nil && (he.Status < 400 || he.Status > 499 || he.Code/100 != he.Status || he.Message == "") {
		t.Fatalf("ReadParams: %+v is not a Duo 4xx", he)
	}
	if err == nil && (p == nil || p.Values == nil || p.Query == nil) {
		t.Fatalf("ReadParams: no error and no parameters: %+v", p)
	}
	return p, err
}

// tooLarge reports whether err is the answer to a body over a size limit,
// which a round trip may legitimately meet.
func tooLarge(err error) bool {
	var he *Error
	return errors.As(err, &he) && he.Status == http.StatusRequestEntityTooLarge
}

func valuesEqual(a, b url.Values) bool {
	return maps.EqualFunc(a, b, func(x, y []string) bool { return slices.Equal(x, y) })
}

// FuzzReadParamsRoundTrip: parameters a client encodes the usual ways
// (query string, form body, JSON body with string and array values) decode
// to exactly what was encoded.
func FuzzReadParamsRoundTrip(f *testing.F) {
	f.Add("username", "alice", "factor", "passcode", "123456", uint8(0))
	f.Add("username", "ålice ☃", "pushinfo", "a=b&c=d", "%zz", uint8(1))
	f.Add("", "", "k", "v;w", "", uint8(2))
	f.Add("a b", "+&=", "a b", "x\x00y", "\"", uint8(5))
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2a, v2b string, mode uint8) {
		want := url.Values{}
		want.Add(k1, v1)
		want.Add(k2, v2a)
		want.Add(k2, v2b)
		enc := want.Encode()
		var (
			p   *Params
			err error
		)
		switch mode % 4 {
		case 0: // query string, no body (GET)
			p, err = readParams(t, http.MethodGet, enc, "", nil)
			if err == nil && !valuesEqual(p.Query, want) {
				t.Fatalf("query %q: Query %v, want %v", enc, p.Query, want)
			}
		case 1: // form body
			p, err = readParams(t, http.MethodPost, "", "application/x-www-form-urlencoded", []byte(enc))
			if err == nil && !valuesEqual(p.Form, want) {
				t.Fatalf("form %q: Form %v, want %v", enc, p.Form, want)
			}
		case 2: // form body with a charset, as browsers and some clients send
			p, err = readParams(t, http.MethodPost, "", "application/x-www-form-urlencoded; charset=UTF-8", []byte(enc))
		case 3: // JSON body: one string, one array (repeated keys)
			for _, s := range []string{k1, v1, k2, v2a, v2b} {
				if !utf8.ValidString(s) {
					return // JSON cannot carry invalid UTF-8
				}
			}
			obj := map[string]any{k1: v1}
			if k1 == k2 {
				obj[k1] = []string{v1, v2a, v2b}
			} else {
				obj[k2] = []string{v2a, v2b}
			}
			body, merr := json.Marshal(obj)
			if merr != nil {
				t.Fatal(merr)
			}
			p, err = readParams(t, http.MethodPost, "", "application/json", body)
			if err == nil && !p.JSONBody {
				t.Fatalf("JSON body %s not marked JSONBody", body)
			}
		}
		if tooLarge(err) {
			return
		}
		if err != nil {
			t.Fatalf("mode %d, %v: %v", mode%4, want, err)
		}
		if !valuesEqual(p.Values, want) {
			t.Fatalf("mode %d: Values %v, want %v", mode%4, p.Values, want)
		}
	})
}

// FuzzReadParamsDecoded: whatever arbitrary input decodes keeps the raw
// pieces the signature check needs, and the merged values are exactly the
// query's followed by the body's.
func FuzzReadParamsDecoded(f *testing.F) {
	f.Add("POST", "a=1&b=2", "application/x-www-form-urlencoded", []byte("b=3&c=%20"))
	f.Add("POST", "", "application/json", []byte(`{"a":[1,{"b":null}],"c":true,"d":1e400}`))
	f.Add("POST", "x=%zz", "", []byte("{"))
	f.Add("POST", "", "", []byte(` {"a":"b"} `))
	f.Add("PUT", "", "application/json; charset=utf-8", []byte(`{"a":"\ud800"}`))
	f.Add("GET", "a;b=c", "text/plain", []byte("x"))
	f.Add("POST", "", "multipart/form-data; boundary=x", []byte("--x\r\n\r\n--x--"))
	f.Fuzz(func(t *testing.T, method, rawQuery, ctype string, body []byte) {
		p, err := readParams(t, method, rawQuery, ctype, body)
		if err != nil {
			return
		}
		q, qerr := url.ParseQuery(rawQuery)
		if qerr != nil || !valuesEqual(p.Query, q) {
			t.Fatalf("query %q decoded to %v (ParseQuery: %v, %v)", rawQuery, p.Query, q, qerr)
		}
		if len(p.Body) > 0 && string(p.Body) != string(body) {
			t.Fatalf("raw body changed: %q → %q", body, p.Body)
		}
		var fromBody url.Values
		switch {
		case p.JSONBody:
			if !json.Valid(p.Body) {
				t.Fatalf("invalid JSON %q accepted", p.Body)
			}
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(p.Body, &obj); err != nil {
				t.Fatalf("JSON body %q is not an object: %v", p.Body, err)
			}
			for k, raw := range obj {
				var arr []json.RawMessage
				if json.Unmarshal(raw, &arr) == nil && len(arr) == 0 {
					continue // an empty array is no value
				}
				if _, ok := p.Values[k]; !ok {
					t.Fatalf("JSON key %q missing from %v", k, p.Values)
				}
			}
			if p.Form != nil {
				t.Fatalf("JSON body with form values %v", p.Form)
			}
			return
		case p.Form != nil:
			fromBody = p.Form
			back, err := url.ParseQuery(p.Form.Encode())
			if err != nil || !valuesEqual(back, p.Form) {
				t.Fatalf("form %v does not survive re-encoding: %v, %v", p.Form, back, err)
			}
		}
		want := url.Values{}
		for k, v := range q {
			want[k] = append(want[k], v...)
		}
		for k, v := range fromBody {
			want[k] = append(want[k], v...)
		}
		if !valuesEqual(p.Values, want) {
			t.Fatalf("Values %v, want query then body %v", p.Values, want)
		}
	})
}

// FuzzBSONEnvelope: BSON answers carry request data (messages naming a
// parameter, txids, prompt texts) back to duo_unix; whatever strings and
// numbers go in, the answer is one valid BSON document that decodes to
// them, with every integer that fits as an int32.
func FuzzBSONEnvelope(f *testing.F) {
	f.Add("result", "auth", "factors", "push1", int64(1), 40002, "Invalid request parameters", "user: is required")
	f.Add("", "\xff\xfe", "a\x00b", "", int64(1)<<40, 0, "", "\x00")
	f.Add("status", "ok ☃", "txid", "5f1b…", int64(-1), 42901, "Too many requests", "retry")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string, n int64, code int, msg, detail string) {
		w := httptest.NewRecorder()
		WriteOKBSON(w, map[string]any{k1: v1, k2: []string{v2, v1}, "n": n, "m": map[string]string{k2: v1}})
		doc := checkBSON(t, w)
		if w.Code == http.StatusOK {
			var got struct {
				Stat     string `bson:"stat"`
				Response bson.M `bson:"response"`
			}
			if err := bson.Unmarshal(doc, &got); err != nil || got.Stat != "OK" {
				t.Fatalf("OK answer %v: %+v, %v", doc, got, err)
			}
			if k1 != k2 && k1 != "n" && k1 != "m" && got.Response[k1] != v1 {
				t.Fatalf("response[%q] = %#v, want %q", k1, got.Response[k1], v1)
			}
			nv := doc.Lookup("response", "n")
			if wantInt32 := n == int64(int32(n)); wantInt32 != (nv.Type == bson.TypeInt32) {
				t.Fatalf("n = %d encoded as %v", n, nv.Type)
			}
		} else if w.Code != http.StatusInternalServerError {
			t.Fatalf("WriteOKBSON answered %d", w.Code)
		}

		// Errors, rendered as the BSON endpoints render them.
		status := 400 + (code%100+100)%100
		e := &Error{Status: status, Code: status*100 + 2, Message: msg, Detail: detail}
		for _, err := range []error{e, &auth.Error{Kind: auth.KindInvalid, Param: k1, Detail: detail}, duosig.ErrBadSignature} {
			w := httptest.NewRecorder()
			RenderBSON(w, httptest.NewRequest(http.MethodPost, "/rest/v1/auth.bson", nil), err)
			doc := checkBSON(t, w)
			var got struct {
				Stat    string `bson:"stat"`
				Code    int32  `bson:"code"`
				Message string `bson:"message"`
			}
			if err := bson.Unmarshal(doc, &got); err != nil || got.Stat != "FAIL" || got.Code == 0 {
				t.Fatalf("FAIL answer %v: %+v, %v", doc, got, err)
			}
			if doc.Lookup("code").Type != bson.TypeInt32 {
				t.Fatalf("code is %v, duo_unix reads only int32", doc.Lookup("code").Type)
			}
			if err == e && w.Code != http.StatusInternalServerError && (w.Code != e.Status || int(got.Code) != e.Code) {
				t.Fatalf("error %+v answered %d %+v", e, w.Code, got)
			}
		}
	})
}

// checkBSON checks that w holds exactly one valid BSON document with the
// right headers and returns it.
func checkBSON(t *testing.T, w *httptest.ResponseRecorder) bson.Raw {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/bson" {
		t.Fatalf("Content-Type %q", ct)
	}
	doc := bson.Raw(w.Body.Bytes())
	if err := doc.Validate(); err != nil {
		t.Fatalf("answer is not one valid BSON document: %v (%q)", err, w.Body.Bytes())
	}
	if w.Header().Get("Content-Length") != strconv.Itoa(len(doc)) {
		t.Fatalf("Content-Length %q for %d bytes", w.Header().Get("Content-Length"), len(doc))
	}
	return doc
}

// fuzzLookup is one Auth API integration.
type fuzzLookup struct{}

const (
	fuzzIKey = "DIFUZZFUZZFUZZFUZZ00"
	fuzzSKey = "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz"
	fuzzHost = "api.example.com"
)

func (fuzzLookup) Integration(_ context.Context, ikey string) (store.Integration, string, error) {
	if ikey != fuzzIKey {
		return store.Integration{}, "", &auth.Error{Kind: auth.KindNotFound, Detail: "no such integration"}
	}
	return store.Integration{IKey: fuzzIKey, Type: store.TypeAuthAPI}, fuzzSKey, nil
}

// FuzzSignedRequest: the signed-request middleware on arbitrary requests
// never reaches the handler unless the request is correctly signed, and
// always answers with a Duo envelope; a request its signer signs (v2 form
// and v5 JSON) reaches the handler with exactly the signed parameters.
func FuzzSignedRequest(f *testing.F) {
	now := time.Date(2026, 3, 5, 12, 0, 0, 0, time.UTC)
	f.Add("POST", "/auth/v2/auth", "a=1", "application/x-www-form-urlencoded", []byte("username=alice&factor=push"),
		duosig.Authorization(fuzzIKey, strings.Repeat("0", 40)), now.Format(duosig.DateFormat), fuzzHost, "alice", uint8(2))
	f.Add("GET", "/auth/v2/check", "", "", []byte(nil), "Basic: x", "garbage", "evil.example", "", uint8(5))
	f.Add("POST", "/auth/v2/preauth", "", "application/json", []byte(`{"username":"bob"}`), "", "", "", "ålice", uint8(4))
	var reached string
	h := &Signer{Lookup: fuzzLookup{}, Verifier: duosig.Verifier{Hosts: []string{fuzzHost}, Now: func() time.Time { return now }}}
	handler := Middleware(slog.New(slog.DiscardHandler), h.Require(Route{Types: []store.IntegrationType{store.TypeAuthAPI}},
		func(w http.ResponseWriter, r *http.Request, c *Call) error {
			reached = c.Params.Values.Encode()
			WriteOK(w, "ok")
			return nil
		}))
	f.Fuzz(func(t *testing.T, method, path, rawQuery, ctype string, body []byte, authz, date, host, user string, version uint8) {
		// Arbitrary: only a Duo envelope, never the handler (the fuzzer
		// cannot forge an HMAC).
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		if u, err := url.Parse("https://" + fuzzHost + path); err == nil && u.Path == path {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
			r.Method, r.URL, r.RequestURI = method, u, ""
			r.URL.RawQuery = rawQuery
			r.Host = host
			r.Header.Set("Content-Type", ctype)
			r.Header.Set("Authorization", authz)
			r.Header.Set("Date", date)
			reached = ""
			w := httptest.NewRecorder()
			handler.ServeHTTP(w, r)
			env := checkEnvelope(t, w)
			if reached != "" || env.Stat == "OK" {
				t.Fatalf("an unsigned request reached the handler: %q %q %q", authz, reached, w.Body)
			}
		}

		// Signed as Duo's clients sign: accepted, with what was signed.
		params := url.Values{"username": {user}, "factor": {"passcode"}}
		if !utf8.ValidString(user) {
			params.Set("username", strings.ToValidUTF8(user, "?"))
		}
		v := []int{2, 5}[version%2]
		s := duosig.Signer{IKey: fuzzIKey, SKey: fuzzSKey, Host: fuzzHost, Version: v, Now: func() time.Time { return now }}
		r, err := s.NewRequest(context.Background(), http.MethodPost, "/auth/v2/auth", params)
		if err != nil {
			t.Fatalf("sign: %v", err)
		}
		w := httptest.NewRecorder()
		reached = ""
		handler.ServeHTTP(w, r)
		if w.Code != http.StatusOK || reached != params.Encode() {
			t.Fatalf("v%d request for %q: %d %s, handler saw %q", v, params.Get("username"), w.Code, w.Body, reached)
		}
	})
}

// checkEnvelope requires Duo's JSON envelope, a 4xx for failures.
func checkEnvelope(t *testing.T, w *httptest.ResponseRecorder) (env struct {
	Stat string `json:"stat"`
	Code int    `json:"code"`
}) {
	t.Helper()
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
		t.Fatalf("%d answer is not JSON: %q", w.Code, w.Body)
	}
	switch {
	case env.Stat == "OK" && w.Code == http.StatusOK:
	case env.Stat == "FAIL" && w.Code >= 400 && w.Code < 500 && env.Code/100 == w.Code:
	default:
		t.Fatalf("%d answer is not a Duo envelope: %q", w.Code, w.Body)
	}
	return env
}
