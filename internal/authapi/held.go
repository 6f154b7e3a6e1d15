package authapi

import (
	"net/http"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/httpapi"
)

// A synchronous push holds its request until the device answers (seconds,
// up to push_timeout). With a Detacher the request does not keep its
// serving goroutine, net/http's buffers or the parsed request meanwhile:
// the connection is detached, the core watches the push without a
// goroutine (auth.Held.Watch), and the answer is written by whichever
// goroutine learns it, after which the connection closes. A client that
// hangs up ends the wait and gives its max_held_requests place back. Over
// HTTP/2, or without a Detacher, the request waits in its handler as any
// other.

// answerAuth runs req and answers it with ok, or with fail for an error
// that comes after the request was detached (an error before is returned,
// for the route's usual rendering).
func (a *API) answerAuth(w http.ResponseWriter, r *http.Request, req auth.AuthRequest,
	ok func(http.ResponseWriter, auth.AuthResult), fail func(http.ResponseWriter, *http.Request, error)) error {
	res, held, err := a.Core.StartAuth(r.Context(), req)
	if err != nil {
		return err
	}
	if held == nil { // decided at once: no push, or not synchronous
		ok(w, res)
		return nil
	}
	var x *httpapi.Detached
	if a.Detacher != nil {
		x, _ = a.Detacher.Detach(w, r) // nil: not detachable, wait here
	}
	if x == nil {
		if res, err = held.Wait(r.Context()); err != nil {
			return err
		}
		ok(w, res)
		return nil
	}
	held.Watch(func(res auth.AuthResult, err error) {
		x.Answer(func(w http.ResponseWriter, r *http.Request) {
			if err != nil {
				fail(w, r, err)
				return
			}
			ok(w, res)
		})
	})
	x.OnHangup(held.Cancel)
	return nil
}

// writeAuthResult is v2's synchronous auth answer.
func writeAuthResult(w http.ResponseWriter, res auth.AuthResult) {
	httpapi.WriteOK(w, authResponse{Result: res.Result, Status: res.Status, StatusMsg: res.StatusMsg,
		TrustedDeviceToken: res.TrustedDeviceToken})
}
