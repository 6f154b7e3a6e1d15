package duosig

import (
	"net/url"
	"testing"
)

// Run with: go test -run '^$' -bench . -benchmem ./internal/duosig
// (BenchmarkVerify is in fuzz_test.go, next to the client shapes it signs).

func BenchmarkParseAuthorization(b *testing.B) {
	h := Authorization(testIKey, Sign(SHA512, testSKey, "x"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseAuthorization(h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCanonParams(b *testing.B) {
	q := url.Values{"username": {"alice"}, "factor": {"passcode"}, "passcode": {"123456789"}, "ipaddr": {"192.0.2.10"}}
	b.ReportAllocs()
	for b.Loop() {
		_ = CanonParams(q)
	}
}
