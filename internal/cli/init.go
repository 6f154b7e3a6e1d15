package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/app"
	"github.com/assent-auth/assent/internal/tlsutil"
)

func newInitCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create an installation: data directory, database, master key and local CA",
		Long: `Create an Assent installation where the configuration points: the data
directory (mode 0700, with a .gitignore when assent creates it), the SQLite
database or the schema in an empty PostgreSQL database (database_url), the
master key file (unless master_key is given), and, without tls_cert or
acme_directory, the local CA and the server certificate.

Every other command except serve and quickstart works on an existing
installation only, and fails naming what is missing instead of creating a
new, empty one. Running init on an existing installation changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd, e)
			if err != nil {
				return err
			}
			quiet := cfg
			if !cmd.Flags().Changed("log-level") {
				quiet.LogLevel = "warn"
			}
			log := newLogger(quiet, e.stderr)
			existed := true
			a, err := app.Open(cmd.Context(), cfg, log)
			if errors.Is(err, app.ErrNotInstalled) {
				existed = false
				a, err = app.Open(cmd.Context(), cfg, newLogger(cfg, e.stderr), app.Create())
			}
			if err != nil {
				return err
			}
			defer a.Close()
			w := e.stdout
			if existed {
				fmt.Fprintln(w, "An installation exists already; nothing changed.")
			} else {
				fmt.Fprintln(w, "Created a new installation.")
			}
			if cfg.DatabaseURL != "" {
				fmt.Fprintf(w, "Database:        PostgreSQL (database_url)\n")
			} else {
				fmt.Fprintf(w, "Data directory:  %s\nDatabase:        %s\n", cfg.DataDir, cfg.SQLitePath())
			}
			switch {
			case cfg.MasterKey != "":
				fmt.Fprintf(w, "Master key:      from master_key (ASSENT_MASTER_KEY)\n")
			case cfg.MasterKeyFile != "":
				fmt.Fprintf(w, "Master key:      %s\n", cfg.MasterKeyFile)
			default:
				fmt.Fprintf(w, "Master key:      %s\n", cfg.DefaultMasterKeyFile())
			}
			if cfg.TLSCert == "" && cfg.ACMEDirectory == "" {
				files, err := tlsutil.EnsureLocalCA(cfg.TLSDir(), cfg.Hostnames(), a.Now())
				if err != nil {
					return fmt.Errorf("local CA: %w", err)
				}
				fmt.Fprintf(w, "CA certificate:  %s  (clients must trust it)\n", files.CACert)
			}
			if !existed {
				fmt.Fprintln(w, "\nKeep a copy of the master key apart from the database: without it no stored secret can be read.")
			}
			return nil
		},
	}
	return cmd
}
