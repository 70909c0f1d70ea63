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

-- How many users each role has, kept by triggers, so that the list's
-- total costs one row read however many users there are (count(*) reads
-- them all). The triggers run once per statement, over the rows it
-- changed: a row trigger would update the same count row once per user
-- inserted, and a million-row insert would wade through a million dead
-- versions of it. Both rows of a role change are updated in one statement,
-- so two opposite changes cannot deadlock on them. The functions keep the
-- search_path they were made under, so they find user_counts whoever
-- changes users.
CREATE TABLE user_counts (
    role TEXT   PRIMARY KEY,
    n    BIGINT NOT NULL
);
INSERT INTO user_counts (role, n)
    SELECT r, (SELECT count(*) FROM users WHERE role = r) FROM (VALUES ('admin'), ('member')) AS roles (r);

CREATE FUNCTION userhub_count_inserted() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE user_counts c SET n = c.n + d.n
    FROM (SELECT role, count(*) AS n FROM inserted GROUP BY role) d
    WHERE c.role = d.role;
    RETURN NULL;
END
$$;

CREATE FUNCTION userhub_count_deleted() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE user_counts c SET n = c.n - d.n
    FROM (SELECT role, count(*) AS n FROM deleted GROUP BY role) d
    WHERE c.role = d.role;
    RETURN NULL;
END
$$;

CREATE FUNCTION userhub_count_role_changes() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE user_counts c SET n = c.n + d.n
    FROM (SELECT role, sum(delta) AS n
          FROM (SELECT o.role, -1 AS delta FROM old_rows o JOIN new_rows w ON w.id = o.id WHERE o.role <> w.role
                UNION ALL
                SELECT w.role, 1 FROM old_rows o JOIN new_rows w ON w.id = o.id WHERE o.role <> w.role) changes
          GROUP BY role) d
    WHERE c.role = d.role;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_count_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION userhub_count_inserted();
CREATE TRIGGER users_count_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION userhub_count_deleted();
CREATE TRIGGER users_count_update AFTER UPDATE ON users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION userhub_count_role_changes();
