package prompt

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// state is what the pages carry between requests: the Session plus where
// the prompt is (a pending push, an activation code on screen).
type state struct {
	Session
	UserID     string `json:"ui,omitempty"` // the user as preauth last found it
	TxID       string `json:"t,omitempty"`  // the pending push
	Device     string `json:"dv,omitempty"` // the device it went to
	Call       bool   `json:"pc,omitempty"` // the pending transaction is a phone call
	EnrollUser string `json:"eu,omitempty"` // user whose activation code is shown
	EnrollCode string `json:"ec,omitempty"` // that code (duo://…)
	// A WebAuthn ceremony in progress: go-webauthn's session data (the
	// challenge, the allowed credentials, the user) and the challenge,
	// which the core accepts once. Sealed like the rest, so the browser
	// can neither read nor change them, and any node can finish the
	// ceremony; see webauthn.go.
	WebAuthnSession   []byte `json:"ws,omitempty"`
	WebAuthnChallenge string `json:"wc,omitempty"`
	WebAuthnName      string `json:"wn,omitempty"` // the name of the key being added
	// TOTPToken is the authenticator app being added (unconfirmed), of
	// EnrollUser; its secret stays in the core (see totp.go).
	TOTPToken string `json:"tt,omitempty"`
}

// kindPortal marks enrollment-portal states: they may only wait for an
// activation, never authenticate.
const kindPortal = "portal"

// sealAD binds sealed states to this purpose: nothing else sealed with the
// master key (secret keys, HOTP secrets) opens as a prompt state.
const sealAD = "assent prompt state v1"

// maxSealed bounds what open decodes; states are well under 4 KiB.
const maxSealed = 8 << 10

var (
	errBadState     = errors.New("prompt: unreadable or tampered state")
	errExpiredState = errors.New("prompt: expired state")
)

func (p *Prompt) seal(st state) (string, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return "", fmt.Errorf("prompt: encode state: %w", err)
	}
	sealed, err := p.Box.Seal(b, []byte(sealAD))
	if err != nil {
		return "", fmt.Errorf("prompt: seal state: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// open returns the state in v. An expired state is returned with
// errExpiredState, so the caller can still frame its error page correctly.
func (p *Prompt) open(v string) (state, error) {
	if v == "" || len(v) > maxSealed {
		return state{}, errBadState
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return state{}, errBadState
	}
	pt, err := p.Box.Open(raw, []byte(sealAD))
	if err != nil {
		return state{}, errBadState
	}
	var st state
	if err := json.Unmarshal(pt, &st); err != nil || st.Kind == "" {
		return state{}, errBadState
	}
	if !p.now().Before(st.Expires) {
		return st, errExpiredState
	}
	return st, nil
}
