// Package webauthntest is a software WebAuthn authenticator for tests: it
// answers the options Assent sends to navigator.credentials.create and
// .get the way a browser with a CTAP2 security key does (packed "none"
// attestation, ES256 key, signature counter), building the CBOR and
// client data by hand, so the relying party is tested against bytes it
// did not produce.
package webauthntest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Authenticator is one software key with one credential.
type Authenticator struct {
	Origin    string // the page's origin, e.g. https://localhost:8443
	TopOrigin string // set: the page is framed by this origin (crossOrigin)
	Counter   uint32 // the signature counter; 0 keeps none (like most passkeys)
	// StepCounter is added to Counter before each assertion (0: the
	// counter stays, as a counter-less authenticator's).
	StepCounter uint32
	Flags       byte // authenticator-data flags; default UP|UV

	key    *ecdsa.PrivateKey
	credID []byte
	user   []byte
}

// Flag bits of authenticator data.
const (
	FlagUP = 0x01
	FlagUV = 0x04
	FlagBE = 0x08
	FlagBS = 0x10
	FlagAT = 0x40
)

// New returns an authenticator for pages of origin.
func New(origin string) *Authenticator {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	return &Authenticator{Origin: origin, key: k, credID: id, StepCounter: 1, Flags: FlagUP | FlagUV}
}

// CredentialID is the credential's ID.
func (a *Authenticator) CredentialID() []byte { return a.credID }

var b64 = base64.RawURLEncoding

type options struct {
	Challenge string `json:"challenge"`
	RPID      string `json:"rpId"`
	RP        struct {
		ID string `json:"id"`
	} `json:"rp"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
}

func (a *Authenticator) clientData(typ, challenge string) []byte {
	cd := map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": a.TopOrigin != ""}
	if a.TopOrigin != "" {
		cd["topOrigin"] = a.TopOrigin
	}
	b, _ := json.Marshal(cd)
	return b
}

func (a *Authenticator) authData(rpID string, flags byte, extra []byte) []byte {
	h := sha256.Sum256([]byte(rpID))
	out := append(h[:], flags)
	out = binary.BigEndian.AppendUint32(out, a.Counter)
	return append(out, extra...)
}

// Create answers navigator.credentials.create's options (the JSON
// "publicKey" member) with a RegistrationResponseJSON.
func (a *Authenticator) Create(optionsJSON []byte) ([]byte, error) {
	var o options
	if err := json.Unmarshal(optionsJSON, &o); err != nil {
		return nil, fmt.Errorf("webauthntest: options: %w", err)
	}
	if o.Challenge == "" || o.RP.ID == "" {
		return nil, errors.New("webauthntest: options without challenge or rp.id")
	}
	user, err := b64.DecodeString(o.User.ID)
	if err != nil {
		return nil, fmt.Errorf("webauthntest: user.id: %w", err)
	}
	a.user = user
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		return nil, err
	}
	pub, err := a.key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, err
	}
	x, y := pub[1:33], pub[33:65]
	cose, err := em.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
	if err != nil {
		return nil, err
	}
	att := make([]byte, 16) // AAGUID: zeros (no attestation)
	att = binary.BigEndian.AppendUint16(att, uint16(len(a.credID)))
	att = append(att, a.credID...)
	att = append(att, cose...)
	ad := a.authData(o.RP.ID, a.Flags|FlagAT, att)
	obj, err := em.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(a.credID), "rawId": b64.EncodeToString(a.credID), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(a.clientData("webauthn.create", o.Challenge)),
			"attestationObject": b64.EncodeToString(obj),
			"transports":        []string{"usb"},
		},
		"clientExtensionResults": map[string]any{},
	})
}

// Get answers navigator.credentials.get's options with an
// AuthenticationResponseJSON signed by this authenticator's key.
func (a *Authenticator) Get(optionsJSON []byte) ([]byte, error) {
	var o options
	if err := json.Unmarshal(optionsJSON, &o); err != nil {
		return nil, fmt.Errorf("webauthntest: options: %w", err)
	}
	if o.Challenge == "" || o.RPID == "" {
		return nil, errors.New("webauthntest: options without challenge or rpId")
	}
	a.Counter += a.StepCounter
	cd := a.clientData("webauthn.get", o.Challenge)
	ad := a.authData(o.RPID, a.Flags, nil)
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		return nil, err
	}
	resp := map[string]any{
		"clientDataJSON":    b64.EncodeToString(cd),
		"authenticatorData": b64.EncodeToString(ad),
		"signature":         b64.EncodeToString(sig),
	}
	if a.user != nil {
		resp["userHandle"] = b64.EncodeToString(a.user)
	}
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(a.credID), "rawId": b64.EncodeToString(a.credID), "type": "public-key",
		"response": resp, "clientExtensionResults": map[string]any{},
	})
}
