-- Assent schema, version 12 (PostgreSQL): Verified Push (number matching).
-- integrations.verified_push is the number of digits of the code a push of
-- the integration carries (0: off; 3 as Duo). transactions.step_up_digits is
-- what the push was created with, so changing the integration does not
-- change a push already sent; the code itself is not stored (it is a keyed
-- hash of the txid, see internal/auth/verifiedpush.go).
ALTER TABLE integrations ADD COLUMN verified_push BIGINT NOT NULL DEFAULT 0;
ALTER TABLE transactions ADD COLUMN step_up_digits BIGINT NOT NULL DEFAULT 0;
