package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/ratelimit"
	"github.com/assent-auth/assent/internal/store"
)

// SMS passcodes, with Duo's semantics: factor=sms (or a prompt's smsN)
// sends a new batch of passcodes to a phone's number and answers deny with
// status "sent"; the user then logs in with one of them (factor=passcode).
// Each code works once; a new batch replaces the previous one; a batch
// expires after sms_expiration. Code k of a batch starts with the digit
// k%9+1, so the user can tell which one is next (preauth's sms_nextcode).
//
// The codes are stored as keyed hashes (like bypass codes) and a code's use
// is a guarded write of the decision's transaction (UseSMSPasscode): a code
// accepted by two concurrent requests is accepted once. The message is sent
// before the batch is committed, outside any transaction, through the
// SMSSender the edges give (Kannel, SMPP or an HTTPS provider); a failed
// delivery is an error (Duo's 500), never an allow, and stores no codes.

// SMSSender delivers a text message to a phone number (E.164).
type SMSSender interface {
	SendSMS(ctx context.Context, to, text string) error
	// Name names the provider in the telephony log (kannel, smpp, http).
	Name() string
}

// SMSOptions configure SMS passcodes. A nil Sender disables them: no
// phone offers the sms capability.
type SMSOptions struct {
	Sender SMSSender
	// Batch is sms_batch: the number of passcodes per message, 1 to 10
	// (0: 1).
	Batch int
	// Expiration is sms_expiration: how long a batch works; 0: until the
	// next batch.
	Expiration time.Duration
	// Message is sms_message, the text before the passcodes.
	Message string
	// Refresh is sms_refresh: once the last code of a batch logged in, a
	// new batch is sent.
	Refresh bool
	// PerUser limits the messages sent to each user's phones, Global
	// those sent to anyone (toll fraud and cost). Zero limits disable
	// them.
	PerUser, Global ratelimit.Limit
}

// Names of the SMS rate limits in warnings: the settings that configure them.
const (
	LimitSMSPerUser = "rate_limit_sms_per_user"
	LimitSMSGlobal  = "rate_limit_sms_global"
)

// SMS constants as Duo has them.
const (
	// SMSPasscodeDigits is the length of an SMS passcode.
	SMSPasscodeDigits = 7
	// MaxSMSBatch is the greatest sms_batch.
	MaxSMSBatch       = 10
	msgSMSSent        = "New SMS passcodes sent."
	statusSent        = "sent"
	factorSMSPasscode = "sms_passcode"
	factorSMSRefresh  = "sms_refresh"
	// ReasonSMSSent is the auth-log reason of a request that sent a batch.
	ReasonSMSSent = "sms_passcodes_sent"
	// smsHashPurpose separates SMS passcode hashes from other keyed hashes.
	smsHashPurpose = "sms passcode"
	// Telephony log values.
	TelephonySMS            = "sms"
	TelephonyAuthentication = "authentication"
	TelephonyAdminTest      = "administrator test"
	TelephonyAdministrator  = "administrator"
	TelephonySent           = "sent"
	TelephonyFailed         = "failed"
	detailTooManySMS        = "too many SMS messages for this user; try again later"
	detailTooManySMSGlobal  = "too many SMS messages sent; try again later"
)

// smsState is the Service's SMS configuration and limits.
type smsState struct {
	opts            SMSOptions
	perUser, global *ratelimit.Named
}

func newSMSState(o SMSOptions, now func() time.Time) smsState {
	ro := ratelimit.Options{Now: now}
	if o.Batch <= 0 {
		o.Batch = 1
	}
	o.Batch = min(o.Batch, MaxSMSBatch)
	return smsState{opts: o, perUser: ratelimit.NewNamed(LimitSMSPerUser, o.PerUser, ro),
		global: ratelimit.NewNamed(LimitSMSGlobal, o.Global, ro)}
}

// SMSRateLimits are the SMS rate limits, for metrics.
func (s *Service) SMSRateLimits() []*ratelimit.Named {
	return []*ratelimit.Named{s.sms.perUser, s.sms.global}
}

// smsEnabled reports whether SMS passcodes can be sent.
func (s *Service) smsEnabled() bool { return s.sms.opts.Sender != nil }

// smsCapable reports whether d can receive SMS passcodes.
func (s *Service) smsCapable(d store.Device) bool {
	return s.smsEnabled() && d.Number != "" && d.PhoneType != store.PhoneLandline
}

