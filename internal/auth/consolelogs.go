package auth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// The console's log pages and dashboard charts (issue 15).

// AuthLogEntry returns one auth-log row, for the console's detail view.
func (s *Service) AuthLogEntry(ctx context.Context, id int64) (store.AuthLog, error) {
	l, err := s.st.GetAuthLog(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.AuthLog{}, notFound(fmt.Sprintf("no authentication %d in the log", id))
	}
	if err != nil {
		return store.AuthLog{}, wrap("auth log row", err)
	}
	return l, nil
}

// AdminLogEntry returns one administrator-log row.
func (s *Service) AdminLogEntry(ctx context.Context, id int64) (store.AdminLog, error) {
	l, err := s.st.GetAdminLog(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.AdminLog{}, notFound(fmt.Sprintf("no change %d in the administrator log", id))
	}
	if err != nil {
		return store.AdminLog{}, wrap("admin log row", err)
	}
	return l, nil
}

// AuthBucket counts the authentications of one hour or day.
type AuthBucket struct {
	Start                  time.Time
	Allowed, Denied, Fraud int
}

// Total is every authentication of the bucket.
func (b AuthBucket) Total() int { return b.Allowed + b.Denied + b.Fraud }

// ReasonCount is how often one reason denied an authentication.
type ReasonCount struct {
	Reason     string
	Day, Month int // last 24 hours, last 30 days
}

// AuthActivity is the dashboard's charts: authentications per hour over
// the last 24 hours (the current hour last, partial) and per day (UTC)
// over the last 30 days, and the reasons of denials.
type AuthActivity struct {
	Hours   []AuthBucket // 24
	Days    []AuthBucket // 30
	Reasons []ReasonCount
	// Day counts the last 24 hours (the Hours' window).
	Day AuthBucket
}

// IsFraud reports whether an auth-log row is a push the user reported as
// fraud (logged as a denial with reason user_marked_fraud; "fraud" as a
// result too, as Duo's logs name it).
func IsFraud(result, reason string) bool {
	return result == "fraud" || reason == ReasonUserMarkedFraud
}

// add counts n rows of result and reason.
func (b *AuthBucket) add(result, reason string, n int) {
	switch {
	case IsFraud(result, reason):
		b.Fraud += n
	case result == ResultAllow:
		b.Allowed += n
	default:
		b.Denied += n
	}
}

// maxReasons bounds the dashboard's list of failure reasons.
const maxReasons = 10

// ConsoleAuthActivity counts the auth log by hour and by day, in SQL
// (two grouped reads), up to the log clock as QueryAuthLog reads.
func (s *Service) ConsoleAuthActivity(ctx context.Context) (AuthActivity, error) {
	sealed, err := s.sealLogs(ctx, store.LogAuth)
	if err != nil {
		return AuthActivity{}, err
	}
	now := s.now().UTC()
	var a AuthActivity
	hour0 := now.Truncate(time.Hour).Add(-23 * time.Hour)
	day0 := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -29)
	a.Hours = make([]AuthBucket, 24)
	for i := range a.Hours {
		a.Hours[i].Start = hour0.Add(time.Duration(i) * time.Hour)
	}
	a.Days = make([]AuthBucket, 30)
	for i := range a.Days {
		a.Days[i].Start = day0.AddDate(0, 0, i)
	}
	reasons := map[string]*ReasonCount{}
	reason := func(r string) *ReasonCount {
		if reasons[r] == nil {
			reasons[r] = &ReasonCount{Reason: r}
		}
		return reasons[r]
	}
	hours, err := s.st.CountAuthLog(ctx, hour0, sealed, time.Hour)
	if err != nil {
		return AuthActivity{}, wrap("count auth log by hour", err)
	}
	for _, c := range hours {
		if i := int(c.Start.Sub(hour0) / time.Hour); i >= 0 && i < len(a.Hours) {
			a.Hours[i].add(c.Result, c.Reason, c.N)
			a.Day.add(c.Result, c.Reason, c.N)
			if c.Result != ResultAllow {
				reason(c.Reason).Day += c.N
			}
		}
	}
	days, err := s.st.CountAuthLog(ctx, day0, sealed, 24*time.Hour)
	if err != nil {
		return AuthActivity{}, wrap("count auth log by day", err)
	}
	for _, c := range days {
		if i := int(c.Start.Sub(day0) / (24 * time.Hour)); i >= 0 && i < len(a.Days) {
			a.Days[i].add(c.Result, c.Reason, c.N)
			if c.Result != ResultAllow {
				reason(c.Reason).Month += c.N
			}
		}
	}
	for _, r := range reasons {
		a.Reasons = append(a.Reasons, *r)
	}
	slices.SortFunc(a.Reasons, func(x, y ReasonCount) int {
		return cmp.Or(cmp.Compare(y.Day, x.Day), cmp.Compare(y.Month, x.Month), cmp.Compare(x.Reason, y.Reason))
	})
	if len(a.Reasons) > maxReasons {
		a.Reasons = a.Reasons[:maxReasons]
	}
	return a, nil
}

// Now is the service's clock (the console's relative time filters).
func (s *Service) Now() time.Time { return s.now() }

// PendingPushes lists the pushes waiting for an answer now, newest first,
// at most limit (the console's dashboard).
func (s *Service) PendingPushes(ctx context.Context, limit int) ([]store.Transaction, error) {
	txs, err := s.st.ListPendingPushes(ctx, s.now(), limit)
	if err != nil {
		return nil, wrap("pending pushes", err)
	}
	return txs, nil
}
