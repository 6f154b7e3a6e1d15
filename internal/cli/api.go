package cli

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/duosig"
)

// apiFlags are the connection settings of `assent api`.
type apiFlags struct {
	host, ikey, skey, ca string
	insecure             bool
	sigVersion           int
	sha1                 bool
	timeout              time.Duration
}

func newAPICmd(e *env) *cobra.Command {
	var f apiFlags
	cmd := &cobra.Command{
		Use:   "api METHOD PATH [key=value ...]",
		Short: "Send one signed request to a Duo-compatible API and print the answer",
		Long: `Send one request signed like Duo's clients do (HMAC, signature v2 or v5)
and print the JSON answer. Useful to try Assent or Duo from a shell:

  assent api --host localhost:8443 --ca assent-data/tls/ca.pem \
    --ikey DI… --skey … POST /auth/v2/auth username=alice factor=passcode passcode=123456789

The keys can also come from DUO_IKEY, DUO_SKEY and DUO_HOST. The exit status
is 0 for an HTTP 2xx answer with "stat": "OK", 1 otherwise.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAPI(cmd, e, f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.host, "host", "", "API hostname, host[:port] (env DUO_HOST)")
	fl.StringVar(&f.ikey, "ikey", "", "integration key (env DUO_IKEY)")
	fl.StringVar(&f.skey, "skey", "", "secret key (env DUO_SKEY; prefer it to the flag, which other users can see)")
	fl.StringVar(&f.ca, "ca", "", "PEM CA certificate to trust (e.g. assent-data/tls/ca.pem)")
	fl.BoolVar(&f.insecure, "insecure", false, "do not verify the server certificate (testing only)")
	fl.IntVar(&f.sigVersion, "sig-version", 2, "signature version: 1, 2, 4 or 5 (5 sends JSON bodies)")
	fl.BoolVar(&f.sha1, "sha1", false, "sign v1/v2 with HMAC-SHA1 instead of HMAC-SHA512")
	fl.DurationVar(&f.timeout, "timeout", 90*time.Second, "request timeout")
	return cmd
}

func getenv(environ []string, key string) string {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

func runAPI(cmd *cobra.Command, e *env, f apiFlags, args []string) error {
	for _, p := range []struct {
		v   *string
		env string
	}{{&f.host, "DUO_HOST"}, {&f.ikey, "DUO_IKEY"}, {&f.skey, "DUO_SKEY"}} {
		if *p.v == "" {
			*p.v = getenv(e.environ, p.env)
		}
		if *p.v == "" {
			return fmt.Errorf("--%s (or %s) is required", strings.ToLower(strings.TrimPrefix(p.env, "DUO_")), p.env)
		}
	}
	params := url.Values{}
	for i, kv := range args[2:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("parameter %d (%d characters) is not key=value", i+1, len(kv))
		}
		params.Add(k, v)
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: f.insecure} //nolint:gosec // --insecure is explicit
	if f.ca != "" {
		pem, err := os.ReadFile(f.ca)
		if err != nil {
			return fmt.Errorf("--ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--ca: %s holds no PEM certificate", f.ca)
		}
		tlsCfg.RootCAs = pool
	}
	digest := duosig.SHA512
	if f.sha1 {
		digest = duosig.SHA1
	}
	s := duosig.Signer{IKey: f.ikey, SKey: f.skey, Host: f.host, Version: f.sigVersion, Digest: digest}
	req, err := s.NewRequest(cmd.Context(), strings.ToUpper(args[0]), args[1], params)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: f.timeout, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	resp, err := client.Do(req)
	if err != nil {
		// A transport error names the URL; its query can hold a passcode.
		var ue *url.Error
		if errors.As(err, &ue) {
			if u, perr := url.Parse(ue.URL); perr == nil && u.RawQuery != "" {
				u.RawQuery = "[redacted]"
				ue.URL = u.String()
			}
		}
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		_, _ = e.stdout.Write(body)
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("HTTP %s", resp.Status)
		}
		return nil
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, body, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(body)
	}
	fmt.Fprintln(e.stdout, pretty.String())
	var env struct {
		Stat string `json:"stat"`
	}
	_ = json.Unmarshal(body, &env)
	if resp.StatusCode/100 != 2 || env.Stat != "OK" {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	return nil
}
