-- autocert's cache (tls.mode autocert): the ACME account key, each
-- certificate with its private key (PEM), and the challenge responses of an
-- order under way, by autocert's key ("acme_account+key", "name",
-- "name+rsa", "name+token", "token+http-01"). Every process using this
-- database serves the same certificates, and answers a challenge whichever
-- process started the order. Stored as autocert writes them, unencrypted:
-- see docs/https.md.
CREATE TABLE acme_cache (
    key        TEXT    PRIMARY KEY,
    data       BLOB    NOT NULL,
    updated_at INTEGER NOT NULL -- unix microseconds
) STRICT;
