//go:build unix

package netlimit

import (
	"fmt"
	"syscall"
)

// FileLimit is the process's open-files limit (the soft RLIMIT_NOFILE,
// which the Go runtime raises to the hard limit at start).
func FileLimit() (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, fmt.Errorf("read the open-files limit: %w", err)
	}
	return r.Cur, nil
}
