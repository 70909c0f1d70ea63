-- The occasional cleanup of closed login-attempt windows finds them by
-- their end, without reading the whole table (which an attack from many
-- addresses can make large).
CREATE INDEX login_attempts_expiry ON login_attempts (resets_at);
