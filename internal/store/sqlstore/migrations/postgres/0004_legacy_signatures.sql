-- Assent schema, version 4 (PostgreSQL): integrations that may sign requests
-- with signature version 1, which covers no date and so can be replayed. 1
-- for such legacy integrations, 0 (the default) for every other.
ALTER TABLE integrations ADD COLUMN legacy_signatures BIGINT NOT NULL DEFAULT 0;
