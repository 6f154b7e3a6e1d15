package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base32"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

var testKeyPEM = func() string {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}()

// device enrolls name and activates a device for it.
func (f *fixture) device(t *testing.T, name string) auth.Activation {
	t.Helper()
	ctx := context.Background()
	e, err := f.svc.Enroll(ctx, auth.EnrollRequest{Username: name})
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.svc.Activate(ctx, auth.ActivateRequest{Code: e.ActivationCode, PublicKey: testKeyPEM, Name: "Pixel", Platform: "Android"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func code(t *testing.T, secret string, counter uint64) string {
	t.Helper()
	c, err := hotp.GenerateCodeCustom(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte(secret)), counter,
		hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The HOTP implementation matches RFC 4226 (key = ASCII bytes of the secret).
func TestHOTPVectors(t *testing.T) {
	t.Parallel()
	for i, want := range []string{"755224", "287082", "359152", "969429", "338314"} {
		if got := code(t, "12345678901234567890", uint64(i)); got != want {
			t.Errorf("counter %d: %s, want %s", i, got, want)
		}
	}
}

func TestEnrollAndActivate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{APIHostname: "mfa.example.com:8443"})
	ctx := context.Background()
	e, err := f.svc.Enroll(ctx, auth.EnrollRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Username) != 32 || len(e.Code) != 20 || !strings.HasPrefix(e.UserID, "DU") {
		t.Errorf("enrollment %+v", e)
	}
	host := strings.TrimRight(base64.StdEncoding.EncodeToString([]byte("mfa.example.com:8443")), "=")
	if e.ActivationCode != "duo://"+e.Code+"-"+host {
		t.Errorf("activation code %q", e.ActivationCode)
	}
	if !e.Expires.Equal(f.clock.Now().Add(24 * time.Hour)) {
		t.Errorf("expires %v", e.Expires)
	}
	status := func(code string) string {
		s, err := f.svc.EnrollStatus(ctx, e.UserID, code)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := status(e.ActivationCode); s != auth.EnrollWaiting {
		t.Errorf("before activation: %s", s)
	}
	if s, _ := f.svc.EnrollStatus(ctx, "DUOTHERUSERXXXXXXXXX", e.ActivationCode); s != auth.EnrollInvalid {
		t.Errorf("other user: %s", s)
	}
	for _, bad := range []string{"", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"} {
		if _, err := f.svc.Activate(ctx, auth.ActivateRequest{Code: e.Code, PublicKey: bad}); !auth.IsKind(err, auth.KindInvalid) {
			t.Errorf("pubkey %q: %v", bad, err)
		}
	}
	a, err := f.svc.Activate(ctx, auth.ActivateRequest{Code: e.Code, PublicKey: testKeyPEM, Platform: "Android"})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.HOTPSecret) != 32 || !strings.HasPrefix(a.Device.ID, "DP") || a.Device.UserID != e.UserID || a.AKey == "" || a.CustomerName != "Assent" {
		t.Errorf("activation %+v", a)
	}
	if s := status(e.Code); s != auth.EnrollSuccess {
		t.Errorf("after activation: %s", s)
	}
	if _, err := f.svc.Activate(ctx, auth.ActivateRequest{Code: e.Code, PublicKey: testKeyPEM}); !errors.Is(err, auth.ErrUnknownActivation) {
		t.Errorf("second use of a code: %v", err)
	}
	// Codes expire.
	e2, _ := f.svc.Enroll(ctx, auth.EnrollRequest{Username: e.Username, Valid: time.Minute})
	f.clock.Advance(time.Minute)
	if s := status(e2.ActivationCode); s != auth.EnrollInvalid {
		t.Errorf("expired: %s", s)
	}
	if _, err := f.svc.Activate(ctx, auth.ActivateRequest{Code: e2.Code, PublicKey: testKeyPEM}); !errors.Is(err, auth.ErrUnknownActivation) {
		t.Errorf("expired code activated: %v", err)
	}
	if _, err := f.svc.Enroll(ctx, auth.EnrollRequest{Valid: 31 * 24 * time.Hour}); !auth.IsKind(err, auth.KindInvalid) {
		t.Errorf("valid_secs too long: %v", err)
	}
	// An enrolled user is offered push and a prompt menu.
	res, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: e.Username}, TextPrompt: true})
	if err != nil || res.Result != auth.ResultAuth || len(res.Devices) != 1 {
		t.Fatalf("preauth %+v %v", res, err)
	}
	d := res.Devices[0]
	if d.ID != a.Device.ID || d.Type != "phone" || d.DisplayName != "Android" || strings.Join(d.Capabilities, ",") != "auto,push,mobile_otp" {
		t.Errorf("device %+v", d)
	}
	if res.Prompt.Factors["1"] != "push1" || res.Prompt.Factors["default"] != "push1" ||
		!strings.Contains(res.Prompt.Text, " 1. Duo Push to Android\n") || !strings.HasSuffix(res.Prompt.Text, "Passcode or option (1-1): ") {
		t.Errorf("prompt %q %v", res.Prompt.Text, res.Prompt.Factors)
	}
}

