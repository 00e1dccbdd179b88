-- userbulk.user_emails (migration 023): every user's folded address, unique
-- across the system, kept equal to users at every step. One session here:
-- every kind of write to users by hand (the triggers), and the four
-- functions that move addresses themselves (put_users, scim_write,
-- revert_request, account_update); tests/t/email.t attacks the key with
-- concurrent writers through the module.
-- Users u1..u6 of account tap (u<n>@tap.example, ids ...0101 to ...0106)
-- and x1 of tap2 (x1@tap.example).
\ir lib/setup.sql
SELECT plan(35);

-- The users whose entry is missing or differs, and the entries that name
-- no user or not its address: 0 when user_emails is what it must be.
CREATE FUNCTION pg_temp.drift() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM userbulk.users u
      FULL JOIN userbulk.user_emails e
        ON e.user_id = u.id AND e.account_id = u.account_id AND e.email_lower = u.email_lower
     WHERE u.id IS NULL OR e.user_id IS NULL
$$;
-- Who holds an address, by userName.
CREATE FUNCTION pg_temp.holder(p_addr text) RETURNS text LANGUAGE sql AS $$
    SELECT u.user_name FROM userbulk.user_emails e
      JOIN userbulk.users u ON u.account_id = e.account_id AND u.id = e.user_id
     WHERE e.email_lower = p_addr
