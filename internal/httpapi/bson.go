package httpapi

import (
	"context"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/duosig"
)

// BSON is the envelope duo_unix 1.11 and older expect from the legacy
// /rest/v1/*.bson endpoints: the same {stat, response} / {stat, code,
// message} documents as the JSON API, encoded as BSON. duo_unix reads
// `code` only as a BSON int32, so every integer is written as int32.

// WriteOKBSON answers {stat: "OK", response: resp} as a BSON document.
// Maps become documents with sorted keys (as Duo's JSON answers are sorted).
func WriteOKBSON(w http.ResponseWriter, resp any) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	writeBSON(w, http.StatusOK, bson.D{{Key: "stat", Value: "OK"}, {Key: "response", Value: bsonValue(resp)}})
}

// WriteErrorBSON answers with Duo's failure envelope as a BSON document.
func WriteErrorBSON(w http.ResponseWriter, e *Error) {
	setRetryAfter(w, e)
	d := bson.D{
		{Key: "stat", Value: "FAIL"},
		{Key: "code", Value: int32(e.Code)},
		{Key: "message", Value: e.Message},
	}
	if e.Detail != "" {
		d = append(d, bson.E{Key: "message_detail", Value: e.Detail})
	}
	writeBSON(w, e.Status, d)
}

// RenderBSON is Render for BSON endpoints: the same errors map to the same
// HTTP statuses, codes and messages.
func RenderBSON(w http.ResponseWriter, r *http.Request, err error) {
	WriteErrorBSON(w, AsError(r, err))
}

// AsError maps err to the Duo error Render answers with: *Error as it is,
// duosig and auth errors with their Duo codes, a canceled request as 499,
// anything else as a logged 500 that reveals nothing. Every encoding (JSON,
// BSON) renders errors through it, so they answer exactly the same.
func AsError(r *http.Request, err error) *Error {
	var (
		he *Error
		se *duosig.Error
		ae *auth.Error
	)
	switch {
	case errors.As(err, &he):
		return he
	case errors.As(err, &se):
		return &Error{Status: se.Status, Code: se.Code, Message: se.Message}
	case errors.As(err, &ae):
		return fromAuth(ae)
	case errors.Is(err, context.Canceled):
		return &Error{Status: 499, Code: CodeServerError, Message: "Request canceled"}
	}
	Logger(r.Context()).Error("request failed", "err", err)
	return ErrInternal
}

// RequireBSON is Require for BSON endpoints: signature, integration-type
// and handler errors are all answered as BSON documents, because duo_unix
// cannot parse a JSON error (it would report "invalid BSON response").
func (s *Signer) RequireBSON(rt Route, h HandlerFunc) http.Handler {
	return s.require(rt, h, RenderBSON)
}

// writeBSON sends doc with an explicit Content-Length, as writeJSON does.
func writeBSON(w http.ResponseWriter, status int, doc bson.D) {
	b, err := bson.Marshal(doc)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = bson.Marshal(bson.D{
			{Key: "stat", Value: "FAIL"},
			{Key: "code", Value: int32(CodeServerError)},
			{Key: "message", Value: "Internal server error"},
		})
	}
	h := w.Header()
	h.Set("Content-Type", "application/bson")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// bsonValue prepares v for encoding: maps become documents with sorted keys
// (Go's map order is random) and integers that fit become int32. Other
// values (strings, bools, bson.D, structs with bson tags) pass through.
func bsonValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		d := make(bson.D, 0, len(t))
		for _, k := range sortedKeys(t) {
			d = append(d, bson.E{Key: k, Value: bsonValue(t[k])})
		}
		return d
	case map[string]string:
		d := make(bson.D, 0, len(t))
		for _, k := range sortedKeys(t) {
			d = append(d, bson.E{Key: k, Value: t[k]})
		}
		return d
	case []any:
		out := make(bson.A, len(t))
		for i, e := range t {
			out[i] = bsonValue(e)
		}
		return out
	case []string:
		out := make(bson.A, len(t))
		for i, e := range t {
			out[i] = e
		}
		return out
	case int:
		return int32OrInt64(int64(t))
	case int64:
		return int32OrInt64(t)
	}
	return v
}

func int32OrInt64(n int64) any {
	if n >= math.MinInt32 && n <= math.MaxInt32 {
		return int32(n)
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
