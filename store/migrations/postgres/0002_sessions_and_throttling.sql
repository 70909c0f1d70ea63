-- Sessions ended by logout before they expired: a copy of their cookie must
-- no longer authenticate. Rows are dropped once the session would have
-- expired anyway.
CREATE TABLE revoked_sessions (
    sid        TEXT   PRIMARY KEY,
    expires_at BIGINT NOT NULL -- unix microseconds
);

CREATE INDEX revoked_sessions_expiry ON revoked_sessions (expires_at);

-- Failed login counts per client IP and per account name, shared by every
-- process and instance using this database.
CREATE TABLE login_attempts (
    key        TEXT    PRIMARY KEY,
    count      INTEGER NOT NULL,
    resets_at  BIGINT  NOT NULL -- unix microseconds: the window's end
);
