package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/otp"
	"github.com/assent-auth/assent/internal/store"
)

// Enrollment defaults, as in Duo.
const (
	DefaultEnrollValid = 24 * time.Hour
	maxEnrollValid     = 30 * 24 * time.Hour
	activationCodeLen  = 20
	activationPurpose  = "activation code"
	hotpWindow         = 10 // codes ahead of the stored counter that are accepted
	settingAKey        = "device_akey"
)

// EnrollRequest asks for an activation code.
type EnrollRequest struct {
	Username string        // empty: a random username is generated
	Valid    time.Duration // 0: DefaultEnrollValid
	// IKey is the integration asking (Auth API enroll, the prompt's inline
	// enrollment), whose enrollment rate limit applies; empty for the
	// administrator's own commands and single-use portal links, which are
	// not limited.
	IKey string
	// BypassCodes is how many bypass codes to issue with the activation
	// code (Duo's enroll parameter bypass_codes, 0–10). They are single-use,
	// do not expire, and are added to any codes the user already has.
	BypassCodes int
}

// Enrollment is a new activation code for a user.
type Enrollment struct {
	UserID   string
	Username string
	Code     string // the 20-character code
	// ActivationCode is what the QR code holds: duo://<code>-<base64 host>.
	ActivationCode string
	Expires        time.Time
	// BypassCodes are the codes asked for with EnrollRequest.BypassCodes,
	// in plaintext, shown once.
	BypassCodes []string
}

// Enroll creates the user if needed and an activation code for a new
// device. Over the integration's enrollment limit it creates nothing and
// answers KindRateLimited.
func (s *Service) Enroll(ctx context.Context, req EnrollRequest) (Enrollment, error) {
	valid := req.Valid
	switch {
	case valid == 0:
		valid = DefaultEnrollValid
	case valid < 0 || valid > maxEnrollValid:
		return Enrollment{}, invalid("valid_secs", "must be between 1 and 2592000 (30 days)")
	}
	if req.BypassCodes < 0 || req.BypassCodes > maxBypassCodes {
		return Enrollment{}, invalid("bypass_codes", fmt.Sprintf("must be between 0 and %d", maxBypassCodes))
	}
	username := req.Username
	if username == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		username = hex.EncodeToString(b)
	}
	if err := validateUsername(username); err != nil {
		return Enrollment{}, err
	}
	if err := s.allowEnrollment(ctx, req.IKey); err != nil {
		return Enrollment{}, err
	}
	now := s.now()
	code := ids.Random(activationCodeLen, skeyAlphabet)
	out := Enrollment{Username: username, Code: code, Expires: now.Add(valid), ActivationCode: s.activationCode(code)}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		u, err := enrollingUser(ctx, q, username, now)
		if err != nil {
			return err
		}
		out.UserID, out.Username = u.ID, u.Username
		if req.BypassCodes > 0 {
			var codes []store.BypassCode
			out.BypassCodes, codes, _ = s.newBypassCodes(u.ID, NewBypassCodes{Count: req.BypassCodes, Uses: 1}, now)
			if err := q.CreateBypassCodes(ctx, codes); err != nil {
				return err
			}
		}
		return q.CreateActivation(ctx, store.Activation{
			CodeHash: s.activationHash(code), UserID: u.ID, Expires: out.Expires, Created: now,
		})
	})
	if err != nil {
		return Enrollment{}, wrap("enroll", err)
	}
	s.opts.Logger.Info("activation code issued", "user_id", out.UserID, "expires", out.Expires, "bypass_codes", len(out.BypassCodes))
	return out, nil
}

// activationCode is what a QR code holds for code: duo://<code>-<base64 host>.
func (s *Service) activationCode(code string) string {
	return "duo://" + code + "-" + strings.TrimRight(base64.StdEncoding.EncodeToString([]byte(s.opts.APIHostname)), "=")
}

func (s *Service) activationHash(code string) []byte {
	return s.box.KeyedHash(activationPurpose, code)
}

