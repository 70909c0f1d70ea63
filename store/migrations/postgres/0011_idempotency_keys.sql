-- Idempotency keys: the first answer to a create sent with an
-- Idempotency-Key, replayed to a retry with the same key and body for 24
-- hours. status 0: the first request is still running.
CREATE TABLE idempotency_keys (
    scope      TEXT     NOT NULL, -- whose key: "u:<user id>" or "t:<token id>"
    key        TEXT     NOT NULL,
    request    BYTEA    NOT NULL, -- SHA-256 of method, path and body
    status     SMALLINT NOT NULL DEFAULT 0,
    location   TEXT     NOT NULL DEFAULT '',
    body       BYTEA,
    created_at BIGINT   NOT NULL, -- unix microseconds
    PRIMARY KEY (scope, key)
);

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
