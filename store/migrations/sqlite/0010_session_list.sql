-- The sessions each user sees in their list (/account/sessions), with
-- either session store: written at login, and when a session's activity
-- is recorded (at most once a minute). A row outlives its session only
-- until it would have expired: the list shows rows of the user's current
-- session version that have not expired.
CREATE TABLE session_list (
    sid        TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    version    INTEGER NOT NULL, -- the user's session version at login
    created_at INTEGER NOT NULL, -- unix microseconds
    last_seen  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ip         TEXT    NOT NULL,
    user_agent TEXT    NOT NULL
) STRICT;

CREATE INDEX session_list_user ON session_list (user_id);
CREATE INDEX session_list_expiry ON session_list (expires_at);
