package adminapi

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/authenticatorapp"
	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/store"
)

// Phones: Assent's activated devices, and phones created with add_phone
// that wait for a device (activated: false). A pending phone keeps its
// phone_id through activation.

// phoneRef is a phone as listed inside a user (without its users).
type phoneRef struct {
	Activated        bool     `json:"activated"`
	Capabilities     []string `json:"capabilities"`
	Encrypted        string   `json:"encrypted"`
	Extension        string   `json:"extension"`
	Fingerprint      string   `json:"fingerprint"`
	LastSeen         string   `json:"last_seen"`
	Model            string   `json:"model"`
	Name             string   `json:"name"`
	Number           string   `json:"number"`
	PhoneID          string   `json:"phone_id"`
	Platform         string   `json:"platform"`
	Postdelay        string   `json:"postdelay"`
	Predelay         string   `json:"predelay"`
	Screenlock       string   `json:"screenlock"`
	SMSPasscodesSent bool     `json:"sms_passcodes_sent"`
	Tampered         string   `json:"tampered"`
	Type             string   `json:"type"`
}

// phoneJSON is a phone object with its users (the /phones endpoints).
type phoneJSON struct {
	phoneRef
	Users []userRef `json:"users"`
}

// phoneOf maps a phone to Duo's shape: an activated one is an authenticator
// app with push and passcodes; one with a number and a user is texted
// and called as configured; a pending one can do nothing yet.
func phoneOf(p auth.Phone) phoneRef {
	out := phoneRef{
		Activated: p.Activated, Capabilities: []string{},
		Encrypted: "Unknown", Fingerprint: "Unknown", Screenlock: "Unknown", Tampered: "Unknown",
		Model: "Unknown", Name: p.Name, PhoneID: p.ID, Platform: p.Platform, Type: p.Type,
		Number: p.Number, Extension: p.Extension, Predelay: p.Predelay, Postdelay: p.Postdelay,
	}
	if p.Activated {
		out.Capabilities = append(out.Capabilities, "auto", "push")
	}
	if p.SMS {
		out.Capabilities = append(out.Capabilities, "sms")
	}
	if p.Calls {
		out.Capabilities = append(out.Capabilities, "phone")
	}
	if p.Activated {
		out.Capabilities = append(out.Capabilities, "mobile_otp")
	}
	if p.Activated {
		out.Model = p.Name
	}
	if !p.LastSeen.IsZero() {
		out.LastSeen = p.LastSeen.UTC().Format("2006-01-02T15:04:05")
	}
	return out
}

// phoneJSONOf is a phone with its user (none for a pending phone without
// one).
func (a *API) phoneJSONOf(r *http.Request, p auth.Phone, users map[string]store.User) (phoneJSON, error) {
	out := phoneJSON{phoneRef: phoneOf(p), Users: []userRef{}}
	if p.UserID == "" {
		return out, nil
	}
	u, ok := users[p.UserID]
	if !ok {
		var err error
		if u, err = a.Core.User(r.Context(), p.UserID); err != nil {
			return phoneJSON{}, err
		}
		users[p.UserID] = u
	}
	out.Users = append(out.Users, userRef{UserID: u.ID, Username: u.Username, RealName: u.Profile.RealName,
		Email: u.Profile.Email, Status: string(u.Status)})
	return out, nil
}

// phoneFields reads add_phone's and update_phone's parameters; nil for
// absent ones.
func phoneFields(c *httpapi.Call) auth.PhoneFields {
	v := c.Params.Values
	opt := func(k string) *string {
		if _, ok := v[k]; !ok {
			return nil
		}
		s := v.Get(k)
		return &s
	}
	return auth.PhoneFields{Name: opt("name"), Type: opt("type"), Platform: opt("platform"), Number: opt("number"),
		Extension: opt("extension"), Predelay: opt("predelay"), Postdelay: opt("postdelay")}
}

// listPhones is GET /admin/v1/phones: every phone (pending ones first), or
// those with a number (and extension).
func (a *API) listPhones(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	v := c.Params.Values
	p, err := parsePaging(v, defaultListLimit, 500)
	if err != nil {
		return err
	}
	list, total, err := a.Core.Phones(r.Context(), auth.PhoneQuery{Number: v.Get("number"), Extension: v.Get("extension"),
		Offset: p.Offset, Limit: p.Limit})
	if err != nil {
		return err
	}
	users := map[string]store.User{}
	out := make([]phoneJSON, 0, len(list))
	for _, ph := range list {
		j, err := a.phoneJSONOf(r, ph, users)
		if err != nil {
			return err
		}
		out = append(out, j)
	}
	httpapi.WriteOKMeta(w, out, metaFor(p, len(list), total))
	return nil
}

