//go:build race

package e2e

// raceEnabled: the assent binary is built with -race too.
const raceEnabled = true
