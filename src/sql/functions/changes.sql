-- GET /users/changes: the change feed. The account's changes from the
-- audit trail, after a cursor, in the order they committed, a page at a
-- time.
--
-- The order, and why no change is skipped. audit_request ids come from a
-- sequence when the row is inserted, not when its transaction commits:
-- request 7 can commit after 8, and a reader that read 8 and kept "after
-- 8" as its cursor would never see 7. So the feed does not follow the ids.
-- At commit, a deferred trigger of audit_request gives each request the
-- next number of its account (audit_feed.seq), under the lock of the
-- account's row in audit_feed_clock, which it holds until the transaction
-- has ended. The writer of seq n+1 can only take the lock once the writer
-- of n has committed (or rolled back, and then n+1 is n again: the clock's
-- update went with it): a snapshot that sees n+1 sees n. A reader that
-- handed out everything up to n therefore finds everything after n later,
-- and a cursor is just "seq n (and in it, up to user u)".
--
-- The order is the order of commits of the account's writers, so a user's
-- changes come in the order they were made (two writers of a user hold its
-- row lock in turn until they commit). What it costs: one row locked per
-- committing request, from the trigger to the end of COMMIT, for the
-- account's writers only (other accounts have their own row); the work of
-- a request runs before it, in parallel. The other way, handing out only
-- the changes of transactions below the reading snapshot's xmin in
-- transaction-id order, costs the writers nothing but orders by the start
-- of their writing: a user's two changes could come in the wrong order.
--
-- Requests recorded before migration 012 have no seq and are not in the
-- feed. A request that changed no one (scim_groups deletes its row) gets
-- no seq.

-- The deferred trigger: runs at COMMIT, as the owner (it runs after the
-- SECURITY DEFINER function that inserted the row has returned).
CREATE OR REPLACE FUNCTION userbulk.audit_feed_append()
RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF EXISTS (SELECT 1 FROM userbulk.audit_request r
                WHERE r.account_id = NEW.account_id AND r.id = NEW.id) THEN
        WITH tick AS (
            INSERT INTO userbulk.audit_feed_clock AS k (account_id, seq)
                 VALUES (NEW.account_id, 1)
            ON CONFLICT (account_id) DO UPDATE SET seq = k.seq + 1
            RETURNING k.seq)
        INSERT INTO userbulk.audit_feed (account_id, seq, request_id)
             SELECT NEW.account_id, t.seq, NEW.id FROM tick t;
    END IF;
    RETURN NULL;
END
$fn$;

DO $do$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                    WHERE tgrelid = 'userbulk.audit_request'::regclass
                      AND tgname = 'audit_request_feed') THEN
        CREATE CONSTRAINT TRIGGER audit_request_feed
            AFTER INSERT ON userbulk.audit_request
            DEFERRABLE INITIALLY DEFERRED
            FOR EACH ROW EXECUTE FUNCTION userbulk.audit_feed_append();
    END IF;
END
$do$;

-- One page of account p_account after the position (p_seq, p_user): the
-- rest of request p_seq after user p_user (p_user null: none of it), then
-- the requests after it; at most p_limit changes. One scan of audit_feed's
-- key from p_seq on, and per request one of audit_change's primary key
-- (request_id, user_id).
--   status        200
--   changes       the changes, in feed order (a JSON array)
--   more          whether more changes follow now
--   next_seq, next_user   the position after the page (next_user null:
--                 the whole of request next_seq was handed out)
CREATE OR REPLACE FUNCTION userbulk.changes_page(
    p_account uuid, p_seq bigint, p_user uuid, p_limit integer)
