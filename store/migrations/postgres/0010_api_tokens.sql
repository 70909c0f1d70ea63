-- Personal access tokens. Only the SHA-256 hash of a token is kept (a
-- token is 190 random bits: a fast hash is enough, and lets a request find
-- its token by index), with its first characters to recognise it by.
-- Deleting a user deletes their tokens.
CREATE TABLE api_tokens (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT   NOT NULL,
    prefix       TEXT   NOT NULL,
    hash         BYTEA  NOT NULL UNIQUE,
    scopes       TEXT   NOT NULL, -- "read,write,admin", in that order
    user_version BIGINT NOT NULL, -- the user's session_version when made
    created_at   BIGINT NOT NULL, -- unix microseconds
    expires_at   BIGINT,          -- NULL: never
    last_used_at BIGINT           -- NULL: never used
);

CREATE INDEX api_tokens_user ON api_tokens (user_id, id);

-- A revoked token must stop working on every instance at once: announce
-- changes as for users (0007), should an instance cache tokens.
CREATE TRIGGER api_tokens_notify AFTER INSERT OR UPDATE OF user_id, scopes, expires_at OR DELETE ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION userhub_notify_change();
