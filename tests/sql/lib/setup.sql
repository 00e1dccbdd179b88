-- Included first by every tests/sql/*.sql (\ir lib/setup.sql), run by
-- tests/tools/run-tests.sh as a superuser against the test cluster's
-- database userbulk. Everything happens in one transaction that the test
-- file rolls back at its end: pgTAP itself (schema tap), the test data
-- (account "tap", its codes, roles and users; addresses @tap.example) and
-- what the functions write, so the Apache::Test suite's data is untouched.
-- The tests then run as the schema's owner, userbulk (as migrate.sh does),
-- or as the API role where they say so (SET LOCAL ROLE userbulk_api).
\set ON_ERROR_STOP 1
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off
BEGIN;
CREATE SCHEMA tap;
CREATE EXTENSION pgtap SCHEMA tap;
GRANT USAGE ON SCHEMA tap TO userbulk, userbulk_api;
SET LOCAL search_path = tap, public;
SET LOCAL ROLE userbulk;

INSERT INTO userbulk.accounts (id, code, name) VALUES
    ('7a000000-0000-4000-8000-000000000001', 'tap', 'pgTAP account'),
    ('7a000000-0000-4000-8000-000000000002', 'tap2', 'pgTAP other account');
INSERT INTO userbulk.departments (account_id, code, name) VALUES
    ('7a000000-0000-4000-8000-000000000001', 'D1', 'Dept 1'),
    ('7a000000-0000-4000-8000-000000000001', 'D2', 'Dept 2'),
    ('7a000000-0000-4000-8000-000000000002', 'DX', 'Other dept');
INSERT INTO userbulk.locations (account_id, code, name) VALUES
    ('7a000000-0000-4000-8000-000000000001', 'L1', 'Loc 1');
INSERT INTO userbulk.program_admin_roles (account_id, code, name) VALUES
    ('7a000000-0000-4000-8000-000000000001', 'P1', 'PAR 1');
INSERT INTO userbulk.roles (id, account_id, name, is_default) VALUES
    ('7a000000-0000-4000-8000-0000000000a1', '7a000000-0000-4000-8000-000000000001', 'Reader', true),
    ('7a000000-0000-4000-8000-0000000000a2', '7a000000-0000-4000-8000-000000000001', 'Writer', false),
    ('7a000000-0000-4000-8000-0000000000a9', '7a000000-0000-4000-8000-000000000002', 'Foreign', false);
INSERT INTO userbulk.teams (id, account_id, code, name) VALUES
    ('7a000000-0000-4000-8000-0000000000b1', '7a000000-0000-4000-8000-000000000001', 'T1', 'Team 1'),
    ('7a000000-0000-4000-8000-0000000000b9', '7a000000-0000-4000-8000-000000000002', 'T9', 'Other team');
INSERT INTO userbulk.statuses (id, status_id, code, name) VALUES
    ('7a000000-0000-4000-8000-0000000000c1', 9001, 'TAP_ON', 'Tap on'),
    ('7a000000-0000-4000-8000-0000000000c2', 9002, 'TAP_OFF', 'Tap off');
INSERT INTO userbulk.timezones (id, name, code) VALUES ('Tap/Zone', 'Tap zone', 'TZ');
-- u1..u6 in account tap, x1 in tap2; u1 holds role Reader; u2 has every
-- read-only flag set.
INSERT INTO userbulk.users (id, account_id, user_name, first_name, last_name, email,
                            access_automation, access_certification, access_complete,
                            access_operational_matching)
SELECT format('7a000000-0000-4000-8000-00000000010%s', n)::uuid,
       '7a000000-0000-4000-8000-000000000001', format('u%s.tap', n), format('U%s', n), 'Tap',
       format('u%s@tap.example', n), n = 2, n = 2, n = 2, n = 2
  FROM generate_series(1, 6) n;
INSERT INTO userbulk.users (id, account_id, user_name, email)
     VALUES ('7a000000-0000-4000-8000-000000000109', '7a000000-0000-4000-8000-000000000002',
             'x1.tap2', 'x1@tap.example');
INSERT INTO userbulk.user_roles (account_id, user_id, role_id) VALUES
    ('7a000000-0000-4000-8000-000000000001', '7a000000-0000-4000-8000-000000000101',
     '7a000000-0000-4000-8000-0000000000a1');

-- put_users as the module calls it, from records as JSON (what the module
-- sends as one array of userbulk.put_input): userName, email, firstName, middleName,
-- lastName, phone, department, location, par, lockedOut (default false),
-- roles (JSON, default []: each distinct list goes once, in p_role_lists,
-- and a record names its own by number), the four read-only flags aa, ac,
-- acp, aom, and version; idx is the record's position.
-- The answer as the tests read it: a record's error rows (put_result: one
-- row per error, or one without for a record that has none) gathered back
-- into one JSON array per record, in their order; before and after as the
-- record's row answers them (option "diff").
CREATE FUNCTION pg_temp.put(p_records jsonb, p_options jsonb DEFAULT '{}', p_account text DEFAULT 'tap')
RETURNS TABLE (idx integer, user_id uuid, version bigint, errors jsonb, before jsonb, after jsonb)
LANGUAGE sql AS $$
    SELECT a.idx, a.user_id, a.version,
           coalesce(jsonb_agg(jsonb_build_object('field', a.field, 'code', a.code, 'message', a.message)
                              ORDER BY a.n) FILTER (WHERE a.code IS NOT NULL), '[]'),
           (array_agg(a.before) FILTER (WHERE a.before IS NOT NULL))[1],
           (array_agg(a.after) FILTER (WHERE a.after IS NOT NULL))[1]
      FROM (SELECT ARRAY(SELECT DISTINCT coalesce(e -> 'roles', '[]')::text
                           FROM jsonb_array_elements(p_records) e ORDER BY 1) AS lists) l,
           userbulk.put_users(p_account, 'tap-actor', 'tap-trace', p_options, l.lists,
        ARRAY(SELECT ROW((o - 1)::integer, e ->> 'userName', e ->> 'email', e ->> 'firstName',
                         e ->> 'middleName', e ->> 'lastName', e ->> 'phone', e ->> 'department',
                         e ->> 'location', e ->> 'par', coalesce((e ->> 'lockedOut')::boolean, false),
                         array_position(l.lists, coalesce(e -> 'roles', '[]')::text), (e ->> 'aa')::boolean,
                         (e ->> 'ac')::boolean, (e ->> 'acp')::boolean, (e ->> 'aom')::boolean,
                         (e ->> 'version')::bigint)::userbulk.put_input
                FROM jsonb_array_elements(p_records) WITH ORDINALITY r(e, o) ORDER BY o))
           WITH ORDINALITY AS a(idx, user_id, version, field, code, message, before, after, n)
     GROUP BY a.idx, a.user_id, a.version
     ORDER BY a.idx
$$;
-- The error codes of each record, "idx:code,code" in idx order ("0:" for none).
CREATE FUNCTION pg_temp.codes(p_records jsonb, p_options jsonb DEFAULT '{}')
RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(format('%s:%s', r.idx, (SELECT coalesce(string_agg(e ->> 'code', ',' ORDER BY o), '')
                                                 FROM jsonb_array_elements(r.errors) WITH ORDINALITY x(e, o))),
                      ' ' ORDER BY r.idx)
      FROM pg_temp.put(p_records, p_options) r
$$;
-- A user of the fixtures by userName.
CREATE FUNCTION pg_temp.u(p_name text) RETURNS userbulk.users LANGUAGE sql AS $$
    SELECT * FROM userbulk.users WHERE user_name = p_name
$$;
-- The VERBOSE plan of a query, one line a row.
CREATE FUNCTION pg_temp.explain(p_query text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || p_query;
END
$$;
