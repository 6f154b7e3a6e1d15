// Package webauthnrp is Assent's WebAuthn relying party: it builds the
// options for navigator.credentials.create and .get and verifies what the
// browser answers, with github.com/go-webauthn/webauthn. It decides
// nothing about users: the core (internal/auth) calls it through the
// auth.WebAuthnRP interface and owns credentials, sign counters, rate
// limits and the auth log. It lives outside the core because go-webauthn
// imports net/http, which the core never does.
package webauthnrp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// Settings configure the relying party.
type Settings struct {
	// Hostname is the public host[:port] the prompt is served on: the RP ID
	// is its host, the only accepted origin https://Hostname.
	Hostname string
	// DisplayName is shown by some authenticators; default "Assent".
	DisplayName string
	// UserVerification is preferred (default), required or discouraged.
	UserVerification string
	// Attestation is none (default), indirect or direct.
	Attestation string
	// Timeout is how long the browser waits for the authenticator; the
	// ceremony's session expires with it. Default 5 minutes.
	Timeout time.Duration
}

// RP implements auth.WebAuthnRP.
type RP struct {
	rpID, origin string
	s            Settings
}

var _ auth.WebAuthnRP = (*RP)(nil)

// New checks s and returns the relying party.
func New(s Settings) (*RP, error) {
	host := s.Hostname
	if h, _, err := net.SplitHostPort(s.Hostname); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if host == "" {
		return nil, errors.New("webauthn: no public hostname")
	}
	if net.ParseIP(host) != nil {
		// WebAuthn needs a domain: browsers refuse an IP address as RP ID.
		return nil, fmt.Errorf("webauthn: the public hostname %q is an IP address; security keys need a DNS name", s.Hostname)
	}
	if s.DisplayName == "" {
		s.DisplayName = "Assent"
	}
	switch s.UserVerification {
	case "":
		s.UserVerification = string(protocol.VerificationPreferred)
	case string(protocol.VerificationPreferred), string(protocol.VerificationRequired), string(protocol.VerificationDiscouraged):
	default:
		return nil, fmt.Errorf("webauthn: user verification %q is not one of preferred, required, discouraged", s.UserVerification)
	}
	switch s.Attestation {
	case "":
		s.Attestation = string(protocol.PreferNoAttestation)
	case string(protocol.PreferNoAttestation), string(protocol.PreferIndirectAttestation), string(protocol.PreferDirectAttestation):
	default:
		return nil, fmt.Errorf("webauthn: attestation %q is not one of none, indirect, direct", s.Attestation)
	}
	if s.Timeout <= 0 {
		s.Timeout = 5 * time.Minute
	}
	rp := &RP{rpID: host, origin: "https://" + strings.ToLower(s.Hostname), s: s}
	if _, err := rp.lib(""); err != nil {
		return nil, err
	}
	return rp, nil
}

// RPID is the relying-party ID (the public hostname's host).
func (rp *RP) RPID() string { return rp.rpID }

// lib is a go-webauthn instance for one ceremony. topOrigin is the origin
// of the page framing the prompt (Web SDK v2), empty when the prompt is
// the top-level page: only then is a cross-origin ceremony accepted, and
// only from that page.
func (rp *RP) lib(topOrigin string) (*webauthn.WebAuthn, error) {
	uv := protocol.UserVerificationRequirement(rp.s.UserVerification)
	to := webauthn.TimeoutConfig{Enforce: true, Timeout: rp.s.Timeout, TimeoutUVD: rp.s.Timeout}
	cfg := &webauthn.Config{
		RPID:                  rp.rpID,
		RPDisplayName:         rp.s.DisplayName,
		RPOrigins:             []string{rp.origin},
		AttestationPreference: protocol.ConveyancePreference(rp.s.Attestation),
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			// Discoverable where the authenticator can (passkeys), not
			// required: older security keys have few resident slots.
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: uv,
		},
		Timeouts: webauthn.TimeoutsConfig{Login: to, Registration: to},
	}
	if topOrigin != "" {
		cfg.RPAllowCrossOrigin = true
		cfg.RPTopOrigins = []string{topOrigin}
		cfg.RPTopOriginVerificationMode = protocol.TopOriginExplicitVerificationMode
	}
	w, err := webauthn.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("webauthn: %w", err)
	}
	return w, nil
}

// user adapts a user and their credentials to webauthn.User. The user
// handle is the user's ID (DU…): opaque, stable, not the username.
type user struct {
	u     auth.WebAuthnUser
	creds []webauthn.Credential
}

