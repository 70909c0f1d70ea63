-- Personal access tokens. Only the SHA-256 hash of a token is kept (a
-- token is 190 random bits: a fast hash is enough, and lets a request find
-- its token by index), with its first characters to recognise it by.
-- Deleting a user deletes their tokens.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    hash         BLOB    NOT NULL UNIQUE,
    scopes       TEXT    NOT NULL, -- "read,write,admin", in that order
    user_version INTEGER NOT NULL, -- the user's session_version when made
    created_at   INTEGER NOT NULL, -- unix microseconds
    expires_at   INTEGER,          -- NULL: never
    last_used_at INTEGER           -- NULL: never used
) STRICT;

CREATE INDEX api_tokens_user ON api_tokens (user_id, id);
