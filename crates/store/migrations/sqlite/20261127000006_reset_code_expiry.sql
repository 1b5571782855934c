-- When the code sent last in a reset expires: kept with the reset, so that stand-in codes for
-- unknown usernames expire exactly like real ones.
alter table reset_sessions add column code_expires_at integer;
