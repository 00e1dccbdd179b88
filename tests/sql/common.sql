-- The helpers of src/sql/functions/common.sql, and userbulk.fold_email
-- (migration 005) under the test cluster's locale C.
\ir lib/setup.sql
SELECT plan(27);

SELECT is(userbulk.err('email', 'email_taken', 'is taken'),
          '[{"code": "email_taken", "field": "email", "message": "is taken"}]'::jsonb,
          'err: one (field, code, message) in a list');
SELECT is(userbulk.iso('2030-01-01T10:00:00.12345+02:00'), '2030-01-01T08:00:00.123Z', 'iso: UTC, milliseconds');
SELECT is(userbulk.iso(NULL), NULL, 'iso: NULL stays NULL');
SELECT is((SELECT ARRAY[r.kind, r.error_type, r.code, r.message] FROM userbulk.refusal('NotFound', 'not_found', 'gone') r),
          ARRAY['refusal', 'NotFound', 'not_found', 'gone'],
          'refusal: an account_update row of kind refusal, its error in three columns');
SELECT is((SELECT count(*) FROM jsonb_each(to_jsonb(userbulk.refusal('a', 'b', 'c')) - 'kind' - 'error_type' - 'code' - 'message') e(k, v)
            WHERE v <> 'null'::jsonb), 0::bigint, '... and nothing else');

