package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/ratelimit"
)

func TestRateLimitParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in    string
		want  RateLimit
		limit ratelimit.Limit
		bad   bool
	}{
		{in: "5/5m", want: RateLimit{5, 5 * time.Minute}, limit: ratelimit.Limit{Every: time.Minute, Burst: 5}},
		{in: "30/10m", want: RateLimit{30, 10 * time.Minute}, limit: ratelimit.Limit{Every: 20 * time.Second, Burst: 30}},
		{in: "1/1h30m", want: RateLimit{1, 90 * time.Minute}, limit: ratelimit.Limit{Every: 90 * time.Minute, Burst: 1}},
		{in: " 60/1m ", want: RateLimit{60, time.Minute}, limit: ratelimit.Limit{Every: time.Second, Burst: 60}},
		{in: "off", want: RateLimit{}, limit: ratelimit.Limit{}},
		{in: "", bad: true},
		{in: "5", bad: true},
		{in: "5/", bad: true},
		{in: "/5m", bad: true},
		{in: "five/5m", bad: true},
		{in: "+5/5m", bad: true},
		{in: "5/5", bad: true},
		{in: "0/5m", bad: true},
		{in: "-1/5m", bad: true},
		{in: "5/0s", bad: true},
		{in: "5/-5m", bad: true},
		{in: "5/1000h", bad: true},
		{in: "10000/1s", bad: true},
		{in: "5/5m/1", bad: true},
		{in: "OFF", bad: true},
		{in: "none", bad: true},
	} {
		var r RateLimit
		err := r.UnmarshalText([]byte(tc.in))
		if tc.bad {
			if err == nil {
				t.Errorf("%q: accepted as %+v", tc.in, r)
			} else if !strings.Contains(err.Error(), strings.TrimSpace(tc.in)) {
				t.Errorf("%q: error %q does not quote the value", tc.in, err)
			}
			continue
		}
		if err != nil || r != tc.want || r.Limit() != tc.limit {
			t.Errorf("%q: %+v (limit %+v, %v), want %+v (limit %+v)", tc.in, r, r.Limit(), err, tc.want, tc.limit)
		}
		// What MarshalText writes reads back the same.
		b, _ := r.MarshalText()
		var back RateLimit
		if err := back.UnmarshalText(b); err != nil || back != r {
			t.Errorf("%q: %q reads back as %+v (%v)", tc.in, b, back, err)
		}
	}
	if s := (RateLimit{5, 5 * time.Minute}).String(); s != "5/5m" {
		t.Errorf("String() = %q, want 5/5m", s)
	}
}

func TestRateLimitSettings(t *testing.T) {
	t.Parallel()
	cfg, err := Load(Sources{})
	if err != nil {
		t.Fatal(err)
	}
	for key, got := range map[string]RateLimit{
		"rate_limit_pushes_per_user":             cfg.RateLimitPushesPerUser,
		"rate_limit_passcode_failures_per_user":  cfg.RateLimitPasscodeFailuresPerUser,
		"rate_limit_passcode_failures_per_ip":    cfg.RateLimitPasscodeFailuresPerIP,
		"rate_limit_enrollments_per_integration": cfg.RateLimitEnrollmentsPerIntegration,
		"rate_limit_activation_failures_per_ip":  cfg.RateLimitActivationFailuresPerIP,
	} {
		if !got.Enabled() {
			t.Errorf("%s is off by default", key)
		}
	}

	// From a file, the environment and flags; each bad value is reported
	// with its source and key.
	file := filepath.Join(t.TempDir(), "assent.toml")
	if err := os.WriteFile(file, []byte("rate_limit_pushes_per_user = \"3/1h\"\nrate_limit_enrollments_per_integration = \"off\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = Load(Sources{File: file,
		Env:   []string{"ASSENT_RATE_LIMIT_PASSCODE_FAILURES_PER_IP=off"},
		Flags: map[string]string{"rate_limit_activation_failures_per_ip": "2/1m"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RateLimitPushesPerUser != (RateLimit{3, time.Hour}) || cfg.RateLimitEnrollmentsPerIntegration.Enabled() ||
		cfg.RateLimitPasscodeFailuresPerIP.Enabled() || cfg.RateLimitActivationFailuresPerIP != (RateLimit{2, time.Minute}) {
		t.Errorf("loaded %+v", cfg)
	}
	if err := os.WriteFile(file, []byte("rate_limit_pushes_per_user = \"lots\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(Sources{File: file, Env: []string{"ASSENT_RATE_LIMIT_PASSCODE_FAILURES_PER_USER=10/0s"}})
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	for _, want := range []string{file + ": line 1", "lots", "environment: ASSENT_RATE_LIMIT_PASSCODE_FAILURES_PER_USER", "10/0s"} {
		if !strings.Contains(msg, want) {
			t.Errorf("problems do not mention %q:\n%s", want, msg)
		}
	}
}
