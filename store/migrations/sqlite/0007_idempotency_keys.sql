-- Idempotency keys: the first answer to a create sent with an
-- Idempotency-Key, replayed to a retry with the same key and body for 24
-- hours. status 0: the first request is still running.
CREATE TABLE idempotency_keys (
    scope      TEXT    NOT NULL, -- whose key: "u:<user id>" or "t:<token id>"
    key        TEXT    NOT NULL,
    request    BLOB    NOT NULL, -- SHA-256 of method, path and body
    status     INTEGER NOT NULL DEFAULT 0,
    location   TEXT    NOT NULL DEFAULT '',
    body       BLOB,
    created_at INTEGER NOT NULL, -- unix microseconds
    PRIMARY KEY (scope, key)
) STRICT;

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
