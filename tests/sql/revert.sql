-- userbulk.revert_request (src/sql/functions/revert.sql) and put_users'
-- diff (option "diff": before and after in its answer), called directly.
-- Users u1..u6 of account tap (lib/setup.sql), ids ...0101 to ...0106.
\ir lib/setup.sql
SELECT plan(44);

-- Every user row of account tap (but what a change must move: version,
-- last_change,
-- updated_at, updated_by) and its role set, as one digest.
CREATE FUNCTION pg_temp.digest() RETURNS text LANGUAGE sql AS $$
    SELECT md5(string_agg((to_jsonb(u) - 'version' - 'updated_at' - 'updated_by' - 'last_change')::text || '|'
                          || coalesce((SELECT string_agg(ur.role_id::text, ',' ORDER BY ur.role_id)
                                         FROM userbulk.user_roles ur WHERE ur.user_id = u.id), ''),
                          ';' ORDER BY u.id))
      FROM userbulk.users u WHERE u.account_id = '7a000000-0000-4000-8000-000000000001'
$$;
-- The last audit request of account tap.
CREATE FUNCTION pg_temp.last_request() RETURNS bigint LANGUAGE sql AS $$
    SELECT max(r.id) FROM userbulk.audit_request r
     WHERE r.account_id = '7a000000-0000-4000-8000-000000000001'
$$;
-- revert_request as the module calls it; "idx:code" of each row.
CREATE FUNCTION pg_temp.rv(p_request bigint, p_options jsonb DEFAULT '{}', p_account text DEFAULT 'tap')
RETURNS SETOF userbulk.revert_result LANGUAGE sql AS $$
    SELECT * FROM userbulk.revert_request(p_account, 'tap-reverter', 'tap-revert-trace',
                                          p_request::text, p_options)
$$;
CREATE FUNCTION pg_temp.rvcodes(p_request bigint, p_options jsonb DEFAULT '{}')
RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(r.idx || ':' || coalesce(r.code, ''), ' ' ORDER BY r.idx) FROM pg_temp.rv(p_request, p_options) r
$$;

-- --- no temporary object ------------------------------------------------------------------
-- Neither engine makes a relation in the session's temporary schema (a
-- session holding one must commit its removal at exit, which hangs a fast
-- shutdown under synchronous replication; pgbouncer's transaction mode and
-- Citus forbid them). What is there now is pgTAP's own; this comes first,
-- before any engine ran in this session, and before the tests' own tables.
SELECT coalesce(array_agg(c.oid), '{}') AS tap_temp FROM pg_class c
 WHERE c.relnamespace = pg_my_temp_schema() \gset
SELECT is((SELECT string_agg(p.idx || ' ' || p.before::text || ' -> ' || p.after::text, ' | ')
             FROM pg_temp.put('[{"userName":"u6.tap","email":"u6@tap.example","firstName":"Sechs","lastName":"Tap"}]',
                              '{"dry_run":true,"diff":true}') p),
          '0 {"firstName": "U6"} -> {"firstName": "Sechs"}', 'put_users with diff, dry run: the record''s before and after');
SELECT is((SELECT string_agg(p.idx || ':' || p.errors::text || ':' || p.after::text, ' ')
             FROM pg_temp.put('[{"userName":"u6.tap","email":"u6@tap.example","firstName":"Sechs","lastName":"Tap"}]',
                              '{"diff":true}') p),
          '0:[]:{"firstName": "Sechs"}', '... and for real');
SELECT is((SELECT string_agg(r.idx || ':' || coalesce(r.code, '') || ':' || r.after::text, ' ')
             FROM userbulk.revert_request('tap', 'tap-reverter', 'tap-temp', pg_temp.last_request()::text, '{}') r),
          '0::{"firstName": "U6"}', 'revert_request of it');
SELECT is((SELECT string_agg(c.relname || ' (' || c.relkind::text || ')', ', ') FROM pg_class c
            WHERE c.relnamespace = pg_my_temp_schema() AND c.oid <> ALL (:'tap_temp'::oid[])),
          NULL, '... leave no relation in the session''s temporary schema');

