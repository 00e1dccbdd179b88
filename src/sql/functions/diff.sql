-- The diff preview (?diff=true): the fields each record of the request
-- changes, before and after, as the engine computed them for the audit
-- trail. Read from the engine's own working set after its call, in the
-- same transaction (the module asks before COMMIT: src/store.c): nothing
-- is computed a second time, and a real run's answer is the audit rows it
-- wrote, byte for byte; a dry run's, what the real run would write.
--
-- The working sets are pg_temp's, emptied at commit: outside the request's
-- transaction, or before its engine ran, these answer nothing. A table of
-- that name that is not the owner's (made by the session's role) is
-- refused, as the engines refuse it.
CREATE OR REPLACE FUNCTION userbulk.work_table_ok(p_name text)
RETURNS boolean LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    IF to_regclass('pg_temp.' || p_name) IS NULL THEN
        RETURN false;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                WHERE c.oid = to_regclass('pg_temp.' || p_name)
                  AND (pg_catalog.pg_get_userbyid(c.relowner) <> current_user
                       OR c.relkind <> 'r')) THEN
        RAISE EXCEPTION 'pg_temp.% belongs to another role', p_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN true;
END
$fn$;

-- PUT /users: the records put_users applied (a dry run: would apply) that
-- change something, by idx, with ub_put_work's before and after, which
-- put_users writes to audit_change as they are.
CREATE OR REPLACE FUNCTION userbulk.put_changes()
RETURNS TABLE (idx integer, before jsonb, after jsonb)
LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT userbulk.work_table_ok('ub_put_work') THEN
        RETURN;
    END IF;
    -- dynamic: the table does not exist before put_users' first call
    RETURN QUERY EXECUTE
        'SELECT w.idx, w.before, w.after FROM pg_temp.ub_put_work w
          WHERE w.errors = ''[]'' AND w.after IS NOT NULL ORDER BY w.idx';
END
$fn$;

-- SCIM writes (/Bulk, PUT, PATCH): the operations scim_write performed
-- (a dry run: would perform) that change a user, by idx, as its audit rows
-- have them (a creation's after with the default roles it gets, as
-- scim_write adds them to its audit row).
CREATE OR REPLACE FUNCTION userbulk.scim_changes(p_account text)
RETURNS TABLE (idx integer, before jsonb, after jsonb)
LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT userbulk.work_table_ok('ub_scim_work') THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE
        'SELECT w.idx, w.before,
                CASE WHEN w.op = ''create''
                     THEN w.after || jsonb_build_object(''roles'', to_jsonb(ARRAY(
                              SELECT ro.id FROM userbulk.roles ro
                                JOIN userbulk.accounts a ON a.id = ro.account_id
                               WHERE a.code = $1 AND ro.is_default ORDER BY ro.id)))
                     ELSE w.after END
           FROM pg_temp.ub_scim_work w
          WHERE w.status = 0 AND w.after IS NOT NULL ORDER BY w.idx'
        USING p_account;
END
$fn$;
