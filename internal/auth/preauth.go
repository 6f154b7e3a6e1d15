package auth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/store"
)

// Request carries what every preauth/auth call says about its context.
type Request struct {
	Integration store.Integration
	Username    string // one of Username and UserID
	UserID      string
	IP          string // ipaddr, optional
	Hostname    string // hostname, optional

	// typed is Username as the caller sent it, before check applied the
	// integration's username normalization policy (LookupUsername).
	typed string
}

func (r Request) ref() userRef { return userRef{Username: r.Username, UserID: r.UserID} }

// PreauthRequest asks what a user may do.
type PreauthRequest struct {
	Request
	// TextPrompt asks for the duo_unix prompt object (text_prompt=1).
	TextPrompt bool
	// NoEnrollPortal: the caller enrolls users itself (the hosted prompt),
	// so a ResultEnroll answer carries no portal link.
	NoEnrollPortal bool
	// Browser: the caller is the hosted prompt, where security keys and
	// passkeys work; they are then listed (Type DeviceWebAuthn). The Auth
	// API never offers them, but they count as an enrollment everywhere:
	// a user with only a security key gets ResultAuth with no devices.
	Browser bool
	// VerifiedPush: the client supports Verified Push as duo_unix 2.x
	// does (client_supports_verified_push=1). With the integration's
	// VerifiedPush on, an auth answer then carries a TxID, its push
	// factors are verified_pushN, and the prompt text shows the code.
	VerifiedPush bool
	// TrustedDeviceToken is Duo's trusted_device_token (or the prompt's
	// remembered-device cookie): a valid one for this user and
	// integration lets the user in without a second factor (see
	// RememberToken).
	TrustedDeviceToken string
}

// DeviceWebAuthn is the Device.Type (and capability) of a security key or
// passkey in a Browser preauth.
const DeviceWebAuthn = "webauthn"

// Preauth results, as in Duo.
const (
	ResultAuth   = "auth"
	ResultAllow  = "allow"
	ResultDeny   = "deny"
	ResultEnroll = "enroll"
)

// Device is one authentication device as preauth lists it.
type Device struct {
	ID           string
	Type         string // phone or token
	Number       string // masked, or ""
	Name         string
	DisplayName  string
	Capabilities []string
	// SMSNextCode is the digit the next SMS passcode starts with, "" when
	// none is usable (Duo's sms_nextcode).
	SMSNextCode string
}

// Prompt is the text menu duo_unix and the RADIUS proxy show.
type Prompt struct {
	Text    string
	Factors map[string]string // "1" → "push1", …, "default" → …
}

// PreauthResult is Duo's preauth answer.
type PreauthResult struct {
	Result          string
	StatusMsg       string
	Devices         []Device // for ResultAuth
	EnrollPortalURL string   // for ResultEnroll
	Prompt          *Prompt  // when asked for with TextPrompt
	UserID          string   // empty for unknown users
	// Groups names the user's groups, by name: what Duo's authentication
	// proxy reads from preauth for the duo_only Class attribute.
	Groups []string
	// TxID and VerifyCode announce a Verified Push (PreauthRequest.
	// VerifiedPush): the auth call sends TxID back with verified_pushN.
	TxID       string
	VerifyCode string

	reason string           // auth-log reason of a decision made at preauth
	groups []store.LogGroup // the user's groups, for the auth log
	// verifiedPush: a policy requires Verified Push for this user
	verifiedPush bool
	from         scope // the policy that decided at preauth, if one did
}

// Reason is the auth-log reason of a decision made at preauth (allow or
// deny without a second factor, e.g. ReasonBypassUser); empty for
// ResultAuth.
func (r PreauthResult) Reason() string { return r.reason }

// Status messages shown to users. Duo's exact texts where known.
const (
	msgAccountActive  = "Account is active"
	msgEnroll         = "Enroll an authentication device to proceed"
	msgBypassUser     = "Allowing bypass user"
	msgAllowUnenroll  = "Allowing unenrolled user"
	msgDenyUnenroll   = "Your account is not enrolled; contact your administrator"
	msgDisabled       = "Your account is disabled"
	msgLockedOut      = "Your account is locked out after too many failed attempts; contact your administrator"
	msgSuccess        = "Success. Logging you in..."
	msgBadPasscode    = "Incorrect passcode. Please try again."
	msgBypassAllowed  = "Allowing user in bypass mode"
	msgNoDeviceDetail = "no capable device"
)