RETURNS TABLE (status integer, changes json, more boolean, next_seq bigint, next_user uuid)
LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT f.seq, r.id, r.at, r.actor, r.trace_id, r.endpoint,
               c.user_id, c.before, c.after
          FROM userbulk.audit_feed f
          JOIN userbulk.audit_request r ON r.account_id = f.account_id AND r.id = f.request_id
         CROSS JOIN LATERAL (
                -- The request's rows through its index, whatever the
                -- statistics say: the account is checked as a filter, not
                -- as a key (IS TRUE), so that the primary key, which leads
                -- with the account, cannot serve the lookup by reading the
                -- account's whole trail (as stale statistics, which think
                -- the table small, otherwise make PostgreSQL do).
                SELECT c.user_id, c.before, c.after
                  FROM userbulk.audit_change c
                 WHERE c.request_id = f.request_id AND (c.account_id = f.account_id) IS TRUE
                   AND (f.seq > p_seq OR c.user_id > p_user)
                 ORDER BY c.user_id) c
         WHERE f.account_id = p_account
           AND f.seq >= p_seq + CASE WHEN p_user IS NULL THEN 1 ELSE 0 END
         ORDER BY f.seq, c.user_id
         LIMIT p_limit + 1
    ), numbered AS (
        SELECT p.*, row_number() OVER (ORDER BY p.seq, p.user_id) AS n FROM page p
    ), kept AS (
        SELECT * FROM numbered k WHERE k.n <= p_limit
    ), last AS (
        SELECT k.seq, k.user_id FROM kept k ORDER BY k.n DESC LIMIT 1
    )
    SELECT 200,
           (SELECT coalesce(json_agg(json_build_object(
                       'userId', k.user_id,
                       -- set by a creation, kept by a deletion; else the
                       -- user's (a userName does not change)
                       'userName', coalesce(k.after ->> 'userName', u.user_name,
                                            k.before ->> 'userName'),
                       'op', CASE WHEN k.before = '{}'::jsonb THEN 'created'
                                  WHEN k.after = '{}'::jsonb THEN 'deleted'
                                  ELSE 'updated' END,
                       'requestId', k.id,
                       'traceId', k.trace_id,
                       'endpoint', k.endpoint,
                       'actor', k.actor,
                       'at', userbulk.iso(k.at),
                       'before', k.before,
                       'after', k.after) ORDER BY k.n), '[]'::json)
              FROM kept k
              LEFT JOIN userbulk.users u ON u.id = k.user_id AND u.account_id = p_account),
           m.more,
           coalesce(l.seq, p_seq),
           -- the page ends inside a request only when more follow
           CASE WHEN l.seq IS NULL THEN p_user WHEN m.more THEN l.user_id END
      FROM (SELECT count(*) > p_limit AS more FROM page) m
      LEFT JOIN last l ON true
$$;

-- The entry of GET /users/changes (granted to the API role).
--   p_account  the caller's account code
--   p_seq, p_user  the cursor's position (see changes_page); p_seq null:
--              from the oldest change retention kept
--   p_latest   true: no changes, only the position after the last one
--              (since=latest)
--   p_limit    the page's size
-- One row: changes_page's, or status 410 (changes null) when the cursor
-- lies before what prune_audit deleted of the account's trail.
CREATE OR REPLACE FUNCTION userbulk.user_changes(
    p_account text, p_seq bigint, p_user uuid, p_latest boolean, p_limit integer)
RETURNS TABLE (status integer, changes json, more boolean, next_seq bigint, next_user uuid)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    v_account uuid;
    v_pruned  bigint;
BEGIN
    SELECT a.id INTO v_account FROM userbulk.accounts a WHERE a.code = p_account;
    IF p_latest THEN
        RETURN QUERY SELECT 200, '[]'::json, false,
                            coalesce((SELECT k.seq FROM userbulk.audit_feed_clock k
                                       WHERE k.account_id = v_account), 0::bigint),
                            NULL::uuid;
        RETURN;
    END IF;
    SELECT g.seq INTO v_pruned FROM userbulk.audit_pruned g WHERE g.account_id = v_account;
    IF p_seq < v_pruned OR (p_seq = v_pruned AND p_user IS NOT NULL) THEN
        RETURN QUERY SELECT 410, NULL::json, false, NULL::bigint, NULL::uuid;
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM userbulk.changes_page(
        v_account, coalesce(p_seq, v_pruned, 0), CASE WHEN p_seq IS NOT NULL THEN p_user END,
        p_limit);
END
$fn$;
