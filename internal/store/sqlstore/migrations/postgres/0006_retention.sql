-- Assent schema, version 6 (PostgreSQL): indexes for the retention purge,
-- which deletes transactions and activations by expiry (auth_log_time and
-- onetime_tokens_expires already serve the other purges).

CREATE INDEX transactions_expires ON transactions (expires);
CREATE INDEX activations_expires ON activations (expires);
