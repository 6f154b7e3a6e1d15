package cli

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/config"
	"github.com/assent-auth/assent/internal/tlsutil"
)

func newCACmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Manage the local CA: create it, issue server certificates, move its key off the server, show it",
		Long: `Manage Assent's local certificate authority (<data_dir>/tls).

The CA may certify only the server's configured names (public_hostname,
alt_hostnames, localhost and the loopback addresses): its certificate
carries critical name constraints that clients enforce. It lives three
years; the server issues itself 30-day certificates and renews them while
running. To keep the CA key off the server, export it (ca export
--remove-key) and issue server certificates where you keep it (ca issue).

These commands read the configuration (--config, ASSENT_*, flags) for the
names; give them the same configuration as the server.`,
	}
	cmd.AddCommand(newCACreateCmd(e), newCAIssueCmd(e), newCAExportCmd(e), newCAShowCmd(e))
	return cmd
}

// caNames loads the configuration and returns it with the names to
// certify: the configured ones plus extra.
func caNames(cmd *cobra.Command, e *env, extra []string) (config.Config, tlsutil.Names, error) {
	cfg, err := loadConfig(cmd, e)
	if err != nil {
		return config.Config{}, tlsutil.Names{}, err
	}
	names, err := tlsutil.NamesFor(append(cfg.Hostnames(), extra...))
	if err != nil {
		return config.Config{}, tlsutil.Names{}, fmt.Errorf("--name: %w", err)
	}
	return cfg, names, nil
}

