-- Assent schema, version 29: phone-callback calls (factor=phone) are
-- transactions like pushes. transactions.progress is where a call stands
-- while it waits ('calling', 'answered'; '' for a push), for auth_status on
-- any node; transactions.phone is the masked number dialled
-- (XXX-XXX-1234), for its status message. Constant defaults: adding them
-- rewrites nothing.
ALTER TABLE transactions ADD COLUMN progress TEXT NOT NULL DEFAULT '';
ALTER TABLE transactions ADD COLUMN phone TEXT NOT NULL DEFAULT '';
