-- userbulk.get_users (src/sql/functions/read_users.sql), called directly.
\ir lib/setup.sql
SELECT plan(6);

SELECT is(userbulk.get_users('tap', '[]')::text, '[]', 'no names: an empty list');
SELECT is(userbulk.get_users('tap', '["nobody.tap", "x1.tap2"]')::text, '[]',
          'unknown users and other accounts'' users are left out');
SELECT is((SELECT json_agg(e ->> 'userName')::text FROM json_array_elements(userbulk.get_users('tap', '["u3.tap", "nobody.tap", "u1.tap"]')) e),
          '["u3.tap", "u1.tap"]', 'in the order named');
SELECT is(userbulk.get_users('tap', '["u1.tap"]')::jsonb,
          '[{"name": {"lastName": "Tap", "firstName": "U1", "middleName": null}, "email": "u1@tap.example",
             "roles": [{"roleId": "7a000000-0000-4000-8000-0000000000a1", "roleName": "Reader"}],
             "version": 1, "userName": "u1.tap", "lockedOut": false, "locationId": null, "userAccess":
             {"AccessComplete": false, "AccessAutomation": false, "AccessCertification": false, "AccessOperationalMatching": false},
             "phoneNumber": null, "departmentId": null, "programAdminRoleId": null}]'::jsonb,
          'a user as PUT /users takes it, with its read-only flags and version');
SELECT is((userbulk.get_users('tap', '["u2.tap"]') -> 0 -> 'userAccess')::jsonb,
          '{"AccessComplete": true, "AccessAutomation": true, "AccessCertification": true, "AccessOperationalMatching": true}',
          'the read-only flags as stored');
SELECT is(userbulk.get_users('nope', '["u1.tap"]')::text, '[]', 'an unknown account has no users');

SELECT * FROM finish();
ROLLBACK;
