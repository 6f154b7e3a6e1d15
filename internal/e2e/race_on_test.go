//go:build race

package e2e

// raceEnabled reports whether the test binary was built with -race; the
// binary test then builds assent with -race too, which reuses the
// race-instrumented packages the test build has just compiled.
const raceEnabled = true