func TestHOTPPasscodes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	a := f.device(t, "alice")
	// The first code works, and never again.
	if r := f.passcode(t, "alice", code(t, a.HOTPSecret, 0)); r.Result != "allow" {
		t.Fatalf("counter 0: %+v", r)
	}
	if r := f.passcode(t, "alice", code(t, a.HOTPSecret, 0)); r.Result != "deny" {
		t.Errorf("reused code: %+v", r)
	}
	// A device ahead of the server within the window is accepted, and spends
	// every earlier code.
	if r := f.passcode(t, "alice", code(t, a.HOTPSecret, 5)); r.Result != "allow" {
		t.Errorf("counter 5: %+v", r)
	}
	if r := f.passcode(t, "alice", code(t, a.HOTPSecret, 3)); r.Result != "deny" {
		t.Errorf("earlier counter after a later one: %+v", r)
	}
	if r := f.passcode(t, "alice", code(t, a.HOTPSecret, 6+10)); r.Result != "deny" {
		t.Errorf("beyond the window: %+v", r)
	}
	l := f.logs(t, a.Device.UserID)
	if l[len(l)-1].Factor != "duo_mobile_passcode" || l[len(l)-1].Device != a.Device.ID {
		t.Errorf("log row %+v", l[len(l)-1])
	}
	d, err := f.st.GetDevice(context.Background(), a.Device.ID)
	if err != nil || d.HOTPCounter != 6 {
		t.Errorf("stored counter %d %v", d.HOTPCounter, err)
	}
}

func (f *fixture) pushReq(name string, async bool) auth.AuthRequest {
	return auth.AuthRequest{Request: auth.Request{Integration: f.in, Username: name, IP: "198.51.100.4"},
		Factor: "push", Device: "auto", Async: async, Type: "Password reset", PushInfo: "from=portal"}
}

// answerWhenPending answers the device's first push once it appears.
func (f *fixture) answerWhenPending(t *testing.T, deviceID string, approve bool) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx := context.Background()
		for i := 0; i < 500; i++ {
			p, err := f.svc.Pending(ctx, deviceID)
			if err != nil {
				done <- err
				return
			}
			if len(p) > 0 {
				done <- f.svc.Answer(ctx, deviceID, p[0].ID, approve)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		done <- errors.New("no push arrived")
	}()
	return done
}

func TestSyncPush(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		approve bool
		result  string
		status  string
		msg     string
	}{
		{true, "allow", "allow", "Success. Logging you in..."},
		{false, "deny", "deny", "Login request denied."},
	} {
		f := newFixture(t, auth.Options{})
		a := f.device(t, "alice")
		done := f.answerWhenPending(t, a.Device.ID, tc.approve)
		res, err := f.svc.Auth(context.Background(), f.pushReq("alice", false))
		if err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if res.Result != tc.result || res.Status != tc.status || res.StatusMsg != tc.msg {
			t.Errorf("approve=%v: %+v", tc.approve, res)
		}
		l := f.logs(t, a.Device.UserID)
		if len(l) != 1 || l[0].Factor != "duo_push" || l[0].Result != tc.result || l[0].Device != a.Device.ID || l[0].IP != "198.51.100.4" || l[0].TxID != res.TxID {
			t.Errorf("auth log %+v", l)
		}
	}
}

func TestPushTimeoutAndAsync(t *testing.T) {
	t.Parallel()
	// Timeouts are judged against real waits here.
	f := newFixture(t, auth.Options{PushTimeout: time.Second, Now: time.Now})
	ctx := context.Background()
	a := f.device(t, "alice")

	// Nobody answers a synchronous push: it times out.
	res, err := f.svc.Auth(ctx, f.pushReq("alice", false))
	if err != nil {
		t.Fatal(err)
	}
	if res.Result != "deny" || res.Status != "timeout" || res.StatusMsg != "Login timed out." {
		t.Errorf("timeout: %+v", res)
	}
	if p, _ := f.svc.Pending(ctx, a.Device.ID); len(p) != 0 {
		t.Errorf("timed-out push still pending: %+v", p)
	}
	if err := f.svc.Answer(ctx, a.Device.ID, res.TxID, true); !errors.Is(err, auth.ErrAlreadyAnswered) {
		t.Errorf("answer after timeout: %v", err)
	}

	// Async: a txid at once, auth_status waits for the answer.
	res, err = f.svc.Auth(ctx, f.pushReq("alice", true))
	if err != nil || res.TxID == "" || res.Result != "" {
		t.Fatalf("async: %+v %v", res, err)
	}
	p, err := f.svc.Pending(ctx, a.Device.ID)
	if err != nil || len(p) != 1 || p[0].ID != res.TxID || p[0].Username != "alice" || p[0].IntegrationName != "test" ||
		p[0].Type != "Password reset" || p[0].PushInfo != "from=portal" {
		t.Fatalf("pending %+v %v", p, err)
	}
	other, _, _ := f.svc.CreateIntegration(ctx, auth.NewIntegration{Name: "other", Type: store.TypeAuthAPI})
	if _, err := f.svc.AuthStatus(ctx, other, res.TxID); !auth.IsKind(err, auth.KindInvalid) {
		t.Errorf("another integration's txid: %v", err)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		if err := f.svc.Answer(ctx, a.Device.ID, res.TxID, true); err != nil {
			t.Error(err)
		}
	}()
	start := time.Now()
	st, err := f.svc.AuthStatus(ctx, f.in, res.TxID)
	if err != nil || st.Result != "allow" || st.Status != "allow" {
		t.Errorf("auth_status: %+v %v", st, err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("auth_status did not wake on the answer")
	}
	if err := f.svc.Answer(ctx, a.Device.ID, res.TxID, false); !errors.Is(err, auth.ErrAlreadyAnswered) {
		t.Errorf("second answer: %v", err)
	}
	if err := f.svc.Answer(ctx, "DPOTHERXXXXXXXXXXXXX", res.TxID, true); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("another device's answer: %v", err)
	}

	// Async passcode decisions are reported by auth_status too.
	codes := f.codes(t, "alice", auth.NewBypassCodes{Count: 1})
	res, err = f.svc.Auth(ctx, auth.AuthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}, Factor: "passcode", Passcode: codes[0], Async: true})
	if err != nil || res.TxID == "" {
		t.Fatalf("async passcode: %+v %v", res, err)
	}
	if st, err := f.svc.AuthStatus(ctx, f.in, res.TxID); err != nil || st.Result != "allow" {
		t.Errorf("async passcode status: %+v %v", st, err)
	}
}

