-- Links between accounts and the subjects of an OpenID Connect provider:
-- the issuer and the subject (the provider's id for the person, never
-- reused) name one person; each is linked to at most one account. Deleting
-- a user deletes their links.
CREATE TABLE oidc_links (
    issuer     TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL, -- unix microseconds
    PRIMARY KEY (issuer, subject)
) STRICT;

CREATE INDEX oidc_links_user ON oidc_links (user_id);
