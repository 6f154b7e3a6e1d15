package console

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/assent-auth/assent/internal/auth"
)

func (c *Console) settingsView(r *http.Request) *settingsView {
	ctx := r.Context()
	return &settingsView{Lockout: c.Core.LockoutThreshold(ctx), ConfiguredLockout: c.Core.ConfiguredLockoutThreshold(),
		Issuer: c.Core.TOTPIssuer(ctx), ConfiguredIssuer: c.Core.ConfiguredTOTPIssuer()}
}

func (c *Console) settings(w http.ResponseWriter, r *http.Request, p *page) error {
	if r.URL.Query().Get("done") == "saved" {
		p.Message, p.MessageKind = "The settings were saved.", "success"
	}
	return c.renderSettings(w, r, p, http.StatusOK)
}

func (c *Console) renderSettings(w http.ResponseWriter, r *http.Request, p *page, status int) error {
	p.Title, p.Page, p.Nav, p.Apps = "Settings", "settings", "settings", &appsView{Settings: c.settingsView(r)}
	return c.render(w, status, "settings", p)
}

// saveSettings changes what differs from the settings in force, after the
// re-authentication (owners only).
func (c *Console) saveSettings(w http.ResponseWriter, r *http.Request, p *page) error {
	again := func(msg string, status int) error {
		p.Message, p.MessageKind = msg, "error"
		return c.renderSettings(w, r, p, status)
	}
	cur := c.settingsView(r)
	n := cur.Lockout
	if s := strings.TrimSpace(r.PostFormValue("lockout_threshold")); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 || n > 9999 {
			return again("The lockout threshold must be a number from 1 to 9999.", http.StatusBadRequest)
		}
	}
	issuer := strings.TrimSpace(r.PostFormValue("totp_issuer"))
	if issuer != "" {
		if err := auth.CheckTOTPIssuer(issuer); err != nil {
			return again(err.Error(), http.StatusBadRequest)
		}
	}
	ok, err := c.reauthenticated(r, p)
	if err != nil {
		return err
	}
	if !ok {
		return again(reauthFailed, http.StatusUnauthorized)
	}
	if n != cur.Lockout {
		if err := c.Core.SetLockoutThreshold(r.Context(), n); err != nil {
			if msg := userMessage(err); msg != "" {
				return again(msg, http.StatusBadRequest)
			}
			return err
		}
	}
	if issuer != cur.Issuer {
		if issuer == cur.ConfiguredIssuer {
			issuer = "" // back to the configuration
		}
		if err := c.Core.SetTOTPIssuer(r.Context(), issuer); err != nil {
			if msg := userMessage(err); msg != "" {
				return again(msg, http.StatusBadRequest)
			}
			return err
		}
	}
	http.Redirect(w, r, "/admin/settings?done=saved", http.StatusSeeOther)
	return nil
}
