-- Assent schema, version 24 (SQLite): policies (issue 16).
-- One row per policy: ikey '' is the global policy, group_id '' an
-- integration's own; settings is a JSON object of the settings set (see
-- store.PolicySettings). Policies are read with the integration they
-- apply to and cached with it, so every change moves integrations_version
-- like a change of the integration itself.
CREATE TABLE policies (
    ikey     TEXT    NOT NULL,
    group_id TEXT    NOT NULL,
    settings TEXT    NOT NULL,
    updated  INTEGER NOT NULL,
    PRIMARY KEY (ikey, group_id)
);

CREATE TRIGGER policies_version_insert AFTER INSERT ON policies
BEGIN
    UPDATE integrations_version SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER policies_version_update AFTER UPDATE ON policies
BEGIN
    UPDATE integrations_version SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER policies_version_delete AFTER DELETE ON policies
BEGIN
    UPDATE integrations_version SET n = n + 1 WHERE id = 1;
END;

-- An integration's or a group's policies go with it.
CREATE TRIGGER policies_integration_delete AFTER DELETE ON integrations
BEGIN
    DELETE FROM policies WHERE ikey = OLD.ikey;
END;
CREATE TRIGGER policies_group_delete AFTER DELETE ON user_groups
BEGIN
    DELETE FROM policies WHERE group_id = OLD.id;
END;

-- When a user was locked out (Unix seconds; 0: not locked out, or locked
-- before this version), for the automatic unlock after a policy's period.
ALTER TABLE users ADD COLUMN locked_at INTEGER NOT NULL DEFAULT 0;
