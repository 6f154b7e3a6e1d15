package webauthnrp

import (
	"encoding/json"
	"github.com/assent-auth/assent/internal/auth"
	"testing"
)

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		s              Settings
		ok             bool
		rpID, origin   string
		uv, attestaton string
	}{
		{Settings{Hostname: "mfa.example.com"}, true, "mfa.example.com", "https://mfa.example.com", "preferred", "none"},
		{Settings{Hostname: "MFA.Example.com:8443", UserVerification: "required", Attestation: "direct"}, true, "mfa.example.com", "https://mfa.example.com:8443", "required", "direct"},
		{Settings{Hostname: "localhost:1234", UserVerification: "discouraged", Attestation: "indirect"}, true, "localhost", "https://localhost:1234", "discouraged", "indirect"},
		{Settings{Hostname: "127.0.0.1:8443"}, false, "", "", "", ""},
		{Settings{Hostname: "[::1]:8443"}, false, "", "", "", ""},
		{Settings{Hostname: ""}, false, "", "", "", ""},
		{Settings{Hostname: "mfa.example.com", UserVerification: "always"}, false, "", "", "", ""},
		{Settings{Hostname: "mfa.example.com", Attestation: "enterprise"}, false, "", "", "", ""},
	} {
		rp, err := New(tc.s)
		if (err == nil) != tc.ok {
			t.Errorf("New(%+v): %v", tc.s, err)
			continue
		}
		if !tc.ok {
			continue
		}
		if rp.RPID() != tc.rpID || rp.origin != tc.origin {
			t.Errorf("New(%+v): RP ID %q origin %q", tc.s, rp.RPID(), rp.origin)
		}
		// The options carry the settings to the browser.
		opts, _, err := rp.BeginRegistration(userFor("DU1"), nil, "")
		if err != nil {
			t.Fatal(err)
		}
		var o struct {
			RP                     struct{ ID string }
			Attestation            string
			AuthenticatorSelection struct {
				UserVerification string
				ResidentKey      string
			}
		}
		if err := json.Unmarshal(opts, &o); err != nil {
			t.Fatal(err)
		}
		if o.RP.ID != tc.rpID || o.Attestation != tc.attestaton || o.AuthenticatorSelection.UserVerification != tc.uv ||
			o.AuthenticatorSelection.ResidentKey != "preferred" {
			t.Errorf("New(%+v): creation options %s", tc.s, opts)
		}
	}
}

func userFor(id string) auth.WebAuthnUser { return auth.WebAuthnUser{ID: id, Username: "u"} }
