package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base32"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

func testPublicKey(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// hotpFor is the device's code at counter, as a phone computes it.
func hotpFor(t *testing.T, secret string, counter uint64) string {
	t.Helper()
	code, err := hotp.GenerateCodeCustom(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte(secret)), counter,
		hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func bulkUsers(pub string, first, n int) []auth.BulkUser {
	var out []auth.BulkUser
	for i := first; i < first+n; i++ {
		out = append(out, auth.BulkUser{
			Username:   fmt.Sprintf("Seed-%d", i),
			BypassCode: fmt.Sprintf("%09d", 100000000+i),
			HOTPSecret: fmt.Sprintf("%032x", i),
			PublicKey:  pub,
			DeviceName: "bench device", Platform: "bench",
		})
	}
	return out
}

// TestBulkCreateUsers checks that users created in bulk are accepted by
// the normal login path: preauth lists the device, the bypass code works
// (again and again: unlimited uses), the HOTP secret was sealed so that
// the device's codes work, and wrong codes do not.
func TestBulkCreateUsers(t *testing.T) {
	f := newFixture(t, auth.Options{})
	ctx := context.Background()
	pub := testPublicKey(t)
	users := bulkUsers(pub, 0, 50)
	if err := f.svc.BulkCreateUsers(ctx, users); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.AnalyzeStore(ctx); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 17, 49} {
		bu := users[i]
		name := strings.ToLower(bu.Username) // compared as package username says
		pre, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: f.in, Username: name}})
		if err != nil {
			t.Fatal(err)
		}
		if pre.Result != auth.ResultAuth || len(pre.Devices) != 1 || pre.Devices[0].Name != "bench device" {
			t.Fatalf("preauth %s = %+v, want auth with the bench device", name, pre)
		}
		for range 2 {
			if res := f.passcode(t, name, bu.BypassCode); res.Result != auth.ResultAllow {
				t.Errorf("%s with its bypass code: %+v", name, res)
			}
		}
		if res := f.passcode(t, name, users[(i+1)%len(users)].BypassCode); res.Result != auth.ResultDeny {
			t.Errorf("%s with another user's bypass code: %+v", name, res)
		}
		if res := f.passcode(t, name, hotpFor(t, bu.HOTPSecret, 0)); res.Result != auth.ResultAllow {
			t.Errorf("%s with its device's first HOTP code: %+v", name, res)
		}
		if res := f.passcode(t, name, hotpFor(t, users[(i+1)%len(users)].HOTPSecret, 1)); res.Result != auth.ResultDeny {
			t.Errorf("%s with another device's HOTP code: %+v", name, res)
		}
	}
}

func TestBulkCreateUsersRefuses(t *testing.T) {
	f := newFixture(t, auth.Options{})
	ctx := context.Background()
	pub := testPublicKey(t)
	if err := f.svc.BulkCreateUsers(ctx, bulkUsers(pub, 0, 3)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		edit func(u *auth.BulkUser)
		kind auth.Kind
	}{
		{"username taken", func(u *auth.BulkUser) { u.Username = "SEED-1" }, auth.KindConflict},
		{"invalid username", func(u *auth.BulkUser) { u.Username = "a  b" }, auth.KindInvalid},
		{"short bypass code", func(u *auth.BulkUser) { u.BypassCode = "12345678" }, auth.KindInvalid},
		{"bypass code not digits", func(u *auth.BulkUser) { u.BypassCode = "12345678a" }, auth.KindInvalid},
		{"HOTP secret upper case", func(u *auth.BulkUser) { u.HOTPSecret = strings.Repeat("A", 32) }, auth.KindInvalid},
		{"HOTP secret short", func(u *auth.BulkUser) { u.HOTPSecret = "abc" }, auth.KindInvalid},
		{"not a public key", func(u *auth.BulkUser) { u.PublicKey = "key" }, auth.KindInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			batch := bulkUsers(pub, 10, 3)
			tc.edit(&batch[2])
			err := f.svc.BulkCreateUsers(ctx, batch)
			if !auth.IsKind(err, tc.kind) {
				t.Fatalf("BulkCreateUsers: %v, want kind %v", err, tc.kind)
			}
			if _, err := f.st.GetUserByUsername(ctx, "seed-10"); err == nil {
				t.Errorf("the batch's first user exists after a refused batch")
			}
		})
	}
	// The users of the first batch are untouched.
	u, err := f.st.GetUserByUsername(ctx, "seed-1")
	if err != nil || u.Status != store.StatusActive {
		t.Errorf("seed-1 = %+v, %v", u, err)
	}
}
