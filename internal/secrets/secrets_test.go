package secrets

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func newBox(t testing.TB, b byte) *Box {
	t.Helper()
	box, err := New(testKey(b))
	if err != nil {
		t.Fatal(err)
	}
	return box
}

func TestNewKeyLength(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New with %d-byte key: no error", n)
		}
	}
}

func TestNewCopiesKey(t *testing.T) {
	k := testKey(7)
	box, err := New(k)
	if err != nil {
		t.Fatal(err)
	}
	before := box.KeyCheck()
	k[0] ^= 0xff
	if box.KeyCheck() != before {
		t.Fatal("Box depends on the caller's key slice")
	}
}

func TestRoundTrip(t *testing.T) {
	box := newBox(t, 1)
	for _, pt := range [][]byte{nil, {}, []byte("x"), []byte("deadbeefdeadbeefdeadbeefdeadbeefdeadbeef"), bytes.Repeat([]byte{0xAA}, 10000)} {
		for _, ad := range [][]byte{nil, []byte("DIXXXXXXXXXXXXXXXXXX")} {
			sealed, err := box.Seal(pt, ad)
			if err != nil {
				t.Fatal(err)
			}
			if len(sealed) != 1+nonceSize+len(pt)+tagSize {
				t.Errorf("sealed length %d for %d-byte plaintext", len(sealed), len(pt))
			}
			if sealed[0] != 1 {
				t.Errorf("version byte %d", sealed[0])
			}
			if len(pt) > 8 && bytes.Contains(sealed, pt) {
				t.Error("plaintext visible in sealed value")
			}
			got, err := box.Open(sealed, ad)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, pt) {
				t.Errorf("round trip: got %q want %q", got, pt)
			}
		}
	}
}

func TestOpenFailures(t *testing.T) {
	box := newBox(t, 1)
	other := newBox(t, 2)
	ad := []byte("DIAAAAAAAAAAAAAAAAAA")
	sealed, err := box.Seal([]byte("secret key"), ad)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, b *Box, s, ad []byte) {
		t.Helper()
		pt, err := b.Open(s, ad)
		if err == nil {
			t.Errorf("%s: Open succeeded (%q)", name, pt)
			return
		}
		if !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: error %v does not wrap ErrDecrypt", name, err)
		}
	}
	check("wrong ad", box, sealed, []byte("DIBBBBBBBBBBBBBBBBBB"))
	check("missing ad", box, sealed, nil)
	check("wrong key", other, sealed, ad)
	for i := range sealed {
		tampered := bytes.Clone(sealed)
		tampered[i] ^= 0x01
		check("tampered byte", box, tampered, ad)
	}
	check("truncated", box, sealed[:len(sealed)-1], ad)
	check("appended", box, append(bytes.Clone(sealed), 0), ad)
	check("empty", box, nil, ad)
	check("header only", box, sealed[:1+nonceSize+tagSize-1], ad)
}

func TestNonceUniqueness(t *testing.T) {
	box := newBox(t, 3)
	seen := make(map[string]bool)
	for range 2000 {
		s, err := box.Seal([]byte("same"), []byte("same"))
		if err != nil {
			t.Fatal(err)
		}
		n := string(s[1 : 1+nonceSize])
		if seen[n] {
			t.Fatal("nonce repeated")
		}
		seen[n] = true
	}
}