// Auth-log reasons, named as in Duo's authentication log.
const (
	ReasonValidPasscode   = "valid_passcode"
	ReasonInvalidPasscode = "invalid_passcode"
	ReasonBypassUser      = "bypass_user"
	ReasonUserDisabled    = "user_disabled"
	ReasonLockedOut       = "locked_out"
	ReasonAllowUnenrolled = "allow_unenrolled_user"
	ReasonDenyUnenrolled  = "deny_unenrolled_user"
	ReasonEnrollRequired  = "user_not_enrolled"
)

// Preauth decides whether a user must authenticate, may pass, must enroll,
// or is refused, and lists the ways they can authenticate.
func (s *Service) Preauth(ctx context.Context, req PreauthRequest) (PreauthResult, error) {
	var err error
	if req.Request, err = req.check(); err != nil {
		return PreauthResult{}, err
	}
	// The user (by user_id when given, as lookup does) and their devices
	// in one read.
	name := req.Username
	if req.UserID != "" {
		name = ""
	}
	u, list, err := s.st.GetUserAndDevices(ctx, name, req.UserID)
	known := err == nil
	if errors.Is(err, store.ErrNotFound) {
		err = nil
	}
	if err != nil {
		return PreauthResult{}, wrap("preauth", err)
	}
	if !known && req.UserID != "" {
		return PreauthResult{}, invalid("user_id", "no user with that user_id")
	}
	var res PreauthResult
	if known {
		res, err = s.preauthKnown(ctx, req, u, list)
		if err != nil {
			return PreauthResult{}, err
		}
		res.UserID = u.ID
	} else {
		res = s.preauthUnknown(req)
	}
	if res.Result == ResultEnroll && !req.NoEnrollPortal {
		name := req.Username
		if known {
			name = u.Username
		}
		if res.EnrollPortalURL, err = s.opts.EnrollPortalURL(ctx, name); err != nil {
			return PreauthResult{}, wrap("preauth: enroll portal link", err)
		}
	}
	digits := req.Integration.VerifiedPush
	if digits == VerifiedPushOff && res.verifiedPush {
		digits = VerifiedPushDigits // as the auth's push then has (see decide)
	}
	if req.VerifiedPush && res.Result == ResultAuth && digits > 0 {
		res.TxID, res.VerifyCode = s.verifiedPushTxID(digits)
	}
	if req.TextPrompt {
		res.Prompt = buildPrompt(displayName(req, u), res)
	}
	if res.Result != ResultAuth {
		// A decision was made here, so it belongs in the auth log.
		l := s.logRow(req.Request, u)
		l.Result, l.Reason, l.Groups = res.Result, res.reason, res.groups
		l.Policy = res.from.logName(l.Groups)
		if l.Result == ResultEnroll {
			l.Result = ResultDeny
		}
		if err := s.st.AppendAuthLog(ctx, &l); err != nil {
			return PreauthResult{}, wrap("preauth: auth log", err)
		}
		s.logged(&l)
	}
	return res, nil
}

func (s *Service) preauthKnown(ctx context.Context, req PreauthRequest, u store.User, list []store.Device) (PreauthResult, error) {
	status, groups, err := s.statusAndGroups(ctx, s.st, u)
	if err != nil {
		return PreauthResult{}, err
	}
	ids := groupIDs(groups)
	e := evaluate(req.Integration, ids)
	if status == store.StatusLockedOut {
		unlocked, err := s.autoUnlock(ctx, e, u)
		if err != nil {
			return PreauthResult{}, err
		}
		if unlocked.Status != u.Status {
			u = unlocked
			if status, _, err = s.statusAndGroups(ctx, s.st, u); err != nil {
				return PreauthResult{}, err
			}
		}
	}
	var res PreauthResult
	if g := s.policyGate(e, req.Request, ids); g.result != "" {
		s.explain(ctx, req.Request, g)
		res = g.preauth()
	} else {
		res, err = s.preauthStatus(ctx, req, u, list, status, e)
	}
	res.groups, res.verifiedPush = groups, e.verifiedPush
	for _, g := range groups {
		res.Groups = append(res.Groups, g.Name)
	}
	return res, err
}

