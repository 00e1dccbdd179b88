-- userbulk.put_users (src/sql/functions/put_users.sql), called directly.
\ir lib/setup.sql
SELECT plan(47);

-- --- each record against the directory ---------------------------------------
SELECT is(pg_temp.codes('[{"userName":"nobody.tap","email":"n@tap.example"}]'), '0:not_found',
          'a userName of no user: not_found');
SELECT is(pg_temp.codes('[{"userName":"x1.tap2","email":"x1@tap.example"}]'), '0:not_found',
          'a user of another account: not_found');
SELECT is(pg_temp.codes('[{"userName":"u3.tap","email":"u3@tap.example","lastName":"Tap","firstName":"U3","department":"DX","location":"LX","par":"PX"}]'),
          '0:unknown_code,unknown_code,unknown_code',
          'department, location and program admin role not configured for the account: unknown_code each');
SELECT is((SELECT jsonb_path_query_array(errors, '$[*].field')::text
             FROM pg_temp.put('[{"userName":"u3.tap","email":"u3@tap.example","department":"DX","location":"LX","par":"PX"}]')),
          '["departmentId", "locationId", "programAdminRoleId"]', '... naming their fields');
SELECT is(pg_temp.codes('[{"userName":"u2.tap","email":"u2@tap.example","firstName":"U2","lastName":"Tap","aa":false,"ac":true,"acp":false,"aom":true}]'),
          '0:read_only,read_only', 'a read-only flag sent other than stored: read_only');
SELECT is((SELECT jsonb_path_query_array(errors, '$[*].field')::text
             FROM pg_temp.put('[{"userName":"u2.tap","email":"u2@tap.example","aa":false,"ac":true,"acp":false,"aom":true}]')),
          '["userAccess.AccessAutomation", "userAccess.AccessComplete"]', '... naming the flags');
SELECT is(pg_temp.codes('[{"userName":"u2.tap","email":"u2@tap.example","firstName":"U2","lastName":"Tap","aa":true,"ac":true,"acp":true,"aom":true}]'),
          '0:', 'read-only flags sent as stored: no error');
SELECT is((SELECT jsonb_path_query_array(errors, '$[*].field')::text
             FROM pg_temp.put('[{"userName":"u3.tap","email":"u3@tap.example","roles":[{"roleName":"Nope"},{"roleName":"Reader"},{"roleId":"7a000000-0000-4000-8000-0000000000a9"},{"roleId":"7a000000-0000-4000-8000-0000000000a1","roleName":"Writer"}]}]')),
          '["roles[0]", "roles[2]", "roles[3]"]',
          'unknown roles: an unknown name, another account''s role, an id and a name of two roles');
SELECT is(pg_temp.codes('[{"userName":"u3.tap","email":"u3@tap.example","roles":[{"roleName":"Nope"}]}]'),
          '0:unknown_role', '... code unknown_role');
SELECT is(pg_temp.codes('[{"userName":"u3.tap","email":"u3@tap.example","firstName":"U3","lastName":"Tap","version":7}]'),
          '0:conflict', 'an expected version other than the stored one: conflict');
SELECT matches((SELECT errors ->> 0 FROM pg_temp.put('[{"userName":"u3.tap","email":"u3@tap.example","version":7}]')),
               '"field": "version".*since version 7 was read; it is at version 1', '... saying both versions');
