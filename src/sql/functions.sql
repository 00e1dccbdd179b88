-- The statements of mod_userbulk, as SQL functions: each endpoint is one
-- call, so a request is one round trip and one transaction whatever its
-- size. (Re)applied by migrate.sh after the migrations; CREATE OR REPLACE
-- throughout.

-- What earlier versions used: PUT /users records as JSON of a composite
-- type, and per-user views. The records now come as typed arrays (see
-- put_users).
DROP TYPE IF EXISTS userbulk.put_item CASCADE;
DROP FUNCTION IF EXISTS userbulk.put_view(text, text, text, text, text, text, text, text, boolean, uuid[]);
DROP FUNCTION IF EXISTS userbulk.put_canon(text, text, text, text, text, text, text, text, boolean);
DROP FUNCTION IF EXISTS userbulk.put_digest(text, text, text, text, text, text, text, text, boolean);
DROP FUNCTION IF EXISTS userbulk.put_checks_pass(text, boolean, boolean, boolean, boolean, bigint);

DROP TYPE IF EXISTS userbulk.put_result CASCADE;
CREATE TYPE userbulk.put_result AS (
    idx      integer,
    user_id  uuid,
    version  bigint,
    errors   jsonb          -- [] when applied (or already as sent)
);

CREATE OR REPLACE FUNCTION userbulk.err(p_field text, p_code text, p_message text)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_array(jsonb_build_object('field', p_field, 'code', p_code,
                                                'message', p_message))
$$;

-- The roles a PUT /users record names, resolved in the account: one row
-- per entry, with its position and the role's id (NULL when none matches;
-- with both roleId and roleName, they must name the same role).
CREATE OR REPLACE FUNCTION userbulk.put_roles(p_account uuid, p_roles jsonb)
RETURNS TABLE (pos integer, role_id uuid) LANGUAGE sql STABLE AS $$
    SELECT (r.ord - 1)::integer,
           (SELECT ro.id FROM userbulk.roles ro
             WHERE ro.account_id = p_account
               AND CASE WHEN r.e ->> 'roleId' IS NOT NULL
                        THEN ro.id = (r.e ->> 'roleId')::uuid
                             AND (r.e ->> 'roleName' IS NULL OR ro.name = r.e ->> 'roleName')
                        ELSE ro.name = r.e ->> 'roleName' END)
      FROM jsonb_array_elements(p_roles) WITH ORDINALITY AS r(e, ord)
$$;

-- PUT /users: replace the updatable fields of the batch's users.
--
-- Each record is validated on its own against the directory; the ones that
-- pass are applied, the others change nothing. Rows are locked in id order
-- before anything is read for a decision, so concurrent batches queue
-- instead of deadlocking; what still collides at commit time (an email
-- taken meanwhile by a concurrent request, a deadlock through an index)
-- rolls back to the savepoint and is retried on fresh data.
--
-- The records come as one array per column (element k of every array is
-- the k-th record the module found valid), already checked for types,
-- formats and lengths: arrays cost PostgreSQL a tenth of what parsing the
-- same records as JSON does. p_roles holds each record's roles as JSON,
-- [{"roleId":..,"roleName":..}]; p_access_* are the read-only flags, null
-- when not sent; p_expected_version the version the client read, if sent.
--
-- p_options: {"atomic": apply only if every record passes, "failed":
-- some records already failed the module's own checks, "dry_run": decide
-- everything, apply nothing, "idem_key"/"body_hash": Idempotency-Key}.
-- An Idempotency-Key seen before answers the stored results again, or one
-- row with idx -1 when the body differs.
DROP FUNCTION IF EXISTS userbulk.put_users(text, text, text, jsonb);
DROP FUNCTION IF EXISTS userbulk.put_users(text, text, text, jsonb, jsonb);
DROP FUNCTION IF EXISTS userbulk.put_users(text, text, text, text, jsonb, integer[], text[], text[], text[], text[]);
CREATE OR REPLACE FUNCTION userbulk.put_users(
    p_account text, p_actor text, p_trace text, p_options jsonb,
    p_idx integer[], p_user_name text[], p_email text[], p_first_name text[],
    p_middle_name text[], p_last_name text[], p_phone text[], p_department text[],
    p_location text[], p_program_admin_role text[], p_locked_out boolean[],
    p_roles text[], p_access_automation boolean[], p_access_certification boolean[],
    p_access_complete boolean[], p_access_operational_matching boolean[],
    p_expected_version bigint[])
RETURNS SETOF userbulk.put_result
LANGUAGE plpgsql
SET jit = off       -- compiling costs more than a batch of 1000 rows runs
AS $fn$
DECLARE
    v_account  uuid;
    v_attempt  integer := 0;
    v_failed   integer;
    v_lock_all boolean := false;
    v_dry      boolean := coalesce((p_options ->> 'dry_run')::boolean, false);
    v_atomic   boolean := coalesce((p_options ->> 'atomic')::boolean, false);
    v_key      text := CASE WHEN v_dry THEN NULL ELSE p_options ->> 'idem_key' END;
    v_apply    boolean;
    v_seen     userbulk.idempotency;
    v_changing integer;
