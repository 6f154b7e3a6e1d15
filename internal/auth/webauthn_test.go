package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/webauthnrp"
	"github.com/assent-auth/assent/internal/webauthnrp/webauthntest"
)

const (
	waHost   = "assent.example:8443"
	waOrigin = "https://assent.example:8443"
)

func newWebAuthnFixture(t *testing.T, opts auth.Options) *fixture {
	t.Helper()
	rp, err := webauthnrp.New(webauthnrp.Settings{Hostname: waHost})
	if err != nil {
		t.Fatal(err)
	}
	opts.WebAuthn = rp
	return newFixture(t, opts)
}

// register adds a's credential for username through the core.
func register(t *testing.T, f *fixture, username, name string, a *webauthntest.Authenticator) store.WebAuthnCredential {
	t.Helper()
	ctx := context.Background()
	c, err := f.svc.BeginWebAuthnRegistration(ctx, auth.WebAuthnRegistrationRequest{Username: username})
	if err != nil {
		t.Fatalf("BeginWebAuthnRegistration: %v", err)
	}
	resp, err := a.Create(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := f.svc.FinishWebAuthnRegistration(ctx, auth.WebAuthnRegistration{UserID: c.UserID, Name: name, Session: c.Session, Response: resp})
	if err != nil {
		t.Fatalf("FinishWebAuthnRegistration: %v", err)
	}
	return cred
}

// login runs a login ceremony answered by a.
func login(t *testing.T, f *fixture, username string, a *webauthntest.Authenticator, topOrigin string) (auth.WebAuthnResult, error) {
	t.Helper()
	ctx := context.Background()
	req := auth.Request{Integration: f.in, Username: username, IP: "192.0.2.7"}
	c, err := f.svc.BeginWebAuthnLogin(ctx, req, topOrigin)
	if err != nil {
		t.Fatalf("BeginWebAuthnLogin: %v", err)
	}
	resp, err := a.Get(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	return f.svc.WebAuthnLogin(ctx, auth.WebAuthnLoginRequest{Request: req, Session: c.Session, Challenge: c.Challenge, Response: resp, TopOrigin: topOrigin})
}

func lastLog(t *testing.T, f *fixture) store.AuthLog {
	t.Helper()
	l, err := f.st.ListAuthLog(context.Background(), store.AuthLogFilter{Limit: 1})
	if err != nil || len(l) != 1 {
		t.Fatalf("auth log: %v, %d rows", err, len(l))
	}
	return l[0]
}

func TestWebAuthnRegisterAndLogin(t *testing.T) {
	f := newWebAuthnFixture(t, auth.Options{})
	ctx := context.Background()
	key := webauthntest.New(waOrigin)
	key.Counter = 10
	cred := register(t, f, "alice", "  YubiKey 5  ", key)
	if cred.Name != "YubiKey 5" || string(cred.CredentialID) != string(key.CredentialID()) || cred.SignCount != 10 ||
		cred.AttestationType != "none" || len(cred.Transports) != 1 || cred.Transports[0] != "usb" {
		t.Errorf("registered %+v", cred)
	}

	// The prompt (Browser) sees the key; the Auth API does not offer it.
	u, err := f.svc.User(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	pre, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}, Browser: true})
	if err != nil || pre.Result != auth.ResultAuth || len(pre.Devices) != 1 || pre.Devices[0].Type != auth.DeviceWebAuthn || pre.Devices[0].ID != cred.ID {
		t.Errorf("browser preauth: %+v, %v", pre, err)
	}
	pre, err = f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}})
	if err != nil || pre.Result != auth.ResultAuth || len(pre.Devices) != 0 {
		t.Errorf("Auth API preauth of a user with only a security key: %+v, %v", pre, err)
	}

	res, err := login(t, f, "alice", key, "")
	if err != nil || res.Result != auth.ResultAllow || res.Credential.ID != cred.ID {
		t.Fatalf("login: %+v, %v", res, err)
	}
	l := lastLog(t, f)
	if l.Factor != auth.FactorWebAuthn || l.Device != cred.ID || l.Result != auth.ResultAllow || l.Reason != auth.ReasonValidWebAuthn ||
		l.UserID != u.ID || l.TxID != res.TxID || l.IP != "192.0.2.7" {
		t.Errorf("auth log %+v", l)
	}
	got, err := f.st.GetWebAuthnCredential(ctx, cred.ID)
	if err != nil || got.SignCount != 11 || got.LastUsed.IsZero() {
		t.Errorf("after login: %+v, %v", got, err)
	}
	if m := f.svc.LastMethod(ctx, u.ID); m != auth.FactorWebAuthn {
		t.Errorf("LastMethod = %q", m)
	}

	// Several keys per user, each named.
	key2 := webauthntest.New(waOrigin)
	register(t, f, "alice", "", key2)
	list, _ := f.svc.WebAuthnCredentials(ctx, u.ID)
	names := map[string]bool{}
	for _, c := range list {
		names[c.Name] = true
	}
	if len(list) != 2 || !names[auth.DefaultWebAuthnName] || !names["YubiKey 5"] {
		t.Errorf("credentials %+v", list)
	}
	if res, err := login(t, f, "alice", key2, ""); err != nil || res.Result != auth.ResultAllow {
		t.Errorf("login with the second key: %+v, %v", res, err)
	}
	// The same key cannot be registered twice.
	c, _ := f.svc.BeginWebAuthnRegistration(ctx, auth.WebAuthnRegistrationRequest{Username: "alice"})
	resp, _ := key.Create(c.Options)
	if _, err := f.svc.FinishWebAuthnRegistration(ctx, auth.WebAuthnRegistration{UserID: c.UserID, Session: c.Session, Response: resp}); !auth.IsKind(err, auth.KindConflict) {
		t.Errorf("registering a key twice: %v", err)
	}
}

