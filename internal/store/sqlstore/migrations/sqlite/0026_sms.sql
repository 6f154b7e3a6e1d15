-- Assent schema, version 26 (SQLite): phones that receive SMS passcodes,
-- the passcodes sent and the telephony log. Times are unix seconds.
--
-- A device keeps the number (E.164) and extension of its phone: the one an
-- administrator gave the pending phone it activated, or given to it since.
-- A device without a public key is a phone with a number and no app: it
-- can receive SMS passcodes and nothing else.
ALTER TABLE devices ADD COLUMN number TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN extension TEXT NOT NULL DEFAULT '';
-- The Admin API finds phones by number (get_phones_by_number).
CREATE INDEX devices_number ON devices (number);

-- The SMS passcodes of a batch not yet used. Only a keyed hash of a code
-- is stored; a code is deleted when it is used (once), when a new batch is
-- sent to its device, or with its device or user. seq is the code's place
-- in the batch, from which the digit it starts with (sms_nextcode) comes.
-- expires is 0 for codes that never expire.
CREATE TABLE sms_passcodes (
    id        TEXT    NOT NULL PRIMARY KEY,
    user_id   TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_id TEXT    NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    hash      BLOB    NOT NULL,
    seq       INTEGER NOT NULL,
    created   INTEGER NOT NULL,
    expires   INTEGER NOT NULL
) STRICT;

CREATE INDEX sms_passcodes_user ON sms_passcodes (user_id);
CREATE INDEX sms_passcodes_device ON sms_passcodes (device_id);

-- The telephony log: every message sent (or tried). phone holds the number
-- masked as Duo masks it (XXX-XXX-1234): never the full number. user_id is
-- not a foreign key: the log outlives the user.
CREATE TABLE telephony_log (
    id       INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    txid     TEXT    NOT NULL,
    time     INTEGER NOT NULL,
    user_id  TEXT    NOT NULL,
    phone    TEXT    NOT NULL,
    type     TEXT    NOT NULL,
    context  TEXT    NOT NULL,
    credits  INTEGER NOT NULL,
    provider TEXT    NOT NULL,
    status   TEXT    NOT NULL
) STRICT;

CREATE INDEX telephony_log_time ON telephony_log (time);
