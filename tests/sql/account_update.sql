-- userbulk.account_update (src/sql/functions/account_update.sql), called
-- directly. A refusal is one row of kind 'refusal' (error_type, code,
-- message); an applied change answers one row of kind 'role' per role the
-- targets hold (role_id, role_model), in name order, then one of kind
-- 'user' per target in the order of targets (user_id and its fields).
-- pg_temp.post adds the refusal as one JSON object (error) and the role
-- model as json, as the assertions read them.
\ir lib/setup.sql
SELECT plan(35);

CREATE FUNCTION pg_temp.post(p_change jsonb)
RETURNS TABLE (kind text, error jsonb, role_id uuid, role_model json, user_id uuid, role_ids uuid[],
               first_name text, team_name text, status_code text, timezone_name text,
               activation_date text, email text) LANGUAGE sql AS $$
    SELECT r.kind,
           CASE WHEN r.kind = 'refusal'
                THEN jsonb_build_object('errorType', r.error_type, 'code', r.code, 'message', r.message) END,
           r.role_id, r.role_model::json, r.user_id, r.role_ids, r.first_name, r.team_name,
           r.status_code, r.timezone_name, r.activation_date, r.email
      FROM userbulk.account_update('tap', 'tap-actor', 'tap-trace', p_change) r
$$;
-- A refusal's errorType and code, or 'applied'.
CREATE FUNCTION pg_temp.refusal(p_change jsonb) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce((SELECT (r.error ->> 'errorType') || ' ' || (r.error ->> 'code')
                       FROM pg_temp.post(p_change) r WHERE r.error IS NOT NULL), 'applied')
$$;

-- Planned for each call's arrays: a generic plan, which a pooled session
-- gets after five calls, joins the targets with their roles quadratically.
SELECT ok((SELECT 'plan_cache_mode=force_custom_plan' = ANY (p.proconfig) FROM pg_proc p
            WHERE p.oid = 'userbulk.account_update'::regproc),
          'account_update plans every call for its own arrays (plan_cache_mode)');

-- --- refusals ---------------------------------------------------------------------
SELECT is(pg_temp.refusal('{"targets":["7a000000-0000-4000-8000-000000000101","7a000000-0000-4000-8000-0000000001ff"],"first_name":"X"}'),
          'NotFound not_found', 'a target that does not exist: NotFound not_found');
SELECT matches((SELECT error ->> 'message' FROM pg_temp.post('{"targets":["7a000000-0000-4000-8000-000000000109"],"first_name":"X"}')),
               'no user with id 7a000000-0000-4000-8000-000000000109 in the account',
               'a user of another account: not found, named');
SELECT is((SELECT count(*) FROM pg_temp.post('{"targets":["7a000000-0000-4000-8000-0000000001ff"],"first_name":"X"}')),
          1::bigint, 'a refusal is one row');
SELECT is(pg_temp.refusal('{"targets":["7a000000-0000-4000-8000-000000000101"],"first_name":"X","if_match":"3"}'),
          'Conflict conflict', 'If-Match on another version: Conflict conflict');
SELECT is(pg_temp.refusal('{"targets":["7a000000-0000-4000-8000-000000000101"],"role_ids":["7a000000-0000-4000-8000-0000000000a9"]}'),
          'ValidationError unknown_role', 'another account''s role: unknown_role');
SELECT is(pg_temp.refusal('{"targets":["7a000000-0000-4000-8000-000000000101"],"team_id":"7a000000-0000-4000-8000-0000000000b9"}'),
          'ValidationError unknown_team', 'another account''s team: unknown_team');
SELECT is(pg_temp.refusal('{"targets":["7a000000-0000-4000-8000-000000000101"],"status_code":"NOPE"}'),
          'ValidationError unknown_status', 'a status code of no status: unknown_status');
SELECT is(pg_temp.refusal('{"targets":["7a000000-0000-4000-8000-000000000101"],"status_code":"TAP_ON","status_num":9002}'),
          'ValidationError conflicting_fields', 'two status fields naming different statuses: conflicting_fields');
SELECT is(pg_temp.refusal('{"targets":["7a000000-0000-4000-8000-000000000101"],"timezone_id":"Nowhere/Zone"}'),
          'ValidationError unknown_timezone', 'an unknown time zone: unknown_timezone');
SELECT is(pg_temp.refusal('{"targets":["7a000000-0000-4000-8000-000000000101"],"email":"U2@tap.EXAMPLE"}'),
          'ValidationError email_taken', 'another user''s address, in other case: email_taken');
SELECT is(pg_temp.refusal('{"targets":["7a000000-0000-4000-8000-000000000101"],"activation_date":"2030-01-02T00:00:00Z","expiry_date":"2030-01-01T00:00:00Z"}'),
          'ValidationError expiry_before_activation', 'expiry before activation: expiry_before_activation');
