-- Assent schema, version 15 (SQLite): phones an administrator creates
-- through the Admin API (add_phone) before any device activates them, and
-- the phone an activation code activates. Times are unix seconds.
--
-- A pending phone has its DP… ID from the start; the device that activates
-- it takes that ID and the row is deleted in the same transaction. user_id
-- is NULL until the phone is associated with a user (add_user_phone), and
-- again if the user is deleted (DeleteUser also does it explicitly).

CREATE TABLE pending_phones (
    id        TEXT    NOT NULL PRIMARY KEY,
    user_id   TEXT    REFERENCES users (id) ON DELETE SET NULL,
    name      TEXT    NOT NULL DEFAULT '',
    type      TEXT    NOT NULL DEFAULT '',
    platform  TEXT    NOT NULL DEFAULT '',
    number    TEXT    NOT NULL DEFAULT '',
    extension TEXT    NOT NULL DEFAULT '',
    predelay  TEXT    NOT NULL DEFAULT '',
    postdelay TEXT    NOT NULL DEFAULT '',
    created   INTEGER NOT NULL
) STRICT;

CREATE INDEX pending_phones_user ON pending_phones (user_id);

-- The phone (pending or activated) an activation code activates; '' for a
-- code that makes a new device.
ALTER TABLE activations ADD COLUMN phone_id TEXT NOT NULL DEFAULT '';
