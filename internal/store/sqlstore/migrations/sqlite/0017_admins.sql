-- Assent schema, version 17 (SQLite): administrators of the web console
-- (issue 15) and their sessions. Times are unix seconds.
--
-- An administrator created by `assent admin create` has no password hash
-- and no TOTP secret until its one-time setup link is used. The TOTP
-- secret is sealed with the master key (as devices' HOTP secrets);
-- totp_last_step keeps a code from being accepted twice. Sessions hold
-- only a keyed hash of the browser's token and go with their
-- administrator.

CREATE TABLE admins (
    id              TEXT    NOT NULL PRIMARY KEY,
    email           TEXT    NOT NULL UNIQUE,
    name            TEXT    NOT NULL DEFAULT '',
    role            TEXT    NOT NULL,
    password_hash   TEXT    NOT NULL DEFAULT '',
    totp_secret_enc BLOB,
    totp_last_step  INTEGER  NOT NULL DEFAULT 0,
    created         INTEGER  NOT NULL,
    last_login      INTEGER  NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE admin_sessions (
    hash      BLOB    NOT NULL PRIMARY KEY,
    admin_id  TEXT    NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    created   INTEGER  NOT NULL,
    last_seen INTEGER  NOT NULL,
    reauth    INTEGER  NOT NULL,
    ip        TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX admin_sessions_admin ON admin_sessions (admin_id);
CREATE INDEX admin_sessions_last_seen ON admin_sessions (last_seen);