func (u user) WebAuthnID() []byte                         { return []byte(u.u.ID) }
func (u user) WebAuthnName() string                       { return u.u.Username }
func (u user) WebAuthnDisplayName() string                { return u.u.Username }
func (u user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func toLib(c store.WebAuthnCredential) webauthn.Credential {
	tr := make([]protocol.AuthenticatorTransport, 0, len(c.Transports))
	for _, t := range c.Transports {
		tr = append(tr, protocol.AuthenticatorTransport(t))
	}
	return webauthn.Credential{
		ID: c.CredentialID, PublicKey: c.PublicKey, AttestationType: c.AttestationType, Transport: tr,
		Flags:         webauthn.CredentialFlags{BackupEligible: c.BackupEligible, BackupState: c.BackupState},
		Authenticator: webauthn.Authenticator{AAGUID: c.AAGUID, SignCount: c.SignCount},
	}
}

func wrap(u auth.WebAuthnUser, creds []store.WebAuthnCredential) user {
	w := user{u: u}
	for _, c := range creds {
		w.creds = append(w.creds, toLib(c))
	}
	return w
}

// BeginRegistration returns the options for navigator.credentials.create
// (the "publicKey" member, JSON) and the ceremony's session (JSON; the
// caller keeps it where the browser cannot change it). The user's
// existing credentials are excluded: an authenticator registers once.
func (rp *RP) BeginRegistration(u auth.WebAuthnUser, existing []store.WebAuthnCredential, topOrigin string) (options, session []byte, err error) {
	w, err := rp.lib(topOrigin)
	if err != nil {
		return nil, nil, err
	}
	wu := wrap(u, existing)
	creation, sd, err := w.BeginRegistration(wu, webauthn.WithExclusions(webauthn.Credentials(wu.creds).CredentialDescriptors()))
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn: begin registration: %w", err)
	}
	return marshal(creation.Response, sd)
}

// FinishRegistration verifies the browser's answer to BeginRegistration's
// options and returns the new credential (without ID, user, name or
// times, which the caller sets).
func (rp *RP) FinishRegistration(u auth.WebAuthnUser, session, response []byte, topOrigin string) (store.WebAuthnCredential, error) {
	w, err := rp.lib(topOrigin)
	if err != nil {
		return store.WebAuthnCredential{}, err
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(session, &sd); err != nil {
		return store.WebAuthnCredential{}, fmt.Errorf("webauthn: session: %w", err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return store.WebAuthnCredential{}, refused("registration response", err)
	}
	c, err := w.CreateCredential(wrap(u, nil), sd, parsed)
	if err != nil {
		return store.WebAuthnCredential{}, refused("registration", err)
	}
	out := store.WebAuthnCredential{
		CredentialID: c.ID, PublicKey: c.PublicKey, AttestationType: c.AttestationType,
		AAGUID: c.Authenticator.AAGUID, SignCount: c.Authenticator.SignCount,
		BackupEligible: c.Flags.BackupEligible, BackupState: c.Flags.BackupState,
	}
	if len(out.AAGUID) == 0 {
		out.AAGUID = make([]byte, 16)
	}
	for _, t := range c.Transport {
		out.Transports = append(out.Transports, string(t))
	}
	return out, nil
}

// BeginLogin returns the options for navigator.credentials.get, allowing
// only the user's credentials, and the ceremony's session.
func (rp *RP) BeginLogin(u auth.WebAuthnUser, creds []store.WebAuthnCredential, topOrigin string) (options, session []byte, challenge string, err error) {
	w, err := rp.lib(topOrigin)
	if err != nil {
		return nil, nil, "", err
	}
	assertion, sd, err := w.BeginLogin(wrap(u, creds))
	if err != nil {
		return nil, nil, "", fmt.Errorf("webauthn: begin login: %w", err)
	}
	options, session, err = marshal(assertion.Response, sd)
	return options, session, sd.Challenge, err
}

// FinishLogin verifies an assertion against the user's credentials and
// returns which credential signed, its new counter and whether go-webauthn
// flagged the counter as not increasing (CloneWarning). A refused
// assertion still names the credential it claims to be from.
func (rp *RP) FinishLogin(u auth.WebAuthnUser, creds []store.WebAuthnCredential, session, response []byte, topOrigin string) (auth.WebAuthnAssertion, error) {
	w, err := rp.lib(topOrigin)
	if err != nil {
		return auth.WebAuthnAssertion{}, err
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(session, &sd); err != nil {
		return auth.WebAuthnAssertion{}, fmt.Errorf("webauthn: session: %w", err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return auth.WebAuthnAssertion{}, refused("login response", err)
	}
	c, err := w.ValidateLogin(wrap(u, creds), sd, parsed)
	if err != nil {
		// Which credential was tried, for the auth log.
		return auth.WebAuthnAssertion{CredentialID: parsed.RawID}, refused("login", err)
	}
	return auth.WebAuthnAssertion{
		CredentialID: c.ID, SignCount: c.Authenticator.SignCount, CloneWarning: c.Authenticator.CloneWarning,
		BackupState: c.Flags.BackupState, UserVerified: c.Flags.UserVerified,
	}, nil
}

func marshal(options any, sd *webauthn.SessionData) ([]byte, []byte, error) {
	o, err := json.Marshal(options)
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn: options: %w", err)
	}
	s, err := json.Marshal(sd)
	if err != nil {
		return nil, nil, fmt.Errorf("webauthn: session: %w", err)
	}
	return o, s, nil
}

// refused marks a verification failure (the browser's answer is wrong, not
// the server), with go-webauthn's details for the log.
func refused(what string, err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		return fmt.Errorf("%w: %s: %s (%s)", auth.ErrWebAuthnRefused, what, pe.Details, pe.DevInfo)
	}
	return fmt.Errorf("%w: %s: %w", auth.ErrWebAuthnRefused, what, err)
}
