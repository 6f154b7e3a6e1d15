package app

import (
	"fmt"
	"os"
	"strings"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/config"
	"github.com/assent-auth/assent/internal/telephony"
)

// smsOptions builds the core's SMS options from the configuration: the
// provider (its password read from sms_password_file) and Duo's sms_*
// settings.
func smsOptions(cfg config.Config) (auth.SMSOptions, error) {
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
	}
	s, err := telephony.New(telephony.Config{Provider: cfg.SMSProvider, URL: cfg.SMSURL, From: cfg.SMSFrom,
		Username: cfg.SMSUsername, Password: password, Body: cfg.SMSHTTPBody, ContentType: cfg.SMSHTTPContentType})
	if err != nil {
		return o, err
	}
	o.Sender = s
	return o, nil
}
