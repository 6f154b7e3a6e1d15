package prompt

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/secrets"
)

func testPrompt(t testing.TB, now time.Time) *Prompt {
	box, err := secrets.New(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return &Prompt{Box: box, Now: func() time.Time { return now }}
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	p := testPrompt(t, now)
	st := state{Session: Session{Kind: KindWebSDK, IKey: "DI1", Username: "ü|x", Expires: now.Add(time.Minute),
		Parent: "https://a.example/", Data: map[string]string{"k": "v"}}, TxID: "tx", EnrollCode: "duo://c"}
	v, err := p.seal(st)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.open(v)
	if err != nil || got.Username != st.Username || got.TxID != "tx" || got.Data["k"] != "v" || !got.Expires.Equal(st.Expires) {
		t.Fatalf("open = %+v, %v", got, err)
	}

	// Another master key, a flipped byte, another purpose: all refused.
	other := testPrompt(t, now)
	other.Box, _ = secrets.New(bytes.Repeat([]byte{4}, 32))
	raw, _ := base64.RawURLEncoding.DecodeString(v)
	raw[len(raw)/2] ^= 1
	foreign, _ := p.Box.Seal([]byte(`{"k":"websdk","e":"2100-01-01T00:00:00Z"}`), []byte("another purpose"))
	for name, bad := range map[string]string{
		"other key": "", "flipped": base64.RawURLEncoding.EncodeToString(raw),
		"other purpose": base64.RawURLEncoding.EncodeToString(foreign), "empty": "", "not base64": "***",
	} {
		pp := p
		if name == "other key" {
			pp, bad = other, v
		}
		if _, err := pp.open(bad); !errors.Is(err, errBadState) {
			t.Errorf("%s: open = %v, want errBadState", name, err)
		}
	}

	// Expired, but still readable (to frame the error page).
	late := testPrompt(t, now.Add(time.Minute))
	late.Box = p.Box
	if got, err := late.open(v); !errors.Is(err, errExpiredState) || got.Parent != st.Parent {
		t.Errorf("expired: %+v, %v", got, err)
	}
}

func FuzzOpen(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	p := testPrompt(f, now)
	v, err := p.seal(state{Session: Session{Kind: KindUniversal, IKey: "DI", Username: "u", Expires: now.Add(time.Hour)}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v)
	f.Add("")
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := p.open(s)
		if err == nil && (st.Kind == "" || !now.Before(st.Expires)) {
			t.Fatalf("open(%q) accepted %+v", s, st)
		}
	})
}