func (s *Service) preauthStatus(ctx context.Context, req PreauthRequest, u store.User, list []store.Device, status store.UserStatus,
	e effective) (PreauthResult, error) {
	switch status {
	case store.StatusBypass:
		return PreauthResult{Result: ResultAllow, StatusMsg: msgBypassUser, reason: ReasonBypassUser}, nil
	case store.StatusDisabled:
		return PreauthResult{Result: ResultDeny, StatusMsg: msgDisabled, reason: ReasonUserDisabled}, nil
	case store.StatusLockedOut:
		return PreauthResult{Result: ResultDeny, StatusMsg: msgLockedOut, reason: ReasonLockedOut}, nil
	}
	if req.TrustedDeviceToken != "" {
		if id, ok := s.rememberedUser(req.TrustedDeviceToken, req.Integration, e.rememberDays); ok && id == u.ID {
			g := gate{ResultAllow, msgRememberedDevice, ReasonRememberedDevice, e.rememberFrom}
			s.explain(ctx, req.Request, g)
			return g.preauth(), nil
		}
	}
	tokens, err := s.usableTokens(ctx, u.ID)
	if err != nil {
		return PreauthResult{}, wrap("preauth: tokens", err)
	}
	// Security keys are an enrollment everywhere (a user who has one must
	// not be sent to enroll, nor let in by the new-user policy), but are
	// offered only where a browser is.
	// (Read only when they matter: the Auth API's hot path with devices
	// skips the query.)
	var keys []store.WebAuthnCredential
	if len(list)+len(tokens) == 0 || req.Browser {
		if keys, err = s.st.ListWebAuthnCredentials(ctx, u.ID); err != nil {
			return PreauthResult{}, wrap("preauth: security keys", err)
		}
	}
	if len(list) == 0 && len(tokens) == 0 && len(keys) == 0 {
		// Bypass codes alone are an enrollment too.
		codes, err := s.st.ListBypassCodes(ctx, u.ID)
		if err != nil {
			return PreauthResult{}, wrap("preauth: bypass codes", err)
		}
		if !usableBypassCodes(codes, s.now()) {
			// Not enrolled: the authorized networks, then the new-user
			// policy decide.
			if g := s.networkAllowsUnenrolled(e, req.Request); g.result != "" {
				s.explain(ctx, req.Request, g)
				return g.preauth(), nil
			}
			return s.unenrolled(e.newUser), nil
		}
	}
	if g := s.networkAllows(e, req.Request); g.result != "" {
		s.explain(ctx, req.Request, g)
		return g.preauth(), nil
	}
	devices := make([]Device, 0, len(list)+len(tokens))
	var smsCodes []store.SMSPasscode
	for _, d := range list {
		if s.smsCapable(d) && e.allows(MethodSMS) {
			// Read only when a phone has a number: the hot path skips it.
			if smsCodes, err = s.st.ListSMSPasscodes(ctx, u.ID); err != nil {
				return PreauthResult{}, wrap("preauth: sms passcodes", err)
			}
			break
		}
	}
	now := s.now()
	for _, d := range list {
		pd, ok := s.listedDevice(d, e)
		if !ok {
			continue
		}
		if s.smsCapable(d) && slices.Contains(pd.Capabilities, "sms") {
			pd.SMSNextCode = smsNextCode(smsCodes, d.ID, now)
		}
		devices = append(devices, pd)
	}
	for _, t := range tokens {
		if e.allows(methodOfToken(t)) {
			devices = append(devices, preauthToken(t))
		}
	}
	for _, k := range keys {
		if !req.Browser || s.opts.WebAuthn == nil || !e.allows(MethodWebAuthn) {
			break
		}
		devices = append(devices, Device{ID: k.ID, Type: DeviceWebAuthn, Name: k.Name, DisplayName: k.Name,
			Capabilities: []string{DeviceWebAuthn}})
	}
	if len(devices) == 0 && !e.allows(MethodBypassCode) {
		// Enrolled, but with nothing the policy allows.
		g := gate{ResultDeny, msgNoAllowedMethod, ReasonFactorRestricted, e.methodsFrom}
		s.explain(ctx, req.Request, g)
		return g.preauth(), nil
	}
	return PreauthResult{Result: ResultAuth, StatusMsg: msgAccountActive, Devices: devices}, nil
}

