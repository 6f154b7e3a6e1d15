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

func sp(s string) *string { return &s }

func TestAddPhoneValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		f      auth.PhoneFields
		params []string // "" for success
	}{
		{"defaults", auth.PhoneFields{}, nil},
		{"duo's values in any case", auth.PhoneFields{Type: sp("MOBILE"), Platform: sp("apple ios"), Number: sp("555-555-0100"), Extension: sp("12")}, nil},
		{"unknown platform", auth.PhoneFields{Platform: sp("nokia")}, []string{"platform"}},
		{"letters in the number", auth.PhoneFields{Number: sp("+1555CALLME")}, []string{"number"}},
		{"unheard-of type", auth.PhoneFields{Type: sp("pager")}, []string{"type"}},
		{"every problem at once", auth.PhoneFields{Type: sp("pager"), Extension: sp("x1"), Predelay: sp("-1"), Postdelay: sp("soon"),
			Name: sp(strings.Repeat("n", 65))}, []string{"name", "type", "extension", "predelay", "postdelay"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := f.svc.AddPhone(ctx, tc.f)
			if tc.params == nil {
				if err != nil {
					t.Fatalf("AddPhone: %v", err)
				}
				if !strings.HasPrefix(p.ID, "DP") || len(p.ID) != 20 || p.Activated || p.Type != "Mobile" {
					t.Errorf("phone %+v", p)
				}
				return
			}
			for _, param := range tc.params {
				if err == nil || !strings.Contains(err.Error(), param+":") {
					t.Errorf("AddPhone error %v does not name %s", err, param)
				}
			}
			if !auth.IsKind(err, auth.KindInvalid) {
				t.Errorf("AddPhone error %v, want invalid", err)
			}
		})
	}
	p, err := f.svc.AddPhone(ctx, auth.PhoneFields{Number: sp("555 555 0100"), Platform: sp("Google Android")})
	if err != nil {
		t.Fatal(err)
	}
	if p.Number != "+15555550100" || p.Platform != "Google Android" {
		t.Errorf("number %q platform %q, want Duo's normalization", p.Number, p.Platform)
	}
	found, total, err := f.svc.Phones(ctx, auth.PhoneQuery{Number: "+1 555 555 0100", Limit: 10})
	if err != nil || total != 2 || len(found) != 2 {
		t.Errorf("phones by number: %d of %d, %v; want both numbered phones", len(found), total, err)
	}
}

