package duoweb

import (
	"strings"
	"testing"
	"time"
)

// FuzzVerifyResponse feeds arbitrary sig_responses (untrusted form input)
// to VerifyResponse: it must never panic, and whatever it accepts must be a
// response whose AUTH half names that user.
func FuzzVerifyResponse(f *testing.F) {
	v := loadVectors(f)
	f.Add(v.Derived.Auth + ":" + v.Derived.App)
	f.Add(v.Derived.UTF8Auth + ":" + v.Derived.UTF8App)
	f.Add(v.Published.Expired + ":" + v.Derived.App)
	f.Add(v.Published.WrongParams + ":" + v.Published.WrongParamsApp)
	f.Add(v.Published.Invalid + ":" + v.Derived.App)
	f.Add("ERR|The Duo integration key passed to sign_request() is invalid.:" + v.Derived.App)
	f.Add(":")
	f.Add("||:||")
	sdk := at(v.Derived.Now)
	f.Fuzz(func(t *testing.T, resp string) {
		user, err := sdk.VerifyResponse(v.IKey, v.SKey, v.AKey, resp)
		if err != nil {
			if user != "" {
				t.Fatalf("error %v with user %q", err, user)
			}
			return
		}
		auth, _, _ := strings.Cut(resp, ":")
		peek, perr := PeekValue(auth)
		if perr != nil || user == "" || peek.Username != user || strings.Contains(user, "|") {
			t.Fatalf("accepted %q as %q (peek %+v, %v)", resp, user, peek, perr)
		}
		if !time.Unix(v.Derived.Now, 0).Before(peek.Expires) {
			t.Fatalf("accepted an expired response %q", resp)
		}
	})
}

// FuzzPeekValue checks that parsing untrusted values never panics and that
// what parses signs back to a value that verifies.
func FuzzPeekValue(f *testing.F) {
	v := loadVectors(f)
	for _, s := range []string{v.Derived.TX, v.Derived.App, v.Derived.EnrollRequest, v.Published.Invalid, v.Published.WrongParams, "TX||", "|||"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		val, err := PeekValue(s)
		if err != nil {
			return
		}
		now := val.Expires.Add(-time.Second)
		if _, err := VerifyValue("key", val.Sign("key"), val.Prefix, val.IKey, now); err != nil {
			t.Fatalf("%q parsed to %+v, which does not verify once re-signed: %v", s, val, err)
		}
	})
}
