-- Second factors: a user's authenticator-app secret (RFC 6238), sealed by
-- the application (AES-GCM, a key derived from the session secret), and
-- its recovery codes, of which only SHA-256 hashes are kept. last_step is
-- the last time step whose code was accepted: no code is accepted twice.
-- Deleting a user deletes both.
CREATE TABLE totp_secrets (
    user_id    BIGINT  PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed     BYTEA   NOT NULL,
    confirmed  BOOLEAN NOT NULL DEFAULT FALSE, -- once a code confirmed it
    last_step  BIGINT  NOT NULL DEFAULT 0,
    created_at BIGINT  NOT NULL                -- unix microseconds
);

CREATE TABLE recovery_codes (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash    BYTEA  NOT NULL,
    PRIMARY KEY (user_id, hash)
);
