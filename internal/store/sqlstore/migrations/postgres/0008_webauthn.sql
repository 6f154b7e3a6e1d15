-- Assent schema, version 8 (PostgreSQL): WebAuthn credentials (security keys,
-- platform authenticators, passkeys) and the method each user last logged
-- in with in the hosted prompt. Times are unix seconds; 0 means the zero
-- time.
--
-- credential_id is the authenticator's credential ID (raw bytes), unique
-- across users: an authenticator names one credential with it. sign_count
-- is the signature counter last seen (0: the authenticator keeps none).
-- transports is a comma-separated list (usb,nfc,ble,internal,hybrid).
-- Rows belong to a user and go with it (ON DELETE CASCADE; DeleteUser also
-- deletes them explicitly).

CREATE TABLE webauthn_credentials (
    id               TEXT    NOT NULL PRIMARY KEY,
    user_id          TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id    BYTEA   NOT NULL UNIQUE,
    public_key       BYTEA   NOT NULL,
    attestation_type TEXT    NOT NULL DEFAULT '',
    aaguid           BYTEA   NOT NULL,
    sign_count       BIGINT  NOT NULL DEFAULT 0,
    transports       TEXT    NOT NULL DEFAULT '',
    name             TEXT    NOT NULL,
    backup_eligible  BIGINT  NOT NULL DEFAULT 0,
    backup_state     BIGINT  NOT NULL DEFAULT 0,
    created          BIGINT  NOT NULL,
    last_used        BIGINT  NOT NULL DEFAULT 0
);

CREATE INDEX webauthn_credentials_user_created ON webauthn_credentials (user_id, created);

CREATE TABLE user_last_method (
    user_id TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    method  TEXT    NOT NULL,
    updated BIGINT  NOT NULL
);