func TestWebAuthnRefusals(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		setup  func(k *webauthntest.Authenticator) *webauthntest.Authenticator // the key that answers
		reason string
	}{
		{"unregistered key", func(*webauthntest.Authenticator) *webauthntest.Authenticator { return webauthntest.New(waOrigin) }, auth.ReasonInvalidWebAuthn},
		{"counter not increasing", func(k *webauthntest.Authenticator) *webauthntest.Authenticator {
			k.StepCounter = 0 // answers with the stored counter again
			return k
		}, auth.ReasonWebAuthnCounter},
		{"counter going back", func(k *webauthntest.Authenticator) *webauthntest.Authenticator {
			k.Counter -= 3
			return k
		}, auth.ReasonWebAuthnCounter},
		{"another origin", func(k *webauthntest.Authenticator) *webauthntest.Authenticator {
			k.Origin = "https://evil.example"
			return k
		}, auth.ReasonInvalidWebAuthn},
		{"user not present", func(k *webauthntest.Authenticator) *webauthntest.Authenticator {
			k.Flags = webauthntest.FlagUV
			return k
		}, auth.ReasonInvalidWebAuthn},
		{"framed without a known parent", func(k *webauthntest.Authenticator) *webauthntest.Authenticator {
			k.TopOrigin = "https://evil.example"
			return k
		}, auth.ReasonInvalidWebAuthn},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newWebAuthnFixture(t, auth.Options{})
			key := webauthntest.New(waOrigin)
			key.Counter = 5
			register(t, f, "bob", "k", key)
			res, err := login(t, f, "bob", tc.setup(key), "")
			if err != nil || res.Result != auth.ResultDeny {
				t.Fatalf("login: %+v, %v; want deny", res, err)
			}
			l := lastLog(t, f)
			if l.Factor != auth.FactorWebAuthn || l.Result != auth.ResultDeny || l.Reason != tc.reason {
				t.Errorf("auth log %+v, want reason %s", l, tc.reason)
			}
			u, _ := f.svc.User(ctx, "bob")
			if u.FailedAttempts != 1 {
				t.Errorf("failed attempts %d, want 1", u.FailedAttempts)
			}
		})
	}
}

