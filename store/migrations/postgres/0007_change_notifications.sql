-- Every statement that changes users or revoked sessions notifies channel
-- userhub_changes. A notification is delivered when, and only if, its
-- transaction commits, to every connection listening: each instance's read
-- cache (store.ChangeSignal) listens, and reads again after one. Whoever
-- writes (an instance, the CLI, another program) is announced.
CREATE FUNCTION userhub_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('userhub_changes', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER users_notify AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION userhub_notify_change();
CREATE TRIGGER revoked_sessions_notify AFTER INSERT OR UPDATE OR DELETE ON revoked_sessions
    FOR EACH STATEMENT EXECUTE FUNCTION userhub_notify_change();
