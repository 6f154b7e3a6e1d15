// Package duoclient is the authentication proxy's client for a
// Duo-compatible Auth API (Assent's own server or Duo's cloud): signed
// preauth and auth calls over keep-alive HTTPS, and the classification of
// every failure that the proxy's failmode rules need.
package duoclient

import (
	"fmt"
	"time"
)

// Config says where the Auth API is and how to reach it.
type Config struct {
	IKey, SKey string
	APIHost    string        // host name as configured (api_host), without port
	APIPort    int           // 443 by default
	Timeout    time.Duration // api_timeout; 0 = no timeout (Duo's default)
	CAFile     string        // PEM bundle to trust instead of the system roots; empty = system
	// HTTPProxy is an outbound proxy URL (http://host:port) or empty.
	HTTPProxy string
	UserAgent string
	// MaxConns bounds the connections open to the API at once, and so the
	// calls in progress (0 = DefaultMaxConns); that many stay open idle.
	MaxConns int
}

// DefaultMaxConns is Config.MaxConns when it is 0: below Assent's default
// max_connections_per_ip (512), so a proxy at its limit is not refused
// connections by the server.
const DefaultMaxConns = 500

// PreauthRequest is one /auth/v2/preauth call.
type PreauthRequest struct {
	Username string
	IPAddr   string // client IP, or "" when unknown
	Hostname string
	Failmode string // "safe" or "secure" (sent as open/closed)
	// Menu asks for the text_prompt menu (text_prompt=1): an "auth"
	// answer must then carry the prompt text and its factors map. Only
	// the modes that show or read the menu ask for it.
	Menu bool
	// VerifiedPush says the caller can show a Verified Push code
	// (client_supports_verified_push=1, as duo_unix 2.x): an "auth"
	// answer may then carry a TxID, verified_pushN factors and the code.
	VerifiedPush bool
}

// Device is one entry of preauth's devices list.
type Device struct {
	ID           string // "DP…" or "phone1"
	Type         string // "phone", "token"
	Name         string
	DisplayName  string
	Capabilities []string // "push", "phone", "sms", "mobile_otp", "auto"
}

// Preauth is the answer of a successful preauth call.
type Preauth struct {
	Result    string // "auth", "allow", "deny" or "enroll"
	StatusMsg string
	// EnrollPortalURL is set for Result "enroll".
	EnrollPortalURL string
	// Prompt is the text_prompt menu ("Duo two-factor login for …").
	// Prompt, Factors and Devices are read only when the request asked
	// for the menu (PreauthRequest.Menu).
	Prompt string
	// Factors maps menu keys ("default", "1", "2", …) to factor names
	// ("push1", "phone1", "sms1").
	Factors map[string]string
	Devices []Device
	// TxID announces a Verified Push: AuthRequest.TxID sends it back with
	// a verified_pushN choice. VerifyCode is its code when the server
	// names it (Assent's verification_code); Duo tells it in Prompt only.
	TxID       string
	VerifyCode string
	// Groups are the names a preauth answer may carry in "groups". Duo's
	// Authentication Proxy reads them in duo_only mode (the first becomes
	// the Accept's Class, "OU=<group>;"); Duo's published Auth API does
	// not list the member and Assent's server does not send it. Only a
	// list of strings is read; any other value is ignored.
	Groups []string
}

// AuthRequest is one synchronous /auth/v2/auth call. Choice is what the
// user chose: a factor name ("push", "push1", "phone1", "sms1") or a
// passcode; it is sent as factor=prompt&prompt=<choice>.
type AuthRequest struct {
	Username string
	Choice   string
	IPAddr   string
	Hostname string
	// TxID is the preauth's Verified Push txid, sent with a
	// verified_pushN choice.
	TxID string
}

// AuthResult is the answer of a successful auth call.
type AuthResult struct {
	Result    string // "allow" or "deny"
	Status    string // "allow", "deny", "sent", …
	StatusMsg string
}

// Call names the API call an Error came from.
type Call string

const (
	CallPing    Call = "ping"
	CallCheck   Call = "check"
	CallPreauth Call = "preauth"
	CallAuth    Call = "auth"
)

// Class sorts failures for the failmode rules (spec: authproxy.md §3).
type Class int

const (
	// ClassTransport: DNS, TCP or TLS failure, or api_timeout expired.
	ClassTransport Class = iota + 1
	// ClassServer: HTTP 5xx, whatever the body.
	ClassServer
	// ClassClient: HTTP 4xx or stat FAIL with a non-5xx code (bad ikey,
	// bad signature, invalid parameter): a misconfiguration.
	ClassClient
	// ClassMalformed: HTTP 200, stat OK, but required fields missing or
	// wrong, or an unknown stat value.
	ClassMalformed
	// ClassBadBody: HTTP 200 whose body is not JSON or has no stat.
	ClassBadBody
)

func (c Class) String() string {
	switch c {
	case ClassTransport:
		return "transport"
	case ClassServer:
		return "server error"
	case ClassClient:
		return "client error"
	case ClassMalformed:
		return "malformed response"
	case ClassBadBody:
		return "unparsable response"
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// Error is every failure of a call; nothing else is returned as an error
// by Client's API methods.
type Error struct {
	Call       Call
	Class      Class
	HTTPStatus int    // 0 for transport errors
	Code       int    // Duo error code (40301, …) when the body had one
	Message    string // Duo message / message_detail, or a description
	Err        error  // the underlying error, if any
}

func (e *Error) Error() string {
	s := fmt.Sprintf("duo %s: %s", e.Call, e.Class)
	if e.HTTPStatus != 0 {
		s += fmt.Sprintf(" (HTTP %d", e.HTTPStatus)
		if e.Code != 0 {
			s += fmt.Sprintf(", code %d", e.Code)
		}
		s += ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// FailOpen reports whether a section with failmode=safe may let the user in
// without a second factor after this error. A transport failure of the
// auth call never fails open (a dropped or timed-out push must not become a
// bypass), and neither does a misconfiguration (4xx) or an unparsable 200.
func (e *Error) FailOpen() bool {
	switch e.Class {
	case ClassTransport:
		return e.Call != CallAuth
	case ClassServer, ClassMalformed:
		return true
	}
	return false
}
