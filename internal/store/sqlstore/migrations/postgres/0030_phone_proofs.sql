-- Assent schema, version 30 (PostgreSQL): phone numbers being added in the
-- self-service portal, waiting for the code sent to them by SMS. One per
-- user (a new one replaces it). Only a keyed hash of the code is stored;
-- attempts counts the wrong codes typed. Times are unix seconds.
CREATE TABLE phone_proofs (
    user_id   TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    number    TEXT    NOT NULL,
    extension TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    hash      BYTEA   NOT NULL,
    attempts  INTEGER NOT NULL,
    created   BIGINT  NOT NULL,
    expires   BIGINT  NOT NULL
);
