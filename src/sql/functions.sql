-- The statements of mod_userbulk, as SQL functions: each endpoint is one
-- call, in one transaction whatever its size (the module wraps it in BEGIN
-- and COMMIT: src/store.h). (Re)applied by migrate.sh after the
-- migrations; CREATE OR REPLACE throughout.

-- What earlier versions used: PUT /users records as JSON of a composite
-- type, and per-user views. The records now come as typed arrays (see
-- put_users).
DROP TYPE IF EXISTS userbulk.put_item CASCADE;
DROP FUNCTION IF EXISTS userbulk.put_view(text, text, text, text, text, text, text, text, boolean, uuid[]);

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
-- everything, apply nothing, "idem_key"/"body_hash": Idempotency-Key and
-- the fingerprint of the request it names (endpoint, atomic, dry run and
-- body, hashed by the module)}.
-- An Idempotency-Key seen before answers the stored results again, or one
-- row with idx -1 when the fingerprint differs. A dry run keeps its key
-- too: replayed, it answers the same dry-run answer; the same key on a real
-- run is another request.
DROP FUNCTION IF EXISTS userbulk.put_users(text, text, text, jsonb);
DROP FUNCTION IF EXISTS userbulk.put_users(text, text, text, jsonb, jsonb);
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
    v_key      text := p_options ->> 'idem_key';
    v_apply    boolean;
    v_seen     userbulk.idempotency;
    v_changing integer;
    v_done     integer;
    v_locked   integer;
    v_request  bigint;     -- the request's row in userbulk.audit_request
