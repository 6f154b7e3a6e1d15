-- Assent schema, version 31: a phone without an app can be a landline
-- (phone_type 'landline': called, never texted; '' is a mobile), and a
-- number with an extension keeps Duo's predelay and postdelay (seconds as
-- given, '' for the default) for dialling the extension after the answer.
-- Constant defaults: adding them rewrites nothing.
ALTER TABLE devices ADD COLUMN phone_type TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN predelay TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN postdelay TEXT NOT NULL DEFAULT '';
