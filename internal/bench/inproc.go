package bench

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/assent-auth/assent/internal/app"
	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/config"
	"github.com/assent-auth/assent/internal/device"
	"github.com/assent-auth/assent/internal/server"
	"github.com/assent-auth/assent/internal/store"
)

// AssentOptions configure an in-process server.
type AssentOptions struct {
	// Dir is the data directory; empty means a temporary one, removed by Close.
	Dir string
	// Username is the user to create; default "bench".
	Username string
	// Device gives the user an activated device, for pushes.
	Device bool
	// LogLevel of the server's log, which is formatted like `assent serve`'s
	// and then discarded; default "info", the server's default, so the
	// access-log cost is included.
	LogLevel string
	// LogTo receives the server log instead of being discarded.
	LogTo io.Writer
	// PushTimeout is how long pushes wait (default: the server's, 60 s).
	PushTimeout time.Duration
}

// Assent is an Assent server running in this process on 127.0.0.1 with a
// fresh data directory (SQLite), an Auth API integration and a user with
// an unlimited-use bypass code.
type Assent struct {
	App      *app.App
	Host     string // "127.0.0.1:PORT", the API hostname
	CAFile   string
	IKey     string
	SKey     string
	Username string
	Passcode string // an unlimited-use bypass code of Username
	// Device is an activated device of Username (AssentOptions.Device),
	// activated over HTTPS like a phone; DeviceID is its ID.
	Device   *device.Client
	DeviceID string

	tmp  string
	stop context.CancelFunc
	done chan error
}

// StartAssent starts an in-process server (config → app.Open → server.New
// → Serve) and creates the fixtures.
func StartAssent(ctx context.Context, o AssentOptions) (_ *Assent, err error) {
	a := &Assent{Username: o.Username}
	if a.Username == "" {
		a.Username = "bench"
	}
	dir := o.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "assent-bench-"); err != nil {
			return nil, err
		}
		a.tmp = dir
	}
	defer func() {
		if err != nil && a.tmp != "" {
			_ = os.RemoveAll(a.tmp)
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a.Host = ln.Addr().String()
	flags := map[string]string{
		"data_dir":        dir,
		"listen":          a.Host,
		"public_hostname": a.Host,
		"log_level":       "info",
		// Benchmarks push thousands of times to one user and check one
		// user's passcode from many connections at once: they measure
		// throughput, not the rate limits.
		"rate_limit_pushes_per_user":            "off",
		"rate_limit_passcode_failures_per_user": "off",
		"rate_limit_passcode_failures_per_ip":   "off",
		// Unanswered pushes in a row would start the push cool-down.
		"push_cooldown_after": "0",
		// The load comes from one address and may hold more requests
		// than a production server would.
		"max_connections_per_ip": "0",
		"max_held_requests":      strconv.Itoa(MaxPushes),
	}
	if o.LogLevel != "" {
		flags["log_level"] = o.LogLevel
	}
	if o.PushTimeout > 0 {
		flags["push_timeout"] = o.PushTimeout.String()
	}
	cfg, err := config.Load(config.Sources{Flags: flags})
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	logTo := o.LogTo
	if logTo == nil {
		logTo = io.Discard
	}
	logger := slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: lvl}))
	a.App, err = app.Open(ctx, cfg, logger, app.Create())
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	srv, err := server.New(a.App)
	if err != nil {
		_ = ln.Close()
		_ = a.App.Close()
		return nil, err
	}
	a.CAFile = srv.CAFile
	serveCtx, stop := context.WithCancel(context.Background())
	a.stop, a.done = stop, make(chan error, 1)
	go func() { a.done <- srv.Serve(serveCtx, ln) }()
	defer func() {
		if err != nil {
			_ = a.Close()
		}
	}()

	core := a.App.Core
	in, skey, err := core.CreateIntegration(ctx, auth.NewIntegration{Name: "bench", Type: store.TypeAuthAPI})
	if err != nil {
		return nil, err
	}
	a.IKey, a.SKey = in.IKey, skey
	if _, err := core.CreateUser(ctx, a.Username); err != nil {
		return nil, err
	}
	codes, err := core.IssueBypassCodes(ctx, a.Username, auth.NewBypassCodes{Count: 1, Uses: 0})
	if err != nil {
		return nil, err
	}
	a.Passcode = codes.Codes[0]
	if o.Device {
		tlsCfg, err := a.TLSConfig()
		if err != nil {
			return nil, err
		}
		enroll := NewClient(1, tlsCfg, 30*time.Second)
		a.Device, err = ActivateOverHTTPS(ctx, a.Duo(enroll), a.Username, a.CAFile, NewClient(2, tlsCfg, 30*time.Second))
		CloseClient(enroll)
		if err != nil {
			return nil, err
		}
		a.DeviceID = a.Device.PKey
	}
	return a, nil
}

// TLSConfig is a client configuration trusting the server's local CA.
func (a *Assent) TLSConfig() (*tls.Config, error) { return TLSConfig(a.CAFile, false) }

// Duo returns a signing client for the server that sends through c.
func (a *Assent) Duo(c *http.Client) *Duo {
	return &Duo{Host: a.Host, IKey: a.IKey, SKey: a.SKey, Client: c}
}

// Close stops the server, closes the installation and removes a
// temporary data directory.
func (a *Assent) Close() error {
	var errs []error
	if a.Device != nil {
		CloseClient(a.Device.HTTPClient)
	}
	if a.stop != nil {
		a.stop()
		select {
		case err := <-a.done:
			errs = append(errs, err)
		case <-time.After(30 * time.Second):
			errs = append(errs, errors.New("bench: in-process server did not stop"))
		}
		a.stop = nil
	}
	if a.App != nil {
		errs = append(errs, a.App.Close())
		a.App = nil
	}
	if a.tmp != "" {
		errs = append(errs, os.RemoveAll(a.tmp))
		a.tmp = ""
	}
	return errors.Join(errs...)
}

// PendingCount is how many pushes wait for the device's answer.
func (a *Assent) PendingCount(ctx context.Context) (int, error) {
	list, err := a.App.Store.ListPendingTransactions(ctx, a.DeviceID, time.Now())
	return len(list), err
}

// ActivateDevice enrolls a device for username through the core (an
// activation code, then the device's activation with a fresh RSA-2048
// key, as a phone would do) and returns its ID.
func ActivateDevice(ctx context.Context, core *auth.Service, username string) (string, error) {
	e, err := core.Enroll(ctx, auth.EnrollRequest{Username: username})
	if err != nil {
		return "", err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", err
	}
	act, err := core.Activate(ctx, auth.ActivateRequest{
		Code:      e.Code,
		PublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		Name:      "assent bench " + strconv.FormatInt(time.Now().Unix(), 10),
		Platform:  "bench",
	})
	if err != nil {
		return "", fmt.Errorf("activate a device for %s: %w", username, err)
	}
	return act.Device.ID, nil
}
