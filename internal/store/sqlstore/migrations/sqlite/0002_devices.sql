-- Assent schema, version 2 (SQLite): devices, activation codes and push
-- transactions. Times are unix seconds; 0 means the zero time.
--
-- Rows belong to a user and go with it (ON DELETE CASCADE; DeleteUser also
-- deletes them explicitly). A transaction also goes with its device
-- (likewise for DeleteDevice).

CREATE TABLE devices (
    id              TEXT    NOT NULL PRIMARY KEY,
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    platform        TEXT    NOT NULL,
    public_key      TEXT    NOT NULL,
    hotp_secret_enc BLOB    NOT NULL,
    hotp_counter    INTEGER NOT NULL DEFAULT 0,
    push_token      TEXT    NOT NULL DEFAULT '',
    created         INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX devices_user_created ON devices (user_id, created);

-- device_id is '' while the code is unused. It is not a foreign key: a used
-- code stays used after its device is deleted.
CREATE TABLE activations (
    code_hash BLOB    NOT NULL PRIMARY KEY,
    user_id   TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires   INTEGER NOT NULL,
    device_id TEXT    NOT NULL DEFAULT '',
    created   INTEGER NOT NULL
) STRICT;

CREATE INDEX activations_user ON activations (user_id);

-- A transaction records an asynchronous authentication: a push waiting for
-- its device, or a decision already taken (for auth_status). user_id is NULL
-- for an unknown user and device_id when no device took part; the store
-- reads NULL as ''. ikey is not a foreign key: like auth_log, a transaction
-- outlives the integration that started it.
CREATE TABLE transactions (
    id               TEXT    NOT NULL PRIMARY KEY,
    user_id          TEXT    REFERENCES users (id) ON DELETE CASCADE,
    device_id        TEXT    REFERENCES devices (id) ON DELETE CASCADE,
    ikey             TEXT    NOT NULL,
    factor           TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    type             TEXT    NOT NULL,
    display_username TEXT    NOT NULL,
    push_info        TEXT    NOT NULL,
    ip               TEXT    NOT NULL,
    hostname         TEXT    NOT NULL,
    created          INTEGER NOT NULL,
    expires          INTEGER NOT NULL,
    answered         INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX transactions_device_state_expires ON transactions (device_id, state, expires);
CREATE INDEX transactions_user ON transactions (user_id);
