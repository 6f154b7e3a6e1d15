// Package cli defines the assent command tree. Commands parse flags, open
// what they need through the app package and print results as readable
// tables or, with --json, as JSON for scripts.
package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/assent-auth/assent/internal/app"
	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/buildinfo"
	"github.com/assent-auth/assent/internal/config"
)

// env holds the process environment a command runs in; tests set their own.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	environ        []string
}

// Main runs the command line and returns the exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, environ: os.Environ()}
	root := newRoot(e)
	root.SetArgs(args)
	// Changes made by commands are logged in the administrator log as made
	// by the operating-system user on this host.
	ctx = auth.WithActor(ctx, cliActor(e))
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "assent:", err)
		return 1
	}
	return 0
}

// cliActor names the CLI's user for the administrator log: "cli:" and
// user@host ($SUDO_USER, then $USER, then the uid).
func cliActor(e *env) auth.Actor {
	get := func(k string) string {
		for _, kv := range e.environ {
			if v, ok := strings.CutPrefix(kv, k+"="); ok {
				return v
			}
		}
		return ""
	}
	who := get("SUDO_USER")
	if who == "" {
		who = get("USER")
	}
	if who == "" {
		who = fmt.Sprintf("uid%d", os.Getuid())
	}
	host, _ := os.Hostname()
	return auth.Actor{Who: "cli:" + who + "@" + host}
}

// configFlags maps flag names to config keys; every command that opens the
// installation takes them.
var configFlags = map[string]string{
	"data-dir":        "data_dir",
	"database-url":    "database_url",
	"master-key-file": "master_key_file",
	"public-hostname": "public_hostname",
	"log-level":       "log_level",
	"log-format":      "log_format",
}

// serverFlags are taken by the commands that run the server.
var serverFlags = map[string]string{
	"listen":   "listen",
	"tls-cert": "tls_cert",
	"tls-key":  "tls_key",
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "assent",
		Short:         "Assent: self-hosted two-factor authentication that speaks Duo's protocols",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildinfo.Read().String(),
	}
	// --version prints the same as `assent version`.
	root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	pf := root.PersistentFlags()
	pf.String("config", "", "TOML configuration file (env ASSENT_CONFIG)")
	pf.String("data-dir", "", "data directory: SQLite database, master key, local CA (default ./assent-data)")
	pf.String("database-url", "", "PostgreSQL URL (postgres://…); default: SQLite in the data directory")
	pf.String("master-key-file", "", "file holding the master key (default <data-dir>/master.key)")
	pf.String("public-hostname", "", "API hostname clients use, host[:port] (default localhost:<listen port>)")
	pf.String("log-level", "", "debug, info, warn or error")
	pf.String("log-format", "", "text or json")
	root.AddCommand(
		newServeCmd(e),
		newQuickstartCmd(e),
		newIntegrationCmd(e),
		newUserCmd(e),
		newAPICmd(e),
		newDeviceCmd(e),
		newTokenCmd(e),
		newGroupCmd(e),
		newBenchCmd(e),
		newAuthproxyCmd(e),
		newCACmd(e),
		newLogCmd(e),
		newVersionCmd(e),
	)
	return root
}

func addServerFlags(cmd *cobra.Command) {
	cmd.Flags().String("listen", "", "HTTPS listen address (default 127.0.0.1:8443)")
	cmd.Flags().String("tls-cert", "", "PEM certificate (default: issued by Assent's local CA)")
	cmd.Flags().String("tls-key", "", "PEM private key for --tls-cert")
}

// loadConfig reads the config file, the environment and the flags the user
// set on cmd.
func loadConfig(cmd *cobra.Command, e *env) (config.Config, error) {
	src := config.Sources{Env: e.environ, Flags: map[string]string{}}
	file, _ := cmd.Flags().GetString("config")
	if file == "" {
		for _, kv := range e.environ {
			if v, ok := strings.CutPrefix(kv, "ASSENT_CONFIG="); ok {
				file = v
			}
		}
	}
	src.File = file
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if key, ok := configFlags[f.Name]; ok {
			src.Flags[key] = f.Value.String()
		} else if key, ok := serverFlags[f.Name]; ok {
			src.Flags[key] = f.Value.String()
		}
	})
	return config.Load(src)
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openApp loads the configuration and opens the installation. Administration
// commands log only warnings, to stderr, so their output stays clean.
func openApp(cmd *cobra.Command, e *env, quiet bool) (*app.App, error) {
	cfg, err := loadConfig(cmd, e)
	if err != nil {
		return nil, err
	}
	if quiet && !cmd.Flags().Changed("log-level") {
		cfg.LogLevel = "warn"
	}
	if quiet {
		return app.Open(cmd.Context(), cfg, newLogger(cfg, e.stderr), app.ForAdministration())
	}
	return app.Open(cmd.Context(), cfg, newLogger(cfg, e.stderr))
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // URIs keep their & (otpauth://…?secret=…&issuer=…)
	return enc.Encode(v)
}

// table prints rows under a header, aligned.
func table(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}
