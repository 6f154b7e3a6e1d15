package store

import (
	"context"
	"time"
)

// WebAuthnCredential is a registered WebAuthn credential: a security key, a
// platform authenticator (Touch ID, Windows Hello) or a passkey. Only the
// public key is stored; the private key never leaves the authenticator.
type WebAuthnCredential struct {
	ID              string // "DW" + 18 upper-case alphanumerics; the auth log's device
	UserID          string
	CredentialID    []byte // the authenticator's credential ID; unique across users
	PublicKey       []byte // COSE_Key, as the authenticator sent it
	AttestationType string // e.g. "none", "basic_full", "self"
	AAGUID          []byte // the authenticator model (16 bytes; zeros when not attested)
	// SignCount is the signature counter of the last accepted assertion
	// (0: the authenticator keeps no counter, as most passkeys).
	SignCount  uint32
	Transports []string // usb, nfc, ble, internal, hybrid
	Name       string   // chosen by the user, e.g. "YubiKey 5"
	// BackupEligible and BackupState are the BE and BS flags: the
	// credential may be, and is, synced to other devices (a passkey).
	BackupEligible bool
	BackupState    bool
	Created        time.Time
	LastUsed       time.Time // zero: never
}

// WebAuthnQueries store WebAuthn credentials and the method a user last
// logged in with in the hosted prompt.
type WebAuthnQueries interface {
	// CreateWebAuthnCredential returns ErrAlreadyExists if the ID or the
	// credential ID is taken, ErrNotFound if the user does not exist.
	CreateWebAuthnCredential(ctx context.Context, c WebAuthnCredential) error
	GetWebAuthnCredential(ctx context.Context, id string) (WebAuthnCredential, error)
	// ListWebAuthnCredentials lists a user's credentials ("": every
	// user's), ordered by Created, then ID.
	ListWebAuthnCredentials(ctx context.Context, userID string) ([]WebAuthnCredential, error)
	// RenameWebAuthnCredential sets Name; ErrNotFound if absent.
	RenameWebAuthnCredential(ctx context.Context, id, name string) error
	DeleteWebAuthnCredential(ctx context.Context, id string) error // ErrNotFound if absent
	// UseWebAuthnCredential records an accepted assertion of the credential
	// as it was read: SignCount becomes next, BackupState backupState and
	// LastUsed at, only while the stored counter is still prev (guarded, like
	// GuardedQueries). The caller refuses a counter that does not increase
	// (go-webauthn's CloneWarning) before it gets here. ErrConflict otherwise,
	// also for an unknown credential.
	UseWebAuthnCredential(ctx context.Context, id string, prev, next uint32, backupState bool, at time.Time) error

	// GetLastMethod returns the method the user last logged in with in the
	// hosted prompt (e.g. "webauthn", "push", "passcode"); ErrNotFound if
	// none is recorded.
	GetLastMethod(ctx context.Context, userID string) (string, error)
	// SetLastMethod records it (insert or replace); ErrNotFound if the user
	// does not exist.
	SetLastMethod(ctx context.Context, userID, method string, at time.Time) error
}
