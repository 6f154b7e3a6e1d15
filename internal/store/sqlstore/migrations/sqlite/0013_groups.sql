-- Assent schema, version 13 (SQLite): groups of users, as Duo's, with a
-- status (active, bypass, disabled) that applies to their members'
-- decisions, and their members. Times are unix seconds.
--
-- Table names avoid GROUPS (a keyword in both dialects). Memberships go
-- with their group and with their user (ON DELETE CASCADE; DeleteUser and
-- DeleteGroup also delete them explicitly).

CREATE TABLE user_groups (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL DEFAULT 'active',
    created     INTEGER  NOT NULL
) STRICT;

CREATE TABLE user_group_members (
    group_id TEXT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
) STRICT;

CREATE INDEX user_group_members_user ON user_group_members (user_id);
