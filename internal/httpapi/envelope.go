// Package httpapi is the HTTP plumbing shared by Assent's protocol edges:
// Duo's JSON envelope and error codes, one decoder for parameters from the
// query string, form bodies and JSON bodies, the signed-request middleware,
// request IDs, access logs and panic recovery, and the Detacher, which
// answers held requests after their handlers returned.
package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Duo error codes used by the edges.
const (
	CodeInvalidParams    = 40002 // 400
	CodeMissingCreds     = 40101 // 401
	CodeBadIKey          = 40102 // 401
	CodeBadSignature     = 40103 // 401
	CodeMissingTimestamp = 40104 // 401
	CodeBadTimestamp     = 40105 // 401
	CodeBadContentType   = 40106 // 401, as every 401xx code
	CodeForbidden        = 40301 // 403
	CodeNotFound         = 40401 // 404
	CodeMethodNotAllowed = 40501 // 405
	CodeTooLarge         = 41301 // 413
	CodeTooManyRequests  = 42901 // 429
	CodeServerError      = 50000 // 500
	CodeUnavailable      = 50301 // 503
)

// Error is a Duo API error answer.
type Error struct {
	Status  int    // HTTP status
	Code    int    // Duo code
	Message string // Duo message
	Detail  string // optional message_detail
	// RetryAfter, when positive, is sent as a Retry-After header (429s).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return e.Message + ": " + e.Detail
	}
	return e.Message
}

// InvalidParams is Duo's 400/40002 answer with a detail naming the problem.
func InvalidParams(detail string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidParams, Message: "Invalid request parameters", Detail: detail}
}

// TooManyRequests is Duo's 429/42901 answer; retry (rounded up to whole
// seconds) goes into Retry-After, which Duo's clients honour by backing off.
func TooManyRequests(detail string, retry time.Duration) *Error {
	return &Error{Status: http.StatusTooManyRequests, Code: CodeTooManyRequests, Message: "Too many requests", Detail: detail, RetryAfter: retry}
}

// Common answers.
var (
	ErrNotFound = &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "Resource not found"}
	ErrInternal = &Error{Status: http.StatusInternalServerError, Code: CodeServerError, Message: "Internal server error"}
)

// okEnvelope keeps keys in sorted order, as Duo's responses do.
type okEnvelope struct {
	Response any    `json:"response"`
	Stat     string `json:"stat"`
}

type failEnvelope struct {
	Code          int    `json:"code"`
	Message       string `json:"message"`
	MessageDetail string `json:"message_detail,omitempty"`
	Stat          string `json:"stat"`
}

// WriteOK answers {"response": resp, "stat": "OK"} with Duo's cache headers.
func WriteOK(w http.ResponseWriter, resp any) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, okEnvelope{Response: resp, Stat: "OK"})
}

// WriteError answers with Duo's failure envelope.
func WriteError(w http.ResponseWriter, e *Error) {
	setRetryAfter(w, e)
	writeJSON(w, e.Status, failEnvelope{Code: e.Code, Message: e.Message, MessageDetail: e.Detail, Stat: "FAIL"})
}

// setRetryAfter adds Retry-After for errors that carry one.
func setRetryAfter(w http.ResponseWriter, e *Error) {
	if e.RetryAfter > 0 {
		secs := int64((e.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
}

// jsonBuffer is a reusable buffer with a JSON encoder writing into it.
type jsonBuffer struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// jsonBuffers saves writeJSON a buffer and an encoder per answer.
var jsonBuffers = sync.Pool{New: func() any {
	b := &jsonBuffer{}
	b.enc = json.NewEncoder(&b.buf)
	b.enc.SetEscapeHTML(false)
	return b
}}

// maxPooledJSON bounds the buffers kept for reuse; larger answers (an
// enrollment's QR code URL is the largest usual one) get a fresh one.
const maxPooledJSON = 16 << 10

// writeJSON sends v with an explicit Content-Length: duo_unix's HTTP parser
// and keep-alive clients rely on exact framing.
func writeJSON(w http.ResponseWriter, status int, v any) {
	jb := jsonBuffers.Get().(*jsonBuffer)
	defer func() {
		if jb.buf.Cap() <= maxPooledJSON {
			jb.buf.Reset()
			jsonBuffers.Put(jb)
		}
	}()
	if err := jb.enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		jb.buf.Reset()
		jb.buf.WriteString(`{"code":50000,"message":"Internal server error","stat":"FAIL"}`)
	}
	b := bytes.TrimRight(jb.buf.Bytes(), "\n")
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// okMetaEnvelope is okEnvelope with Duo's paging metadata (Admin API
// lists), keys in sorted order.
type okMetaEnvelope struct {
	Metadata any    `json:"metadata"`
	Response any    `json:"response"`
	Stat     string `json:"stat"`
}

// WriteOKMeta answers {"metadata": meta, "response": resp, "stat": "OK"}.
func WriteOKMeta(w http.ResponseWriter, resp, meta any) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, okMetaEnvelope{Metadata: meta, Response: resp, Stat: "OK"})
}
