-- Suspension (a suspended user cannot log in until restored) and the time
-- of each user's last login (NULL until the first).
ALTER TABLE users
    ADD COLUMN suspended     BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN last_login_at BIGINT;

-- The user list filtered by role, in id order or in name order (byte
-- order, as the prefix index of 0005).
CREATE INDEX users_role_id ON users (role, id);
CREATE INDEX users_role_name_key_bytes ON users (role, name_key COLLATE "C");
DROP INDEX users_role;

-- How many users each role has, kept by a trigger, so that the list's
-- total costs one row read however many users there are (count(*) reads
-- them all). Both rows of a role change are updated in one statement,
-- in one order, so two opposite changes cannot deadlock on them.
CREATE TABLE user_counts (
    role TEXT   PRIMARY KEY,
    n    BIGINT NOT NULL
);
INSERT INTO user_counts (role, n)
    SELECT r, (SELECT count(*) FROM users WHERE role = r) FROM (VALUES ('admin'), ('member')) AS roles (r);

CREATE FUNCTION userhub_count_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE user_counts SET n = n + 1 WHERE role = NEW.role;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE user_counts SET n = n - 1 WHERE role = OLD.role;
    ELSIF OLD.role <> NEW.role THEN
        UPDATE user_counts SET n = n + CASE WHEN role = NEW.role THEN 1 ELSE -1 END
        WHERE role IN (OLD.role, NEW.role);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_count
    AFTER INSERT OR DELETE OR UPDATE OF role ON users
    FOR EACH ROW EXECUTE FUNCTION userhub_count_users();
