-- users.role_ids (migration 017): each user's role ids on its row, kept
-- equal to its links in user_roles. One session here: every kind of write
-- to user_roles by hand, and the two functions that write role_ids
-- themselves (put_users, account_update); tests/t/role_links.t attacks the
-- same invariant with concurrent writers.
-- Accounts: tap (users u1..u6, roles Reader a1 and Writer a2); u1 holds a1.
\ir lib/setup.sql
SELECT plan(24);

-- A user's role_ids, and whether it matches its links.
CREATE FUNCTION pg_temp.ids(p_user text) RETURNS uuid[] LANGUAGE sql AS $$
    SELECT role_ids FROM userbulk.users WHERE id = ('7a000000-0000-4000-8000-00000000010' || p_user)::uuid
$$;
-- Users of the database whose role_ids is not the list of their links.
CREATE FUNCTION pg_temp.drift() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM userbulk.users u
     WHERE u.role_ids IS DISTINCT FROM ARRAY(SELECT ur.role_id FROM userbulk.user_roles ur
                                              WHERE ur.user_id = u.id ORDER BY ur.role_id)
$$;
CREATE FUNCTION pg_temp.link(p_user text, p_role text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO userbulk.user_roles (account_id, user_id, role_id)
    VALUES ('7a000000-0000-4000-8000-000000000001', ('7a000000-0000-4000-8000-00000000010' || p_user)::uuid,
            ('7a000000-0000-4000-8000-0000000000a' || p_role)::uuid)
$$;

SELECT is(pg_temp.ids('1'), '{7a000000-0000-4000-8000-0000000000a1}'::uuid[],
          'a link written by hand is on its user''s row');
SELECT is(pg_temp.ids('2'), '{}'::uuid[], 'a user without links has none');

-- --- writes by hand: the triggers follow -----------------------------------------------
SELECT pg_temp.link('2', '2');
SELECT is(pg_temp.ids('2'), '{7a000000-0000-4000-8000-0000000000a2}'::uuid[], 'INSERT: the role is added');
SELECT pg_temp.link('2', '1');
SELECT is(pg_temp.ids('2'), '{7a000000-0000-4000-8000-0000000000a1,7a000000-0000-4000-8000-0000000000a2}'::uuid[],
          '... in id order, whatever the order of the links');
DELETE FROM userbulk.user_roles WHERE user_id = '7a000000-0000-4000-8000-000000000102'
                                  AND role_id = '7a000000-0000-4000-8000-0000000000a2';
SELECT is(pg_temp.ids('2'), '{7a000000-0000-4000-8000-0000000000a1}'::uuid[], 'DELETE: the role goes');
UPDATE userbulk.user_roles SET role_id = '7a000000-0000-4000-8000-0000000000a2'
 WHERE user_id = '7a000000-0000-4000-8000-000000000102';
SELECT is(pg_temp.ids('2'), '{7a000000-0000-4000-8000-0000000000a2}'::uuid[], 'UPDATE of the role: it follows');
UPDATE userbulk.user_roles SET user_id = '7a000000-0000-4000-8000-000000000103'
 WHERE user_id = '7a000000-0000-4000-8000-000000000102';
SELECT is(pg_temp.ids('2')::text || ' ' || pg_temp.ids('3')::text,
          '{} {7a000000-0000-4000-8000-0000000000a2}',
          'UPDATE moving a link to another user: both users follow');
SELECT pg_temp.link(n::text, '1') FROM generate_series(4, 6) n;
SELECT is((SELECT count(*) FROM userbulk.users
            WHERE account_id = '7a000000-0000-4000-8000-000000000001'
              AND '7a000000-0000-4000-8000-0000000000a1' = ANY (role_ids)), 4::bigint,
          'one INSERT of several users'' links: each user follows');
SELECT is(pg_temp.drift(), 0::bigint, 'no user''s role_ids differs from its links');

-- --- the functions that write role_ids themselves --------------------------------------
SELECT is((SELECT r.errors FROM pg_temp.put('[{"userName":"u4.tap","email":"u4@tap.example",
                 "roles":[{"roleName":"Writer"},{"roleName":"Reader"}]}]') r), '[]'::jsonb,
          'PUT /users gives u4 both roles');
SELECT is(pg_temp.ids('4'), '{7a000000-0000-4000-8000-0000000000a1,7a000000-0000-4000-8000-0000000000a2}'::uuid[],
          '... and its row has both ids');
SELECT version AS v4 FROM userbulk.users WHERE user_name = 'u4.tap' \gset
SELECT is((SELECT r.version FROM pg_temp.put('[{"userName":"u4.tap","email":"u4@tap.example",
                 "roles":[{"roleName":"Reader"},{"roleName":"Writer"}]}]') r), :v4::bigint,
          'the same roles again (in another order) change nothing: the version stays');
SELECT is((SELECT r.errors FROM pg_temp.put('[{"userName":"u4.tap","email":"u4@tap.example","roles":[]}]') r),
          '[]'::jsonb, 'PUT /users takes u4''s roles away');
SELECT is(pg_temp.ids('4'), '{}'::uuid[], '... from its row too');
-- the setting put_users used is not left behind: a link by hand after it
-- is still followed, in the same transaction
SELECT pg_temp.link('4', '2');
SELECT is(pg_temp.ids('4'), '{7a000000-0000-4000-8000-0000000000a2}'::uuid[],
          'a link by hand after put_users in the same transaction is followed');
SELECT is((SELECT count(*) FROM userbulk.account_update('tap', 'tap-actor', 'tap-trace',
              '{"targets":["7a000000-0000-4000-8000-000000000105","7a000000-0000-4000-8000-000000000106"],
                "role_ids":["7a000000-0000-4000-8000-0000000000a2"]}') r WHERE r.kind = 'user'),
          2::bigint, 'the POST sets u5''s and u6''s roles to Writer');
SELECT is(pg_temp.ids('5')::text || ' ' || pg_temp.ids('6')::text,
          '{7a000000-0000-4000-8000-0000000000a2} {7a000000-0000-4000-8000-0000000000a2}',
          '... on their rows (Reader, which they held, is gone)');
SELECT is((SELECT count(*) FROM userbulk.account_update('tap', 'tap-actor', 'tap-trace',
              '{"targets":["7a000000-0000-4000-8000-000000000105"],
                "role_ids":["7a000000-0000-4000-8000-0000000000a1","7a000000-0000-4000-8000-0000000000a2"]}') r
            WHERE r.kind = 'user'), 1::bigint, 'the POST gives u5 both roles');
SELECT is(pg_temp.ids('5'), '{7a000000-0000-4000-8000-0000000000a1,7a000000-0000-4000-8000-0000000000a2}'::uuid[],
          '... on its row');
SELECT pg_temp.link('6', '1');
SELECT is(pg_temp.ids('6'), '{7a000000-0000-4000-8000-0000000000a1,7a000000-0000-4000-8000-0000000000a2}'::uuid[],
          'a link by hand after the POST in the same transaction is followed');
SELECT is(pg_temp.drift(), 0::bigint, 'after both functions, no user''s role_ids differs from its links');

-- --- the setting those functions use skips the count; without it, nothing does ------------
SET LOCAL userbulk.writes_role_ids = 'on';
SELECT pg_temp.link('3', '1');
SELECT is(pg_temp.ids('3'), '{7a000000-0000-4000-8000-0000000000a2}'::uuid[],
          'with userbulk.writes_role_ids on, the triggers leave role_ids to the writer');
SET LOCAL userbulk.writes_role_ids = '';
DELETE FROM userbulk.user_roles WHERE user_id = '7a000000-0000-4000-8000-000000000103'
                                  AND role_id = '7a000000-0000-4000-8000-0000000000a1';

-- --- users deleted, TRUNCATE --------------------------------------------------------------
DELETE FROM userbulk.users WHERE id = '7a000000-0000-4000-8000-000000000106';
SELECT is(pg_temp.drift(), 0::bigint, 'a user deleted with its links leaves no difference');
TRUNCATE userbulk.user_roles;
SELECT is((SELECT count(*) FROM userbulk.users WHERE role_ids <> '{}'), 0::bigint,
          'TRUNCATE of user_roles empties every user''s role_ids');

SELECT * FROM finish();
ROLLBACK;
