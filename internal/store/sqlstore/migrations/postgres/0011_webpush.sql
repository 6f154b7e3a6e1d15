-- Assent schema, version 11 (PostgreSQL): Web Push subscriptions of the Assent
-- Authenticator (RFC 8030 endpoint, RFC 8291 p256dh and auth keys, both
-- base64url), one per device; a row goes with its device. created is unix
-- seconds. The VAPID key pair is a sealed setting (webpush_vapid_key).

CREATE TABLE webpush_subscriptions (
    device_id TEXT    NOT NULL PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    endpoint  TEXT    NOT NULL,
    p256dh    TEXT    NOT NULL,
    auth      TEXT    NOT NULL,
    created   BIGINT  NOT NULL
);
