// Command websdk is a small example web application with a two-step login:
// a password form, then Duo Web SDK v2's second step served by Assent.
//
// It shows what any Web SDK v2 application does, in Go with pkg/duoweb:
// sign a request for the user who passed the password step
// (duoweb.SignRequest), render a page with an iframe that Duo-Web-v2.js
// points at Assent's /frame/web/v1/auth, and verify the sig_response the
// page posts back (duoweb.VerifyResponse) before logging the user in.
//
// It is a demonstration: users and passwords come from --user flags (or a
// built-in demo user), sessions live in memory. See README.md.
//
//	go run ./examples/websdk --assent localhost:8443 --ikey DI… --skey … --ca assent-data/tls/ca.pem
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// demoUser is who can log in when no --user is given.
const (
	demoUser     = "alice"
	demoPassword = "correct horse battery staple"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "websdk:", err)
		os.Exit(1)
	}
}

// userFlags collects repeated --user name:password flags.
type userFlags map[string]string

func (u userFlags) String() string { return fmt.Sprint(len(u), " users") }

func (u userFlags) Set(v string) error {
	name, pw, ok := strings.Cut(v, ":")
	if !ok || name == "" || pw == "" {
		return errors.New("want name:password")
	}
	if strings.Contains(name, "|") {
		return errors.New("a username cannot contain |")
	}
	u[name] = pw
	return nil
}

// options are the command line.
type options struct {
	listen, assent, ikey, skey, akey, ca string
	users                                userFlags
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{users: userFlags{}}
	fs := flag.NewFlagSet("websdk", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address to serve the example application on (plain HTTP: a demo on loopback)")
	fs.StringVar(&o.assent, "assent", os.Getenv("ASSENT_HOST"), "Assent's API hostname as host:port, e.g. localhost:8443 (the iframe loads https://HOST/frame/web/v1/auth); env ASSENT_HOST")
	fs.StringVar(&o.ikey, "ikey", os.Getenv("ASSENT_IKEY"), "integration key of a websdk integration; env ASSENT_IKEY")
	fs.StringVar(&o.skey, "skey", os.Getenv("ASSENT_SKEY"), "its secret key; env ASSENT_SKEY (keeps it out of the process list)")
	fs.StringVar(&o.akey, "akey", os.Getenv("WEBSDK_AKEY"), "the application's own secret, at least 40 characters; env WEBSDK_AKEY; default: random at each start")
	fs.StringVar(&o.ca, "ca", "", "Assent's CA certificate (assent-data/tls/ca.pem) to check at startup that Assent answers; your browser must trust it too")
	fs.Var(o.users, "user", "a user as name:password (repeatable); default: the demo user "+demoUser)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.assent == "" || o.ikey == "" || o.skey == "" {
		return o, errors.New("--assent, --ikey and --skey are required (see README.md)")
	}
	if o.akey == "" {
		o.akey = randomHex(32)
	}
	if len(o.users) == 0 {
		o.users[demoUser] = demoPassword
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	a, err := newApp(config{
		AssentHost: o.assent, IKey: o.ikey, SKey: o.skey, AKey: o.akey, Users: o.users, Logger: log,
	})
	if err != nil {
		return err
	}
	if o.ca != "" {
		if err := checkAssent(ctx, o.assent, o.ca); err != nil {
			log.Warn("Assent does not answer yet; the second step will fail until it does", "err", err)
		} else {
			log.Info("Assent answers", "host", o.assent)
		}
	}

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.listen, err)
	}
	fmt.Fprintf(stdout, "Example application on http://%s/\n", ln.Addr())
	if _, demo := o.users[demoUser]; demo && o.users[demoUser] == demoPassword {
		fmt.Fprintf(stdout, "Demo user: %s / %s\n", demoUser, demoPassword)
	}
	fmt.Fprintf(stdout, "Your browser must trust Assent's CA for https://%s (see README.md).\n", o.assent)

	hs := &http.Server{Handler: a, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}

// checkAssent calls Assent's unsigned /auth/v2/ping through its CA, so a
// wrong host or CA shows up at startup rather than as a blank iframe.
func checkAssent(ctx context.Context, host, caFile string) error {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer c.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/auth/v2/ping", nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /auth/v2/ping: HTTP %d", resp.StatusCode)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