// codeFrom extracts the 20-character code from "duo://code-b64host",
// "code-b64host" or a bare code.
func codeFrom(v string) string {
	v = strings.TrimPrefix(strings.Trim(v, "<> "), "duo://")
	code, _, _ := strings.Cut(v, "-")
	return code
}

// Enrollment states, as enroll_status reports them.
const (
	EnrollWaiting = "waiting"
	EnrollSuccess = "success"
	EnrollInvalid = "invalid"
)

// EnrollStatus reports whether the activation code of a user was used.
func (s *Service) EnrollStatus(ctx context.Context, userID, activationCode string) (string, error) {
	if userID == "" {
		return "", invalid("user_id", "is required")
	}
	if activationCode == "" {
		return "", invalid("activation_code", "is required")
	}
	a, err := s.st.GetActivation(ctx, s.activationHash(codeFrom(activationCode)))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return EnrollInvalid, nil
	case err != nil:
		return "", wrap("enroll status", err)
	case a.UserID != userID:
		return EnrollInvalid, nil
	case a.DeviceID != "":
		return EnrollSuccess, nil
	case !s.now().Before(a.Expires):
		return EnrollInvalid, nil
	}
	return EnrollWaiting, nil
}

// ActivateRequest is a device presenting an activation code.
type ActivateRequest struct {
	Code      string // the 20-character code (or duo://… form)
	PublicKey string // PEM RSA public key the device will sign with
	Name      string // device name or model, optional
	Platform  string // Android, iOS, …, optional
}

// Activation is what a device receives when it activates.
type Activation struct {
	Device       store.Device
	HOTPSecret   string // 32 lower-case hex characters; its ASCII bytes are the HOTP key
	AKey         string // the installation's account key, echoed by devices
	CustomerName string
}

// ErrUnknownActivation is an unknown, expired or already used activation code.
var ErrUnknownActivation = &Error{Kind: KindNotFound, Detail: "Unknown activation code"}

// Activate registers a device for the user of an activation code. A code
// works once. A code issued for a phone (PhoneActivation) gives the device
// that phone's ID: a pending phone becomes the device (keeping the name
// its administrator gave it), an activated one is replaced by it.
func (s *Service) Activate(ctx context.Context, req ActivateRequest) (Activation, error) {
	if _, err := parseDeviceKey(req.PublicKey); err != nil {
		return Activation{}, err
	}
	akey, err := s.akey(ctx)
	if err != nil {
		return Activation{}, err
	}
	now := s.now()
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	out := Activation{HOTPSecret: hex.EncodeToString(secret), AKey: akey, CustomerName: s.opts.CustomerName}
	d := store.Device{
		ID: ids.New(ids.Device), Name: deviceName(req), Platform: req.Platform,
		PublicKey: strings.TrimSpace(req.PublicKey), Created: now, LastSeen: now,
	}
	err = s.st.InTx(ctx, func(q store.Queries) error {
		a, err := q.GetActivation(ctx, s.activationHash(codeFrom(req.Code)))
		if errors.Is(err, store.ErrNotFound) || (err == nil && (a.DeviceID != "" || !now.Before(a.Expires))) {
			return ErrUnknownActivation
		}
		if err != nil {
			return err
		}
		d.UserID = a.UserID
		if a.PhoneID != "" {
			if err := s.takePhone(ctx, q, a, &d); err != nil {
				return err
			}
		}
		if d.HOTPSecretEnc, err = s.box.Seal([]byte(out.HOTPSecret), []byte(d.ID)); err != nil {
			return fmt.Errorf("seal: %w", err)
		}
		if err := q.CreateDevice(ctx, d); err != nil {
			return err
		}
		a.DeviceID = d.ID
		return q.UpdateActivation(ctx, a)
	})
	if errors.Is(err, ErrUnknownActivation) {
		return Activation{}, ErrUnknownActivation
	}
	if err != nil {
		return Activation{}, wrap("activate", err)
	}
	out.Device = d
	s.opts.Logger.Info("device activated", "user_id", d.UserID, "device_id", d.ID, "platform", d.Platform)
	s.noticeDevice(ctx, d.UserID, "mobile device", d.Name, d.Platform)
	return out, nil
}

