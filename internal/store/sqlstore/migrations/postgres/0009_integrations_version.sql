-- Assent schema, version 9 (PostgreSQL): a counter of changes to
-- integrations. Every INSERT, UPDATE or DELETE on integrations, by any node
-- and any version of Assent, adds one to it in the same transaction (a
-- trigger), so a node may keep integrations in memory and check that its
-- copy is still current with one read of this single row (see
-- Store.IntegrationsVersion). Concurrent changes of integrations serialize
-- on the row, which only administrators' changes take.

CREATE TABLE integrations_version (
    id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    n  BIGINT  NOT NULL
);
INSERT INTO integrations_version (id, n) VALUES (1, 1);

CREATE FUNCTION integrations_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE integrations_version SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER integrations_version_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON integrations
    FOR EACH STATEMENT EXECUTE FUNCTION integrations_version_bump();
