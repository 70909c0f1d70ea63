-- The audit log: who did what to whom, from where. Each row is written in
-- the transaction of the change it records. No foreign keys: a row
-- outlives the users it names (their names as they were are kept).
-- AUTOINCREMENT: ids are never reused after pruning, so a page's cursor
-- (an id) always means the same place.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL, -- unix microseconds
    action      TEXT    NOT NULL,
    actor_id    INTEGER,          -- NULL: nobody logged in, or the operator
    actor_name  TEXT    NOT NULL,
    target_id   INTEGER,          -- NULL: no account (an unknown name)
    target_name TEXT    NOT NULL,
    client_ip   TEXT    NOT NULL,
    request_id  TEXT    NOT NULL,
    details     TEXT    NOT NULL  -- a JSON object of strings
) STRICT;

CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor_name, id);
CREATE INDEX audit_log_target ON audit_log (target_name, id);
