-- The role links' integrity (migration 015): what the foreign keys of
-- user_roles guaranteed, now kept by statement triggers. One session here;
-- tests/t/role_links.t runs the same invariants against concurrent writers.
-- Accounts: tap (users u1..u6, roles Reader a1 and Writer a2) and tap2
-- (user x1 ...109, role Foreign a9).
\ir lib/setup.sql
SELECT plan(20);

-- --- a link names a user and a role of its own account ---------------------------------
SELECT throws_ok($$INSERT INTO userbulk.user_roles VALUES ('7a000000-0000-4000-8000-000000000001',
                     '7a000000-0000-4000-8000-000000000102', '7a000000-0000-4000-8000-0000000000a9')$$,
                 '23503', NULL, 'a link to a role of another account is refused (foreign_key_violation)');
SELECT throws_ok($$INSERT INTO userbulk.user_roles VALUES ('7a000000-0000-4000-8000-000000000001',
                     '7a000000-0000-4000-8000-000000000109', '7a000000-0000-4000-8000-0000000000a2')$$,
                 '23503', NULL, '... to a user of another account');
SELECT throws_ok($$INSERT INTO userbulk.user_roles VALUES ('7a000000-0000-4000-8000-000000000002',
                     '7a000000-0000-4000-8000-000000000102', '7a000000-0000-4000-8000-0000000000a9')$$,
                 '23503', NULL, '... a link of the other account to a user of this one');
SELECT throws_ok($$INSERT INTO userbulk.user_roles VALUES ('7a000000-0000-4000-8000-000000000001',
                     '7a000000-0000-4000-8000-0000000001ff', '7a000000-0000-4000-8000-0000000000a2')$$,
                 '23503', NULL, '... to a user that does not exist');
SELECT throws_ok($$INSERT INTO userbulk.user_roles VALUES ('7a000000-0000-4000-8000-000000000001',
                     '7a000000-0000-4000-8000-000000000102', '7a000000-0000-4000-8000-0000000000ff')$$,
                 '23503', NULL, '... to a role that does not exist');
-- one bad link among good ones fails the whole statement
SELECT throws_ok($$INSERT INTO userbulk.user_roles
                   SELECT '7a000000-0000-4000-8000-000000000001', u.id, '7a000000-0000-4000-8000-0000000000a2'
                     FROM userbulk.users u WHERE u.account_id IN ('7a000000-0000-4000-8000-000000000001',
                                                                  '7a000000-0000-4000-8000-000000000002')$$,
                 '23503', NULL, 'a statement of many links with one of another account is refused whole');
SELECT is((SELECT count(*) FROM userbulk.user_roles WHERE role_id = '7a000000-0000-4000-8000-0000000000a2'),
          0::bigint, '... and wrote none');
SELECT lives_ok($$INSERT INTO userbulk.user_roles
                   SELECT '7a000000-0000-4000-8000-000000000001', u.id, '7a000000-0000-4000-8000-0000000000a2'
                     FROM userbulk.users u WHERE u.account_id = '7a000000-0000-4000-8000-000000000001'$$,
                'the same links of the account alone are written');
SELECT throws_ok($$UPDATE userbulk.user_roles SET role_id = '7a000000-0000-4000-8000-0000000000a9'
                    WHERE user_id = '7a000000-0000-4000-8000-000000000103'$$,
                 '23503', NULL, 'a link moved to a role of another account is refused');
SELECT throws_ok($$UPDATE userbulk.user_roles SET account_id = '7a000000-0000-4000-8000-000000000002'
                    WHERE user_id = '7a000000-0000-4000-8000-000000000103'$$,
                 '23503', NULL, 'a link moved to another account is refused');
-- through the POST: a role of another account is a refusal, nothing written
SELECT is((SELECT r.code FROM userbulk.account_update('tap', 'tap-actor', 'tap-trace',
              '{"targets":["7a000000-0000-4000-8000-000000000104"],"role_ids":["7a000000-0000-4000-8000-0000000000a9"]}') r
            WHERE r.kind = 'refusal'), 'unknown_role', 'the POST refuses a role of another account');

-- --- no link outlives its user or its role -------------------------------------------------
DELETE FROM userbulk.users WHERE id = '7a000000-0000-4000-8000-000000000103';
SELECT is((SELECT count(*) FROM userbulk.user_roles WHERE user_id = '7a000000-0000-4000-8000-000000000103'),
          0::bigint, 'a deleted user''s links are deleted with it');
SELECT is((SELECT sum(c.delta) FROM userbulk.role_user_counts c WHERE c.role_id = '7a000000-0000-4000-8000-0000000000a2'),
          (SELECT count(*) FROM userbulk.user_roles WHERE role_id = '7a000000-0000-4000-8000-0000000000a2')::numeric,
          '... and the role''s kept count follows');
SELECT throws_ok($$DELETE FROM userbulk.roles WHERE id = '7a000000-0000-4000-8000-0000000000a2'$$,
                 '23503', NULL, 'a role with links is not deleted');
SELECT throws_ok($$UPDATE userbulk.roles SET id = '7a000000-0000-4000-8000-0000000000a7'
                    WHERE id = '7a000000-0000-4000-8000-0000000000a2'$$,
                 '23503', NULL, 'nor given another id');
SELECT throws_ok($$UPDATE userbulk.users SET id = '7a000000-0000-4000-8000-0000000001a4'
                    WHERE id = '7a000000-0000-4000-8000-000000000104'$$,
                 '23503', NULL, 'a user with links is not given another id');
SELECT throws_ok($$TRUNCATE userbulk.users CASCADE$$, '23503', NULL,
                 'TRUNCATE of users leaves no links behind: refused while links remain');
SELECT throws_ok($$TRUNCATE userbulk.roles CASCADE$$, '23503', NULL, '... of roles likewise');
-- a role without links goes
DELETE FROM userbulk.user_roles WHERE role_id = '7a000000-0000-4000-8000-0000000000a2';
SELECT lives_ok($$DELETE FROM userbulk.roles WHERE id = '7a000000-0000-4000-8000-0000000000a2'$$,
                'a role without links is deleted');

-- --- the triggers' statements keep their plans (functions/account_update.sql) ----------
-- whatever the statement that fires them sets: the POST plans its own
-- statements at every call (force_custom_plan), not the triggers'
SELECT is((SELECT array_agg(p.proname || ' ' || array_to_string(p.proconfig, ',') ORDER BY p.proname)
             FROM pg_proc p
            WHERE p.pronamespace = 'userbulk'::regnamespace
              AND p.proname IN ('role_links_check', 'role_user_counts_add')),
          ARRAY['role_links_check plan_cache_mode=auto', 'role_user_counts_add plan_cache_mode=auto'],
          'the links'' triggers run with plan_cache_mode = auto, not their caller''s');

SELECT * FROM finish();
ROLLBACK;
