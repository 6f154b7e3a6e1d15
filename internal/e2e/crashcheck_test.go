package e2e

import (
	"slices"
	"testing"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/config"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/store/sqlstore"
)

// Auth-log factors of the passcodes the crash test sends.
const (
	logFactorBypass = "bypass_code"
	logFactorHOTP   = "duo_mobile_passcode"
)

// checkCrashDurability compares what the clients were told with what the
// stopped server's store holds (see TestCrashDurability).
func checkCrashDurability(t *testing.T, srv *procServer, users []*crashUser, answers []crashAnswer) {
	t.Helper()
	ctx := testCtx(t)
	dsn := srv.dbURL
	if dsn == "" {
		dsn = config.Config{DataDir: srv.DataDir}.SQLitePath()
	}
	st, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open the store after the last stop: %v", err)
	}
	defer st.Close()

	var allows, denies, unanswered, limited int
	for _, a := range answers {
		switch {
		case a.result == "allow":
			allows++
		case a.result == "deny":
			denies++
		case a.fail != 0:
			limited++
		default:
			unanswered++
		}
	}
	t.Logf("%d requests: %d allow, %d deny, %d rate limited, %d cut off by a kill", len(answers), allows, denies, limited, unanswered)
	if allows == 0 || denies == 0 {
		t.Fatalf("the load produced %d allows and %d denies: nothing to check", allows, denies)
	}

	for _, u := range users {
		rec, err := st.GetUserByUsername(ctx, u.name)
		if err != nil {
			t.Fatalf("user %s: %v", u.name, err)
		}
		logs, err := st.ListAuthLog(ctx, store.AuthLogFilter{UserID: rec.ID})
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(logs, func(a, b store.AuthLog) int { return int(a.ID - b.ID) })
		codes, err := st.ListBypassCodes(ctx, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		devices, err := st.ListDevices(ctx, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		checkCrashUser(t, u, rec, logs, len(codes), devices, answersOf(answers, u.name))
	}
}

func answersOf(answers []crashAnswer, user string) []crashAnswer {
	var out []crashAnswer
	for _, a := range answers {
		if a.user == user {
			out = append(out, a)
		}
	}
	return out
}

// checkCrashUser checks one user's answers against its log and state.
func checkCrashUser(t *testing.T, u *crashUser, rec store.User, logs []store.AuthLog, bypassLeft int, devices []store.Device, answers []crashAnswer) {
	t.Helper()
	// What the clients were told.
	var toldBypass, toldHOTP, toldDeny int
	allowsOf := map[passcode]int{} // a passcode (HOTP: its counter) → allows answered
	var maxHOTP int64 = -1
	for _, a := range answers {
		switch a.result {
		case "allow":
			allowsOf[a.pc]++
			switch a.pc.kind {
			case kindBypass:
				toldBypass++
			case kindHOTP:
				toldHOTP++
				maxHOTP = max(maxHOTP, a.pc.counter)
				if a.pc.counter <= a.maxAllowed {
					t.Errorf("%s: HOTP counter %d accepted after counter %d had been (round %d)", u.name, a.pc.counter, a.maxAllowed, a.round)
				}
			case kindWrong:
				t.Errorf("%s: the wrong code %s was accepted", u.name, a.pc.code)
			}
		case "deny":
			toldDeny++
		}
	}
	for pc, n := range allowsOf {
		if n > 1 && pc.kind == kindHOTP {
			t.Errorf("%s: HOTP code %s (counter %d) accepted %d times", u.name, pc.code, pc.counter, n)
		} else if n > 1 {
			t.Errorf("%s: single-use %s code %s accepted %d times", u.name, pc.kind, pc.code, n)
		}
	}

	// What the log holds.
	var logBypass, logHOTP, logDeny int
	for _, l := range logs {
		switch {
		case l.Result == auth.ResultAllow && l.Factor == logFactorBypass:
			logBypass++
		case l.Result == auth.ResultAllow && l.Factor == logFactorHOTP:
			logHOTP++
		case l.Result == auth.ResultDeny:
			logDeny++
		default:
			t.Errorf("%s: unexpected auth-log row %+v", u.name, l)
		}
	}
	if logBypass < toldBypass || logHOTP < toldHOTP || logDeny < toldDeny {
		t.Errorf("%s: answered allows/denies lost: clients were told %d bypass-code allows, %d HOTP allows, %d denies; the auth log holds %d, %d, %d",
			u.name, toldBypass, toldHOTP, toldDeny, logBypass, logHOTP, logDeny)
	}

	// The state agrees with the log.
	if used := u.issued - bypassLeft; used != logBypass {
		t.Errorf("%s: %d of %d bypass codes are gone but the log has %d bypass-code allows", u.name, used, u.issued, logBypass)
	}
	if u.secret != "" {
		if len(devices) != 1 {
			t.Fatalf("%s: %d devices, want 1", u.name, len(devices))
		}
		if c := devices[0].HOTPCounter; c <= maxHOTP {
			t.Errorf("%s: the device's HOTP counter is %d although counter %d was answered allow", u.name, c, maxHOTP)
		}
	}
	// Failures since the last success: what the failure counter must be.
	failures := 0
	for _, l := range logs {
		switch {
		case l.Result == auth.ResultAllow:
			failures = 0
		case l.Reason == auth.ReasonInvalidPasscode:
			failures++
		}
	}
	locked := rec.Status == store.StatusLockedOut
	if rec.FailedAttempts != failures || locked != (failures >= crashLockout) {
		t.Errorf("%s: status %q with %d failed attempts, but the log shows %d failures since the last success (lockout at %d)",
			u.name, rec.Status, rec.FailedAttempts, failures, crashLockout)
	}
	// Answered failures were committed, so they locked the user out for good.
	if u.lockme && toldDeny >= crashLockout && (!locked || toldBypass > 0) {
		t.Errorf("%s: %d wrong codes refused, then %d bypass codes accepted; status %q", u.name, toldDeny, toldBypass, rec.Status)
	}
}