BEGIN
    SELECT a.id INTO v_account FROM userbulk.accounts a WHERE a.code = p_account;

    -- A retried request: answer what the first one answered. A concurrent
    -- first request with the same key is waited for by the insert.
    IF v_key IS NOT NULL THEN
        -- Keys expire after 24 hours. Each keyed request adds one row and
        -- removes up to 100 expired ones, oldest first through the index on
        -- created_at, so the table holds about a day of keys and a backlog
        -- only shrinks; SKIP LOCKED: concurrent requests do not queue on
        -- each other's batch.
        DELETE FROM userbulk.idempotency i
         WHERE (i.account, i.actor, i.key) IN (
               SELECT o.account, o.actor, o.key FROM userbulk.idempotency o
                WHERE o.created_at < now() - interval '24 hours'
                ORDER BY o.created_at LIMIT 100
                  FOR UPDATE SKIP LOCKED);
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
                                 'was used for another request (body or options differ)');
            ELSE
                RETURN QUERY SELECT r.* FROM jsonb_populate_recordset(NULL::userbulk.put_result,
                                                                      v_seen.results) r;
            END IF;
            RETURN;
        END IF;
    END IF;

    -- Working set of this call; created once per connection, emptied at
    -- commit, so no catalog churn per request.
    -- It must be this function's own: put_users runs with its owner's
    -- rights (privileges.sql), and a table of that name made beforehand
    -- by the session's role could carry triggers that would run with them.
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                WHERE c.oid = to_regclass('pg_temp.ub_put_work')
                  AND pg_catalog.pg_get_userbyid(c.relowner) <> current_user) THEN
        RAISE EXCEPTION 'put_users: pg_temp.ub_put_work belongs to another role'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- (A session that predates a schema upgrade has an older shape: drop it.)
    IF to_regclass('pg_temp.ub_put_work') IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM pg_attribute a
            WHERE a.attrelid = to_regclass('pg_temp.ub_put_work') AND a.attname = 'at') THEN
        DROP TABLE pg_temp.ub_put_work;
    END IF;
    IF to_regclass('pg_temp.ub_put_work') IS NULL THEN
        CREATE TEMP TABLE ub_put_work (
            idx                integer NOT NULL,   -- no index: only ever read whole
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
            at                 tid,     -- where the user's row was read
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
                   u.id, u.ctid, coalesce(spec.ids, '{}'),
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
                   -- in key order straight from the index: no sort per user
                   SELECT ARRAY(SELECT ur.role_id FROM userbulk.user_roles ur
                                 WHERE ur.user_id = u.id ORDER BY ur.role_id) AS ids
                   OFFSET 0) cur   -- read once, not at each use
             CROSS JOIN LATERAL (
                   SELECT u.id IS NOT NULL
                          AND ((u.email, u.first_name, u.middle_name, u.last_name, u.phone1,
                                u.department_code, u.location_code, u.program_admin_role_code,
                                u.locked_out)
                               IS DISTINCT FROM
                               (b.email, b.first_name, b.middle_name, b.last_name, b.phone,
                                b.department, b.location, b.program_admin_role, b.locked_out)
                               OR cur.ids IS DISTINCT FROM coalesce(spec.ids, '{}')) AS changed
                   OFFSET 0) ch;

            -- 3. A batch that changes nothing (a daily sync resending what
            -- is stored) is answered now: no email can conflict, nothing to
            -- lock or write.
            SELECT count(*) INTO v_changing FROM ub_put_work w
             WHERE w.errors = '[]' AND w.after IS NOT NULL;
            v_apply := false;
            EXIT WHEN v_changing = 0;

            -- 4. Emails, against the final state of the batch: an address
            -- asked for is free when no other record asks for it and no
            -- user keeps it (a user keeps its address unless a valid
            -- record of the batch changes it). Only records that change
            -- their address need the check. A record fails when another
            -- asks for the same address, when a user the batch does not
            -- change holds it, or when the user holding it has a record
            -- that fails (that user keeps its address): failures spread
            -- back along "asks for the address held by", from the first
            -- ones. One statement walks those chains, reaching each record
            -- once (a user has at most one record here: the module fails a
            -- userName named twice), so the cost grows with the batch, not
            -- with the length of its chains. A ring of swaps that no
            -- failure reaches succeeds.
            WITH RECURSIVE want AS MATERIALIZED (
                SELECT w.idx, w.user_id, userbulk.fold_email(w.email) AS addr
                  FROM ub_put_work w
                 WHERE w.errors = '[]' AND w.after ? 'email'
            ), edge AS MATERIALIZED (
                -- the user holding the address a record asks for, if not its own
                SELECT x.idx, x.user_id, x.addr, u.id AS holder
                  FROM want x
                  LEFT JOIN userbulk.users u ON u.email_lower = x.addr AND u.id <> x.user_id
            ), lost (idx, user_id) AS (
                SELECT e.idx, e.user_id FROM edge e
                 WHERE e.addr IN (SELECT x.addr FROM want x GROUP BY 1 HAVING count(*) > 1)
                    OR (e.holder IS NOT NULL
                        AND NOT EXISTS (SELECT 1 FROM want x WHERE x.user_id = e.holder))
                UNION
                SELECT e.idx, e.user_id FROM lost l JOIN edge e ON e.holder = l.user_id
            )
            UPDATE ub_put_work w
               SET errors = w.errors || userbulk.err('email', 'email_taken',
                                'is already the address of another user')
              FROM (SELECT DISTINCT l.idx FROM lost l) f
             WHERE w.idx = f.idx;

            -- 5. Lock the users the batch changes, in key order, so that
            -- concurrent batches queue instead of deadlocking, and apply
            -- in the same statement, unless this is a dry run or an atomic
            -- request of which a record failed (those take the same locks
            -- and apply nothing; a dry run answers the versions a real run
            -- would give). Unchanged records need no lock: reporting them
            -- unchanged is true of the order "this request, then the
            -- concurrent one". Each row is found where the pass above read
            -- it (a TID scan, no second index lookup) and locked as it is
            -- now: if a user changed since, its row is no longer there or
            -- is at another version. Then nothing of this attempt stays
            -- (UBLCK rolls back to the savepoint, which also releases the
            -- locks, so locking all in key order next cannot deadlock) and
            -- everything is decided again under the locks. A locked row
            -- stays where it is until this statement updates it.
            v_apply := NOT v_dry AND NOT (v_atomic AND (
                           coalesce((p_options ->> 'failed')::boolean, false)
                           OR EXISTS (SELECT 1 FROM ub_put_work w WHERE w.errors <> '[]')));
            IF v_apply THEN
                WITH locked AS MATERIALIZED (
                    SELECT u.ctid AS at, u.id, u.version <> w.version AS moved
                      FROM ub_put_work w JOIN userbulk.users u ON u.ctid = w.at AND u.id = w.user_id
                     WHERE w.errors = '[]' AND w.after IS NOT NULL
                     ORDER BY u.id
                       FOR NO KEY UPDATE OF u),
                changed AS (
                    -- each becomes w.version + 1 (answered below, no second
                    -- write of the work table)
                    UPDATE userbulk.users u
                       SET email = w.email, first_name = w.first_name,
                           middle_name = w.middle_name, last_name = w.last_name,
                           phone1 = w.phone, department_code = w.department,
                           location_code = w.location,
                           program_admin_role_code = w.program_admin_role,
                           locked_out = w.locked_out,
                           version = u.version + 1, updated_at = now(), updated_by = p_actor
                      FROM locked l JOIN ub_put_work w ON w.user_id = l.id
                     WHERE u.ctid = l.at AND u.id = l.id AND NOT l.moved
                       AND u.account_id = v_account
                    RETURNING 1)
                SELECT count(*) FILTER (WHERE l.moved), count(*), (SELECT count(*) FROM changed)
                  INTO v_failed, v_locked, v_done
                  FROM locked l;
            ELSE
                SELECT count(*) FILTER (WHERE l.moved), count(*) INTO v_failed, v_locked
                  FROM (SELECT u.version <> w.version AS moved
                          FROM ub_put_work w JOIN userbulk.users u ON u.ctid = w.at AND u.id = w.user_id
                         WHERE w.errors = '[]' AND w.after IS NOT NULL
                         ORDER BY u.id
                           FOR NO KEY UPDATE OF u) l;
            END IF;
            -- a row no longer where it was read moved too
            v_failed := v_failed + (SELECT count(*) FROM ub_put_work w
                                     WHERE w.errors = '[]' AND w.after IS NOT NULL) - v_locked;
            IF v_failed > 0 THEN
                RAISE EXCEPTION 'a user changed meanwhile' USING ERRCODE = 'UBLCK';
            END IF;
            IF NOT v_apply THEN
                EXIT;
            END IF;
            IF v_done <> v_locked THEN
                -- every locked row, unmoved, is updated: anything else is a bug
                RAISE EXCEPTION 'put_users: % of % locked users updated', v_done, v_locked;
            END IF;

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

            -- The audit trail: the request once, each changed user's fields.
            IF v_done > 0 THEN
                INSERT INTO userbulk.audit_request (account_id, actor, trace_id, endpoint)
                     VALUES (v_account, p_actor, p_trace, 'PUT /users')
                  RETURNING id INTO v_request;
                INSERT INTO userbulk.audit_change (request_id, account_id, user_id, before, after)
                     SELECT v_request, v_account, w.user_id, w.before, w.after
                       FROM ub_put_work w
                      WHERE w.errors = '[]' AND w.after IS NOT NULL;
            END IF;
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
-- Retention of the audit trail, which the module never prunes; e.g. nightly:
--   SELECT userbulk.prune_audit(now() - interval '400 days');
-- Deletes the requests made before p_before with all their rows (what the
-- view userbulk.audit shows of them) and answers how many rows of the view
-- went. A request's rows are found through audit_change's BRIN summary:
-- old requests have the lowest numbers.
CREATE OR REPLACE FUNCTION userbulk.prune_audit(p_before timestamptz)
RETURNS bigint
LANGUAGE plpgsql
AS $fn$
DECLARE
    v_ids  bigint[];
    v_rows bigint;