// takePhone gives d the ID of the phone the activation a was issued for,
// removing what had it: the pending phone, or the device being
// reactivated (with its pending pushes). A phone deleted, moved to
// another user or made a landline since the code was issued makes the code
// unknown.
func (s *Service) takePhone(ctx context.Context, q store.Queries, a store.Activation, d *store.Device) error {
	p, err := q.GetPendingPhone(ctx, a.PhoneID)
	switch {
	case err == nil && p.UserID == a.UserID && p.Type != phoneLandline:
		d.ID, d.Number, d.Extension, d.Predelay, d.Postdelay = p.ID, p.Number, p.Extension, p.Predelay, p.Postdelay
		if p.Name != "" {
			d.Name = p.Name
		}
		if d.Platform == "" && p.Platform != phoneUnknown {
			d.Platform = p.Platform
		}
		return q.DeletePendingPhone(ctx, p.ID)
	case err == nil:
		return ErrUnknownActivation
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	old, err := q.GetDevice(ctx, a.PhoneID)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && (old.UserID != a.UserID || old.PhoneType == store.PhoneLandline)):
		return ErrUnknownActivation // gone, moved, or made a landline since the code was issued
	case err != nil:
		return err
	}
	d.ID, d.Name, d.Number, d.Extension, d.Predelay, d.Postdelay = old.ID, old.Name, old.Number, old.Extension, old.Predelay, old.Postdelay
	return q.DeleteDevice(ctx, old.ID)
}

func deviceName(req ActivateRequest) string {
	name := strings.TrimSpace(req.Name)
	if name == "" {
		name = strings.TrimSpace(req.Platform)
	}
	if name == "" {
		name = "Device"
	}
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}

// parseDeviceKey accepts a PEM RSA public key of at least 2048 bits, as
// SubjectPublicKeyInfo ("PUBLIC KEY") or PKCS #1 ("RSA PUBLIC KEY").
func parseDeviceKey(p string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return nil, invalid("pubkey", "must be a PEM-encoded RSA public key")
	}
	var key any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		return nil, invalid("pubkey", "must be a PEM-encoded RSA public key")
	}
	rk, ok := key.(*rsa.PublicKey)
	if err != nil || !ok {
		return nil, invalid("pubkey", "must be an RSA public key")
	}
	if rk.N.BitLen() < 2048 {
		return nil, invalid("pubkey", "RSA keys must have at least 2048 bits")
	}
	return rk, nil
}

// akey returns the installation's account key, creating it on first use.
func (s *Service) akey(ctx context.Context) (string, error) {
	v, err := s.st.GetSetting(ctx, settingAKey)
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return "", wrap("akey", err)
	}
	v = ids.New("DA")
	if err := s.st.PutSetting(ctx, settingAKey, v); err != nil {
		return "", wrap("akey", err)
	}
	// Another node may have raced us; everyone uses what was stored last.
	if got, err := s.st.GetSetting(ctx, settingAKey); err == nil {
		v = got
	}
	return v, nil
}

// DeviceKey returns a device and the public key its requests are signed
// with. It writes nothing: the request is not yet authenticated (see
// DeviceSeen).
func (s *Service) DeviceKey(ctx context.Context, deviceID string) (store.Device, *rsa.PublicKey, error) {
	d, err := s.st.GetDevice(ctx, deviceID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Device{}, nil, notFound("unknown device")
	}
	if err != nil {
		return store.Device{}, nil, wrap("device", err)
	}
	key, err := parseDeviceKey(d.PublicKey)
	if err != nil {
		return store.Device{}, nil, wrap("device key of "+d.ID, err)
	}
	return d, key, nil
}

// DeviceSeen records that d made a correctly signed request, at most once a
// minute. Failures are logged, not returned: the request itself succeeded.
func (s *Service) DeviceSeen(ctx context.Context, d store.Device) {
	now := s.now()
	if now.Sub(d.LastSeen) < time.Minute {
		return
	}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		cur, err := q.GetDevice(ctx, d.ID)
		if err != nil {
			return err
		}
		cur.LastSeen = now
		return q.UpdateDevice(ctx, cur)
	})
	if err != nil {
		s.opts.Logger.Warn("could not record device last seen", "device_id", d.ID, "err", err)
	}
}

