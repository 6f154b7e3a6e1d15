package app

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/config"
	"github.com/assent-auth/assent/internal/secrets"
	"github.com/assent-auth/assent/internal/telephony"
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
