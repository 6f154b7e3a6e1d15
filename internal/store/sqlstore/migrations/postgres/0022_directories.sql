-- Assent schema, version 22 (PostgreSQL): directories (LDAP, Active Directory) that
-- users and groups are synced from (issue 16), and which users and groups
-- each directory manages. Times are unix seconds.
--
-- A directory added with `assent directory add` keeps its settings as JSON
-- (package directory's Settings, without the password) and its bind
-- password sealed with the master key. A user or group with a row in
-- directory_users / directory_groups is managed by that directory (its
-- source): external_id is the entry's objectGUID or entryUUID when the server
-- sends one ("objectguid:<hex>", "entryuuid:<uuid>"), else its normalised DN;
-- missing_since when the entry was last seen missing (0 while present).
-- Links go with their user or group (ON DELETE CASCADE); removing a
-- directory removes its links, and its users stay as local users.

CREATE TABLE directories (
    name              TEXT    NOT NULL PRIMARY KEY,
    settings          TEXT    NOT NULL,
    bind_password_enc BYTEA,
    created           BIGINT  NOT NULL,
    updated           BIGINT  NOT NULL,
    last_sync         BIGINT  NOT NULL DEFAULT 0,
    last_result       TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE directory_users (
    directory     TEXT    NOT NULL,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    external_id   TEXT    NOT NULL,
    missing_since BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (directory, user_id),
    UNIQUE (directory, external_id)
);

CREATE INDEX directory_users_user ON directory_users (user_id);

CREATE TABLE directory_groups (
    directory     TEXT    NOT NULL,
    group_id      TEXT    NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    external_id   TEXT    NOT NULL,
    missing_since BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (directory, group_id),
    UNIQUE (directory, external_id)
);

CREATE INDEX directory_groups_group ON directory_groups (group_id);