// A passkey without a counter (0 → 0) logs in every time; each challenge
// is accepted once, so its assertion cannot be replayed.
func TestWebAuthnCounterlessAndReplay(t *testing.T) {
	f := newWebAuthnFixture(t, auth.Options{})
	ctx := context.Background()
	key := webauthntest.New(waOrigin)
	key.StepCounter = 0
	register(t, f, "carol", "passkey", key)
	for i := range 2 {
		if res, err := login(t, f, "carol", key, ""); err != nil || res.Result != auth.ResultAllow {
			t.Fatalf("login %d: %+v, %v", i, res, err)
		}
	}
	req := auth.Request{Integration: f.in, Username: "carol"}
	c, err := f.svc.BeginWebAuthnLogin(ctx, req, "")
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := key.Get(c.Options)
	lr := auth.WebAuthnLoginRequest{Request: req, Session: c.Session, Challenge: c.Challenge, Response: resp}
	if res, err := f.svc.WebAuthnLogin(ctx, lr); err != nil || res.Result != auth.ResultAllow {
		t.Fatalf("login: %+v, %v", res, err)
	}
	if _, err := f.svc.WebAuthnLogin(ctx, lr); !auth.IsKind(err, auth.KindInvalid) {
		t.Errorf("replayed assertion: %v, want KindInvalid", err)
	}
}

// The Web SDK frame is a cross-origin iframe: its ceremony names the
// parent page, which must be the one the prompt was started for.
func TestWebAuthnFramed(t *testing.T) {
	f := newWebAuthnFixture(t, auth.Options{})
	key := webauthntest.New(waOrigin)
	register(t, f, "dave", "k", key)
	key.TopOrigin = "https://app.example"
	if res, err := login(t, f, "dave", key, "https://app.example"); err != nil || res.Result != auth.ResultAllow {
		t.Errorf("framed by the parent: %+v, %v", res, err)
	}
	if res, err := login(t, f, "dave", key, "https://other.example"); err != nil || res.Result != auth.ResultDeny {
		t.Errorf("framed by another page: %+v, %v; want deny", res, err)
	}
}

func TestWebAuthnLockoutAndRateLimit(t *testing.T) {
	ctx := context.Background()
	f := newWebAuthnFixture(t, auth.Options{LockoutThreshold: 2,
		Limits: auth.Limits{PasscodeFailuresPerUser: ratelimit.Limit{Every: 10 * time.Minute, Burst: 5}}})
	key := webauthntest.New(waOrigin)
	register(t, f, "erin", "k", key)
	other := webauthntest.New(waOrigin)
	for i := range 2 {
		if res, err := login(t, f, "erin", other, ""); err != nil || res.Result != auth.ResultDeny {
			t.Fatalf("failure %d: %+v, %v", i, res, err)
		}
	}
	if u, _ := f.svc.User(ctx, "erin"); u.Status != store.StatusLockedOut {
		t.Errorf("status %q after 2 failures, want locked out", u.Status)
	}
	res, err := login(t, f, "erin", key, "")
	if err != nil || res.Status != "locked_out" {
		t.Errorf("right key of a locked-out user: %+v, %v", res, err)
	}

	g := newWebAuthnFixture(t, auth.Options{LockoutThreshold: -1,
		Limits: auth.Limits{PasscodeFailuresPerUser: ratelimit.Limit{Every: 10 * time.Minute, Burst: 1}}})
	key = webauthntest.New(waOrigin)
	register(t, g, "frank", "k", key)
	if res, err := login(t, g, "frank", webauthntest.New(waOrigin), ""); err != nil || res.Result != auth.ResultDeny {
		t.Fatalf("first failure: %+v, %v", res, err)
	}
	if _, err := login(t, g, "frank", key, ""); !auth.IsKind(err, auth.KindRateLimited) {
		t.Errorf("after the user's failure budget: %v, want KindRateLimited (the right key too)", err)
	}
	if l := lastLog(t, g); l.Reason != auth.ReasonRateLimited || l.Factor != auth.FactorWebAuthn {
		t.Errorf("auth log %+v", l)
	}
}

