-- SCIM 2.0, writes (RFC 7644 sections 3.3, 3.5, 3.6, 3.7): one engine for
-- POST inside /Bulk, PUT, PATCH and DELETE on /Users and every /Bulk
-- request. Entry function: scim_write. Built on scim_users.sql
-- (scim_resource) and common.sql (retried, email_taken).
--
-- The module (src/scim_write.c) has already read each operation into the
-- columns it sets: PUT sets them all (an attribute left out clears its
-- column), PATCH those its operations name (compiled without reading the
-- row: the resource is flat), DELETE none. Several operations of one Bulk
-- request on the same user arrive here composed into one (the module
-- folds them in order), so each user has at most one operation here.

-- The answer: one row per operation, in idx order.
--   status   the operation's HTTP status: 200 (replaced or patched), 201
--            (created), 204 (deleted), or the refusal's (400, 404, 409,
--            412, 424: not applied because another operation of an atomic
--            request failed; 403: the token's account is not in the
--            directory); -1: not performed (failOnErrors was reached
--            before it)
--   id       the user's id (also for a refusal when known)
--   version  the version after the operation (a dry run: would be after),
--            null for a deletion and a refusal
--   field, code, message: a refusal's attribute, its scimType (or
--            not_found, precondition, not_applied, unknown_account) and
--            its text; null for a success
--   resource the User after the operation, when p_options.resources
--   before, after: with p_options.diff, the fields an operation that
--            passes changes (a dry run: would change), as stored and as
--            they become: the jsonb values of its audit row (the very
--            values written to audit_change); null otherwise (no change,
--            a refusal, not applied, no "diff"). (Came with migration 016.)
SELECT userbulk.ensure_row_type('scim_write_result', $cols$
    idx      integer,
    status   integer,
    id       uuid,
    version  bigint,
    field    text,
    code     text,
    message  text,
    resource json,
    before   jsonb,
    after    jsonb
$cols$) \g /dev/null

-- The columns an operation sets, as bits of scim_input.set
-- (src/scim_map.h says the same): 1 user_name, 2 email, 4 first_name,
-- 8 middle_name, 16 last_name, 32 display_name, 64 phone1, 128 phone2,
-- 256 locked_out, 512 external_id, 1024 employee_code, 2048
-- department_code (one of the account's department codes), 4096
-- manager_id (a user of the account).

-- The fields an operation changes, for the audit trail: stored (o_) and
-- final (n_) values, those that differ, stored (p_after false) or final
-- (true). The names are those of put_users' audit rows. STABLE
-- SQL over its arguments, so that it is inlined (see put_diff).
CREATE OR REPLACE FUNCTION userbulk.scim_diff(p_after boolean,
    o_email text, n_email text, o_first text, n_first text, o_middle text, n_middle text,
    o_last text, n_last text, o_display text, n_display text, o_phone1 text, n_phone1 text,
    o_phone2 text, n_phone2 text, o_locked boolean, n_locked boolean,
    o_external text, n_external text, o_employee text, n_employee text,
    o_department text, n_department text, o_manager uuid, n_manager uuid)
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
        CASE WHEN o_display IS DISTINCT FROM n_display
             THEN '"displayName":' || coalesce(to_json(CASE WHEN p_after THEN n_display ELSE o_display END)::text, 'null') END,
        CASE WHEN o_phone1 IS DISTINCT FROM n_phone1
             THEN '"phoneNumber":' || coalesce(to_json(CASE WHEN p_after THEN n_phone1 ELSE o_phone1 END)::text, 'null') END,
        CASE WHEN o_phone2 IS DISTINCT FROM n_phone2
             THEN '"phoneNumber2":' || coalesce(to_json(CASE WHEN p_after THEN n_phone2 ELSE o_phone2 END)::text, 'null') END,
        CASE WHEN o_locked IS DISTINCT FROM n_locked
             THEN '"lockedOut":' || coalesce(to_json(CASE WHEN p_after THEN n_locked ELSE o_locked END)::text, 'null') END,
        CASE WHEN o_external IS DISTINCT FROM n_external
             THEN '"externalId":' || coalesce(to_json(CASE WHEN p_after THEN n_external ELSE o_external END)::text, 'null') END,
        CASE WHEN o_employee IS DISTINCT FROM n_employee
             THEN '"employeeCode":' || coalesce(to_json(CASE WHEN p_after THEN n_employee ELSE o_employee END)::text, 'null') END,
        CASE WHEN o_department IS DISTINCT FROM n_department
             THEN '"departmentId":' || coalesce(to_json(CASE WHEN p_after THEN n_department ELSE o_department END)::text, 'null') END,
        CASE WHEN o_manager IS DISTINCT FROM n_manager
             THEN '"managerId":' || coalesce(to_json(CASE WHEN p_after THEN n_manager ELSE o_manager END)::text, 'null') END)
        || '}')::jsonb