-- --- PUT /users, reverted ------------------------------------------------------------------
CREATE TEMP TABLE d0 AS SELECT pg_temp.digest() AS d;
SELECT is(pg_temp.codes('[{"userName":"u1.tap","email":"u2@tap.example","firstName":"One","lastName":"Tap","roles":[{"roleName":"Writer"}]},
                          {"userName":"u2.tap","email":"u1@tap.example","firstName":"U2","lastName":"Tap","department":"D1","phone":"+1 555"}]'),
          '0: 1:', 'a batch: u1 and u2 swap addresses, u1 another name and role, u2 a department and phone');
CREATE TEMP TABLE r1 AS SELECT pg_temp.last_request() AS id;
CREATE TEMP TABLE d1 AS SELECT pg_temp.digest() AS d;

-- dry run: decides, answers, writes nothing
SELECT is((SELECT string_agg(r.idx || ':' || coalesce(r.code, 'ok') || ':' || r.version, ' ' ORDER BY r.idx)
             FROM pg_temp.rv((SELECT id FROM r1), '{"dry_run":true}') r),
          '0:ok:3 1:ok:3', 'dry run: both would be put back, at the next version');
SELECT is((SELECT before::text || ' -> ' || after::text FROM pg_temp.rv((SELECT id FROM r1), '{"dry_run":true}') WHERE idx = 1),
          '{"email": "u1@tap.example", "phoneNumber": "+1 555", "departmentId": "D1"} -> {"email": "u2@tap.example", "phoneNumber": null, "departmentId": null}',
          '... answering each field as stored now and as it would become');
SELECT is(pg_temp.digest(), (SELECT d FROM d1), '... and changing nothing');
SELECT is(pg_temp.last_request(), (SELECT id FROM r1), '... writing no audit request');

-- the revert
SELECT is(pg_temp.rvcodes((SELECT id FROM r1)), '0: 1:', 'revert: every user put back');
SELECT is(pg_temp.digest(), (SELECT d FROM d0), 'the users and their roles are as before the batch, digest for digest');
CREATE TEMP TABLE r2 AS SELECT pg_temp.last_request() AS id;
SELECT is((SELECT endpoint || ' ' || actor || ' ' || trace_id FROM userbulk.audit_request WHERE id = (SELECT id FROM r2)),
          'revert tap-reverter tap-revert-trace', 'one new audited request');
SELECT is((SELECT string_agg(c.before::text || ' -> ' || c.after::text, ' | ' ORDER BY c.user_id)
             FROM userbulk.audit_change c WHERE c.request_id = (SELECT id FROM r2)),
          (SELECT string_agg(c.after::text || ' -> ' || c.before::text, ' | ' ORDER BY c.user_id)
             FROM userbulk.audit_change c WHERE c.request_id = (SELECT id FROM r1)),
          '... whose rows are the batch''s, before and after swapped');
SELECT is((SELECT string_agg(u.user_name || ':' || u.version, ',' ORDER BY u.user_name)
             FROM userbulk.users u WHERE u.user_name IN ('u1.tap', 'u2.tap')),
          'u1.tap:3,u2.tap:3', 'each user at a new version');

-- the same batch again: its users moved on (the revert)
SELECT is(pg_temp.rvcodes((SELECT id FROM r1)), '0:conflict 1:conflict', 'reverting it again: conflict for each user');
SELECT is(pg_temp.digest(), (SELECT d FROM d0), '... changing nothing');

-- the revert, reverted: the batch's state again
SELECT is(pg_temp.rvcodes((SELECT id FROM r2)), '0: 1:', 'a revert is revertible');
SELECT is(pg_temp.digest(), (SELECT d FROM d1), '... giving back the state after the batch');

-- --- conflicts, force, atomic ------------------------------------------------------------
SELECT is(pg_temp.codes('[{"userName":"u3.tap","email":"u3@tap.example","firstName":"Three","lastName":"Tap"},
                          {"userName":"u4.tap","email":"u4@tap.example","firstName":"Four","lastName":"Tap"}]'),
          '0: 1:', 'a batch changing u3 and u4');
CREATE TEMP TABLE r3 AS SELECT pg_temp.last_request() AS id;
SELECT is(pg_temp.codes('[{"userName":"u4.tap","email":"u4@tap.example","firstName":"Quatre","lastName":"Tap"}]'),
          '0:', 'u4 changed again since');