func TestCheckWebAuthnName(t *testing.T) {
	long := ""
	for range 65 {
		long += "x"
	}
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"", auth.DefaultWebAuthnName, true},
		{" Touch ID ", "Touch ID", true},
		{"Clé 🔑", "Clé 🔑", true},
		{long, "", false},
		{"a\nb", "", false},
	} {
		got, err := auth.CheckWebAuthnName(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("CheckWebAuthnName(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func TestWebAuthnOff(t *testing.T) {
	f := newFixture(t, auth.Options{})
	if f.svc.WebAuthnEnabled() {
		t.Fatal("enabled without a relying party")
	}
	if _, err := f.svc.BeginWebAuthnRegistration(context.Background(), auth.WebAuthnRegistrationRequest{Username: "x"}); !auth.IsKind(err, auth.KindInvalid) {
		t.Errorf("BeginWebAuthnRegistration without a relying party: %v", err)
	}
}

func TestRemoveWebAuthnCredential(t *testing.T) {
	f := newWebAuthnFixture(t, auth.Options{})
	ctx := context.Background()
	a := register(t, f, "gina", "a", webauthntest.New(waOrigin))
	register(t, f, "hank", "b", webauthntest.New(waOrigin))
	if err := f.svc.RemoveWebAuthnCredential(ctx, "hank", a.ID); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("removing another user's key: %v", err)
	}
	if err := f.svc.RemoveWebAuthnCredential(ctx, "gina", a.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RemoveWebAuthnCredential(ctx, "gina", a.ID); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("removing it again: %v", err)
	}
	if l, _ := f.svc.WebAuthnCredentials(ctx, a.UserID); len(l) != 0 {
		t.Errorf("keys left: %+v", l)
	}
}

// A user whose only method is a security key is enrolled for the Auth API
// too: never sent to enroll (which would let a password holder add a
// phone), never let in by the new-user policy "allow"; a passcode fails.
func TestWebAuthnOnlyUserOverAuthAPI(t *testing.T) {
	ctx := context.Background()
	for _, policy := range []store.NewUserPolicy{store.PolicyEnroll, store.PolicyAllow} {
		t.Run(string(policy), func(t *testing.T) {
			f := newWebAuthnFixture(t, auth.Options{})
			f.in.NewUserPolicy = policy
			register(t, f, "ivy", "k", webauthntest.New(waOrigin))
			req := auth.Request{Integration: f.in, Username: "ivy"}
			pre, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: req})
			if err != nil || pre.Result != auth.ResultAuth || len(pre.Devices) != 0 || pre.EnrollPortalURL != "" {
				t.Errorf("Auth API preauth: %+v, %v; want auth without devices", pre, err)
			}
			res, err := f.svc.Auth(ctx, auth.AuthRequest{Request: req, Factor: auth.FactorPasscode, Passcode: "123456"})
			if err != nil || res.Result != auth.ResultDeny {
				t.Errorf("passcode: %+v, %v; want deny", res, err)
			}
			if _, err := f.svc.Auth(ctx, auth.AuthRequest{Request: req, Factor: auth.FactorPush, Device: "auto"}); err == nil {
				t.Error("push to a user with only a security key was accepted")
			}
		})
	}
}

