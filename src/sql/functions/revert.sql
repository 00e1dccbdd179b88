-- Undo a request (POST /users/requests/{requestId}/revert): put back, for
-- every user the request changed, the fields it changed, to their values
-- before it, as one new audited request (endpoint 'revert'), itself
-- revertible.
--
-- The audit rows of the endpoints name the fields in two vocabularies:
-- PUT /users, the SCIM writes and SCIM group membership write the seed's
-- camelCase names (email, firstName, phoneNumber, departmentId, roles,
-- ...), the POST its snake_case ones (first_name, phone1, team_id,
-- role_ids, ...). userbulk.revert_fields reads a user in both, so a
-- revert's own audit rows name the fields as the request it undoes did,
-- and a revert of a revert reads them the same way.
--
-- Not undone (a per-user not_revertible): a creation (before {}: SCIM
-- POST /Users and a Bulk POST; undo it with DELETE /Users/{id}) and a
-- deletion (after {}: the user is gone with its roles; its fields stay in
-- the audit row's before), or a field no vocabulary knows.

-- The fields p_keys names (its keys: an audit row's before or after), as
-- user u has them now, in the values the endpoints write (dates as
-- userbulk.iso answers them, roles as sorted ids); a key no vocabulary
-- knows is left out. p_roles: the user's role ids, sorted (null when no
-- key names roles). Written as JSON text and read once, as put_diff
-- (common.sql) writes the PUT's, and one expression over its arguments,
-- so that PostgreSQL inlines it into revert_request's pass: no call per
-- user, no object of every field built to keep three (its arguments must
-- stay plain columns: a subquery passed as p_roles, which is named twice,
-- would stop the inlining).
-- (Its earlier form, revert_fields(users, uuid[]), built an object of every
-- field for each user and was called once per user: the subquery it was
-- given as p_roles stopped the inlining. Dropped here, with no migration
-- of its own: nothing but this file ever called it.)
DROP FUNCTION IF EXISTS userbulk.revert_fields(userbulk.users, uuid[]);
CREATE OR REPLACE FUNCTION userbulk.revert_fields(p_keys jsonb, u userbulk.users, p_roles uuid[])
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT ('{' || concat_ws(',',
        CASE WHEN p_keys ? 'email' THEN '"email":' || coalesce(to_json(u.email)::text, 'null') END,
        CASE WHEN p_keys ? 'firstName' THEN '"firstName":' || coalesce(to_json(u.first_name)::text, 'null') END,
        CASE WHEN p_keys ? 'middleName' THEN '"middleName":' || coalesce(to_json(u.middle_name)::text, 'null') END,
        CASE WHEN p_keys ? 'lastName' THEN '"lastName":' || coalesce(to_json(u.last_name)::text, 'null') END,
        CASE WHEN p_keys ? 'displayName' THEN '"displayName":' || coalesce(to_json(u.display_name)::text, 'null') END,
        CASE WHEN p_keys ? 'phoneNumber' THEN '"phoneNumber":' || coalesce(to_json(u.phone1)::text, 'null') END,
        CASE WHEN p_keys ? 'phoneNumber2' THEN '"phoneNumber2":' || coalesce(to_json(u.phone2)::text, 'null') END,
        CASE WHEN p_keys ? 'departmentId' THEN '"departmentId":' || coalesce(to_json(u.department_code)::text, 'null') END,
        CASE WHEN p_keys ? 'locationId' THEN '"locationId":' || coalesce(to_json(u.location_code)::text, 'null') END,
        CASE WHEN p_keys ? 'programAdminRoleId'
             THEN '"programAdminRoleId":' || coalesce(to_json(u.program_admin_role_code)::text, 'null') END,
        CASE WHEN p_keys ? 'lockedOut' THEN '"lockedOut":' || coalesce(to_json(u.locked_out)::text, 'null') END,
        CASE WHEN p_keys ? 'roles' THEN '"roles":' || coalesce(to_json(p_roles)::text, 'null') END,
        CASE WHEN p_keys ? 'first_name' THEN '"first_name":' || coalesce(to_json(u.first_name)::text, 'null') END,
        CASE WHEN p_keys ? 'middle_name' THEN '"middle_name":' || coalesce(to_json(u.middle_name)::text, 'null') END,
        CASE WHEN p_keys ? 'last_name' THEN '"last_name":' || coalesce(to_json(u.last_name)::text, 'null') END,
        CASE WHEN p_keys ? 'name' THEN '"name":' || coalesce(to_json(u.display_name)::text, 'null') END,
        CASE WHEN p_keys ? 'phone1' THEN '"phone1":' || coalesce(to_json(u.phone1)::text, 'null') END,
        CASE WHEN p_keys ? 'phone2' THEN '"phone2":' || coalesce(to_json(u.phone2)::text, 'null') END,
        CASE WHEN p_keys ? 'login_name' THEN '"login_name":' || coalesce(to_json(u.login_name)::text, 'null') END,
        CASE WHEN p_keys ? 'employee_code' THEN '"employee_code":' || coalesce(to_json(u.employee_code)::text, 'null') END,
        CASE WHEN p_keys ? 'profile_pic' THEN '"profile_pic":' || coalesce(to_json(u.profile_pic)::text, 'null') END,
        CASE WHEN p_keys ? 'team_id' THEN '"team_id":' || coalesce(to_json(u.team_id)::text, 'null') END,
        CASE WHEN p_keys ? 'status_id' THEN '"status_id":' || coalesce(to_json(u.status_id)::text, 'null') END,
        CASE WHEN p_keys ? 'timezone_id' THEN '"timezone_id":' || coalesce(to_json(u.timezone_id)::text, 'null') END,
        CASE WHEN p_keys ? 'reset_password_state'
             THEN '"reset_password_state":' || coalesce(to_json(u.reset_password_state)::text, 'null') END,
        CASE WHEN p_keys ? 'activation_date'
             THEN '"activation_date":' || coalesce(to_json(userbulk.iso(u.activation_date))::text, 'null') END,
        CASE WHEN p_keys ? 'expiry_date'
             THEN '"expiry_date":' || coalesce(to_json(userbulk.iso(u.expiry_date))::text, 'null') END,
        CASE WHEN p_keys ? 'is_sso_user' THEN '"is_sso_user":' || coalesce(to_json(u.is_sso_user)::text, 'null') END,
        CASE WHEN p_keys ? 'is_employee' THEN '"is_employee":' || coalesce(to_json(u.is_employee)::text, 'null') END,
        CASE WHEN p_keys ? 'is_two_factor_enabled'
             THEN '"is_two_factor_enabled":' || coalesce(to_json(u.is_two_factor_enabled)::text, 'null') END,
        CASE WHEN p_keys ? 'role_ids' THEN '"role_ids":' || coalesce(to_json(p_roles)::text, 'null') END) || '}')::jsonb
$$;

-- The keys revert_fields knows: a key of an audit row outside them is a
-- field a revert cannot set.
CREATE OR REPLACE FUNCTION userbulk.revert_keys()
RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['email', 'firstName', 'middleName', 'lastName', 'displayName', 'phoneNumber',
                 'phoneNumber2', 'departmentId', 'locationId', 'programAdminRoleId', 'lockedOut',
                 'roles', 'first_name', 'middle_name', 'last_name', 'name', 'phone1', 'phone2',
                 'login_name', 'employee_code', 'profile_pic', 'team_id', 'status_id',
                 'timezone_id', 'reset_password_state', 'activation_date', 'expiry_date',
                 'is_sso_user', 'is_employee', 'is_two_factor_enabled', 'role_ids']
$$;

-- The answer: one row per user the request changed, in user id order
-- (idx from 0), or one row with idx -1 when the request cannot be
-- reverted at all (code not_found: no request of the account has this id
-- or trace id; ambiguous: the trace id names several).
--   version  the user's version after the revert (a dry run: would be),
--            else the one found; null when the user is gone
--   code, message  null when the user is put back (or already was);
--            conflict (changed since, without force), not_revertible,
--            not_found (deleted since), email_taken, unknown_code,
--            unknown_role, not_applied (an atomic revert of which a
--            user failed)
--   before, after  the fields the revert changes, as stored now and as
--            they become (its audit row's); null: nothing to change
--   request_id  the revert's own audit request, null when nothing written
--   reverts  the request reverted (audit_request.id)
SELECT userbulk.ensure_row_type('revert_result', $cols$
    idx        integer,
    user_id    uuid,
    user_name  text,
    version    bigint,
    code       text,
    message    text,
    before     jsonb,
    after      jsonb,
    request_id bigint,
    reverts    bigint
$cols$) \g /dev/null

-- The working set of one revert_request call: one element per user the
-- request changed, held in a variable of the call (userbulk.revert_work[]),
-- as put_users keeps its own (see there): no temporary table, whose
-- removal a session would have to commit at exit.
SELECT userbulk.ensure_row_type('revert_work', $cols$
    idx        integer,
    user_id    uuid,
    user_name  text,
    at         tid,
    version    bigint,
    target     jsonb,
    role_ids   uuid[],
    code       text,
    message    text,
    before     jsonb,
    after      jsonb
$cols$) \g /dev/null

-- p_request: the audit request's id (digits) or the trace id it names
-- (the X-Trace-Id the request was answered with). p_options: {"atomic":
-- revert only if every user can be, "dry_run": decide everything, apply
-- nothing, "force": put the fields back also on users changed since}.
-- The users are locked in id order before anything is read for a
-- decision; addresses are checked against the final state
-- (userbulk.email_taken); what collides at commit time is retried on
-- fresh data (userbulk.retried).
CREATE OR REPLACE FUNCTION userbulk.revert_request(
    p_account text, p_actor text, p_trace text, p_request text, p_options jsonb)
RETURNS SETOF userbulk.revert_result
LANGUAGE plpgsql
SET jit = off
AS $fn$
DECLARE
    v_account uuid;
    v_req     bigint;
    v_n       integer;
    v_dry     boolean := coalesce((p_options ->> 'dry_run')::boolean, false);
    v_atomic  boolean := coalesce((p_options ->> 'atomic')::boolean, false);
    v_force   boolean := coalesce((p_options ->> 'force')::boolean, false);
    v_apply   boolean := false;
    v_new     bigint;
    v_attempt integer := 0;
    v_failed  boolean;     -- a user cannot be put back
    v_taken   integer[];   -- the idx whose address is another user's
    -- the users whose address comes back, from and to (folded)
    v_moved   uuid[];
    v_from    text[];
    v_to      text[];
    -- each user the request changed: found where (at) and at which
    -- version, the request's before (target: what comes back) and the
    -- roles it names, if any; why it cannot be put back (code, message:
    -- null if it can); the fields the revert changes, as stored now and
    -- as they become (before, after: its audit row; null: nothing to
    -- change)
    v_work    userbulk.revert_work[];
    -- the request's audit rows, in user id order
    v_changes userbulk.audit_change[];
    -- the users of those rows locked (ids) and where (at), in id order
    v_ids     uuid[];
    v_at      tid[];
BEGIN
    SELECT a.id INTO v_account FROM userbulk.accounts a WHERE a.code = p_account;
    IF p_request ~ '^[0-9]{1,18}$' THEN
        SELECT r.id INTO v_req FROM userbulk.audit_request r
         WHERE r.id = p_request::bigint AND r.account_id = v_account;
        v_n := CASE WHEN v_req IS NULL THEN 0 ELSE 1 END;
    ELSE
        SELECT max(r.id), count(*) INTO v_req, v_n FROM userbulk.audit_request r
         WHERE r.trace_id = p_request AND r.account_id = v_account;
    END IF;
    IF v_n <> 1 THEN
        RETURN QUERY SELECT -1, NULL::uuid, NULL::text, NULL::bigint,
            CASE WHEN v_n = 0 THEN 'not_found' ELSE 'ambiguous' END,
            CASE WHEN v_n = 0 THEN 'no request of this account has this id'
                 ELSE format('the trace id names %s requests: name one by its number', v_n) END,
            NULL::jsonb, NULL::jsonb, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;

    -- The request's rows, read once: an audit row does not change, and
    -- the lock and the pass (at each attempt) take them from here. Through
    -- the request's index whatever the statistics say (the account a
    -- filter, as the change feed's page reads them: changes_page).
    v_changes := ARRAY(SELECT c FROM userbulk.audit_change c
                        WHERE c.request_id = v_req AND (c.account_id = v_account) IS TRUE
                        ORDER BY c.user_id);

    LOOP
        BEGIN
            -- (a variable keeps its value through a rollback to the
            -- savepoint: an attempt that failed after its insert leaves no
            -- request id behind)
            v_new := NULL;

            -- 1. The users the request changed, locked in id order before
            -- anything is read for a decision (each found by its id: a
            -- join, not id = ANY, whose recheck of a row another writer
            -- changed meanwhile sorts the whole array again); and where
            -- each locked version is (a locked row cannot move): the pass
            -- reads it there, by place, not by a second lookup of its id.
            SELECT coalesce(array_agg(l.id ORDER BY l.id), '{}'), coalesce(array_agg(l.at ORDER BY l.id), '{}')
              INTO v_ids, v_at
              FROM (SELECT u.id, u.ctid AS at FROM unnest(v_changes) c
                      JOIN userbulk.users u ON u.id = c.user_id AND u.account_id = v_account
                     ORDER BY u.id
                       FOR NO KEY UPDATE OF u) l;

            -- 2. One pass: each user against the request's row for it.
            -- Each user's decision and its fields now are computed once,
            -- in the inner query (OFFSET 0 keeps it whole: pulled up, each
            -- would be computed again wherever the outer row names it).
            -- The checks of codes and roles run only for the users whose
            -- row names them: one probe each of a small table.
            v_work := ARRAY(
            SELECT ROW(x.idx, x.user_id, x.user_name, x.at, x.version, x.before, x.target, x.code,
                   CASE x.code
                        WHEN 'not_revertible' THEN
                            CASE WHEN x.before = '{}'
                                 THEN 'the request created this user: delete it to undo (DELETE /scim/v2/Users/{id})'
                                 WHEN x.after = '{}'
                                 THEN 'the request deleted this user: it cannot be put back (its fields are in the audit trail)'
                                 ELSE 'the request changed a field a revert cannot set' END
                        WHEN 'not_found' THEN 'the user was deleted since'
                        WHEN 'conflict' THEN format(
                            'the user changed since the request (it is at version %s); ?force=true puts the fields back anyway',
                            x.version)
                        WHEN 'unknown_code' THEN 'a code the user had before is no longer configured for the account'
                        WHEN 'unknown_role' THEN 'a role the user had before no longer exists'
                   END,
                   CASE WHEN x.code IS NULL AND x.now IS DISTINCT FROM x.before THEN x.now END,
                   CASE WHEN x.code IS NULL AND x.now IS DISTINCT FROM x.before THEN x.before END
                   )::userbulk.revert_work
              FROM (
            SELECT (c.n - 1)::integer AS idx, c.user_id, u.user_name, u.ctid AS at, u.version,
                   c.before, c.after, r.target,
                   -- the user now, in the fields the request changed
                   userbulk.revert_fields(c.before, u, r.now) AS now,
                   CASE
                       WHEN c.before = '{}' OR c.after = '{}'
                            OR (c.before || c.after) - userbulk.revert_keys() <> '{}' THEN 'not_revertible'
                       WHEN u.id IS NULL THEN 'not_found'
                       WHEN NOT v_force
                            AND (userbulk.revert_fields(c.after, u, r.now) IS DISTINCT FROM c.after
                                 -- changed since by another audited request:
                                 -- the head of its history is not this one
                                 OR u.last_change IS DISTINCT FROM v_req) THEN 'conflict'
                       WHEN (c.before ->> 'departmentId' IS NOT NULL AND NOT EXISTS (
                                 SELECT 1 FROM userbulk.departments d
                                  WHERE d.account_id = v_account AND d.code = c.before ->> 'departmentId'))
                         OR (c.before ->> 'locationId' IS NOT NULL AND NOT EXISTS (
                                 SELECT 1 FROM userbulk.locations l
                                  WHERE l.account_id = v_account AND l.code = c.before ->> 'locationId'))
                         OR (c.before ->> 'programAdminRoleId' IS NOT NULL AND NOT EXISTS (
                                 SELECT 1 FROM userbulk.program_admin_roles p
                                  WHERE p.account_id = v_account AND p.code = c.before ->> 'programAdminRoleId'))
                         OR (c.before ->> 'team_id' IS NOT NULL AND NOT EXISTS (
                                 SELECT 1 FROM userbulk.teams t
                                  WHERE t.account_id = v_account AND t.id::text = c.before ->> 'team_id'))
                         OR (c.before ->> 'status_id' IS NOT NULL AND NOT EXISTS (
                                 SELECT 1 FROM userbulk.statuses s WHERE s.id::text = c.before ->> 'status_id'))
                         OR (c.before ->> 'timezone_id' IS NOT NULL AND NOT EXISTS (
                                 SELECT 1 FROM userbulk.timezones z WHERE z.id = c.before ->> 'timezone_id'))
                            THEN 'unknown_code'
                       WHEN r.target IS NOT NULL AND EXISTS (
                                 SELECT 1 FROM unnest(r.target) AS t(id)
                                  WHERE NOT EXISTS (SELECT 1 FROM userbulk.roles ro
                                                     WHERE ro.account_id = v_account AND ro.id = t.id)) THEN 'unknown_role'
                   END AS code
              FROM unnest(v_changes) WITH ORDINALITY AS c(request_id, account_id, user_id, before, after, prev_request, n)
              LEFT JOIN unnest(v_ids, v_at) AS l(id, at) ON l.id = c.user_id
              LEFT JOIN userbulk.users u ON u.ctid = l.at AND u.id = c.user_id AND u.account_id = v_account
             CROSS JOIN LATERAL (
                   -- the roles the user has (now) and had before (target),
                   -- for a row that names roles
                   SELECT CASE WHEN c.before ?| ARRAY['roles', 'role_ids'] THEN
                               ARRAY(SELECT ur.role_id FROM userbulk.user_roles ur
                                      WHERE ur.user_id = u.id AND ur.account_id = v_account
                                      ORDER BY ur.role_id) END AS now,
                          CASE WHEN c.before ?| ARRAY['roles', 'role_ids'] THEN
                               ARRAY(SELECT x::uuid FROM jsonb_array_elements_text(
                                         coalesce(c.before -> 'roles', c.before -> 'role_ids')) x
                                      ORDER BY 1) END AS target
                   OFFSET 0) r
            OFFSET 0) x
             ORDER BY x.idx);

            -- 3. Addresses against the final state.
            v_taken := ARRAY(
                SELECT f.idx FROM userbulk.email_taken(
                       ARRAY(SELECT x.idx FROM unnest(v_work) x
                              WHERE x.code IS NULL AND x.after ? 'email' ORDER BY x.idx),
                       ARRAY(SELECT x.user_id FROM unnest(v_work) x
                              WHERE x.code IS NULL AND x.after ? 'email' ORDER BY x.idx),
                       ARRAY(SELECT userbulk.fold_email(x.after ->> 'email') FROM unnest(v_work) x
                              WHERE x.code IS NULL AND x.after ? 'email' ORDER BY x.idx)) f);
            IF cardinality(v_taken) > 0 THEN
                v_work := ARRAY(
                    SELECT CASE WHEN w.idx = ANY (v_taken)
                                THEN ROW(w.idx, w.user_id, w.user_name, w.at, w.version, w.target,
                                         w.role_ids, 'email_taken',
                                         'the address it had before is another user''s now',
                                         NULL, NULL)::userbulk.revert_work
                                ELSE w END
                      FROM unnest(v_work) AS w
                     ORDER BY w.idx);
            END IF;

            v_failed := EXISTS (SELECT 1 FROM unnest(v_work) w WHERE w.code IS NOT NULL);
            v_apply := NOT v_dry AND NOT (v_atomic AND v_failed)
                       AND EXISTS (SELECT 1 FROM unnest(v_work) w WHERE w.code IS NULL AND w.after IS NOT NULL);
            IF v_apply THEN
                -- 4. The audit trail first: each user's row links to the
                -- head of its history, read where the row is locked (it has
                -- not moved since the pass read it), before the UPDATE
                -- below makes this revert the head.
                v_new := nextval('userbulk.audit_request_id_seq');
                INSERT INTO userbulk.audit_request (id, account_id, actor, trace_id, endpoint)
                     VALUES (v_new, v_account, p_actor, p_trace, 'revert');
                INSERT INTO userbulk.audit_change (request_id, account_id, user_id, before, after,
                                                   prev_request)
                     SELECT v_new, v_account, w.user_id, w.before, w.after, u.last_change
                       FROM unnest(v_work) w
                       JOIN userbulk.users u ON u.ctid = w.at AND u.id = w.user_id
                                            AND u.account_id = v_account
                      WHERE w.code IS NULL AND w.after IS NOT NULL;

                -- Every field the request changed, back; by place. (The
                -- addresses' entries move below, not by the row trigger of
                -- users: migration 023.)
                SELECT array_agg(w.user_id), array_agg(userbulk.fold_email(w.before ->> 'email')),
                       array_agg(userbulk.fold_email(w.after ->> 'email'))
                  INTO v_moved, v_from, v_to
                  FROM unnest(v_work) w
                 WHERE w.code IS NULL AND w.after ? 'email';
                IF v_moved IS NOT NULL THEN
                    PERFORM set_config('userbulk.writes_emails', 'on', true);
                END IF;
                UPDATE userbulk.users u SET
                       email = CASE WHEN t ? 'email' THEN t ->> 'email' ELSE u.email END,
                       first_name = CASE WHEN t ? 'firstName' THEN t ->> 'firstName'
                                         WHEN t ? 'first_name' THEN t ->> 'first_name' ELSE u.first_name END,
                       middle_name = CASE WHEN t ? 'middleName' THEN t ->> 'middleName'
                                          WHEN t ? 'middle_name' THEN t ->> 'middle_name' ELSE u.middle_name END,
                       last_name = CASE WHEN t ? 'lastName' THEN t ->> 'lastName'
                                        WHEN t ? 'last_name' THEN t ->> 'last_name' ELSE u.last_name END,
                       display_name = CASE WHEN t ? 'displayName' THEN t ->> 'displayName'
                                           WHEN t ? 'name' THEN t ->> 'name' ELSE u.display_name END,
                       phone1 = CASE WHEN t ? 'phoneNumber' THEN t ->> 'phoneNumber'
                                     WHEN t ? 'phone1' THEN t ->> 'phone1' ELSE u.phone1 END,
                       phone2 = CASE WHEN t ? 'phoneNumber2' THEN t ->> 'phoneNumber2'
                                     WHEN t ? 'phone2' THEN t ->> 'phone2' ELSE u.phone2 END,
                       department_code = CASE WHEN t ? 'departmentId' THEN t ->> 'departmentId' ELSE u.department_code END,
                       location_code = CASE WHEN t ? 'locationId' THEN t ->> 'locationId' ELSE u.location_code END,
                       program_admin_role_code = CASE WHEN t ? 'programAdminRoleId' THEN t ->> 'programAdminRoleId'
                                                      ELSE u.program_admin_role_code END,
                       locked_out = CASE WHEN t ? 'lockedOut' THEN (t ->> 'lockedOut')::boolean ELSE u.locked_out END,
                       login_name = CASE WHEN t ? 'login_name' THEN t ->> 'login_name' ELSE u.login_name END,
                       employee_code = CASE WHEN t ? 'employee_code' THEN t ->> 'employee_code' ELSE u.employee_code END,
                       profile_pic = CASE WHEN t ? 'profile_pic' THEN t ->> 'profile_pic' ELSE u.profile_pic END,
                       team_id = CASE WHEN t ? 'team_id' THEN (t ->> 'team_id')::uuid ELSE u.team_id END,
                       status_id = CASE WHEN t ? 'status_id' THEN (t ->> 'status_id')::uuid ELSE u.status_id END,
                       timezone_id = CASE WHEN t ? 'timezone_id' THEN t ->> 'timezone_id' ELSE u.timezone_id END,
                       reset_password_state = CASE WHEN t ? 'reset_password_state'
                                                   THEN (t ->> 'reset_password_state')::boolean
                                                   ELSE u.reset_password_state END,
                       activation_date = CASE WHEN t ? 'activation_date'
                                              THEN (t ->> 'activation_date')::timestamptz ELSE u.activation_date END,
                       expiry_date = CASE WHEN t ? 'expiry_date'
                                          THEN (t ->> 'expiry_date')::timestamptz ELSE u.expiry_date END,
                       is_sso_user = CASE WHEN t ? 'is_sso_user' THEN (t ->> 'is_sso_user')::boolean ELSE u.is_sso_user END,
                       is_employee = CASE WHEN t ? 'is_employee' THEN (t ->> 'is_employee')::boolean ELSE u.is_employee END,
                       is_two_factor_enabled = CASE WHEN t ? 'is_two_factor_enabled'
                                                    THEN (t ->> 'is_two_factor_enabled')::boolean
                                                    ELSE u.is_two_factor_enabled END,
                       version = u.version + 1, updated_at = now(), updated_by = p_actor,
                       last_change = v_new
                  FROM unnest(v_work) w CROSS JOIN LATERAL (SELECT w.after AS t) x
                 WHERE u.ctid = w.at AND u.id = w.user_id AND u.account_id = v_account
                   AND w.code IS NULL AND w.after IS NOT NULL;
                -- The addresses put back, in user_emails (migration 023,
                -- userbulk.move_addresses), which holds them unique.
                IF v_moved IS NOT NULL THEN
                    PERFORM userbulk.move_addresses(v_account, v_moved, v_from, v_to);
                END IF;

                DELETE FROM userbulk.user_roles ur
                 USING unnest(v_work) w
                 WHERE ur.user_id = w.user_id AND ur.account_id = v_account
                   AND w.code IS NULL AND w.after ?| ARRAY['roles', 'role_ids']
                   AND NOT (ur.role_id = ANY (w.role_ids));
                INSERT INTO userbulk.user_roles (account_id, user_id, role_id)
                     SELECT v_account, w.user_id, r.role_id
                       FROM unnest(v_work) w CROSS JOIN LATERAL unnest(w.role_ids) AS r(role_id)
                      WHERE w.code IS NULL AND w.after ?| ARRAY['roles', 'role_ids']
                ON CONFLICT DO NOTHING;
            END IF;
            EXIT;
        EXCEPTION
            WHEN OTHERS THEN
                v_attempt := v_attempt + 1;
                IF NOT userbulk.retried(SQLSTATE, v_attempt) THEN
                    RAISE;
                END IF;
        END;
    END LOOP;

    RETURN QUERY
        SELECT w.idx, w.user_id, w.user_name,
               w.version + CASE WHEN (v_apply OR (v_dry AND NOT (v_atomic AND v_failed)))
                                     AND w.code IS NULL AND w.after IS NOT NULL THEN 1 ELSE 0 END,
               CASE WHEN w.code IS NULL AND v_atomic AND NOT v_apply AND v_failed
                    THEN 'not_applied' ELSE w.code END,
               CASE WHEN w.code IS NULL AND v_atomic AND NOT v_apply AND v_failed
                    THEN 'could be put back, but not applied: another user of this atomic revert failed'
                    ELSE w.message END,
               w.before, w.after, v_new, v_req
          FROM unnest(v_work) w
         ORDER BY w.idx;
END
$fn$;
