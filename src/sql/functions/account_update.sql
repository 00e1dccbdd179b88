-- POST /api/v1/account/users/update: one change applied to every target
-- alike, all or nothing. p_change holds only what the caller sent (see
-- src/account_request.c): "targets" and the fields to set; and the
-- request's options: "if_match" (If-Match), "diff" (?diff=true: answer
-- each changed target's fields before and after, the very values written
-- to audit_change). A dry run is this same call, rolled back by the
-- module (src/store.c): the same checks, locks and answer.
CREATE OR REPLACE FUNCTION userbulk.account_update(
    p_account text, p_actor text, p_trace text, p_change jsonb)
RETURNS SETOF userbulk.account_update_row
LANGUAGE plpgsql
SET timezone = 'UTC'     -- a date without an offset is UTC
SET jit = off
-- Each statement planned for this call's arrays. A session's pooled
-- connection calls this again and again, and after five calls PostgreSQL
-- would switch to a generic plan, costed for arrays of unknown size as if
-- they held ten elements: a nested loop comparing every target with every
-- target's roles, quadratic in the targets.
SET plan_cache_mode = force_custom_plan
AS $fn$
DECLARE
    v_account  uuid;
    v_ids      uuid[];
    -- the targets whose address changes, from and to (folded)
    v_moved    uuid[];
    v_from     text[];
    v_roles    uuid[];
    v_used     uuid[];
    v_status   uuid[];
    v_set      jsonb;      -- what the change sets, by column (audit names)
    v_new      userbulk.users;   -- the same, typed
    v_at       tid[];      -- where the targets are, once locked
    v_bad      text;
    v_attempt  integer := 0;
    v_rows     bigint;
    v_request  bigint;     -- the audit request's id, taken before the writes
    v_row      userbulk.account_update_row;   -- a role row, set by name
    v_diff     boolean := coalesce((p_change ->> 'diff')::boolean, false);
    -- with "diff": the changed targets and their audit rows' before and
    -- after, as the statement that writes them answered them
    v_users    userbulk.account_update_row[];  -- the targets' rows, in order
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
            -- looking each up by key again. (Each target looked up by its
            -- own key, not by "= ANY (v_ids)": a row a concurrent request
            -- changed while this one waited is checked again, and that
            -- rescan would sort the whole array once per such row. The
            -- keys are looked up in their order: one lookup finds the
            -- index pages the one before it read, and the rows come out in
            -- the order they are locked in.)
            SELECT coalesce(array_agg(l.at), '{}') INTO v_at FROM (
                SELECT u.ctid AS at
                  FROM (SELECT DISTINCT x FROM unnest(v_ids) AS x ORDER BY x) t
                  JOIN userbulk.users u ON u.id = t.x
                 WHERE u.account_id = v_account
                 ORDER BY u.id
                   FOR NO KEY UPDATE OF u) l;
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
                    WHERE u.account_id = v_account AND u.id = v_ids[1] AND u.version <> (p_change ->> 'if_match')::bigint) THEN
                RETURN NEXT userbulk.refusal('Conflict', 'conflict',
                    format('If-Match: the user is at version %s, not %s',
                           (SELECT u.version FROM userbulk.users u
                             WHERE u.account_id = v_account AND u.id = v_ids[1]),
                           p_change ->> 'if_match'));
                RETURN;
            END IF;

            -- What the change sets, under the users table's column names
            -- (but "name" for display_name, and "role_ids"): the names of
            -- the audit trail.
            v_set := p_change - 'targets' - 'role_ids' - 'status_uuid' - 'status_code'
                     - 'status_num' - 'activation_date' - 'expiry_date' - 'if_match' - 'diff';

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
                   SELECT 1 FROM userbulk.user_emails e
                    WHERE e.email_lower = userbulk.fold_email(p_change ->> 'email') AND e.user_id <> v_ids[1]) THEN
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
            -- fields that change, before and after. (cur keeps the fields
            -- the change can set, not the whole row.) upd gives each
            -- relinked target the role ids del and ins leave it: 017's
            -- triggers need not count them again (userbulk.writes_role_ids,
            -- for this statement; a failure rolls the setting back with the
            -- savepoint).
            PERFORM set_config('userbulk.writes_role_ids', 'on', true);
            -- (the request's id before the writes: each changed target's
            -- row names it as the head of its history, and its audit row
            -- links to the head it had, userbulk.user_history; unused
            -- when nothing changes)
            v_request := nextval('userbulk.audit_request_id_seq');
            WITH cur AS MATERIALIZED (
                SELECT u.id, u.ctid AS at, r.ids AS role_ids, g.drop_at, u.last_change,
                       u.team_id, u.status_id, u.timezone_id, u.reset_password_state,
                       u.activation_date, u.expiry_date, u.is_sso_user, u.is_employee,
                       u.is_two_factor_enabled, u.display_name, u.first_name, u.middle_name,
                       u.last_name, u.phone1, u.phone2, u.email, u.login_name,
                       u.employee_code, u.profile_pic,
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
                  -- the target's roles (compared, and answered), from its
                  -- row (017 keeps them equal to its links)
                 CROSS JOIN LATERAL (SELECT u.role_ids AS ids) r
                  -- where the links the change takes away are (del): read
                  -- only for a target that holds a role the change takes away
                  LEFT JOIN LATERAL (
                       SELECT array_agg(ur.ctid) AS drop_at
                         FROM userbulk.user_roles ur
                        WHERE s_roles AND NOT (u.role_ids <@ v_roles)
                          AND ur.user_id = u.id AND ur.account_id = v_account
                          AND NOT (ur.role_id = ANY (v_roles))) g ON true
                 WHERE u.ctid = ANY (v_at) AND u.account_id = v_account
            ), diff AS MATERIALIZED (
                -- ('{}' || x and x || '{}' copy nothing: only changed
                -- fields cost.)
                SELECT c.id, c.at, c.role_ids, c.drop_at, c.c_roles, c.last_change,
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
                -- (Not the address: below.)
                UPDATE userbulk.users u SET
                       display_name = CASE WHEN s_name THEN v_new.display_name ELSE u.display_name END,
                       first_name = CASE WHEN s_first THEN v_new.first_name ELSE u.first_name END,
                       middle_name = CASE WHEN s_middle THEN v_new.middle_name ELSE u.middle_name END,
                       last_name = CASE WHEN s_last THEN v_new.last_name ELSE u.last_name END,
                       phone1 = CASE WHEN s_phone1 THEN v_new.phone1 ELSE u.phone1 END,
                       phone2 = CASE WHEN s_phone2 THEN v_new.phone2 ELSE u.phone2 END,
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
                       role_ids = CASE WHEN d.c_roles THEN v_roles ELSE u.role_ids END,
                       version = u.version + 1, updated_at = now(), updated_by = p_actor,
                       last_change = v_request
                  FROM diff d
                 -- by place, not by key: the row is locked, it has not
                 -- moved since cur read it
                 WHERE u.ctid = d.at AND u.id = d.id AND u.account_id = v_account
                -- (with "diff", the audit row's values travel back with
                -- the row: no second pass over diff)
                RETURNING u.id,
                          CASE WHEN v_diff THEN d.before END AS before,
                          CASE WHEN v_diff THEN d.after END AS after
            ), del AS (
                -- The links cur found outside the change, by place: they
                -- were read under their users' locks, and every writer of
                -- user_roles locks the user first, so they are still there
                -- (no second lookup by key).
                DELETE FROM userbulk.user_roles ur
                 WHERE ur.ctid = ANY (ARRAY(SELECT unnest(d.drop_at) FROM diff d WHERE d.c_roles))
                   AND ur.account_id = v_account AND NOT (ur.role_id = ANY (v_roles))
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
                INSERT INTO userbulk.audit_request (id, account_id, actor, trace_id, endpoint)
                SELECT v_request, v_account, p_actor, p_trace, 'POST /api/v1/account/users/update'
                 WHERE EXISTS (SELECT 1 FROM diff)
                RETURNING id
            ), aud AS (
                -- and each changed target's fields, after its audit row before
                INSERT INTO userbulk.audit_change (request_id, account_id, user_id, before, after,
                                                   prev_request)
                SELECT q.id, v_account, d.id, d.before, d.after, d.last_change
                  FROM diff d CROSS JOIN req q
                RETURNING 1
            )
            -- upd, del, ins, req and aud run regardless (data-modifying WITH).
            -- The answer: each target as it is now, in the order of the
            -- targets, as the fields of the seed's user model (the columns
            -- in the order of the type; the five before user_id are a
            -- refusal's and a role's, null here). A target is what cur read
            -- under its lock with the fields the change sets replaced, as
            -- upd (and, for the address, the UPDATE below) wrote it: the
            -- rows are not read a second time. The few statuses, time
            -- zones and teams are read once each. With "diff", a changed
            -- target carries its audit row's before and after.
            SELECT array_agg(ROW('user', NULL, NULL, NULL, NULL, NULL,
                       n.id, n.role_ids,
                       n.display_name, n.first_name, n.middle_name, n.last_name,
                       n.phone1, n.phone2, n.login_name, n.reset_password_state,
                       userbulk.iso(n.activation_date), userbulk.iso(n.expiry_date),
                       s.id, s.name, s.code, s.status_id, s.color,
                       n.email,
                       tz.id, tz.name, tz.code, tz.supports_dst, tz.daylight_name,
                       n.profile_pic, n.is_sso_user,
                       tm.id, tm.level_ordinal, tm.name, tm.code, tm.parent_id,
                       n.is_employee, n.employee_code, n.is_two_factor_enabled,
                       x.before, x.after
                   )::userbulk.account_update_row ORDER BY n.ord) INTO v_users
              FROM (SELECT t.ord, c.id,
                           CASE WHEN s_roles THEN v_roles ELSE c.role_ids END AS role_ids,
                           CASE WHEN s_name THEN v_new.display_name ELSE c.display_name END AS display_name,
                           CASE WHEN s_first THEN v_new.first_name ELSE c.first_name END AS first_name,
                           CASE WHEN s_middle THEN v_new.middle_name ELSE c.middle_name END AS middle_name,
                           CASE WHEN s_last THEN v_new.last_name ELSE c.last_name END AS last_name,
                           CASE WHEN s_phone1 THEN v_new.phone1 ELSE c.phone1 END AS phone1,
                           CASE WHEN s_phone2 THEN v_new.phone2 ELSE c.phone2 END AS phone2,
                           CASE WHEN s_email THEN v_new.email ELSE c.email END AS email,
                           CASE WHEN s_login THEN v_new.login_name ELSE c.login_name END AS login_name,
                           CASE WHEN s_code THEN v_new.employee_code ELSE c.employee_code END AS employee_code,
                           CASE WHEN s_pic THEN v_new.profile_pic ELSE c.profile_pic END AS profile_pic,
                           CASE WHEN s_team THEN v_new.team_id ELSE c.team_id END AS team_id,
                           CASE WHEN s_status THEN v_new.status_id ELSE c.status_id END AS status_id,
                           CASE WHEN s_tz THEN v_new.timezone_id ELSE c.timezone_id END AS timezone_id,
                           CASE WHEN s_reset THEN v_new.reset_password_state ELSE c.reset_password_state END AS reset_password_state,
                           CASE WHEN s_act THEN v_new.activation_date ELSE c.activation_date END AS activation_date,
                           CASE WHEN s_exp THEN v_new.expiry_date ELSE c.expiry_date END AS expiry_date,
                           CASE WHEN s_sso THEN v_new.is_sso_user ELSE c.is_sso_user END AS is_sso_user,
                           CASE WHEN s_emp THEN v_new.is_employee ELSE c.is_employee END AS is_employee,
                           CASE WHEN s_2fa THEN v_new.is_two_factor_enabled ELSE c.is_two_factor_enabled END AS is_two_factor_enabled
                      FROM unnest(v_ids) WITH ORDINALITY AS t(id, ord)
                      JOIN cur c ON c.id = t.id) n
              LEFT JOIN userbulk.statuses s ON s.id = n.status_id
              LEFT JOIN userbulk.timezones tz ON tz.id = n.timezone_id
              LEFT JOIN userbulk.teams tm ON tm.account_id = v_account AND tm.id = n.team_id
              -- with "diff", a changed target's audit before and after
              -- (without it, both null)
              LEFT JOIN upd x ON x.id = n.id;
            PERFORM set_config('userbulk.writes_role_ids', '', true);
            -- The address apart, on the one target it can change (see
            -- src/account_request.c): an UPDATE that names the column makes
            -- PostgreSQL compute email_lower (generated, folded by ICU)
            -- again on every row it writes, address changed or not.
            -- Its entry in user_emails moves here, not by the row trigger
            -- of users (userbulk.writes_emails, migration 023), as the
            -- batches' do (userbulk.move_addresses).
            IF s_email THEN
                SELECT array_agg(u.id), array_agg(u.email_lower) INTO v_moved, v_from
                  FROM userbulk.users u
                 WHERE u.account_id = v_account AND u.id = ANY (v_ids)
                   AND u.email IS DISTINCT FROM v_new.email;
                IF v_moved IS NOT NULL THEN
                    PERFORM set_config('userbulk.writes_emails', 'on', true);
                    UPDATE userbulk.users u SET email = v_new.email
                     WHERE u.account_id = v_account AND u.id = ANY (v_moved);
                    PERFORM userbulk.move_addresses(v_account, v_moved, v_from,
                        array_fill(userbulk.fold_email(v_new.email), ARRAY[cardinality(v_moved)]));
                END IF;
            END IF;
            EXIT;
        EXCEPTION
            WHEN OTHERS THEN
                v_attempt := v_attempt + 1;
                -- (23503, which retried takes too: a role, team or target
                -- checked above was deleted before this statement's links
                -- or keys were checked; on fresh data it is refused by
                -- name, as unknown_role ...)
                IF NOT userbulk.retried(SQLSTATE, v_attempt) THEN
                    RAISE;
                END IF;
        END;
    END LOOP;

    -- The answer. First the roles the targets hold, each built once.
    IF s_roles THEN
        v_used := v_roles;          -- every target holds exactly these now
    ELSE
        SELECT coalesce(array_agg(DISTINCT r), '{}') INTO v_used
          FROM unnest(v_users) AS u CROSS JOIN unnest(u.role_ids) AS r;
    END IF;
    -- From here on, statements whose plans do not depend on the arrays'
    -- sizes (a handful of roles): each planned once per session, not at
    -- every call. (The function's SET clause puts the custom plans back
    -- when it returns.)
    PERFORM set_config('plan_cache_mode', 'force_generic_plan', true);
    -- The entry is written by to_json of rows and array_to_json, whose
    -- output is compact (json_build_object's has spaces), so the module
    -- copies it as it is; the keys are the column aliases, in their order.
    v_row.kind := 'role';
    FOR v_row.role_id, v_row.role_model IN
        SELECT r.id, to_json(m)::text
          FROM userbulk.roles r
         CROSS JOIN LATERAL (
               SELECT r.id AS "userRoleId",
                      r.name AS "userRoleName",
                      -- the role's users in the account: the sum of its
                      -- few rows of role_user_counts (migration 013), as
                      -- count(*) of its links in this snapshot would be
                      (SELECT coalesce(sum(c.delta), 0)::bigint FROM userbulk.role_user_counts c
                        WHERE c.account_id = v_account AND c.role_id = r.id) AS "noofUsers",
                      NULL AS "users",
                      coalesce((
                          SELECT array_to_json(array_agg(to_json(pm) ORDER BY p.code))
                            FROM userbulk.role_privileges rp
                            JOIN userbulk.privileges p ON p.id = rp.privilege_id
                            JOIN userbulk.access_types at ON at.id = rp.access_type_id
                            JOIN userbulk.access_levels al ON al.id = rp.access_level_id
                            JOIN userbulk.access_modes am ON am.id = rp.access_mode_id
                           CROSS JOIN LATERAL (
                                 SELECT p.name AS "privilegeName",
                                        p.id AS "privilegeId",
                                        p.code AS "privilegeCode",
                                        (SELECT to_json(x) FROM (SELECT at.name AS "accessTypeName",
                                                                        at.id AS "accessTypeId") x) AS "accessType",
                                        (SELECT to_json(x) FROM (SELECT al.name AS "accessLevelName",
                                                                        al.id AS "accessLevelId") x) AS "accessLevel",
                                        (SELECT to_json(x) FROM (SELECT am.name AS "accessModeName",
                                                                        am.id AS "accessModeId") x) AS "accessMode",
                                        NULL AS "responseDescription") pm
                           WHERE rp.account_id = r.account_id AND rp.role_id = r.id), '[]'::json) AS "privileges",
                      r.is_licensed AS "isLicensed",
                      r.is_default AS "isDefault",
                      NULL AS "responseDescription") m
         WHERE r.account_id = v_account AND r.id = ANY (v_used)
         ORDER BY r.name, r.id
    LOOP
        RETURN NEXT v_row;
    END LOOP;
    -- Then each target, as the statement above wrote it.
    RETURN QUERY SELECT * FROM unnest(v_users);
    -- Every target is answered, or nothing is applied: a target cur did
    -- not find (a place gone stale) fails the whole call, and the module
    -- answers 503 with nothing changed rather than a short answer.
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows <> cardinality(v_ids) THEN
        RAISE EXCEPTION 'account_update: % of % targets read back', v_rows, cardinality(v_ids);
    END IF;
END
$fn$;

-- The statements of the role links' triggers (013, 015) planned once per
-- session, whoever fires them. A trigger's statements run under the
-- settings of the statement that fires it, and this function plans its
-- own at every call (force_custom_plan, above): the triggers' dozen small
-- statements, fired by its links, were planned again at every call too,
-- for nothing (they read the statement's transition tables and a few rows
-- of role_user_counts; no plan of theirs depends on a caller's arrays).
-- (Set here, as privileges.sql sets the entry functions' clauses, on
-- every run.)
ALTER FUNCTION userbulk.role_links_check() SET plan_cache_mode = auto;
ALTER FUNCTION userbulk.role_user_counts_add() SET plan_cache_mode = auto;
