-- Retention of the audit trail, which the module never prunes; e.g. nightly:
--   SELECT userbulk.prune_audit(now() - interval '400 days');
-- Deletes the requests made before p_before with all their rows (what the
-- view userbulk.audit shows of them, and their place in the change feed)
-- and answers how many rows of the view went. A request's rows are found
-- through audit_change_request_user (012). Per account, the last feed
-- position it deleted is kept in audit_pruned: a feed cursor before it may
-- have missed what went, and is answered 410 Gone (functions/changes.sql).
-- Delete through this function only: rows deleted by hand leave no mark.
CREATE OR REPLACE FUNCTION userbulk.prune_audit(p_before timestamptz)
RETURNS bigint
LANGUAGE plpgsql
AS $fn$
DECLARE
    v_ids  bigint[];
    v_rows bigint;
BEGIN
    WITH gone AS (DELETE FROM userbulk.audit_request r WHERE r.at < p_before RETURNING r.id)
    SELECT array_agg(g.id) INTO v_ids FROM gone g;
    IF v_ids IS NULL THEN
        RETURN 0;
    END IF;
    WITH fed AS (
        DELETE FROM userbulk.audit_feed f WHERE f.request_id = ANY (v_ids)
        RETURNING f.account_id, f.seq
    )
    INSERT INTO userbulk.audit_pruned AS p (account_id, seq)
         SELECT f.account_id, max(f.seq) FROM fed f GROUP BY f.account_id
    ON CONFLICT (account_id) DO UPDATE SET seq = greatest(p.seq, excluded.seq);
    DELETE FROM userbulk.audit_change c WHERE c.request_id = ANY (v_ids);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$fn$;