SELECT is((SELECT count(*) FROM userbulk.users WHERE user_name LIKE 'u%.tap' AND version <> 1), 0::bigint,
          'no refusal changed a user');

-- --- an applied change ------------------------------------------------------------------
SELECT results_eq($$SELECT error IS NULL, role_id, user_id, first_name, team_name, status_code, timezone_name, activation_date
                      FROM pg_temp.post('{"targets":["7a000000-0000-4000-8000-000000000103","7a000000-0000-4000-8000-000000000101"],
                                          "first_name":"Same","team_id":"7a000000-0000-4000-8000-0000000000b1",
                                          "status_num":9001,"timezone_id":"Tap/Zone","activation_date":"2030-01-01T10:00:00.1234+02:00",
                                          "role_ids":["7a000000-0000-4000-8000-0000000000a2","7a000000-0000-4000-8000-0000000000a1"]}')$$,
                  $$VALUES (true, '7a000000-0000-4000-8000-0000000000a1'::uuid, NULL::uuid, NULL, NULL, NULL, NULL, NULL),
                           (true, '7a000000-0000-4000-8000-0000000000a2'::uuid, NULL::uuid, NULL, NULL, NULL, NULL, NULL),
                           (true, NULL, '7a000000-0000-4000-8000-000000000103'::uuid, 'Same', 'Team 1', 'TAP_ON', 'Tap zone', '2030-01-01T08:00:00.123Z'),
                           (true, NULL, '7a000000-0000-4000-8000-000000000101'::uuid, 'Same', 'Team 1', 'TAP_ON', 'Tap zone', '2030-01-01T08:00:00.123Z')$$,
                  'applied: the roles in name order, then the targets in the order sent');
SELECT is((SELECT (role_model ->> 'userRoleName') || ' ' || (role_model ->> 'noofUsers')
             FROM pg_temp.post('{"targets":["7a000000-0000-4000-8000-000000000103"],"first_name":"Same"}') WHERE role_id IS NOT NULL
            ORDER BY role_model ->> 'userRoleName' LIMIT 1),
          'Reader 2', 'a role''s model counts its users in the account');
SELECT is((SELECT array_agg(r ORDER BY r)::text FROM pg_temp.post('{"targets":["7a000000-0000-4000-8000-000000000101"],"first_name":"Same"}') p,
                  unnest(p.role_ids) r WHERE p.user_id IS NOT NULL),
          '{7a000000-0000-4000-8000-0000000000a1,7a000000-0000-4000-8000-0000000000a2}', 'a target row carries its roles');
SELECT is((SELECT string_agg(user_name || ' ' || version, ', ' ORDER BY user_name) FROM userbulk.users
            WHERE user_name IN ('u1.tap', 'u3.tap')), 'u1.tap 2, u3.tap 2',
          'each changed target at its next version; a change already in place adds none');
SELECT results_eq($$SELECT actor, endpoint, before, after FROM userbulk.audit
                     WHERE trace_id = 'tap-trace' AND user_id = '7a000000-0000-4000-8000-000000000101'$$,
                  $$VALUES ('tap-actor', 'POST /api/v1/account/users/update',
                            '{"team_id": null, "role_ids": ["7a000000-0000-4000-8000-0000000000a1"], "status_id": null, "first_name": "U1", "timezone_id": null, "activation_date": null}'::jsonb,
                            '{"team_id": "7a000000-0000-4000-8000-0000000000b1", "role_ids": ["7a000000-0000-4000-8000-0000000000a1", "7a000000-0000-4000-8000-0000000000a2"], "status_id": "7a000000-0000-4000-8000-0000000000c1", "first_name": "Same", "timezone_id": "Tap/Zone", "activation_date": "2030-01-01T08:00:00.123Z"}'::jsonb)$$,
                  'the audit row: the changed fields before and after');
SELECT is((SELECT count(*) FROM userbulk.audit_request WHERE trace_id = 'tap-trace'), 1::bigint,
          'one audit request for the change (none for the calls that changed nothing)');
SELECT is((SELECT count(*) FROM userbulk.audit WHERE trace_id = 'tap-trace'), 2::bigint, '... one row per changed target');
SELECT is((SELECT string_agg(r.role_id::text, ',' ORDER BY r.role_id) FROM userbulk.user_roles r
            WHERE r.user_id = '7a000000-0000-4000-8000-000000000103'),
          '7a000000-0000-4000-8000-0000000000a1,7a000000-0000-4000-8000-0000000000a2', 'the roles set on the target');
SELECT results_eq($$SELECT user_id, role_ids FROM pg_temp.post('{"targets":["7a000000-0000-4000-8000-000000000103"],"role_ids":[]}')
                     WHERE user_id IS NOT NULL$$,
                  $$VALUES ('7a000000-0000-4000-8000-000000000103'::uuid, '{}'::uuid[])$$, 'roles set to none');
