-- autocert's cache (tls.mode autocert): the ACME account key, each
-- certificate with its private key (PEM), and the challenge responses of an
-- order under way, by autocert's key ("acme_account+key", "name",
-- "name+rsa", "name+token", "token+http-01"). Every instance sharing this
-- database serves the same certificates, and answers a challenge whichever
-- instance started the order. Stored as autocert writes them, unencrypted,
-- like the session secret in shared_secrets: see docs/https.md.
CREATE TABLE acme_cache (
    key        TEXT   PRIMARY KEY,
    data       BYTEA  NOT NULL,
    updated_at BIGINT NOT NULL -- unix microseconds
);
