-- Assent schema, version 14 (PostgreSQL): a cheaper auth-log row. Every
-- decision inserts one, and each index costs its pages: auth_log_ikey_time
-- is dropped. Integrations are few, so a filter by integration keeps a
-- large share of any time window: the Admin API's and the CLI's queries
-- read the window by auth_log_time and filter. auth_log_user_time (a
-- user's rows are a small share) and auth_log_time (every window, the
-- retention purge) stay. (SQLite's version also drops AUTOINCREMENT; an
-- identity column here costs no extra write.)
DROP INDEX auth_log_ikey_time;
