package duosig

import "fmt"

// Error is a verification failure carrying what the HTTP layer needs to
// render Duo's error envelope:
//
//	{"stat":"FAIL","code":<Code>,"message":<Message>}
//
// with HTTP status Status. Use errors.As to extract it from a wrapped error.
type Error struct {
	Status  int
	Code    int
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("duosig: %d %s", e.Code, e.Message)
}

// Is reports whether target is an *Error with the same status and code, so
// errors.Is matches the sentinels even against an equal copy.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status && t.Code == e.Code
}

// Sentinel errors, with the codes and messages Duo itself returns.
var (
	ErrMissingCredentials = &Error{Status: 401, Code: 40101, Message: "Missing request credentials"}
	// ErrUnknownIKey is for the caller's integration-key lookup; this
	// package never returns it.
	ErrUnknownIKey  = &Error{Status: 401, Code: 40102, Message: "Invalid integration key in request credentials"}
	ErrBadSignature = &Error{Status: 401, Code: 40103, Message: "Invalid signature in request credentials"}
	// ErrMissingTimestamp is a request without a date header where the
	// route needs one (every route but the legacy ones).
	ErrMissingTimestamp = &Error{Status: 401, Code: 40104, Message: "Missing request timestamp"}
	// ErrBadTimestamp covers an unparseable or out-of-window date.
	ErrBadTimestamp = &Error{Status: 401, Code: 40105, Message: "Bad request timestamp"}
)
