-- Assent schema, version 21 (PostgreSQL): sessions of the users' self-service
-- portal at /my/ (issue 15). Times are unix seconds.
--
-- As admin_sessions: only a keyed hash of the browser's token is stored;
-- a session goes with its user. reauth is when the user last proved a
-- second factor in this session (removing a method needs a recent one).
--
-- user_default_method is the method a user chose as default in the
-- portal (a device, token or security key ID): the hosted prompt offers
-- its kind first.

CREATE TABLE user_sessions (
    hash      BYTEA   NOT NULL PRIMARY KEY,
    user_id   TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created   BIGINT   NOT NULL,
    last_seen BIGINT   NOT NULL,
    reauth    BIGINT   NOT NULL,
    ip        TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX user_sessions_user ON user_sessions (user_id);
CREATE INDEX user_sessions_last_seen ON user_sessions (last_seen);

CREATE TABLE user_default_method (
    user_id   TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    method_id TEXT    NOT NULL,
    updated   BIGINT  NOT NULL
);