BEGIN
    WITH gone AS (DELETE FROM userbulk.audit_request r WHERE r.at < p_before RETURNING r.id)
    SELECT array_agg(g.id) INTO v_ids FROM gone g;
    IF v_ids IS NULL THEN
        RETURN 0;
    END IF;
    DELETE FROM userbulk.audit_change c
     WHERE c.request_id = ANY (v_ids)
       AND c.request_id BETWEEN (SELECT min(x) FROM unnest(v_ids) x)
                            AND (SELECT max(x) FROM unnest(v_ids) x);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$fn$;

-- ---------------------------------------------------------------------------
-- POST /api/v1/account/users/update

-- The answer is rows, not one JSON document: the module writes the seed's
-- JSON from them (src/account_update.c). A role is shared by many targets,
-- so its userRoleModels entry (privileges, noofUsers) is built once here,
-- not once per user.
--   refused:  one row, error = {"errorType","code","message"};
--   applied:  first one row per role any target holds (role_id and
--             role_model, the entry in the seed's field order), in
--             userRoleModels order (name, then id); then one row per target
--             in the order of userIds: user_id, role_ids (in no particular
--             order) and its fields, joined with its status, time zone and
--             team.
DROP TYPE IF EXISTS userbulk.account_update_result CASCADE;   -- the earlier one-row answer
DROP TYPE IF EXISTS userbulk.account_update_row CASCADE;
CREATE TYPE userbulk.account_update_row AS (
    error                   jsonb,
    role_id                 uuid,
    role_model              json,
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

CREATE OR REPLACE FUNCTION userbulk.refusal(p_type text, p_code text, p_message text)
RETURNS userbulk.account_update_row LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW(jsonb_build_object('errorType', p_type, 'code', p_code, 'message', p_message),
               NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
               NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
               NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::userbulk.account_update_row
$$;

-- POST /api/v1/account/users/update: one change applied to every target
-- alike, all or nothing. p_change holds only what the caller sent (see
-- src/account_request.c): "targets" and the fields to set.
DROP FUNCTION IF EXISTS userbulk.account_update(text, text, text, jsonb);
CREATE OR REPLACE FUNCTION userbulk.account_update(
    p_account text, p_actor text, p_trace text, p_change jsonb)
RETURNS SETOF userbulk.account_update_row
LANGUAGE plpgsql
SET timezone = 'UTC'     -- a date without an offset is UTC
SET jit = off
AS $fn$
DECLARE
    v_account  uuid;
    v_ids      uuid[];
    v_roles    uuid[];
    v_used     uuid[];
    v_status   uuid[];
    v_set      jsonb;      -- what the change sets, by column (audit names)
    v_new      userbulk.users;   -- the same, typed
    v_at       tid[];      -- where the targets are, once locked
    v_bad      text;
    v_attempt  integer := 0;
    v_rows     bigint;
    -- which fields the change sets
    s_roles boolean; s_team boolean; s_status boolean; s_tz boolean;
    s_reset boolean; s_act boolean; s_exp boolean; s_sso boolean;
    s_emp boolean; s_2fa boolean; s_name boolean; s_first boolean;
    s_middle boolean; s_last boolean; s_phone1 boolean; s_phone2 boolean;
    s_email boolean; s_login boolean; s_code boolean; s_pic boolean;
BEGIN
    SELECT a.id INTO v_account FROM userbulk.accounts a WHERE a.code = p_account;
    SELECT array_agg(x::uuid ORDER BY o) INTO v_ids
      FROM jsonb_array_elements_text(p_change -> 'targets') WITH ORDINALITY AS t(x, o);

    LOOP
        BEGIN
            -- Lock the targets in key order (concurrent requests queue
            -- instead of deadlocking), then check they all exist here. A
            -- locked row stays where it is until this transaction changes
            -- it: what follows reads the targets by place (ctid), without
            -- looking each up by key again.
            SELECT coalesce(array_agg(l.at), '{}') INTO v_at FROM (
                SELECT u.ctid AS at FROM userbulk.users u
                 WHERE u.account_id = v_account AND u.id = ANY (v_ids)
                 ORDER BY u.id
                   FOR NO KEY UPDATE) l;
            IF cardinality(v_at) < coalesce(cardinality(v_ids), 0) THEN
                SELECT string_agg(t.id::text, ', ' ORDER BY t.o) INTO v_bad
                  FROM unnest(v_ids) WITH ORDINALITY AS t(id, o)
                 WHERE NOT EXISTS (SELECT 1 FROM userbulk.users u
                                    WHERE u.account_id = v_account AND u.id = t.id);
                RETURN NEXT userbulk.refusal('NotFound', 'not_found',
                    format('no user with id %s in the account', left(v_bad, 400)));
                RETURN;
            END IF;

            -- If-Match: the one target must still be at the version read.
            IF p_change ? 'if_match' AND EXISTS (
                   SELECT 1 FROM userbulk.users u
                    WHERE u.id = v_ids[1] AND u.version <> (p_change ->> 'if_match')::bigint) THEN
                RETURN NEXT userbulk.refusal('Conflict', 'conflict',
                    format('If-Match: the user is at version %s, not %s',
                           (SELECT u.version FROM userbulk.users u WHERE u.id = v_ids[1]),
                           p_change ->> 'if_match'));
                RETURN;
            END IF;

            -- What the change sets, under the users table's column names
            -- (but "name" for display_name, and "role_ids"): the names of
            -- the audit trail.
            v_set := p_change - 'targets' - 'role_ids' - 'status_uuid' - 'status_code'
                     - 'status_num' - 'activation_date' - 'expiry_date' - 'if_match';

            IF p_change ? 'role_ids' THEN
                SELECT coalesce(array_agg(DISTINCT x::uuid ORDER BY x::uuid), '{}') INTO v_roles
                  FROM jsonb_array_elements_text(p_change -> 'role_ids') AS x;
                SELECT string_agg(r::text, ', ') INTO v_bad FROM unnest(v_roles) AS r
                 WHERE NOT EXISTS (SELECT 1 FROM userbulk.roles ro
                                    WHERE ro.account_id = v_account AND ro.id = r);
                IF v_bad IS NOT NULL THEN
                    RETURN NEXT userbulk.refusal('ValidationError', 'unknown_role',
                        format('userRoleIds: no role %s in the account', left(v_bad, 400)));
                    RETURN;
                END IF;
                v_set := v_set || jsonb_build_object('role_ids', to_jsonb(v_roles));
            END IF;

            IF p_change ? 'team_id' AND NOT EXISTS (
                   SELECT 1 FROM userbulk.teams tm
                    WHERE tm.account_id = v_account AND tm.id = (p_change ->> 'team_id')::uuid) THEN
                RETURN NEXT userbulk.refusal('ValidationError', 'unknown_team',
                    format('teamId: no team %s in the account', p_change ->> 'team_id'));
                RETURN;
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
                    RETURN NEXT userbulk.refusal('ValidationError', 'unknown_status',
                        'status: status.id, statusCode or statusDetails.statusId names no status');
                    RETURN;
                END IF;
                IF cardinality(v_status) > 1 THEN
                    RETURN NEXT userbulk.refusal('ValidationError', 'conflicting_fields',
                        'status: status.id, statusCode and statusDetails.statusId name different statuses');
                    RETURN;
                END IF;
                v_set := v_set || jsonb_build_object('status_id', v_status[1]);
            END IF;

            IF p_change ? 'timezone_id' AND NOT EXISTS (
                   SELECT 1 FROM userbulk.timezones tz WHERE tz.id = p_change ->> 'timezone_id') THEN
                RETURN NEXT userbulk.refusal('ValidationError', 'unknown_timezone',
                    format('timezone.timezoneId: no time zone %s', p_change ->> 'timezone_id'));
                RETURN;
            END IF;

            IF p_change ? 'email' AND EXISTS (
                   SELECT 1 FROM userbulk.users u
                    WHERE u.email_lower = userbulk.fold_email(p_change ->> 'email') AND u.id <> v_ids[1]) THEN
                RETURN NEXT userbulk.refusal('ValidationError', 'email_taken',
                    'email: is already the address of another user');
                RETURN;
            END IF;

            -- Dates are kept to the millisecond, as they are answered.
            IF p_change ? 'activation_date' THEN
                v_set := v_set || jsonb_build_object('activation_date',
                             userbulk.iso((p_change ->> 'activation_date')::timestamptz));
            END IF;
            IF p_change ? 'expiry_date' THEN
                v_set := v_set || jsonb_build_object('expiry_date',
                             userbulk.iso((p_change ->> 'expiry_date')::timestamptz));
            END IF;
            IF v_set ?| ARRAY['activation_date', 'expiry_date'] THEN
                SELECT string_agg(u.id::text, ', ') INTO v_bad
                  FROM userbulk.users u
                 WHERE u.ctid = ANY (v_at) AND u.account_id = v_account
                   AND coalesce((v_set ->> 'expiry_date')::timestamptz, CASE WHEN v_set ? 'expiry_date' THEN NULL ELSE u.expiry_date END)
                     < coalesce((v_set ->> 'activation_date')::timestamptz, CASE WHEN v_set ? 'activation_date' THEN NULL ELSE u.activation_date END);
                IF v_bad IS NOT NULL THEN
                    RETURN NEXT userbulk.refusal('ValidationError', 'expiry_before_activation',
                        format('accountAccess.expiryDate: would be before the activation date for %s', left(v_bad, 400)));
                    RETURN;
                END IF;
            END IF;

            -- The change, typed: compared column by column with each
            -- target, no JSON built per user except the audit's.
            v_new := jsonb_populate_record(NULL::userbulk.users,
                         v_set || jsonb_build_object('display_name', v_set -> 'name'));
            s_roles := v_set ? 'role_ids';       s_team := v_set ? 'team_id';
            s_status := v_set ? 'status_id';     s_tz := v_set ? 'timezone_id';
            s_reset := v_set ? 'reset_password_state';
            s_act := v_set ? 'activation_date';  s_exp := v_set ? 'expiry_date';
            s_sso := v_set ? 'is_sso_user';      s_emp := v_set ? 'is_employee';
            s_2fa := v_set ? 'is_two_factor_enabled';
            s_name := v_set ? 'name';            s_first := v_set ? 'first_name';
            s_middle := v_set ? 'middle_name';   s_last := v_set ? 'last_name';
            s_phone1 := v_set ? 'phone1';        s_phone2 := v_set ? 'phone2';
            s_email := v_set ? 'email';          s_login := v_set ? 'login_name';
            s_code := v_set ? 'employee_code';   s_pic := v_set ? 'profile_pic';

            -- Apply where something changes (a target already as asked
            -- writes nothing: no version bump, no audit row); record the
            -- fields that change, before and after.
            WITH cur AS MATERIALIZED (
                SELECT u.*, u.ctid AS at, r.ids AS role_ids,
                       s_roles AND r.ids IS DISTINCT FROM v_roles AS c_roles,
                       s_team AND u.team_id IS DISTINCT FROM v_new.team_id AS c_team,
                       s_status AND u.status_id IS DISTINCT FROM v_new.status_id AS c_status,
                       s_tz AND u.timezone_id IS DISTINCT FROM v_new.timezone_id AS c_tz,
                       s_reset AND u.reset_password_state IS DISTINCT FROM v_new.reset_password_state AS c_reset,
                       -- dates as answered, to the millisecond
                       s_act AND userbulk.iso(u.activation_date) IS DISTINCT FROM v_set ->> 'activation_date' AS c_act,
                       s_exp AND userbulk.iso(u.expiry_date) IS DISTINCT FROM v_set ->> 'expiry_date' AS c_exp,
                       s_sso AND u.is_sso_user IS DISTINCT FROM v_new.is_sso_user AS c_sso,
                       s_emp AND u.is_employee IS DISTINCT FROM v_new.is_employee AS c_emp,
                       s_2fa AND u.is_two_factor_enabled IS DISTINCT FROM v_new.is_two_factor_enabled AS c_2fa,
                       s_name AND u.display_name IS DISTINCT FROM v_new.display_name AS c_name,
                       s_first AND u.first_name IS DISTINCT FROM v_new.first_name AS c_first,
                       s_middle AND u.middle_name IS DISTINCT FROM v_new.middle_name AS c_middle,
                       s_last AND u.last_name IS DISTINCT FROM v_new.last_name AS c_last,
                       s_phone1 AND u.phone1 IS DISTINCT FROM v_new.phone1 AS c_phone1,
                       s_phone2 AND u.phone2 IS DISTINCT FROM v_new.phone2 AS c_phone2,
                       s_email AND u.email IS DISTINCT FROM v_new.email AS c_email,
                       s_login AND u.login_name IS DISTINCT FROM v_new.login_name AS c_login,
                       s_code AND u.employee_code IS DISTINCT FROM v_new.employee_code AS c_code,
                       s_pic AND u.profile_pic IS DISTINCT FROM v_new.profile_pic AS c_pic
                  FROM userbulk.users u
                  LEFT JOIN (   -- the targets' roles, only when the change sets them
                       SELECT ur.user_id, array_agg(ur.role_id ORDER BY ur.role_id) AS ids
                         FROM userbulk.user_roles ur
                        WHERE s_roles AND ur.user_id = ANY (v_ids)   -- the targets: of the account
                        GROUP BY ur.user_id) g ON g.user_id = u.id
                 CROSS JOIN LATERAL (SELECT coalesce(g.ids, '{}') AS ids) r
                 WHERE u.ctid = ANY (v_at) AND u.account_id = v_account
            ), diff AS MATERIALIZED (
                -- ('{}' || x and x || '{}' copy nothing: only changed
                -- fields cost.)
                SELECT c.id, c.at, c.role_ids, c.c_roles,
                       '{}'::jsonb
                       || CASE WHEN c.c_roles THEN jsonb_build_object('role_ids', to_jsonb(c.role_ids)) ELSE '{}' END
                       || CASE WHEN c.c_team THEN jsonb_build_object('team_id', c.team_id) ELSE '{}' END
                       || CASE WHEN c.c_status THEN jsonb_build_object('status_id', c.status_id) ELSE '{}' END
                       || CASE WHEN c.c_tz THEN jsonb_build_object('timezone_id', c.timezone_id) ELSE '{}' END
                       || CASE WHEN c.c_reset THEN jsonb_build_object('reset_password_state', c.reset_password_state) ELSE '{}' END
                       || CASE WHEN c.c_act THEN jsonb_build_object('activation_date', userbulk.iso(c.activation_date)) ELSE '{}' END
                       || CASE WHEN c.c_exp THEN jsonb_build_object('expiry_date', userbulk.iso(c.expiry_date)) ELSE '{}' END
                       || CASE WHEN c.c_sso THEN jsonb_build_object('is_sso_user', c.is_sso_user) ELSE '{}' END
                       || CASE WHEN c.c_emp THEN jsonb_build_object('is_employee', c.is_employee) ELSE '{}' END
                       || CASE WHEN c.c_2fa THEN jsonb_build_object('is_two_factor_enabled', c.is_two_factor_enabled) ELSE '{}' END
                       || CASE WHEN c.c_name THEN jsonb_build_object('name', c.display_name) ELSE '{}' END
                       || CASE WHEN c.c_first THEN jsonb_build_object('first_name', c.first_name) ELSE '{}' END
                       || CASE WHEN c.c_middle THEN jsonb_build_object('middle_name', c.middle_name) ELSE '{}' END
                       || CASE WHEN c.c_last THEN jsonb_build_object('last_name', c.last_name) ELSE '{}' END
                       || CASE WHEN c.c_phone1 THEN jsonb_build_object('phone1', c.phone1) ELSE '{}' END
                       || CASE WHEN c.c_phone2 THEN jsonb_build_object('phone2', c.phone2) ELSE '{}' END
                       || CASE WHEN c.c_email THEN jsonb_build_object('email', c.email) ELSE '{}' END
                       || CASE WHEN c.c_login THEN jsonb_build_object('login_name', c.login_name) ELSE '{}' END
                       || CASE WHEN c.c_code THEN jsonb_build_object('employee_code', c.employee_code) ELSE '{}' END
                       || CASE WHEN c.c_pic THEN jsonb_build_object('profile_pic', c.profile_pic) ELSE '{}' END
                       AS before,
                       -- a target that changes in every field the change
                       -- sets (the usual case) gets the change as it is
                       CASE WHEN (c.c_roles, c.c_team, c.c_status, c.c_tz, c.c_reset, c.c_act, c.c_exp,
                                  c.c_sso, c.c_emp, c.c_2fa, c.c_name, c.c_first, c.c_middle, c.c_last,
                                  c.c_phone1, c.c_phone2, c.c_email, c.c_login, c.c_code, c.c_pic)
                                 = (s_roles, s_team, s_status, s_tz, s_reset, s_act, s_exp,
                                    s_sso, s_emp, s_2fa, s_name, s_first, s_middle, s_last,
                                    s_phone1, s_phone2, s_email, s_login, s_code, s_pic)
                            THEN v_set ELSE
                       '{}'::jsonb
                       || CASE WHEN c.c_roles THEN jsonb_build_object('role_ids', v_set -> 'role_ids') ELSE '{}' END
                       || CASE WHEN c.c_team THEN jsonb_build_object('team_id', v_set -> 'team_id') ELSE '{}' END
                       || CASE WHEN c.c_status THEN jsonb_build_object('status_id', v_set -> 'status_id') ELSE '{}' END
                       || CASE WHEN c.c_tz THEN jsonb_build_object('timezone_id', v_set -> 'timezone_id') ELSE '{}' END
                       || CASE WHEN c.c_reset THEN jsonb_build_object('reset_password_state', v_set -> 'reset_password_state') ELSE '{}' END
                       || CASE WHEN c.c_act THEN jsonb_build_object('activation_date', v_set -> 'activation_date') ELSE '{}' END
                       || CASE WHEN c.c_exp THEN jsonb_build_object('expiry_date', v_set -> 'expiry_date') ELSE '{}' END
                       || CASE WHEN c.c_sso THEN jsonb_build_object('is_sso_user', v_set -> 'is_sso_user') ELSE '{}' END
                       || CASE WHEN c.c_emp THEN jsonb_build_object('is_employee', v_set -> 'is_employee') ELSE '{}' END
                       || CASE WHEN c.c_2fa THEN jsonb_build_object('is_two_factor_enabled', v_set -> 'is_two_factor_enabled') ELSE '{}' END
                       || CASE WHEN c.c_name THEN jsonb_build_object('name', v_set -> 'name') ELSE '{}' END
                       || CASE WHEN c.c_first THEN jsonb_build_object('first_name', v_set -> 'first_name') ELSE '{}' END
                       || CASE WHEN c.c_middle THEN jsonb_build_object('middle_name', v_set -> 'middle_name') ELSE '{}' END
                       || CASE WHEN c.c_last THEN jsonb_build_object('last_name', v_set -> 'last_name') ELSE '{}' END
                       || CASE WHEN c.c_phone1 THEN jsonb_build_object('phone1', v_set -> 'phone1') ELSE '{}' END
                       || CASE WHEN c.c_phone2 THEN jsonb_build_object('phone2', v_set -> 'phone2') ELSE '{}' END
                       || CASE WHEN c.c_email THEN jsonb_build_object('email', v_set -> 'email') ELSE '{}' END
                       || CASE WHEN c.c_login THEN jsonb_build_object('login_name', v_set -> 'login_name') ELSE '{}' END
                       || CASE WHEN c.c_code THEN jsonb_build_object('employee_code', v_set -> 'employee_code') ELSE '{}' END
                       || CASE WHEN c.c_pic THEN jsonb_build_object('profile_pic', v_set -> 'profile_pic') ELSE '{}' END
                       END AS after
                  FROM cur c
                 WHERE c.c_roles OR c.c_team OR c.c_status OR c.c_tz OR c.c_reset OR c.c_act
                    OR c.c_exp OR c.c_sso OR c.c_emp OR c.c_2fa OR c.c_name OR c.c_first
                    OR c.c_middle OR c.c_last OR c.c_phone1 OR c.c_phone2 OR c.c_email
                    OR c.c_login OR c.c_code OR c.c_pic
            ), upd AS (
                -- A field the change sets takes its value on every changed
                -- target (those where it already had it keep the same value).
                UPDATE userbulk.users u SET
                       display_name = CASE WHEN s_name THEN v_new.display_name ELSE u.display_name END,
                       first_name = CASE WHEN s_first THEN v_new.first_name ELSE u.first_name END,
                       middle_name = CASE WHEN s_middle THEN v_new.middle_name ELSE u.middle_name END,
                       last_name = CASE WHEN s_last THEN v_new.last_name ELSE u.last_name END,
                       phone1 = CASE WHEN s_phone1 THEN v_new.phone1 ELSE u.phone1 END,
                       phone2 = CASE WHEN s_phone2 THEN v_new.phone2 ELSE u.phone2 END,
                       email = CASE WHEN s_email THEN v_new.email ELSE u.email END,
                       login_name = CASE WHEN s_login THEN v_new.login_name ELSE u.login_name END,
                       employee_code = CASE WHEN s_code THEN v_new.employee_code ELSE u.employee_code END,
                       profile_pic = CASE WHEN s_pic THEN v_new.profile_pic ELSE u.profile_pic END,
                       team_id = CASE WHEN s_team THEN v_new.team_id ELSE u.team_id END,
                       status_id = CASE WHEN s_status THEN v_new.status_id ELSE u.status_id END,
                       timezone_id = CASE WHEN s_tz THEN v_new.timezone_id ELSE u.timezone_id END,
                       reset_password_state = CASE WHEN s_reset THEN v_new.reset_password_state ELSE u.reset_password_state END,
                       activation_date = CASE WHEN s_act THEN v_new.activation_date ELSE u.activation_date END,
                       expiry_date = CASE WHEN s_exp THEN v_new.expiry_date ELSE u.expiry_date END,
                       is_sso_user = CASE WHEN s_sso THEN v_new.is_sso_user ELSE u.is_sso_user END,
                       is_employee = CASE WHEN s_emp THEN v_new.is_employee ELSE u.is_employee END,
                       is_two_factor_enabled = CASE WHEN s_2fa THEN v_new.is_two_factor_enabled ELSE u.is_two_factor_enabled END,
                       version = u.version + 1, updated_at = now(), updated_by = p_actor
                  FROM diff d
                 -- by place, not by key: the row is locked, it has not
                 -- moved since cur read it
                 WHERE u.ctid = d.at AND u.id = d.id
                RETURNING u.id, u.ctid AS at
            ), del AS (
                DELETE FROM userbulk.user_roles ur USING diff d
                 WHERE d.c_roles AND ur.user_id = d.id AND ur.account_id = v_account
                   AND NOT (ur.role_id = ANY (v_roles))
                RETURNING 1
            ), ins AS (
                -- Only the roles a target lacks, read under the target's
                -- lock. (No ON CONFLICT: its speculative insertion costs a
                -- third of the insert. Every writer of user_roles locks the
                -- user first, and a row that appeared anyway is a
                -- unique_violation, retried below on fresh data.)
                INSERT INTO userbulk.user_roles (account_id, user_id, role_id)
                SELECT v_account, d.id, r FROM diff d CROSS JOIN unnest(v_roles) AS r
                 WHERE d.c_roles AND NOT (r = ANY (d.role_ids))
                RETURNING 1
            ), req AS (
                -- the audit trail: the request once, if it changes anyone
                INSERT INTO userbulk.audit_request (account_id, actor, trace_id, endpoint)
                SELECT v_account, p_actor, p_trace, 'POST /api/v1/account/users/update'
                 WHERE EXISTS (SELECT 1 FROM diff)
                RETURNING id
            ), aud AS (
                -- and each changed target's fields
                INSERT INTO userbulk.audit_change (request_id, account_id, user_id, before, after)
                SELECT q.id, v_account, d.id, d.before, d.after
                  FROM diff d CROSS JOIN req q
                RETURNING 1
            )
            -- upd, del, ins, req and aud run regardless (data-modifying WITH).
            -- Where the targets are now: a changed one moved to its new
            -- version.
            SELECT array_agg(coalesce(n.at, c.at)) INTO v_at
              FROM cur c LEFT JOIN upd n ON n.id = c.id;
            EXIT;
        EXCEPTION
            WHEN unique_violation OR deadlock_detected OR serialization_failure THEN
                v_attempt := v_attempt + 1;
                IF v_attempt >= 5 THEN
                    RAISE;
                END IF;
        END;
    END LOOP;

    -- The answer. First the roles the targets hold, each built once.
    IF s_roles THEN
        v_used := v_roles;          -- every target holds exactly these now
    ELSE
        SELECT coalesce(array_agg(DISTINCT ur.role_id), '{}') INTO v_used
          FROM userbulk.user_roles ur
         WHERE ur.user_id = ANY (v_ids) AND ur.account_id = v_account;
    END IF;
    RETURN QUERY
        SELECT NULL::jsonb, r.id, json_build_object(
                   'userRoleId', r.id,
                   'userRoleName', r.name,
                   -- the role's users in the account: one index-only scan
                   -- of user_roles_role per role
                   'noofUsers', (SELECT count(*) FROM userbulk.user_roles ur
                                  WHERE ur.account_id = v_account AND ur.role_id = r.id),
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
                   'responseDescription', NULL),
               NULL::uuid, NULL::uuid[], NULL::text, NULL::text, NULL::text, NULL::text,
               NULL::text, NULL::text, NULL::text, NULL::boolean, NULL::text, NULL::text,
               NULL::uuid, NULL::text, NULL::text, NULL::integer, NULL::text, NULL::text,
               NULL::text, NULL::text, NULL::text, NULL::boolean, NULL::text, NULL::text,
               NULL::boolean, NULL::uuid, NULL::integer, NULL::text, NULL::text, NULL::uuid,
               NULL::boolean, NULL::text, NULL::boolean
          FROM userbulk.roles r
         WHERE r.account_id = v_account AND r.id = ANY (v_used)
         ORDER BY r.name, r.id;
    -- Then each target, as the fields of the seed's user model.
    RETURN QUERY
        SELECT NULL::jsonb, NULL::uuid, NULL::json, u.id,
               CASE WHEN s_roles THEN v_roles
                    ELSE (SELECT coalesce(array_agg(ur.role_id), '{}')
                            FROM userbulk.user_roles ur WHERE ur.user_id = u.id) END,
               u.display_name::text, u.first_name::text, u.middle_name::text, u.last_name::text,
               u.phone1::text, u.phone2::text, u.login_name::text, u.reset_password_state,
               userbulk.iso(u.activation_date), userbulk.iso(u.expiry_date),
               s.id, s.name::text, s.code::text, s.status_id, s.color::text,
               u.email::text,
               tz.id::text, tz.name::text, tz.code::text, tz.supports_dst, tz.daylight_name::text,
               u.profile_pic::text, u.is_sso_user,
               tm.id, tm.level_ordinal, tm.name::text, tm.code::text, tm.parent_id,
               u.is_employee, u.employee_code::text, u.is_two_factor_enabled
          FROM userbulk.users u
          JOIN unnest(v_ids) WITH ORDINALITY AS t(id, ord) ON t.id = u.id
          LEFT JOIN userbulk.statuses s ON s.id = u.status_id
          LEFT JOIN userbulk.timezones tz ON tz.id = u.timezone_id
          LEFT JOIN userbulk.teams tm ON tm.id = u.team_id
         WHERE u.ctid = ANY (v_at) AND u.account_id = v_account
         ORDER BY t.ord;
    -- Every target is answered, or nothing is applied: a target missing
    -- here (a place gone stale) fails the whole statement, and the module
    -- answers 503 with nothing changed rather than a short answer.
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows <> cardinality(v_ids) THEN
        RAISE EXCEPTION 'account_update: % of % targets read back', v_rows, cardinality(v_ids);
    END IF;
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
