-- The change feed (src/sql/functions/changes.sql): the commit-order
-- numbering by the deferred trigger, pages and positions, tenancy,
-- retention's 410. The test runs in one transaction: SET CONSTRAINTS ...
-- IMMEDIATE fires the deferred trigger where COMMIT would.
\ir lib/setup.sql
SELECT plan(21);

CREATE FUNCTION pg_temp.feed(p_seq bigint, p_user uuid, p_limit integer DEFAULT 1000, p_account text DEFAULT 'tap')
RETURNS TABLE (status integer, changes jsonb, more boolean, next_seq bigint, next_user uuid) LANGUAGE sql AS $$
    SELECT f.status, f.changes::jsonb, f.more, f.next_seq, f.next_user
      FROM userbulk.user_changes(p_account, p_seq, p_user, false, p_limit) f
$$;
CREATE FUNCTION pg_temp.names(p jsonb) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(c ->> 'userName', ',' ORDER BY o) FROM jsonb_array_elements(p) WITH ORDINALITY x(c, o)
$$;

-- Two requests: u3 and u4 renamed, then u5.
SELECT count(*) FROM pg_temp.put('[{"userName":"u3.tap","email":"u3@tap.example","firstName":"Three","lastName":"Tap"},
                                   {"userName":"u4.tap","email":"u4@tap.example","firstName":"Four","lastName":"Tap"}]') \g /dev/null
SELECT is((SELECT count(*) FROM userbulk.audit_feed f JOIN userbulk.accounts a ON a.id = f.account_id WHERE a.code = 'tap'),
          0::bigint, 'a request has no place in the feed before its commit');
SET CONSTRAINTS userbulk.audit_request_feed IMMEDIATE;
SET CONSTRAINTS userbulk.audit_request_feed DEFERRED;
SELECT count(*) FROM pg_temp.put('[{"userName":"u5.tap","email":"u5@tap.example","firstName":"Five","lastName":"Tap"}]') \g /dev/null
SET CONSTRAINTS userbulk.audit_request_feed IMMEDIATE;
SET CONSTRAINTS userbulk.audit_request_feed DEFERRED;

SELECT is((SELECT string_agg(f.seq::text, ',' ORDER BY f.seq) FROM userbulk.audit_feed f
             JOIN userbulk.accounts a ON a.id = f.account_id WHERE a.code = 'tap'),
          '1,2', 'at commit each request gets the next number of its account');

SELECT is((SELECT pg_temp.names(changes) || ' ' || more || ' ' || next_seq || ' ' || coalesce(next_user::text, '-')
             FROM pg_temp.feed(NULL, NULL)),
          'u3.tap,u4.tap,u5.tap false 2 -', 'from the start: every change in order, the position after the last');
SELECT is((SELECT (changes -> 0) - 'at' - 'traceId' - 'requestId' FROM pg_temp.feed(NULL, NULL)),
          '{"op": "updated", "actor": "tap-actor", "after": {"firstName": "Three"}, "before": {"firstName": "U3"},
            "userId": "7a000000-0000-4000-8000-000000000103", "endpoint": "PUT /users", "userName": "u3.tap"}'::jsonb,
          'a change: user, op, actor, endpoint, the fields before and after');
SELECT is((SELECT (changes -> 0 ->> 'requestId')::bigint = r.id AND changes -> 0 ->> 'traceId' = r.trace_id
                  AND changes -> 0 ->> 'at' = userbulk.iso(r.at)
             FROM pg_temp.feed(NULL, NULL), userbulk.audit_request r
            WHERE r.id = (SELECT f.request_id FROM userbulk.audit_feed f JOIN userbulk.accounts a ON a.id = f.account_id
                           WHERE a.code = 'tap' AND f.seq = 1)),
          true, '... its request: id, trace id, time');

-- Pages of one change: inside a request, then across.
SELECT is((SELECT pg_temp.names(changes) || ' ' || more || ' ' || next_seq || ' ' || next_user FROM pg_temp.feed(NULL, NULL, 1)),
          'u3.tap true 1 7a000000-0000-4000-8000-000000000103', 'a page of one: the position inside the request');
SELECT is((SELECT pg_temp.names(changes) || ' ' || more || ' ' || next_seq || ' ' || next_user
             FROM pg_temp.feed(1, '7a000000-0000-4000-8000-000000000103', 1)),
          'u4.tap true 1 7a000000-0000-4000-8000-000000000104', '... the rest of it, one by one');
SELECT is((SELECT pg_temp.names(changes) || ' ' || more || ' ' || next_seq || ' ' || coalesce(next_user::text, '-')
             FROM pg_temp.feed(1, '7a000000-0000-4000-8000-000000000104', 1)),
          'u5.tap false 2 -', '... the next request');
SELECT is((SELECT changes::text || ' ' || more || ' ' || next_seq || ' ' || coalesce(next_user::text, '-')
             FROM pg_temp.feed(2, NULL)),
          '[] false 2 -', 'at the end: no change, the same position');
SELECT is((SELECT pg_temp.names(changes) FROM pg_temp.feed(1, NULL)), 'u5.tap', 'after request 1: request 2');

-- Tenancy: the other account's feed has none of these.
SELECT is((SELECT changes::text || ' ' || next_seq FROM pg_temp.feed(NULL, NULL, 1000, 'tap2')), '[] 0',
          'another account''s feed: empty');
SELECT is((SELECT changes::text FROM pg_temp.feed(1, NULL, 1000, 'tap2')), '[]', '... whatever the position');