// RegisterPushToken stores the device's push registration token.
func (s *Service) RegisterPushToken(ctx context.Context, deviceID, token string) error {
	if len(token) > 4096 {
		return invalid("token", "is too long")
	}
	return s.st.InTx(ctx, func(q store.Queries) error {
		d, err := q.GetDevice(ctx, deviceID)
		if err != nil {
			return err
		}
		d.PushToken = token
		return q.UpdateDevice(ctx, d)
	})
}

// Devices lists a user's devices.
func (s *Service) Devices(ctx context.Context, nameOrID string) ([]store.Device, error) {
	u, err := s.User(ctx, nameOrID)
	if err != nil {
		return nil, err
	}
	list, err := s.st.ListDevices(ctx, u.ID)
	if err != nil {
		return nil, wrap("list devices", err)
	}
	return list, nil
}

// preauthDevice describes a device as preauth lists it.
// A phone with a number shows it masked (Duo: "iOS (XXX-XXX-1234)"); its
// sms capability needs an SMS provider. A phone without an app has only
// that.
func (s *Service) preauthDevice(d store.Device) Device {
	display := d.Name
	if d.Platform != "" && !strings.EqualFold(d.Platform, d.Name) {
		display = fmt.Sprintf("%s (%s)", d.Name, d.Platform)
	}
	caps := make([]string, 0, 4)
	if hasApp(d) {
		caps = append(caps, "auto", "push")
	}
	if s.smsCapable(d) {
		caps = append(caps, "sms")
	}
	if s.phoneCapable(d) {
		caps = append(caps, "phone")
	}
	if hasApp(d) {
		caps = append(caps, "mobile_otp")
	}
	masked := MaskNumber(d.Number)
	switch {
	case masked != "" && display == "":
		display = masked
	case masked != "":
		display = fmt.Sprintf("%s (%s)", display, masked)
	}
	return Device{ID: d.ID, Type: "phone", Number: masked, Name: d.Name, DisplayName: display, Capabilities: caps}
}

// duoHOTP are the parameters of a Duo device's passcodes: 6 digits,
// HMAC-SHA1, keyed by the ASCII bytes of the hotp_secret string.
var duoHOTP = otp.Params{Digits: 6, Algorithm: otp.SHA1}

// matchHOTP checks code against the counters [d.HOTPCounter, +hotpWindow)
// of d and returns the matched counter.
func (s *Service) matchHOTP(d store.Device, code string) (int64, bool, error) {
	if len(code) != duoHOTP.Digits {
		return 0, false, nil
	}
	secret, err := s.box.Open(d.HOTPSecretEnc, []byte(d.ID))
	if err != nil {
		return 0, false, fmt.Errorf("open HOTP secret of %s: %w", d.ID, err)
	}
	c, ok := otp.FindCounter(secret, uint64(d.HOTPCounter), hotpWindow, code, duoHOTP)
	return int64(c), ok, nil
}

// RemoveDevice deletes a device; its pending pushes go with it.
func (s *Service) RemoveDevice(ctx context.Context, deviceID string) error {
	err := s.st.InTx(ctx, func(q store.Queries) error {
		d, err := q.GetDevice(ctx, deviceID)
		if err != nil {
			return err
		}
		if err := q.DeleteDevice(ctx, deviceID); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "phone_delete", deviceID, map[string]any{"user_id": d.UserID, "name": d.Name})
	})
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no device with that ID")
	}
	if err != nil {
		return wrap("remove device", err)
	}
	s.opts.Logger.Info("device removed", "device_id", deviceID)
	return nil
}

// enrollingUser returns the user an enrollment is for, created active if
// the username is new (enrolling is how users come to exist).
func enrollingUser(ctx context.Context, q store.Queries, username string, now time.Time) (store.User, error) {
	u, err := q.GetUserByUsername(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		u = store.User{ID: ids.New(ids.User), Username: username, Status: store.StatusActive, Created: now}
		err = q.CreateUser(ctx, u)
	}
	return u, err
}
