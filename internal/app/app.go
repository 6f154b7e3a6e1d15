// Package app opens what both the server and the administration commands
// need: the configured store, the master key and the auth core. The CLI may
// run beside a running server on the same data directory or database.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/authevents"
	"github.com/assent-auth/assent/internal/config"
	"github.com/assent-auth/assent/internal/mail"
	"github.com/assent-auth/assent/internal/push"
	"github.com/assent-auth/assent/internal/secrets"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/store/sqlstore"
	"github.com/assent-auth/assent/internal/telephony/sipcall"
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
	// Broker wakes requests waiting for push answers (push.Local, or
	// push.Postgres across nodes).
	Broker auth.Broker
	// AuthEvents writes authentication events to auth_events_file and
	// auth_events_syslog; nil when neither is set, and for
	// administration commands.
	AuthEvents *authevents.Sink
	// Mail sends e-mail (mail.go); nil without smtp_server. MailQueue is
	// its queue in the server (nil for administration commands, which
	// send at once).
	Mail      *mail.Mailer
	MailQueue *mail.Queue
	// SIP places phone-callback calls; nil without sip_listen. Started by
	// StartTelephony (the server, assent telephony test-call).
	SIP      *sipcall.Caller
	sipPhone *sipPhone // the core's PhoneCaller over SIP

	closers []func() error
}

// Option tunes Open.
type Option func(*options)

type options struct {
	admin  bool
	create bool
	now    func() time.Time
}

// Create lets Open create what is missing of the installation: the data
// directory (with a .gitignore that ignores everything in it, so that a
// data directory made inside a git working tree never gets committed), the
// SQLite database or the schema in an empty PostgreSQL database, and the
// master key file. `assent init`, `serve` and `quickstart` open with it;
// without it every part must exist, and Open fails naming the missing one
// (ErrNotInstalled).
func Create() Option { return func(o *options) { o.create = true } }

// ErrNotInstalled is a data directory, database or master key that does
// not exist, for a command that does not create an installation.
var ErrNotInstalled = errors.New("no Assent installation")

