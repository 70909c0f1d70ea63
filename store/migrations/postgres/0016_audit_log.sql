-- The audit log: who did what to whom, from where. Each row is written in
-- the transaction of the change it records. No foreign keys: a row
-- outlives the users it names (their names as they were are kept).
CREATE TABLE audit_log (
    id          BIGSERIAL PRIMARY KEY,
    at          BIGINT NOT NULL, -- unix microseconds
    action      TEXT   NOT NULL,
    actor_id    BIGINT,          -- NULL: nobody logged in, or the operator
    actor_name  TEXT   NOT NULL,
    target_id   BIGINT,          -- NULL: no account (an unknown name)
    target_name TEXT   NOT NULL,
    client_ip   TEXT   NOT NULL,
    request_id  TEXT   NOT NULL,
    details     TEXT   NOT NULL  -- a JSON object of strings
);

CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor_name, id);
CREATE INDEX audit_log_target ON audit_log (target_name, id);
