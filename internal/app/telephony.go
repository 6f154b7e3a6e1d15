package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/config"
	"github.com/assent-auth/assent/internal/secrets"
	"github.com/assent-auth/assent/internal/telephony"
	"github.com/assent-auth/assent/internal/telephony/sipcall"
)

// smsOptions builds the core's SMS options from the configuration: the
// provider (its password read from sms_password_file, else the credential
// stored sealed with `assent telephony credential set sms`) and Duo's
// sms_* settings.
func smsOptions(ctx context.Context, cfg config.Config, st auth.SettingReader, box *secrets.Box) (auth.SMSOptions, error) {
	o := auth.SMSOptions{Batch: cfg.SMSBatch, Expiration: cfg.SMSExpiration.Duration, Message: cfg.SMSMessage,
		Refresh: cfg.SMSRefresh,
		PerUser: cfg.RateLimitSMSPerUser.Limit(), Global: cfg.RateLimitSMSGlobal.Limit()}
	if cfg.SMSProvider == "" {
		return o, nil
	}
	var password string
	if cfg.SMSPasswordFile != "" {
		b, err := os.ReadFile(cfg.SMSPasswordFile)
		if err != nil {
			return o, fmt.Errorf("sms_password_file: %w", err)
		}
		password = strings.TrimSpace(string(b))
	} else {
		stored, _, err := auth.LoadCredential(ctx, st, box, auth.CredentialSMS)
		if err != nil {
			return o, fmt.Errorf("sms_provider: %w", err)
		}
		password = stored
	}
	s, err := telephony.New(telephony.Config{Provider: cfg.SMSProvider, URL: cfg.SMSURL, From: cfg.SMSFrom,
		Username: cfg.SMSUsername, Password: password, Body: cfg.SMSHTTPBody, ContentType: cfg.SMSHTTPContentType})
	if err != nil {
		return o, err
	}
	o.Sender = s
	return o, nil
}

// sipPhone is the core's PhoneCaller over a sipcall.Caller.
type sipPhone struct {
	c        *sipcall.Caller
	prompt   sipcall.Prompt
	password string // for StartTestTelephony's second engine
}

// Call dials d.Number through the trunk, dials its extension once
// answered, and plays the prompt.
func (p *sipPhone) Call(ctx context.Context, d auth.PhoneDial, progress func(string)) (string, error) {
	ext := sipcall.Extension{Digits: d.Extension, Predelay: d.Predelay, Postdelay: d.Postdelay}
	out, err := p.c.Dial(ctx, d.Number, ext, p.prompt, func(st sipcall.Progress) { progress(string(st)) })
	return string(out), err
}

func (*sipPhone) Name() string { return "sip" }

// sipConfig is the SIP engine's configuration from sip_*, with password
// (see sipPassword).
func sipConfig(cfg config.Config, password string, log *slog.Logger) (sipcall.Config, error) {
	lo, hi, err := cfg.RTPPorts()
	if err != nil {
		return sipcall.Config{}, fmt.Errorf("sip_rtp_ports: %w", err)
	}
	return sipcall.Config{ListenAddr: cfg.SIPListen, Transport: cfg.SIPTransport, TLSCAFile: cfg.SIPTLSCAFile,
		TLSCertFile: cfg.SIPTLSCertFile, TLSKeyFile: cfg.SIPTLSKeyFile, AdvertiseIP: cfg.SIPAdvertiseIP, OutboundProxy: cfg.SIPOutboundProxy,
		Registrar: cfg.SIPRegistrar, RegisterExpiry: cfg.SIPRegisterExpiry.Duration, Username: cfg.SIPUsername,
		Password: password, From: cfg.SIPFrom, RTPPortMin: lo, RTPPortMax: hi,
		RingTimeout: cfg.SIPRingTimeout.Duration, AnswerTimeout: cfg.SIPAnswerTimeout.Duration,
		MaxDuration: cfg.SIPMaxCallDuration.Duration,
		Logger:      slog.New(infoAndAbove{log.Handler()}).With("component", "sip")}, nil
}

// infoAndAbove drops debug records: sipgo's debug logs carry request
// lines (INVITE sip:+15555550123@…), and numbers are never logged in full.
type infoAndAbove struct{ slog.Handler }

func (h infoAndAbove) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo && h.Handler.Enabled(ctx, l)
}

