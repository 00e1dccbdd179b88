-- Retention of the audit trail, which the module never prunes; e.g. nightly:
--   SELECT userbulk.prune_audit(now() - interval '400 days');
-- Deletes the requests made before p_before with all their rows (what the
-- view userbulk.audit shows of them, and their place in the change feed)
-- and answers how many rows of the view went. A request's rows are found
-- through audit_change's primary key (request_id, user_id). Per account,
-- the last feed position it deleted is kept in audit_pruned: a feed cursor
-- before it may have missed what went, and is answered 410 Gone
-- (functions/changes.sql).
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

-- A user's history: its rows of the view userbulk.audit, oldest first, e.g.
--   SELECT at, actor, endpoint, before, after
--     FROM userbulk.user_history('<account id>', '<user id>');
-- Followed from the head on the user's row (users.last_change) back
-- through each row's prev_request (migration 018): one primary key probe
-- per row, whatever the size of the trail. In the order of the chain, the
-- order in which the changes committed on the user (request ids are taken
-- before a writer waits for the user's lock, so two of them may be out of
-- that order). A deleted user's row is gone, and its head with it: its
-- history is found by reading the whole trail (a sequential scan, slow on
-- a large trail). What prune_audit deleted is not in it.
CREATE OR REPLACE FUNCTION userbulk.user_history(p_account uuid, p_user uuid)
RETURNS SETOF userbulk.audit
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM userbulk.users u WHERE u.account_id = p_account AND u.id = p_user) THEN
        RETURN QUERY SELECT a.* FROM userbulk.audit a
                      WHERE a.account_id = p_account AND a.user_id = p_user
                      ORDER BY a.id;
        RETURN;
    END IF;
    RETURN QUERY
        WITH RECURSIVE h AS (
            SELECT c.request_id, c.prev_request, 1 AS depth
              FROM userbulk.users u
              JOIN userbulk.audit_change c
                ON c.request_id = u.last_change AND c.user_id = u.id AND c.account_id = p_account
             WHERE u.account_id = p_account AND u.id = p_user
            UNION ALL
            SELECT c.request_id, c.prev_request, h.depth + 1
              FROM h
              JOIN userbulk.audit_change c
                ON c.request_id = h.prev_request AND c.user_id = p_user AND c.account_id = p_account
        ) CYCLE request_id SET looped USING path
        SELECT a.* FROM h
          JOIN userbulk.audit a ON a.id = h.request_id AND a.user_id = p_user
                               AND a.account_id = p_account
         WHERE NOT h.looped
         ORDER BY h.depth DESC;
END
$fn$;
