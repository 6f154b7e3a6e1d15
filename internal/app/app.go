// Package app opens what both the server and the administration commands
// need: the configured store, the master key and the auth core. The CLI may
// run beside a running server on the same data directory or database.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/config"
	"github.com/assent-auth/assent/internal/push"
	"github.com/assent-auth/assent/internal/secrets"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/store/sqlstore"
	"github.com/assent-auth/assent/internal/webauthnrp"
	"github.com/assent-auth/assent/internal/webpush"
	"github.com/assent-auth/assent/internal/yubiotp"
)

// Settings kept in the database.
const (
	settingKeyCheck    = "master_key_check"
	settingAPIHostname = "api_hostname"
)

// App is an opened Assent installation.
type App struct {
	Config config.Config
	Store  store.Store
	Box    *secrets.Box
	Core   *auth.Service
	Logger *slog.Logger
	Now    func() time.Time
	// WebPush wakes the Assent Authenticator on each push (Web Push).
	WebPush *webpush.Notifier

	closers []func() error
}

// Option tunes Open.
type Option func(*options)

type options struct {
	admin bool
	now   func() time.Time
}

// WithClock gives the installation a clock other than time.Now: tests use
// it to move time (rate-limit refills, expiries) without sleeping.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// ForAdministration opens the installation for an administration command:
// unless a public hostname was configured explicitly, the one the running
// server recorded is used, so activation codes and api_hostname name the
// server clients actually reach.
func ForAdministration() Option { return func(o *options) { o.admin = true } }

// Open opens the store and the master key named by cfg and checks that the
// key is the one the database was created with.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, opts ...Option) (*App, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var (
		st  *sqlstore.Store
		err error
	)
	if cfg.DatabaseURL != "" {
		st, err = sqlstore.OpenPostgres(ctx, cfg.DatabaseURL, sqlstore.WithLogger(log))
	} else {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory %s: %w", cfg.DataDir, err)
		}
		st, err = sqlstore.OpenSQLite(ctx, cfg.SQLitePath(), sqlstore.WithLogger(log))
	}
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	box, err := openKey(ctx, cfg, st, log)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	if o.admin && cfg.PublicHostnameDerived {
		if h, err := st.GetSetting(ctx, settingAPIHostname); err == nil && h != "" {
			cfg.PublicHostname = h
		}
	}
	a := &App{Config: cfg, Store: st, Box: box, Logger: log, Now: time.Now}
	if o.now != nil {
		a.Now = o.now
	}
	var broker auth.Broker = push.NewLocal()
	if cfg.DatabaseURL != "" {
		// Pushes answered on another node must wake requests waiting here.
		pg, err := push.NewPostgres(ctx, cfg.DatabaseURL, log)
		if err != nil {
			_ = st.Close()
			return nil, err
		}
		a.closers = append(a.closers, pg.Close)
		broker = pg
	}
	rp, err := webauthnrp.New(webauthnrp.Settings{Hostname: cfg.PublicHostname,
		UserVerification: cfg.WebAuthnUserVerification, Attestation: cfg.WebAuthnAttestation})
	var wa auth.WebAuthnRP
	if err != nil {
		// e.g. an IP address as public_hostname: everything else works.
		log.Warn("security keys and passkeys are off", "err", err)
	} else {
		wa = rp
	}
	// The VAPID subject is the app itself: push services reach the
	// operator through the server they run.
	a.WebPush = webpush.New(st, box, log, "https://"+cfg.PublicHostname+"/app/")
	a.WebPush.TTL = cfg.PushTimeout.Duration
	a.WebPush.Now = a.Now
	a.Core = auth.New(st, box, auth.Options{
		PushNotifier:        a.WebPush,
		WebAuthn:            wa,
		LockoutThreshold:    lockout(cfg.LockoutThreshold),
		EnrollPortalURL:     a.EnrollPortalURL,
		EnrollLinkTTL:       cfg.EnrollLinkTTL.Duration,
		AdminIdleTimeout:    cfg.ConsoleIdleTimeout.Duration,
		AdminSessionTimeout: cfg.ConsoleSessionLifetime.Duration,
		Now:                 a.Now,
		Logger:              log,
		APIHostname:         cfg.PublicHostname,
		Broker:              broker,
		PushTimeout:         cfg.PushTimeout.Duration,
		PushCooldownAfter:   cfg.PushCooldownAfter,
		PushCooldown:        cfg.PushCooldown.Duration,
		FraudLockout:        cfg.FraudLockout,
		TOTPIssuer:          cfg.TOTPIssuer,
		YubiKey:             yubiotp.Codec{},
		Limits: auth.Limits{
			PushesPerUser:             cfg.RateLimitPushesPerUser.Limit(),
			PasscodeFailuresPerUser:   cfg.RateLimitPasscodeFailuresPerUser.Limit(),
			PasscodeFailuresPerIP:     cfg.RateLimitPasscodeFailuresPerIP.Limit(),
			EnrollmentsPerIntegration: cfg.RateLimitEnrollmentsPerIntegration.Limit(),
		},
		MaxHeldRequests: cfg.MaxHeldRequests,
		// The config's 0 means "keep forever", the core's negative.
		RetainTransactions: keepForever(cfg.RetentionTransactions.Duration),
		RetainAuthLog:      cfg.RetentionAuthLog.Duration,
		PurgeInterval:      cfg.PurgeInterval.Duration,
	})
	return a, nil
}