// preauthUnknown decides for a user Assent does not know: the policies'
// permitted groups and networks, then the new-user policy.
func (s *Service) preauthUnknown(req PreauthRequest) PreauthResult {
	e := evaluate(req.Integration, nil)
	g := s.policyGate(e, req.Request, nil)
	if g.result == "" {
		g = s.networkAllowsUnenrolled(e, req.Request)
	}
	if g.result != "" {
		s.explain(context.Background(), req.Request, g)
		return g.preauth()
	}
	return s.unenrolled(e.newUser)
}

// unenrolled applies the new-user policy in force.
func (s *Service) unenrolled(p store.NewUserPolicy) PreauthResult {
	switch p {
	case store.PolicyAllow:
		return PreauthResult{Result: ResultAllow, StatusMsg: msgAllowUnenroll, reason: ReasonAllowUnenrolled}
	case store.PolicyDeny:
		return PreauthResult{Result: ResultDeny, StatusMsg: msgDenyUnenroll, reason: ReasonDenyUnenrolled}
	}
	return PreauthResult{Result: ResultEnroll, StatusMsg: msgEnroll, reason: ReasonEnrollRequired}
}

func displayName(req PreauthRequest, u store.User) string {
	if u.Username != "" {
		return u.Username
	}
	return req.Username
}

// buildPrompt renders the duo_unix text menu for a preauth result.
func buildPrompt(username string, r PreauthResult) *Prompt {
	p := &Prompt{Factors: map[string]string{}}
	switch r.Result {
	case ResultEnroll:
		p.Text = fmt.Sprintf("%s:\n%s\n", r.StatusMsg, r.EnrollPortalURL)
		if r.EnrollPortalURL == "" {
			p.Text = r.StatusMsg + "\n"
		}
		return p
	case ResultAuth:
	default:
		p.Text = r.StatusMsg + "\n"
		return p
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Duo two-factor login for %s\n\n", username)
	var options []string
	for i, d := range r.Devices {
		n := i + 1
		for _, c := range d.Capabilities {
			var label, factor string
			switch c {
			case "push":
				label, factor = "Duo Push to "+d.DisplayName, fmt.Sprintf("push%d", n)
				if r.VerifyCode != "" {
					label += " (verification code " + r.VerifyCode + ")"
					factor = fmt.Sprintf("verified_push%d", n)
				}
			case "phone":
				label, factor = "Phone call to "+d.DisplayName, fmt.Sprintf("phone%d", n)
			case "sms":
				label, factor = "SMS passcodes to "+d.DisplayName, fmt.Sprintf("sms%d", n)
				if d.SMSNextCode != "" {
					label += " (next code starts with: " + d.SMSNextCode + ")"
				}
			default:
				continue
			}
			options = append(options, label)
			key := fmt.Sprint(len(options))
			p.Factors[key] = factor
			if _, ok := p.Factors["default"]; !ok {
				p.Factors["default"] = factor
			}
		}
	}
	if len(options) == 0 {
		b.WriteString("Enter a passcode: ")
		p.Text = b.String()
		return p
	}
	b.WriteString("Enter a passcode or select one of the following options:\n\n")
	for i, o := range options {
		fmt.Fprintf(&b, " %d. %s\n", i+1, o)
	}
	fmt.Fprintf(&b, "\nPasscode or option (1-%d): ", len(options))
	p.Text = b.String()
	return p
}

// logRow starts an auth-log row for req about user u (zero if unknown):
// the user's username when the user is known (whether it was typed in
// another case, with a domain, or as an alias), else the name as typed.
func (s *Service) logRow(req Request, u store.User) store.AuthLog {
	l := store.AuthLog{
		TxID:     ids.TxID(),
		Time:     s.now(),
		IKey:     req.Integration.IKey,
		UserID:   u.ID,
		Username: u.Username,
		IP:       req.IP,
		Hostname: req.Hostname,
	}
	if l.Username == "" {
		l.Username = cmp.Or(req.typed, req.Username)
	} else if req.Username != "" && !sameUsername(req.Username, u.Username) {
		l.Alias = req.Username // found by an alias
	}
	return l
}

// DeviceToken is the Device.Type of an authenticator app or a hardware
// token, as Duo shows tokens: no capabilities, passcodes only.
const DeviceToken = "token"