func TestKeyedHash(t *testing.T) {
	box := newBox(t, 4)
	h := box.KeyedHash("bypass code", "DUAAAA", "123456789")
	if len(h) != 32 {
		t.Fatalf("hash length %d", len(h))
	}
	if !bytes.Equal(h, box.KeyedHash("bypass code", "DUAAAA", "123456789")) {
		t.Error("not deterministic")
	}
	differ := map[string][]byte{
		"other purpose":   box.KeyedHash("otp", "DUAAAA", "123456789"),
		"other key":       newBox(t, 5).KeyedHash("bypass code", "DUAAAA", "123456789"),
		"shifted split":   box.KeyedHash("bypass code", "DUAAAA1", "23456789"),
		"concatenated":    box.KeyedHash("bypass code", "DUAAAA123456789"),
		"extra empty":     box.KeyedHash("bypass code", "DUAAAA", "123456789", ""),
		"purpose in part": box.KeyedHash("bypass", " code", "DUAAAA", "123456789"),
	}
	for name, o := range differ {
		if bytes.Equal(h, o) {
			t.Errorf("%s: same hash", name)
		}
	}
	if bytes.Equal(box.KeyedHash("p"), box.KeyedHash("p", "")) {
		t.Error(`no parts and one empty part collide`)
	}
	if bytes.Equal(box.Pepper("a"), box.Pepper("b")) || len(box.Pepper("a")) != 32 {
		t.Error("peppers not separated")
	}
	if !bytes.Equal(box.Pepper("a"), box.Pepper("a")) {
		t.Error("pepper not deterministic")
	}
}

func TestKeyCheck(t *testing.T) {
	a, b := newBox(t, 1), newBox(t, 2)
	if a.KeyCheck() != newBox(t, 1).KeyCheck() {
		t.Error("KeyCheck not deterministic")
	}
	if a.KeyCheck() == b.KeyCheck() {
		t.Error("KeyCheck equal for different keys")
	}
	if kc := a.KeyCheck(); len(kc) != 32 || strings.Contains(kc, hex.EncodeToString(testKey(1))[:8]) {
		t.Errorf("KeyCheck %q", kc)
	}
}

func TestBoxStringHidesKey(t *testing.T) {
	box := newBox(t, 0x41) // 'A'
	for _, s := range []string{box.String(), box.GoString()} {
		if strings.Contains(s, "AAAA") || strings.Contains(s, "65") {
			t.Errorf("String leaks key: %s", s)
		}
	}
}

