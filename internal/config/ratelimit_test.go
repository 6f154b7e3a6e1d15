package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/ratelimit"
)

func TestRateLimitText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want RateLimit
		lim  ratelimit.Limit
		err  bool
	}{
		{in: "20/1m", want: RateLimit{N: 20, Period: time.Minute}, lim: ratelimit.Limit{Every: 3 * time.Second, Burst: 20}},
		{in: " 5 / 10s ", want: RateLimit{N: 5, Period: 10 * time.Second}, lim: ratelimit.Limit{Every: 2 * time.Second, Burst: 5}},
		{in: "1/1h", want: RateLimit{N: 1, Period: time.Hour}, lim: ratelimit.Limit{Every: time.Hour, Burst: 1}},
		{in: "off", want: RateLimit{}},
		{in: "OFF", want: RateLimit{}},
		{in: "20", err: true},
		{in: "0/1m", err: true},
		{in: "-1/1m", err: true},
		{in: "x/1m", err: true},
		{in: "20/", err: true},
		{in: "20/soon", err: true},
		{in: "20/100ms", err: true},
		{in: "20/-1m", err: true},
		{in: "", err: true},
		{in: "on", err: true},
	} {
		var got RateLimit
		err := got.UnmarshalText([]byte(tc.in))
		if tc.err {
			if err == nil {
				t.Errorf("%q: accepted as %+v", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want || got.Limit() != tc.lim {
			t.Errorf("%q: %+v %+v (%v), want %+v %+v", tc.in, got, got.Limit(), err, tc.want, tc.lim)
		}
		if got.Off() != !tc.lim.Enabled() {
			t.Errorf("%q: Off() = %v but Limit().Enabled() = %v", tc.in, got.Off(), tc.lim.Enabled())
		}
		// What MarshalText writes reads back the same.
		b, _ := got.MarshalText()
		var again RateLimit
		if err := again.UnmarshalText(b); err != nil || again != got {
			t.Errorf("%q: round trip through %q gave %+v (%v)", tc.in, b, again, err)
		}
	}
}

func TestRateLimitBadSignaturesSetting(t *testing.T) {
	t.Parallel()
	cfg, err := Load(Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.RateLimitBadSignatures.Limit(); got != (ratelimit.Limit{Every: 3 * time.Second, Burst: 20}) {
		t.Errorf("default rate_limit_bad_signatures = %+v, want 20/1m", got)
	}
	file := filepath.Join(t.TempDir(), "assent.toml")
	if err := os.WriteFile(file, []byte(`rate_limit_bad_signatures = "10/30s"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = Load(Sources{File: file})
	if err != nil || cfg.RateLimitBadSignatures != (RateLimit{N: 10, Period: 30 * time.Second}) {
		t.Errorf("from the file: %+v (%v)", cfg.RateLimitBadSignatures, err)
	}
	cfg, err = Load(Sources{File: file, Env: []string{"ASSENT_RATE_LIMIT_BAD_SIGNATURES=off"}})
	if err != nil || !cfg.RateLimitBadSignatures.Off() {
		t.Errorf("off from the environment: %+v (%v)", cfg.RateLimitBadSignatures, err)
	}
	_, err = Load(Sources{Env: []string{"ASSENT_RATE_LIMIT_BAD_SIGNATURES=lots"}})
	if err == nil || !strings.Contains(err.Error(), "environment: ASSENT_RATE_LIMIT_BAD_SIGNATURES:") {
		t.Errorf("bad value: err = %v, want a problem naming the variable", err)
	}
}

func TestTooManyHostnames(t *testing.T) {
	t.Parallel()
	names := make([]string, MaxHostnames) // with public_hostname one too many
	for i := range names {
		names[i] = "h" + string(rune('a'+i)) + ".example"
	}
	_, err := Load(Sources{Env: []string{"ASSENT_ALT_HOSTNAMES=" + strings.Join(names, ",")}})
	if err == nil || !strings.Contains(err.Error(), "alt_hostnames") {
		t.Errorf("%d names: err = %v, want a problem naming alt_hostnames", MaxHostnames+1, err)
	}
	if _, err := Load(Sources{Env: []string{"ASSENT_ALT_HOSTNAMES=" + strings.Join(names[1:], ",")}}); err != nil {
		t.Errorf("%d names: %v", MaxHostnames, err)
	}
}
