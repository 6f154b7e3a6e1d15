package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/authproxy"
	"github.com/assent-auth/assent/internal/authproxy/cfg"
	"github.com/assent-auth/assent/internal/buildinfo"
)

func newAuthproxyCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "authproxy",
		Short: "Run the authentication proxy: RADIUS from VPNs, second factor through the Auth API",
		Long: `Run the authentication proxy from a Duo Authentication Proxy authproxy.cfg.

VPNs and network devices send RADIUS to the proxy; it checks the password
against Active Directory/LDAP ([ad_client]) or another RADIUS server
([radius_client]), then asks the Auth API at api_host (Assent, or Duo's
cloud) for the second factor. The file is read unchanged; every problem in
it is reported at once, before any socket is opened.

  assent authproxy --config /etc/assent/authproxy.cfg          # run (SIGTERM stops it)
  assent authproxy check --config /etc/assent/authproxy.cfg    # validate and test connectivity

See docs/vpn-ivanti.md, docs/vpn-radius.md and docs/authproxy-config.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAuthproxy(cmd, e) },
	}
	// Shadows the root's --config (the server's TOML file) for this command
	// and its subcommands: here it is the authproxy.cfg.
	cmd.PersistentFlags().String("config", "", "authproxy.cfg (Duo Authentication Proxy format)")
	run := &cobra.Command{
		Use:   "run",
		Short: "Run the proxy (the default)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runAuthproxy(cmd, e) },
	}
	check := &cobra.Command{
		Use:   "check",
		Short: "Validate authproxy.cfg and test the Auth API, LDAP and RADIUS servers and the listen ports",
		Long: `Validate authproxy.cfg, then test connectivity: for every server section the
Auth API ping (with the clock drift, which must stay under 60 s) and check
(the ikey/skey are accepted); for every ad_client host a connection, the
service-account bind and a search; for every radius_client host a
Status-Server request; and that every listen port can be bound (so run it
while the proxy is stopped, or expect those rows to fail). It also shows, for
every client network (radius_ip_N), whether requests must carry a
Message-Authenticator and which setting decided it (informational rows).

The exit status is 0 only when the file is valid and every test passed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return checkAuthproxy(cmd, e) },
	}
	check.Flags().Bool("json", false, "print the results as JSON")
	check.Flags().Duration("timeout", 10*time.Second, "time limit of each test")
	cmd.AddCommand(run, check)
	return cmd
}

// loadProxyConfig reads --config, printing warnings to stderr. On an
// invalid file the error lists every problem.
func loadProxyConfig(cmd *cobra.Command, e *env) (*cfg.Config, []cfg.Warning, error) {
	path, _ := cmd.Flags().GetString("config")
	if path == "" {
		return nil, nil, errors.New("authproxy: --config authproxy.cfg is required")
	}
	c, warnings, err := authproxy.Load(path)
	for _, w := range warnings {
		fmt.Fprintln(e.stderr, "warning:", w.String())
	}
	if err != nil {
		return nil, warnings, err
	}
	if err := authproxy.Validate(c); err != nil {
		return nil, warnings, fmt.Errorf("%s: %w", path, err)
	}
	return c, warnings, nil
}

func runAuthproxy(cmd *cobra.Command, e *env) error {
	// SIGHUP would end the process by default. The proxy has no
	// certificate of its own to reload (it serves RADIUS; its TLS is as a
	// client), and its listeners, secrets and servers are set up once, so
	// it keeps running as it is and says that a restart applies changes.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	done := make(chan struct{})
	defer close(done)
	go func() {
		log := slog.New(slog.NewTextHandler(e.stderr, nil))
		for {
			select {
			case <-done:
				return
			case <-hup:
				log.Warn("SIGHUP: the authentication proxy does not reload its configuration; restart it to apply changes to authproxy.cfg (it keeps running unchanged)")
			}
		}
	}()
	c, _, err := loadProxyConfig(cmd, e)
	if err != nil {
		return err
	}
	return authproxy.Run(cmd.Context(), c, authproxy.Options{Stderr: e.stderr, Version: buildinfo.Read().Version})
}

// checkReport is the JSON form of `authproxy check`.
type checkReport struct {
	Config   string                  `json:"config"`
	Valid    bool                    `json:"valid"`
	Problems []string                `json:"problems,omitempty"`
	Warnings []string                `json:"warnings,omitempty"`
	Results  []authproxy.CheckResult `json:"results"`
	OK       bool                    `json:"ok"`
}

func checkAuthproxy(cmd *cobra.Command, e *env) error {
	asJSON, _ := cmd.Flags().GetBool("json")
	timeout, _ := cmd.Flags().GetDuration("timeout")
	path, _ := cmd.Flags().GetString("config")
	rep := checkReport{Config: path, Results: []authproxy.CheckResult{}}

	c, warnings, err := loadProxyConfig(cmd, e)
	for _, w := range warnings {
		rep.Warnings = append(rep.Warnings, w.String())
	}
	if err != nil {
		var ce *cfg.Errors
		if errors.As(err, &ce) {
			for _, p := range ce.Problems {
				rep.Problems = append(rep.Problems, p.String())
			}
		} else {
			rep.Problems = append(rep.Problems, err.Error())
		}
		if asJSON {
			_ = printJSON(e.stdout, rep)
		}
		return err
	}
	rep.Valid = true
	rep.Results = authproxy.Check(cmd.Context(), c, authproxy.CheckOptions{Timeout: timeout})
	rep.OK = authproxy.AllOK(rep.Results)
	if asJSON {
		if err := printJSON(e.stdout, rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stdout, "%s: configuration valid (%d server section(s))\n\n", path, len(c.Servers))
		rows := make([][]string, 0, len(rep.Results))
		for _, r := range rep.Results {
			res := "ok"
			if !r.OK {
				res = "FAIL"
			}
			rows = append(rows, []string{r.Check, r.Section, r.Target, res, fmt.Sprintf("%.0fms", r.Seconds*1000), oneLine(r.Detail)})
		}
		if err := table(e.stdout, []string{"CHECK", "SECTION", "TARGET", "RESULT", "TIME", "DETAIL"}, rows); err != nil {
			return err
		}
	}
	if !rep.OK {
		failed := 0
		for _, r := range rep.Results {
			if !r.OK {
				failed++
			}
		}
		return fmt.Errorf("authproxy check: %d of %d tests failed", failed, len(rep.Results))
	}
	if !asJSON {
		fmt.Fprintln(e.stdout, "\nall tests passed")
	}
	return nil
}

// oneLine keeps table rows on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
