package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// verified turns Verified Push on for the fixture's integration.
func (f *fixture) verified(t *testing.T, digits int) {
	t.Helper()
	in, err := f.svc.UpdateIntegration(context.Background(), f.in.IKey, auth.IntegrationUpdate{VerifiedPush: &digits})
	if err != nil {
		t.Fatal(err)
	}
	f.in = in
}

func lastReason(t *testing.T, f *fixture, userID string) store.AuthLog {
	t.Helper()
	l := f.logs(t, userID)
	if len(l) == 0 {
		t.Fatal("no auth-log row")
	}
	return l[0]
}

// Every answer to a Verified Push, and to a plain push reported as fraud:
// what auth_status says, the transaction's state and the auth-log reason.
func TestVerifiedPushAndFraud(t *testing.T) {
	t.Parallel()
	wrong := func(c string) string { // another code of the same length
		b := []byte(c)
		b[0] = '0' + (b[0]-'0'+1)%10
		return string(b)
	}
	for _, tc := range []struct {
		name       string
		digits     int
		answer     func(code string) auth.PushAnswer
		wantState  string
		wantStatus string
		wantReason string
		wantResult string
	}{
		{"right code", 3, func(c string) auth.PushAnswer { return auth.PushAnswer{Approve: true, Code: c} },
			store.TxAllow, "allow", auth.ReasonUserApproved, "allow"},
		{"right code, 6 digits", 6, func(c string) auth.PushAnswer { return auth.PushAnswer{Approve: true, Code: c} },
			store.TxAllow, "allow", auth.ReasonUserApproved, "allow"},
		{"wrong code", 3, func(c string) auth.PushAnswer { return auth.PushAnswer{Approve: true, Code: wrong(c)} },
			store.TxDeny, "deny", auth.ReasonInvalidVerificationCode, "deny"},
		{"missing code", 3, func(string) auth.PushAnswer { return auth.PushAnswer{Approve: true} },
			store.TxDeny, "deny", auth.ReasonInvalidVerificationCode, "deny"},
		{"deny", 3, func(string) auth.PushAnswer { return auth.PushAnswer{} },
			store.TxDeny, "deny", auth.ReasonUserDenied, "deny"},
		{"fraud", 3, func(c string) auth.PushAnswer { return auth.PushAnswer{Fraud: true, Approve: true, Code: c} },
			store.TxFraud, "fraud", auth.ReasonUserMarkedFraud, "deny"},
		{"plain push approved", 0, func(string) auth.PushAnswer { return auth.PushAnswer{Approve: true} },
			store.TxAllow, "allow", auth.ReasonUserApproved, "allow"},
		{"plain push fraud", 0, func(string) auth.PushAnswer { return auth.PushAnswer{Fraud: true} },
			store.TxFraud, "fraud", auth.ReasonUserMarkedFraud, "deny"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, auth.Options{StatusWait: 200 * time.Millisecond})
			ctx := context.Background()
			a := f.device(t, "alice")
			if tc.digits > 0 {
				f.verified(t, tc.digits)
			}
			res, err := f.svc.Auth(ctx, f.pushReq("alice", true))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.VerifyCode) != tc.digits || strings.Trim(res.VerifyCode, "0123456789") != "" {
				t.Fatalf("verify code %q, want %d digits", res.VerifyCode, tc.digits)
			}
			// The first auth_status tells the code at once.
			start := time.Now()
			st, err := f.svc.AuthStatus(ctx, f.in, res.TxID)
			if err != nil || st.Result != "waiting" || st.VerifyCode != res.VerifyCode {
				t.Fatalf("first auth_status %+v %v", st, err)
			}
			if tc.digits > 0 && (!strings.Contains(st.StatusMsg, res.VerifyCode) || time.Since(start) > 150*time.Millisecond) {
				t.Errorf("first auth_status of a verified push: %+v after %v", st, time.Since(start))
			}
			p, err := f.svc.Pending(ctx, a.Device.ID)
			if err != nil || len(p) != 1 || p[0].StepUpDigits != tc.digits {
				t.Fatalf("pending %+v %v", p, err)
			}
			state, err := f.svc.AnswerPush(ctx, a.Device.ID, res.TxID, tc.answer(res.VerifyCode))
			if err != nil || state != tc.wantState {
				t.Fatalf("answer: %q %v, want %q", state, err, tc.wantState)
			}
			st, err = f.svc.AuthStatus(ctx, f.in, res.TxID)
			if err != nil || st.Status != tc.wantStatus || st.Result != tc.wantResult || st.VerifyCode != "" {
				t.Errorf("auth_status after the answer: %+v %v", st, err)
			}
			l := lastReason(t, f, a.Device.UserID)
			if l.Reason != tc.wantReason || l.Result != tc.wantResult || l.TxID != res.TxID {
				t.Errorf("auth log %+v, want %s/%s", l, tc.wantResult, tc.wantReason)
			}
			if _, err := f.svc.AnswerPush(ctx, a.Device.ID, res.TxID, tc.answer(res.VerifyCode)); !errors.Is(err, auth.ErrAlreadyAnswered) {
				t.Errorf("second answer: %v", err)
			}
			u, err := f.svc.User(ctx, "alice")
			if err != nil || u.Status != store.StatusActive {
				t.Errorf("user after the answer (fraud_lockout off): %+v %v", u, err)
			}
		})
	}
}