func newCACreateCmd(e *env) *cobra.Command {
	var dir string
	var extra []string
	var force bool
	cmd := &cobra.Command{
		Use:   "create [--dir DIR] [--name NAME]... [--force]",
		Short: "Create a new local CA constrained to the configured names (and any --name)",
		Long: `Create a new local CA that may certify only the configured names, localhost,
127.0.0.1, ::1 and every --name. By default it goes into the data
directory's tls/ with a fresh server certificate, which a running server
serves within an hour. With --dir it goes into DIR instead, for a CA whose
key you keep on another machine (then see ca issue).

An existing CA is replaced only with --force: every client must then trust
the new ca.pem.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, names, err := caNames(cmd, e, extra)
			if err != nil {
				return err
			}
			target, inDataDir := cfg.TLSDir(), dir == ""
			if !inDataDir {
				target = dir
			}
			now := time.Now()
			_, oldErr := tlsutil.LoadCA(target)
			replacing := !errors.Is(oldErr, tlsutil.ErrNoCA)
			ca, err := tlsutil.CreateCA(target, names, now, tlsutil.CreateOptions{Replace: force})
			if errors.Is(err, tlsutil.ErrCAExists) {
				return fmt.Errorf("a CA already exists in %s and clients may trust it; to replace it add --force "+
					"(every client must then trust the new %s)", target, tlsutil.CACertFile)
			}
			if err != nil {
				return err
			}
			w := e.stdout
			fmt.Fprintf(w, "Created a local CA in %s, valid until %s.\nIt may certify only: %s\n\n",
				target, day(ca.Cert.NotAfter), strings.Join(names.List(), ", "))
			fmt.Fprintf(w, "  certificate  %s  (clients trust this)\n  private key  %s  (keep it secret)\n\n", ca.CertFile, ca.KeyFile)
			if inDataDir {
				leaf, err := ca.Issue(target, names, now, tlsutil.LeafValidity)
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "Issued a server certificate valid until %s; a running server serves it within an hour "+
					"(restart it to serve it at once) and renews it on its own.\n", day(leaf.NotAfter))
			} else {
				fmt.Fprintf(w, "To serve from it, issue a server certificate with `assent ca issue --ca-dir %s` "+
					"(--out DIR to write it elsewhere) and put ca.pem, server.pem and server-key.pem into the server's <data_dir>/tls/.\n", target)
			}
			if replacing {
				fmt.Fprintf(w, "This CA replaces the previous one, which no longer works: every client must now trust the new %s "+
					"(pam_duo's cafile, duo_client's ca_certs, the Windows root store, …).\n", ca.CertFile)
			} else {
				fmt.Fprintf(w, "Clients must trust %s (pam_duo's cafile, duo_client's ca_certs, the Windows root store, …).\n", ca.CertFile)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "create the CA in DIR instead of <data_dir>/tls (to keep its key on another machine)")
	f.StringArrayVar(&extra, "name", nil, "another host name or IP address the CA may certify; repeatable")
	f.BoolVar(&force, "force", false, "replace an existing CA (its clients must then trust the new one)")
	return cmd
}

func newCAIssueCmd(e *env) *cobra.Command {
	var caDir, out string
	var extra []string
	var days int
	cmd := &cobra.Command{
		Use:   "issue --ca-dir DIR [--name NAME]... [--days 30] [--out DIR]",
		Short: "Issue a server certificate from a CA kept outside the data directory",
		Long: `Issue a server certificate for the configured names (and every --name) from
the CA in --ca-dir, for a server whose CA key is kept elsewhere. It writes
server.pem, server-key.pem and the CA's ca.pem into --out (default: the data
directory's tls/, where a running server picks them up within an hour).
Names outside the CA's constraints are refused. The server cannot renew this
certificate itself; it warns 10 days before it expires.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, names, err := caNames(cmd, e, extra)
			if err != nil {
				return err
			}
			validity := time.Duration(days) * 24 * time.Hour
			if days < 1 || validity > tlsutil.MaxLeafValidity {
				return fmt.Errorf("--days must be between 1 and %d", int(tlsutil.MaxLeafValidity.Hours()/24))
			}
			ca, err := tlsutil.LoadCA(caDir)
			switch {
			case errors.Is(err, tlsutil.ErrNoCA):
				return fmt.Errorf("no CA in %s (%s, %s); create one with `assent ca create --dir %s`", caDir, tlsutil.CACertFile, tlsutil.CAKeyFile, caDir)
			case err != nil:
				return err
			case ca.Key == nil:
				return fmt.Errorf("%s holds the CA certificate but not its key (%s): run this where the key is kept", caDir, tlsutil.CAKeyFile)
			}
			target := out
			if target == "" {
				target = cfg.TLSDir()
			}
			replacedCA, err := checkIssueTarget(target, ca)
			if err != nil {
				return err
			}
			now := time.Now()
			leaf, err := ca.Issue(target, names, now, validity)
			var nc *tlsutil.NotCoveredError
			if errors.As(err, &nc) {
				return fmt.Errorf("%w; create a CA that covers them with `assent ca create --dir %s --force --name NAME` "+
					"(clients must then trust the new %s)", err, caDir, tlsutil.CACertFile)
			}
			if err != nil {
				return err
			}
			files := tlsutil.FilesIn(target)
			caPEM, err := os.ReadFile(ca.CertFile)
			if err != nil {
				return err
			}
			if err := tlsutil.WriteFileAtomic(files.CACert, caPEM, 0o644); err != nil {
				return err
			}
			w := e.stdout
			fmt.Fprintf(w, "Issued a server certificate for %s, valid until %s:\n\n  certificate  %s\n  private key  %s\n  CA           %s\n\n",
				strings.Join(names.List(), ", "), day(leaf.NotAfter), files.Cert, files.Key, files.CACert)
			if target != cfg.TLSDir() {
				fmt.Fprintf(w, "Copy these three files into the server's <data_dir>/tls/ (server-key.pem with mode 0600).\n")
			}
			fmt.Fprintf(w, "A running server serves it within an hour (restart it to serve it at once). "+
				"Issue the next one before %s; the server warns 10 days before.\n", day(leaf.NotAfter))
			if replacedCA {
				fmt.Fprintf(w, "%s was another CA's certificate and now is this CA's: clients must trust it.\n", files.CACert)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&caDir, "ca-dir", "", "directory holding the CA's ca.pem and ca-key.pem (required)")
	f.StringVar(&out, "out", "", "where to write server.pem, server-key.pem and ca.pem (default <data_dir>/tls)")
	f.StringArrayVar(&extra, "name", nil, "another host name or IP address to certify; repeatable")
	f.IntVar(&days, "days", int(tlsutil.LeafValidity.Hours()/24), "validity in days (at most 397)")
	_ = cmd.MarkFlagRequired("ca-dir")
	return cmd
}

// checkIssueTarget refuses to put a certificate where another CA's key
// would replace it, and reports whether the CA certificate there changes.
func checkIssueTarget(target string, ca *tlsutil.CA) (replacedCA bool, err error) {
	there, err := tlsutil.LoadCA(target)
	switch {
	case errors.Is(err, tlsutil.ErrNoCA):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("%s: %w", target, err)
	case there.Cert.Equal(ca.Cert):
		return false, nil
	case there.Key != nil:
		return false, fmt.Errorf("%s holds the key of another CA (%s), with which the server would replace this certificate; "+
			"take that key off the server (`assent ca export --remove-key`) or write elsewhere with --out", target, there.CertFile)
	}
	return true, nil
}

func newCAExportCmd(e *env) *cobra.Command {
	var out string
	var removeKey bool
	cmd := &cobra.Command{
		Use:   "export --out DIR [--remove-key]",
		Short: "Copy the local CA (certificate and key) out of the data directory; --remove-key takes the key off the server",
		Long: `Copy ca.pem and ca-key.pem (mode 0600) from the data directory's tls/ into
DIR, for example removable media or the machine that will keep the CA.
With --remove-key the key is then deleted from the data directory, after
checking the copy: a stolen data directory can no longer sign anything. The
server then serves the certificate it has and cannot renew it; issue the
next ones with ` + "`assent ca issue --ca-dir DIR`" + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd, e)
			if err != nil {
				return err
			}
			return exportCA(e.stdout, cfg.TLSDir(), out, removeKey)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory to copy the CA into (required)")
	cmd.Flags().BoolVar(&removeKey, "remove-key", false, "delete the CA key from the data directory once the copy is checked")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func exportCA(w io.Writer, src, out string, removeKey bool) error {
	ca, err := tlsutil.LoadCA(src)
	switch {
	case errors.Is(err, tlsutil.ErrNoCA):
		return fmt.Errorf("no local CA in %s (the server creates one on first start)", src)
	case err != nil:
		return err
	case ca.Key == nil:
		return fmt.Errorf("the CA key is not in %s (already exported?): nothing to export", src)
	}
	if same, err := sameDir(src, out); err != nil {
		return err
	} else if same {
		return fmt.Errorf("--out %s is the data directory's own tls/ directory; choose another", out)
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", out, err)
	}
	for _, f := range []struct {
		name string
		perm os.FileMode
	}{{tlsutil.CACertFile, 0o644}, {tlsutil.CAKeyFile, 0o600}} {
		data, err := os.ReadFile(filepath.Join(src, f.name))
		if err != nil {
			return err
		}
		dst := filepath.Join(out, f.name)
		if existing, err := os.ReadFile(dst); err == nil && !bytes.Equal(existing, data) {
			return fmt.Errorf("%s already exists and holds something else (another CA?); choose another --out", dst)
		}
		if err := tlsutil.WriteFileAtomic(dst, data, f.perm); err != nil {
			return err
		}
	}
	// Check the copy before anything is removed: it must load as the same
	// CA with its key, byte for byte.
	cp, err := tlsutil.LoadCA(out)
	if err != nil {
		return fmt.Errorf("checking the copy in %s: %w", out, err)
	}
	keyOrig, err := os.ReadFile(ca.KeyFile)
	if err != nil {
		return err
	}
	keyCopy, err := os.ReadFile(cp.KeyFile)
	if err != nil {
		return err
	}
	if cp.Key == nil || !cp.Cert.Equal(ca.Cert) || !bytes.Equal(keyOrig, keyCopy) {
		return fmt.Errorf("the copy in %s is not the CA in %s; nothing was removed", out, src)
	}
	fmt.Fprintf(w, "Copied the local CA to %s:\n\n  certificate  %s\n  private key  %s  (mode 0600; keep it secret)\n\n", out, cp.CertFile, cp.KeyFile)
	if !removeKey {
		fmt.Fprintf(w, "The key is still in %s as well; add --remove-key to take it off the server.\n", src)
		return nil
	}
	if err := os.Remove(ca.KeyFile); err != nil {
		return fmt.Errorf("remove %s: %w", ca.KeyFile, err)
	}
	tlsutil.SyncDir(src)
	fmt.Fprintf(w, "Removed the CA key from %s after checking the copy.\n", src)
	until := "its current server certificate"
	if leaf, err := tlsutil.ReadCert(tlsutil.FilesIn(src).Cert); err == nil {
		until = "its current server certificate (valid until " + day(leaf.NotAfter) + ")"
	}
	fmt.Fprintf(w, "The server now serves %s and cannot renew it: before it expires, run `assent ca issue --ca-dir %s` "+
		"where you keep the key and put the files into %s (the server warns 10 days before).\n", until, out, src)
	return nil
}

// sameDir reports whether a and b name the same existing directory.
func sameDir(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}

// caShowJSON is what `ca show --json` prints.
type caShowJSON struct {
	Dir            string    `json:"dir"`
	CAFile         string    `json:"ca_file"`
	Subject        string    `json:"subject"`
	NotBefore      time.Time `json:"not_before"`
	NotAfter       time.Time `json:"not_after"`
	Expired        bool      `json:"expired"`
	KeyOnline      bool      `json:"key_online"`
	KeyFile        string    `json:"key_file"`
	NameConstraint bool      `json:"name_constrained"`
	PermittedNames []string  `json:"permitted_names"`
	// Uncovered are configured names the CA may not certify.
	Uncovered []string        `json:"uncovered_names,omitempty"`
	Server    *serverCertJSON `json:"server_certificate"`
	// TLSCert is set when the server serves tls_cert instead.
	TLSCert string `json:"tls_cert,omitempty"`
}

type serverCertJSON struct {
	File     string    `json:"file"`
	Names    []string  `json:"names"`
	NotAfter time.Time `json:"not_after"`
	Expired  bool      `json:"expired"`
	IssuedBy bool      `json:"issued_by_ca"`
}

func newCAShowCmd(e *env) *cobra.Command {
	var dir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "show [--dir DIR] [--json]",
		Aliases: []string{"status"},
		Short:   "Show the local CA (validity, name constraints, whether its key is online) and the server certificate",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, names, err := caNames(cmd, e, nil)
			if err != nil {
				return err
			}
			if dir == "" {
				dir = cfg.TLSDir()
			}
			ca, err := tlsutil.LoadCA(dir)
			if errors.Is(err, tlsutil.ErrNoCA) {
				msg := fmt.Sprintf("no local CA in %s (the server creates one on first start)", dir)
				if cfg.TLSCert != "" {
					fmt.Fprintf(e.stdout, "The server serves tls_cert %s; %s.\n", cfg.TLSCert, msg)
					return nil
				}
				return errors.New(msg)
			}
			if err != nil {
				return err
			}
			now := time.Now()
			out := caShowJSON{
				Dir: dir, CAFile: ca.CertFile, Subject: ca.Cert.Subject.String(),
				NotBefore: ca.Cert.NotBefore.UTC(), NotAfter: ca.Cert.NotAfter.UTC(), Expired: !now.Before(ca.Cert.NotAfter),
				KeyOnline: ca.Key != nil, KeyFile: ca.KeyFile,
				NameConstraint: ca.Constrained(), PermittedNames: ca.Permitted(), TLSCert: cfg.TLSCert,
			}
			if out.PermittedNames == nil {
				out.PermittedNames = []string{}
			}
			if ca.Constrained() {
				out.Uncovered = ca.Uncovered(names)
			}
			if leaf, err := tlsutil.ReadCert(tlsutil.FilesIn(dir).Cert); err == nil {
				out.Server = &serverCertJSON{File: tlsutil.FilesIn(dir).Cert, Names: certNames(leaf),
					NotAfter: leaf.NotAfter.UTC(), Expired: !now.Before(leaf.NotAfter), IssuedBy: ca.IssuedBy(leaf)}
			}
			if asJSON {
				return printJSON(e.stdout, out)
			}
			printCAShow(e.stdout, out, now)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "the CA directory to show (default <data_dir>/tls)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printCAShow(w io.Writer, s caShowJSON, now time.Time) {
	if s.TLSCert != "" {
		fmt.Fprintf(w, "The server serves tls_cert %s, not a certificate from this CA.\n\n", s.TLSCert)
	}
	key := "online: " + s.KeyFile
	if !s.KeyOnline {
		key = "offline (not in " + s.Dir + "); issue server certificates with `assent ca issue --ca-dir DIR`"
	}
	constraints := strings.Join(s.PermittedNames, ", ") + " (critical)"
	if !s.NameConstraint {
		constraints = "NONE: created by an older Assent, its key can impersonate any website; replace it with `assent ca create --force`"
	}
	fmt.Fprintf(w, "CA certificate  %s\n  subject       %s\n  valid         %s to %s (%s)\n  key           %s\n  may certify   %s\n",
		s.CAFile, s.Subject, day(s.NotBefore), day(s.NotAfter), left(s.NotAfter, now), key, constraints)
	if len(s.Uncovered) > 0 {
		fmt.Fprintf(w, "  NOT COVERED   %s: configured but outside the constraints; the server will not start (assent ca create --force)\n",
			strings.Join(s.Uncovered, ", "))
	}
	if s.Server == nil {
		fmt.Fprintf(w, "\nNo server certificate in %s.\n", s.Dir)
		return
	}
	issued := "yes"
	if !s.Server.IssuedBy {
		issued = "NO"
	}
	fmt.Fprintf(w, "\nServer certificate  %s\n  names             %s\n  valid until       %s (%s)\n  issued by the CA  %s\n",
		s.Server.File, strings.Join(s.Server.Names, ", "), day(s.Server.NotAfter), left(s.Server.NotAfter, now), issued)
}

func certNames(c *x509.Certificate) []string {
	out := append([]string{}, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

// day formats a certificate time as a UTC date and time.
func day(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") }

func left(t, now time.Time) string {
	d := t.Sub(now)
	if d <= 0 {
		return "EXPIRED"
	}
	return fmt.Sprintf("%d days left", int(d.Hours()/24))
}
