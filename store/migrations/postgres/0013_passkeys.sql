-- Passkeys (WebAuthn credentials): the credential id the authenticator
-- chose, its user, the name the user gave it, and the credential as the
-- WebAuthn library keeps it (public key, sign count, flags; JSON). Deleting
-- a user deletes their passkeys.
CREATE TABLE passkeys (
    id           BYTEA  PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT   NOT NULL,
    data         BYTEA  NOT NULL,
    created_at   BIGINT NOT NULL, -- unix microseconds
    last_used_at BIGINT           -- NULL: never used
);

CREATE INDEX passkeys_user ON passkeys (user_id);
