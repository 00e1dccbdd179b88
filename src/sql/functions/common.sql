-- The pieces the endpoints' functions share: their row types and the small
-- helpers their statements call (errors, dates, roles). Applied first of
-- functions/*.sql by migrate.sh, after the migrations, every run, in one
-- transaction with the others. Nothing here (nor in the other files of
-- functions/) is dropped: functions are replaced in place (CREATE OR
-- REPLACE), row types created when missing (userbulk.ensure_row_type).
-- What an earlier release left behind is dropped by a migration, once
-- (006_drop_legacy.sql).
--
-- The statements of mod_userbulk are SQL functions, one file per concern
-- (put_users.sql, account_update.sql, read_users.sql, audit.sql): each
-- endpoint is one call, in one transaction whatever its size (the module
-- wraps it in BEGIN and COMMIT: src/store.h).

-- A row type the functions answer, created when missing; when it exists,
-- its shape (attribute names and types, in order) must be p_columns',
-- else the run stops, saying so. It is never dropped here: a view or
-- function a site built on it stays. A change of shape is a migration
-- (migrations/NNN_*.sql, applied once, before this file), e.g.
--   DROP TYPE userbulk.put_result CASCADE;    -- and what answers it
-- or ALTER TYPE ... ADD/DROP ATTRIBUTE, together with the new p_columns
-- below; functions/ then creates the type and its functions again in the
-- same transaction (CREATE OR REPLACE cannot change a function's result
-- type: a migration drops the function too, if it outlives the type).
CREATE OR REPLACE FUNCTION userbulk.ensure_row_type(p_type text, p_columns text)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    v_have text;
    v_want text;
BEGIN
    IF to_regtype(format('userbulk.%I', p_type)) IS NULL THEN
        EXECUTE format('CREATE TYPE userbulk.%I AS (%s)', p_type, p_columns);
        RETURN;
    END IF;
    -- The shape asked for, as PostgreSQL reads it: from a scratch type of
    -- this session, gone at the end of the statement.
    EXECUTE format('CREATE TYPE pg_temp.%I AS (%s)', 'ub_shape_' || p_type, p_columns);
    SELECT string_agg(format('%s %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', '
                      ORDER BY a.attnum) FILTER (WHERE t.typnamespace = 'userbulk'::regnamespace),
           string_agg(format('%s %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', '
                      ORDER BY a.attnum) FILTER (WHERE t.typnamespace <> 'userbulk'::regnamespace)
      INTO v_have, v_want
      FROM pg_type t JOIN pg_attribute a ON a.attrelid = t.typrelid
     WHERE t.oid IN (to_regtype(format('userbulk.%I', p_type)),
                     to_regtype(format('pg_temp.%I', 'ub_shape_' || p_type)))
       AND a.attnum > 0 AND NOT a.attisdropped;
    EXECUTE format('DROP TYPE pg_temp.%I', 'ub_shape_' || p_type);
    IF v_have IS DISTINCT FROM v_want THEN
        RAISE EXCEPTION 'userbulk.%: the database has (%), functions/ answer (%)', p_type, v_have, v_want
              USING HINT = 'a change of a row type''s shape takes a migration (see userbulk.ensure_row_type in functions/common.sql)';
    END IF;
END
$fn$;

-- The answer of PUT /users: one row per error of a record, and one row,
-- its error columns null, for a record without any (applied, or already as
-- sent); every row of a record carries its user_id and version. before
-- and after: with the option "diff", the fields a record without errors
-- changes, as its audit row has them; else null (put_users.sql). The
-- module reads the columns by name (src/store.c). (before and after came
-- with migration 014.)
SELECT userbulk.ensure_row_type('put_result', $cols$
    idx      integer,
    user_id  uuid,
    version  bigint,
    field    text,
    code     text,
    message  text,
    before   jsonb,
    after    jsonb
$cols$) \g /dev/null

CREATE OR REPLACE FUNCTION userbulk.err(p_field text, p_code text, p_message text)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_array(jsonb_build_object('field', p_field, 'code', p_code,
                                                'message', p_message))
$$;

-- Whether an attempt of an endpoint's statement that failed with
-- p_sqlstate is made again, p_attempt attempts having failed: what a
-- concurrent request can cause at commit time (an address taken meanwhile:
-- unique_violation; a role, department or user the attempt checked and
-- then linked deleted meanwhile: foreign_key_violation, from a key or from
-- the links' check of migration 015; a deadlock through an index; a
-- serialization failure) is retried on fresh data, which decides it again
-- (the record then fails as naming what is gone), five attempts in all;
-- anything else is raised as it came. The exception handlers of put_users and account_update:
--     WHEN OTHERS THEN v_attempt := v_attempt + 1;
--                      IF NOT userbulk.retried(SQLSTATE, v_attempt) THEN RAISE; END IF;
CREATE OR REPLACE FUNCTION userbulk.retried(p_sqlstate text, p_attempt integer)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT p_sqlstate IN ('23505', '23503', '40P01', '40001') AND p_attempt < 5
$$;

-- The fields a PUT /users record changes, for the audit trail: each field
-- stored (o_) and sent (n_); the answer holds those that differ, with the
-- stored values (p_after false: "before") or the sent ones (true:
-- "after"). Both sides from one list of the fields. Written as JSON text
-- and read once: cheaper than building both objects whole and deleting
-- the fields that stay. One expression over its arguments, STABLE as
-- to_json is, so that PostgreSQL inlines it into put_users' statement: no
-- call per record (an IMMUTABLE label, or STRICT, SET or SECURITY DEFINER,
-- would stop the inlining).
CREATE OR REPLACE FUNCTION userbulk.put_diff(p_after boolean,
    o_email text, n_email text, o_first text, n_first text, o_middle text, n_middle text,
    o_last text, n_last text, o_phone text, n_phone text, o_department text, n_department text,
    o_location text, n_location text, o_par text, n_par text, o_locked boolean, n_locked boolean,
    o_roles uuid[], n_roles uuid[])
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT ('{' || concat_ws(',',
        CASE WHEN o_email IS DISTINCT FROM n_email
             THEN '"email":' || coalesce(to_json(CASE WHEN p_after THEN n_email ELSE o_email END)::text, 'null') END,
        CASE WHEN o_first IS DISTINCT FROM n_first
             THEN '"firstName":' || coalesce(to_json(CASE WHEN p_after THEN n_first ELSE o_first END)::text, 'null') END,
        CASE WHEN o_middle IS DISTINCT FROM n_middle
             THEN '"middleName":' || coalesce(to_json(CASE WHEN p_after THEN n_middle ELSE o_middle END)::text, 'null') END,
        CASE WHEN o_last IS DISTINCT FROM n_last
             THEN '"lastName":' || coalesce(to_json(CASE WHEN p_after THEN n_last ELSE o_last END)::text, 'null') END,
        CASE WHEN o_phone IS DISTINCT FROM n_phone
             THEN '"phoneNumber":' || coalesce(to_json(CASE WHEN p_after THEN n_phone ELSE o_phone END)::text, 'null') END,
        CASE WHEN o_department IS DISTINCT FROM n_department
             THEN '"departmentId":' || coalesce(to_json(CASE WHEN p_after THEN n_department ELSE o_department END)::text, 'null') END,
        CASE WHEN o_location IS DISTINCT FROM n_location
             THEN '"locationId":' || coalesce(to_json(CASE WHEN p_after THEN n_location ELSE o_location END)::text, 'null') END,
        CASE WHEN o_par IS DISTINCT FROM n_par
             THEN '"programAdminRoleId":' || coalesce(to_json(CASE WHEN p_after THEN n_par ELSE o_par END)::text, 'null') END,
        CASE WHEN o_locked IS DISTINCT FROM n_locked
             THEN '"lockedOut":' || coalesce(to_json(CASE WHEN p_after THEN n_locked ELSE o_locked END)::text, 'null') END,
        CASE WHEN o_roles IS DISTINCT FROM n_roles
             THEN '"roles":' || to_json(CASE WHEN p_after THEN n_roles ELSE o_roles END)::text END) || '}')::jsonb
$$;

-- A PUT /users record's errors as the rows of its answer (put_result), in
-- their order: none for [] (most records), which is not even read (null
-- into a strict function: half the cost of the whole answer's rows). An
-- error is {"field", "code", "message"}, or {"unknown_roles": [positions]}
-- (put_users: the entries of the record's roles that name no role of the
-- account), one row per position. ord only orders the rows.
CREATE OR REPLACE FUNCTION userbulk.put_errors(p_errors jsonb)
RETURNS TABLE (ord bigint, field text, code text, message text)
LANGUAGE sql IMMUTABLE AS $$
    SELECT e.ord * 1000000 + coalesce(r.n, 0),
           CASE WHEN r.pos IS NULL THEN e.v ->> 'field' ELSE 'roles[' || r.pos || ']' END,
           CASE WHEN r.pos IS NULL THEN e.v ->> 'code' ELSE 'unknown_role' END,
           CASE WHEN r.pos IS NULL THEN e.v ->> 'message' ELSE 'names no role of the account' END
      FROM jsonb_array_elements(nullif(p_errors, '[]')) WITH ORDINALITY AS e(v, ord)
      LEFT JOIN LATERAL jsonb_array_elements_text(e.v -> 'unknown_roles') WITH ORDINALITY AS r(pos, n)
             ON true
$$;

-- The roles PUT /users records name, resolved in the account: for each
-- list of p_lists (the batch's distinct lists, as JSON text), by its
-- position from 1, one row per entry, with the entry's position and the
-- role's id (NULL when none matches; with both roleId and roleName, they
-- must name the same role). Every entry of every list in one set, against
-- the account's roles by id and by name through two equality joins, which
-- PostgreSQL runs as hash joins once the function is inlined (its caller
-- passes the lists as a variable: a subquery in the arguments stops the
-- inlining). A batch of 1000 lists of 100 roles costs one pass over its
-- 100,000 entries, not a lookup each; the rows carry the list's number,
-- not its text, so that grouping them sorts integers.
CREATE OR REPLACE FUNCTION userbulk.put_roles(p_account uuid, p_lists text[])
RETURNS TABLE (list integer, pos integer, role_id uuid) LANGUAGE sql STABLE AS $$
    SELECT l.list::integer, (r.ord - 1)::integer,
           CASE WHEN r.e ->> 'roleId' IS NOT NULL
                THEN CASE WHEN r.e ->> 'roleName' IS NULL OR by_id.name = r.e ->> 'roleName'
                          THEN by_id.id END
                ELSE by_name.id END
      FROM unnest(p_lists) WITH ORDINALITY AS l(roles, list)
     CROSS JOIN LATERAL jsonb_array_elements(l.roles::jsonb) WITH ORDINALITY AS r(e, ord)
      LEFT JOIN userbulk.roles by_id
             ON by_id.account_id = p_account AND by_id.id = (r.e ->> 'roleId')::uuid
      LEFT JOIN userbulk.roles by_name
             ON by_name.account_id = p_account AND by_name.name = r.e ->> 'roleName'
$$;

-- ---------------------------------------------------------------------------
-- POST /api/v1/account/users/update

-- The answer is rows, not one JSON document: the module writes the seed's
-- JSON from them (src/account_update.c), reading the columns by name. A
-- role is shared by many targets, so its userRoleModels entry (privileges,
-- noofUsers) is built once here, not once per user. Each row says its
-- kind, and fills only that kind's columns:
--   'refusal': the only row; error_type (the envelope's errorType), code
--             and message;
--   'role':    one per role any target holds, first, in userRoleModels
--             order (name, then id): role_id and role_model, the entry as
--             compact JSON in the seed's field order, copied as it is;
--   'user':    one per target, after the roles, in the order of userIds:
--             user_id, role_ids (in no particular order) and its fields,
--             joined with its status, time zone and team; with the change
--             option "diff", before and after: the fields the request
--             changes on it, as its audit row has them (null: no change,
--             or no "diff"). (before and after came with migration 016.)
SELECT userbulk.ensure_row_type('account_update_row', $cols$
    kind                    text,
    error_type              text,
    code                    text,
    message                 text,
    role_id                 uuid,
    role_model              text,
    user_id                 uuid,
    role_ids                uuid[],
    display_name            text,
    first_name              text,
    middle_name             text,
    last_name               text,
    phone1                  text,
    phone2                  text,
    login_name              text,
    reset_password_state    boolean,
    activation_date         text,       -- userbulk.iso
    expiry_date             text,
    status_id               uuid,
    status_name             text,
    status_code             text,
    status_num              integer,
    status_color            text,
    email                   text,
    timezone_id             text,
    timezone_name           text,
    timezone_code           text,
    timezone_dst            boolean,
    timezone_daylight       text,
    profile_pic             text,
    is_sso_user             boolean,
    team_id                 uuid,
    team_level              integer,
    team_name               text,
    team_code               text,
    team_parent             uuid,
    is_employee             boolean,
    employee_code           text,
    is_two_factor_enabled   boolean,
    before                  jsonb,
    after                   jsonb
$cols$) \g /dev/null

-- ISO 8601 in UTC with milliseconds. STABLE (to_char is), so it is
-- inlined into the statements that call it.
CREATE OR REPLACE FUNCTION userbulk.iso(t timestamptz)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- A refusal row of account_update: its columns set by name, the others
-- null.
CREATE OR REPLACE FUNCTION userbulk.refusal(p_type text, p_code text, p_message text)
RETURNS userbulk.account_update_row LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    r userbulk.account_update_row;
BEGIN
    r.kind := 'refusal';
    r.error_type := p_type;
    r.code := p_code;
    r.message := p_message;
    RETURN r;
END
$$;

-- Addresses against a batch's final state, for PUT /users and the SCIM
-- writes: the entries are the batch's valid records that give their user
-- another address (p_addr, folded by userbulk.fold_email) or take it away
-- (p_addr null: a deletion); the answer is the idx of those that cannot
-- have theirs. An address asked for is free when no other entry asks for
-- it and no user keeps it (a user keeps its address unless an entry of its
-- own gives it another or takes it away). An entry fails when another asks
-- for the same address, when a user without an entry holds it, or when
-- the user holding it has an entry that fails (that user keeps its
-- address): failures spread back along "asks for the address held by",
-- from the first ones. One statement walks those chains, reaching each
-- entry once (a user has at most one entry: the callers see to it), so
-- the cost grows with the batch, not with the length of its chains. A
-- ring of swaps that no failure reaches succeeds.
CREATE OR REPLACE FUNCTION userbulk.email_taken(p_idx integer[], p_user uuid[], p_addr text[])
RETURNS TABLE (idx integer) LANGUAGE sql STABLE AS $$
    WITH RECURSIVE entry AS MATERIALIZED (
        SELECT e.idx, e.user_id, e.addr FROM unnest(p_idx, p_user, p_addr) AS e(idx, user_id, addr)
    ), edge AS MATERIALIZED (
        -- the user holding the address an entry asks for, if not its own
        -- (user_emails: every user's address, migration 023)
        SELECT x.idx, x.user_id, x.addr, e.user_id AS holder
          FROM entry x
          LEFT JOIN userbulk.user_emails e ON e.email_lower = x.addr AND e.user_id <> x.user_id
         WHERE x.addr IS NOT NULL
    ), lost (idx, user_id) AS (
        SELECT e.idx, e.user_id FROM edge e
         WHERE e.addr IN (SELECT x.addr FROM entry x WHERE x.addr IS NOT NULL
                           GROUP BY 1 HAVING count(*) > 1)
            OR (e.holder IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM entry x WHERE x.user_id = e.holder))
        UNION
        SELECT e.idx, e.user_id FROM lost l JOIN edge e ON e.holder = l.user_id
    )
    SELECT DISTINCT l.idx FROM lost l
$$;

-- The addresses a writer of users moved, in user_emails (migration 023),
-- which holds them unique: users p_user[i] of p_account went from the
-- folded address p_from[i] to p_to[i]. Their old entries all out, then
-- the new ones in, in address order, so that users of one batch may trade
-- addresses and two batches wanting the same ones queue in one order; a
-- conflict with another transaction is raised here, in the caller's
-- attempt. The caller set userbulk.writes_emails to 'on' before its
-- UPDATE of users (so that the row trigger left the entries to it); this
-- sets it back. Called by put_users, scim_write, revert_request and
-- account_update.
CREATE OR REPLACE FUNCTION userbulk.move_addresses(p_account uuid, p_user uuid[], p_from text[],
                                                  p_to text[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM userbulk.user_emails e
     USING unnest(p_user, p_from) AS x(user_id, addr)
     WHERE e.email_lower = x.addr AND e.user_id = x.user_id AND e.account_id = p_account;
    INSERT INTO userbulk.user_emails (email_lower, account_id, user_id)
         SELECT x.addr, p_account, x.user_id FROM unnest(p_user, p_to) AS x(user_id, addr)
          ORDER BY 1;
    PERFORM set_config('userbulk.writes_emails', '', true);
END
$$;