BEGIN
    SELECT a.id INTO v_account FROM userbulk.accounts a WHERE a.code = p_account;

    -- A retried request: answer what the first one answered. A concurrent
    -- first request with the same key is waited for by the insert.
    IF v_key IS NOT NULL THEN
        DELETE FROM userbulk.idempotency i
         WHERE i.account = p_account AND i.actor = p_actor AND i.key = v_key
           AND i.created_at < now() - interval '24 hours';
        INSERT INTO userbulk.idempotency (account, actor, key, body_hash)
             VALUES (p_account, p_actor, v_key, p_options ->> 'body_hash')
        ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            SELECT * INTO v_seen FROM userbulk.idempotency i
             WHERE i.account = p_account AND i.actor = p_actor AND i.key = v_key;
            IF v_seen.body_hash IS DISTINCT FROM p_options ->> 'body_hash' THEN
                RETURN QUERY SELECT -1, NULL::uuid, NULL::bigint,
                    userbulk.err('Idempotency-Key', 'idempotency_key_reused',
                                 'was used for a request with another body');
            ELSE
                RETURN QUERY SELECT r.* FROM jsonb_populate_recordset(NULL::userbulk.put_result,
                                                                      v_seen.results) r;
            END IF;
            RETURN;
        END IF;
    END IF;

    -- Working set of this call; created once per connection, emptied at
    -- commit, so no catalog churn per request.
    -- (A session that predates a schema upgrade has an older shape: drop it.)
    IF EXISTS (SELECT 1 FROM pg_attribute a
                WHERE a.attrelid = to_regclass('pg_temp.ub_put_work')
                  AND a.attname IN ('roles', 'expected_version', 'fast')) THEN
        DROP TABLE pg_temp.ub_put_work;
    END IF;
    IF to_regclass('pg_temp.ub_put_work') IS NULL THEN
        CREATE TEMP TABLE ub_put_work (
            idx                integer PRIMARY KEY,
            user_name          text,
            email              text,
            first_name         text,
            middle_name        text,
            last_name          text,
            phone              text,
            department         text,
            location           text,
            program_admin_role text,
            locked_out         boolean,
            user_id            uuid,
            role_ids           uuid[] NOT NULL DEFAULT '{}',
            errors             jsonb NOT NULL DEFAULT '[]',
            before             jsonb,   -- the fields the record changes, as
            after              jsonb,   -- stored and as sent; NULL: no change
            version            bigint
        ) ON COMMIT DELETE ROWS;
    END IF;

    LOOP
        BEGIN
            DELETE FROM ub_put_work;

            -- 1. After a concurrent change was seen (below), lock every user
            -- of the batch first, in key order, and decide under the locks.
            IF v_lock_all THEN
                PERFORM 1 FROM userbulk.users u
                 WHERE u.account_id = v_account AND u.user_name = ANY (p_user_name)
                 ORDER BY u.id
                   FOR NO KEY UPDATE;
            END IF;

            -- 2. One pass over the batch: find each user (another account's
            -- users do not exist here), check codes, read-only flags and
            -- roles (each distinct list of roles resolved once), and work
            -- out which fields the record changes: only those go to the
            -- audit trail, and a record changing nothing writes nothing.
            -- The error list is built only for a record that has one.
            INSERT INTO ub_put_work
            WITH spec AS MATERIALIZED (
                SELECT s.roles, r.ids, r.errs
                  FROM (SELECT DISTINCT x.roles FROM unnest(p_roles) AS x(roles)) s
                 CROSS JOIN LATERAL (
                       SELECT array_agg(DISTINCT q.role_id ORDER BY q.role_id)
                                  FILTER (WHERE q.role_id IS NOT NULL) AS ids,
                              jsonb_agg(jsonb_build_object(
                                  'field', format('roles[%s]', q.pos), 'code', 'unknown_role',
                                  'message', 'names no role of the account') ORDER BY q.pos)
                                  FILTER (WHERE q.role_id IS NULL) AS errs
                         FROM userbulk.put_roles(v_account, s.roles::jsonb) q) r)
            SELECT b.idx, b.user_name, b.email, b.first_name, b.middle_name, b.last_name,
                   b.phone, b.department, b.location, b.program_admin_role, b.locked_out,
                   u.id, coalesce(spec.ids, '{}'),
                   CASE WHEN u.id IS NULL
                        THEN userbulk.err('userName', 'not_found', 'no user with this userName in the account')
                        WHEN spec.errs IS NULL
                         AND (b.department IS NULL OR d.code IS NOT NULL)
                         AND (b.location IS NULL OR l.code IS NOT NULL)
                         AND (b.program_admin_role IS NULL OR p.code IS NOT NULL)
                         AND coalesce(b.expected_version = u.version, true)
                         AND coalesce(b.access_automation = u.access_automation, true)
                         AND coalesce(b.access_certification = u.access_certification, true)
                         AND coalesce(b.access_complete = u.access_complete, true)
                         AND coalesce(b.access_operational_matching = u.access_operational_matching, true)
                        THEN '[]'::jsonb
                        ELSE to_jsonb(array_remove(ARRAY[
                           CASE WHEN b.department IS NOT NULL AND d.code IS NULL
                               THEN jsonb_build_object('field', 'departmentId', 'code', 'unknown_code',
                                    'message', format('department %s is not configured for the account', b.department)) END,
                           CASE WHEN b.location IS NOT NULL AND l.code IS NULL
                               THEN jsonb_build_object('field', 'locationId', 'code', 'unknown_code',
                                    'message', format('location %s is not configured for the account', b.location)) END,
                           CASE WHEN b.program_admin_role IS NOT NULL AND p.code IS NULL
                               THEN jsonb_build_object('field', 'programAdminRoleId', 'code', 'unknown_code',
                                    'message', format('program admin role %s is not configured for the account', b.program_admin_role)) END,
                           CASE WHEN b.expected_version <> u.version
                               THEN jsonb_build_object('field', 'version', 'code', 'conflict',
                                    'message', format('the user changed since version %s was read; it is at version %s',
                                                      b.expected_version, u.version)) END,
                           CASE WHEN b.access_automation <> u.access_automation
                               THEN jsonb_build_object('field', 'userAccess.AccessAutomation', 'code', 'read_only',
                                    'message', 'is read-only: send the stored value or leave it out') END,
                           CASE WHEN b.access_certification <> u.access_certification
                               THEN jsonb_build_object('field', 'userAccess.AccessCertification', 'code', 'read_only',
                                    'message', 'is read-only: send the stored value or leave it out') END,
                           CASE WHEN b.access_complete <> u.access_complete
                               THEN jsonb_build_object('field', 'userAccess.AccessComplete', 'code', 'read_only',
                                    'message', 'is read-only: send the stored value or leave it out') END,
                           CASE WHEN b.access_operational_matching <> u.access_operational_matching
                               THEN jsonb_build_object('field', 'userAccess.AccessOperationalMatching', 'code', 'read_only',
                                    'message', 'is read-only: send the stored value or leave it out') END
                       ]::jsonb[], NULL)) || coalesce(spec.errs, '[]') END,
                   -- before and after: the fields the record changes, as stored and
                   -- as sent (written as JSON text and read once: about 7 ms less
                   -- per 1000 records than building both objects whole and
                   -- deleting the fields that stay)
                   CASE WHEN ch.changed THEN ('{' || concat_ws(',',
                         CASE WHEN u.email IS DISTINCT FROM b.email
                              THEN '"email":' || coalesce(to_json(u.email)::text, 'null') END,
                         CASE WHEN u.first_name IS DISTINCT FROM b.first_name
                              THEN '"firstName":' || coalesce(to_json(u.first_name)::text, 'null') END,
                         CASE WHEN u.middle_name IS DISTINCT FROM b.middle_name
                              THEN '"middleName":' || coalesce(to_json(u.middle_name)::text, 'null') END,
                         CASE WHEN u.last_name IS DISTINCT FROM b.last_name
                              THEN '"lastName":' || coalesce(to_json(u.last_name)::text, 'null') END,
                         CASE WHEN u.phone1 IS DISTINCT FROM b.phone
                              THEN '"phoneNumber":' || coalesce(to_json(u.phone1)::text, 'null') END,
                         CASE WHEN u.department_code IS DISTINCT FROM b.department
                              THEN '"departmentId":' || coalesce(to_json(u.department_code)::text, 'null') END,
                         CASE WHEN u.location_code IS DISTINCT FROM b.location
                              THEN '"locationId":' || coalesce(to_json(u.location_code)::text, 'null') END,
                         CASE WHEN u.program_admin_role_code IS DISTINCT FROM b.program_admin_role
                              THEN '"programAdminRoleId":' || coalesce(to_json(u.program_admin_role_code)::text, 'null') END,
                         CASE WHEN u.locked_out IS DISTINCT FROM b.locked_out
                              THEN '"lockedOut":' || coalesce(to_json(u.locked_out)::text, 'null') END,
                         CASE WHEN cur.ids IS DISTINCT FROM coalesce(spec.ids, '{}')
                              THEN '"roles":' || to_json(cur.ids)::text END) || '}')::jsonb END,
                   CASE WHEN ch.changed THEN ('{' || concat_ws(',',
                         CASE WHEN u.email IS DISTINCT FROM b.email
                              THEN '"email":' || coalesce(to_json(b.email)::text, 'null') END,
                         CASE WHEN u.first_name IS DISTINCT FROM b.first_name
                              THEN '"firstName":' || coalesce(to_json(b.first_name)::text, 'null') END,
                         CASE WHEN u.middle_name IS DISTINCT FROM b.middle_name
                              THEN '"middleName":' || coalesce(to_json(b.middle_name)::text, 'null') END,
                         CASE WHEN u.last_name IS DISTINCT FROM b.last_name
                              THEN '"lastName":' || coalesce(to_json(b.last_name)::text, 'null') END,
                         CASE WHEN u.phone1 IS DISTINCT FROM b.phone
                              THEN '"phoneNumber":' || coalesce(to_json(b.phone)::text, 'null') END,
                         CASE WHEN u.department_code IS DISTINCT FROM b.department
                              THEN '"departmentId":' || coalesce(to_json(b.department)::text, 'null') END,
                         CASE WHEN u.location_code IS DISTINCT FROM b.location
                              THEN '"locationId":' || coalesce(to_json(b.location)::text, 'null') END,
                         CASE WHEN u.program_admin_role_code IS DISTINCT FROM b.program_admin_role
                              THEN '"programAdminRoleId":' || coalesce(to_json(b.program_admin_role)::text, 'null') END,
                         CASE WHEN u.locked_out IS DISTINCT FROM b.locked_out
                              THEN '"lockedOut":' || coalesce(to_json(b.locked_out)::text, 'null') END,
                         CASE WHEN cur.ids IS DISTINCT FROM coalesce(spec.ids, '{}')
                              THEN '"roles":' || to_json(coalesce(spec.ids, '{}'))::text END) || '}')::jsonb END,
                   u.version
              FROM unnest(p_idx, p_user_name, p_email, p_first_name, p_middle_name, p_last_name,
                          p_phone, p_department, p_location, p_program_admin_role, p_locked_out,
                          p_roles, p_access_automation, p_access_certification, p_access_complete,
                          p_access_operational_matching, p_expected_version)
                   AS b(idx, user_name, email, first_name, middle_name, last_name, phone,
                        department, location, program_admin_role, locked_out, roles,
                        access_automation, access_certification, access_complete,
                        access_operational_matching, expected_version)
              LEFT JOIN spec ON spec.roles = b.roles
              LEFT JOIN userbulk.users u ON u.account_id = v_account AND u.user_name = b.user_name
              LEFT JOIN userbulk.departments d ON d.account_id = v_account AND d.code = b.department
              LEFT JOIN userbulk.locations l ON l.account_id = v_account AND l.code = b.location
              LEFT JOIN userbulk.program_admin_roles p
                     ON p.account_id = v_account AND p.code = b.program_admin_role
             CROSS JOIN LATERAL (
                   SELECT coalesce(array_agg(ur.role_id ORDER BY ur.role_id), '{}') AS ids
                     FROM userbulk.user_roles ur WHERE ur.user_id = u.id) cur
             CROSS JOIN LATERAL (
                   SELECT u.id IS NOT NULL
                          AND ((u.email, u.first_name, u.middle_name, u.last_name, u.phone1,
                                u.department_code, u.location_code, u.program_admin_role_code,
                                u.locked_out)
                               IS DISTINCT FROM
                               (b.email, b.first_name, b.middle_name, b.last_name, b.phone,
                                b.department, b.location, b.program_admin_role, b.locked_out)
                               OR cur.ids IS DISTINCT FROM coalesce(spec.ids, '{}')) AS changed) ch;

            -- 3. Lock the users the batch changes, in key order, so that
            -- concurrent batches queue instead of deadlocking. Unchanged
            -- records need no lock: reporting them unchanged is true of
            -- the order "this request, then the concurrent one". A locked
            -- row is read as it is now: if a user changed between the read
            -- above and its lock, decide again with every lock taken first.
            IF NOT v_lock_all THEN
                SELECT count(*) FILTER (WHERE l.moved), count(*) INTO v_failed, v_changing
                  FROM (SELECT u.version <> w.version AS moved
                          FROM userbulk.users u JOIN ub_put_work w ON w.user_id = u.id
                         WHERE w.errors = '[]' AND w.after IS NOT NULL
                         ORDER BY u.id
                           FOR NO KEY UPDATE OF u) l;
                IF v_failed > 0 THEN
                    -- Rolling back to the savepoint releases the locks just
                    -- taken, so locking all in key order cannot deadlock.
                    RAISE EXCEPTION 'a user changed meanwhile' USING ERRCODE = 'UBLCK';
                END IF;
            ELSE
                SELECT count(*) INTO v_changing FROM ub_put_work w
                 WHERE w.errors = '[]' AND w.after IS NOT NULL;
            END IF;
            -- A batch that changes nothing (a daily sync resending what is
            -- stored) is answered now: no email can conflict, nothing to write.
            v_apply := false;
            EXIT WHEN v_changing = 0;

            -- 4. Emails, against the final state of the batch: an address
            -- asked for is free when no other record asks for it and no
            -- user keeps it (a user keeps its address unless a valid
            -- record of the batch changes it). Failing a record gives its
            -- user's address back, so repeat until nothing changes. Only
            -- records that change their address need the check.
            LOOP
                UPDATE ub_put_work w
                   SET errors = w.errors || userbulk.err('email', 'email_taken',
                                    'is already the address of another user')
                 WHERE w.errors = '[]' AND w.after ? 'email'
                   AND (lower(w.email) IN (SELECT lower(o.email) FROM ub_put_work o
                                            WHERE o.errors = '[]' AND o.after ? 'email'
                                            GROUP BY 1 HAVING count(*) > 1)
                        OR EXISTS (SELECT 1 FROM userbulk.users u
                                    WHERE u.email_lower = lower(w.email)
                                      AND u.id <> w.user_id
                                      AND NOT EXISTS (SELECT 1 FROM ub_put_work o
                                                       WHERE o.user_id = u.id
                                                         AND o.errors = '[]'
                                                         AND o.after ? 'email')));
                GET DIAGNOSTICS v_failed = ROW_COUNT;
                EXIT WHEN v_failed = 0;
            END LOOP;

            -- 5. Apply, unless this is a dry run, or an atomic request of
            -- which a record failed. A dry run answers the versions a real
            -- run would give.
            v_apply := NOT v_dry AND NOT (v_atomic AND (
                           coalesce((p_options ->> 'failed')::boolean, false)
                           OR EXISTS (SELECT 1 FROM ub_put_work w WHERE w.errors <> '[]')));
            IF NOT v_apply THEN
                EXIT;
            END IF;
            -- The rows are locked and were checked at w.version: each
            -- becomes w.version + 1 (answered below, no second write here).
            UPDATE userbulk.users u
                   SET email = w.email, first_name = w.first_name,
                       middle_name = w.middle_name, last_name = w.last_name,
                       phone1 = w.phone, department_code = w.department,
                       location_code = w.location,
                       program_admin_role_code = w.program_admin_role,
                       locked_out = w.locked_out,
                       version = u.version + 1, updated_at = now(), updated_by = p_actor
                  FROM ub_put_work w
                 WHERE u.account_id = v_account AND u.id = w.user_id
                   AND w.errors = '[]' AND w.after IS NOT NULL;

            DELETE FROM userbulk.user_roles ur
             USING ub_put_work w
             WHERE ur.user_id = w.user_id AND ur.account_id = v_account
               AND w.errors = '[]' AND w.after ? 'roles'
               AND NOT (ur.role_id = ANY (w.role_ids));
            INSERT INTO userbulk.user_roles (account_id, user_id, role_id)
                 SELECT v_account, w.user_id, r.role_id
                   FROM ub_put_work w CROSS JOIN LATERAL unnest(w.role_ids) AS r(role_id)
                  WHERE w.errors = '[]' AND w.after ? 'roles'
            ON CONFLICT DO NOTHING;

            INSERT INTO userbulk.audit (account_id, actor, trace_id, endpoint, user_id, before, after)
                 SELECT v_account, p_actor, p_trace, 'PUT /users', w.user_id, w.before, w.after
                   FROM ub_put_work w
                  WHERE w.errors = '[]' AND w.after IS NOT NULL
                  ORDER BY w.idx;
            EXIT;
        EXCEPTION
            WHEN SQLSTATE 'UBLCK' THEN
                v_lock_all := true;
            WHEN unique_violation OR deadlock_detected OR serialization_failure THEN
                v_attempt := v_attempt + 1;
                IF v_attempt >= 5 THEN
                    RAISE;
                END IF;
        END;
    END LOOP;

    -- A record that changes its user answers the version it gives (a dry
    -- run: would give); the others the version they found.
    IF v_key IS NOT NULL THEN
        UPDATE userbulk.idempotency i
           SET results = (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                     'idx', w.idx, 'user_id', w.user_id,
                                     'version', w.version + CASE WHEN (v_apply OR v_dry)
                                         AND w.errors = '[]' AND w.after IS NOT NULL THEN 1 ELSE 0 END,
                                     'errors', w.errors) ORDER BY w.idx), '[]')
                            FROM ub_put_work w)
         WHERE i.account = p_account AND i.actor = p_actor AND i.key = v_key;
    END IF;
    RETURN QUERY
        SELECT w.idx, w.user_id,
               w.version + CASE WHEN (v_apply OR v_dry) AND w.errors = '[]' AND w.after IS NOT NULL
                                THEN 1 ELSE 0 END,
               w.errors
          FROM ub_put_work w ORDER BY w.idx;
