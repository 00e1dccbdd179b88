-- PUT /users: replace the updatable fields of the batch's users.
--
-- Each record is validated on its own against the directory; the ones that
-- pass are applied, the others change nothing. Rows are locked in id order
-- before anything is read for a decision, so concurrent batches queue
-- instead of deadlocking; what still collides at commit time (an email
-- taken meanwhile by a concurrent request, a deadlock through an index)
-- rolls back to the savepoint and is retried on fresh data.
--
-- The records come as one array of userbulk.put_input (below), the
-- records the module found valid, already checked for types, formats and
-- lengths: an array costs PostgreSQL less than parsing the same records
-- as JSON, and one array of rows less than one array per column (whose
-- 17 parts PostgreSQL keeps apart until the pass reads them together;
-- README, Benchmark). Their lists of roles come once each, in p_role_lists
-- (JSON text, [{"roleId":..,"roleName":..}]), and a record names its own
-- by number: the records of a batch share a few lists, each resolved
-- once and found by position.
--
-- p_options: {"atomic": apply only if every record passes, "failed":
-- some records already failed the module's own checks, "dry_run": decide
-- everything, apply nothing, "idem_key"/"body_hash": Idempotency-Key and
-- the fingerprint of the request it names (endpoint, atomic, dry run and
-- body, hashed by the module), "diff": answer each changing record's
-- before and after (below)}.
-- An Idempotency-Key seen before answers the stored results again, or one
-- row with idx -1 when the fingerprint differs. A dry run keeps its key
-- too: replayed, it answers the same dry-run answer; the same key on a real
-- run is another request. A replay answers no before and after (the
-- first answer had them; the audit trail keeps them).
-- With "diff": true, the row of a record that changes its user (a dry run:
-- would change it) carries the fields it changes in before and after: the
-- jsonb values written to audit_change, so the answer is the audit row,
-- byte for byte (a dry run's, what the real run would write). Otherwise
-- both are null, and nothing more is computed or sent.

-- One record as the module sends it: role_list the number of its list of
-- roles in p_role_lists, from 1; the access_* flags (read-only) null when
-- not sent; expected_version the version the client read, if sent.
SELECT userbulk.ensure_row_type('put_input', $cols$
    idx                         integer,
    user_name                   text,
    email                       text,
    first_name                  text,
    middle_name                 text,
    last_name                   text,
    phone                       text,
    department                  text,
    location                    text,
    program_admin_role          text,
    locked_out                  boolean,
    role_list                   integer,
    access_automation           boolean,
    access_certification        boolean,
    access_complete             boolean,
    access_operational_matching boolean,
    expected_version            bigint
$cols$) \g /dev/null

-- The working set of one put_users call: one element per record, held in
-- a variable of the call (userbulk.put_work[]), so it lives no longer than
-- the call. (A temporary table would outlive the transaction: creating it
-- is catalog work, and a session that had one must commit its removal at
-- exit, which under synchronous replication can hold up a fast shutdown.)
SELECT userbulk.ensure_row_type('put_work', $cols$
    idx                integer,
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
    at                 tid,
    role_ids           uuid[],
    errors             jsonb,
    before             jsonb,
    after              jsonb,
    version            bigint,
    last_change        bigint
$cols$) \g /dev/null

-- One list of p_role_lists as resolved: the ids of the roles it names,
-- sorted, and the error of its entries that name none (NULL: none).
SELECT userbulk.ensure_row_type('put_role_list', $cols$
    ids  uuid[],
    errs jsonb
$cols$) \g /dev/null

CREATE OR REPLACE FUNCTION userbulk.put_users(
    p_account text, p_actor text, p_trace text, p_options jsonb,
    p_role_lists text[], p_records userbulk.put_input[])
RETURNS SETOF userbulk.put_result
LANGUAGE plpgsql
SET jit = off       -- compiling costs more than a batch of 1000 rows runs
SET work_mem = '32MB'   -- a batch's role entries and its answer's rows are
                        -- sorted in memory, not through files
AS $fn$
DECLARE
    v_account  uuid;
    v_attempt  integer := 0;
    v_lock_all boolean := false;
    v_dry      boolean := coalesce((p_options ->> 'dry_run')::boolean, false);
    v_atomic   boolean := coalesce((p_options ->> 'atomic')::boolean, false);
    v_key      text := p_options ->> 'idem_key';
    v_diff     boolean := coalesce((p_options ->> 'diff')::boolean, false);
    v_apply    boolean;
    v_seen     userbulk.idempotency;
    v_changing integer;
    v_addresses integer;   -- of them, the records that change the address
    v_relinked integer;    -- and those that change the roles
    v_done     integer;
    v_request  bigint;     -- the request's row in userbulk.audit_request
    -- p_role_lists resolved, in their order: a record's is
    -- v_lists[role_list] (a plpgsql array is read by position in constant
    -- time)
    v_lists    userbulk.put_role_list[];
    -- the records as decided: user, place (at), role ids, errors ('[]':
    -- none), the fields changed before and after (NULL: no change), and
    -- the version found
    v_work     userbulk.put_work[];
    v_taken    integer[];  -- the idx whose address is taken
    -- the users whose address the batch changes, from and to (folded)
    v_moved    uuid[];
    v_from     text[];
    v_to       text[];
BEGIN
    SELECT a.id INTO v_account FROM userbulk.accounts a WHERE a.code = p_account;
    IF EXISTS (SELECT FROM unnest(p_records) r
                WHERE r.role_list IS NULL
                   OR r.role_list NOT BETWEEN 1 AND coalesce(cardinality(p_role_lists), 0)) THEN
        RAISE EXCEPTION 'put_users: a record''s role_list names no list of p_role_lists'
              USING ERRCODE = 'invalid_parameter_value';
    END IF;

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
                RETURN QUERY SELECT -1, NULL::uuid, NULL::bigint, 'Idempotency-Key',
                    'idempotency_key_reused', 'was used for another request (body or options differ)',
                    NULL::jsonb, NULL::jsonb;
            ELSE
                -- kept as JSON, {idx, user_id, version, errors} per record
                -- (so a key stored by an earlier release replays the same)
                RETURN QUERY
                    SELECT (x.r ->> 'idx')::integer, (x.r ->> 'user_id')::uuid,
                           (x.r ->> 'version')::bigint, e.field, e.code, e.message,
                           NULL::jsonb, NULL::jsonb
                      FROM jsonb_array_elements(v_seen.results) WITH ORDINALITY AS x(r, o)
                      LEFT JOIN LATERAL userbulk.put_errors(x.r -> 'errors') e ON true
                     ORDER BY x.o, e.ord;
            END IF;
            RETURN;
        END IF;
    END IF;

    LOOP
        BEGIN
            -- 1. After a concurrent change was seen (below), lock every user
            -- of the batch first, in key order, and decide under the locks.
            -- Each user found by its own key, not by "= ANY (names)":
            -- a row another writer changed while this one waited is
            -- checked again, and that rescan would sort the whole array
            -- once per such row (the names in order: one lookup finds the
            -- index pages the one before it read).
            IF v_lock_all THEN
                PERFORM 1
                   FROM (SELECT DISTINCT r.user_name AS x FROM unnest(p_records) r ORDER BY 1) t
                   JOIN userbulk.users u ON u.user_name = t.x
                  WHERE u.account_id = v_account
                  ORDER BY u.id
                    FOR NO KEY UPDATE OF u;
            END IF;

            -- 2. One pass over the batch: find each user (another account's
            -- users do not exist here), check codes, read-only flags and
            -- roles, and work out which fields the record changes: only
            -- those go to the audit trail, and a record changing nothing
            -- writes nothing. The error list is built only for a record
            -- that has one. First the lists of roles, each resolved once
            -- (again on a retry: a role may have gone meanwhile), all
            -- entries of all lists in one set: p_role_lists goes to
            -- put_roles as it is (with a subquery in its arguments
            -- PostgreSQL would not inline it, and it would look each entry
            -- up on its own).
            v_lists := ARRAY(
                SELECT ROW(coalesce(g.ids, '{}'), g.errs)::userbulk.put_role_list
                  FROM unnest(p_role_lists) WITH ORDINALITY AS l(roles, list)
                  LEFT JOIN (SELECT q.list,
                               array_agg(DISTINCT q.role_id ORDER BY q.role_id)
                                   FILTER (WHERE q.role_id IS NOT NULL) AS ids,
                               -- the positions of the entries that name no
                               -- role, as one error of the list, which
                               -- put_errors answers as one row each: a list
                               -- naming 100 unknown roles builds one small
                               -- array, not 100 JSON objects
                               CASE WHEN bool_or(q.role_id IS NULL) THEN
                                   jsonb_build_array(jsonb_build_object('unknown_roles',
                                       to_jsonb(array_agg(q.pos ORDER BY q.pos)
                                                    FILTER (WHERE q.role_id IS NULL)))) END AS errs
                          FROM userbulk.put_roles(v_account, p_role_lists) q
                         GROUP BY q.list) g ON g.list = l.list
                 ORDER BY l.list);
            v_work := ARRAY(
            -- (the values to write only for a record that changes its
            -- user: the others' are never read, and a batch resending
            -- what is stored carries no copy of it through the steps)
            SELECT ROW(b.idx, b.user_name,
                   CASE WHEN ch.changed THEN b.email END,
                   CASE WHEN ch.changed THEN b.first_name END,
                   CASE WHEN ch.changed THEN b.middle_name END,
                   CASE WHEN ch.changed THEN b.last_name END,
                   CASE WHEN ch.changed THEN b.phone END,
                   CASE WHEN ch.changed THEN b.department END,
                   CASE WHEN ch.changed THEN b.location END,
                   CASE WHEN ch.changed THEN b.program_admin_role END,
                   CASE WHEN ch.changed THEN b.locked_out END,
                   u.id, u.ctid, CASE WHEN ch.changed THEN spec.ids END,
                   CASE WHEN u.id IS NULL
                        THEN userbulk.err('userName', 'not_found', 'no user with this userName in the account')
                        WHEN spec.errs IS NULL
                         AND known.department AND known.location AND known.program_admin_role
                         AND coalesce(b.expected_version = u.version, true)
                         AND coalesce(b.access_automation = u.access_automation, true)
                         AND coalesce(b.access_certification = u.access_certification, true)
                         AND coalesce(b.access_complete = u.access_complete, true)
                         AND coalesce(b.access_operational_matching = u.access_operational_matching, true)
                        THEN '[]'::jsonb
                        ELSE to_jsonb(array_remove(ARRAY[
                           CASE WHEN NOT known.department
                               THEN jsonb_build_object('field', 'departmentId', 'code', 'unknown_code',
                                    'message', format('department %s is not configured for the account', b.department)) END,
                           CASE WHEN NOT known.location
                               THEN jsonb_build_object('field', 'locationId', 'code', 'unknown_code',
                                    'message', format('location %s is not configured for the account', b.location)) END,
                           CASE WHEN NOT known.program_admin_role
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
                   -- as sent (userbulk.put_diff, inlined here)
                   CASE WHEN ch.changed THEN userbulk.put_diff(false,
                        u.email, b.email, u.first_name, b.first_name, u.middle_name, b.middle_name,
                        u.last_name, b.last_name, u.phone1, b.phone, u.department_code, b.department,
                        u.location_code, b.location, u.program_admin_role_code, b.program_admin_role,
                        u.locked_out, b.locked_out, cur.ids, spec.ids) END,
                   CASE WHEN ch.changed THEN userbulk.put_diff(true,
                        u.email, b.email, u.first_name, b.first_name, u.middle_name, b.middle_name,
                        u.last_name, b.last_name, u.phone1, b.phone, u.department_code, b.department,
                        u.location_code, b.location, u.program_admin_role_code, b.program_admin_role,
                        u.locked_out, b.locked_out, cur.ids, spec.ids) END,
                   u.version, u.last_change)::userbulk.put_work
              FROM unnest(p_records) AS b
             CROSS JOIN LATERAL (SELECT (v_lists[b.role_list]).*) spec
              LEFT JOIN userbulk.users u ON u.account_id = v_account AND u.user_name = b.user_name
             CROSS JOIN LATERAL (SELECT u.role_ids AS ids) cur   -- kept by 017's triggers
             -- the codes the record names, each known to the account or not:
             -- the one its user has already is (the keys of users hold
             -- it), so only a new code is looked up, and a record resending
             -- its user's codes costs no lookup
             CROSS JOIN LATERAL (
                   SELECT b.department IS NULL OR coalesce(b.department = u.department_code, false)
                          OR EXISTS (SELECT FROM userbulk.departments d
                                      WHERE d.account_id = v_account AND d.code = b.department)
                              AS department,
                          b.location IS NULL OR coalesce(b.location = u.location_code, false)
                          OR EXISTS (SELECT FROM userbulk.locations l
                                      WHERE l.account_id = v_account AND l.code = b.location)
                              AS location,
                          b.program_admin_role IS NULL
                          OR coalesce(b.program_admin_role = u.program_admin_role_code, false)
                          OR EXISTS (SELECT FROM userbulk.program_admin_roles p
                                      WHERE p.account_id = v_account AND p.code = b.program_admin_role)
                              AS program_admin_role) known
             CROSS JOIN LATERAL (
                   SELECT u.id IS NOT NULL
                          AND ((u.email, u.first_name, u.middle_name, u.last_name, u.phone1,
                                u.department_code, u.location_code, u.program_admin_role_code,
                                u.locked_out)
                               IS DISTINCT FROM
                               (b.email, b.first_name, b.middle_name, b.last_name, b.phone,
                                b.department, b.location, b.program_admin_role, b.locked_out)
                               OR cur.ids IS DISTINCT FROM spec.ids) AS changed
                   OFFSET 0) ch);

            -- 3. A batch that changes nothing (a daily sync resending what
            -- is stored) is answered now: no email can conflict, nothing to
            -- lock or write. Counted in the same pass: the records that
            -- change an address (step 4) or roles (step 6); a step with
            -- none is not run.
            SELECT count(*), count(*) FILTER (WHERE w.after ? 'email'),
                   count(*) FILTER (WHERE w.after ? 'roles')
              INTO v_changing, v_addresses, v_relinked
              FROM unnest(v_work) w
             WHERE w.errors = '[]' AND w.after IS NOT NULL;
            v_apply := false;
            EXIT WHEN v_changing = 0;

            -- 4. Emails, against the final state of the batch
            -- (userbulk.email_taken): only records that change their
            -- address need the check; a user has at most one record here
            -- (the module fails a userName named twice).
            v_taken := CASE WHEN v_addresses = 0 THEN '{}'::integer[] ELSE ARRAY(
                SELECT f.idx FROM userbulk.email_taken(
                       ARRAY(SELECT x.idx FROM unnest(v_work) x
                              WHERE x.errors = '[]' AND x.after ? 'email' ORDER BY x.idx),
                       ARRAY(SELECT x.user_id FROM unnest(v_work) x
                              WHERE x.errors = '[]' AND x.after ? 'email' ORDER BY x.idx),
                       ARRAY(SELECT userbulk.fold_email(x.email) FROM unnest(v_work) x
                              WHERE x.errors = '[]' AND x.after ? 'email' ORDER BY x.idx)) f) END;
            IF cardinality(v_taken) > 0 THEN
                v_work := ARRAY(
                    SELECT ROW(w.idx, w.user_name, w.email, w.first_name, w.middle_name,
                               w.last_name, w.phone, w.department, w.location,
                               w.program_admin_role, w.locked_out, w.user_id, w.at, w.role_ids,
                               CASE WHEN w.idx = ANY (v_taken)
                                    THEN w.errors || userbulk.err('email', 'email_taken',
                                             'is already the address of another user')
                                    ELSE w.errors END,
                               w.before, w.after, w.version, w.last_change)::userbulk.put_work
                      FROM unnest(v_work) w);
                -- each was counted among the changing ones
                v_changing := v_changing - cardinality(v_taken);
            END IF;

            -- 5. Apply: update the users the batch changes, in key order,
            -- so that concurrent batches queue instead of deadlocking (the
            -- UPDATE takes each row's lock as it reaches it, and it reaches
            -- them in the order of its outer side, sorted by id, through a
            -- nested loop over a TID scan; were PostgreSQL ever to plan it
            -- otherwise, a deadlock would be retried below, not lost). No
            -- separate lock first: locking a row and then updating it
            -- writes it twice. Unchanged records need no lock: reporting
            -- them unchanged is true of the order "this request, then the
            -- concurrent one". Each row is found where the pass above read
            -- it (no second index lookup) and updated only there and at the
            -- version read: a user changed since (every writer gives its
            -- user version + 1) is no longer there, and one changed while
            -- this statement waited for its lock is rechecked by PostgreSQL
            -- at its new place and skipped. Then nothing of this attempt
            -- stays (UBLCK rolls back to the savepoint, which also releases
            -- the locks, so locking all in key order next cannot deadlock)
            -- and everything is decided again under the locks.
            -- A dry run, or an atomic request of which a record failed,
            -- takes the same locks and applies nothing (a dry run answers
            -- the versions a real run would give).
            v_apply := NOT v_dry AND NOT (v_atomic AND (
                           coalesce((p_options ->> 'failed')::boolean, false)
                           OR EXISTS (SELECT 1 FROM unnest(v_work) w WHERE w.errors <> '[]')));
            IF v_apply THEN
                -- (the request's id now: each changed user's row names it
                -- as the head of its history, userbulk.user_history)
                v_request := nextval('userbulk.audit_request_id_seq');
                -- (the addresses' entries move in 5b, not by the row
                -- trigger of users: migration 023)
                IF v_addresses > 0 THEN
                    PERFORM set_config('userbulk.writes_emails', 'on', true);
                END IF;
                WITH changed AS (
                    UPDATE userbulk.users u
                       SET email = w.email, first_name = w.first_name,
                           middle_name = w.middle_name, last_name = w.last_name,
                           phone1 = w.phone, department_code = w.department,
                           location_code = w.location,
                           program_admin_role_code = w.program_admin_role,
                           locked_out = w.locked_out, role_ids = w.role_ids,
                           version = u.version + 1, updated_at = now(), updated_by = p_actor,
                           last_change = v_request
                      FROM (SELECT * FROM unnest(v_work) x
                             WHERE x.errors = '[]' AND x.after IS NOT NULL
                             ORDER BY x.user_id OFFSET 0) w
                     WHERE u.ctid = w.at AND u.id = w.user_id AND u.version = w.version
                       AND u.account_id = v_account
                    RETURNING 1)
                SELECT count(*) INTO v_done FROM changed;
            ELSE
                -- (v_done: the rows found where and as the pass read them)
                SELECT count(*) INTO v_done
                  FROM (SELECT 1 FROM unnest(v_work) w
                          JOIN userbulk.users u ON u.ctid = w.at AND u.id = w.user_id
                                                AND u.version = w.version AND u.account_id = v_account
                         WHERE w.errors = '[]' AND w.after IS NOT NULL
                         ORDER BY u.id
                           FOR NO KEY UPDATE OF u) l;
            END IF;
            IF v_done < v_changing THEN
                RAISE EXCEPTION 'a user changed meanwhile' USING ERRCODE = 'UBLCK';
            END IF;
            IF NOT v_apply THEN
                EXIT;
            END IF;

            -- 5b. The new addresses in user_emails (migration 023,
            -- userbulk.move_addresses), which holds them unique. (No index
            -- of users has the address: the UPDATE above can be HOT.)
            IF v_addresses > 0 THEN
                SELECT array_agg(w.user_id), array_agg(userbulk.fold_email(w.before ->> 'email')),
                       array_agg(userbulk.fold_email(w.email))
                  INTO v_moved, v_from, v_to
                  FROM unnest(v_work) w
                 WHERE w.errors = '[]' AND w.after ? 'email';
                PERFORM userbulk.move_addresses(v_account, v_moved, v_from, v_to);
            END IF;

            -- 6. The role links of the records that change roles. The
            -- UPDATE above gave their users these role ids: 017's triggers
            -- need not count them again (userbulk.writes_role_ids, until
            -- the links are written; a failure rolls the setting back with
            -- the savepoint).
            IF v_relinked > 0 THEN
                PERFORM set_config('userbulk.writes_role_ids', 'on', true);
                DELETE FROM userbulk.user_roles ur
                 USING unnest(v_work) w
                 WHERE ur.user_id = w.user_id AND ur.account_id = v_account
                   AND w.errors = '[]' AND w.after ? 'roles'
                   AND NOT (ur.role_id = ANY (w.role_ids));
                INSERT INTO userbulk.user_roles (account_id, user_id, role_id)
                     SELECT v_account, w.user_id, r.role_id
                       FROM unnest(v_work) w CROSS JOIN LATERAL unnest(w.role_ids) AS r(role_id)
                      WHERE w.errors = '[]' AND w.after ? 'roles'
                ON CONFLICT DO NOTHING;
                PERFORM set_config('userbulk.writes_role_ids', '', true);
            END IF;

            -- The audit trail: the request once, each changed user's
            -- fields, linked to the user's audit row before (the head its
            -- row had at the version updated).
            IF v_done > 0 THEN
                INSERT INTO userbulk.audit_request (id, account_id, actor, trace_id, endpoint)
                     VALUES (v_request, v_account, p_actor, p_trace, 'PUT /users');
                INSERT INTO userbulk.audit_change (request_id, account_id, user_id, before, after,
                                                   prev_request)
                     SELECT v_request, v_account, w.user_id, w.before, w.after, w.last_change
                       FROM unnest(v_work) w
                      WHERE w.errors = '[]' AND w.after IS NOT NULL;
            END IF;
            EXIT;
        EXCEPTION
            WHEN SQLSTATE 'UBLCK' THEN
                v_lock_all := true;
            WHEN OTHERS THEN
                v_attempt := v_attempt + 1;
                IF NOT userbulk.retried(SQLSTATE, v_attempt) THEN
                    RAISE;
                END IF;
        END;
    END LOOP;

    -- A record that changes its user answers the version it gives (a dry
    -- run: would give), and with "diff" its before and after; the others
    -- the version they found.
    IF v_key IS NOT NULL THEN
        UPDATE userbulk.idempotency i
           SET results = (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                     'idx', w.idx, 'user_id', w.user_id,
                                     'version', w.version + CASE WHEN (v_apply OR v_dry)
                                         AND w.errors = '[]' AND w.after IS NOT NULL THEN 1 ELSE 0 END,
                                     'errors', w.errors) ORDER BY w.idx), '[]')
                            FROM unnest(v_work) w)
         WHERE i.account = p_account AND i.actor = p_actor AND i.key = v_key;
    END IF;
    RETURN QUERY
        SELECT w.idx, w.user_id,
               w.version + CASE WHEN (v_apply OR v_dry) AND w.errors = '[]' AND w.after IS NOT NULL
                                THEN 1 ELSE 0 END,
               e.field, e.code, e.message,
               CASE WHEN v_diff AND (v_apply OR v_dry) AND w.errors = '[]' AND w.after IS NOT NULL
                    THEN w.before END,
               CASE WHEN v_diff AND (v_apply OR v_dry) AND w.errors = '[]' AND w.after IS NOT NULL
                    THEN w.after END
          FROM unnest(v_work) w
          LEFT JOIN LATERAL userbulk.put_errors(w.errors) e ON true
         ORDER BY w.idx, e.ord;
END
$fn$;
