-- Suspension (a suspended user cannot log in until restored) and the time
-- of each user's last login (NULL until the first).
ALTER TABLE users ADD COLUMN suspended INTEGER NOT NULL DEFAULT 0 CHECK (suspended IN (0, 1));
ALTER TABLE users ADD COLUMN last_login_at INTEGER;

-- The user list filtered by role, in id order or in name order.
CREATE INDEX users_role_id ON users (role, id);
CREATE INDEX users_role_name_key ON users (role, name_key);
DROP INDEX users_role;

-- How many users each role has, kept by triggers, so that the list's
-- total costs one row read however many users there are.
CREATE TABLE user_counts (
    role TEXT    PRIMARY KEY,
    n    INTEGER NOT NULL
) STRICT;
INSERT INTO user_counts (role, n)
    SELECT r, (SELECT count(*) FROM users WHERE role = r) FROM (SELECT 'admin' AS r UNION ALL SELECT 'member');

CREATE TRIGGER users_count_insert AFTER INSERT ON users BEGIN
    UPDATE user_counts SET n = n + 1 WHERE role = NEW.role;
END;
CREATE TRIGGER users_count_delete AFTER DELETE ON users BEGIN
    UPDATE user_counts SET n = n - 1 WHERE role = OLD.role;
END;
CREATE TRIGGER users_count_role AFTER UPDATE OF role ON users WHEN OLD.role <> NEW.role BEGIN
    UPDATE user_counts SET n = n + CASE WHEN role = NEW.role THEN 1 ELSE -1 END WHERE role IN (OLD.role, NEW.role);
END;
