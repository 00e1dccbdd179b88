-- userbulk.scim_group* (src/sql/functions/scim_groups.sql), called as the
-- module calls them, as the API role. Fixtures: lib/setup.sql (roles
-- Reader a1 with u1, Writer a2; tap2's Foreign a9 and x1).
\ir lib/setup.sql
SELECT plan(22);
SET LOCAL ROLE userbulk_api;

SELECT is((SELECT resource -> 'members' -> 0 ->> 'display'
             FROM userbulk.scim_group('tap', '7a000000-0000-4000-8000-0000000000a1', NULL, NULL, 'https://h', 10)),
          'u1.tap', 'GET: members with display = userName');
SELECT is((SELECT (resource -> 'members') IS NULL
             FROM userbulk.scim_group('tap', '7a000000-0000-4000-8000-0000000000a1', NULL, '["members"]', 'https://h', 10)),
          true, 'excludedAttributes=members: no members');
SELECT is((SELECT status FROM userbulk.scim_group('tap', '7a000000-0000-4000-8000-0000000000a9', NULL, NULL, '', 10)),
          404, 'another account''s role: 404');
SELECT is((SELECT status::text || scim_type
             FROM userbulk.scim_group('tap', '7a000000-0000-4000-8000-0000000000a1', NULL, NULL, '', 0)),
          '400tooMany', 'more members than a response lists: tooMany');
SELECT is((SELECT resource ->> 'totalResults'
             FROM userbulk.scim_groups('tap', '{"op":"eq","a":"displayname","ci":true,"v":"WRITER"}', 1, 10,
                                       NULL, NULL, '', 10)),
          '1', 'list: displayName eq, without case');
SELECT is((SELECT resource ->> 'totalResults'
             FROM userbulk.scim_groups('tap', NULL, 1, 10, NULL, NULL, '', 10)),
          '2', 'list: the account''s roles only');

CREATE TEMP TABLE tag0 AS
    SELECT etag FROM userbulk.scim_group('tap', '7a000000-0000-4000-8000-0000000000a2', NULL, NULL, '', 10);
-- PATCH: add u2, u3 to Writer
SELECT is((SELECT status FROM userbulk.scim_group_change('tap', 'alice', 'tr-g1', '7a000000-0000-4000-8000-0000000000a2',
           NULL, false, ARRAY['7a000000-0000-4000-8000-000000000102', '7a000000-0000-4000-8000-000000000103'],
           '{}', NULL, '', 10, false)), NULL, 'PATCH add: applied');
RESET ROLE;
SET LOCAL ROLE userbulk;
SELECT is((SELECT string_agg(u.user_name || ':' || u.version, ',' ORDER BY u.user_name)
             FROM userbulk.user_roles ur JOIN userbulk.users u ON u.id = ur.user_id
            WHERE ur.role_id = '7a000000-0000-4000-8000-0000000000a2'), 'u2.tap:2,u3.tap:2',
          '... members added, their versions bumped');
SELECT is((SELECT string_agg(c.before::text || '>' || (c.after -> 'roles' ->> 0), ',')
             FROM userbulk.audit_request r JOIN userbulk.audit_change c ON c.request_id = r.id
            WHERE r.trace_id = 'tr-g1' AND r.endpoint = 'scim'),
          '{"roles": []}>7a000000-0000-4000-8000-0000000000a2,{"roles": []}>7a000000-0000-4000-8000-0000000000a2',
          '... audit: endpoint scim, roles before and after');
SET LOCAL ROLE userbulk_api;
SELECT is((SELECT status FROM userbulk.scim_group_change('tap', 'alice', 'tr-g2', '7a000000-0000-4000-8000-0000000000a2',
           NULL, false, '{}', '{}', ARRAY[(SELECT etag FROM tag0)], '', 10, false)), 412,
          'If-Match with the ETag before the change: 412');
SELECT is((SELECT status::text || scim_type || detail FROM userbulk.scim_group_change('tap', 'alice', 'tr-g3',
           '7a000000-0000-4000-8000-0000000000a2', NULL, false,
           ARRAY['7a000000-0000-4000-8000-000000000104', '7a000000-0000-4000-8000-000000000109'], '{}', NULL, '', 10, false)),
          '400invalidValuemembers: 7a000000-0000-4000-8000-000000000109 is no user of the account',
          'another account''s user as a member: 400 naming it');
SELECT is((SELECT status::text || scim_type FROM userbulk.scim_group_change('tap', 'alice', 'tr-g4',
           '7a000000-0000-4000-8000-0000000000a2', 'Reader', false, '{}', '{}', NULL, '', 10, false)),
          '409uniqueness', 'rename to a name the account has: 409 uniqueness');
SELECT is((SELECT status::text || scim_type FROM userbulk.scim_group_change('tap', 'alice', 'tr-g5',
           '7a000000-0000-4000-8000-0000000000a2', NULL, true, '{}', '{}', NULL, '', 1, false)),
          '400tooMany', 'a change of more users than allowed: tooMany');
-- replace: u4 only, renamed
SELECT is((SELECT resource -> 'members' -> 0 ->> 'value' || ' ' || (resource ->> 'displayName')
             FROM userbulk.scim_group_change('tap', 'alice', 'tr-g6', '7a000000-0000-4000-8000-0000000000a2',
                  'Editors', true, ARRAY['7a000000-0000-4000-8000-000000000104'], '{}', NULL, '', 10, true)),
          '7a000000-0000-4000-8000-000000000104 Editors', 'PUT: members replaced, renamed');
RESET ROLE;
SET LOCAL ROLE userbulk;
SELECT is((SELECT count(*)::int FROM userbulk.audit_request r JOIN userbulk.audit_change c ON c.request_id = r.id
            WHERE r.trace_id IN ('tr-g2', 'tr-g3', 'tr-g4', 'tr-g5')), 0, 'refusals change nothing, audit nothing');
SELECT is((SELECT count(*)::int FROM userbulk.audit_change c JOIN userbulk.audit_request r ON r.id = c.request_id
            WHERE r.trace_id = 'tr-g6'), 3, 'PUT: three users changed (two out, one in)');
SET LOCAL ROLE userbulk_api;
-- create, with a member
SELECT is((SELECT (resource ->> 'displayName') || ' ' || (resource -> 'members' -> 0 ->> 'display')
             FROM userbulk.scim_group_create('tap', 'alice', 'tr-g7', 'New group',
                  ARRAY['7a000000-0000-4000-8000-000000000105'], '', 10)),
          'New group u5.tap', 'POST: the role created with its member');
SELECT is((SELECT status::text || scim_type FROM userbulk.scim_group_create('tap', 'alice', 'tr-g8', 'Reader', '{}', '', 10)),
          '409uniqueness', 'POST of a name the account has: 409');
SELECT is((SELECT status::text || scim_type FROM userbulk.scim_group_create('tap', 'alice', 'tr-g9', 'Bad',
           ARRAY['nope'], '', 10)), '400invalidValue', 'POST with a stranger as member: 400');
-- delete
SELECT is((SELECT id IS NOT NULL FROM userbulk.scim_group_delete('tap', 'alice', 'tr-g10',
           (SELECT x ->> 'id' FROM userbulk.scim_groups('tap', '{"op":"eq","a":"displayname","ci":true,"v":"new group"}', 1, 1, NULL, NULL, '', 10) g
              CROSS JOIN LATERAL json_array_elements(g.resource -> 'Resources') r(x)), NULL, 10)),
          true, 'DELETE: the role goes');
RESET ROLE;
SET LOCAL ROLE userbulk;
SELECT is((SELECT count(*)::int FROM userbulk.roles WHERE name IN ('New group', 'Bad')), 0,
          '... and the refused create made nothing');
SELECT is((SELECT (c.after ->> 'roles') FROM userbulk.audit_change c JOIN userbulk.audit_request r ON r.id = c.request_id
            WHERE r.trace_id = 'tr-g10'), '[]', '... its member lost it, in the audit trail');
SELECT * FROM finish();
ROLLBACK;