$$;


-- The working set of one scim_write call: one element per operation, held
-- in a variable of the call (userbulk.scim_work[]), so it lives no longer
-- than the call, as put_users keeps its own. (A temporary table would
-- outlive the transaction: a session that had one must commit its removal
-- at exit, which under synchronous replication can hold up a fast
-- shutdown, and a pooler in transaction mode could hand it to another
-- client.) The final values: a creation's as sent; a put's or patch's as
-- sent where the operation sets the column, else as stored.
SELECT userbulk.ensure_row_type('scim_work', $cols$
    idx             integer,
    op              text,
    user_id         uuid,
    stored          bigint,
    user_name       text,
    email           text,
    first_name      text,
    middle_name     text,
    last_name       text,
    display_name    text,
    phone1          text,
    phone2          text,
    locked_out      boolean,
    external_id     text,
    employee_code   text,
    department_code text,
    manager_id      uuid,
    status          integer,
    field           text,
    code            text,
    message         text,
    before          jsonb,
    after           jsonb,
    at              tid,
    last_change     bigint
$cols$) \g /dev/null
-- (stored: the version found, null: no such user; status: 0 passes, -1
-- not performed, else the refusal's; before, after: the fields it changes,
-- as stored and as they become, null: no change; at: where the user's row
-- was read; last_change: the head of its history there, which its audit
-- row links to)

-- One operation as the module sends it (one array of these rows, which
-- PostgreSQL reads whole, where it kept the parts of one array per column
-- apart until the pass read them together; README, Benchmark):
--   idx       its place in the request
--   op        'create', 'put', 'patch' or 'delete'
--   id        the user's id as the path named it (put, patch, delete);
--             another account's user, or text that is no id, is not found
--   set       the columns the operation sets (bits above)
--   expected  the version the client read (If-Match, a Bulk operation's
--             version), or null
--   the values, one field per column, null where the operation clears it
SELECT userbulk.ensure_row_type('scim_input', $cols$
    idx           integer,
    op            text,
    id            text,
    set           integer,
    expected      bigint,
    user_name     text,
    email         text,
    first_name    text,
    middle_name   text,
    last_name     text,
    display_name  text,
    phone1        text,
    phone2        text,
    locked_out    boolean,
    external_id   text,
    employee_code text,
    department    text,
    manager       text
$cols$) \g /dev/null

-- Applies a batch of operations (p_ops) on p_account's users, in one
-- transaction.
-- p_options: {"atomic": apply only if every operation passes, "failed":
-- operations of the request already failed the module's own checks (with
-- atomic: nothing is applied), "dry_run": decide everything, apply
-- nothing, "resources": answer each user's resource, "diff": answer each
-- operation's before and after (above), "fail_on_errors": N
-- and "failed_idx": [the idx the module failed]: a Bulk request's
-- failOnErrors, see 3b below}. p_base: the SCIM
-- base URL of meta.location.
--
-- Every user an operation that passes names is locked, in id order (so
-- concurrent batches queue instead of deadlocking), and what was decided
-- holds for the row as locked: the users are read without locks, decided,
-- then locked and changed in one statement, each row found where it was
-- read (step 4). A user that changed in between (its row no longer there,
-- or at another version) undoes the attempt, and the next one locks every
-- user of the batch first, in id order, and decides under the locks. A
-- batch that deletes locks first too (FOR UPDATE): a deletion must come
-- before the changes (it frees an address) and its ON DELETE SET NULL of
-- a manager moves the rows that name it.
-- userName is immutable here (the key of PUT /users): an operation that
-- sets another than the stored one is refused (mutability); a creation's
-- userName must be free system-wide and in the batch. Addresses are
-- checked against the batch's final state as PUT /users checks them
-- (userbulk.email_taken): a deletion frees its user's address for the
-- others. A user changes (version + 1, updated_at, updated_by, one audit
-- row with the fields changed) only when a value differs: an operation
-- that sets what is stored answers its version and writes nothing.
-- Deletion is a hard delete (its roles go with it); the audit row keeps
-- every field as it was in before, and after is {}.
-- What a concurrent request causes at commit time (an address or userName
-- taken meanwhile, a deadlock through an index) is retried on fresh data.
CREATE OR REPLACE FUNCTION userbulk.scim_write(
    p_account text, p_actor text, p_trace text, p_options jsonb, p_base text,
    p_ops userbulk.scim_input[])