-- The literal the module writes (tests/unit/test_batch.c,
-- store_input_literal_escapes_twice), read by PostgreSQL as the values sent.
SELECT is((SELECT r.first_name || '|' || coalesce(r.middle_name, 'NULL') || '|' || r.last_name
                  || '|' || r.locked_out || '|' || r.role_list || '|' || coalesce(r.expected_version::text, 'NULL')
             FROM unnest('{"(0,\"u3.tap\",\"u3@tap.example\",\"a\\\"b\\\\c\",,\"\",,,,,f,1,,,,,)"}'::userbulk.put_input[]) r),
          'a"b\c|NULL||false|1|NULL', 'the records'' literal: quotes and backslashes escaped twice, NULL empty, '''' quoted');
SELECT is((SELECT count(*) FROM userbulk.put_users('tap', 'a', 't', '{}', '{}', '{}')),
          0::bigint, 'an empty batch answers no row');
SELECT throws_ok($$SELECT count(*) FROM userbulk.put_users('tap', 'a', 't', '{}', '{"[]"}',
                     ARRAY[ROW(0, 'u3.tap', 'u3@tap.example', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                               false, 2, NULL, NULL, NULL, NULL, NULL)::userbulk.put_input])$$,
                 '22023', NULL, 'a record naming no list of roles is refused whole');
SELECT is((SELECT string_agg(r.idx || ':' || coalesce(r.code, ''), ',' ORDER BY r.idx)
             FROM userbulk.put_users('tap', 'a', 't', '{"dry_run": true}',
                  '{"[{\"roleName\":\"Nope\"}]","[]"}',
                  ARRAY[ROW(0, 'u3.tap', 'u3@tap.example', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                            false, 2, NULL, NULL, NULL, NULL, NULL)::userbulk.put_input,
                        ROW(1, 'u2.tap', 'u2@tap.example', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                            false, 1, NULL, NULL, NULL, NULL, NULL)::userbulk.put_input]) r),
          '0:,1:unknown_role', 'each record is decided with the list its number names');
SELECT is((SELECT version FROM pg_temp.u('u3.tap')), 1::bigint, 'no failed record changed its user');
SELECT is((SELECT count(*) FROM userbulk.audit WHERE trace_id = 'tap-trace'), 0::bigint, '... nor wrote an audit row');

-- --- a change, and what it writes ------------------------------------------------
SELECT results_eq($$SELECT idx, user_id, version, errors FROM pg_temp.put(
                      '[{"userName":"u3.tap","email":"u3@tap.example","firstName":"Zed","lastName":"Tap","version":1,"roles":[{"roleName":"Writer"}]}]')$$,
                  $$VALUES (0, '7a000000-0000-4000-8000-000000000103'::uuid, 2::bigint, '[]'::jsonb)$$,
                  'a valid record is applied: its user at the next version, no errors');
SELECT is((SELECT first_name || ' ' || version || ' ' || updated_by FROM pg_temp.u('u3.tap')), 'Zed 2 tap-actor', '... the user changed');
SELECT is((SELECT array_agg(role_id)::text FROM userbulk.user_roles WHERE user_id = '7a000000-0000-4000-8000-000000000103'),
          '{7a000000-0000-4000-8000-0000000000a2}', '... with its roles');
SELECT results_eq($$SELECT actor, endpoint, user_id, before, after FROM userbulk.audit WHERE trace_id = 'tap-trace'$$,
                  $$VALUES ('tap-actor', 'PUT /users', '7a000000-0000-4000-8000-000000000103'::uuid,
                            '{"firstName": "U3", "roles": []}'::jsonb,
                            '{"firstName": "Zed", "roles": ["7a000000-0000-4000-8000-0000000000a2"]}'::jsonb)$$,
                  '... and one audit row with only the changed fields, before and after');
SELECT results_eq($$SELECT idx, version, errors FROM pg_temp.put(
                      '[{"userName":"u3.tap","email":"u3@tap.example","firstName":"Zed","lastName":"Tap","roles":[{"roleName":"Writer"}]}]')$$,
                  $$VALUES (0, 2::bigint, '[]'::jsonb)$$, 'a record as stored answers the version it found');
SELECT is((SELECT count(*) FROM userbulk.audit WHERE trace_id = 'tap-trace'), 1::bigint, '... and writes no audit row');

-- --- addresses -------------------------------------------------------------------
SELECT is(pg_temp.codes('[{"userName":"u4.tap","email":"U1@TAP.example"}]'), '0:email_taken',
          'the address of a user the batch does not change, in other case: email_taken');
SELECT is(pg_temp.codes('[{"userName":"u4.tap","email":"new@tap.example"},{"userName":"u5.tap","email":"NEW@tap.example"}]'),
          '0:email_taken 1:email_taken', 'two records asking for one address: both email_taken');
SELECT is(pg_temp.codes('[{"userName":"u4.tap","email":"u5@tap.example"},{"userName":"u5.tap","email":"u6@tap.example"}]'),
          '0:email_taken 1:email_taken',
          'a chain ending on a user that keeps its address: every record along it fails');
SELECT is(pg_temp.codes('[{"userName":"u4.tap","email":"u5@tap.example"},{"userName":"u5.tap","email":"u6@tap.example"},{"userName":"u6.tap","email":"u6@tap.example","department":"DX"}]'),
          '0:email_taken 1:email_taken 2:unknown_code',
          'a chain ending on a record that fails: the failure spreads back');
SELECT is(pg_temp.codes('[{"userName":"u4.tap","email":"u5@tap.example"},{"userName":"u5.tap","email":"free5@tap.example"}]'),
          '0: 1:', 'a chain ending on a free address: every record applied');
SELECT is((SELECT email FROM pg_temp.u('u4.tap')) || ' ' || (SELECT email FROM pg_temp.u('u5.tap')),
          'u5@tap.example free5@tap.example', '... the addresses moved along it');
SELECT is(pg_temp.codes('[{"userName":"u4.tap","email":"u6@tap.example"},{"userName":"u5.tap","email":"u4@tap.example"},{"userName":"u6.tap","email":"free5@tap.example"}]'),
          '0: 1: 2:', 'a ring of three swapping addresses: applied');
SELECT is((SELECT string_agg(user_name || '=' || email, ' ' ORDER BY user_name) FROM userbulk.users
            WHERE user_name IN ('u4.tap', 'u5.tap', 'u6.tap')),
          'u4.tap=u6@tap.example u5.tap=u4@tap.example u6.tap=free5@tap.example', '... each address moved');
SELECT is(pg_temp.codes('[{"userName":"u4.tap","email":"u4@tap.example"},{"userName":"u5.tap","email":"u6@tap.example","department":"DX"}]'),
          '0:email_taken 1:unknown_code', 'a swap whose other half fails: email_taken');

-- --- atomic and dry run --------------------------------------------------------------
SELECT is(pg_temp.codes('[{"userName":"u1.tap","email":"u1@tap.example","firstName":"Atom","lastName":"Tap","roles":[{"roleName":"Reader"}]},{"userName":"nobody.tap","email":"n@tap.example"}]',
                        '{"atomic":true}'),
          '0: 1:not_found', 'atomic: the valid record answers no error');
SELECT is((SELECT first_name || ' ' || version FROM pg_temp.u('u1.tap')), 'U1 1', '... and nothing is applied');
SELECT is(pg_temp.codes('[{"userName":"u1.tap","email":"u1@tap.example","firstName":"Atom","lastName":"Tap","roles":[{"roleName":"Reader"}]}]',
                        '{"atomic":true,"failed":true}'),
          '0:', 'atomic with records the module failed already: no error here');
SELECT is((SELECT first_name FROM pg_temp.u('u1.tap')), 'U1', '... and nothing applied');
SELECT results_eq($$SELECT idx, version, errors FROM pg_temp.put(
                      '[{"userName":"u1.tap","email":"u1@tap.example","firstName":"Dry","lastName":"Tap","roles":[{"roleName":"Reader"}]}]',
                      '{"dry_run":true}')$$,
                  $$VALUES (0, 2::bigint, '[]'::jsonb)$$, 'a dry run answers the version a real run would give');
SELECT is((SELECT first_name || ' ' || version FROM pg_temp.u('u1.tap')), 'U1 1', '... and changes nothing');
SELECT is((SELECT count(*) FROM userbulk.audit WHERE user_id = '7a000000-0000-4000-8000-000000000101'), 0::bigint, '... writes no audit row');

-- --- Idempotency-Key ---------------------------------------------------------------------
SELECT results_eq($$SELECT idx, version, errors FROM pg_temp.put(
                      '[{"userName":"u1.tap","email":"u1@tap.example","firstName":"Once","lastName":"Tap","roles":[{"roleName":"Reader"}]}]',
                      '{"idem_key":"k1","body_hash":"h1"}')$$,
                  $$VALUES (0, 2::bigint, '[]'::jsonb)$$, 'a keyed request is applied');
SELECT results_eq($$SELECT idx, version, errors FROM pg_temp.put(
                      '[{"userName":"u1.tap","email":"u1@tap.example","firstName":"Once","lastName":"Tap","roles":[{"roleName":"Reader"}]}]',
                      '{"idem_key":"k1","body_hash":"h1"}')$$,
                  $$VALUES (0, 2::bigint, '[]'::jsonb)$$, 'replayed with the same fingerprint: the same answer');
SELECT is((SELECT version FROM pg_temp.u('u1.tap')), 2::bigint, '... not applied twice');
SELECT is((SELECT count(*) FROM userbulk.audit WHERE user_id = '7a000000-0000-4000-8000-000000000101'), 1::bigint, '... one audit row');
SELECT results_eq($$SELECT idx, user_id, version, errors ->> 0 FROM pg_temp.put(
                      '[{"userName":"u1.tap","email":"u1@tap.example","firstName":"Twice","lastName":"Tap"}]',
                      '{"idem_key":"k1","body_hash":"h2"}')$$,
                  $$VALUES (-1, NULL::uuid, NULL::bigint,
                            '{"code": "idempotency_key_reused", "field": "Idempotency-Key", "message": "was used for another request (body or options differ)"}')$$,
                  'the key with another fingerprint: one row, idx -1, idempotency_key_reused');
SELECT is((SELECT first_name FROM pg_temp.u('u1.tap')), 'Once', '... nothing applied');
SELECT is((SELECT body_hash || ' ' || (results -> 0 ->> 'version') FROM userbulk.idempotency WHERE account = 'tap' AND key = 'k1'),
          'h1 2', 'the key keeps its fingerprint and first answer');
SELECT is((SELECT count(*) FROM userbulk.audit_request WHERE trace_id = 'tap-trace' AND endpoint = 'PUT /users'),
          (SELECT count(DISTINCT id) FROM userbulk.audit WHERE trace_id = 'tap-trace'), 'one audit_request per applied request');

SELECT * FROM finish();
ROLLBACK;
