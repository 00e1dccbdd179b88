-- Retention of the audit trail, which the module never prunes; e.g. nightly:
--   SELECT userbulk.prune_audit(now() - interval '400 days');
-- Deletes the requests made before p_before with all their rows (what the
-- view userbulk.audit shows of them) and answers how many rows of the view
-- went. A request's rows are found through audit_change's BRIN summary:
-- old requests have the lowest numbers.
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
    DELETE FROM userbulk.audit_change c
     WHERE c.request_id = ANY (v_ids)
       AND c.request_id BETWEEN (SELECT min(x) FROM unnest(v_ids) x)
                            AND (SELECT max(x) FROM unnest(v_ids) x);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$fn$;
