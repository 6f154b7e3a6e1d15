package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/duosig"
)

func TestReadParams(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, ct, query, body string
		want                  map[string][]string
		json                  bool
		errCode               int
	}{
		{name: "query", query: "a=1&b=x+y", want: map[string][]string{"a": {"1"}, "b": {"x y"}}},
		{name: "form merged with query", ct: "application/x-www-form-urlencoded", query: "a=1", body: "b=2&a=3",
			want: map[string][]string{"a": {"1", "3"}, "b": {"2"}}},
		{name: "form without content type", body: "username=alice", want: map[string][]string{"username": {"alice"}}},
		{name: "json coerced", ct: "application/json; charset=utf-8", body: `{"s":"x","n":12,"f":1.5,"t":true,"l":["a","b"],"o":{"k":1},"z":null}`,
			want: map[string][]string{"s": {"x"}, "n": {"12"}, "f": {"1.5"}, "t": {"true"}, "l": {"a", "b"}, "o": {`{"k":1}`}, "z": {""}}, json: true},
		{name: "json sniffed", body: ` {"a":"b"}`, want: map[string][]string{"a": {"b"}}, json: true},
		{name: "json array", ct: "application/json", body: `[1]`, errCode: CodeInvalidParams},
		{name: "json trailing", ct: "application/json", body: `{"a":"b"}{}`, errCode: CodeInvalidParams},
		{name: "bad query", query: "a=%zz", errCode: CodeInvalidParams},
		{name: "bad form", ct: "application/x-www-form-urlencoded", body: "a=%zz", errCode: CodeInvalidParams},
		{name: "unsupported type", ct: "text/xml", body: "<a/>", errCode: CodeBadContentType},
		{name: "multipart", ct: "multipart/form-data; boundary=x", body: "--x--", errCode: CodeBadContentType},
		{name: "unparseable type", ct: "application/json;;", body: `{"a":"b"}`, errCode: CodeBadContentType},
		{name: "any type without a body", ct: "text/xml", query: "a=1", want: map[string][]string{"a": {"1"}}},
		{name: "too large", ct: "application/x-www-form-urlencoded", body: "a=" + strings.Repeat("x", MaxBodyBytes), errCode: CodeTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/x?"+tc.query, strings.NewReader(tc.body))
			if tc.ct != "" {
				r.Header.Set("Content-Type", tc.ct)
			}
			p, err := ReadParams(httptest.NewRecorder(), r)
			if tc.errCode != 0 {
				var he *Error
				if !errors.As(err, &he) || he.Code != tc.errCode {
					t.Fatalf("err = %v, want code %d", err, tc.errCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(map[string][]string(p.Values)) != fmt.Sprint(tc.want) || p.JSONBody != tc.json {
				t.Errorf("values %v json %v, want %v %v", p.Values, p.JSONBody, tc.want, tc.json)
			}
			if string(p.Body) != tc.body {
				t.Errorf("raw body not kept")
			}
		})
	}
}

func TestBool(t *testing.T) {
	t.Parallel()
	p := &Params{Values: map[string][]string{"a": {"1"}, "b": {"false"}, "c": {"maybe"}}}
	if v, err := p.Bool("a"); !v || err != nil {
		t.Error("a")
	}
	if v, err := p.Bool("b"); v || err != nil {
		t.Error("b")
	}
	if v, err := p.Bool("missing"); v || err != nil {
		t.Error("missing")
	}
	if _, err := p.Bool("c"); err == nil {
		t.Error("c accepted")
	}
}

func TestEnvelopes(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	WriteOK(w, map[string]any{"z": 1, "a": "<&>"})
	if got := w.Body.String(); got != `{"response":{"a":"<&>","z":1},"stat":"OK"}` {
		t.Errorf("ok body %s", got)
	}
	if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Content-Length") != fmt.Sprint(w.Body.Len()) {
		t.Errorf("headers %v", w.Header())
	}
	w = httptest.NewRecorder()
	WriteError(w, InvalidParams("no capable device"))
	if w.Code != 400 || w.Body.String() != `{"code":40002,"message":"Invalid request parameters","message_detail":"no capable device","stat":"FAIL"}` {
		t.Errorf("error %d %s", w.Code, w.Body)
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err    error
		status int
		code   int
		detail string
	}{
		{duosig.ErrBadSignature, 401, 40103, ""},
		{fmt.Errorf("wrapped: %w", duosig.ErrBadTimestamp), 401, 40105, ""},
		{auth.ErrNoCapableDevice, 400, 40002, "no capable device"},
		{&auth.Error{Kind: auth.KindInvalid, Param: "username", Detail: "is required"}, 400, 40002, "username: is required"},
		{&auth.Error{Kind: auth.KindNotFound, Detail: "x"}, 404, 40401, ""},
		{errors.New("sql: connection refused at store.go:12"), 500, 50000, ""},
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		Render(w, r, tc.err)
		var body struct {
			Code          int    `json:"code"`
			MessageDetail string `json:"message_detail"`
			Stat          string `json:"stat"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if w.Code != tc.status || body.Code != tc.code || body.Stat != "FAIL" || body.MessageDetail != tc.detail {
			t.Errorf("%v: %d %s", tc.err, w.Code, w.Body)
		}
		if strings.Contains(w.Body.String(), "sql") {
			t.Errorf("internal detail leaked: %s", w.Body)
		}
	}
}

func TestMiddlewareRecoversAndLogs(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	h := Middleware(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetIKey(r.Context(), "DIXXXXXXXXXXXXXXXXXX")
		panic("boom")
	}))
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/auth/v2/auth?passcode=123456", nil)
	r.Header.Set("X-Request-Id", "caller-chosen-id")
	h.ServeHTTP(w, r)
	if w.Code != 500 || strings.Contains(w.Body.String(), "boom") || strings.Contains(w.Body.String(), "goroutine") {
		t.Errorf("panic answer %d %s", w.Code, w.Body)
	}
	if w.Header().Get("X-Request-Id") != "caller-chosen-id" {
		t.Errorf("request id %q", w.Header().Get("X-Request-Id"))
	}
	out := logs.String()
	if !strings.Contains(out, `"request_id":"caller-chosen-id"`) || !strings.Contains(out, `"ikey":"DIXXXXXXXXXXXXXXXXXX"`) || !strings.Contains(out, `"status":500`) {
		t.Errorf("logs: %s", out)
	}
	if strings.Contains(out, "123456") {
		t.Error("the query string (which can hold a passcode) was logged")
	}
	// An unusable caller ID is replaced.
	w = httptest.NewRecorder()
	r = httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Request-Id", "bad id\n")
	Middleware(log, http.NotFoundHandler()).ServeHTTP(w, r)
	if id := w.Header().Get("X-Request-Id"); len(id) != 16 {
		t.Errorf("generated id %q", id)
	}
}

// TestRequestLogger: the request-scoped logger writes exactly what
// base.With("request_id", id) would, attributes, With and groups included.
func TestRequestLogger(t *testing.T) {
	t.Parallel()
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	logTo := func(log *slog.Logger) {
		log.Info("one", "a", 1, "b", "x y")
		log.With("user", "alice").Warn("two", "c", true)
		log.WithGroup("g").Info("three", "d", 2)
		log.LogAttrs(context.Background(), slog.LevelInfo, "four", slog.Int("e", 1), slog.Int("f", 2),
			slog.Int("g", 3), slog.Int("h", 4), slog.Int("i", 5), slog.Int("j", 6))
		log.Debug("not enabled")
	}
	for _, newHandler := range []func(io.Writer) slog.Handler{
		func(w io.Writer) slog.Handler {
			return slog.NewTextHandler(w, &slog.HandlerOptions{ReplaceAttr: noTime})
		},
		func(w io.Writer) slog.Handler {
			return slog.NewJSONHandler(w, &slog.HandlerOptions{ReplaceAttr: noTime})
		},
	} {
		var got, want bytes.Buffer
		h := Middleware(slog.New(newHandler(&got)), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			logTo(Logger(r.Context()))
		}))
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-Request-Id", "caller-chosen-id")
		h.ServeHTTP(httptest.NewRecorder(), r)
		logTo(slog.New(newHandler(&want)).With("request_id", "caller-chosen-id"))
		// The access-log line comes last; its timing varies.
		g := got.String()
		g = g[:strings.LastIndex(strings.TrimSuffix(g, "\n"), "\n")+1]
		if g != want.String() {
			t.Errorf("request logger wrote\n%s\nwant\n%s", g, want.String())
		}
	}
}

// FuzzReadParams: the decoder of untrusted request parameters never panics
// and always answers with a value or a Duo error.
func FuzzReadParams(f *testing.F) {
	f.Add("a=1", "application/x-www-form-urlencoded", "b=2")
	f.Add("", "application/json", `{"a":[1,{"b":null}],"c":true}`)
	f.Add("x=%zz", "", "{")
	f.Fuzz(func(t *testing.T, query, ct, body string) {
		r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader(body))
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", ct)
		p, err := ReadParams(httptest.NewRecorder(), r)
		var he *Error
		if err != nil && !errors.As(err, &he) {
			t.Fatalf("non-Duo error %v", err)
		}
		if err == nil && p.Values == nil {
			t.Fatal("nil values")
		}
	})
}