func (a *API) writePhone(w http.ResponseWriter, r *http.Request, p auth.Phone) error {
	j, err := a.phoneJSONOf(r, p, map[string]store.User{})
	if err != nil {
		return err
	}
	httpapi.WriteOK(w, j)
	return nil
}

func (a *API) createPhone(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	p, err := a.Core.AddPhone(r.Context(), phoneFields(c))
	if err != nil {
		return err
	}
	return a.writePhone(w, r, p)
}

func (a *API) getPhone(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	p, err := a.Core.Phone(r.Context(), r.PathValue("phone_id"))
	if err != nil {
		return err
	}
	return a.writePhone(w, r, p)
}

func (a *API) updatePhone(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	p, err := a.Core.ModifyPhone(r.Context(), r.PathValue("phone_id"), phoneFields(c))
	if err != nil {
		return err
	}
	return a.writePhone(w, r, p)
}

func (a *API) deletePhone(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	if err := a.Core.RemovePhone(r.Context(), "", r.PathValue("phone_id")); err != nil {
		return err
	}
	httpapi.WriteOK(w, "")
	return nil
}

type activationURLJSON struct {
	ActivationBarcode string `json:"activation_barcode"`
	ActivationURL     string `json:"activation_url"`
	InstallationURL   string `json:"installation_url,omitempty"`
	ValidSecs         int64  `json:"valid_secs"`
}

// activationURL is create_activation_url: an activation code for the phone,
// as a link that opens the Assent Authenticator and activates it there
// (activation_url), and as a QR code of that link (activation_barcode), which
// Duo-compatible apps scanning it also read. install=1 adds the app's
// address (installation_url). valid_secs defaults to one day.
func (a *API) activationURL(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	valid, install, err := activationParams(c)
	if err != nil {
		return err
	}
	link, err := a.activationLink(r, valid)
	if err != nil {
		return err
	}
	out := activationURLJSON{ActivationURL: link, ActivationBarcode: qrURL(a.APIHostname, link),
		ValidSecs: int64(valid / time.Second)}
	if install {
		out.InstallationURL = a.installationURL()
	}
	httpapi.WriteOK(w, out)
	return nil
}

// activationParams reads valid_secs and install, the parameters of
// create_activation_url and send_sms_activation.
func activationParams(c *httpapi.Call) (valid time.Duration, install bool, err error) {
	if valid, err = validSecs(c); err != nil {
		return 0, false, err
	}
	install, err = c.Params.Bool("install")
	return valid, install, err
}

// activationLink issues an activation code, valid that long, for the phone
// in the path, and returns the link that opens the Assent Authenticator
// with it.
func (a *API) activationLink(r *http.Request, valid time.Duration) (string, error) {
	en, err := a.Core.PhoneActivation(r.Context(), r.PathValue("phone_id"), valid)
	if err != nil {
		return "", err
	}
	return authenticatorapp.Link(a.APIHostname, en.ActivationCode), nil
}

