package cli

import (
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/app"
	"github.com/assent-auth/assent/internal/config"
	"github.com/assent-auth/assent/internal/server"
)

func newServeCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Assent server (HTTPS: Auth API, device API, prompts)",
		Long: `Run the Assent server.

With no configuration it keeps everything in ./assent-data: an SQLite
database, a generated master key, and a local CA whose certificate
(./assent-data/tls/ca.pem) clients must trust. It listens on
https://127.0.0.1:8443.

SIGHUP reads the configuration again and applies the settings that can
change while the server runs (log_level, tls_cert and tls_key, which are
read again from disk, trusted_proxies, push_timeout, the rate limits)
without closing connections; any other changed setting is logged as
needing a restart, and a configuration with problems changes nothing.
SIGTERM or Ctrl-C stops accepting connections and lets requests held
for a device finish for up to shutdown_timeout before answering them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServer(cmd, e, nil)
		},
	}
	addServerFlags(cmd)
	return cmd
}

// runServer opens (or creates) the installation and runs the server until
// the command's context ends (SIGINT, SIGTERM), reloading on SIGHUP. before,
// if set, runs once the server is set up and before it listens.
func runServer(cmd *cobra.Command, e *env, before func(*app.App, *server.Server) error) error {
	// SIGHUP is caught from the start: by default it would end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	cfg, err := loadConfig(cmd, e)
	if err != nil {
		return err
	}
	level := new(slog.LevelVar)
	log := newLoggerLevel(cfg, e.stderr, level)
	a, err := app.Open(cmd.Context(), cfg, log, app.Create())
	if err != nil {
		return err
	}
	defer a.Close()
	s, err := server.New(a)
	if err != nil {
		return err
	}
	if before != nil {
		if err := before(a, s); err != nil {
			return err
		}
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case <-hup:
				reload(cmd, e, s, level, log)
			}
		}
	}()
	return s.Run(cmd.Context())
}

// reload reads the configuration again (file, environment as at start,
// flags) and hands it to the server; every problem is logged and the
// running configuration stays.
func reload(cmd *cobra.Command, e *env, s *server.Server, level *slog.LevelVar, log *slog.Logger) {
	log.Info("SIGHUP: reloading the configuration")
	next, err := loadConfig(cmd, e)
	if err == nil {
		err = s.Reload(next, level)
	}
	if err == nil {
		return
	}
	var cerrs config.Errors
	var rerr server.ReloadError
	switch {
	case errors.As(err, &cerrs):
		for _, p := range cerrs {
			log.Error("configuration not reloaded", "problem", p.String())
		}
	case errors.As(err, &rerr):
		for _, p := range rerr {
			log.Error("configuration not reloaded", "problem", p)
		}
	default:
		log.Error("configuration not reloaded", "problem", err.Error())
	}
	log.Error("configuration reload failed: the running configuration stays")
}