// A synchronous push reported as fraud ends the waiting request with
// Duo's fraud status; with FraudLockout the user is locked out.
func TestFraudLockout(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{FraudLockout: true})
	ctx := context.Background()
	a := f.device(t, "alice")
	done := make(chan error, 1)
	go func() {
		for range 500 {
			if p, _ := f.svc.Pending(ctx, a.Device.ID); len(p) == 1 {
				_, err := f.svc.AnswerPush(ctx, a.Device.ID, p[0].ID, auth.PushAnswer{Fraud: true})
				done <- err
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		done <- errors.New("no push arrived")
	}()
	res, err := f.svc.Auth(ctx, f.pushReq("alice", false))
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if res.Result != "deny" || res.Status != "fraud" {
		t.Errorf("auth: %+v, want deny/fraud", res)
	}
	u, err := f.svc.User(ctx, "alice")
	if err != nil || u.Status != store.StatusLockedOut || !strings.Contains(u.LockoutReason, "fraud") {
		t.Errorf("user after a fraud report: %+v %v", u, err)
	}
	// The lockout holds: the next push is refused as for any locked-out user.
	res, err = f.svc.Auth(ctx, f.pushReq("alice", false))
	if err != nil || res.Status != "locked_out" {
		t.Errorf("auth after the lockout: %+v %v", res, err)
	}
}

// After PushCooldownAfter pushes in a row denied or unanswered, pushes are
// refused until PushCooldown after the last; an approval breaks the row.
func TestPushCooldown(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{PushCooldownAfter: 3, PushCooldown: 15 * time.Minute})
	ctx := context.Background()
	a := f.device(t, "alice")
	push := func(t *testing.T, answer auth.PushAnswer) error {
		t.Helper()
		res, err := f.svc.Auth(ctx, f.pushReq("alice", true))
		if err != nil {
			return err
		}
		if _, err := f.svc.AnswerPush(ctx, a.Device.ID, res.TxID, answer); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(time.Minute)
		return nil
	}
	deny, approve, fraud := auth.PushAnswer{}, auth.PushAnswer{Approve: true}, auth.PushAnswer{Fraud: true}
	for i, ans := range []auth.PushAnswer{deny, deny, approve, deny, fraud} {
		if err := push(t, ans); err != nil {
			t.Fatalf("push %d: %v", i+1, err)
		}
	}
	// Two in a row so far (the approval broke the row): a third is sent.
	if err := push(t, deny); err != nil {
		t.Fatalf("push after two denials: %v", err)
	}
	// Three in a row: refused until 15 minutes after the last denial,
	// which was a minute ago.
	err := push(t, approve)
	var ae *auth.Error
	if !errors.As(err, &ae) || ae.Kind != auth.KindRateLimited || ae.RetryAfter != 14*time.Minute ||
		!strings.Contains(ae.Detail, "3 login requests in a row") {
		t.Fatalf("push in the cool-down: %v (%+v)", err, ae)
	}
	if l := lastReason(t, f, a.Device.UserID); l.Reason != auth.ReasonRateLimited {
		t.Errorf("the refusal's auth-log row: %+v", l)
	}
	f.clock.Advance(13*time.Minute + 59*time.Second)
	if err := push(t, approve); !auth.IsKind(err, auth.KindRateLimited) {
		t.Fatalf("push a second before the end of the cool-down: %v", err)
	}
	f.clock.Advance(time.Second)
	if err := push(t, approve); err != nil {
		t.Fatalf("push after the cool-down: %v", err)
	}
}

