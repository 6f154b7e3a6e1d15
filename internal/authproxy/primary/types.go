// Package primary holds the authentication proxy's primary authenticators:
// Active Directory / LDAP (ad_client), an upstream RADIUS server
// (radius_client) and none at all (duo_only_client).
package primary

import (
	"context"

	"layeh.com/radius"
)

// Request is one primary authentication.
type Request struct {
	Username string
	// Password is the PAP password (already split from a concat factor);
	// empty when the request authenticates with MS-CHAP.
	Password string
	// Packet is the original Access-Request: MS-CHAP attributes and
	// pass-through attributes are taken from it. May be nil for LDAP.
	Packet *radius.Packet
	// Forward are request attributes to copy into the upstream request
	// (the server section's pass_through_attr_names / pass_through_all).
	Forward radius.Attributes
	// ClientIP is the address of the NAS, for logs.
	ClientIP string
}

// Result is the outcome of a primary authentication that reached a server.
type Result struct {
	Accepted bool
	// Message is what the user is told on a reject (Duo's texts: "User
	// Authentication Failed", "Invalid User", the upstream Reply-Message or
	// "No reply message in packet").
	Message string
	// Reason says, for the proxy's log only, why the first factor was
	// refused ("user not found", "user bind refused: LDAP Result Code 49
	// …"); the user is told Message, which is deliberately vague.
	Reason string
	// Attributes are added to the final Access-Accept or Access-Reject
	// (upstream pass-through attributes, MS-CHAP2-Success, MS-CHAP-Error…).
	Attributes radius.Attributes
	// PasswordExpired is set when an MS-CHAPv2 upstream answered E=648.
	PasswordExpired bool
}

// Authenticator checks the first factor. An error means no server could
// give an answer (all hosts unreachable or timed out); the proxy then
// rejects with the error's user-facing text (UserMessage).
type Authenticator interface {
	Authenticate(ctx context.Context, r Request) (Result, error)
}

// UnavailableError is returned when no configured server answered.
type UnavailableError struct {
	// Message is the text for the user, e.g. "Failed to communicate with
	// any Active Directory server".
	Message string
	Err     error
}

func (e *UnavailableError) Error() string { return e.Message + ": " + e.Err.Error() }
func (e *UnavailableError) Unwrap() error { return e.Err }
