-- Assent schema, version 14 (SQLite): a cheaper auth-log row. Every
-- decision inserts one on the single writer, and each B-tree it touches
-- costs pages to change and to commit:
--   - auth_log_ikey_time is dropped. Integrations are few, so a filter by
--     integration keeps a large share of any time window: the Admin API's
--     and the CLI's queries read the window by auth_log_time and filter.
--     auth_log_user_time stays (a user's rows are a small share: the
--     CLI's and the Admin API's filter by user), and auth_log_time (every
--     window, the retention purge).
--   - id loses AUTOINCREMENT, which updates sqlite_sequence on every
--     insert. A rowid is then one more than the greatest present, so ids
--     still grow with every row; one could be given again only after the
--     newest row is deleted, which the retention purge (oldest first,
--     never less than a day) does only when the whole log is older than
--     the retention. No reader pages by id (cursors are time and txid).
-- The table is rebuilt (SQLite cannot change a column's AUTOINCREMENT).
CREATE TABLE auth_log_new (
    id       INTEGER NOT NULL PRIMARY KEY,
    txid     TEXT    NOT NULL,
    time     INTEGER NOT NULL,
    ikey     TEXT    NOT NULL,
    user_id  TEXT    NOT NULL,
    username TEXT    NOT NULL,
    factor   TEXT    NOT NULL,
    device   TEXT    NOT NULL,
    result   TEXT    NOT NULL,
    reason   TEXT    NOT NULL,
    ip       TEXT    NOT NULL,
    hostname TEXT    NOT NULL
) STRICT;
INSERT INTO auth_log_new (id, txid, time, ikey, user_id, username, factor, device, result, reason, ip, hostname)
    SELECT id, txid, time, ikey, user_id, username, factor, device, result, reason, ip, hostname FROM auth_log;
DROP TABLE auth_log;
ALTER TABLE auth_log_new RENAME TO auth_log;
CREATE INDEX auth_log_user_time ON auth_log (user_id, time);
CREATE INDEX auth_log_time ON auth_log (time);
