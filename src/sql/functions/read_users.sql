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
                                    JOIN userbulk.roles r ON r.account_id = ur.account_id AND r.id = ur.role_id
                                   WHERE ur.account_id = u.account_id AND ur.user_id = u.id), '[]'::json),
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