// lockout maps the config's "0 disables" onto the core's "negative disables".
func lockout(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// keepForever maps the config's "0 keeps forever" onto the core's negative.
func keepForever(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// openKey loads the master key and checks it against the database.
func openKey(ctx context.Context, cfg config.Config, st store.Store, log *slog.Logger) (*secrets.Box, error) {
	var (
		key    []byte
		source string
		err    error
	)
	switch {
	case cfg.MasterKey != "":
		source = "master_key (ASSENT_MASTER_KEY)"
		key, err = secrets.ParseKey(cfg.MasterKey)
	case cfg.MasterKeyFile != "":
		source = cfg.MasterKeyFile
		key, _, err = secrets.LoadOrCreateKeyFile(cfg.MasterKeyFile)
	default:
		source = cfg.DefaultMasterKeyFile()
		var created bool
		key, created, err = secrets.LoadOrCreateKeyFile(source)
		if created {
			log.Info("generated a new master key", "file", source)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("master key from %s: %w", source, err)
	}
	box, err := secrets.New(key)
	if err != nil {
		return nil, fmt.Errorf("master key from %s: %w", source, err)
	}
	check, err := st.GetSetting(ctx, settingKeyCheck)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if err := st.PutSetting(ctx, settingKeyCheck, box.KeyCheck()); err != nil {
			return nil, fmt.Errorf("record master key check: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("read master key check: %w", err)
	case check != box.KeyCheck():
		return nil, fmt.Errorf("the master key from %s is not the one this database was created with; "+
			"give the original key (master_key_file, or ASSENT_MASTER_KEY on every node sharing the database)", source)
	}
	return box, nil
}

// Close closes the store and the broker.
func (a *App) Close() error {
	var errs []error
	for _, c := range a.closers {
		errs = append(errs, c())
	}
	errs = append(errs, a.Store.Close())
	return errors.Join(errs...)
}

// APIHostname is the hostname clients should use (see ForAdministration).
func (a *App) APIHostname() string { return a.Config.PublicHostname }

// RecordAPIHostname stores the server's public hostname so the CLI prints it.
func (a *App) RecordAPIHostname(ctx context.Context) error {
	return a.Store.PutSetting(ctx, settingAPIHostname, a.Config.PublicHostname)
}

// EnrollPortalURL is preauth's enroll_portal_url: the configured portal
// (with ?username=) when enroll_portal_url is set, else a single-use link
// to Assent's own portal.
func (a *App) EnrollPortalURL(ctx context.Context, username string) (string, error) {
	if base := a.Config.EnrollPortalURL; base != "" {
		u, err := url.Parse(base)
		if err != nil {
			return base, nil
		}
		q := u.Query()
		q.Set("username", username)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	token, _, err := a.Core.EnrollLinkToken(ctx, username)
	if err != nil {
		return "", err
	}
	return "https://" + a.Config.PublicHostname + "/portal/enroll/" + token, nil
}

// AdminSetupURL is the console page where a new administrator sets a
// password and an authenticator app with a one-time setup token.
func (a *App) AdminSetupURL(token string) string {
	return "https://" + a.Config.PublicHostname + "/admin/setup/" + token
}