func (h infoAndAbove) WithAttrs(a []slog.Attr) slog.Handler {
	return infoAndAbove{h.Handler.WithAttrs(a)}
}

func (h infoAndAbove) WithGroup(name string) slog.Handler {
	return infoAndAbove{h.Handler.WithGroup(name)}
}

// sipPassword is the SIP trunk's password: sip_password_file's first
// line, else the credential stored sealed with `assent telephony
// credential set sip`, else none.
func sipPassword(ctx context.Context, cfg config.Config, st auth.SettingReader, box *secrets.Box) (string, error) {
	if cfg.SIPPasswordFile != "" {
		b, err := os.ReadFile(cfg.SIPPasswordFile)
		if err != nil {
			return "", fmt.Errorf("sip_password_file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	stored, _, err := auth.LoadCredential(ctx, st, box, auth.CredentialSIP)
	if err != nil {
		return "", fmt.Errorf("sip: %w", err)
	}
	return stored, nil
}

// phoneOptions builds the core's phone-call options and the SIP engine
// (not started: see App.StartTelephony) from the configuration: the
// password (sipPassword) and the prompt (sip_prompt_file, else the
// shipped one). Without sip_listen, calls are off and the engine is nil.
func phoneOptions(ctx context.Context, cfg config.Config, st auth.SettingReader, box *secrets.Box, log *slog.Logger) (auth.PhoneOptions, *sipPhone, error) {
	o := auth.PhoneOptions{MaxDuration: cfg.SIPMaxCallDuration.Duration,
		PerUser: cfg.RateLimitCallsPerUser.Limit(), Global: cfg.RateLimitCallsGlobal.Limit()}
	if cfg.SIPListen == "" {
		return o, nil, nil
	}
	password, err := sipPassword(ctx, cfg, st, box)
	if err != nil {
		return o, nil, err
	}
	prompt := sipcall.DefaultPrompt()
	if cfg.SIPPromptFile != "" {
		if prompt, err = sipcall.LoadPrompt(cfg.SIPPromptFile); err != nil {
			return o, nil, fmt.Errorf("sip_prompt_file: %w", err)
		}
	}
	sc, err := sipConfig(cfg, password, log)
	if err != nil {
		return o, nil, err
	}
	c, err := sipcall.New(sc)
	if err != nil {
		return o, nil, err
	}
	p := &sipPhone{c: c, prompt: prompt, password: password}
	o.Caller = p
	return o, p, nil
}

// StartTelephony opens the SIP socket (and registers, with sip_registrar)
// when phone calls are configured; App.Close closes it. The server starts
// it; until then calls fail (never allow).
func (a *App) StartTelephony(ctx context.Context) error {
	if a.SIP == nil {
		return nil
	}
	return a.startSIP(ctx)
}

// StartTestTelephony starts the SIP engine for a command run next to the
// server (assent telephony test-call): on a free port of sip_listen's
// address, and without registering (which would take the server's
// registration away); numbers go to sip_outbound_proxy, else to the
// registrar as a proxy.
func (a *App) StartTestTelephony(ctx context.Context) error {
	if a.SIP == nil {
		return errors.New("phone calls are not configured (sip_listen)")
	}
	cfg := a.Config
	ap, err := netip.ParseAddrPort(cfg.SIPListen)
	if err != nil {
		return fmt.Errorf("sip_listen: %w", err)
	}
	cfg.SIPListen = netip.AddrPortFrom(ap.Addr(), 0).String()
	if cfg.SIPOutboundProxy == "" {
		cfg.SIPOutboundProxy = cfg.SIPRegistrar
	}
	cfg.SIPRegistrar = ""
	sc, err := sipConfig(cfg, a.sipPhone.password, a.Logger)
	if err != nil {
		return err
	}
	c, err := sipcall.New(sc)
	if err != nil {
		return err
	}
	a.SIP, a.sipPhone.c = c, c
	return a.startSIP(ctx)
}

func (a *App) startSIP(ctx context.Context) error {
	if err := a.SIP.Start(ctx); err != nil {
		return fmt.Errorf("sip: %w", err)
	}
	a.closers = append(a.closers, a.SIP.Close)
	a.Logger.Info("phone calls over SIP", "sip_listen", a.SIP.LocalAddr().String(), "transport", a.Config.SIPTransport,
		"outbound_proxy", a.Config.SIPOutboundProxy, "registrar", a.Config.SIPRegistrar)
	return nil
}
