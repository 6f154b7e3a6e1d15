-- Assent schema, version 16: the groups of an auth-log row's user at the
-- time of the decision (Duo's v2 authentication log shows them as
-- user.groups, and filters by group id). A JSON array of {"id","name"}
-- objects, ordered by name; '' when the user was in no group (and for rows
-- written before this version). The decision has already read the groups
-- for the user's effective status, so the row costs no extra read; a
-- filter by group reads the time window and matches the ids in the text.
ALTER TABLE auth_log ADD COLUMN group_list TEXT NOT NULL DEFAULT '';
-- A push is logged when it is answered: its transaction keeps the groups
-- read when it was sent, in the same form.
ALTER TABLE transactions ADD COLUMN group_list TEXT NOT NULL DEFAULT '';