$$;
-- scim_write as the module calls it (tests/sql/scim_write.sql's pg_temp.w):
-- each operation as JSON (op, id, set, email); "idx:status" of each row.
CREATE FUNCTION pg_temp.scim(p_ops jsonb) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(r.idx || ':' || r.status, ',' ORDER BY r.idx)
      FROM userbulk.scim_write('tap', 'tap-actor', 'tap-emails', '{}', 'https://h/scim/v2',
               ARRAY(SELECT ROW((o - 1)::integer, e ->> 'op', e ->> 'id', coalesce((e ->> 'set')::integer, 0),
                                NULL, e ->> 'userName', e ->> 'email', NULL, NULL, NULL, NULL, NULL, NULL,
                                NULL, NULL, NULL, NULL, NULL)::userbulk.scim_input
                       FROM jsonb_array_elements(p_ops) WITH ORDINALITY r(e, o) ORDER BY o)) r
$$;
-- The last audit request of account tap.
CREATE FUNCTION pg_temp.last_request() RETURNS bigint LANGUAGE sql AS $$
    SELECT max(r.id) FROM userbulk.audit_request r
     WHERE r.account_id = '7a000000-0000-4000-8000-000000000001'
$$;
-- HOT updates of users in this transaction so far.
CREATE FUNCTION pg_temp.hot() RETURNS bigint LANGUAGE sql AS $$
    SELECT pg_stat_get_xact_tuples_hot_updated('userbulk.users'::regclass)
$$;

SELECT is(pg_temp.drift(), 0::bigint, 'every user has its entry, and every entry its user');
SELECT is(pg_temp.holder('u1@tap.example'), 'u1.tap', 'an entry names its user');
SELECT is((SELECT count(*) FROM pg_indexes
            WHERE schemaname = 'userbulk' AND tablename = 'users' AND indexdef ~ 'email'),
          0::bigint, 'no index of users has the address (so a new address is a HOT update)');

-- --- put_users ---------------------------------------------------------------------------------
SELECT pg_temp.hot() AS hot0 \gset
SELECT is((SELECT string_agg(r.idx || ':' || r.errors::text, ' ') FROM pg_temp.put(
              '[{"userName":"u1.tap","email":"u2@tap.example"},{"userName":"u2.tap","email":"u1@tap.example"}]') r),
          '0:[] 1:[]', 'PUT /users: u1 and u2 trade their addresses in one batch');
SELECT is(pg_temp.holder('u1@tap.example') || ' ' || pg_temp.holder('u2@tap.example'), 'u2.tap u1.tap',
          '... and user_emails follows');
SELECT cmp_ok(pg_temp.hot() - :hot0, '>=', 2::bigint, '... in HOT updates of users');
SELECT is((SELECT string_agg(r.idx || ':' || (r.errors -> 0 ->> 'code'), ' ') FROM pg_temp.put(
              '[{"userName":"u3.tap","email":"X1@tap.example"}]') r),
          '0:email_taken', 'PUT /users: another account''s user''s address is taken');
SELECT is(pg_temp.holder('x1@tap.example'), 'x1.tap2', '... and stays its');
SELECT is((SELECT string_agg(r.idx || ':' || r.errors::text, ' ') FROM pg_temp.put(
              '[{"userName":"u3.tap","email":"Three@tap.example","firstName":"U3"}]') r),
          '0:[]', 'PUT /users: a new address');
SELECT is(pg_temp.holder('three@tap.example') || ' ' || coalesce(pg_temp.holder('u3@tap.example'), 'free'),
          'u3.tap free', '... moves its entry');
SELECT is(current_setting('userbulk.writes_emails', true), '', 'put_users leaves the setting off');

-- --- writes by hand: the triggers follow ---------------------------------------------------
INSERT INTO userbulk.users (id, account_id, user_name, email)
     VALUES ('7a000000-0000-4000-8000-000000000107', '7a000000-0000-4000-8000-000000000001',
             'u7.tap', 'U7@Tap.Example');
SELECT is(pg_temp.holder('u7@tap.example'), 'u7.tap', 'INSERT: the new user''s address, folded, is added');
SELECT throws_ok($$INSERT INTO userbulk.users (account_id, user_name, email)
                   VALUES ('7a000000-0000-4000-8000-000000000002', 'dup.tap2', 'u7@TAP.example')$$,
                 '23505', NULL, 'INSERT of an address another user has (in another account too): refused');
UPDATE userbulk.users SET email = 'seven@tap.example' WHERE user_name = 'u7.tap';
SELECT is(pg_temp.holder('seven@tap.example') || ' ' || coalesce(pg_temp.holder('u7@tap.example'), 'free'),
          'u7.tap free', 'UPDATE of the address: the entry moves, the old address is free');
UPDATE userbulk.users SET email = CASE user_name WHEN 'u5.tap' THEN 'u6@tap.example' ELSE 'u5@tap.example' END
 WHERE user_name IN ('u5.tap', 'u6.tap');
SELECT is(pg_temp.holder('u5@tap.example') || ' ' || pg_temp.holder('u6@tap.example'), 'u6.tap u5.tap',
          'one UPDATE by hand swapping two addresses');
UPDATE userbulk.users SET email = CASE user_name WHEN 'u5.tap' THEN 'u5@tap.example'
                                                 WHEN 'u6.tap' THEN 'seven@tap.example' ELSE 'u6@tap.example' END
 WHERE user_name IN ('u5.tap', 'u6.tap', 'u7.tap');
SELECT is(pg_temp.holder('u5@tap.example') || ' ' || pg_temp.holder('seven@tap.example') || ' '
          || pg_temp.holder('u6@tap.example'), 'u5.tap u6.tap u7.tap',
          'one UPDATE by hand turning three addresses round');
SELECT throws_ok($$UPDATE userbulk.users SET email = 'u1@tap.example' WHERE user_name = 'u3.tap'$$,
                 '23505', NULL, 'UPDATE by hand to an address another user has: refused');
SELECT throws_ok($$UPDATE userbulk.users SET email = 'fresh@tap.example'
                    WHERE user_name IN ('u3.tap', 'u4.tap')$$,
                 '23505', NULL, '... and so is one giving two users the same new address');
SELECT is(pg_temp.drift(), 0::bigint, 'after the writes by hand, user_emails is users''');

-- --- revert_request ------------------------------------------------------------------------------
SELECT is((SELECT string_agg(r.idx || ':' || coalesce(r.code, ''), ' ')
             FROM userbulk.revert_request('tap', 'tap-reverter', 'tap-revert', pg_temp.last_request()::text, '{}') r),
          '0:', 'revert of that PUT');
SELECT is(pg_temp.holder('u3@tap.example') || ' ' || coalesce(pg_temp.holder('three@tap.example'), 'free'),
          'u3.tap free', '... puts the address back in user_emails');
SELECT is(current_setting('userbulk.writes_emails', true), '', 'revert_request leaves the setting off');

-- --- account_update --------------------------------------------------------------------------------
SELECT is((SELECT count(*) FROM userbulk.account_update('tap', 'tap-actor', 'tap-trace',
              '{"targets":["7a000000-0000-4000-8000-000000000104"],"email":"Four@tap.example"}') r
            WHERE r.kind = 'user'), 1::bigint, 'the POST gives u4 a new address');
SELECT is(pg_temp.holder('four@tap.example') || ' ' || coalesce(pg_temp.holder('u4@tap.example'), 'free'),
          'u4.tap free', '... and moves its entry');
SELECT is((SELECT string_agg(r.kind || ':' || coalesce(r.code, ''), ' ')
             FROM userbulk.account_update('tap', 'tap-actor', 'tap-trace',
                  '{"targets":["7a000000-0000-4000-8000-000000000104"],"email":"x1@tap.example"}') r),
          'refusal:email_taken', 'the POST refuses an address another user has');
SELECT is(current_setting('userbulk.writes_emails', true), '', 'account_update leaves the setting off');

-- --- scim_write --------------------------------------------------------------------------------
SELECT is(pg_temp.scim('[{"op":"patch","id":"7a000000-0000-4000-8000-000000000104","set":2,"email":"u4@tap.example"},
                         {"op":"patch","id":"7a000000-0000-4000-8000-000000000103","set":2,"email":"four@tap.example"}]'),
          '0:200,1:200', 'SCIM: u3 takes the address u4 gives up in the same request');
SELECT is(pg_temp.holder('u4@tap.example') || ' ' || pg_temp.holder('four@tap.example'), 'u4.tap u3.tap',
          '... and user_emails follows');
SELECT is(pg_temp.scim('[{"op":"delete","id":"7a000000-0000-4000-8000-000000000103"},
                         {"op":"create","userName":"u8.tap","email":"Four@tap.example"}]'),
          '0:204,1:201', 'SCIM: a deletion frees an address a creation of the same request takes');
SELECT is(pg_temp.holder('four@tap.example'), 'u8.tap', '... in user_emails');
SELECT is(current_setting('userbulk.writes_emails', true), '', 'scim_write leaves the setting off');
SELECT is(pg_temp.drift(), 0::bigint, 'after the four functions, user_emails is users''');

-- --- the setting those functions use leaves the entries to them; without it, nothing does --------
SET LOCAL userbulk.writes_emails = 'on';
UPDATE userbulk.users SET email = 'nine@tap.example' WHERE user_name = 'u5.tap';
SELECT is(pg_temp.holder('nine@tap.example'), NULL, 'with userbulk.writes_emails on, the trigger leaves the entry to the writer');
UPDATE userbulk.users SET email = 'u5@tap.example' WHERE user_name = 'u5.tap';
SET LOCAL userbulk.writes_emails = '';

-- --- users deleted ------------------------------------------------------------------------------
DELETE FROM userbulk.users WHERE user_name IN ('u6.tap', 'u7.tap');
SELECT is(coalesce(pg_temp.holder('u6@tap.example'), 'free') || ' ' || coalesce(pg_temp.holder('seven@tap.example'), 'free'),
          'free free', 'DELETE of users: their addresses are free');
SELECT is(pg_temp.drift(), 0::bigint, 'at the end, user_emails is users''');

SELECT * FROM finish();
ROLLBACK;