CREATE TEMP TABLE d3 AS SELECT pg_temp.digest() AS d;
SELECT is(pg_temp.rvcodes((SELECT id FROM r3), '{"atomic":true}'), '0:not_applied 1:conflict',
          'atomic: u4 conflicts, u3 is not applied');
SELECT is(pg_temp.digest(), (SELECT d FROM d3), '... nothing changed');
SELECT matches((SELECT string_agg(message, ' ') FROM pg_temp.rv((SELECT id FROM r3)) WHERE idx = 1),
               'changed since the request \(it is at version 3\)', 'not atomic: a conflict says the version the user is at');
SELECT is((SELECT first_name FROM pg_temp.u('u3.tap')) || (SELECT first_name FROM pg_temp.u('u4.tap')), 'U3Quatre',
          '... u3 put back, u4 left as it is');
SELECT is(pg_temp.rvcodes((SELECT id FROM r3), '{"force":true}'), '0: 1:', 'force: u4 put back too');
SELECT is((SELECT first_name FROM pg_temp.u('u4.tap')), 'U4', '... to its value before the batch');

-- --- tenancy, kinds ----------------------------------------------------------------------------
SELECT is((SELECT idx || ':' || code FROM pg_temp.rv((SELECT id FROM r3), '{}', 'tap2')), '-1:not_found',
          'another account''s request: not_found');
SELECT is((SELECT idx || ':' || code FROM pg_temp.rv(999999999)), '-1:not_found', 'no such request: not_found');

-- the POST's vocabulary (snake_case, role_ids, dates)
CREATE TEMP TABLE d4 AS SELECT pg_temp.digest() AS d;
SELECT is((SELECT count(*) FROM userbulk.account_update('tap', 'tap-actor', 'tap-post',
             '{"targets":["7a000000-0000-4000-8000-000000000105"],"first_name":"Cinq","phone2":"+33 1",
               "team_id":"7a000000-0000-4000-8000-0000000000b1","is_employee":true,
               "activation_date":"2024-01-02T03:04:05.000Z",
               "role_ids":["7a000000-0000-4000-8000-0000000000a2"]}') r WHERE r.kind = 'refusal'),
          0::bigint, 'a POST change of u5');
CREATE TEMP TABLE r4 AS SELECT pg_temp.last_request() AS id;
SELECT is(pg_temp.rvcodes(pg_temp.last_request()), '0:', 'its revert');
SELECT is(pg_temp.digest(), (SELECT d FROM d4), '... puts every field and the roles back');
SELECT is((SELECT c.before::text || ' -> ' || c.after::text FROM userbulk.audit_change c
            WHERE c.request_id = pg_temp.last_request()),
          (SELECT c.after::text || ' -> ' || c.before::text FROM userbulk.audit_change c
            WHERE c.request_id = (SELECT id FROM r4)),
          '... its audit row the POST''s, before and after swapped (the fields read in its vocabulary)');

-- SCIM group membership (roles), a SCIM creation and deletion
SELECT is((SELECT status FROM userbulk.scim_group_change('tap', 'alice', 'tap-g', '7a000000-0000-4000-8000-0000000000a2',
           NULL, false, ARRAY['7a000000-0000-4000-8000-000000000106'], '{}', NULL, '', 10, false)), NULL,
          'u6 joins Writer (SCIM PATCH /Groups)');
SELECT is(pg_temp.rvcodes(pg_temp.last_request()), '0:', 'its revert');
SELECT is(pg_temp.digest(), (SELECT d FROM d4), '... takes u6 out again');
INSERT INTO userbulk.audit_request (id, account_id, actor, trace_id, endpoint) VALUES
    (900000007, '7a000000-0000-4000-8000-000000000001', 'tap', 'tap-kinds', 'scim');
INSERT INTO userbulk.audit_change (request_id, account_id, user_id, before, after) VALUES
    (900000007, '7a000000-0000-4000-8000-000000000001', '7a000000-0000-4000-8000-000000000101', '{}', '{"userName":"u1.tap"}'),
    (900000007, '7a000000-0000-4000-8000-000000000001', '7a000000-0000-4000-8000-0000000001f0', '{"userName":"gone"}', '{}'),
    (900000007, '7a000000-0000-4000-8000-000000000001', '7a000000-0000-4000-8000-000000000102', '{"shoeSize":1}', '{"shoeSize":2}');
SELECT is(pg_temp.rvcodes(900000007), '0:not_revertible 1:not_revertible 2:not_revertible',
          'a creation, a deletion and a field no vocabulary knows: not_revertible, each');
SELECT matches((SELECT string_agg(message, ' | ' ORDER BY idx) FROM pg_temp.rv(900000007)),
               'created this user: delete it.*cannot set.*deleted this user', '... saying why');
SELECT is((SELECT count(*) FROM userbulk.revert_request('tap', 'a', 't', 'tap-kinds', '{"dry_run":true}')), 3::bigint,
          'a request named by its trace id');

-- addresses against the final state: an address given up since is taken
SELECT is(pg_temp.codes('[{"userName":"u5.tap","email":"u5x@tap.example","firstName":"U5","lastName":"Tap"}]'),
          '0:', 'u5 takes another address');
CREATE TEMP TABLE r6 AS SELECT max(r.id) AS id FROM userbulk.audit_request r WHERE r.trace_id = 'tap-trace';
SELECT is(pg_temp.codes('[{"userName":"u6.tap","email":"u5@tap.example","firstName":"U6","lastName":"Tap"}]')
          || ' ' || pg_temp.rvcodes((SELECT id FROM r6)) || ' '
          || (SELECT string_agg(r.message || ' ' || coalesce(r.after::text, 'nothing'), ' ') FROM pg_temp.rv((SELECT id FROM r6)) r),
          '0: 0:email_taken the address it had before is another user''s now nothing',
          '... u6 its old one: the revert of the first is email_taken, changing nothing');

-- --- put_users' diff ------------------------------------------------------------------------
SELECT is((SELECT string_agg(p.idx || ' ' || p.before::text || ' -> ' || p.after::text, ' | ')
             FROM pg_temp.put('[{"userName":"u3.tap","email":"u3@tap.example","firstName":"Trois","lastName":"Tap"},
                               {"userName":"u4.tap","email":"u4@tap.example","firstName":"U4","lastName":"Tap"}]',
                              '{"dry_run":true,"diff":true}') p),
          '0 {"firstName": "U3"} -> {"firstName": "Trois"}',
          'diff, dry run: the record that would change, before and after; none for the one already as sent');
