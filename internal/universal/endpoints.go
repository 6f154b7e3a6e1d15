package universal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/assent-auth/assent/internal/httpapi"
)

func (a *API) logger(ctx context.Context) *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return httpapi.Logger(ctx)
}

// readParams merges query and body parameters: duo_universal_python sends
// the token request's fields in the query string of a POST without a body.
func readParams(w http.ResponseWriter, r *http.Request) (*httpapi.Params, *oauthError) {
	p, err := httpapi.ReadParams(w, r)
	if err != nil {
		var he *httpapi.Error
		if errors.As(err, &he) {
			return nil, &oauthError{status: he.Status, code: "invalid_request", desc: he.Error()}
		}
		return nil, invalidRequest("The request could not be read.")
	}
	return p, nil
}

// healthCheck answers POST /oauth/v1/health_check as Duo does:
// {"stat":"OK","response":{"timestamp":…}} for a client whose assertion
// verifies; every SDK treats any other answer as "Duo is unavailable".
func (a *API) healthCheck(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		a.writeHealthError(w, &oauthError{status: http.StatusMethodNotAllowed, code: "invalid_request", desc: "Use POST."}, httpapi.CodeMethodNotAllowed)
		return
	}
	p, oe := readParams(w, r)
	if oe == nil {
		var c *client
		c, oe = a.authenticateClient(r.Context(), p.Get("client_id"), p.Get("client_assertion"), PathHealthCheck)
		if oe == nil {
			httpapi.SetIKey(r.Context(), c.in.IKey)
			httpapi.WriteOK(w, map[string]int64{"timestamp": a.now().Unix()})
			return
		}
	}
	code := httpapi.CodeInvalidParams
	if oe.status >= 500 {
		code = httpapi.CodeServerError
	}
	a.writeHealthError(w, oe, code)
}

// writeHealthError is Duo's failure envelope with the OAuth error as the
// message, as in duo_universal_python's test fixtures:
// {"stat":"FAIL","code":40002,"message":"invalid_client","message_detail":…,"timestamp":…}.
func (a *API) writeHealthError(w http.ResponseWriter, oe *oauthError, code int) {
	writeJSON(w, oe.status, struct {
		Code          int    `json:"code"`
		Message       string `json:"message"`
		MessageDetail string `json:"message_detail"`
		Stat          string `json:"stat"`
		Timestamp     int64  `json:"timestamp"`
	}{code, oe.code, oe.desc, "FAIL", a.now().Unix()})
}

// writeOAuthError answers the token endpoint's errors as RFC 6749 §5.2
// does: {"error": …, "error_description": …}.
func writeOAuthError(w http.ResponseWriter, oe *oauthError) {
	writeJSON(w, oe.status, map[string]string{"error": oe.code, "error_description": oe.desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"server_error"}`)
	}
	b := bytes.TrimRight(buf.Bytes(), "\n")
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	// Tokens and errors about them must not be cached (RFC 6749 §5.1).
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
