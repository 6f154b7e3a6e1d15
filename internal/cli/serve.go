package cli

import (
	"github.com/spf13/cobra"

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
https://127.0.0.1:8443 and stops gracefully on SIGTERM or Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := openApp(cmd, e, false)
			if err != nil {
				return err
			}
			defer a.Close()
			s, err := server.New(a)
			if err != nil {
				return err
			}
			return s.Run(cmd.Context())
		},
	}
	addServerFlags(cmd)
	return cmd
}