END
$fn$;

-- ---------------------------------------------------------------------------
-- POST /api/v1/account/users/update

DROP TYPE IF EXISTS userbulk.account_update_result CASCADE;
CREATE TYPE userbulk.account_update_result AS (
    error  jsonb,       -- {"errorType","code","message"} when refused
    data   json         -- the targets' new state, in the seed's field order
);

CREATE OR REPLACE FUNCTION userbulk.iso(t timestamptz)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- The fields the POST API may change, under the names the module sends
-- them; comparing with the change tells what actually changes.
CREATE OR REPLACE FUNCTION userbulk.account_view(u userbulk.users, role_ids uuid[])
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'role_ids', to_jsonb(role_ids), 'team_id', u.team_id, 'status_id', u.status_id,
        'timezone_id', u.timezone_id, 'reset_password_state', u.reset_password_state,
        'activation_date', userbulk.iso(u.activation_date),
        'expiry_date', userbulk.iso(u.expiry_date),
        'is_sso_user', u.is_sso_user, 'is_employee', u.is_employee,
        'is_two_factor_enabled', u.is_two_factor_enabled,
        'name', u.display_name, 'first_name', u.first_name, 'middle_name', u.middle_name,
        'last_name', u.last_name, 'phone1', u.phone1, 'phone2', u.phone2,
        'email', u.email, 'login_name', u.login_name,
        'employee_code', u.employee_code, 'profile_pic', u.profile_pic)
