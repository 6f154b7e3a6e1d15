-- Assent schema, version 24 (PostgreSQL): policies (issue 16).
-- One row per policy: ikey '' is the global policy, group_id '' an
-- integration's own; settings is a JSON object of the settings set (see
-- store.PolicySettings). Policies are read with the integration they
-- apply to and cached with it, so every change moves integrations_version
-- like a change of the integration itself.
CREATE TABLE policies (
    ikey     TEXT   NOT NULL,
    group_id TEXT   NOT NULL,
    settings TEXT   NOT NULL,
    updated  BIGINT NOT NULL,
    PRIMARY KEY (ikey, group_id)
);

CREATE TRIGGER policies_version_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON policies
    FOR EACH STATEMENT EXECUTE FUNCTION integrations_version_bump();

-- An integration's or a group's policies go with it.
CREATE FUNCTION policies_integration_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM policies WHERE ikey = OLD.ikey;
    RETURN NULL;
END;
$$;
CREATE TRIGGER policies_integration_delete AFTER DELETE ON integrations
    FOR EACH ROW EXECUTE FUNCTION policies_integration_delete();

CREATE FUNCTION policies_group_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM policies WHERE group_id = OLD.id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER policies_group_delete AFTER DELETE ON user_groups
    FOR EACH ROW EXECUTE FUNCTION policies_group_delete();

-- When a user was locked out (Unix seconds; 0: not locked out, or locked
-- before this version), for the automatic unlock after a policy's period.
ALTER TABLE users ADD COLUMN locked_at BIGINT NOT NULL DEFAULT 0;
