-- A write transaction that outlived its client's deadline is not committed.
-- store.inTx sets userhub.deadline (a timestamp) first in each transaction
-- made under a deadline; these deferred triggers look at the clock when the
-- transaction commits, and refuse past the deadline (SQLSTATE 57014). A
-- server frozen while a COMMIT waited in its socket would otherwise commit
-- it on waking, after its client had been told 503.
CREATE FUNCTION userhub_commit_deadline() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    deadline text := current_setting('userhub.deadline', true);
BEGIN
    IF deadline IS NOT NULL AND deadline <> '' AND clock_timestamp() > deadline::timestamptz THEN
        RAISE EXCEPTION 'the transaction outlived its deadline (%)', deadline USING ERRCODE = '57014';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER users_commit_deadline
    AFTER INSERT OR UPDATE OR DELETE ON users
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION userhub_commit_deadline();

CREATE CONSTRAINT TRIGGER revoked_sessions_commit_deadline
    AFTER INSERT OR UPDATE OR DELETE ON revoked_sessions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION userhub_commit_deadline();