SELECT results_eq($$SELECT pos, role_id FROM userbulk.put_roles('7a000000-0000-4000-8000-000000000001',
                       ARRAY['[{"roleName":"Writer"},{"roleId":"7a000000-0000-4000-8000-0000000000a1"},
                         {"roleId":"7a000000-0000-4000-8000-0000000000a1","roleName":"Reader"},
                         {"roleId":"7a000000-0000-4000-8000-0000000000a1","roleName":"Writer"},
                         {"roleName":"Foreign"},{"roleId":"7a000000-0000-4000-8000-0000000000a9"}]']) ORDER BY pos$$,
                  $$VALUES (0, '7a000000-0000-4000-8000-0000000000a2'::uuid), (1, '7a000000-0000-4000-8000-0000000000a1'),
                           (2, '7a000000-0000-4000-8000-0000000000a1'), (3, NULL), (4, NULL), (5, NULL)$$,
                  'put_roles: by name, by id, by both when they agree; none for another account''s role');
SELECT results_eq($$SELECT list, count(*), count(role_id) FROM userbulk.put_roles('7a000000-0000-4000-8000-000000000001',
                       ARRAY['[{"roleName":"Writer"}]', '[{"roleName":"Writer"},{"roleName":"Nobody"}]', '[]'])
                     GROUP BY list ORDER BY list$$,
                  $$VALUES (1, 1::bigint, 1::bigint), (2, 2, 1)$$,
                  'put_roles: each list by its number, on its own rows; an empty list none');

SELECT is(userbulk.put_diff(false, 'a@x', 'b@x', 'F', 'F', NULL, NULL, 'L', NULL, NULL, NULL, NULL, NULL,
                            NULL, NULL, NULL, NULL, false, true, '{}', '{}'),
          '{"email": "a@x", "lastName": "L", "lockedOut": false}'::jsonb, 'put_diff: the stored values of the changed fields');
SELECT is(userbulk.put_diff(true, 'a@x', 'b@x', 'F', 'F', NULL, NULL, 'L', NULL, NULL, NULL, NULL, NULL,
                            NULL, NULL, NULL, NULL, false, true, '{}', '{7a000000-0000-4000-8000-0000000000a1}'),
          '{"email": "b@x", "roles": ["7a000000-0000-4000-8000-0000000000a1"], "lastName": null, "lockedOut": true}'::jsonb,
          '... the sent ones');
SELECT is(userbulk.put_diff(true, 'a"\x', 'b"\x', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                            NULL, NULL, NULL, NULL, false, false, '{}', '{}') ->> 'email', 'b"\x', '... escaped as JSON');
SELECT is(userbulk.put_diff(true, 'a', 'a', 'F', 'F', NULL, NULL, 'L', 'L', 'p', 'p', 'D', 'D', 'L1', 'L1', 'P', 'P',
                            true, true, '{}', '{}'), '{}'::jsonb, '... nothing when nothing changes');
-- Inlined into put_users' statement: a plan that still called it would
-- call it twice per record.
SELECT unalike((SELECT string_agg(l, E'\n') FROM (SELECT * FROM pg_temp.explain(
                  $$SELECT userbulk.put_diff(true, u.email, 'x', u.first_name, 'y', NULL, NULL, NULL, NULL, NULL, NULL,
                                             NULL, NULL, NULL, NULL, NULL, NULL, u.locked_out, true, '{}', '{}')
                      FROM userbulk.users u$$)) e(l)), '%put_diff%', 'put_diff is inlined');

SELECT ok(userbulk.retried('23505', 1) AND userbulk.retried('40P01', 4) AND userbulk.retried('40001', 1)
          AND userbulk.retried('23503', 1),
          'retried: unique_violation, deadlock, serialization failure, foreign_key_violation, under five attempts');
SELECT ok(NOT userbulk.retried('23505', 5), '... not the fifth');
SELECT ok(NOT userbulk.retried('23503', 5) AND NOT userbulk.retried('UBLCK', 1) AND NOT userbulk.retried('P0001', 1),
          '... nothing else');

SELECT results_eq($$SELECT field, code, message FROM userbulk.put_errors(
                       '[{"field":"email","code":"email_taken","message":"is taken"},{"field":"roles[2]","code":"unknown_role","message":"m"}]')
                       ORDER BY ord$$,
                  $$VALUES ('email', 'email_taken', 'is taken'), ('roles[2]', 'unknown_role', 'm')$$,
                  'put_errors: a record''s errors as rows, in their order');
SELECT results_eq($$SELECT field, code, message FROM userbulk.put_errors(
                       '[{"field":"email","code":"email_taken","message":"is taken"},{"unknown_roles":[3,10]},
                         {"field":"x","code":"y","message":"z"}]')
                       ORDER BY ord$$,
                  $$VALUES ('email', 'email_taken', 'is taken'),
                           ('roles[3]', 'unknown_role', 'names no role of the account'),
                           ('roles[10]', 'unknown_role', 'names no role of the account'), ('x', 'y', 'z')$$,
                  '... the positions of unknown roles, one row each, in their place');
SELECT is((SELECT count(*) FROM userbulk.put_errors('[]')), 0::bigint, 'put_errors: none for a record without errors');
SELECT is((SELECT count(*) FROM userbulk.put_errors(NULL)), 0::bigint, '... nor for NULL');

SELECT is(current_setting('lc_ctype'), 'C', 'the test cluster''s locale is C');
SELECT is(userbulk.fold_email('ÉVA.Öz@Example.COM'), 'éva.öz@example.com', 'fold_email lowers non-ASCII letters under locale C');
SELECT is(userbulk.fold_email('ǅ@x'), 'ǆ@x', '... title-case letters too');
SELECT is(userbulk.fold_email(NULL), NULL, '... NULL stays NULL');

SELECT lives_ok($$SELECT userbulk.ensure_row_type('put_result', 'idx integer, user_id uuid, version bigint, field text, code text, message text, before jsonb, after jsonb')$$,
                'ensure_row_type: a type of that shape is kept');
SELECT throws_like($$SELECT userbulk.ensure_row_type('put_result', 'idx integer, user_id uuid, version bigint')$$,
                   'userbulk.put_result: the database has (idx integer, user_id uuid, version bigint, field text, code text, message text, before jsonb, after jsonb), functions/ answer (idx integer, user_id uuid, version bigint)',
                   '... another shape stops the run, naming both');
SELECT lives_ok($$SELECT userbulk.ensure_row_type('tap_row', 'a integer, b text')$$, '... a missing type is created');
SELECT is((SELECT format_type(to_regtype('userbulk.tap_row'), NULL)), 'userbulk.tap_row', '... in the schema');

SELECT * FROM finish();
ROLLBACK;
