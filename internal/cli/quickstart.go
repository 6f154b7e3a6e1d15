package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/app"
	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/server"
	"github.com/assent-auth/assent/internal/store"
)

const quickstartIntegration = "Quickstart"

func newQuickstartCmd(e *env) *cobra.Command {
	var username string
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "Start the server with an Auth API integration and a user with bypass codes, and show how to call it",
		Long: `Start Assent on the embedded default with everything needed to try it:
an Auth API integration named "Quickstart", a user (alice by default) with
five fresh single-use bypass codes, and the exact commands to call the Auth
API. Running it again reuses the integration and the user and issues new
codes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServer(cmd, e, func(a *app.App, s *server.Server) error {
				return printQuickstart(cmd.Context(), e, a, s.CAFile, username)
			})
		},
	}
	addServerFlags(cmd)
	cmd.Flags().StringVar(&username, "username", "alice", "the user to create")
	return cmd
}

// quickstartIntegrationKeys finds the Quickstart integration or creates it.
func quickstartIntegrationKeys(ctx context.Context, a *app.App) (ikey, skey string, err error) {
	list, err := a.Core.Integrations(ctx)
	if err != nil {
		return "", "", err
	}
	for _, in := range list {
		if in.Name == quickstartIntegration && in.Type == store.TypeAuthAPI {
			_, skey, err := a.Core.Integration(ctx, in.IKey)
			return in.IKey, skey, err
		}
	}
	in, skey, err := a.Core.CreateIntegration(ctx, auth.NewIntegration{Name: quickstartIntegration, Type: store.TypeAuthAPI})
	return in.IKey, skey, err
}

func printQuickstart(ctx context.Context, e *env, a *app.App, caFile, username string) error {
	ikey, skey, err := quickstartIntegrationKeys(ctx, a)
	if err != nil {
		return err
	}
	if _, err := a.Core.User(ctx, username); auth.IsKind(err, auth.KindNotFound) {
		if _, err := a.Core.CreateUser(ctx, username); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	codes, err := a.Core.IssueBypassCodes(ctx, username, auth.NewBypassCodes{Count: 5, Uses: 1})
	if err != nil {
		return err
	}
	host := a.Config.PublicHostname
	ca := caFile
	if ca == "" {
		ca = "<the CA that issued " + a.Config.TLSCert + ">"
	} else if rel, err := filepath.Rel(".", ca); err == nil && !strings.HasPrefix(rel, "..") {
		ca = "./" + rel
	}
	bin := "assent"
	if strings.Contains(os.Args[0], "go-build") {
		bin = "go run ./cmd/assent"
	}
	hostOnly, port := host, "443"
	if i := strings.LastIndex(host, ":"); i > 0 && !strings.HasSuffix(host, "]") {
		hostOnly, port = host[:i], host[i+1:]
	}
	w := e.stdout
	fmt.Fprintf(w, `
Assent quickstart
=================
Server:          https://%[1]s  (listening on %[2]s)
Data directory:  %[3]s
CA certificate:  %[4]s  (clients must trust it)

Auth API integration %[5]q:
  integration key  %[6]s
  secret key       %[7]s
  API hostname     %[1]s

User %[8]s has five single-use bypass codes:
  %[9]s

Try it from another terminal; %[10]q signs requests like Duo's clients:

  export DUO_HOST=%[1]s DUO_IKEY=%[6]s DUO_SKEY=%[7]s
  %[10]s api --ca %[4]s GET /auth/v2/check
  %[10]s api --ca %[4]s POST /auth/v2/preauth username=%[8]s
  %[10]s api --ca %[4]s POST /auth/v2/auth username=%[8]s factor=passcode passcode=%[11]s

Or with Duo's own Python client (Debian: apt-get install python3-duo-client):

  /usr/bin/python3 -c 'import duo_client; a = duo_client.Auth(ikey="%[6]s", skey="%[7]s", host="%[12]s", port=%[13]s, ca_certs="%[4]s"); print(a.auth(factor="passcode", username="%[8]s", passcode="%[14]s"))'

Stop the server with Ctrl-C.

`, host, a.Config.Listen, a.Config.DataDir, ca, quickstartIntegration, ikey, skey, username,
		strings.Join(codes.Codes, "\n  "), bin, codes.Codes[0], hostOnly, port, codes.Codes[1])
	return nil
}
