-- Assent schema, version 3 (SQLite): the hosted prompt. Times are unix
-- seconds; 0 means the zero time.

-- Web origins allowed to frame an integration's prompt, separated by spaces
-- (origins contain none); '' for none.
ALTER TABLE integrations ADD COLUMN allowed_origins TEXT NOT NULL DEFAULT '';

-- Single-use tokens: enrollment-portal links, OAuth authorization codes.
-- hash is a keyed hash of the token, never the token.
CREATE TABLE onetime_tokens (
    hash    BLOB    NOT NULL PRIMARY KEY,
    kind    TEXT    NOT NULL,
    payload BLOB    NOT NULL,
    expires INTEGER NOT NULL,
    created INTEGER NOT NULL
) STRICT;

CREATE INDEX onetime_tokens_expires ON onetime_tokens (expires);
