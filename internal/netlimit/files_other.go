//go:build !unix

package netlimit

// FileLimit is 0 (unknown) where there is no RLIMIT_NOFILE (Windows):
// DefaultMax then assumes the usual 1024.
func FileLimit() (uint64, error) { return 0, nil }
