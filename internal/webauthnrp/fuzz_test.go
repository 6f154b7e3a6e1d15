package webauthnrp

import (
	"errors"
	"testing"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/webauthnrp/webauthntest"
)

// The browser's answers are untrusted input: whatever is posted, the
// relying party returns a refusal (auth.ErrWebAuthnRefused) or a verified
// result, never a panic or a server error. The seeds are real answers of
// the software authenticator, so mutations reach deep into the CBOR and
// signature checks.

const fuzzHost = "localhost:8443"

func fuzzSetup(f *testing.F) (*RP, auth.WebAuthnUser, []store.WebAuthnCredential, []byte, []byte, []byte) {
	rp, err := New(Settings{Hostname: fuzzHost})
	if err != nil {
		f.Fatal(err)
	}
	u := auth.WebAuthnUser{ID: "DUFUZZ00000000000000", Username: "fuzz"}
	key := webauthntest.New("https://" + fuzzHost)
	opts, regSession, err := rp.BeginRegistration(u, nil, "")
	if err != nil {
		f.Fatal(err)
	}
	created, err := key.Create(opts)
	if err != nil {
		f.Fatal(err)
	}
	c, err := rp.FinishRegistration(u, regSession, created, "")
	if err != nil {
		f.Fatal(err)
	}
	creds := []store.WebAuthnCredential{c}
	opts, loginSession, _, err := rp.BeginLogin(u, creds, "")
	if err != nil {
		f.Fatal(err)
	}
	got, err := key.Get(opts)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(got)
	f.Add(created)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"","rawId":"","type":"public-key","response":{"clientDataJSON":"","authenticatorData":"","signature":""}}`))
	return rp, u, creds, loginSession, regSession, got
}

func FuzzFinishLogin(f *testing.F) {
	rp, u, creds, session, _, good := fuzzSetup(f)
	if _, err := rp.FinishLogin(u, creds, session, good, ""); err != nil {
		f.Fatalf("the seed assertion is refused: %v", err)
	}
	f.Fuzz(func(t *testing.T, resp []byte) {
		a, err := rp.FinishLogin(u, creds, session, resp, "")
		if err != nil && !errors.Is(err, auth.ErrWebAuthnRefused) {
			t.Fatalf("not a refusal: %v", err)
		}
		if err == nil && string(a.CredentialID) != string(creds[0].CredentialID) {
			t.Fatalf("accepted an assertion of credential %x", a.CredentialID)
		}
	})
}

func FuzzFinishRegistration(f *testing.F) {
	rp, u, _, _, session, _ := fuzzSetup(f)
	f.Fuzz(func(t *testing.T, resp []byte) {
		_, err := rp.FinishRegistration(u, session, resp, "")
		if err != nil && !errors.Is(err, auth.ErrWebAuthnRefused) {
			t.Fatalf("not a refusal: %v", err)
		}
	})
}