// Two answers carrying the same counter, decided at once (two tabs, or a
// cloned key): the guarded counter write lets exactly one through; the
// other, decided again, sees the counter not increase.
func TestWebAuthnConcurrentSameCounter(t *testing.T) {
	f := newWebAuthnFixture(t, auth.Options{})
	ctx := context.Background()
	key := webauthntest.New(waOrigin)
	key.Counter = 7
	register(t, f, "jo", "k", key)
	key.Counter, key.StepCounter = 8, 0 // every assertion says 8
	req := auth.Request{Integration: f.in, Username: "jo"}
	var lrs []auth.WebAuthnLoginRequest
	for range 2 {
		c, err := f.svc.BeginWebAuthnLogin(ctx, req, "")
		if err != nil {
			t.Fatal(err)
		}
		resp, _ := key.Get(c.Options)
		lrs = append(lrs, auth.WebAuthnLoginRequest{Request: req, Session: c.Session, Challenge: c.Challenge, Response: resp})
	}
	results := make(chan auth.WebAuthnResult, 2)
	errs := make(chan error, 2)
	for _, lr := range lrs {
		go func() {
			r, err := f.svc.WebAuthnLogin(ctx, lr)
			results <- r
			errs <- err
		}()
	}
	allowed := 0
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		if (<-results).Result == auth.ResultAllow {
			allowed++
		}
	}
	if allowed != 1 {
		t.Errorf("%d of two answers with the same counter allowed, want 1", allowed)
	}
}

func TestWebAuthnPerUserLimit(t *testing.T) {
	f := newWebAuthnFixture(t, auth.Options{})
	for range auth.MaxWebAuthnPerUser {
		register(t, f, "kai", "k", webauthntest.New(waOrigin))
	}
	if _, err := f.svc.BeginWebAuthnRegistration(context.Background(), auth.WebAuthnRegistrationRequest{Username: "kai"}); !auth.IsKind(err, auth.KindInvalid) {
		t.Errorf("key %d: %v, want KindInvalid", auth.MaxWebAuthnPerUser+1, err)
	}
}

// A policy's lockout threshold (here 2, the service's off) applies to
// security-key failures as to passcodes, and its automatic unlock too.
func TestWebAuthnPolicyLockout(t *testing.T) {
	ctx := context.Background()
	f := newWebAuthnFixture(t, auth.Options{LockoutThreshold: -1})
	key := webauthntest.New(waOrigin)
	register(t, f, "gina", "k", key)
	register(t, f, "hugo", "k", webauthntest.New(waOrigin))
	gina, err := f.svc.User(ctx, "gina")
	if err != nil {
		t.Fatal(err)
	}
	staff := f.group(t, "staff", gina.ID)
	f.setPolicy(t, auth.PolicyChange{IKey: f.in.IKey, GroupID: staff.ID, Set: store.PolicySettings{
		LockoutThreshold: ptr(2), LockoutUnlockMinutes: ptr(5)}})
	other := webauthntest.New(waOrigin)
	for i := range 3 { // hugo is outside the group: the service's threshold (off)
		if res, err := login(t, f, "hugo", other, ""); err != nil || res.Result != auth.ResultDeny {
			t.Fatalf("hugo's failure %d: %+v, %v", i, res, err)
		}
	}
	if u, _ := f.svc.User(ctx, "hugo"); u.Status == store.StatusLockedOut {
		t.Error("hugo locked out by a group policy he is not under")
	}
	for i := range 2 {
		if res, err := login(t, f, "gina", other, ""); err != nil || res.Result != auth.ResultDeny {
			t.Fatalf("gina's failure %d: %+v, %v", i, res, err)
		}
	}
	if u, _ := f.svc.User(ctx, "gina"); u.Status != store.StatusLockedOut {
		t.Fatalf("gina's status %q after 2 failures under a policy threshold of 2, want locked out", u.Status)
	}
	if res, err := login(t, f, "gina", key, ""); err != nil || res.Status != "locked_out" {
		t.Errorf("right key while locked out: %+v, %v", res, err)
	}
	f.clock.Advance(6 * time.Minute)
	if res, err := login(t, f, "gina", key, ""); err != nil || res.Result != auth.ResultAllow {
		t.Errorf("right key after the policy's unlock_after: %+v, %v", res, err)
	}
}
