package prompt

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/otp"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/web"
)

// Authenticator apps (TOTP) in the prompt's inline enrollment and the
// portal: the core adds an unconfirmed app (BeginTOTPApp), the page shows
// its QR code and key, and the app counts once the user enters a first
// code from it (ConfirmTOTPAppFrom, under the passcode rate limits).
//
// Between the two steps the sealed state keeps only the app's token ID,
// not its secret. After a wrong code the page is shown again from the
// core (PendingTOTPApp), which opens the secret only while the app is
// unconfirmed: once confirmed, the secret cannot be shown again, not even
// by replaying an old page's state before it expires. Keeping the secret
// in the sealed state would have spared a read, but would have let every
// copy of the page (history, a shared computer) carry it for the state's
// lifetime.
//
// The QR code is rendered here, into a data: URL inside the page: the
// otpauth:// URI holds the secret, so it must never be in a URL (an
// <img src="/frame/qr?value=…"> would put it in access logs, proxies and
// the browser's cache). Only that page's CSP allows data: images.

// Texts of the authenticator-app pages.
const (
	titleAddApp       = "Add an authenticator app"
	msgScanApp        = "Scan the QR code with your app, then enter the code it shows."
	msgNoAppCode      = "Enter the code your app shows for this account."
	msgWrongAppCode   = "That code does not match. Check that the phone's time is right, and enter the code the app shows now."
	msgAppAdded       = "Authenticator app added. When it shows its next code, enter that code to log in."
	msgPortalAppAdded = "Your authenticator app is ready. You can close this page and log in to your application with a code from it."
	msgAppGone        = "This app setup is no longer valid. Start again."
)

// totpAdd begins adding an app for a user the core says must enroll
// (inline enrollment in the prompt).
func (p *Prompt) totpAdd(w http.ResponseWriter, r *http.Request, st state, in store.Integration) error {
	// Browser: a user who has anything to log in with (a device, an app, a
	// token, a key) is enrolled, and must log in before adding more.
	res, err := p.Core.Preauth(r.Context(), auth.PreauthRequest{Request: request(st, in, r), NoEnrollPortal: true, Browser: true})
	if err != nil || res.Result != auth.ResultEnroll {
		return p.begin(w, r, st, in, "", "") // no longer the case: show what is
	}
	return p.startTOTP(w, r, st, in, auth.LookupUsername(in, st.Username), in.IKey)
}

// startTOTP adds an unconfirmed app for username and shows its page.
func (p *Prompt) startTOTP(w http.ResponseWriter, r *http.Request, st state, in store.Integration, username, ikey string) error {
	e, err := p.Core.BeginTOTPApp(r.Context(), auth.TOTPAppRequest{Username: username, IKey: ikey})
	var ae *auth.Error
	if errors.As(err, &ae) && ae.Kind == auth.KindInvalid {
		return p.registrationFailed(w, r, st, in, ae.Detail+".")
	}
	if err != nil {
		return err
	}
	st.EnrollUser, st.TOTPToken = e.Token.UserID, e.Token.ID
	return p.showTOTP(w, http.StatusOK, st, in, e, msgScanApp, "info")
}

// showTOTP renders the QR code, key and settings of the app being added.
func (p *Prompt) showTOTP(w http.ResponseWriter, status int, st state, in store.Integration, e auth.TOTPEnrollment, msg, kind string) error {
	png, err := qrcode.Encode(e.URI, qrcode.Medium, 256)
	if err != nil {
		return err
	}
	// The names the app will list the account under.
	k, err := otp.ParseURI(e.URI)
	if err != nil {
		return err
	}
	return p.renderStatus(w, status, st, in, web.Page{Title: titleAddApp, State: web.StateTOTPAdd, Message: msg, MessageKind: kind,
		TOTP: &web.TOTPSetup{
			QR:  template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)),
			Key: web.GroupKey(e.SecretBase32), Algorithm: e.Token.Algorithm, Digits: e.Token.Digits, Period: e.Token.Period,
			Issuer: k.Issuer, Account: k.Account,
		}})
}

// totpConfirm checks the first code of the app being added: the page
// again with the reason on a wrong code, then the login (prompt) or the
// confirmation (portal).
func (p *Prompt) totpConfirm(w http.ResponseWriter, r *http.Request, st state, in store.Integration) error {
	if st.TOTPToken == "" || st.EnrollUser == "" {
		return p.registrationFailed(w, r, st, in, msgAppGone)
	}
	code := r.PostForm.Get("code")
	var err error
	if code == "" {
		err = auth.ErrBadConfirmationCode
	} else {
		err = p.Core.ConfirmTOTPAppFrom(r.Context(), clientIP(r), st.EnrollUser, st.TOTPToken, code)
	}
	var ae *auth.Error
	switch {
	case errors.Is(err, auth.ErrBadConfirmationCode) || (errors.As(err, &ae) && ae.Kind == auth.KindRateLimited):
		// The same page again, with the reason: the user keeps the QR
		// code and key (a refused attempt changes nothing).
		e, perr := p.Core.PendingTOTPApp(r.Context(), st.EnrollUser, st.TOTPToken)
		if auth.IsKind(perr, auth.KindNotFound) {
			return p.registrationFailed(w, r, st, in, msgAppGone)
		}
		if perr != nil {
			return perr
		}
		status, msg := http.StatusOK, msgWrongAppCode
		switch {
		case ae != nil && ae.Kind == auth.KindRateLimited:
			setRetryAfter(w, ae.RetryAfter)
			status, msg = http.StatusTooManyRequests, tooManyMessage(ae.RetryAfter)
		case code == "":
			msg = msgNoAppCode
		}
		return p.showTOTP(w, status, st, in, e, msg, "error")
	case auth.IsKind(err, auth.KindNotFound):
		// Replaced by a newer setup, or removed by an administrator.
		return p.registrationFailed(w, r, st, in, msgAppGone)
	case err != nil:
		return err
	}
	p.Core.RememberMethod(r.Context(), st.EnrollUser, "passcode")
	if st.Kind == kindPortal {
		st.TOTPToken, st.EnrollUser = "", ""
		return p.render(w, st, in, web.Page{Title: titleEnrolled, State: web.StateEnrolled, MessageKind: "success", Message: msgPortalAppAdded})
	}
	return p.begin(w, r, st, in, msgAppAdded, "success")
}
