package config

import (
	"fmt"
	"reflect"
	"slices"
)

// reloadable are the keys `assent serve` applies on SIGHUP without a
// restart. Each is read through something the server can swap while
// requests run (the log level, the certificate, the proxy list, the rate
// limiters, the core's push timeout). Every other key needs a restart:
// listeners and connection limits are set up once, the database and the
// master key are opened once, and hostnames are part of every signature
// check and certificate.
var reloadable = []string{
	"log_level",
	"tls_cert", "tls_key",
	"trusted_proxies",
	"push_timeout",
	"rate_limit_pushes_per_user",
	"rate_limit_passcode_failures_per_user",
	"rate_limit_passcode_failures_per_ip",
	"rate_limit_enrollments_per_integration",
	"rate_limit_activation_failures_per_ip",
	"rate_limit_bad_signatures",
	"mail_templates_dir",
	"rate_limit_sms_per_user", "rate_limit_sms_global",
	"rate_limit_calls_per_user", "rate_limit_calls_global",
}

// secretKeys are never logged with their values.
var secretKeys = []string{"master_key", "database_url", "smtp_password"}

// Reloadable reports whether SIGHUP applies key without a restart.
func Reloadable(key string) bool { return slices.Contains(reloadable, key) }

// ReloadableKeys lists the keys SIGHUP applies, in the order of Keys.
func ReloadableKeys() []string {
	var out []string
	for _, k := range Keys() {
		if Reloadable(k) {
			out = append(out, k)
		}
	}
	return out
}

// Change is one key whose value differs between two configurations.
type Change struct {
	Key      string
	Old, New string // "(secret)" for master_key and database_url
}

// Changes lists the keys whose values differ from old to next, in the
// order of Keys.
func Changes(old, next Config) []Change {
	var out []Change
	ov, nv := reflect.ValueOf(old), reflect.ValueOf(next)
	t := ov.Type()
	for i := 0; i < t.NumField(); i++ {
		key := t.Field(i).Tag.Get("toml")
		if key == "-" {
			continue
		}
		a, b := ov.Field(i).Interface(), nv.Field(i).Interface()
		if reflect.DeepEqual(a, b) {
			continue
		}
		c := Change{Key: key, Old: show(a), New: show(b)}
		if slices.Contains(secretKeys, key) {
			c.Old, c.New = "(secret)", "(secret)"
		}
		out = append(out, c)
	}
	return out
}

func show(v any) string {
	switch x := v.(type) {
	case fmt.Stringer:
		return x.String()
	case []string:
		return fmt.Sprintf("%q", x)
	}
	return fmt.Sprint(v)
}

// WithReloadable returns running with the reloadable keys taken from next:
// what a server runs with after a SIGHUP (the other keys keep their values
// until a restart).
func WithReloadable(running, next Config) Config {
	rv, nv := reflect.ValueOf(&running).Elem(), reflect.ValueOf(next)
	t := rv.Type()
	for i := 0; i < t.NumField(); i++ {
		if Reloadable(t.Field(i).Tag.Get("toml")) {
			rv.Field(i).Set(nv.Field(i))
		}
	}
	return running
}
