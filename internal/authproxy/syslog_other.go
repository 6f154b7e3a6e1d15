//go:build windows || plan9 || js || wasip1

package authproxy

import (
	"fmt"
	"io"
	"runtime"
)

// openSyslog fails: Go's log/syslog has no client for this system (there
// is no local syslog daemon on Windows). Use log_file or log_stdout.
func openSyslog(string) (io.WriteCloser, error) {
	return nil, fmt.Errorf("syslog is not available on %s; use log_file or log_stdout", runtime.GOOS)
}
