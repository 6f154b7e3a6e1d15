package auth_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/secrets"
)

// TestCredentials: a provider's password is stored sealed (the settings
// row does not hold it, and opens only with the master key and under its
// own name), read back by LoadCredential, listed by name only, cleared,
// and every change is in the administrator log without the secret.
func TestCredentials(t *testing.T) {
	f := newFixture(t, auth.Options{})
	ctx := auth.WithActor(context.Background(), auth.Actor{Who: "cli:root", IP: ""})
	box, err := secrets.New(bytes.Repeat([]byte{7}, 32)) // the fixture's key
	if err != nil {
		t.Fatal(err)
	}
	const secret = "kannel-pa55word-ñ"

	if _, ok, err := auth.LoadCredential(ctx, f.st, box, auth.CredentialSMS); err != nil || ok {
		t.Fatalf("before any: ok=%v err=%v", ok, err)
	}
	for _, tc := range []struct{ name, secret string }{
		{"smtp", secret}, {"", secret}, // unknown providers
		{auth.CredentialSMS, ""}, {auth.CredentialSMS, "two\nlines"}, {auth.CredentialSMS, strings.Repeat("x", 4097)},
		{auth.CredentialSMS, "\xff"},
	} {
		if err := f.svc.SetCredential(ctx, tc.name, tc.secret); !auth.IsKind(err, auth.KindInvalid) {
			t.Errorf("SetCredential(%q, %q): %v, want KindInvalid", tc.name, tc.secret, err)
		}
	}
	if err := f.svc.SetCredential(ctx, auth.CredentialSMS, secret); err != nil {
		t.Fatal(err)
	}
	raw, err := f.st.GetSetting(ctx, "credential.sms")
	if err != nil || raw == "" || strings.Contains(raw, "pa55") {
		t.Fatalf("stored row %q, %v: want a sealed value", raw, err)
	}
	got, ok, err := auth.LoadCredential(ctx, f.st, box, auth.CredentialSMS)
	if err != nil || !ok || got != secret {
		t.Fatalf("LoadCredential = %q, %v, %v", got, ok, err)
	}
	if _, ok, err := auth.LoadCredential(ctx, f.st, box, auth.CredentialSIP); err != nil || ok {
		t.Errorf("sip before set: ok=%v err=%v", ok, err)
	}
	// Another master key, or the row copied under another name, does not open.
	other, err := secrets.New(bytes.Repeat([]byte{8}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := auth.LoadCredential(ctx, f.st, other, auth.CredentialSMS); err == nil {
		t.Error("opened with another master key")
	}
	if err := f.st.PutSetting(ctx, "credential.sip", raw); err != nil {
		t.Fatal(err)
	}
	if _, _, err := auth.LoadCredential(ctx, f.st, box, auth.CredentialSIP); err == nil {
		t.Error("the sms credential opened as the sip one")
	}
	if err := f.svc.ClearCredential(ctx, auth.CredentialSIP); err != nil {
		t.Fatal(err)
	}
	names, err := f.svc.StoredCredentials(ctx)
	if err != nil || len(names) != 1 || names[0] != auth.CredentialSMS {
		t.Errorf("StoredCredentials = %v, %v", names, err)
	}
	if err := f.svc.ClearCredential(ctx, auth.CredentialSMS); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := auth.LoadCredential(ctx, f.st, box, auth.CredentialSMS); err != nil || ok {
		t.Errorf("after clear: ok=%v err=%v", ok, err)
	}

	f.clock.Advance(2 * time.Second)
	rows, err := f.svc.AdminLogSince(ctx, time.Unix(0, 0), 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range rows {
		if r.Object != "credential" {
			continue
		}
		if strings.Contains(r.Description, "pa55") {
			t.Errorf("the administrator log holds the secret: %+v", r)
		}
		actions = append(actions, r.Action+" "+r.Description)
	}
	want := []string{`credential_set {"provider":"sms"}`, `credential_clear {"provider":"sip"}`, `credential_clear {"provider":"sms"}`}
	if strings.Join(actions, "|") != strings.Join(want, "|") {
		t.Errorf("administrator log: %q, want %q", actions, want)
	}
}