// validSecs reads valid_secs: a whole number of seconds up to 30 days,
// one day when absent.
func validSecs(c *httpapi.Call) (time.Duration, error) {
	s := c.Params.Get("valid_secs")
	if s == "" {
		return auth.DefaultEnrollValid, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || n > 30*24*3600 {
		return 0, httpapi.InvalidParams("valid_secs: must be a whole number of seconds from 1 to 2592000 (30 days)")
	}
	return time.Duration(n) * time.Second, nil
}

// qrURL is the address of the QR image holding value (/frame/qr).
func qrURL(host, value string) string {
	return "https://" + host + "/frame/qr?" + url.Values{"value": {value}}.Encode()
}

// Duo's default messages, and the placeholders of custom ones.
const (
	defaultActivationMsg   = "To activate the Assent Authenticator, open this link on your phone: <acturl>"
	defaultInstallationMsg = "Welcome to Assent! To install the Assent Authenticator, open this link on your phone: <insturl>"
	actURL                 = "<acturl>"
	instURL                = "<insturl>"
)

// smsTemplate reads a custom message parameter: absent or empty, the
// default; otherwise it must hold the placeholder.
func smsTemplate(c *httpapi.Call, param, placeholder, def string) (string, error) {
	m := c.Params.Get(param)
	if m == "" {
		return def, nil
	}
	if !strings.Contains(m, placeholder) {
		return "", httpapi.InvalidParams(param + ": must contain " + placeholder + ", which is replaced with the link")
	}
	return m, nil
}

// installationURL is where the Assent Authenticator is installed from.
func (a *API) installationURL() string { return "https://" + a.APIHostname + "/app/" }

type smsActivationJSON struct {
	ActivationBarcode string `json:"activation_barcode"`
	ActivationMsg     string `json:"activation_msg"`
	InstallationMsg   string `json:"installation_msg,omitempty"`
	ValidSecs         int64  `json:"valid_secs"`
}

// sendSMSActivation is send_sms_activation: an activation code for the
// phone (as create_activation_url issues it) texted as a link, after an
// installation message when install=1. The messages are Duo's templates:
// activation_msg must contain <acturl>, installation_msg <insturl>.
func (a *API) sendSMSActivation(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	valid, install, err := activationParams(c)
	if err != nil {
		return err
	}
	actMsg, err := smsTemplate(c, "activation_msg", actURL, defaultActivationMsg)
	if err != nil {
		return err
	}
	instMsg, err := smsTemplate(c, "installation_msg", instURL, defaultInstallationMsg)
	if err != nil {
		return err
	}
	id := r.PathValue("phone_id")
	if _, err := a.Core.CheckPhoneSMS(r.Context(), id); err != nil {
		return err
	}
	link, err := a.activationLink(r, valid)
	if err != nil {
		return err
	}
	out := smsActivationJSON{ActivationBarcode: qrURL(a.APIHostname, link), ActivationMsg: strings.ReplaceAll(actMsg, actURL, link),
		ValidSecs: int64(valid / time.Second)}
	var msgs []string
	if install {
		out.InstallationMsg = strings.ReplaceAll(instMsg, instURL, a.installationURL())
		msgs = append(msgs, out.InstallationMsg)
	}
	msgs = append(msgs, out.ActivationMsg)
	if err := a.Core.SendPhoneMessages(r.Context(), id, auth.PhoneSMSActivation, msgs); err != nil {
		return err
	}
	httpapi.WriteOK(w, out)
	return nil
}

type smsInstallationJSON struct {
	InstallationMsg string `json:"installation_msg"`
}

// sendSMSInstallation is send_sms_installation: a message with the link
// that installs the Assent Authenticator.
func (a *API) sendSMSInstallation(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	instMsg, err := smsTemplate(c, "installation_msg", instURL, defaultInstallationMsg)
	if err != nil {
		return err
	}
	out := smsInstallationJSON{InstallationMsg: strings.ReplaceAll(instMsg, instURL, a.installationURL())}
	if err := a.Core.SendPhoneMessages(r.Context(), r.PathValue("phone_id"), auth.PhoneSMSInstallation, []string{out.InstallationMsg}); err != nil {
		return err
	}
	httpapi.WriteOK(w, out)
	return nil
}

func (a *API) userPhones(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	return userSubList(a, w, r, c, a.Core.UserPhones, func(p auth.Phone, _ store.User) phoneRef { return phoneOf(p) })
}

// addUserPhone is add_user_phone: the phone becomes the user's.
func (a *API) addUserPhone(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	u, err := a.user(r)
	if err != nil {
		return err
	}
	if err := a.Core.AddUserPhone(r.Context(), u.ID, c.Params.Get("phone_id")); err != nil {
		return err
	}
	httpapi.WriteOK(w, "")
	return nil
}

func (a *API) deleteUserPhone(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	u, err := a.user(r)
	if err != nil {
		return err
	}
	if err := a.Core.RemovePhone(r.Context(), u.ID, r.PathValue("phone_id")); err != nil {
		return err
	}
	httpapi.WriteOK(w, "")
	return nil
}

type verificationPushJSON struct {
	PushID           string `json:"push_id"`
	ConfirmationCode string `json:"confirmation_code"`
}

// sendVerificationPush is send_verification_push: an identity check on one
// of the user's activated phones. confirmation_code is what the help desk
// reads out; the user types it on the phone before approving.
func (a *API) sendVerificationPush(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	u, err := a.user(r)
	if err != nil {
		return err
	}
	vp, err := a.Core.SendVerificationPush(r.Context(), c.Integration, u.ID, c.Params.Get("phone_id"))
	if err != nil {
		return err
	}
	httpapi.WriteOK(w, verificationPushJSON{PushID: vp.ID, ConfirmationCode: vp.Code})
	return nil
}

type verificationResultJSON struct {
	PushID string `json:"push_id"`
	Result string `json:"result"`
}

// verificationPushResponse is get_verification_push_response: waiting,
// approve, deny, fraud or timeout, answered at once (clients poll).
func (a *API) verificationPushResponse(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	u, err := a.user(r)
	if err != nil {
		return err
	}
	id := c.Params.Get("push_id")
	res, err := a.Core.VerificationPushResult(r.Context(), u.ID, id)
	if err != nil {
		return err
	}
	httpapi.WriteOK(w, verificationResultJSON{PushID: id, Result: res})
	return nil
}