// duo_unix 2.x: preauth with client_supports_verified_push announces a
// txid, names the push factor verified_push1 and shows the code; auth with
// that txid sends the push the code belongs to.
func TestPreauthVerifiedPush(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{StatusWait: 100 * time.Millisecond})
	ctx := context.Background()
	a := f.device(t, "alice")
	req := auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}, TextPrompt: true, VerifiedPush: true}

	// Off for the integration: answered as before.
	pre, err := f.svc.Preauth(ctx, req)
	if err != nil || pre.TxID != "" || pre.Prompt.Factors["1"] != "push1" {
		t.Fatalf("preauth with Verified Push off: %+v %v", pre, err)
	}
	f.verified(t, 3)
	req.Integration = f.in
	// A client that does not support it: a plain push.
	req.VerifiedPush = false
	if pre, err = f.svc.Preauth(ctx, req); err != nil || pre.TxID != "" || pre.Prompt.Factors["default"] != "push1" {
		t.Fatalf("preauth without client support: %+v %v", pre, err)
	}
	req.VerifiedPush = true
	pre, err = f.svc.Preauth(ctx, req)
	if err != nil || pre.TxID == "" || len(pre.VerifyCode) != 3 || pre.Prompt.Factors["1"] != "verified_push1" ||
		pre.Prompt.Factors["default"] != "verified_push1" || !strings.Contains(pre.Prompt.Text, "verification code "+pre.VerifyCode) {
		t.Fatalf("preauth: %+v %+v %v", pre, pre.Prompt, err)
	}
	ar := func(prompt, txid string) auth.AuthRequest {
		return auth.AuthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}, Factor: "prompt",
			Prompt: prompt, TxID: txid, Async: true}
	}
	for _, bad := range []auth.AuthRequest{ar("verified_push1", ""), ar("verified_push1", "not-a-txid"), ar("push1", pre.TxID)} {
		if _, err := f.svc.Auth(ctx, bad); !auth.IsKind(err, auth.KindInvalid) {
			t.Errorf("auth %s txid %q: %v, want invalid", bad.Prompt, bad.TxID, err)
		}
	}
	res, err := f.svc.Auth(ctx, ar("verified_push1", pre.TxID))
	if err != nil || res.TxID != pre.TxID || res.VerifyCode != pre.VerifyCode {
		t.Fatalf("auth: %+v %v", res, err)
	}
	st, err := f.svc.AuthStatus(ctx, f.in, res.TxID)
	if err != nil || st.StatusMsg != "Please enter verification code "+pre.VerifyCode+" into your authenticator app..." {
		t.Errorf("auth_status: %+v %v", st, err)
	}
	// The same txid cannot start a second push.
	if _, err := f.svc.Auth(ctx, ar("verified_push1", pre.TxID)); err == nil {
		t.Error("a second push with the same txid")
	}
	if state, err := f.svc.AnswerPush(ctx, a.Device.ID, res.TxID, auth.PushAnswer{Approve: true, Code: pre.VerifyCode}); err != nil || state != store.TxAllow {
		t.Errorf("answer with the code: %q %v", state, err)
	}
	// Turning it off leaves the integration with plain pushes.
	off := 0
	if _, err := f.svc.UpdateIntegration(ctx, f.in.IKey, auth.IntegrationUpdate{VerifiedPush: &off}); err != nil {
		t.Fatal(err)
	}
	bad := 4
	if _, err := f.svc.UpdateIntegration(ctx, f.in.IKey, auth.IntegrationUpdate{VerifiedPush: &bad}); !auth.IsKind(err, auth.KindInvalid) {
		t.Errorf("4 digits: %v", err)
	}
}

// A policy that requires Verified Push (here for one group, on an
// integration with it off) is announced at preauth as the integration's
// own setting is: a txid, verified_push1 and the code, which the pushed
// auth then carries. The async auth's auth_status then also gives the
// remembered-device token once the push is approved.
func TestPreauthPolicyVerifiedPush(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{StatusWait: 100 * time.Millisecond})
	ctx := context.Background()
	a := f.device(t, "alice")
	f.device(t, "bob")
	staff := f.group(t, "staff", a.Device.UserID)
	on := true
	f.setPolicy(t, auth.PolicyChange{IKey: f.in.IKey, GroupID: staff.ID, Set: store.PolicySettings{VerifiedPush: &on, RememberDays: ptr(3)}})
	pre := func(user string) auth.PreauthResult {
		t.Helper()
		p, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: user}, TextPrompt: true, VerifiedPush: true})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := pre("bob"); p.TxID != "" || p.Prompt.Factors["default"] != "push1" {
		t.Errorf("preauth outside the group: %+v, want a plain push", p.Prompt)
	}
	p := pre("alice")
	if p.TxID == "" || len(p.VerifyCode) != auth.VerifiedPushDigits || p.Prompt.Factors["default"] != "verified_push1" ||
		!strings.Contains(p.Prompt.Text, "verification code "+p.VerifyCode) {
		t.Fatalf("preauth with the policy: %+v %+v", p, p.Prompt)
	}
	res, err := f.svc.Auth(ctx, auth.AuthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}, Factor: "prompt",
		Prompt: "verified_push1", TxID: p.TxID, Async: true})
	if err != nil || res.TxID != p.TxID || res.VerifyCode != p.VerifyCode {
		t.Fatalf("auth: %+v %v", res, err)
	}
	st, err := f.svc.AuthStatus(ctx, f.in, res.TxID)
	if err != nil || st.VerifyCode != p.VerifyCode || st.TrustedDeviceToken != "" {
		t.Errorf("auth_status while waiting: %+v %v", st, err)
	}
	if state, err := f.svc.AnswerPush(ctx, a.Device.ID, res.TxID, auth.PushAnswer{Approve: true, Code: p.VerifyCode}); err != nil || state != store.TxAllow {
		t.Fatalf("answer with the code: %q %v", state, err)
	}
	st, err = f.svc.AuthStatus(ctx, f.in, res.TxID)
	if err != nil || st.Result != auth.ResultAllow || st.TrustedDeviceToken == "" {
		t.Fatalf("auth_status once approved: %+v %v", st, err)
	}
	again, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}, TrustedDeviceToken: st.TrustedDeviceToken})
	if err != nil || again.Result != auth.ResultAllow {
		t.Errorf("preauth with the token from auth_status: %+v %v", again, err)
	}
}
