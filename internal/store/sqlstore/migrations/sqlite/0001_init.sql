-- Assent schema, version 1 (SQLite).
-- Times are unix seconds; 0 means the zero time.

CREATE TABLE integrations (
    ikey            TEXT    NOT NULL PRIMARY KEY,
    name            TEXT    NOT NULL,
    type            TEXT    NOT NULL,
    secret_enc      BLOB    NOT NULL,
    new_user_policy TEXT    NOT NULL,
    created         INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    id              TEXT    NOT NULL PRIMARY KEY,
    username        TEXT    NOT NULL,
    username_norm   TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    lockout_reason  TEXT    NOT NULL DEFAULT '',
    created         INTEGER NOT NULL,
    last_login      INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE UNIQUE INDEX users_username_norm ON users (username_norm);

CREATE TABLE bypass_codes (
    id             TEXT    NOT NULL PRIMARY KEY,
    user_id        TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash           BLOB    NOT NULL,
    remaining_uses INTEGER NOT NULL,
    expires        INTEGER NOT NULL,
    created        INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX bypass_codes_user_hash ON bypass_codes (user_id, hash);

-- No foreign keys: log rows outlive the users and integrations they name.
CREATE TABLE auth_log (
    id       INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    txid     TEXT    NOT NULL,
    time     INTEGER NOT NULL,
    ikey     TEXT    NOT NULL,
    user_id  TEXT    NOT NULL,
    username TEXT    NOT NULL,
    factor   TEXT    NOT NULL,
    device   TEXT    NOT NULL,
    result   TEXT    NOT NULL,
    reason   TEXT    NOT NULL,
    ip       TEXT    NOT NULL,
    hostname TEXT    NOT NULL
) STRICT;

CREATE INDEX auth_log_user_time ON auth_log (user_id, time);
CREATE INDEX auth_log_ikey_time ON auth_log (ikey, time);
CREATE INDEX auth_log_time ON auth_log (time);

CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
