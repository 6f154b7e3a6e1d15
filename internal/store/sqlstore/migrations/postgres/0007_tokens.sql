-- Assent schema, version 7 (PostgreSQL): authenticator apps (TOTP) and hardware
-- tokens (OATH HOTP/TOTP, YubiKey OTP) in one table. Times are unix
-- seconds; 0 means the zero time.
--
-- kind is 'totp_app' (a user's app, added by the user or an administrator)
-- or one of Duo's hardware token types 'h6', 'h8', 't6', 't8', 'yk'.
-- user_id is NULL for a hardware token assigned to nobody; deleting a user
-- unassigns their hardware tokens (ON DELETE SET NULL; DeleteUser does it
-- explicitly too) and deletes their apps.
--
-- counter is what the next accepted code must reach, so that a code is
-- accepted once: for HOTP the next counter, for TOTP the step after the
-- last accepted one, for a YubiKey (use counter << 8 | session counter) + 1.
-- It only moves forward, with a guarded UPDATE … WHERE counter < ?.
-- drift is the TOTP steps between the token's clock and ours at the last
-- accepted code. Secrets are sealed (internal/secrets) with the token's id
-- as additional data.
CREATE TABLE tokens (
    id             TEXT    NOT NULL PRIMARY KEY,
    user_id        TEXT    REFERENCES users (id) ON DELETE SET NULL,
    kind           TEXT    NOT NULL,
    serial         TEXT    NOT NULL DEFAULT '',
    name           TEXT    NOT NULL DEFAULT '',
    secret_enc     BYTEA   NOT NULL,
    algorithm      TEXT    NOT NULL DEFAULT 'SHA1',
    digits         BIGINT  NOT NULL DEFAULT 6,
    period         BIGINT  NOT NULL DEFAULT 0,
    counter        BIGINT  NOT NULL DEFAULT 0,
    drift          BIGINT  NOT NULL DEFAULT 0,
    public_id      TEXT    NOT NULL DEFAULT '',
    private_id_enc BYTEA   NOT NULL DEFAULT '\x'::bytea,
    aes_key_enc    BYTEA   NOT NULL DEFAULT '\x'::bytea,
    confirmed      BIGINT  NOT NULL DEFAULT 0,
    created        BIGINT  NOT NULL,
    last_used      BIGINT  NOT NULL DEFAULT 0
);

CREATE INDEX tokens_user_created ON tokens (user_id, created);
CREATE UNIQUE INDEX tokens_serial ON tokens (serial) WHERE kind <> 'totp_app';
CREATE UNIQUE INDEX tokens_public_id ON tokens (public_id) WHERE public_id <> '';
