package prompt

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/web"
)

// Rate limits reach the prompt two ways: the core refuses pushes,
// passcodes and enrollments (auth.KindRateLimited, turned into a page by
// action), and the portal itself limits wrong or used links per address
// (ActivationLimit).

const titleTooMany = "Too many attempts"

// tooManyMessage says when to try again, in whole minutes.
func tooManyMessage(retry time.Duration) string {
	mins := max(int((retry+time.Minute-1)/time.Minute), 1)
	unit := "minutes"
	if mins == 1 {
		unit = "minute"
	}
	return fmt.Sprintf("Too many attempts. Try again in %d %s.", mins, unit)
}

// setRetryAfter sends Retry-After in whole seconds, rounded up.
func setRetryAfter(w http.ResponseWriter, retry time.Duration) {
	secs := max(int64((retry+time.Second-1)/time.Second), 1)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
}

// renderTooMany answers 429 with a page saying when to try again.
func renderTooMany(w http.ResponseWriter, r *http.Request, retry time.Duration, hd web.Headers) {
	setRetryAfter(w, retry)
	renderError(w, r, http.StatusTooManyRequests, titleTooMany, tooManyMessage(retry), hd.FrameAncestors)
}

// beginPortal admits a portal request that will look a link up, or
// answers 429 to an address that sent too many wrong or used links. The
// caller ends an admitted attempt with p.ActivationLimit.End.
func (p *Prompt) beginPortal(w http.ResponseWriter, r *http.Request) (addr string, ok bool) {
	lim := p.ActivationLimit
	addr = ratelimit.AddrKey(r.RemoteAddr)
	admitted, retry := lim.Begin(addr)
	if !admitted {
		lim.Warn(p.log(r), addr, retry)
		renderTooMany(w, r, retry, web.Headers{})
		return "", false
	}
	return addr, true
}
