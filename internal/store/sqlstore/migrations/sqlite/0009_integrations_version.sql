-- Assent schema, version 9 (SQLite): a counter of changes to integrations.
-- Every INSERT, UPDATE or DELETE on integrations, by any process and any
-- version of Assent, adds one to it in the same transaction (triggers), so
-- a node may keep integrations in memory and check that its copy is still
-- current with one read of this single row (see Store.IntegrationsVersion).

CREATE TABLE integrations_version (
    id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO integrations_version (id, n) VALUES (1, 1);

CREATE TRIGGER integrations_version_insert AFTER INSERT ON integrations
BEGIN
    UPDATE integrations_version SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER integrations_version_update AFTER UPDATE ON integrations
BEGIN
    UPDATE integrations_version SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER integrations_version_delete AFTER DELETE ON integrations
BEGIN
    UPDATE integrations_version SET n = n + 1 WHERE id = 1;
END;