// hasApp reports whether d is an authenticator app (push, HOTP), not only a
// number.
func hasApp(d store.Device) bool { return d.PublicKey != "" }

// MaskNumber masks a phone number as Duo does: XXX-XXX-1234 (the last four
// digits kept). "" stays "".
func MaskNumber(number string) string {
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, number)
	if digits == "" {
		return ""
	}
	if len(digits) > 4 {
		digits = digits[len(digits)-4:]
	}
	return "XXX-XXX-" + digits
}

// smsNextCode is the digit the next usable code of device starts with, or
// "" when it has none.
func smsNextCode(codes []store.SMSPasscode, device string, now time.Time) string {
	for _, c := range codes {
		if c.DeviceID == device && !c.Expired(now) {
			return strconv.Itoa(c.Seq%9 + 1)
		}
	}
	return ""
}

// smsBatch is a batch of passcodes about to be sent, kept across the tries
// of one request so that a retried decision sends nothing twice.
type smsBatch struct {
	device store.Device
	codes  []store.SMSPasscode
	text   string
	sent   bool
	err    error // the delivery's failure
}

// newSMSBatch makes a batch of codes for d and the message carrying them.
func (s *Service) newSMSBatch(u store.User, d store.Device, now time.Time) (*smsBatch, error) {
	o := s.sms.opts
	b := &smsBatch{device: d}
	var expires time.Time
	if o.Expiration > 0 {
		expires = now.Add(o.Expiration)
	}
	plain := make([]string, 0, o.Batch)
	for i := range o.Batch {
		code, err := smsCode(i)
		if err != nil {
			return nil, err
		}
		plain = append(plain, code)
		b.codes = append(b.codes, store.SMSPasscode{ID: ids.New(ids.Device), UserID: u.ID, DeviceID: d.ID,
			Hash: s.smsHash(u.ID, code), Seq: i, Created: now, Expires: expires})
	}
	b.text = smsText(o.Message, plain)
	return b, nil
}

// smsText is the message of a batch.
func smsText(message string, codes []string) string {
	var t strings.Builder
	if message != "" {
		t.WriteString(message)
		t.WriteString("\n")
	}
	t.WriteString("SMS passcodes: ")
	t.WriteString(strings.Join(codes, " "))
	return t.String()
}

// smsCode is code seq of a batch: SMSPasscodeDigits digits starting with
// seq%9+1.
func smsCode(seq int) (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("sms passcode: %w", err)
	}
	return fmt.Sprintf("%d%06d", seq%9+1, n.Int64()), nil
}

func (s *Service) smsHash(userID, code string) []byte {
	return s.box.KeyedHash(smsHashPurpose, userID, code)
}

// pickSMSDevice chooses the phone a factor=sms request names: by position
// in preauth's list (sms2), by ID, or the first phone with a number.
func (s *Service) pickSMSDevice(req AuthRequest, p plan, devices []store.Device) (store.Device, error) {
	var d *store.Device
	switch {
	case p.index > 0:
		if p.index <= len(devices) {
			d = &devices[p.index-1]
		}
	case req.Device == "" || req.Device == "auto":
		for i := range devices {
			if s.smsCapable(devices[i]) {
				d = &devices[i]
				break
			}
		}
	default:
		for i := range devices {
			if devices[i].ID == req.Device {
				d = &devices[i]
			}
		}
	}
	if d == nil || !s.smsCapable(*d) {
		return store.Device{}, ErrNoCapableDevice
	}
	return *d, nil
}

// allowSMS spends a token of the user's and of the global SMS buckets.
func (s *Service) allowSMS(u store.User) error {
	if ok, retry := s.sms.global.Allow(""); !ok {
		s.sms.global.Warn(s.opts.Logger, "", retry)
		return rateLimited(detailTooManySMSGlobal, retry)
	}
	if ok, retry := s.sms.perUser.Allow(u.ID); !ok {
		s.sms.perUser.Warn(s.opts.Logger, u.ID, retry)
		return rateLimited(detailTooManySMS, retry)
	}
	return nil
}

