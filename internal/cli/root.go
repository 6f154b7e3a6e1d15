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
// installation takes them. serverFlags are taken by the commands that run
// the server. Both come from the settings table (internal/config/settings.go).
var (
	configFlags = config.FlagKeys(config.CommonFlag)
	serverFlags = config.FlagKeys(config.ServeFlag)
)

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
	addConfigFlags(pf, config.CommonFlag)
	root.AddCommand(
		newInitCmd(e),
		newServeCmd(e),
		newQuickstartCmd(e),
		newIntegrationCmd(e),
		newUserCmd(e),
		newAPICmd(e),
		newDeviceCmd(e),
		newTokenCmd(e),
		newGroupCmd(e),
		newDirectoryCmd(e),
		newPolicyCmd(e),
		newTelephonyCmd(e),
		newAdminCmd(e),
		newBenchCmd(e),
		newAuthproxyCmd(e),
		newCACmd(e),
		newLogCmd(e),
		newConfigCmd(e),
		newMailCmd(e),
		newBackupCmd(e),
		newRestoreCmd(e),
		newBackupKeygenCmd(e),
		newMigrateDataCmd(e),
		newVersionCmd(e),
	)
	return root
}

func addServerFlags(cmd *cobra.Command) { addConfigFlags(cmd.Flags(), config.ServeFlag) }

// addConfigFlags defines the flags of the settings of one scope.
func addConfigFlags(fs *pflag.FlagSet, scope config.FlagScope) {
	for _, s := range config.Settings() {
		if s.Flag != "" && s.FlagScope == scope {
			fs.String(s.Flag, "", s.FlagUsage)
		}
	}
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
	return newLoggerLevel(cfg, w, new(slog.LevelVar))
}

// newLoggerLevel is newLogger with its level in level (set here to
// log_level), which the server changes on SIGHUP.
func newLoggerLevel(cfg config.Config, w io.Writer, level *slog.LevelVar) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	level.Set(lvl)
	opts := &slog.HandlerOptions{Level: level}
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
