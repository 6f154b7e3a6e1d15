package authproxy

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/assent-auth/assent/internal/authproxy/cfg"
	"github.com/assent-auth/assent/internal/authproxy/events"
)

// File names in log_dir, as the Duo proxy names them.
const (
	logFileName        = "authproxy.log"
	authEventsFileName = "authevents.log"
)

// Logging is where the proxy writes: the process log (slog, text or JSON)
// to stderr and/or log_dir/authproxy.log, and the optional auth-events
// file log_dir/authevents.log. Both files rotate by log_max_size and
// log_max_files.
type Logging struct {
	Logger *slog.Logger
	// AuthEvents is nil unless log_auth_events is on.
	AuthEvents *events.AuthLog
	// Sinks describes where the log goes, for the startup message.
	Sinks []string

	closers []io.Closer
}

// OpenLogging opens the sinks [main] asks for. stderr is the process's
// standard error (log_stdout writes there: a service manager captures it,
// and stdout stays free). With no sink enabled the log goes to stderr, so
// nothing is ever silently lost.
func OpenLogging(m cfg.Main, stderr io.Writer) (*Logging, error) {
	l := &Logging{}
	var writers []io.Writer
	if m.LogStdout {
		writers = append(writers, stderr)
		l.Sinks = append(l.Sinks, "stderr")
	}
	if m.LogFile || m.LogAuthEvents {
		if err := os.MkdirAll(m.LogDir, 0o750); err != nil {
			return nil, fmt.Errorf("log_dir: %w", err)
		}
	}
	if m.LogFile {
		path := filepath.Join(m.LogDir, logFileName)
		f, err := events.OpenRotating(path, m.LogMaxSize, m.LogMaxFiles)
		if err != nil {
			_ = l.Close()
			return nil, fmt.Errorf("log_file: %w", err)
		}
		l.closers = append(l.closers, f)
		writers = append(writers, f)
		l.Sinks = append(l.Sinks, path)
	}
	if m.LogSyslog {
		w, err := openSyslog(m.SyslogFacility)
		if err != nil {
			_ = l.Close()
			return nil, fmt.Errorf("log_syslog: %w", err)
		}
		l.closers = append(l.closers, w)
		writers = append(writers, w)
		l.Sinks = append(l.Sinks, "syslog "+m.SyslogFacility)
	}
	if len(writers) == 0 {
		writers = append(writers, stderr)
		l.Sinks = append(l.Sinks, "stderr")
	}
	if m.LogAuthEvents {
		path := filepath.Join(m.LogDir, authEventsFileName)
		f, err := events.OpenRotating(path, m.LogMaxSize, m.LogMaxFiles)
		if err != nil {
			_ = l.Close()
			return nil, fmt.Errorf("log_auth_events: %w", err)
		}
		l.closers = append(l.closers, f)
		l.AuthEvents = events.NewAuthLog(f)
		l.Sinks = append(l.Sinks, path+" (auth events)")
	}
	var w io.Writer = writers[0]
	if len(writers) > 1 {
		w = io.MultiWriter(writers...)
	}
	l.Logger = NewLogger(w, m.LogFormat, m.Debug)
	return l, nil
}

// NewLogger is a slog logger in the configured format: "json" or text.
func NewLogger(w io.Writer, format string, debug bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if debug {
		opts.Level = slog.LevelDebug
	}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Close closes the log files.
func (l *Logging) Close() error {
	var errs []error
	for _, c := range l.closers {
		errs = append(errs, c.Close())
	}
	l.closers = nil
	return errors.Join(errs...)
}