func TestParseKey(t *testing.T) {
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = byte(0xf0 + i) // includes bytes that differ between base64 alphabets
	}
	good := map[string]string{
		"std":             base64.StdEncoding.EncodeToString(key),
		"std newline":     base64.StdEncoding.EncodeToString(key) + "\n",
		"raw std":         base64.RawStdEncoding.EncodeToString(key),
		"url":             base64.URLEncoding.EncodeToString(key),
		"raw url":         base64.RawURLEncoding.EncodeToString(key),
		"raw url spaces":  "  " + base64.RawURLEncoding.EncodeToString(key) + " \t",
		"hex lower":       hex.EncodeToString(key),
		"hex upper":       strings.ToUpper(hex.EncodeToString(key)),
		"hex with \\r\\n": hex.EncodeToString(key) + "\r\n",
	}
	for name, in := range good {
		got, err := ParseKey(in)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !bytes.Equal(got, key) {
			t.Errorf("%s: wrong key", name)
		}
	}
	secretish := "c2VjcmV0c2VjcmV0"
	bad := map[string]string{
		"empty":        "",
		"blank":        " \n",
		"short b64":    base64.StdEncoding.EncodeToString(key[:16]),
		"long b64":     base64.StdEncoding.EncodeToString(append(key, 1)),
		"short hex":    hex.EncodeToString(key[:31]),
		"hex 63":       hex.EncodeToString(key)[:63],
		"not encoded":  "this is not a key at all!",
		"secretish":    secretish,
		"inner space":  base64.StdEncoding.EncodeToString(key)[:20] + " " + base64.StdEncoding.EncodeToString(key)[20:],
		"hex non-hex":  strings.Repeat("g", 64),
		"mixed alphab": base64.StdEncoding.EncodeToString(key)[:10] + "-_" + base64.StdEncoding.EncodeToString(key)[12:],
	}
	for name, in := range bad {
		_, err := ParseKey(in)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if trimmed := strings.TrimSpace(in); len(trimmed) >= 8 && strings.Contains(err.Error(), trimmed) {
			t.Errorf("%s: error echoes the value: %v", name, err)
		}
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "new", "master.key")

	key, created, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !created || len(key) != KeySize {
		t.Fatalf("created=%v len=%d", created, len(key))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := base64.StdEncoding.EncodeToString(key) + "\n"; string(data) != want {
		t.Errorf("file content %q, want %q", data, want)
	}
	if runtime.GOOS != "windows" {
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Errorf("key file mode %04o", fi.Mode().Perm())
		}
		if fi, _ := os.Stat(filepath.Dir(path)); fi.Mode().Perm() != 0o700 {
			t.Errorf("created directory mode %04o", fi.Mode().Perm())
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}

	again, created, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if created || !bytes.Equal(again, key) {
		t.Errorf("second load: created=%v same=%v", created, bytes.Equal(again, key))
	}

	other, _, err := LoadOrCreateKeyFile(filepath.Join(dir, "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(other, key) {
		t.Error("two generated keys are equal")
	}
}

func TestLoadKeyFileExisting(t *testing.T) {
	dir := t.TempDir()
	key := testKey(9)
	path := filepath.Join(dir, "hex.key")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, created, err := LoadOrCreateKeyFile(path)
	if err != nil || created || !bytes.Equal(got, key) {
		t.Fatalf("got err=%v created=%v equal=%v", err, created, bytes.Equal(got, key))
	}

	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("c2hvcnQ=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateKeyFile(bad); err == nil || !strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), "c2hvcnQ") {
		t.Errorf("bad key file: %v", err)
	}
	if b, _ := os.ReadFile(bad); string(b) != "c2hvcnQ=\n" {
		t.Error("bad key file was overwritten")
	}

	if _, _, err := LoadOrCreateKeyFile(dir); err == nil {
		t.Error("directory accepted as key file")
	}
}

func TestLoadKeyFilePermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("POSIX permissions")
	}
	dir := t.TempDir()
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o660, 0o602} {
		path := filepath.Join(dir, "open.key")
		if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(testKey(1))+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, _, err := LoadOrCreateKeyFile(path)
		if err == nil {
			t.Errorf("mode %04o accepted", mode)
			continue
		}
		if !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Errorf("mode %04o: error does not say how to fix: %v", mode, err)
		}
		if strings.Contains(err.Error(), base64.StdEncoding.EncodeToString(testKey(1))) {
			t.Errorf("error echoes the key")
		}
		os.Remove(path)
	}
	path := filepath.Join(dir, "ro.key")
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(testKey(1))+"\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateKeyFile(path); err != nil {
		t.Errorf("mode 0400 refused: %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	box := newBox(f, 1)
	ad := []byte("DIXXXXXXXXXXXXXXXXXX")
	valid, err := box.Seal([]byte("hello"), ad)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid, ad)
	f.Add(valid[:len(valid)-1], ad)
	f.Add([]byte{}, []byte{})
	f.Add([]byte{1}, []byte(nil))
	f.Add(make([]byte, 1+nonceSize+tagSize), []byte("x"))
	f.Fuzz(func(t *testing.T, sealed, ad []byte) {
		pt, err := box.Open(sealed, ad)
		if err != nil {
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("error %v does not wrap ErrDecrypt", err)
			}
			if pt != nil {
				t.Fatal("plaintext returned with an error")
			}
			return
		}
		// Whatever opens must re-seal and open to the same plaintext.
		again, err := box.Seal(pt, ad)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := box.Open(again, ad); err != nil || !bytes.Equal(back, pt) {
			t.Fatalf("re-seal round trip failed: %v", err)
		}
	})
}

// BenchmarkKeyedHash is a bypass-code hash, as every passcode check
// computes one.
func BenchmarkKeyedHash(b *testing.B) {
	box, err := New(make([]byte, KeySize))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		box.KeyedHash("bypass code", "DU0123456789ABCDEFGH", "123456789")
	}
}