// decideSMS prepares a batch for factor=sms: the answer is Duo's deny/sent;
// the codes are sent by sendSMS and stored by commit.
func (s *Service) decideSMS(req AuthRequest, p plan, u store.User, devices []store.Device, now time.Time, d *decision, c *authCall) error {
	dev, err := s.pickSMSDevice(req, p, devices)
	if err != nil {
		return err
	}
	l := &d.log
	l.Factor, l.Device = factorSMSRefresh, dev.ID
	if c.sms == nil || c.sms.device.ID != dev.ID {
		if c.sms == nil {
			if err := s.allowSMS(u); err != nil {
				return err
			}
		}
		if c.sms, err = s.newSMSBatch(u, dev, now); err != nil {
			return err
		}
	}
	d.sms = c.sms
	l.Reason = ReasonSMSSent
	d.res = AuthResult{Result: ResultDeny, Status: statusSent, StatusMsg: msgSMSSent}
	return nil
}

// smsDeliverTimeout bounds one delivery.
const smsDeliverTimeout = 30 * time.Second

// sendSMS delivers the decision's batch once per request, before commit
// stores it. A failed delivery is written to the telephony log at once and
// returned: the request fails.
func (s *Service) sendSMS(ctx context.Context, d *decision) error {
	b := d.sms
	if b == nil || b.sent {
		return nil
	}
	if b.err != nil {
		return b.err
	}
	ctx, cancel := context.WithTimeout(ctx, smsDeliverTimeout)
	defer cancel()
	err := s.sms.opts.Sender.SendSMS(ctx, b.device.Number, b.text)
	if err == nil {
		b.sent = true
		s.opts.Logger.Info("sms passcodes sent", "user_id", b.device.UserID, "device_id", b.device.ID,
			"phone", MaskNumber(b.device.Number), "provider", s.sms.opts.Sender.Name())
		return nil
	}
	b.err = fmt.Errorf("send sms passcodes to %s through %s: %w", MaskNumber(b.device.Number), s.sms.opts.Sender.Name(), err)
	s.opts.Logger.Error("sms delivery failed", "user_id", b.device.UserID, "device_id", b.device.ID,
		"phone", MaskNumber(b.device.Number), "provider", s.sms.opts.Sender.Name(), "err", err)
	row := s.telephonyRow(d.log.TxID, b.device, TelephonyAuthentication, TelephonyFailed)
	if lerr := s.st.AppendTelephonyLog(ctx, &row); lerr != nil {
		return errors.Join(b.err, lerr)
	}
	return b.err
}

// telephonyRow is a telephony-log row for a message to d.
func (s *Service) telephonyRow(txid string, d store.Device, context, status string) store.TelephonyLog {
	credits := 1
	if status != TelephonySent {
		credits = 0
	}
	return store.TelephonyLog{TxID: txid, Time: s.now(), UserID: d.UserID, Phone: MaskNumber(d.Number),
		Type: TelephonySMS, Context: context, Credits: credits, Provider: s.sms.opts.Sender.Name(), Status: status}
}

// commitSMS stores a delivered batch and its telephony-log row.
func (s *Service) commitSMS(ctx context.Context, q store.Queries, d *decision) error {
	if err := conflictIfGone(q.ReplaceSMSPasscodes(ctx, d.sms.device.ID, d.sms.codes)); err != nil {
		return err
	}
	row := s.telephonyRow(d.log.TxID, d.sms.device, TelephonyAuthentication, TelephonySent)
	return q.AppendTelephonyLog(ctx, &row)
}

// couldBeSMSPasscode reports whether passcode has the shape of an SMS
// passcode.
func couldBeSMSPasscode(passcode string) bool {
	return len(passcode) == SMSPasscodeDigits && allIn(passcode, "0123456789")
}

// smsCodesFor reads the user's SMS passcodes when passcode could be one and
// a phone of the user has a number.
func (s *Service) smsCodesFor(ctx context.Context, u store.User, devices []store.Device, passcode string) ([]store.SMSPasscode, error) {
	if !couldBeSMSPasscode(passcode) {
		return nil, nil
	}
	for _, d := range devices {
		if d.Number != "" {
			return s.st.ListSMSPasscodes(ctx, u.ID)
		}
	}
	return nil, nil
}

// matchSMS finds the unexpired code passcode is.
func (s *Service) matchSMS(u store.User, codes []store.SMSPasscode, passcode string, now time.Time) *store.SMSPasscode {
	if len(codes) == 0 {
		return nil
	}
	h := s.smsHash(u.ID, passcode)
	for i := range codes {
		if !codes[i].Expired(now) && string(codes[i].Hash) == string(h) {
			return &codes[i]
		}
	}
	return nil
}