// notInstalled explains what is missing and how to go on.
func notInstalled(what string) error {
	return fmt.Errorf("%w: %s; create one with `assent init` (with the same --config, --data-dir or "+
		"--database-url), or point --config, --data-dir or ASSENT_CONFIG at the existing installation", ErrNotInstalled, what)
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
	sopts := []sqlstore.Option{sqlstore.WithLogger(log)}
	if !o.create {
		sopts = append(sopts, sqlstore.ExistingOnly())
	}
	where := cfg.SQLitePath()
	if cfg.DatabaseURL != "" {
		where = "the PostgreSQL database " + redactURL(cfg.DatabaseURL)
		if o.create {
			// The data directory still holds the local CA and, by
			// default, the master key file.
			if err := prepareDataDir(cfg, true, log); err != nil {
				return nil, err
			}
		}
		st, err = sqlstore.OpenPostgres(ctx, cfg.DatabaseURL, sopts...)
	} else {
		if err := prepareDataDir(cfg, o.create, log); err != nil {
			return nil, err
		}
		st, err = sqlstore.OpenSQLite(ctx, cfg.SQLitePath(), sopts...)
	}
	if errors.Is(err, sqlstore.ErrNoSchema) {
		return nil, notInstalled(where + " holds no Assent data")
	}
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", where, err)
	}
	box, err := openKey(ctx, cfg, st, log, o.create)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	if o.admin && cfg.PublicHostnameDerived {
		if h, err := st.GetSetting(ctx, settingAPIHostname); err == nil && h != "" {
			cfg.PublicHostname = h
		}
	}
	sms, err := smsOptions(ctx, cfg, st, box)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	phone, sp, err := phoneOptions(ctx, cfg, st, box, log)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	a := &App{Config: cfg, Store: st, Box: box, Logger: log, Now: time.Now, sipPhone: sp}
	if sp != nil {
		a.SIP = sp.c
	}
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
	a.Broker = broker
	var events auth.AuthEvents
	if !o.admin && (cfg.AuthEventsFile != "" || cfg.AuthEventsSyslog != "") {
		sink, err := authevents.Open(authevents.Options{File: cfg.AuthEventsFile, Syslog: cfg.AuthEventsSyslog, Log: log})
		if err != nil {
			for _, c := range a.closers {
				_ = c()
			}
			_ = st.Close()
			return nil, err
		}
		// Closed before the store, after the server has answered
		// everything: the events queued are written.
		a.closers = append(a.closers, sink.Close)
		a.AuthEvents, events = sink, sink
	}
	mailer, queue, err := openMail(cfg, log, o.admin)
	if err != nil {
		for _, c := range a.closers {
			_ = c()
		}
		_ = st.Close()
		return nil, err
	}
	var coreMail auth.Mailer
	if mailer != nil {
		a.Mail, a.MailQueue, coreMail = mailer, queue, coreMailer{mailer}
	}
	if queue != nil {
		// Closed before the store: what is queued gets mailDrain to go.
		a.closers = append(a.closers, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), mailDrain)
			defer cancel()
			if err := queue.Close(ctx); err != nil {
				log.Warn("e-mail still queued at shutdown was not sent", "err", err)
			}
			return nil
		})
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
		Events:              events,
		Mailer:              coreMail,
		MailNotices:         mailNotices(cfg.MailNotices),
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
		SMS:             sms,
		Phone:           phone,
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
// A key file is generated only for a new installation (create, and no
// key check recorded yet): for an existing database a missing key file is
// an error, not a reason to make a key that cannot open its secrets.
func openKey(ctx context.Context, cfg config.Config, st store.Store, log *slog.Logger, create bool) (*secrets.Box, error) {
	check, checkErr := st.GetSetting(ctx, settingKeyCheck)
	if checkErr != nil && !errors.Is(checkErr, store.ErrNotFound) {
		return nil, fmt.Errorf("read master key check: %w", checkErr)
	}
	fresh := errors.Is(checkErr, store.ErrNotFound)
	var (
		key    []byte
		source string
		err    error
	)
	switch {
	case cfg.MasterKey != "":
		source = "master_key (ASSENT_MASTER_KEY)"
		key, err = secrets.ParseKey(cfg.MasterKey)
	default:
		source = cfg.MasterKeyFile
		if source == "" {
			source = cfg.DefaultMasterKeyFile()
		}
		if create && fresh {
			var created bool
			key, created, err = secrets.LoadOrCreateKeyFile(source)
			if created {
				log.Info("generated a new master key: keep a copy apart from the database (without it no secret can be read)", "file", source)
			}
		} else {
			key, err = secrets.LoadKeyFile(source)
			if errors.Is(err, fs.ErrNotExist) {
				if fresh {
					return nil, notInstalled("the master key file " + source + " does not exist")
				}
				return nil, fmt.Errorf("the master key file %s does not exist, but the database was set up with a master key: "+
					"give that key (master_key_file, or ASSENT_MASTER_KEY); a new key cannot read the secrets already stored", source)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("master key from %s: %w", source, err)
	}
	box, err := secrets.New(key)
	if err != nil {
		return nil, fmt.Errorf("master key from %s: %w", source, err)
	}
	err = checkErr
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

// prepareDataDir checks that the data directory and its SQLite database
// exist, or, with create, makes the directory (mode 0700, with a
// .gitignore when Assent made it).
func prepareDataDir(cfg config.Config, create bool, log *slog.Logger) error {
	dir := cfg.DataDir
	_, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist) && create:
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create data directory %s: %w", dir, err)
		}
		// The master key, the database and the CA key live here: never
		// let them be committed with the folder the directory was made in.
		if err := os.WriteFile(filepath.Join(dir, ".gitignore"), []byte(gitignore), 0o600); err != nil {
			return fmt.Errorf("create data directory %s: %w", dir, err)
		}
		log.Info("created the data directory", "dir", dir)
		return nil
	case errors.Is(err, fs.ErrNotExist):
		abs, _ := filepath.Abs(dir)
		return notInstalled("the data directory " + cmp.Or(abs, dir) + " does not exist")
	case err != nil:
		return fmt.Errorf("data directory: %w", err)
	}
	if create {
		return nil
	}
	if _, err := os.Stat(cfg.SQLitePath()); errors.Is(err, fs.ErrNotExist) {
		abs, _ := filepath.Abs(cfg.SQLitePath())
		return notInstalled("the database " + cmp.Or(abs, cfg.SQLitePath()) + " does not exist")
	}
	return nil
}

// gitignore is written into a data directory Assent creates.
const gitignore = "# Created by Assent: this directory holds the master key, the database and the\n" +
	"# local CA's key. Never commit it; back it up instead.\n*\n"

// redactURL hides a URL's password for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(database_url)"
	}
	return u.Redacted()
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