func TestPushDeviceChoice(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	ctx := context.Background()
	first := f.device(t, "alice")
	f.clock.Advance(time.Second) // devices are listed in the order they were added
	second := f.device(t, "alice")
	for _, tc := range []struct {
		name   string
		req    auth.AuthRequest
		device string
		err    error
	}{
		{"auto picks the first", auth.AuthRequest{Factor: "push", Device: "auto"}, first.Device.ID, nil},
		{"by id", auth.AuthRequest{Factor: "push", Device: second.Device.ID}, second.Device.ID, nil},
		{"prompt push2", auth.AuthRequest{Factor: "prompt", Prompt: "push2"}, second.Device.ID, nil},
		{"prompt push3", auth.AuthRequest{Factor: "prompt", Prompt: "push3"}, "", auth.ErrNoCapableDevice},
		{"unknown id", auth.AuthRequest{Factor: "push", Device: "DPNOPEXXXXXXXXXXXXXX"}, "", auth.ErrNoCapableDevice},
		{"phone", auth.AuthRequest{Factor: "phone", Device: "auto"}, "", auth.ErrNoCapableDevice},
		{"sms", auth.AuthRequest{Factor: "prompt", Prompt: "sms1"}, "", auth.ErrNoCapableDevice},
	} {
		tc.req.Request = auth.Request{Integration: f.in, Username: "alice"}
		tc.req.Async = true
		res, err := f.svc.Auth(ctx, tc.req)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		p, _ := f.svc.Pending(ctx, tc.device)
		found := false
		for _, x := range p {
			found = found || x.ID == res.TxID
		}
		if !found {
			t.Errorf("%s: push not pending on %s", tc.name, tc.device)
		}
	}
	if _, err := f.svc.Auth(ctx, auth.AuthRequest{Request: auth.Request{Integration: f.in, Username: "alice"}, Factor: "push",
		PushInfo: strings.Repeat("x", 20001)}); !auth.IsKind(err, auth.KindInvalid) {
		t.Errorf("oversized pushinfo: %v", err)
	}
}

// A waiting request gives up when its caller goes away.
func TestPushWaitCanceled(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	f.device(t, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := f.svc.Auth(ctx, f.pushReq("alice", false)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v, want deadline exceeded", err)
	}
}

// DeviceKey writes nothing (the request it serves is not yet
// authenticated); DeviceSeen records the time, at most once a minute.
func TestDeviceSeen(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	ctx := context.Background()
	a := f.device(t, "alice")
	lastSeen := func() time.Time {
		t.Helper()
		d, err := f.st.GetDevice(ctx, a.Device.ID)
		if err != nil {
			t.Fatal(err)
		}
		return d.LastSeen
	}
	start := lastSeen()
	f.clock.Advance(2 * time.Minute)
	d, _, err := f.svc.DeviceKey(ctx, a.Device.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := lastSeen(); !got.Equal(start) {
		t.Fatalf("DeviceKey changed last seen from %v to %v", start, got)
	}
	f.svc.DeviceSeen(ctx, d)
	seen := lastSeen()
	if !seen.Equal(f.clock.Now().Truncate(time.Second)) {
		t.Fatalf("after DeviceSeen: last seen %v, want %v", seen, f.clock.Now())
	}
	f.clock.Advance(30 * time.Second)
	d, _, _ = f.svc.DeviceKey(ctx, a.Device.ID)
	f.svc.DeviceSeen(ctx, d)
	if got := lastSeen(); !got.Equal(seen) {
		t.Fatalf("DeviceSeen within a minute wrote again: %v, want %v", got, seen)
	}
}
