-- Assent schema, version 19 (PostgreSQL): console administrators' security
-- keys and passkeys (WebAuthn), a second factor besides or instead of the
-- authenticator app (issue 15). Times are unix seconds; 0 means the zero
-- time.
--
-- As webauthn_credentials (version 8), but owned by an administrator: the
-- relying-party ID is the console's host (the public hostname), the user
-- handle the administrator's ID. credential_id is unique across
-- administrators; sign_count is the signature counter last seen (0: the
-- authenticator keeps none); transports is comma-separated. Rows go with
-- their administrator.

CREATE TABLE admin_webauthn_credentials (
    id               TEXT    NOT NULL PRIMARY KEY,
    admin_id         TEXT    NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
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

CREATE INDEX admin_webauthn_credentials_admin ON admin_webauthn_credentials (admin_id, created);
