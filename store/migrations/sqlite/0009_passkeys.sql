-- Passkeys (WebAuthn credentials): the credential id the authenticator
-- chose, its user, the name the user gave it, and the credential as the
-- WebAuthn library keeps it (public key, sign count, flags; JSON). Deleting
-- a user deletes their passkeys.
CREATE TABLE passkeys (
    id           BLOB    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    data         BLOB    NOT NULL,
    created_at   INTEGER NOT NULL, -- unix microseconds
    last_used_at INTEGER           -- NULL: never used
) STRICT;

CREATE INDEX passkeys_user ON passkeys (user_id);
