-- The pieces the endpoints' functions share: their row types and the small
-- helpers their statements call (errors, dates, roles). Applied first of
-- functions/*.sql by migrate.sh, after the migrations, every run, in one
-- transaction with the others; CREATE OR REPLACE throughout.
--
-- The statements of mod_userbulk are SQL functions, one file per concern
-- (put_users.sql, account_update.sql, read_users.sql, audit.sql): each
-- endpoint is one call, in one transaction whatever its size (the module
-- wraps it in BEGIN and COMMIT: src/store.h).

-- What earlier versions used: PUT /users records as JSON of a composite
-- type, and per-user views. The records now come as typed arrays (see
-- put_users).
DROP TYPE IF EXISTS userbulk.put_item CASCADE;
DROP FUNCTION IF EXISTS userbulk.put_view(text, text, text, text, text, text, text, text, boolean, uuid[]);

-- The answer of PUT /users: one row per error of a record, and one row,
-- its error columns null, for a record without any (applied, or already as
-- sent); every row of a record carries its user_id and version. The module
-- reads the columns by name (src/store.c).
DROP TYPE IF EXISTS userbulk.put_result CASCADE;
CREATE TYPE userbulk.put_result AS (
    idx      integer,
    user_id  uuid,
    version  bigint,
    field    text,
    code     text,
    message  text
);

CREATE OR REPLACE FUNCTION userbulk.err(p_field text, p_code text, p_message text)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_array(jsonb_build_object('field', p_field, 'code', p_code,
                                                'message', p_message))
$$;

-- A PUT /users record's errors as the rows of its answer (put_result), in
-- their order: none for [] (most records), which is not even read (null
-- into a strict function: half the cost of the whole answer's rows).
CREATE OR REPLACE FUNCTION userbulk.put_errors(p_errors jsonb)
RETURNS TABLE (ord bigint, field text, code text, message text)
LANGUAGE sql IMMUTABLE AS $$
    SELECT e.ord, e.v ->> 'field', e.v ->> 'code', e.v ->> 'message'
      FROM jsonb_array_elements(nullif(p_errors, '[]')) WITH ORDINALITY AS e(v, ord)
$$;

-- The roles a PUT /users record names, resolved in the account: one row
-- per entry, with its position and the role's id (NULL when none matches;
-- with both roleId and roleName, they must name the same role). Each entry
-- is one lookup in a unique index, (account_id, id) or (account_id, name):
-- a condition that chose between the two inside one WHERE could use
-- neither and read every role of the account per entry.
CREATE OR REPLACE FUNCTION userbulk.put_roles(p_account uuid, p_roles jsonb)
RETURNS TABLE (pos integer, role_id uuid) LANGUAGE sql STABLE AS $$
    SELECT (r.ord - 1)::integer,
           CASE WHEN r.e ->> 'roleId' IS NOT NULL
                THEN (SELECT ro.id FROM userbulk.roles ro
                       WHERE ro.account_id = p_account AND ro.id = (r.e ->> 'roleId')::uuid
                         AND (r.e ->> 'roleName' IS NULL OR ro.name = r.e ->> 'roleName'))
                ELSE (SELECT ro.id FROM userbulk.roles ro
                       WHERE ro.account_id = p_account AND ro.name = r.e ->> 'roleName') END
      FROM jsonb_array_elements(p_roles) WITH ORDINALITY AS r(e, ord)
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
--             joined with its status, time zone and team.
DROP TYPE IF EXISTS userbulk.account_update_result CASCADE;   -- the earlier one-row answer
DROP TYPE IF EXISTS userbulk.account_update_row CASCADE;
CREATE TYPE userbulk.account_update_row AS (
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
    is_two_factor_enabled   boolean
);

-- ISO 8601 in UTC with milliseconds. STABLE (to_char is), so it is
-- inlined into the statements that call it.
DROP FUNCTION IF EXISTS userbulk.account_view(userbulk.users, uuid[]);   -- no longer used
DROP FUNCTION IF EXISTS userbulk.user_models(uuid, uuid[]);              -- no longer used
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
