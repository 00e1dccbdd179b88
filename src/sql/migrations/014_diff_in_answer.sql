-- 014: no temporary table left to read a diff from.
--
-- PUT /users ?diff=true read each record's before and after from
-- put_users' per-session temporary work table, after the call, in the
-- same transaction (userbulk.put_changes). put_users now keeps its working
-- set in a variable of the call, and answers the before and after itself
-- in two new columns of its row type (functions/common.sql, put_users.sql);
-- revert_request keeps its working set in a variable too (revert.sql). A
-- per-session temporary table is not used any more: a session that made
-- one must commit its removal at exit (under synchronous replication that
-- holds up a fast shutdown), and pgbouncer's transaction mode and Citus
-- forbid them.
--
-- put_result gains its two columns at the end (ALTER, not DROP: a view or
-- function a site built on it stays); functions/ then replaces put_users
-- with the one that fills them, in the same transaction. On a database
-- brought up from an older version, the type may not exist yet (008 drops
-- it; functions/ creates it).
DO $$
BEGIN
    IF to_regtype('userbulk.put_result') IS NOT NULL THEN
        ALTER TYPE userbulk.put_result ADD ATTRIBUTE before jsonb, ADD ATTRIBUTE after jsonb;
    END IF;
END
$$;

-- The readers of the temporary tables, and their check of a table's
-- owner: nothing calls them now (SCIM /Bulk's diff was never wired).
DROP FUNCTION IF EXISTS userbulk.put_changes();
DROP FUNCTION IF EXISTS userbulk.scim_changes(text);
DROP FUNCTION IF EXISTS userbulk.work_table_ok(text);
