-- Assent schema, version 10 (SQLite): the Admin API. Times are unix seconds;
-- 0 means the zero time.

-- Admin API grants of an integration (read-log, read-resource,
-- write-resource, settings), separated by spaces; '' for none.
ALTER TABLE integrations ADD COLUMN grants TEXT NOT NULL DEFAULT '';
-- Secret-key rotation: the previous secret key (sealed like secret_enc) and
-- when it stops verifying; empty and 0 when no rotation is in its grace.
ALTER TABLE integrations ADD COLUMN prev_secret_enc BLOB NOT NULL DEFAULT x'';
ALTER TABLE integrations ADD COLUMN prev_secret_expires INTEGER NOT NULL DEFAULT 0;

-- Duo's user profile fields.
ALTER TABLE users ADD COLUMN realname  TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN email     TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN notes     TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN firstname TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN lastname  TEXT NOT NULL DEFAULT '';
CREATE INDEX users_email ON users (email);
CREATE INDEX users_created ON users (created, id);

-- Every change made by an administrator (CLI, Admin API), written in the
-- same transaction as the change. description is a JSON object.
CREATE TABLE admin_log (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    time        INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    object      TEXT    NOT NULL,
    description TEXT    NOT NULL,
    ip          TEXT    NOT NULL
) STRICT;

CREATE INDEX admin_log_time ON admin_log (time);

-- The log clocks (id 1: auth_log, id 2: admin_log): the greatest timestamp
-- given to a row of that log or promised to a reader. Rows take max(now, t)
-- and set t to it, in the transaction that writes them, so their timestamps
-- follow commit order; a reader raises t to its own now and then reads only
-- rows before it (see sqlstore/admin.go).
CREATE TABLE log_clock (
    id INTEGER NOT NULL PRIMARY KEY CHECK (id IN (1, 2)),
    t  INTEGER NOT NULL
) STRICT;
INSERT INTO log_clock (id, t) SELECT 1, COALESCE(MAX(time), 0) FROM auth_log;
INSERT INTO log_clock (id, t) VALUES (2, 0);
