-- Assent schema, version 19 (SQLite): console administrators' security
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
    credential_id    BLOB    NOT NULL UNIQUE,
    public_key       BLOB    NOT NULL,
    attestation_type TEXT    NOT NULL DEFAULT '',
    aaguid           BLOB    NOT NULL,
    sign_count       INTEGER NOT NULL DEFAULT 0,
    transports       TEXT    NOT NULL DEFAULT '',
    name             TEXT    NOT NULL,
    backup_eligible  INTEGER NOT NULL DEFAULT 0,
    backup_state     INTEGER NOT NULL DEFAULT 0,
    created          INTEGER NOT NULL,
    last_used        INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX admin_webauthn_credentials_admin ON admin_webauthn_credentials (admin_id, created);