// TestSMS sends a test message to number (assent telephony test-sms) and
// writes its telephony-log row.
func (s *Service) TestSMS(ctx context.Context, number, text string) error {
	if !s.smsEnabled() {
		return invalid("sms_provider", "no SMS provider is configured")
	}
	n, err := normalizeNumber(number)
	if err != nil {
		return err
	}
	if n == "" {
		return invalid("number", "is required")
	}
	if text == "" {
		text = "Assent test message"
	}
	if ok, retry := s.sms.global.Allow(""); !ok {
		return rateLimited(detailTooManySMSGlobal, retry)
	}
	ctx2, cancel := context.WithTimeout(ctx, smsDeliverTimeout)
	defer cancel()
	sendErr := s.sms.opts.Sender.SendSMS(ctx2, n, text)
	status := TelephonySent
	if sendErr != nil {
		status = TelephonyFailed
	}
	row := s.telephonyRow(ids.TxID(), store.Device{Number: n}, TelephonyAdminTest, status)
	if err := s.st.AppendTelephonyLog(ctx, &row); err != nil {
		return errors.Join(sendErr, wrap("telephony log", err))
	}
	if sendErr != nil {
		return fmt.Errorf("send a test sms to %s through %s: %w", MaskNumber(n), s.sms.opts.Sender.Name(), sendErr)
	}
	return nil
}

// TelephonyLog lists the telephony log from since to until (zero: now).
func (s *Service) TelephonyLog(ctx context.Context, since, until time.Time, limit int) ([]store.TelephonyLog, error) {
	out, err := s.st.ListTelephonyLog(ctx, since, until, limit)
	if err != nil {
		return nil, wrap("telephony log", err)
	}
	return out, nil
}

// SMSSettings are Duo's sms_* settings as configured.
type SMSSettings struct {
	Batch      int
	Expiration time.Duration // 0: until the next batch
	Message    string
	Refresh    bool
}

// refreshSMS sends a new batch after the last code of a batch logged in
// (sms_refresh). The login stands whatever happens: a refusal by a rate
// limit or a failed delivery is only logged.
func (s *Service) refreshSMS(ctx context.Context, d *decision) {
	dev := *d.smsRefresh
	log := s.opts.Logger.With("user_id", dev.UserID, "device_id", dev.ID, "phone", MaskNumber(dev.Number))
	if err := s.allowSMS(store.User{ID: dev.UserID}); err != nil {
		log.Warn("sms_refresh: no new batch", "err", err)
		return
	}
	b, err := s.newSMSBatch(store.User{ID: dev.UserID}, dev, s.now())
	if err != nil {
		log.Error("sms_refresh: no new batch", "err", err)
		return
	}
	sd := &decision{sms: b, log: store.AuthLog{TxID: d.log.TxID}}
	if err := s.sendSMS(ctx, sd); err != nil {
		return // logged, with its telephony-log row
	}
	err = s.st.InTx(ctx, func(q store.Queries) error { return s.commitSMS(ctx, q, sd) })
	if err != nil {
		log.Error("sms_refresh: the new batch was sent but not stored", "err", err)
	}
}

// SMSSettings reports the SMS settings (the Admin API's settings object).
func (s *Service) SMSSettings() SMSSettings {
	return SMSSettings{Batch: s.sms.opts.Batch, Expiration: s.sms.opts.Expiration, Message: s.sms.opts.Message,
		Refresh: s.sms.opts.Refresh}
}

// lastOfBatch is the phone of code when sms_refresh is on and code is the
// last usable code of its batch; nil otherwise.
func (s *Service) lastOfBatch(code *store.SMSPasscode, codes []store.SMSPasscode, devices []store.Device, now time.Time) *store.Device {
	if !s.sms.opts.Refresh {
		return nil
	}
	for _, c := range codes {
		if c.DeviceID == code.DeviceID && c.ID != code.ID && !c.Expired(now) {
			return nil
		}
	}
	for i := range devices {
		if devices[i].ID == code.DeviceID && s.smsCapable(devices[i]) {
			d := devices[i]
			return &d
		}
	}
	return nil
}

// SetSMSLimits changes the SMS rate limits (a configuration reload).
func (s *Service) SetSMSLimits(perUser, global ratelimit.Limit) {
	s.sms.perUser.SetLimit(perUser)
	s.sms.global.SetLimit(global)
}