-- since=latest: the position after the last change.
SELECT is((SELECT next_seq FROM userbulk.user_changes('tap', NULL, NULL, true, 1000)), 2::bigint,
          'latest: the last number given');

-- A request whose row is gone by commit (scim_groups deletes the row of a
-- change that changed no one) takes no number.
INSERT INTO userbulk.audit_request (id, account_id, actor, trace_id, endpoint)
     VALUES (-5, '7a000000-0000-4000-8000-000000000001', 'tap', 'tap-none', 'scim');
DELETE FROM userbulk.audit_request WHERE id = -5;
SELECT count(*) FROM pg_temp.put('[{"userName":"u6.tap","email":"u6@tap.example","firstName":"Six","lastName":"Tap"}]') \g /dev/null
SET CONSTRAINTS userbulk.audit_request_feed IMMEDIATE;
SET CONSTRAINTS userbulk.audit_request_feed DEFERRED;
SELECT is((SELECT string_agg(f.seq::text, ',' ORDER BY f.seq) FROM userbulk.audit_feed f
             JOIN userbulk.accounts a ON a.id = f.account_id WHERE a.code = 'tap'),
          '1,2,3', 'a request deleted before commit takes no number: no gap');

-- Retention: the first two requests pruned.
UPDATE userbulk.audit_request r SET at = now() - interval '500 days'
  FROM userbulk.audit_feed f JOIN userbulk.accounts a ON a.id = f.account_id
 WHERE a.code = 'tap' AND f.seq <= 2 AND r.id = f.request_id;
SELECT is(userbulk.prune_audit(now() - interval '400 days'), 3::bigint, 'prune_audit takes requests 1 and 2 (3 changes)');
SELECT is((SELECT string_agg(status::text, ',' ORDER BY n)
             FROM (SELECT 1 n, * FROM pg_temp.feed(0, NULL) UNION ALL SELECT 2, * FROM pg_temp.feed(1, NULL)
                   UNION ALL SELECT 3, * FROM pg_temp.feed(2, '7a000000-0000-4000-8000-000000000105')
                   UNION ALL SELECT 4, * FROM pg_temp.feed(2, NULL)) x),
          '410,410,410,200', 'a position before what was pruned: 410; after it: 200');
SELECT is((SELECT pg_temp.names(changes) || ' ' || next_seq FROM pg_temp.feed(NULL, NULL)), 'u6.tap 3',
          'from the start: from the oldest change kept');

-- A request's rows are read through the primary key (request_id, user_id),
-- whatever else the trail holds: since 018 it is audit_change's only
-- index (no index by user: a user's history is a chain, user_history).
-- Here account tap has a short trail in a long one (10,000 changes of
-- tap2), and the statistics know it: the feed and the revert read tap's
-- request through the key, never the whole table.
WITH reqs AS (
    INSERT INTO userbulk.audit_request (account_id, actor, trace_id, endpoint)
    SELECT CASE WHEN n = 1 THEN '7a000000-0000-4000-8000-000000000001'::uuid
                ELSE '7a000000-0000-4000-8000-000000000002'::uuid END,
           'tap-actor', 'tap-trail-' || n, 'PUT /users'
      FROM generate_series(1, 21) n
    RETURNING id, account_id)
INSERT INTO userbulk.audit_change (request_id, account_id, user_id, before, after)
SELECT r.id, r.account_id, gen_random_uuid(), '{"firstName": "A"}', '{"firstName": "B"}'
  FROM reqs r CROSS JOIN generate_series(1, 500);
SET CONSTRAINTS userbulk.audit_request_feed IMMEDIATE;
SET CONSTRAINTS userbulk.audit_request_feed DEFERRED;
ANALYZE userbulk.audit_change;
CREATE TEMP TABLE scans (at text, pkey bigint, seq bigint);
INSERT INTO scans VALUES ('before', pg_stat_get_xact_numscans('userbulk.audit_change_pkey'::regclass),
                          pg_stat_get_xact_numscans('userbulk.audit_change'::regclass));
SELECT is((SELECT jsonb_array_length(changes) FROM pg_temp.feed(3, NULL, 700)), 500,
          'tap''s new request in the feed: its 500 changes');
SELECT is((SELECT count(*) FROM userbulk.revert_request('tap', 'a', 't', 'tap-trail-1', '{"dry_run":true}')),
          500::bigint, '... and in a revert (a dry run): its 500 rows');
INSERT INTO scans VALUES ('after', pg_stat_get_xact_numscans('userbulk.audit_change_pkey'::regclass),
                          pg_stat_get_xact_numscans('userbulk.audit_change'::regclass));
SELECT is((SELECT string_agg(i.indexrelid::regclass::text || ' ' || pg_get_indexdef(i.indexrelid), '; ')
             FROM pg_index i WHERE i.indrelid = 'userbulk.audit_change'::regclass),
          'userbulk.audit_change_pkey CREATE UNIQUE INDEX audit_change_pkey ON userbulk.audit_change USING btree (request_id, user_id)',
          'audit_change has one index: its primary key (request_id, user_id)');
SELECT is((SELECT (a.pkey - b.pkey > 0) || ' ' || (a.seq - b.seq)
             FROM scans a, scans b WHERE a.at = 'after' AND b.at = 'before'),
          'true 0', 'the feed and the revert read the request through the key, the table never whole');

SELECT * FROM finish();
ROLLBACK;