$$;

-- The seed's user model of each id, in the order given; roles expanded
-- with their privileges. A constant number of scans whatever the count.
CREATE OR REPLACE FUNCTION userbulk.user_models(p_account uuid, p_ids uuid[])
RETURNS json LANGUAGE sql STABLE AS $$
    WITH target AS (
        SELECT t.id, t.ord FROM unnest(p_ids) WITH ORDINALITY AS t(id, ord)
    ), links AS (
        SELECT t.id AS user_id, l.role_id
          FROM target t
         CROSS JOIN LATERAL (SELECT ur.role_id FROM userbulk.user_roles ur
                              WHERE ur.user_id = t.id AND ur.account_id = p_account) l   -- by key
    ), role_count AS (
        SELECT ur.role_id, count(*) AS n
          FROM userbulk.user_roles ur
         WHERE ur.account_id = p_account
           AND ur.role_id IN (SELECT DISTINCT role_id FROM links)
         GROUP BY ur.role_id
    ), role_model AS MATERIALIZED (   -- built once, looked up per user
        SELECT r.id, r.name, json_build_object(
                   'userRoleId', r.id,
                   'userRoleName', r.name,
                   'noofUsers', coalesce(rc.n, 0),
                   'users', NULL,
                   'privileges', coalesce((
                       SELECT json_agg(json_build_object(
                                  'privilegeName', p.name,
                                  'privilegeId', p.id,
                                  'privilegeCode', p.code,
                                  'accessType', json_build_object('accessTypeName', at.name, 'accessTypeId', at.id),
                                  'accessLevel', json_build_object('accessLevelName', al.name, 'accessLevelId', al.id),
                                  'accessMode', json_build_object('accessModeName', am.name, 'accessModeId', am.id),
                                  'responseDescription', NULL) ORDER BY p.code)
                         FROM userbulk.role_privileges rp
                         JOIN userbulk.privileges p ON p.id = rp.privilege_id
                         JOIN userbulk.access_types at ON at.id = rp.access_type_id
                         JOIN userbulk.access_levels al ON al.id = rp.access_level_id
                         JOIN userbulk.access_modes am ON am.id = rp.access_mode_id
                        WHERE rp.role_id = r.id), '[]'::json),
                   'isLicensed', r.is_licensed,
                   'isDefault', r.is_default,
                   'responseDescription', NULL) AS model
          FROM userbulk.roles r
          LEFT JOIN role_count rc ON rc.role_id = r.id
         WHERE r.account_id = p_account AND r.id IN (SELECT DISTINCT role_id FROM links)
    )
    SELECT coalesce(json_agg(json_build_object(
               'userRoleModels', coalesce(urj.models, '[]'::json),
               'activationDateString', to_char(u.activation_date AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
               'expiryDateString', to_char(u.expiry_date AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
               'responseDescription', NULL,
               'userId', u.id,
               'name', u.display_name,
               'firstName', u.first_name,
               'middleName', u.middle_name,
               'lastName', u.last_name,
               'phoneNumber1', u.phone1,
               'phoneNumber2', u.phone2,
               'accountAccess', json_build_object(
                   'loginName', u.login_name,
                   'resetPasswordState', u.reset_password_state,
                   'activationDate', userbulk.iso(u.activation_date),
                   'expiryDate', userbulk.iso(u.expiry_date)),
               'status', CASE WHEN s.id IS NULL THEN NULL ELSE
                   json_build_object('id', s.id, 'name', s.name, 'code', s.code) END,
               'email', u.email,
               'timezone', CASE WHEN tz.id IS NULL THEN NULL ELSE
                   json_build_object('timezoneId', tz.id, 'timezoneName', tz.name, 'code', tz.code,
                                     'supportsDaylightSavingTime', tz.supports_dst,
                                     'daylightName', tz.daylight_name) END,
               'profilePic', u.profile_pic,
               'userIds', NULL,
               'isSSOUser', u.is_sso_user,
               'userRoles', coalesce(urj.ids, '[]'::json),
               'statusCode', s.code,
               'team', CASE WHEN tm.id IS NULL THEN NULL ELSE
                   json_build_object('accountOrgUnitId', tm.id, 'levelOrdinal', tm.level_ordinal,
                                     'accountOrgUnitName', tm.name, 'accountOrgUnitCode', tm.code,
                                     'parentAccountOrgUnitId', tm.parent_id,
                                     'subLevelUnits', NULL) END,
               'loginName', u.login_name,
               'statusDetails', CASE WHEN s.id IS NULL THEN NULL ELSE
                   json_build_object('statusId', s.status_id, 'uniqueId', s.id,
                                     'statusName', s.name, 'statusCode', s.code,
                                     'statusColor', s.color) END,
               'isEmployee', u.is_employee,
               'employeeCode', u.employee_code,
               'isTwoFactorEnabled', u.is_two_factor_enabled) ORDER BY t.ord), '[]'::json)
      FROM target t
      JOIN userbulk.users u ON u.id = t.id AND u.account_id = p_account
      LEFT JOIN userbulk.statuses s ON s.id = u.status_id
      LEFT JOIN userbulk.timezones tz ON tz.id = u.timezone_id
      LEFT JOIN userbulk.teams tm ON tm.id = u.team_id
     -- Per user, by key: the few role models are looked up, never joined
     -- against all targets at once.
     CROSS JOIN LATERAL (
           SELECT json_agg(rm.model ORDER BY rm.name, rm.id) AS models,
                  json_agg(rm.id ORDER BY rm.name, rm.id) AS ids
             FROM userbulk.user_roles ur
             JOIN role_model rm ON rm.id = ur.role_id
            WHERE ur.user_id = u.id) urj
$$;

CREATE OR REPLACE FUNCTION userbulk.refusal(p_type text, p_code text, p_message text)
RETURNS userbulk.account_update_result LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW(jsonb_build_object('errorType', p_type, 'code', p_code, 'message', p_message),
               NULL)::userbulk.account_update_result
$$;

-- POST /api/v1/account/users/update: one change applied to every target
-- alike, all or nothing. p_change holds only what the caller sent (see
-- src/account_request.c): "targets" and the fields to set.
CREATE OR REPLACE FUNCTION userbulk.account_update(
    p_account text, p_actor text, p_trace text, p_change jsonb)
RETURNS userbulk.account_update_result
LANGUAGE plpgsql
SET timezone = 'UTC'     -- a date without an offset is UTC
SET jit = off
AS $fn$
DECLARE
    v_account  uuid;
    v_ids      uuid[];
    v_roles    uuid[];
    v_status   uuid[];
    v_set      jsonb;
    v_bad      text;
    v_attempt  integer := 0;
BEGIN
    SELECT a.id INTO v_account FROM userbulk.accounts a WHERE a.code = p_account;
    SELECT array_agg(x::uuid ORDER BY o) INTO v_ids
      FROM jsonb_array_elements_text(p_change -> 'targets') WITH ORDINALITY AS t(x, o);

    LOOP
        BEGIN
            -- Lock the targets in key order, then check they all exist here.
            PERFORM 1 FROM userbulk.users u
             WHERE u.account_id = v_account AND u.id = ANY (v_ids)
             ORDER BY u.id
               FOR NO KEY UPDATE;
            SELECT string_agg(t.id::text, ', ' ORDER BY t.o) INTO v_bad
              FROM unnest(v_ids) WITH ORDINALITY AS t(id, o)
             WHERE NOT EXISTS (SELECT 1 FROM userbulk.users u
                                WHERE u.account_id = v_account AND u.id = t.id);
            IF v_bad IS NOT NULL THEN
                RETURN userbulk.refusal('NotFound', 'not_found',
                    format('no user with id %s in the account', left(v_bad, 400)));
            END IF;

            -- If-Match: the one target must still be at the version read.
            IF p_change ? 'if_match' AND EXISTS (
                   SELECT 1 FROM userbulk.users u
                    WHERE u.id = v_ids[1] AND u.version <> (p_change ->> 'if_match')::bigint) THEN
                RETURN userbulk.refusal('Conflict', 'conflict',
                    format('If-Match: the user is at version %s, not %s',
                           (SELECT u.version FROM userbulk.users u WHERE u.id = v_ids[1]),
                           p_change ->> 'if_match'));
            END IF;

            -- What the change sets, in the names of account_view.
            v_set := p_change - 'targets' - 'role_ids' - 'status_uuid' - 'status_code'
                     - 'status_num' - 'activation_date' - 'expiry_date' - 'if_match';

            IF p_change ? 'role_ids' THEN
                SELECT coalesce(array_agg(DISTINCT x::uuid ORDER BY x::uuid), '{}') INTO v_roles
                  FROM jsonb_array_elements_text(p_change -> 'role_ids') AS x;
                SELECT string_agg(r::text, ', ') INTO v_bad FROM unnest(v_roles) AS r
                 WHERE NOT EXISTS (SELECT 1 FROM userbulk.roles ro
                                    WHERE ro.account_id = v_account AND ro.id = r);
                IF v_bad IS NOT NULL THEN
                    RETURN userbulk.refusal('ValidationError', 'unknown_role',
                        format('userRoleIds: no role %s in the account', left(v_bad, 400)));
                END IF;
                v_set := v_set || jsonb_build_object('role_ids', to_jsonb(v_roles));
            END IF;

            IF p_change ? 'team_id' AND NOT EXISTS (
                   SELECT 1 FROM userbulk.teams tm
                    WHERE tm.account_id = v_account AND tm.id = (p_change ->> 'team_id')::uuid) THEN
                RETURN userbulk.refusal('ValidationError', 'unknown_team',
                    format('teamId: no team %s in the account', p_change ->> 'team_id'));
            END IF;

            IF p_change ?| ARRAY['status_uuid', 'status_code', 'status_num'] THEN
                SELECT array_agg(DISTINCT s.id) INTO v_status
                  FROM userbulk.statuses s
                 WHERE s.id = (p_change ->> 'status_uuid')::uuid
                    OR s.code = p_change ->> 'status_code'
                    OR s.status_id = (p_change ->> 'status_num')::integer;
                IF (p_change ? 'status_uuid' AND NOT EXISTS (SELECT 1 FROM userbulk.statuses s WHERE s.id = (p_change ->> 'status_uuid')::uuid))
                   OR (p_change ? 'status_code' AND NOT EXISTS (SELECT 1 FROM userbulk.statuses s WHERE s.code = p_change ->> 'status_code'))
                   OR (p_change ? 'status_num' AND NOT EXISTS (SELECT 1 FROM userbulk.statuses s WHERE s.status_id = (p_change ->> 'status_num')::integer)) THEN
                    RETURN userbulk.refusal('ValidationError', 'unknown_status',
                        'status: status.id, statusCode or statusDetails.statusId names no status');
                END IF;
                IF cardinality(v_status) > 1 THEN
                    RETURN userbulk.refusal('ValidationError', 'conflicting_fields',
                        'status: status.id, statusCode and statusDetails.statusId name different statuses');
                END IF;
                v_set := v_set || jsonb_build_object('status_id', v_status[1]);
            END IF;

            IF p_change ? 'timezone_id' AND NOT EXISTS (
                   SELECT 1 FROM userbulk.timezones tz WHERE tz.id = p_change ->> 'timezone_id') THEN
                RETURN userbulk.refusal('ValidationError', 'unknown_timezone',
                    format('timezone.timezoneId: no time zone %s', p_change ->> 'timezone_id'));
            END IF;

            IF p_change ? 'email' AND EXISTS (
                   SELECT 1 FROM userbulk.users u
                    WHERE u.email_lower = lower(p_change ->> 'email') AND u.id <> v_ids[1]) THEN
                RETURN userbulk.refusal('ValidationError', 'email_taken',
                    'email: is already the address of another user');
            END IF;

            IF p_change ? 'activation_date' THEN
                v_set := v_set || jsonb_build_object('activation_date',
                             userbulk.iso((p_change ->> 'activation_date')::timestamptz));
            END IF;
            IF p_change ? 'expiry_date' THEN
                v_set := v_set || jsonb_build_object('expiry_date',
                             userbulk.iso((p_change ->> 'expiry_date')::timestamptz));
            END IF;
            SELECT string_agg(u.id::text, ', ') INTO v_bad
              FROM userbulk.users u
             WHERE u.account_id = v_account AND u.id = ANY (v_ids)
               AND coalesce((v_set ->> 'expiry_date')::timestamptz, CASE WHEN v_set ? 'expiry_date' THEN NULL ELSE u.expiry_date END)
                 < coalesce((v_set ->> 'activation_date')::timestamptz, CASE WHEN v_set ? 'activation_date' THEN NULL ELSE u.activation_date END);
            IF v_bad IS NOT NULL THEN
                RETURN userbulk.refusal('ValidationError', 'expiry_before_activation',
                    format('accountAccess.expiryDate: would be before the activation date for %s', left(v_bad, 400)));
            END IF;

            -- Apply where something changes; record before and after.
            -- (MATERIALIZED: each user's view is built once, not once per
            -- field compared.)
            WITH cur AS MATERIALIZED (
                SELECT u.id, userbulk.account_view(u, r.ids) AS old
                  FROM userbulk.users u
                 CROSS JOIN LATERAL (
                       SELECT coalesce(array_agg(ur.role_id ORDER BY ur.role_id), '{}') AS ids
                         FROM userbulk.user_roles ur
                        WHERE ur.user_id = u.id) r          -- by key, not by role
                 WHERE u.account_id = v_account AND u.id = ANY (v_ids)
            ), diff AS (
                SELECT c.id,
                       (SELECT jsonb_object_agg(k.key, c.old -> k.key) FROM jsonb_each(v_set) k
                         WHERE k.value IS DISTINCT FROM c.old -> k.key) AS before,
                       (SELECT jsonb_object_agg(k.key, k.value) FROM jsonb_each(v_set) k
                         WHERE k.value IS DISTINCT FROM c.old -> k.key) AS after
                  FROM cur c
            ), upd AS (
                UPDATE userbulk.users u SET
                       display_name = CASE WHEN d.after ? 'name' THEN d.after ->> 'name' ELSE u.display_name END,
                       first_name = CASE WHEN d.after ? 'first_name' THEN d.after ->> 'first_name' ELSE u.first_name END,
                       middle_name = CASE WHEN d.after ? 'middle_name' THEN d.after ->> 'middle_name' ELSE u.middle_name END,
                       last_name = CASE WHEN d.after ? 'last_name' THEN d.after ->> 'last_name' ELSE u.last_name END,
                       phone1 = CASE WHEN d.after ? 'phone1' THEN d.after ->> 'phone1' ELSE u.phone1 END,
                       phone2 = CASE WHEN d.after ? 'phone2' THEN d.after ->> 'phone2' ELSE u.phone2 END,
                       email = CASE WHEN d.after ? 'email' THEN d.after ->> 'email' ELSE u.email END,
                       login_name = CASE WHEN d.after ? 'login_name' THEN d.after ->> 'login_name' ELSE u.login_name END,
                       employee_code = CASE WHEN d.after ? 'employee_code' THEN d.after ->> 'employee_code' ELSE u.employee_code END,
                       profile_pic = CASE WHEN d.after ? 'profile_pic' THEN d.after ->> 'profile_pic' ELSE u.profile_pic END,
                       team_id = CASE WHEN d.after ? 'team_id' THEN (d.after ->> 'team_id')::uuid ELSE u.team_id END,
                       status_id = CASE WHEN d.after ? 'status_id' THEN (d.after ->> 'status_id')::uuid ELSE u.status_id END,
                       timezone_id = CASE WHEN d.after ? 'timezone_id' THEN d.after ->> 'timezone_id' ELSE u.timezone_id END,
                       reset_password_state = CASE WHEN d.after ? 'reset_password_state' THEN (d.after ->> 'reset_password_state')::boolean ELSE u.reset_password_state END,
                       activation_date = CASE WHEN d.after ? 'activation_date' THEN (d.after ->> 'activation_date')::timestamptz ELSE u.activation_date END,
                       expiry_date = CASE WHEN d.after ? 'expiry_date' THEN (d.after ->> 'expiry_date')::timestamptz ELSE u.expiry_date END,
                       is_sso_user = CASE WHEN d.after ? 'is_sso_user' THEN (d.after ->> 'is_sso_user')::boolean ELSE u.is_sso_user END,
                       is_employee = CASE WHEN d.after ? 'is_employee' THEN (d.after ->> 'is_employee')::boolean ELSE u.is_employee END,
                       is_two_factor_enabled = CASE WHEN d.after ? 'is_two_factor_enabled' THEN (d.after ->> 'is_two_factor_enabled')::boolean ELSE u.is_two_factor_enabled END,
                       version = u.version + 1, updated_at = now(), updated_by = p_actor
                  FROM diff d
                 WHERE u.id = d.id AND u.account_id = v_account AND d.after IS NOT NULL
                RETURNING u.id
            ), del AS (
                DELETE FROM userbulk.user_roles ur USING diff d
                 WHERE ur.user_id = d.id AND ur.account_id = v_account
                   AND d.after ? 'role_ids' AND NOT (ur.role_id = ANY (v_roles))
                RETURNING 1
            ), ins AS (
                INSERT INTO userbulk.user_roles (account_id, user_id, role_id)
                SELECT v_account, d.id, r FROM diff d CROSS JOIN unnest(v_roles) AS r
                 WHERE d.after ? 'role_ids'
                ON CONFLICT DO NOTHING
                RETURNING 1
            )
            INSERT INTO userbulk.audit (account_id, actor, trace_id, endpoint, user_id, before, after)
            SELECT v_account, p_actor, p_trace, 'POST /api/v1/account/users/update', d.id, d.before, d.after
              FROM diff d
             WHERE d.after IS NOT NULL;   -- upd, del and ins run regardless (data-modifying WITH)
            EXIT;
        EXCEPTION
            WHEN unique_violation OR deadlock_detected OR serialization_failure THEN
                v_attempt := v_attempt + 1;
                IF v_attempt >= 5 THEN
                    RAISE;
                END IF;
        END;
    END LOOP;

    RETURN ROW(NULL, userbulk.user_models(v_account, v_ids))::userbulk.account_update_result;
END
$fn$;

-- ---------------------------------------------------------------------------
-- GET /users?userName=...: the users named, as PUT /users takes them, with
-- the read-only fields and the version; in the order named, unknown (and
-- other accounts') users left out.
CREATE OR REPLACE FUNCTION userbulk.get_users(p_account text, p_names jsonb)
RETURNS json LANGUAGE sql STABLE AS $$
    SELECT coalesce(json_agg(json_build_object(
               'userName', u.user_name,
               'name', json_build_object('firstName', u.first_name,
                                         'middleName', u.middle_name,
                                         'lastName', u.last_name),
               'email', u.email,
               'phoneNumber', u.phone1,
               'roles', coalesce((SELECT json_agg(json_build_object('roleId', r.id, 'roleName', r.name)
                                                  ORDER BY r.name, r.id)
                                    FROM userbulk.user_roles ur
                                    JOIN userbulk.roles r ON r.id = ur.role_id
                                   WHERE ur.user_id = u.id), '[]'::json),
               'userAccess', json_build_object(
                   'AccessAutomation', u.access_automation,
                   'AccessCertification', u.access_certification,
                   'AccessComplete', u.access_complete,
                   'AccessOperationalMatching', u.access_operational_matching),
               'departmentId', u.department_code,
               'locationId', u.location_code,
               'programAdminRoleId', u.program_admin_role_code,
               'lockedOut', u.locked_out,
               'version', u.version) ORDER BY n.ord), '[]'::json)
      FROM jsonb_array_elements_text(p_names) WITH ORDINALITY AS n(name, ord)
      JOIN userbulk.users u
        ON u.account_id = (SELECT a.id FROM userbulk.accounts a WHERE a.code = p_account)
       AND u.user_name = n.name
$$;
