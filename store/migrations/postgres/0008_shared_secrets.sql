-- Secrets every instance sharing the database must agree on (the session
-- secret, when none is configured): the first instance to start makes one,
-- the others read it. Whoever can read this table can forge session
-- cookies, but whoever can read this database can already do more (change
-- password hashes and roles): it adds no exposure the database does not
-- already have.
CREATE TABLE shared_secrets (
    name       TEXT   PRIMARY KEY,
    value      BYTEA  NOT NULL,
    created_at BIGINT NOT NULL -- unix microseconds
);
