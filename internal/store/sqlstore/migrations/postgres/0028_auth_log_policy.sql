-- Assent schema, version 28: auth_log.policy names the policy that decided
-- a login, when one did: 'global', 'integration' or 'group:<name>' ('' when
-- no policy setting decided). A short TEXT with a constant default: adding
-- it rewrites nothing, and the insert stays one statement.
ALTER TABLE auth_log ADD COLUMN policy TEXT NOT NULL DEFAULT '';
