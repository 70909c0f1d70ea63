-- Users. Identity columns never reuse ids, so a session that names a deleted
-- user's id can never authenticate as a later user.
-- Times are unix microseconds (UTC) in both stores, so one code path reads them.
CREATE TABLE users (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            TEXT   NOT NULL,
    name_key        TEXT   NOT NULL UNIQUE, -- case-folded name: uniqueness ignores case
    role            TEXT   NOT NULL CHECK (role IN ('admin', 'member')),
    password_hash   TEXT   NOT NULL DEFAULT '',
    session_version BIGINT NOT NULL DEFAULT 1,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE INDEX users_role ON users (role);
