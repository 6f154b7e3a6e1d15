package auth_test

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/store/sqlstore"
)

// proofCodeOf reads the 6-digit code of the last message.
func proofCodeOf(t *testing.T, rs *recordingSender) (code, to string) {
	t.Helper()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.sent) == 0 {
		t.Fatal("no sms sent")
	}
	m := rs.sent[len(rs.sent)-1]
	return regexp.MustCompile(`\b[0-9]{6}\b`).FindString(m.text), m.to
}

func TestPhoneProof(t *testing.T) {
	ctx := context.Background()
	wrongCode := func(code string) string {
		if code == "000000" {
			return "000001"
		}
		return "000000"
	}
	tests := []struct {
		name string
		// steps runs after a proof was sent to +44 20 7946 0958 and
		// returns the error of the last confirmation.
		steps   func(t *testing.T, f *fixture, code string) error
		want    error
		devices int
	}{
		{"right code", func(t *testing.T, f *fixture, code string) error {
			_, err := f.svc.ConfirmPhoneProof(ctx, userOf(t, f), " "+code[:3]+" "+code[3:])
			return err
		}, nil, 2},
		{"wrong code", func(t *testing.T, f *fixture, code string) error {
			_, err := f.svc.ConfirmPhoneProof(ctx, userOf(t, f), wrongCode(code))
			return err
		}, auth.ErrPhoneProofWrong, 1},
		{"expired", func(t *testing.T, f *fixture, code string) error {
			f.clock.Advance(auth.PhoneProofValid)
			_, err := f.svc.ConfirmPhoneProof(ctx, userOf(t, f), code)
			return err
		}, auth.ErrPhoneProofGone, 1},
		{"too many attempts, then the right code", func(t *testing.T, f *fixture, code string) error {
			for i := range auth.PhoneProofAttempts {
				_, err := f.svc.ConfirmPhoneProof(ctx, userOf(t, f), wrongCode(code))
				if want := error(auth.ErrPhoneProofWrong); i == auth.PhoneProofAttempts-1 {
					want = auth.ErrPhoneProofGone
					if !errors.Is(err, want) {
						t.Fatalf("try %d: %v, want %v", i, err, want)
					}
				} else if !errors.Is(err, want) {
					t.Fatalf("try %d: %v, want %v", i, err, want)
				}
			}
			_, err := f.svc.ConfirmPhoneProof(ctx, userOf(t, f), code)
			return err
		}, auth.ErrPhoneProofGone, 1},
		{"used once", func(t *testing.T, f *fixture, code string) error {
			if _, err := f.svc.ConfirmPhoneProof(ctx, userOf(t, f), code); err != nil {
				t.Fatal(err)
			}
			_, err := f.svc.ConfirmPhoneProof(ctx, userOf(t, f), code)
			return err
		}, auth.ErrPhoneProofGone, 2},
		{"a new code replaces the first", func(t *testing.T, f *fixture, code string) error {
			if _, err := f.svc.SendPhoneProof(ctx, userOf(t, f), "+442079460958", "", ""); err != nil {
				t.Fatal(err)
			}
			_, err := f.svc.ConfirmPhoneProof(ctx, userOf(t, f), code)
			if err == nil {
				return nil // the new code happened to be the same
			}
			return err
		}, auth.ErrPhoneProofWrong, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, rs, u, _ := smsFixture(t, auth.SMSOptions{})
			sent, err := f.svc.SendPhoneProof(ctx, u.ID, "+44 20 7946 0958", "", "Desk")
			if err != nil {
				t.Fatal(err)
			}
			if sent.Masked != "XXX-XXX-0958" || !sent.Expires.Equal(f.clock.Now().Add(auth.PhoneProofValid)) {
				t.Errorf("sent = %+v", sent)
			}
			code, to := proofCodeOf(t, rs)
			if to != "+442079460958" || len(code) != 6 {
				t.Fatalf("message to %q, code %q", to, code)
			}
			err = tc.steps(t, f, code)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			devs, err := f.st.ListDevices(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(devs) != tc.devices {
				t.Fatalf("%d devices, want %d", len(devs), tc.devices)
			}
			if tc.devices == 2 {
				d := devs[0]
				if d.Number != "+442079460958" {
					d = devs[1]
				}
				if d.Number != "+442079460958" || d.Name != "Desk" || d.PublicKey != "" {
					t.Errorf("new phone: %+v", d)
				}
				// The new phone receives SMS passcodes.
				res, err := f.svc.Auth(ctx, auth.AuthRequest{Request: auth.Request{Integration: f.in, Username: "alice"},
					Factor: auth.FactorSMS, Device: d.ID})
				if err != nil || res.Status != "sent" {
					t.Errorf("factor=sms to the new phone: %+v, %v", res, err)
				}
				// Made the default in the portal, it offers the passcode
				// field first (not a push it cannot take).
				if err := f.svc.SetDefaultMethod(ctx, u.ID, d.ID); err != nil {
					t.Fatal(err)
				}
				if m := f.svc.LastMethod(ctx, u.ID); m != auth.FactorPasscode {
					t.Errorf("LastMethod with the number as default = %q", m)
				}
			}
			logs, err := f.st.ListTelephonyLog(ctx, time.Time{}, time.Time{}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(logs) == 0 || logs[0].Context != auth.TelephonyEnrollment || logs[0].Phone != "XXX-XXX-0958" ||
				logs[0].Status != auth.TelephonySent || logs[0].UserID != u.ID {
				t.Errorf("telephony log: %+v", logs)
			}
		})
	}
}

func userOf(t *testing.T, f *fixture) string {
	t.Helper()
	u, err := f.st.GetUserByUsername(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func TestSendPhoneProofRefusals(t *testing.T) {
	ctx := context.Background()
	f, rs, u, _ := smsFixture(t, auth.SMSOptions{PerUser: ratelimit.Limit{Burst: 2, Every: time.Hour}})
	tests := []struct {
		name, number, ext string
		ok                bool
		kind              auth.Kind
		detail            string
	}{
		{"no number", "", "", false, auth.KindInvalid, "Enter the phone number"},
		{"not a number", "+44 abc", "", false, auth.KindInvalid, "must be a phone number"},
		{"bad extension", "+442079460958", "12a", false, auth.KindInvalid, "extension"},
		{"already a phone", "+1 (555) 555-0123", "", false, auth.KindInvalid, "already one of your phones"},
		{"allowed", "+442079460958", "", true, 0, ""},
		{"allowed again", "+442079460959", "", true, 0, ""},
		{"per-user SMS limit", "+442079460957", "", false, auth.KindRateLimited, "too many SMS"},
	}
	for _, tc := range tests {
		_, err := f.svc.SendPhoneProof(ctx, u.ID, tc.number, tc.ext, "")
		if tc.ok {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if !auth.IsKind(err, tc.kind) || !strings.Contains(err.Error(), tc.detail) {
			t.Errorf("%s: err = %v, want kind %d containing %q", tc.name, err, tc.kind, tc.detail)
		}
	}
	if rs.count() != 2 {
		t.Errorf("%d messages sent, want 2", rs.count())
	}

	// Without an SMS provider nothing is offered or sent.
	nf := newFixture(t, auth.Options{})
	nu := nf.user(t, "bob", store.StatusActive)
	if nf.svc.SMSEnabled() {
		t.Error("SMSEnabled without a sender")
	}
	if _, err := nf.svc.SendPhoneProof(ctx, nu.ID, "+442079460958", "", ""); !auth.IsKind(err, auth.KindInvalid) {
		t.Errorf("without SMS: %v", err)
	}

	// A failed delivery stores no proof and logs a failed row.
	rs.fail = errors.New("gateway down")
	f2, rs2, u2, _ := smsFixture(t, auth.SMSOptions{})
	rs2.fail = errors.New("gateway down")
	if _, err := f2.svc.SendPhoneProof(ctx, u2.ID, "+442079460958", "", ""); err == nil || auth.IsKind(err, auth.KindInvalid) {
		t.Errorf("failed delivery: %v", err)
	}
	if _, err := f2.svc.PendingPhoneProof(ctx, u2.ID); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("a proof after a failed delivery: %v", err)
	}
	logs, _ := f2.st.ListTelephonyLog(ctx, time.Time{}, time.Time{}, 0)
	if len(logs) != 1 || logs[0].Status != auth.TelephonyFailed || logs[0].Context != auth.TelephonyEnrollment {
		t.Errorf("telephony log after a failure: %+v", logs)
	}
}

// FuzzConfirmPhoneProof: whatever a user types for the code, a wrong one
// never adds a phone and is refused as ErrPhoneProofWrong or, after the
// last try, ErrPhoneProofGone.
func FuzzConfirmPhoneProof(f *testing.F) {
	for _, s := range []string{"", "000000", " 12 34 56 ", "\x00", "１２３４５６", "1234567", strings.Repeat("9", 100)} {
		f.Add(s)
	}
	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(f.TempDir(), "assent.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	rs := &recordingSender{}
	fx := newFixtureWith(f, st, auth.Options{SMS: auth.SMSOptions{Sender: rs}})
	u, err := fx.svc.CreateUser(ctx, "alice")
	if err != nil {
		f.Fatal(err)
	}
	if _, err := fx.svc.AddNumberPhone(ctx, "alice", "+15555550123", "", ""); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, typed string) {
		if _, err := fx.svc.SendPhoneProof(ctx, u.ID, "+442079460958", "", ""); err != nil {
			t.Fatal(err)
		}
		code, _ := proofCodeOf(t, rs)
		_, err := fx.svc.ConfirmPhoneProof(ctx, u.ID, typed)
		if strings.Join(strings.Fields(typed), "") == code {
			if err != nil {
				t.Fatalf("the right code %q refused: %v", typed, err)
			}
			return
		}
		if !errors.Is(err, auth.ErrPhoneProofWrong) {
			t.Fatalf("code %q: %v, want ErrPhoneProofWrong", typed, err)
		}
		devs, err := fx.st.ListDevices(ctx, u.ID)
		if err != nil || len(devs) != 1 {
			t.Fatalf("devices after a wrong code: %+v %v", devs, err)
		}
	})
}
