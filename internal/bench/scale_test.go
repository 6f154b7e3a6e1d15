package bench

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestUserSet(t *testing.T) {
	set, err := NewUserSet("Load", 1000)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewUserSet("Load", 1000)
	if err != nil {
		t.Fatal(err)
	}
	digits, hexa := regexp.MustCompile(`^[0-9]{9}$`), regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := map[string]bool{}
	for i, name := range map[int]string{0: "Load-0", 1: "Load-1", 2: "Load-2", 999: "Load-999"} {
		if got := set.Username(i); got != name {
			t.Errorf("Username(%d) = %q, want %q", i, got, name)
		}
		code, secret := set.BypassCode(i), set.HOTPSecret(i)
		if !digits.MatchString(code) || !hexa.MatchString(secret) {
			t.Errorf("user %d: bypass code %q, HOTP secret %q", i, code, secret)
		}
		if seen[code] || seen[secret] {
			t.Errorf("user %d repeats a secret", i)
		}
		seen[code], seen[secret] = true, true
		if code == other.BypassCode(i) || secret == other.HOTPSecret(i) {
			t.Errorf("user %d: two seeds give the same secrets", i)
		}
		if _, err := set.HOTPCode(i, 0); err != nil {
			t.Error(err)
		}
	}

	// The file carries everything the load generator needs, privately.
	path := filepath.Join(t.TempDir(), "set.json")
	if err := set.Save(path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("saved file: %v, mode %v; want 0600", err, fi.Mode())
	}
	back, err := LoadUserSet(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 999} {
		if back.BypassCode(i) != set.BypassCode(i) || back.HOTPSecret(i) != set.HOTPSecret(i) || back.Username(i) != set.Username(i) {
			t.Errorf("user %d differs after Save and LoadUserSet", i)
		}
	}
	if err := other.Save(path); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("Save over an existing file: %v, want a refusal", err)
	}
}

func TestUserSetInvalid(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		count  int
	}{
		{"bench", 0},
		{"bench", MaxUsers + 1},
		{" spaced", 10},  // leading space
		{"a\u212Ab", 10}, // KELVIN SIGN: refused by package username
	} {
		if _, err := NewUserSet(tc.prefix, tc.count); err == nil {
			t.Errorf("NewUserSet(%q, %d) succeeded", tc.prefix, tc.count)
		}
	}
}

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		line      string
		pid, ppid int
		ticks     int64
		ok        bool
	}{
		{"1234 (assent) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 9 0 100 0 0", 1234, 1, 310, true},
		{"77 (a (b) c) R 12 77 77 0 -1 0 0 0 0 0 1 2 3 4 20 0 1 0 1 0 0", 77, 12, 10, true},
		{"garbage", 0, 0, 0, false},
		{"5 (x) S 1 2 3", 0, 0, 0, false},
	} {
		pid, s, ok := parseStat([]byte(tc.line))
		if ok != tc.ok || (ok && (pid != tc.pid || s.ppid != tc.ppid || s.ticks != tc.ticks)) {
			t.Errorf("parseStat(%q) = %d, %+v, %v; want %d, ppid %d, ticks %d, %v", tc.line, pid, s, ok, tc.pid, tc.ppid, tc.ticks, tc.ok)
		}
	}
	if _, err := TreeCPU(os.Getpid()); err != nil {
		t.Errorf("TreeCPU(self): %v", err)
	}
	if _, err := TreeCPU(1 << 30); err == nil {
		t.Errorf("TreeCPU of a process that does not exist succeeded")
	}
}