RETURNS SETOF userbulk.scim_write_result
LANGUAGE plpgsql
SET jit = off       -- compiling costs more than a batch of 1000 rows runs
AS $fn$
DECLARE
    v_account   uuid;
    v_attempt   integer := 0;
    v_dry       boolean := coalesce((p_options ->> 'dry_run')::boolean, false);
    v_atomic    boolean := coalesce((p_options ->> 'atomic')::boolean, false);
    v_resources boolean := coalesce((p_options ->> 'resources')::boolean, false);
    v_diff      boolean := coalesce((p_options ->> 'diff')::boolean, false);
    -- the account's default roles, which a creation gives (read once: the
    -- links written, the audit row and the answer's diff name the same)
    v_defaults  uuid[];
    v_apply     boolean := false;
    v_ids       text[] := ARRAY(SELECT o.id FROM unnest(p_ops) o);
    v_deletes   boolean := EXISTS (SELECT FROM unnest(p_ops) o WHERE o.op = 'delete');
    v_lock_all  boolean := v_deletes;
    v_changes   integer;
    v_locking   integer;
    v_locked    integer;
    v_moved     integer;
    v_done      integer;
    v_expect    integer;
    v_creates   integer;
    v_moves     integer;   -- the changes of an address
    -- their users, from and to (folded)
    v_movers    uuid[];
    v_from      text[];
    v_to        text[];
    v_refused   integer;
    v_ask_idx   integer[];
    v_ask_user  uuid[];
    v_ask_addr  text[];
    v_request   bigint;
    v_work      userbulk.scim_work[];
    v_taken     integer[];
    -- failOnErrors (a Bulk request's): the operations after the one that
    -- makes this many errors are not performed; p_options.failed_idx: the
    -- operations the module failed (not sent), which count too
    v_budget    integer := (p_options ->> 'fail_on_errors')::integer;
    v_failed    integer[] := ARRAY(SELECT x::integer
                                     FROM jsonb_array_elements_text(
                                          coalesce(p_options -> 'failed_idx', '[]')) x);
    v_cut       integer;
    -- the users the batch deletes: no user may be given one as its manager
    v_deleted   uuid[] := '{}';
    -- whether every id the operations name is an id (lower-case text of a
    -- uuid): one match on them all, joined, instead of one per operation;
    -- a separator inside an element would make more parts than elements
    v_ids_ok    boolean := coalesce(
                    array_to_string(v_ids, ',') ~ ('^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
                        || '(,[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})*$')
                    AND length(array_to_string(v_ids, ',')) = 37 * cardinality(array_remove(v_ids, NULL)) - 1,
                    false);
BEGIN
    SELECT a.id INTO v_account FROM userbulk.accounts a WHERE a.code = p_account;
    IF v_account IS NULL THEN
        RETURN QUERY SELECT b.idx, 403, NULL::uuid, NULL::bigint, NULL::text,
                            'unknown_account'::text,
                            'the token''s account is not in the directory'::text, NULL::json,
                            NULL::jsonb, NULL::jsonb
                       FROM unnest(p_ops) AS b ORDER BY b.idx;
        RETURN;
    END IF;
    IF v_lock_all THEN
        v_deleted := ARRAY(SELECT x.id::uuid FROM unnest(p_ops) AS x
                            WHERE x.op = 'delete'
                              AND (v_ids_ok OR x.id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'));
    END IF;

    LOOP
        BEGIN
            -- 1. A batch that deletes, or one in which a user changed
            -- while an earlier attempt decided: its users are locked
            -- first, in id order, and what follows reads them as locked
            -- (each statement of READ COMMITTED sees what committed
            -- before it began).
            IF v_lock_all AND v_deletes THEN
                PERFORM 1 FROM userbulk.users u
                 WHERE u.account_id = v_account
                   AND u.id IN (SELECT x.id::uuid FROM unnest(v_ids) AS x(id)
                                 WHERE v_ids_ok OR x.id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
                 ORDER BY u.id
                   FOR UPDATE;
            ELSIF v_lock_all THEN
                PERFORM 1 FROM userbulk.users u
                 WHERE u.account_id = v_account
                   AND u.id IN (SELECT x.id::uuid FROM unnest(v_ids) AS x(id)
                                 WHERE v_ids_ok OR x.id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
                 ORDER BY u.id
                   FOR NO KEY UPDATE;
            END IF;

            -- 2. One pass: each operation against its user, its final
            -- values, and what it changes.
            v_work := ARRAY(
            SELECT ROW(b.idx, b.op, coalesce(u.id, b.new_id), u.version,
                   f.user_name, f.email, f.first_name, f.middle_name, f.last_name,
                   f.display_name, f.phone1, f.phone2, f.locked_out,
                   f.external_id, f.employee_code, f.department_code, m.id,
                   CASE WHEN r.why IS NULL THEN 0 WHEN r.why = 'not_found' THEN 404
                        WHEN r.why = 'version' THEN 412 WHEN r.why = 'name_taken' THEN 409
                        ELSE 400 END,
                   CASE r.why WHEN 'twice' THEN 'id' WHEN 'version' THEN 'version'
                              WHEN 'immutable' THEN 'userName' WHEN 'name_taken' THEN 'userName'
                              WHEN 'department' THEN 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department'
                              WHEN 'manager' THEN 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value'
                   END,
                   CASE r.why WHEN 'not_found' THEN 'not_found' WHEN 'version' THEN 'precondition'
                              WHEN 'immutable' THEN 'mutability' WHEN 'name_taken' THEN 'uniqueness'
                              WHEN 'twice' THEN 'invalidValue' WHEN 'department' THEN 'invalidValue'
                              WHEN 'manager' THEN 'invalidValue' END,
                   CASE r.why
                        WHEN 'not_found' THEN 'no user of this account has this id'
                        WHEN 'twice' THEN 'names a user another operation of the request names'
                        WHEN 'version' THEN format('the user is at version %s, not %s', u.version, b.expected)
                        WHEN 'immutable' THEN format('is immutable: the user''s userName is %s', to_json(u.user_name))
                        WHEN 'name_taken' THEN 'is already the userName of a user'
                        WHEN 'department' THEN format('%s is not a department code of the account', to_json(f.department_code))
                        WHEN 'manager' THEN 'names no other user of the account (or one this request deletes)'
                   END,
                   CASE WHEN b.op = 'delete' AND u.id IS NOT NULL THEN
                            jsonb_strip_nulls(jsonb_build_object(
                                'userName', u.user_name, 'email', u.email,
                                'firstName', u.first_name, 'middleName', u.middle_name,
                                'lastName', u.last_name, 'displayName', u.display_name,
                                'phoneNumber', u.phone1, 'phoneNumber2', u.phone2,
                                'lockedOut', u.locked_out, 'externalId', u.external_id,
                                'employeeCode', u.employee_code, 'departmentId', u.department_code,
                                'managerId', u.manager_id))
                            || jsonb_build_object('roles', to_jsonb(ARRAY(
                                   SELECT ur.role_id FROM userbulk.user_roles ur
                                    WHERE ur.account_id = u.account_id AND ur.user_id = u.id ORDER BY ur.role_id)))
                        WHEN b.op = 'create' THEN '{}'::jsonb
                        WHEN u.id IS NOT NULL THEN nullif(userbulk.scim_diff(false,
                            u.email, f.email, u.first_name, f.first_name, u.middle_name, f.middle_name,
                            u.last_name, f.last_name, u.display_name, f.display_name,
                            u.phone1, f.phone1, u.phone2, f.phone2, u.locked_out, f.locked_out,
                            u.external_id, f.external_id, u.employee_code, f.employee_code,
                            u.department_code, f.department_code, u.manager_id, m.id), '{}')
                   END,
                   CASE WHEN b.op = 'delete' AND u.id IS NOT NULL THEN '{}'::jsonb
                        WHEN b.op = 'create' THEN jsonb_strip_nulls(jsonb_build_object(
                                'userName', f.user_name, 'email', f.email,
                                'firstName', f.first_name, 'middleName', f.middle_name,
                                'lastName', f.last_name, 'displayName', f.display_name,
                                'phoneNumber', f.phone1, 'phoneNumber2', f.phone2,
                                'lockedOut', f.locked_out, 'externalId', f.external_id,
                                'employeeCode', f.employee_code, 'departmentId', f.department_code,
                                'managerId', m.id))
                        WHEN u.id IS NOT NULL THEN nullif(userbulk.scim_diff(true,
                            u.email, f.email, u.first_name, f.first_name, u.middle_name, f.middle_name,
                            u.last_name, f.last_name, u.display_name, f.display_name,
                            u.phone1, f.phone1, u.phone2, f.phone2, u.locked_out, f.locked_out,
                            u.external_id, f.external_id, u.employee_code, f.employee_code,
                            u.department_code, f.department_code, u.manager_id, m.id), '{}')
                   END,
                   u.ctid, u.last_change)::userbulk.scim_work
              FROM (SELECT x.*,
                           CASE WHEN x.op = 'create' THEN gen_random_uuid() END AS new_id,
                           -- a user named twice: the second is refused (the
                           -- module composes a Bulk request's operations)
                           CASE WHEN x.uid IS NULL THEN 1
                                ELSE row_number() OVER (PARTITION BY x.uid ORDER BY x.idx) END AS rank,
                           CASE WHEN x.op = 'create'
                                THEN row_number() OVER (PARTITION BY x.op = 'create', x.user_name
                                                        ORDER BY x.idx)
                                ELSE 1 END AS name_rank
                      FROM (SELECT a.*,
                                   CASE WHEN a.op <> 'create' AND (v_ids_ok OR a.id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
                                        THEN a.id::uuid END AS uid
                              FROM unnest(p_ops) AS a) x) b
              LEFT JOIN userbulk.users u ON u.account_id = v_account AND u.id = b.uid
             CROSS JOIN LATERAL (
                   SELECT CASE WHEN b.set & 1 <> 0 OR b.op = 'create' THEN b.user_name ELSE u.user_name END AS user_name,
                          CASE WHEN b.set & 2 <> 0 OR b.op = 'create' THEN b.email ELSE u.email END AS email,
                          CASE WHEN b.set & 4 <> 0 OR b.op = 'create' THEN b.first_name ELSE u.first_name END AS first_name,
                          CASE WHEN b.set & 8 <> 0 OR b.op = 'create' THEN b.middle_name ELSE u.middle_name END AS middle_name,
                          CASE WHEN b.set & 16 <> 0 OR b.op = 'create' THEN b.last_name ELSE u.last_name END AS last_name,
                          CASE WHEN b.set & 32 <> 0 OR b.op = 'create' THEN b.display_name ELSE u.display_name END AS display_name,
                          CASE WHEN b.set & 64 <> 0 OR b.op = 'create' THEN b.phone1 ELSE u.phone1 END AS phone1,
                          CASE WHEN b.set & 128 <> 0 OR b.op = 'create' THEN b.phone2 ELSE u.phone2 END AS phone2,
                          CASE WHEN b.set & 256 <> 0 OR b.op = 'create' THEN coalesce(b.locked_out, false)
                               ELSE u.locked_out END AS locked_out,
                          CASE WHEN b.set & 512 <> 0 OR b.op = 'create' THEN b.external_id ELSE u.external_id END AS external_id,
                          CASE WHEN b.set & 1024 <> 0 OR b.op = 'create' THEN b.employee_code ELSE u.employee_code END AS employee_code,
                          CASE WHEN b.set & 2048 <> 0 OR b.op = 'create' THEN b.department ELSE u.department_code END AS department_code,
                          -- the manager: as sent (text, checked below), or as stored
                          CASE WHEN b.set & 4096 <> 0 OR b.op = 'create' THEN b.manager END AS manager,
                          CASE WHEN b.set & 4096 = 0 AND b.op <> 'create' THEN u.manager_id
                               WHEN b.manager ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                               THEN b.manager::uuid END AS manager_id) f
              -- the codes and the manager the final values name, within the account
              LEFT JOIN userbulk.departments d
                     ON d.account_id = v_account AND d.code = f.department_code
              LEFT JOIN userbulk.users mgr
                     ON mgr.account_id = v_account
                    AND mgr.id = f.manager_id
             CROSS JOIN LATERAL (
                   -- the manager kept: one this request deletes is cleared
                   -- (as the key's ON DELETE SET NULL would)
                   SELECT CASE WHEN mgr.id = ANY (v_deleted) THEN NULL ELSE mgr.id END AS id) m
             CROSS JOIN LATERAL (
                   -- why the operation is refused, the first reason in this order; NULL: it passes
                   SELECT CASE WHEN b.op <> 'create' AND u.id IS NULL THEN 'not_found'
                               WHEN b.rank > 1 THEN 'twice'
                               WHEN b.op <> 'create' AND b.expected <> u.version THEN 'version'
                               WHEN b.op IN ('put', 'patch') AND f.user_name IS DISTINCT FROM u.user_name
                                   THEN 'immutable'
                               WHEN b.op = 'create' AND (b.name_rank > 1 OR EXISTS (
                                        SELECT 1 FROM userbulk.users t WHERE t.user_name = b.user_name))
                                   THEN 'name_taken'
                               WHEN b.op = 'delete' THEN NULL
                               -- (stored values are valid: the keys hold them)
                               WHEN (b.set & 2048 <> 0 OR b.op = 'create')
                                    AND f.department_code IS NOT NULL AND d.code IS NULL THEN 'department'
                               WHEN (b.set & 4096 <> 0 OR b.op = 'create') AND f.manager IS NOT NULL
                                    AND (mgr.id IS NULL OR mgr.id = u.id OR mgr.id = ANY (v_deleted))
                                   THEN 'manager'
                          END AS why) r);

            LOOP
                -- 3. Addresses, against the batch's final state: the
                -- operations that ask for another address than their
                -- user's, and the deletions, which free theirs. The work
                -- set is written again only when an address is taken.
                SELECT array_agg(x.idx ORDER BY x.idx), array_agg(x.user_id ORDER BY x.idx),
                       array_agg(CASE WHEN x.op <> 'delete' THEN userbulk.fold_email(x.email) END
                                 ORDER BY x.idx)
                  INTO v_ask_idx, v_ask_user, v_ask_addr
                  FROM unnest(v_work) x
                 WHERE x.status = 0 AND (x.op = 'delete' OR x.after ? 'email');
                v_taken := ARRAY(SELECT t.idx FROM userbulk.email_taken(
                                     coalesce(v_ask_idx, '{}'), coalesce(v_ask_user, '{}'),
                                     coalesce(v_ask_addr, '{}')) t);
                IF cardinality(v_taken) > 0 THEN
                    v_work := ARRAY(
                        SELECT CASE WHEN w.idx = ANY (v_taken)
                                    THEN jsonb_populate_record(w, '{"status": 409, "field": "emails",
                                             "code": "uniqueness",
                                             "message": "is already the address of another user"}')
                                    ELSE w END
                          FROM unnest(v_work) w
                         ORDER BY w.idx);
                END IF;

                -- 3b. failOnErrors: the operations after the N-th error (in
                -- request order, the module's counted) are not performed
                -- (status -1), and the addresses decided again without
                -- them: an earlier operation may have counted on one (an
                -- address it frees). The cut only moves earlier: this ends.
                EXIT WHEN v_budget IS NULL;
                SELECT e.idx INTO v_cut
                  FROM (SELECT f.idx, row_number() OVER (ORDER BY f.idx) AS n
                          FROM (SELECT w.idx FROM unnest(v_work) w WHERE w.status > 0
                                UNION ALL SELECT unnest(v_failed)) f) e
                 WHERE e.n = v_budget;
                EXIT WHEN v_cut IS NULL OR NOT EXISTS (
                    SELECT 1 FROM unnest(v_work) w WHERE w.idx > v_cut AND w.status <> -1);
                v_work := ARRAY(
                    SELECT CASE WHEN w.idx > v_cut
                                THEN jsonb_populate_record(w, '{"status": -1}')
                                WHEN w.status = 409 AND w.field = 'emails'
                                THEN jsonb_populate_record(w, '{"status": 0, "field": null,
                                         "code": null, "message": null}')
                                ELSE w END
                      FROM unnest(v_work) w
                     ORDER BY w.idx);
            END LOOP;

            -- 4. Apply, unless this is a dry run or an atomic request of
            -- which an operation failed (those lock the same users and
            -- apply nothing).
            SELECT count(*) FILTER (WHERE w.status = 0 AND w.after IS NOT NULL),
                   count(*) FILTER (WHERE w.status = 0 AND w.after IS NOT NULL
                                      AND w.op IN ('put', 'patch')),
                   count(*) FILTER (WHERE w.status = 0 AND w.op IN ('put', 'patch')),
                   count(*) FILTER (WHERE w.status = 0 AND w.op = 'create'),
                   count(*) FILTER (WHERE w.status <> 0),
                   count(*) FILTER (WHERE w.status = 0 AND w.op IN ('put', 'patch')
                                      AND w.after ? 'email')
              INTO v_changes, v_expect, v_locking, v_creates, v_refused, v_moves
              FROM unnest(v_work) w;
            v_apply := NOT v_dry AND NOT (v_atomic AND (
                           coalesce((p_options ->> 'failed')::boolean, false) OR v_refused > 0));
            -- (the request's id before the writes: each changed user's row
            -- names it as the head of its history, userbulk.user_history)
            v_request := CASE WHEN v_apply AND v_changes > 0
                              THEN nextval('userbulk.audit_request_id_seq') END;
            -- (the addresses' entries move in 4b, not by the row trigger
            -- of users: migration 023)
            IF v_apply AND v_moves > 0 THEN
                PERFORM set_config('userbulk.writes_emails', 'on', true);
            END IF;
            IF v_lock_all THEN
                -- (locked in step 1) Deletions first (they free
                -- addresses), then the changes (one statement: swaps hold,
                -- the address constraint is checked at its end).
                IF v_apply AND v_changes > 0 THEN
                    DELETE FROM userbulk.users u
                     USING unnest(v_work) w
                     WHERE w.op = 'delete' AND w.status = 0
                       AND u.id = w.user_id AND u.account_id = v_account;
                    UPDATE userbulk.users u
                       SET email = w.email, first_name = w.first_name,
                           middle_name = w.middle_name, last_name = w.last_name,
                           display_name = w.display_name, phone1 = w.phone1, phone2 = w.phone2,
                           locked_out = w.locked_out, external_id = w.external_id,
                           employee_code = w.employee_code, department_code = w.department_code,
                           manager_id = w.manager_id,
                           version = u.version + 1, updated_at = now(), updated_by = p_actor,
                           last_change = v_request
                      FROM unnest(v_work) w
                     WHERE w.op IN ('put', 'patch') AND w.status = 0 AND w.after IS NOT NULL
                       AND u.id = w.user_id AND u.account_id = v_account;
                END IF;
            ELSE
                -- The users of the operations that pass, in id order, each
                -- found where step 2 read it (a TID scan, no second index
                -- lookup) and only at the version it read (one operation
                -- per user passes: step 2 refuses a user named twice). When
                -- every one of them changes (a /Bulk of changes, the usual
                -- case), the UPDATE takes their locks itself as it reaches
                -- them, in id order (its outer side sorted, a nested loop
                -- over the TID scan; a deadlock, were it ever planned
                -- otherwise, is retried): one write of each row. Otherwise
                -- (some only set what is stored, or this run applies
                -- nothing: a dry run, an atomic request with a refusal)
                -- they are all locked first, in id order, and the changing
                -- ones then updated. If one changed since step 2 read it
                -- (its row no longer there, or at another version: skipped,
                -- and a count falls short), nothing of this attempt stays
                -- (UBLCK rolls back to the savepoint, which also releases
                -- the locks, so locking all in id order next cannot
                -- deadlock). A locked row stays where it is until this
                -- transaction updates it.
                IF v_locking > 0 AND NOT (v_apply AND v_expect = v_locking) THEN
                    SELECT count(*) FILTER (WHERE l.moved), count(*) INTO v_moved, v_locked
                      FROM (SELECT u.version <> w.stored AS moved
                              FROM unnest(v_work) w
                              JOIN userbulk.users u ON u.ctid = w.at AND u.id = w.user_id
                                                  AND u.account_id = v_account
                             WHERE w.status = 0 AND w.op IN ('put', 'patch')
                             ORDER BY u.id
                               FOR NO KEY UPDATE OF u) l;
                    IF v_moved > 0 OR v_locked <> v_locking THEN
                        RAISE EXCEPTION 'a user changed meanwhile' USING ERRCODE = 'UBLCK';
                    END IF;
                END IF;
                IF v_apply AND v_expect > 0 THEN
                    WITH changed AS (
                        UPDATE userbulk.users u
                           SET email = w.email, first_name = w.first_name,
                               middle_name = w.middle_name, last_name = w.last_name,
                               display_name = w.display_name, phone1 = w.phone1,
                               phone2 = w.phone2, locked_out = w.locked_out,
                               external_id = w.external_id, employee_code = w.employee_code,
                               department_code = w.department_code, manager_id = w.manager_id,
                               version = u.version + 1, updated_at = now(), updated_by = p_actor,
                               last_change = v_request
                          FROM (SELECT * FROM unnest(v_work) x
                                 WHERE x.status = 0 AND x.op IN ('put', 'patch')
                                   AND x.after IS NOT NULL
                                 ORDER BY x.user_id OFFSET 0) w
                         WHERE u.ctid = w.at AND u.id = w.user_id AND u.version = w.stored
                           AND u.account_id = v_account
                        RETURNING 1)
                    SELECT count(*) INTO v_done FROM changed;
                    IF v_done < v_expect THEN
                        RAISE EXCEPTION 'a user changed meanwhile' USING ERRCODE = 'UBLCK';
                    END IF;
                END IF;
            END IF;

            -- 4b. The new addresses in user_emails (migration 023,
            -- userbulk.move_addresses), which holds them unique, before the
            -- creations: an address a change frees may be one's. (A
            -- deletion's entry went with its user, by the trigger.)
            IF v_apply AND v_moves > 0 THEN
                SELECT array_agg(w.user_id), array_agg(userbulk.fold_email(w.before ->> 'email')),
                       array_agg(userbulk.fold_email(w.email))
                  INTO v_movers, v_from, v_to
                  FROM unnest(v_work) w
                 WHERE w.status = 0 AND w.op IN ('put', 'patch') AND w.after ? 'email';
                PERFORM userbulk.move_addresses(v_account, v_movers, v_from, v_to);
            END IF;
            IF v_creates > 0 AND (v_apply OR v_diff) THEN
                v_defaults := ARRAY(SELECT ro.id FROM userbulk.roles ro
                                     WHERE ro.account_id = v_account AND ro.is_default
                                     ORDER BY ro.id);
            END IF;
            IF v_apply AND v_creates > 0 THEN
                INSERT INTO userbulk.users (id, account_id, user_name, email, first_name,
                                            middle_name, last_name, display_name, phone1,
                                            phone2, locked_out, external_id, employee_code,
                                            department_code, manager_id, updated_by, last_change)
                     SELECT w.user_id, v_account, w.user_name, w.email, w.first_name,
                            w.middle_name, w.last_name, w.display_name, w.phone1, w.phone2,
                            w.locked_out, w.external_id, w.employee_code, w.department_code,
                            w.manager_id, p_actor, v_request
                       FROM unnest(v_work) w
                      WHERE w.op = 'create' AND w.status = 0;
                -- the account's default roles, as the seed gives its users
                INSERT INTO userbulk.user_roles (account_id, user_id, role_id)
                     SELECT v_account, w.user_id, r
                       FROM unnest(v_work) w CROSS JOIN unnest(v_defaults) AS r
                      WHERE w.op = 'create' AND w.status = 0;
            END IF;
            IF v_apply AND v_changes > 0 THEN
                INSERT INTO userbulk.audit_request (id, account_id, actor, trace_id, endpoint)
                     VALUES (v_request, v_account, p_actor, p_trace, 'scim');
                -- (a user's row after the one before: a creation has none,
                -- a deletion ends the chain its row headed)
                INSERT INTO userbulk.audit_change (request_id, account_id, user_id, before, after,
                                                   prev_request)
                     SELECT v_request, v_account, w.user_id, w.before,
                            CASE WHEN w.op = 'create'
                                 THEN w.after || jsonb_build_object('roles', to_jsonb(v_defaults))
                                 ELSE w.after END,
                            w.last_change
                       FROM unnest(v_work) w
                      WHERE w.status = 0 AND w.after IS NOT NULL;
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

    -- An operation that passed answers the version it gives (a dry run:
    -- would give); in an atomic request that failed, it was not applied.
    -- With "diff", the one that changes its user answers the audit row's
    -- before and after (the same expressions as the insert above).
    RETURN QUERY
        SELECT w.idx,
               CASE WHEN w.status <> 0 THEN w.status
                    WHEN NOT v_apply AND NOT v_dry THEN 424
                    WHEN w.op = 'create' THEN 201
                    WHEN w.op = 'delete' THEN 204
                    ELSE 200 END,
               w.user_id,
               CASE WHEN w.status <> 0 OR w.op = 'delete' OR (NOT v_apply AND NOT v_dry) THEN NULL
                    WHEN w.op = 'create' THEN 1::bigint
                    ELSE w.stored + CASE WHEN w.after IS NOT NULL THEN 1 ELSE 0 END END,
               CASE WHEN w.status <> 0 THEN w.field END,
               CASE WHEN w.status <> 0 THEN w.code
                    WHEN NOT v_apply AND NOT v_dry THEN 'not_applied' END,
               CASE WHEN w.status <> 0 THEN w.message
                    WHEN NOT v_apply AND NOT v_dry
                        THEN 'not applied: the request is atomic and another of its operations failed' END,
               CASE WHEN v_resources AND v_apply AND w.status = 0 AND w.op <> 'delete' THEN
                        (SELECT userbulk.scim_resource(u, p_base)::json
                           FROM userbulk.users u WHERE u.account_id = v_account AND u.id = w.user_id)
                    WHEN v_resources AND NOT v_apply AND w.status = 0 AND w.op <> 'delete'
                         AND w.op <> 'create' AND w.after IS NULL THEN
                        (SELECT userbulk.scim_resource(u, p_base)::json
                           FROM userbulk.users u WHERE u.account_id = v_account AND u.id = w.user_id)
               END,
               CASE WHEN v_diff AND (v_apply OR v_dry) AND w.status = 0 AND w.after IS NOT NULL
                    THEN w.before END,
               CASE WHEN v_diff AND (v_apply OR v_dry) AND w.status = 0 AND w.after IS NOT NULL
                    THEN CASE WHEN w.op = 'create'
                              THEN w.after || jsonb_build_object('roles', to_jsonb(v_defaults))
                              ELSE w.after END END
          FROM unnest(v_work) w
         ORDER BY w.idx;
END
$fn$;
