package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/duosig"
)

// TestRenderBSONMatchesRender checks that BSON errors carry exactly the
// statuses, codes and messages of the JSON ones, with code as an int32
// (duo_unix reads nothing else).
func TestRenderBSONMatchesRender(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"httpapi error", InvalidParams("user: is required")},
		{"wrapped httpapi error", fmt.Errorf("x: %w", ErrNotFound)},
		{"duosig", fmt.Errorf("%w: missing date header", duosig.ErrBadTimestamp)},
		{"auth invalid", &auth.Error{Kind: auth.KindInvalid, Param: "txid", Detail: "no such transaction"}},
		{"auth not found", &auth.Error{Kind: auth.KindNotFound, Detail: "gone"}},
		{"auth conflict", &auth.Error{Kind: auth.KindConflict, Detail: "exists"}},
		{"canceled", fmt.Errorf("wait: %w", context.Canceled)},
		{"internal", errors.New("database is on fire")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/rest/v1/check.bson", nil)
			jw, bw := httptest.NewRecorder(), httptest.NewRecorder()
			Render(jw, r, tc.err)
			RenderBSON(bw, r, tc.err)

			var j failEnvelope
			if err := json.Unmarshal(jw.Body.Bytes(), &j); err != nil {
				t.Fatal(err)
			}
			var b struct {
				Stat    string `bson:"stat"`
				Code    int32  `bson:"code"`
				Message string `bson:"message"`
				Detail  string `bson:"message_detail"`
			}
			if err := bson.Unmarshal(bw.Body.Bytes(), &b); err != nil {
				t.Fatalf("not BSON: %v", err)
			}
			if got := bson.Raw(bw.Body.Bytes()).Lookup("code").Type; got != bson.TypeInt32 {
				t.Errorf("code has type %v, want int32", got)
			}
			if bw.Code != jw.Code || b.Stat != "FAIL" || int(b.Code) != j.Code || b.Message != j.Message || b.Detail != j.MessageDetail {
				t.Errorf("BSON %d %+v differs from JSON %d %+v", bw.Code, b, jw.Code, j)
			}
			if ct := bw.Header().Get("Content-Type"); ct != "application/bson" {
				t.Errorf("Content-Type %q", ct)
			}
			if cl := bw.Header().Get("Content-Length"); cl != fmt.Sprint(bw.Body.Len()) {
				t.Errorf("Content-Length %q for %d bytes", cl, bw.Body.Len())
			}
		})
	}
}

func TestWriteOKBSON(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	WriteOKBSON(w, map[string]any{
		"result":  "auth",
		"factors": map[string]string{"2": "push2", "1": "push1", "default": "push1"},
		"n":       7,
		"big":     int64(1) << 40,
		"list":    []string{"a"},
	})
	raw := bson.Raw(w.Body.Bytes())
	if err := raw.Validate(); err != nil {
		t.Fatalf("invalid BSON: %v", err)
	}
	if s, _ := raw.Lookup("stat").StringValueOK(); s != "OK" {
		t.Errorf("stat %q", s)
	}
	if typ := raw.Lookup("response", "n").Type; typ != bson.TypeInt32 {
		t.Errorf("small ints must be int32, got %v", typ)
	}
	if typ := raw.Lookup("response", "big").Type; typ != bson.TypeInt64 {
		t.Errorf("ints beyond int32 must stay int64, got %v", typ)
	}
	if v, _ := raw.Lookup("response", "factors", "1").StringValueOK(); v != "push1" {
		t.Errorf("factors.1 = %q", v)
	}
	elems, err := raw.Lookup("response", "factors").Document().Elements()
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, e := range elems {
		keys = append(keys, e.Key())
	}
	if fmt.Sprint(keys) != "[1 2 default]" {
		t.Errorf("keys %v, want sorted", keys)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("missing Cache-Control")
	}
}
