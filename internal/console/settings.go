package console

import (
	"encoding/base64"
	"errors"
	"html/template"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/ratelimit"
)

func (c *Console) settingsView(r *http.Request) *settingsView {
	ctx := r.Context()
	v := &settingsView{Lockout: c.Core.LockoutThreshold(ctx), ConfiguredLockout: c.Core.ConfiguredLockoutThreshold(),
		Issuer: c.Core.TOTPIssuer(ctx), ConfiguredIssuer: c.Core.ConfiguredTOTPIssuer()}
	v.PushLimit, v.PushLimitSet = c.Core.PushLimit(ctx)
	if b := c.Core.Logo(ctx); len(b) > 0 {
		// Checked as a PNG when stored (auth.CheckLogo).
		v.Logo = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b))
	}
	return v
}

// uploadedLogo reads the form's logo file: nil when none was chosen.
func uploadedLogo(r *http.Request) ([]byte, error) {
	f, _, err := r.FormFile("logo")
	if errors.Is(err, http.ErrMissingFile) || errors.Is(err, http.ErrNotMultipart) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, auth.MaxLogoBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > auth.MaxLogoBytes {
		return nil, &auth.Error{Kind: auth.KindInvalid, Param: "logo", Detail: "must be at most 64 KiB"}
	}
	return b, nil
}

func (c *Console) settings(w http.ResponseWriter, r *http.Request, p *page) error {
	if r.URL.Query().Get("done") == "saved" {
		p.Message, p.MessageKind = "The settings were saved.", "success"
	}
	return c.renderSettings(w, r, p, http.StatusOK)
}

func (c *Console) renderSettings(w http.ResponseWriter, r *http.Request, p *page, status int) error {
	v := c.settingsView(r)
	p.Title, p.Page, p.Nav, p.Apps, p.dataImg = "Settings", "settings", "settings", &appsView{Settings: v}, v.Logo != ""
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
	pushLimit := strings.TrimSpace(r.PostFormValue("push_limit"))
	resetPush := r.PostFormValue("push_limit_reset") == "on"
	if pushLimit != "" && !resetPush {
		if _, _, err := ratelimit.ParseRate(pushLimit); err != nil {
			return again("Pushes per user: "+err.Error()+".", http.StatusBadRequest)
		}
	}
	logo, err := uploadedLogo(r)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return again("The logo must be at most 64 KiB.", http.StatusBadRequest)
	}
	if msg := userMessage(err); msg != "" {
		return again(msg, http.StatusBadRequest)
	}
	if err != nil {
		return err
	}
	if len(logo) > 0 {
		if err := auth.CheckLogo(logo); err != nil {
			return again(err.Error(), http.StatusBadRequest)
		}
	}
	resetLogo := r.PostFormValue("logo_reset") == "on"
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
	switch {
	case resetPush && cur.PushLimitSet:
		err = c.Core.SetPushLimit(r.Context(), "")
	case !resetPush && pushLimit != "" && pushLimit != cur.PushLimit:
		err = c.Core.SetPushLimit(r.Context(), pushLimit)
	}
	if err != nil {
		if msg := userMessage(err); msg != "" {
			return again(msg, http.StatusBadRequest)
		}
		return err
	}
	if len(logo) > 0 || resetLogo {
		if resetLogo {
			logo = nil
		}
		if err := c.Core.SetLogo(r.Context(), logo); err != nil {
			if msg := userMessage(err); msg != "" {
				return again(msg, http.StatusBadRequest)
			}
			return err
		}
	}
	http.Redirect(w, r, "/admin/settings?done=saved", http.StatusSeeOther)
	return nil
}
