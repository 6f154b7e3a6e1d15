-- Assent schema, version 23 (PostgreSQL): username aliases and per-integration
-- username normalization (issue 16).
--
-- user_aliases holds Duo's alias1…alias8 of a user: position is the N of
-- aliasN, alias the name as set, alias_norm the form it is compared in
-- (package username, as users.username_norm). alias_norm is unique, and
-- the store refuses an alias that is another user's username_norm (and a
-- username that is another user's alias) in the statement that writes it,
-- so one typed name reaches at most one user. Aliases go with their user.
--
-- integrations.username_normalization_policy is Duo's: 'none' (the
-- username is compared as typed) or 'simple' (a DOMAIN\ prefix and an
-- @domain suffix are stripped first). Existing integrations keep 'none',
-- their behaviour so far.

CREATE TABLE user_aliases (
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position   BIGINT  NOT NULL,
    alias      TEXT    NOT NULL,
    alias_norm TEXT    NOT NULL,
    PRIMARY KEY (user_id, position)
);

CREATE UNIQUE INDEX user_aliases_alias_norm ON user_aliases (alias_norm);

ALTER TABLE integrations ADD COLUMN username_normalization_policy TEXT NOT NULL DEFAULT 'none';

-- auth_log.alias is Duo's: the name a user logged in with when it was an
-- alias rather than the username ('' otherwise).
ALTER TABLE auth_log ADD COLUMN alias TEXT NOT NULL DEFAULT '';
