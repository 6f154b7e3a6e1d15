package primary

import "context"

// MsgIgnoringPrimary is Duo's text for duo_only_client.
const MsgIgnoringPrimary = "Ignoring primary credentials"

// DuoOnly is [duo_only_client]: primary authentication always succeeds,
// so the second factor is the only one.
type DuoOnly struct{}

// Authenticate accepts every request without looking at it.
func (DuoOnly) Authenticate(context.Context, Request) (Result, error) {
	return Result{Accepted: true, Message: MsgIgnoringPrimary}, nil
}