// TestPhoneLifecycle: a phone created before activation keeps its ID (and
// name) through activation; it is reactivated under the same ID; codes of a
// deleted phone stop working; every change has its administrator-log row.
func TestPhoneLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{APIHostname: "mfa.example.com"})
	ctx := auth.WithActor(context.Background(), auth.Actor{Who: "integration:DITEST", IP: "192.0.2.1"})
	alice := f.user(t, "alice", store.StatusActive)
	bob := f.user(t, "bob", store.StatusActive)
	p, err := f.svc.AddPhone(ctx, auth.PhoneFields{Name: sp("desk"), Platform: sp("google android")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.PhoneActivation(ctx, p.ID, 0); !auth.IsKind(err, auth.KindInvalid) {
		t.Errorf("activation of a phone without a user: %v, want invalid", err)
	}
	if _, err = f.svc.ModifyPhone(ctx, p.ID, auth.PhoneFields{Name: sp("alice's phone"), Number: sp("+15555550100")}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.AddUserPhone(ctx, alice.ID, p.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.AddUserPhone(ctx, alice.ID, p.ID); err != nil {
		t.Errorf("associating the user's own phone again: %v", err)
	}
	if err := f.svc.AddUserPhone(ctx, bob.ID, p.ID); !auth.IsKind(err, auth.KindInvalid) {
		t.Errorf("associating alice's phone with bob: %v, want invalid", err)
	}
	phones, err := f.svc.UserPhones(ctx, "alice")
	if err != nil || len(phones) != 1 || phones[0].ID != p.ID || phones[0].Activated {
		t.Fatalf("alice's phones %+v %v, want the pending one", phones, err)
	}
	en, err := f.svc.PhoneActivation(ctx, p.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if en.UserID != alice.ID || !strings.HasPrefix(en.ActivationCode, "duo://"+en.Code+"-") {
		t.Errorf("enrollment %+v", en)
	}
	a, err := f.svc.Activate(ctx, auth.ActivateRequest{Code: en.ActivationCode, PublicKey: testKeyPEM, Name: "Pixel 8", Platform: "Android"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Device.ID != p.ID || a.Device.UserID != alice.ID || a.Device.Name != "alice's phone" {
		t.Errorf("activated device %+v, want phone %s named by the administrator", a.Device, p.ID)
	}
	got, err := f.svc.Phone(ctx, p.ID)
	if err != nil || !got.Activated || got.Number != "+15555550100" {
		t.Errorf("phone after activation %+v %v", got, err)
	}
	// The HOTP secret is sealed for the device's (the phone's) ID.
	if res := f.passcode(t, "alice", code(t, a.HOTPSecret, 0)); res.Result != auth.ResultAllow {
		t.Errorf("passcode of the activated phone: %+v", res)
	}
	// The number carries over to the device, and can change (SMS passcodes).
	if got, err := f.svc.ModifyPhone(ctx, p.ID, auth.PhoneFields{Number: sp("+15555550101")}); err != nil || got.Number != "+15555550101" {
		t.Errorf("a new number for an activated phone: %+v, %v", got, err)
	}
	if _, err := f.svc.ModifyPhone(ctx, p.ID, auth.PhoneFields{Platform: sp("apple ios")}); !auth.IsKind(err, auth.KindInvalid) {
		t.Errorf("a platform for an activated phone: %v, want invalid", err)
	}
	if _, err := f.svc.ModifyPhone(ctx, p.ID, auth.PhoneFields{Name: sp("renamed"), Type: sp("mobile")}); err != nil {
		t.Errorf("renaming an activated phone: %v", err)
	}

	// Reactivation: the new device takes the ID (and name), the old secret stops.
	en2, err := f.svc.PhoneActivation(ctx, p.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := f.svc.Activate(ctx, auth.ActivateRequest{Code: en2.Code, PublicKey: testKeyPEM, Platform: "iOS"})
	if err != nil {
		t.Fatal(err)
	}
	if a2.Device.ID != p.ID || a2.Device.Name != "renamed" || a2.Device.Platform != "iOS" {
		t.Errorf("reactivated device %+v", a2.Device)
	}
	if res := f.passcode(t, "alice", code(t, a.HOTPSecret, 1)); res.Result != auth.ResultDeny {
		t.Errorf("passcode of the replaced device: %+v, want deny", res)
	}
	if res := f.passcode(t, "alice", code(t, a2.HOTPSecret, 0)); res.Result != auth.ResultAllow {
		t.Errorf("passcode of the reactivated device: %+v", res)
	}
	devices, _ := f.svc.Devices(ctx, "alice")
	if len(devices) != 1 {
		t.Errorf("alice has %d devices after reactivation, want 1", len(devices))
	}

	// A code for a phone deleted since does not activate.
	q, _ := f.svc.AddPhone(ctx, auth.PhoneFields{})
	if err := f.svc.AddUserPhone(ctx, "bob", q.ID); err != nil {
		t.Fatal(err)
	}
	en3, err := f.svc.PhoneActivation(ctx, q.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RemovePhone(ctx, alice.ID, q.ID); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("removing bob's phone as alice's: %v, want not found", err)
	}
	if err := f.svc.RemovePhone(ctx, "", q.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Activate(ctx, auth.ActivateRequest{Code: en3.Code, PublicKey: testKeyPEM}); !errors.Is(err, auth.ErrUnknownActivation) {
		t.Errorf("activating a deleted phone: %v, want unknown activation", err)
	}

	logs, err := f.st.ListAdminLog(ctx, time.Time{}, f.clock.Now().Add(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, l := range logs {
		if strings.HasPrefix(l.Action, "phone_") {
			actions = append(actions, l.Action)
		}
	}
	want := "phone_create phone_update phone_associate phone_activation_url phone_update phone_update phone_activation_url phone_create phone_associate phone_activation_url phone_delete"
	if strings.Join(actions, " ") != want {
		t.Errorf("administrator log %v, want %s", actions, want)
	}
}

// TestVerificationPush: an identity check reaches the device with its code
// and help-desk text, answers approve, deny (also for a wrong code), fraud
// or timeout, is never a login, and is sent to disabled users too.
func TestVerificationPush(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{PushTimeout: time.Minute, FraudLockout: true})
	ctx := context.Background()
	admin, _, err := f.svc.CreateIntegration(ctx, auth.NewIntegration{Name: "Help desk", Type: store.TypeAdminAPI})
	if err != nil {
		t.Fatal(err)
	}
	a := f.device(t, "alice")
	alice, _ := f.svc.SetUserStatus(ctx, "alice", store.StatusDisabled)
	other := f.device(t, "bob")

	if _, err := f.svc.SendVerificationPush(ctx, admin, "alice", other.Device.ID); !auth.IsKind(err, auth.KindInvalid) {
		t.Errorf("push to bob's phone for alice: %v, want invalid", err)
	}
	pend, _ := f.svc.AddPhone(ctx, auth.PhoneFields{})
	_ = f.svc.AddUserPhone(ctx, "alice", pend.ID)
	if _, err := f.svc.SendVerificationPush(ctx, admin, "alice", pend.ID); err == nil || !strings.Contains(err.Error(), "not been activated") {
		t.Errorf("push to a pending phone: %v", err)
	}

	for _, tc := range []struct {
		name   string
		answer auth.PushAnswer
		wrong  bool
		wait   time.Duration
		want   string
	}{
		{"approve", auth.PushAnswer{Approve: true}, false, 0, auth.VerificationApprove},
		{"deny", auth.PushAnswer{}, false, 0, auth.VerificationDeny},
		{"wrong code", auth.PushAnswer{Approve: true}, true, 0, auth.VerificationDeny},
		{"fraud", auth.PushAnswer{Fraud: true}, false, 0, auth.VerificationFraud},
		{"timeout", auth.PushAnswer{}, false, 2 * time.Minute, auth.VerificationTimeout},
	} {
		vp, err := f.svc.SendVerificationPush(ctx, admin, alice.ID, a.Device.ID)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(vp.Code) != 6 {
			t.Errorf("%s: code %q, want 6 digits", tc.name, vp.Code)
		}
		if r, err := f.svc.VerificationPushResult(ctx, alice.ID, vp.ID); err != nil || r != auth.VerificationWaiting {
			t.Errorf("%s: before the answer %q %v, want waiting", tc.name, r, err)
		}
		pending, err := f.svc.Pending(ctx, a.Device.ID)
		if err != nil || len(pending) != 1 || pending[0].ID != vp.ID {
			t.Fatalf("%s: pending %+v %v", tc.name, pending, err)
		}
		p := pending[0]
		if p.Type != "Identity verification" || !strings.Contains(p.PushInfo, "not+a+login") || p.StepUpDigits != 6 || p.IntegrationName != "Help desk" {
			t.Errorf("%s: the device sees %+v", tc.name, p.Transaction)
		}
		if tc.wait > 0 {
			f.clock.Advance(tc.wait)
		} else {
			tc.answer.Code = vp.Code
			if tc.wrong {
				tc.answer.Code = "000000"
				if vp.Code == "000000" {
					tc.answer.Code = "111111"
				}
			}
			if _, err := f.svc.AnswerPush(ctx, a.Device.ID, vp.ID, tc.answer); err != nil {
				t.Fatalf("%s: answer: %v", tc.name, err)
			}
		}
		if r, err := f.svc.VerificationPushResult(ctx, alice.ID, vp.ID); err != nil || r != tc.want {
			t.Errorf("%s: result %q %v, want %s", tc.name, r, err, tc.want)
		}
	}
	if _, err := f.svc.VerificationPushResult(ctx, "bob", "00000000-0000-4000-8000-000000000000"); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("unknown push_id: %v, want not found", err)
	}
	u, _ := f.svc.User(ctx, "alice")
	if !u.LastLogin.IsZero() || u.Status != store.StatusDisabled {
		t.Errorf("after verification pushes alice is %+v: neither logged in nor locked out", u)
	}
	for _, l := range f.logs(t, alice.ID) {
		if l.IKey == admin.IKey && l.Factor != auth.FactorVerificationPush {
			t.Errorf("auth log row %+v, want factor verification_push", l)
		}
	}
}

// TestPhonesPaging: pending phones come first, then activated devices, and
// pages cross the boundary without losing or repeating a phone.
func TestPhonesPaging(t *testing.T) {
	t.Parallel()
	f := newFixture(t, auth.Options{})
	ctx := context.Background()
	var want []string
	for range 3 {
		p, err := f.svc.AddPhone(ctx, auth.PhoneFields{})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, p.ID)
		f.clock.Advance(time.Second)
	}
	for _, name := range []string{"alice", "bob"} {
		want = append(want, f.device(t, name).Device.ID)
		f.clock.Advance(time.Second)
	}
	for _, limit := range []int{1, 2, 3, 4, 5, 6} {
		var got []string
		for offset := 0; offset < 10; offset += limit {
			page, total, err := f.svc.Phones(ctx, auth.PhoneQuery{Offset: offset, Limit: limit})
			if err != nil || total != 5 || len(page) > limit {
				t.Fatalf("limit %d offset %d: %d phones of %d, %v", limit, offset, len(page), total, err)
			}
			for i, p := range page {
				got = append(got, p.ID)
				if p.Activated != (offset+i >= 3) {
					t.Errorf("limit %d: phone %d activated %v", limit, offset+i, p.Activated)
				}
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("limit %d: pages %v, want %v", limit, got, want)
		}
	}
}
