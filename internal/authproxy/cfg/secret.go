package cfg

import (
	"fmt"
	"io"
	"log/slog"
)

// Secret holds a shared secret or password from the file. Every way of
// printing it (fmt verbs, slog, JSON, text marshalling) shows a
// placeholder, so a Config can be logged whole; Reveal gives the value.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether the secret is non-empty.
func (s Secret) IsSet() bool { return s != "" }

// Format implements fmt.Formatter for every verb, including %#v and %x.
func (s Secret) Format(f fmt.State, _ rune) {
	if s == "" {
		_, _ = io.WriteString(f, `""`)
		return
	}
	_, _ = io.WriteString(f, redacted)
}

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements encoding.TextMarshaler (and so JSON).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// The types holding secrets format themselves with %v whatever the verb:
// for a verb that does not fit a field (%s on a bool, %d on a string) fmt
// enters an error path that prints nested values without calling their
// methods, which would bypass Secret's redaction.

func (c ADClient) Format(f fmt.State, verb rune) {
	type plain ADClient
	formatPlain(f, plain(c))
}

func (c RadiusClient) Format(f fmt.State, verb rune) {
	type plain RadiusClient
	formatPlain(f, plain(c))
}

func (s Server) Format(f fmt.State, verb rune) {
	type plain Server
	formatPlain(f, plain(s))
}

func (n Network) Format(f fmt.State, verb rune) {
	type plain Network
	formatPlain(f, plain(n))
}

func formatPlain(f fmt.State, v any) {
	format := "%v"
	switch {
	case f.Flag('#'):
		format = "%#v"
	case f.Flag('+'):
		format = "%+v"
	}
	_, _ = fmt.Fprintf(f, format, v)
}
