package passhash

import (
	"errors"
	"strings"
	"testing"
)

// The reference implementation's Argon2id vectors (phc-winner-argon2,
// src/test.c, version 0x13): password "password", salt "somesalt".
var referenceVectors = []struct {
	encoded  string
	password string
	ok       bool
}{
	{"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password", true},
	{"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "passwore", false},
}

func TestReferenceVectors(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB hashes")
	}
	for _, v := range referenceVectors {
		ok, err := Verify(v.password, v.encoded)
		if err != nil || ok != v.ok {
			t.Errorf("Verify(%q, %s) = %v, %v; want %v", v.password, v.encoded, ok, err, v.ok)
		}
	}
}

var cheap = Params{Memory: 64, Time: 1, Threads: 1}

func TestHashRoundTrip(t *testing.T) {
	h, err := Hash("correct horse", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash %s does not name its parameters", h)
	}
	h2, _ := Hash("correct horse", cheap)
	if h == h2 {
		t.Error("two hashes of one password are equal: no fresh salt")
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{{"correct horse", true}, {"correct horsf", false}, {"", false}, {"correct horse ", false}} {
		ok, err := Verify(tc.pw, h)
		if err != nil || ok != tc.want {
			t.Errorf("Verify(%q) = %v, %v; want %v", tc.pw, ok, err, tc.want)
		}
	}
	if NeedsRehash(h, cheap) {
		t.Error("NeedsRehash with the same parameters")
	}
	if !NeedsRehash(h, Default) {
		t.Error("no NeedsRehash with other parameters")
	}
}

func TestDecodeRefuses(t *testing.T) {
	good := "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	if _, err := Decode(good); err != nil {
		t.Fatalf("Decode(%s): %v", good, err)
	}
	for _, s := range []string{
		"",
		"password",
		"$argon2i$v=19$m=64,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",  // not id
		"$argon2id$v=16$m=64,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", // old version
		"$argon2id$v=19$m=64,t=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$t=1,m=64,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=64,t=0,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=64,t=1,p=0$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=99999999,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", // 95 GiB
		"$argon2id$v=19$m=64,t=1000,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=64,t=1,p=1$c29t$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",          // short salt
		"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$CTFh",                                          // short key
		"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ=$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",  // padding
		"$argon2id$v=19$m=064,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",  // leading zero
		"$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc$x", // extra field
	} {
		if _, err := Decode(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode(%q) = %v, want ErrMalformed", s, err)
		}
		if ok, err := Verify("password", s); ok || err == nil {
			t.Errorf("Verify(%q) = %v, %v; want an error", s, ok, err)
		}
	}
}

// FuzzDecode: whatever a stored row holds, Decode refuses it or returns
// parameters within the limits, and a decoded string encodes back to
// itself.
func FuzzDecode(f *testing.F) {
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")
	f.Add("$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc")
	f.Add("$argon2i$v=19$m=64,t=1,p=1$$")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Decode(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode(%q): %v, not ErrMalformed", s, err)
			}
			return
		}
		if d.Params.Memory > maxMemory || d.Params.Time > maxTime || d.Params.Threads == 0 {
			t.Fatalf("Decode(%q) accepted parameters %+v beyond the limits", s, d.Params)
		}
		if got := encode(d.Params, d.Salt, d.Key); got != s {
			t.Fatalf("Decode(%q) encodes back to %q", s, got)
		}
	})
}
