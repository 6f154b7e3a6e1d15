-- Assent schema, version 3 (PostgreSQL): the hosted prompt. Times are unix
-- seconds; 0 means the zero time.

-- Web origins allowed to frame an integration's prompt, separated by spaces
-- (origins contain none); '' for none.
ALTER TABLE integrations ADD COLUMN allowed_origins TEXT NOT NULL DEFAULT '';

-- Single-use tokens: enrollment-portal links, OAuth authorization codes.
-- hash is a keyed hash of the token, never the token.
CREATE TABLE onetime_tokens (
    hash    BYTEA  NOT NULL PRIMARY KEY,
    kind    TEXT   NOT NULL,
    payload BYTEA  NOT NULL,
    expires BIGINT NOT NULL,
    created BIGINT NOT NULL
);

CREATE INDEX onetime_tokens_expires ON onetime_tokens (expires);
