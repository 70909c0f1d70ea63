-- Second factors: a user's authenticator-app secret (RFC 6238), sealed by
-- the application (AES-GCM, a key derived from the session secret), and
-- its recovery codes, of which only SHA-256 hashes are kept. last_step is
-- the last time step whose code was accepted: no code is accepted twice.
-- Deleting a user deletes both.
CREATE TABLE totp_secrets (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed     BLOB    NOT NULL,
    confirmed  INTEGER NOT NULL DEFAULT 0, -- 1 once a code confirmed it
    last_step  INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL            -- unix microseconds
) STRICT;

CREATE TABLE recovery_codes (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash    BLOB    NOT NULL,
    PRIMARY KEY (user_id, hash)
) STRICT;