SELECT is((SELECT count(*) FROM pg_temp.post('{"targets":["7a000000-0000-4000-8000-000000000103"],"first_name":"Same"}') WHERE role_id IS NOT NULL),
          0::bigint, '... then no role row');
SELECT is(pg_temp.refusal('{"targets":["7a000000-0000-4000-8000-000000000101"],"first_name":"X","if_match":"2"}'),
          'applied', 'If-Match on the stored version: applied');
SELECT is(pg_temp.refusal('{"targets":["7a000000-0000-4000-8000-000000000101"],"email":"U1@TAP.example"}'),
          'applied', 'the target''s own address in other case: applied');
SELECT is((SELECT email FROM pg_temp.u('u1.tap')), 'U1@TAP.example', '... as sent');
SELECT is(pg_temp.refusal('{"targets":["7a000000-0000-4000-8000-000000000101"],"status_uuid":"7a000000-0000-4000-8000-0000000000c2","status_code":"TAP_OFF","status_num":9002}'),
          'applied', 'the three status fields naming one status: applied');
SELECT is((SELECT error FROM pg_temp.post('{"targets":["7a000000-0000-4000-8000-000000000101"],"expiry_date":"2029-12-31T00:00:00Z"}')),
          '{"code": "expiry_before_activation", "message": "accountAccess.expiryDate: would be before the activation date for 7a000000-0000-4000-8000-000000000101", "errorType": "ValidationError"}'::jsonb,
          'an expiry before the stored activation: refused, naming the target');
SELECT throws_ok($$SELECT * FROM userbulk.account_update('tap', 'a', 't', '{"targets":["not-a-uuid"],"first_name":"X"}')$$,
                 '22P02', NULL, 'a target that is no uuid fails the statement (the module checks them first)');

-- --- noofUsers: kept in role_user_counts (migration 013) ---------------------------
-- Each role's sum of deltas against count(*) of its links, for every role.
CREATE FUNCTION pg_temp.counts_off() RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM (
        SELECT r.account_id, r.id,
               (SELECT count(*) FROM userbulk.user_roles ur
                 WHERE ur.account_id = r.account_id AND ur.role_id = r.id) AS links,
               (SELECT coalesce(sum(c.delta), 0) FROM userbulk.role_user_counts c
                 WHERE c.account_id = r.account_id AND c.role_id = r.id) AS kept
          FROM userbulk.roles r) x
     WHERE x.links <> x.kept
$$;
SELECT is((SELECT (pg_temp.post('{"targets":["7a000000-0000-4000-8000-000000000102","7a000000-0000-4000-8000-000000000103"],"role_ids":["7a000000-0000-4000-8000-0000000000a1","7a000000-0000-4000-8000-0000000000a2"]}')
                  ).role_model ->> 'noofUsers' LIMIT 1), '3',
          'noofUsers: the Reader role after two more targets take it: 3 (kept, not counted)');
SELECT is(pg_temp.counts_off(), 0::bigint, 'every role''s kept count is its number of links');
-- 70 statements of one link each, on and off: the rows of a role are
-- folded now and then, the sum stays right.
DO $$
BEGIN
    FOR i IN 1 .. 35 LOOP
        INSERT INTO userbulk.user_roles (account_id, user_id, role_id) VALUES
            ('7a000000-0000-4000-8000-000000000001', '7a000000-0000-4000-8000-000000000104',
             '7a000000-0000-4000-8000-0000000000a2');
        DELETE FROM userbulk.user_roles WHERE user_id = '7a000000-0000-4000-8000-000000000104'
           AND role_id = '7a000000-0000-4000-8000-0000000000a2';
    END LOOP;
    INSERT INTO userbulk.user_roles (account_id, user_id, role_id) VALUES
        ('7a000000-0000-4000-8000-000000000001', '7a000000-0000-4000-8000-000000000104',
         '7a000000-0000-4000-8000-0000000000a2');
END
$$;
SELECT is(pg_temp.counts_off(), 0::bigint, '... after 71 statements of one link each');
SELECT cmp_ok((SELECT count(*) FROM userbulk.role_user_counts
                WHERE role_id = '7a000000-0000-4000-8000-0000000000a2'), '<=', 65::bigint,
              '... whose rows were folded (at most 65 rows for the role)');
-- a link changed in place, and a user deleted (its links go by cascade)
UPDATE userbulk.user_roles SET role_id = '7a000000-0000-4000-8000-0000000000a1'
 WHERE user_id = '7a000000-0000-4000-8000-000000000104' AND role_id = '7a000000-0000-4000-8000-0000000000a2';
DELETE FROM userbulk.users WHERE id = '7a000000-0000-4000-8000-000000000102';
SELECT is(pg_temp.counts_off(), 0::bigint, '... after a link changed in place and a user deleted with its links');
TRUNCATE userbulk.user_roles;
SELECT is((SELECT count(*) FROM userbulk.role_user_counts), 0::bigint, 'TRUNCATE of the links empties the counts');

SELECT * FROM finish();
ROLLBACK;
