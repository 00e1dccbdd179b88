-- Each user's history as a chain (migration 018): users.last_change, the
-- head, and audit_change.prev_request, the link; userbulk.user_history
-- walks it, and the revert's conflict check reads the head. Called
-- directly: put_users (through pg_temp.put), the SCIM Groups membership
-- change (scim_group_request, then scim_group_apply, as
-- scim_group_members_change calls them) and revert_request.
-- Users u3 and u4 of account tap (lib/setup.sql).
\ir lib/setup.sql
SELECT plan(12);

CREATE TEMP TABLE req (name text PRIMARY KEY, id bigint);
CREATE FUNCTION pg_temp.last_request() RETURNS bigint LANGUAGE sql AS $$
    SELECT max(r.id) FROM userbulk.audit_request r
     WHERE r.account_id = '7a000000-0000-4000-8000-000000000001'
$$;
-- A user's history as the names of its requests, oldest first.
CREATE FUNCTION pg_temp.history(p_user uuid, p_account uuid DEFAULT '7a000000-0000-4000-8000-000000000001')
RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(coalesce(q.name, h.id::text), ' ' ORDER BY h.ordinality), '')
      FROM userbulk.user_history(p_account, p_user) WITH ORDINALITY AS h
      LEFT JOIN req q ON q.id = h.id
$$;
CREATE FUNCTION pg_temp.put_u3(p_first text) RETURNS void LANGUAGE sql AS $$
    SELECT count(*) FROM pg_temp.put(jsonb_build_array(jsonb_build_object(
        'userName', 'u3.tap', 'email', 'u3@tap.example', 'firstName', p_first, 'lastName', 'Tap')));
$$;

SELECT pg_temp.put_u3('Three-a') \g /dev/null
INSERT INTO req VALUES ('A', pg_temp.last_request());
SELECT is(pg_temp.history('7a000000-0000-4000-8000-000000000103'), 'A',
          'a PUT: the user''s history is its audit row');
SELECT is((SELECT u.last_change FROM userbulk.users u WHERE u.user_name = 'u3.tap'), (SELECT id FROM req WHERE name = 'A'),
          '... the head on the user''s row');

SELECT pg_temp.put_u3('Three-b') \g /dev/null
INSERT INTO req VALUES ('B', pg_temp.last_request());
SELECT is((SELECT c.prev_request FROM userbulk.audit_change c
            WHERE c.request_id = (SELECT id FROM req WHERE name = 'B')),
          (SELECT id FROM req WHERE name = 'A'), 'a second PUT links to the first');

-- A SCIM Groups change takes its request's id before it waits for the
-- user's lock: a PUT that commits on the user meanwhile (D) has a larger
-- id and comes before it in the user's history (G).
INSERT INTO req VALUES ('G', userbulk.scim_group_request('7a000000-0000-4000-8000-000000000001', 'tap-groups', 'tap-g'));
SELECT pg_temp.put_u3('Three-d') \g /dev/null
INSERT INTO req VALUES ('D', pg_temp.last_request());
SELECT is(userbulk.scim_group_apply('7a000000-0000-4000-8000-000000000001', '7a000000-0000-4000-8000-0000000000a2',
                                    'tap-groups', (SELECT id FROM req WHERE name = 'G'), false,
                                    ARRAY['7a000000-0000-4000-8000-000000000103'::uuid], '{}', 10),
          1, 'the group change applies to u3');
SELECT ok((SELECT id FROM req WHERE name = 'G') < (SELECT id FROM req WHERE name = 'D'),
          '... under a smaller request id than the PUT before it');
SELECT is(pg_temp.history('7a000000-0000-4000-8000-000000000103'), 'A B D G',
          'the history is in the order of the changes, not of the ids');

-- The revert of D: u3 changed since (G), though no later id names it.
SELECT is((SELECT r.code FROM userbulk.revert_request('tap', 'tap-reverter', 'tap-rev-d',
                                                      (SELECT id FROM req WHERE name = 'D')::text,
                                                      '{"dry_run": true}') r),
          'conflict', 'reverting D: a conflict, the user changed since (its head is G)');
SELECT is((SELECT r.code FROM userbulk.revert_request('tap', 'tap-reverter', 'tap-rev-g',
                                                      (SELECT id FROM req WHERE name = 'G')::text, '{}') r),
          NULL, 'reverting G, the head: no conflict, applied');
INSERT INTO req VALUES ('R', pg_temp.last_request());
SELECT is(pg_temp.history('7a000000-0000-4000-8000-000000000103'), 'A B D G R',
          '... and the revert is the new head');

-- Another account's view of the user: nothing.
SELECT is(pg_temp.history('7a000000-0000-4000-8000-000000000103', '7a000000-0000-4000-8000-000000000002'), '',
          'the history of another account''s user is empty');

-- A deleted user's head goes with its row: its history is read from the
-- whole trail.
SELECT count(*) FROM pg_temp.put('[{"userName":"u4.tap","email":"u4@tap.example","firstName":"Four-x","lastName":"Tap"}]') \g /dev/null
INSERT INTO req VALUES ('X', pg_temp.last_request());
DELETE FROM userbulk.users WHERE id = '7a000000-0000-4000-8000-000000000104';
SELECT is(pg_temp.history('7a000000-0000-4000-8000-000000000104'), 'X',
          'a deleted user''s history is still found (by reading the trail)');

SELECT is((SELECT string_agg(c.request_id || '<' || coalesce(c.prev_request::text, '-'), ' ' ORDER BY c.request_id)
             FROM userbulk.audit_change c WHERE c.user_id = '7a000000-0000-4000-8000-000000000103'),
          (SELECT string_agg(x, ' ' ORDER BY n) FROM (VALUES
              (1, (SELECT id FROM req WHERE name = 'A') || '<-'),
              (2, (SELECT id FROM req WHERE name = 'B') || '<' || (SELECT id FROM req WHERE name = 'A')),
              (3, (SELECT id FROM req WHERE name = 'G') || '<' || (SELECT id FROM req WHERE name = 'D')),
              (4, (SELECT id FROM req WHERE name = 'D') || '<' || (SELECT id FROM req WHERE name = 'B')),
              (5, (SELECT id FROM req WHERE name = 'R') || '<' || (SELECT id FROM req WHERE name = 'G'))) v(n, x)),
          'each row of u3 links to the one before it');

SELECT * FROM finish();
ROLLBACK;
