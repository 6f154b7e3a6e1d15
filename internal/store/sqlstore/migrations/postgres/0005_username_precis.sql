-- Usernames are compared with PRECIS (RFC 8265, UsernameCaseMapped per
-- space-separated part; package username) instead of a plain lower-casing.
-- The new users.username_norm values are computed in Go when the store is
-- opened (sqlstore/usernames.go), because SQL cannot compute them. This
-- records the rule the existing values were made with, so that step knows
-- it has work to do; it then records the new rule's version here.
INSERT INTO settings (key, value) VALUES ('username_norm', 'lower') ON CONFLICT (key) DO NOTHING;
