-- SCIM 2.0, creation (RFC 7644 section 3.3): POST /scim/v2/Users. Entry
-- function: scim_create_user. Built on scim_users.sql (scim_resource).
--
-- The values come checked by the module (src/scim_users.c: formats and
-- lengths as PUT /users checks them). Uniqueness is the table's: userName
-- across the whole system (users.user_name UNIQUE, exact), the address
-- across the whole system as userbulk.fold_email folds it (email_lower).

-- Creates a user of p_account with the account's default roles, writes
-- the audit trail (endpoint 'scim'; before {}, after the fields created)
-- and answers one row: the new user's version, resource and id (meta.location
-- under p_base), or a refusal as (field, code, message) with the others
-- null: code 'uniqueness' (field userName or emails), 'unknown_account'.
-- A concurrent create of the same userName or address waits for the other
-- transaction at the unique index and then fails with unique_violation:
-- caught here, it is the same refusal, never an error.
CREATE OR REPLACE FUNCTION userbulk.scim_create_user(
    p_account text, p_actor text, p_trace text, p_user_name text, p_email text,
    p_given_name text, p_middle_name text, p_family_name text, p_display_name text,
    p_phone1 text, p_phone2 text, p_locked_out boolean, p_base text)
RETURNS TABLE (version bigint, resource json, field text, code text, message text, id uuid)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    v_account uuid := (SELECT a.id FROM userbulk.accounts a WHERE a.code = p_account);
    v_user    userbulk.users;
    v_roles   uuid[];
    v_request bigint;
    v_constraint text;
BEGIN
    IF v_account IS NULL THEN
        RETURN QUERY SELECT NULL::bigint, NULL::json, NULL::text, 'unknown_account'::text,
                            'the token''s account is not in the directory'::text, NULL::uuid;
        RETURN;
    END IF;
    -- Checked first for the answer's sake (which attribute is taken); the
    -- unique indexes below decide under concurrency.
    IF EXISTS (SELECT 1 FROM userbulk.users u WHERE u.user_name = p_user_name) THEN
        RETURN QUERY SELECT NULL::bigint, NULL::json, 'userName'::text, 'uniqueness'::text,
                            'is already the userName of a user'::text, NULL::uuid;
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM userbulk.users u
                WHERE u.email_lower = userbulk.fold_email(p_email)) THEN
        RETURN QUERY SELECT NULL::bigint, NULL::json, 'emails'::text, 'uniqueness'::text,
                            'is already the address of another user'::text, NULL::uuid;
        RETURN;
    END IF;
    BEGIN
        INSERT INTO userbulk.users (account_id, user_name, email, first_name, middle_name,
                                    last_name, display_name, phone1, phone2, locked_out,
                                    updated_by)
             VALUES (v_account, p_user_name, p_email, p_given_name, p_middle_name,
                     p_family_name, p_display_name, p_phone1, p_phone2, p_locked_out, p_actor)
          RETURNING * INTO v_user;
    EXCEPTION WHEN unique_violation THEN
        GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
        RETURN QUERY SELECT NULL::bigint, NULL::json,
                            CASE WHEN v_constraint = 'users_email_unique' THEN 'emails'
                                 ELSE 'userName' END,
                            'uniqueness'::text,
                            CASE WHEN v_constraint = 'users_email_unique'
                                 THEN 'is already the address of another user'
                                 ELSE 'is already the userName of a user' END, NULL::uuid;
        RETURN;
    END;
    -- The account's default roles, as the seed gives its users.
    WITH r AS (
        INSERT INTO userbulk.user_roles (account_id, user_id, role_id)
             SELECT v_account, v_user.id, ro.id FROM userbulk.roles ro
              WHERE ro.account_id = v_account AND ro.is_default
        RETURNING role_id)
    SELECT coalesce(array_agg(r.role_id ORDER BY r.role_id), '{}') INTO v_roles FROM r;

    INSERT INTO userbulk.audit_request (account_id, actor, trace_id, endpoint)
         VALUES (v_account, p_actor, p_trace, 'scim')
      RETURNING id INTO v_request;
    INSERT INTO userbulk.audit_change (request_id, account_id, user_id, before, after)
         VALUES (v_request, v_account, v_user.id, '{}'::jsonb,
                 jsonb_strip_nulls(jsonb_build_object(
                     'userName', p_user_name, 'email', p_email, 'firstName', p_given_name,
                     'middleName', p_middle_name, 'lastName', p_family_name,
                     'displayName', p_display_name, 'phoneNumber', p_phone1,
                     'phoneNumber2', p_phone2, 'lockedOut', p_locked_out))
                 || jsonb_build_object('roles', to_jsonb(v_roles)));
    RETURN QUERY SELECT v_user.version, userbulk.scim_resource(v_user, p_base)::json,
                        NULL::text, NULL::text, NULL::text, v_user.id;
END
$fn$;