SELECT is((SELECT count(*) FROM pg_temp.put('[{"userName":"u3.tap","email":"u3@tap.example","firstName":"Trois","lastName":"Tap"}]',
                                            '{"dry_run":true}') p WHERE p.before IS NOT NULL OR p.after IS NOT NULL),
          0::bigint, 'without diff: before and after null');
CREATE TEMP TABLE p5 AS
    SELECT * FROM pg_temp.put('[{"userName":"u3.tap","email":"u3@tap.example","firstName":"Trois","lastName":"Tap"}]',
                              '{"diff":true,"idem_key":"tap-diff","body_hash":"h"}');
SELECT is((SELECT string_agg(p.idx || ' ' || p.errors::text || ' ' || p.before::text || ' -> ' || p.after::text, ' | ') FROM p5 p),
          (SELECT string_agg('0 [] ' || a.before::text || ' -> ' || a.after::text, ' | ') FROM userbulk.audit_change a
            WHERE a.request_id = (SELECT max(r.id) FROM userbulk.audit_request r WHERE r.trace_id = 'tap-trace')),
          'a real run''s diff: its audit rows, byte for byte');
SELECT is((SELECT string_agg(p.idx || ':' || p.version || ':' || coalesce(p.after::text, 'none'), ' ')
             FROM pg_temp.put('[{"userName":"u3.tap","email":"u3@tap.example","firstName":"Trois","lastName":"Tap"}]',
                              '{"diff":true,"idem_key":"tap-diff","body_hash":"h"}') p),
          (SELECT string_agg(p.idx || ':' || p.version || ':none', ' ') FROM p5 p),
          'an Idempotency-Key replayed: the first answer again, without before and after');

SELECT * FROM finish();
ROLLBACK;
