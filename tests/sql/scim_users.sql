-- userbulk.scim_users and scim_user (src/sql/functions/scim_users.sql),
-- called directly with filter descriptions as src/scim_filter.c writes
-- them.
\ir lib/setup.sql
SELECT plan(38);

CREATE FUNCTION pg_temp.names(p_filter jsonb, p_start integer DEFAULT 1, p_count integer DEFAULT 200)
RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(r ->> 'userName', ',' ORDER BY n)
      FROM json_array_elements(userbulk.scim_users('tap', p_filter, p_start, p_count, NULL, NULL,
                                                   'https://h/scim/v2') -> 'Resources')
           WITH ORDINALITY e(r, n)
$$;

SELECT is(pg_temp.names(NULL), 'u1.tap,u2.tap,u3.tap,u4.tap,u5.tap,u6.tap',
          'no filter: the account''s users in id order, other accounts'' left out');
SELECT is(pg_temp.names('{"op":"eq","a":"username","ci":true,"v":"U3.TAP"}'), 'u3.tap',
          'userName eq: without case');
SELECT is(pg_temp.names('{"op":"eq","a":"id","ci":false,"v":"7a000000-0000-4000-8000-000000000102"}'), 'u2.tap',
          'id eq');
SELECT is(pg_temp.names('{"op":"eq","a":"username","ci":true,"v":"x1.tap2"}'), NULL,
          'another account''s user: not found');
SELECT is(pg_temp.names('{"op":"or","l":{"op":"sw","a":"emails.value","ci":true,"v":"U1@"},
                          "r":{"op":"and","l":{"op":"ew","a":"username","ci":true,"v":"6.tap"},
                               "r":{"op":"eq","a":"active","ci":true,"v":true}}}'), 'u1.tap,u6.tap',
          'or, and, sw, ew, active');
SELECT is(pg_temp.names('{"op":"not","e":{"op":"co","a":"username","ci":true,"v":"1"}}'),
          'u2.tap,u3.tap,u4.tap,u5.tap,u6.tap', 'not (co)');
SELECT is(pg_temp.names('{"op":"not","e":{"op":"eq","a":"name.middlename","ci":true,"v":"x"}}'),
          'u1.tap,u2.tap,u3.tap,u4.tap,u5.tap,u6.tap', 'not: a comparison with an absent value is false, so not holds');
SELECT is(pg_temp.names('{"op":"ne","a":"name.middlename","ci":true,"v":"x"}'),
          'u1.tap,u2.tap,u3.tap,u4.tap,u5.tap,u6.tap', 'ne holds where the attribute has no value');
SELECT is(pg_temp.names('{"op":"eq","a":"username","ci":true,"v":"u1.tap'' OR true --"}'), NULL,
          'a value is a parameter, never SQL text');
SELECT is(pg_temp.names(NULL, 2, 2), 'u2.tap,u3.tap', 'a page: startIndex 2, count 2');
SELECT is((userbulk.scim_users('tap', '{"op":"sw","a":"username","ci":true,"v":"u"}', 6, 1, NULL, NULL, '')
           ->> 'totalResults')::int, 6, 'totalResults counts every match, whatever the page');
SELECT is((userbulk.scim_users('tap', NULL, 9, 5, NULL, NULL, '') ->> 'itemsPerPage')::int, 0,
          'past the end: an empty page');
SELECT throws_ok($$SELECT userbulk.scim_users('tap', '{"op":"eq","a":"password_hash","ci":true,"v":"x"}', 1, 1, NULL, NULL, '')$$,
                 '22023', NULL, 'an attribute outside the list is refused, never used as a column');
SELECT throws_ok($$SELECT userbulk.scim_users('tap', '{"op":"xx","a":"username","ci":true,"v":"x"}', 1, 1, NULL, NULL, '')$$,
                 '22023', NULL, 'an unknown operator is refused');

SELECT is((SELECT resource::jsonb FROM userbulk.scim_user('tap', '7a000000-0000-4000-8000-000000000101', NULL, NULL, 'https://h/scim/v2'))
              - 'meta',
          '{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "7a000000-0000-4000-8000-000000000101",
            "userName": "u1.tap", "name": {"givenName": "U1", "familyName": "Tap"},
            "emails": [{"value": "u1@tap.example", "type": "work", "primary": true}], "active": true}'::jsonb,
          'a user as a SCIM resource');
SELECT is((SELECT (resource::jsonb -> 'meta') - 'lastModified' - 'created' FROM userbulk.scim_user('tap', '7a000000-0000-4000-8000-000000000101', NULL, NULL, 'https://h/scim/v2')),
          '{"resourceType": "User", "version": "W/\"1\"", "location": "https://h/scim/v2/Users/7a000000-0000-4000-8000-000000000101"}'::jsonb,
          '... its meta');
SELECT is((SELECT version FROM userbulk.scim_user('tap', '7a000000-0000-4000-8000-000000000101', NULL, NULL, '')),
          1::bigint, '... and its version for the ETag');
SELECT is((SELECT row(version, resource)::text FROM userbulk.scim_user('tap', '7a000000-0000-4000-8000-000000000109', NULL, NULL, '')),
          '(,)', 'another account''s user: a row of nulls');
SELECT is((SELECT resource::jsonb FROM userbulk.scim_user('tap', '7a000000-0000-4000-8000-000000000101',
                                                         '["userName", "name.familyName", "emails.value"]', NULL, '')),
          '{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "7a000000-0000-4000-8000-000000000101",
            "userName": "u1.tap", "name": {"familyName": "Tap"}, "emails": [{"value": "u1@tap.example"}]}'::jsonb,
          'attributes: those, id and schemas');
SELECT is((SELECT resource::jsonb FROM userbulk.scim_user('tap', '7a000000-0000-4000-8000-000000000101',
                                                         NULL, '["meta", "EMAILS", "id", "name.givenName"]', '')),
          '{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "7a000000-0000-4000-8000-000000000101",
            "userName": "u1.tap", "name": {"familyName": "Tap"}, "active": true}'::jsonb,
          'excludedAttributes: all but those (id stays)');

-- Multi-valued attributes: phone numbers (u1 both, u3 work, u4 mobile),
-- the description's "has"; emails.type; externalId.
UPDATE userbulk.users SET phone1 = '+1 212 555 0101', phone2 = '+44 20 7946 0101'
 WHERE id = '7a000000-0000-4000-8000-000000000101';
UPDATE userbulk.users SET phone1 = '+1 212 555 0103' WHERE id = '7a000000-0000-4000-8000-000000000103';
UPDATE userbulk.users SET phone2 = '+1 212 555 0104' WHERE id = '7a000000-0000-4000-8000-000000000104';
SELECT is(pg_temp.names('{"op":"has","a":"phonenumbers","e":{"op":"and",
                           "l":{"op":"eq","a":"phonenumbers.type","ci":true,"v":"WORK"},
                           "r":{"op":"co","a":"phonenumbers.value","ci":true,"v":"555"}}}'), 'u1.tap,u3.tap',
          'phoneNumbers[type eq "work" and value co "555"]: both on the same number (u4''s 555 is mobile)');
SELECT is(pg_temp.names('{"op":"has","a":"phonenumbers","e":{"op":"eq","a":"phonenumbers.type","ci":true,"v":"mobile"}}'),
          'u1.tap,u4.tap', 'phoneNumbers[type eq "mobile"]: phone2');
SELECT is(pg_temp.names('{"op":"has","a":"phonenumbers","e":{"op":"pr","a":"phonenumbers.value"}}'),
          'u1.tap,u3.tap,u4.tap', 'phoneNumbers pr: some number');
SELECT is(pg_temp.names('{"op":"not","e":{"op":"has","a":"phonenumbers","e":{"op":"eq","a":"phonenumbers.value","ci":true,"v":"+1 212 555 0101"}}}'),
          'u2.tap,u3.tap,u4.tap,u5.tap,u6.tap', 'phoneNumbers.value ne: no number is it (none counts)');
SELECT is(pg_temp.names('{"op":"has","a":"phonenumbers","e":{"op":"not","e":{"op":"sw","a":"phonenumbers.value","ci":true,"v":"+1"}}}'),
          'u1.tap', 'phoneNumbers[not (value sw "+1")]: a number, not an absent one');
SELECT is(pg_temp.names('{"op":"and","l":{"op":"eq","a":"emails.type","ci":true,"v":"Work"},
                          "r":{"op":"ew","a":"emails.value","ci":true,"v":"1@TAP.example"}}'),
          'u1.tap', 'emails[type eq "Work" and value ew "1@TAP.example"]');
SELECT is(pg_temp.names('{"op":"eq","a":"externalid","ci":false,"v":"x"}'), NULL,
          'externalId eq: no user has this one');
SELECT is(pg_temp.names('{"op":"ne","a":"externalid","ci":false,"v":"x"}'),
          'u1.tap,u2.tap,u3.tap,u4.tap,u5.tap,u6.tap', 'externalId ne: every user');
SELECT throws_ok($$SELECT userbulk.scim_users('tap', '{"op":"has","a":"emails","e":{"op":"pr","a":"emails.value"}}', 1, 1, NULL, NULL, '')$$,
                 '22023', NULL, 'a "has" of another attribute is refused');

-- 010's attributes: externalId, meta.created, the enterprise extension.
UPDATE userbulk.users SET external_id = 'okta-00u2', employee_code = 'E-2', department_code = 'D1',
                          manager_id = '7a000000-0000-4000-8000-000000000101', created_at = NULL
 WHERE id = '7a000000-0000-4000-8000-000000000102';
SELECT is((SELECT resource::jsonb - 'meta' - 'name' - 'emails' FROM userbulk.scim_user('tap', '7a000000-0000-4000-8000-000000000102', NULL, NULL, 'https://h/scim/v2')),
          '{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "id": "7a000000-0000-4000-8000-000000000102", "externalId": "okta-00u2",
            "userName": "u2.tap", "active": true,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
                {"employeeNumber": "E-2", "department": "D1",
                 "manager": {"value": "7a000000-0000-4000-8000-000000000101",
                             "$ref": "https://h/scim/v2/Users/7a000000-0000-4000-8000-000000000101"}}}'::jsonb,
          'externalId and the enterprise extension, which the schemas then list');
SELECT is(pg_temp.names('{"op":"eq","a":"externalid","ci":false,"v":"okta-00u2"}'), 'u2.tap',
          'externalId eq: the user with it');
SELECT is(pg_temp.names('{"op":"eq","a":"externalid","ci":false,"v":"OKTA-00U2"}'), NULL,
          'externalId eq: caseExact');
SELECT ok(NOT (SELECT resource::jsonb -> 'meta' ? 'created' FROM userbulk.scim_user('tap', '7a000000-0000-4000-8000-000000000102', NULL, NULL, '')),
          'a user of unknown creation time has no meta.created');
SELECT is((SELECT resource::jsonb #>> '{meta,created}' FROM userbulk.scim_user('tap', '7a000000-0000-4000-8000-000000000103', NULL, NULL, '')),
          userbulk.iso(now()), 'a user created now: meta.created');
SELECT is((SELECT resource::jsonb FROM userbulk.scim_user('tap', '7a000000-0000-4000-8000-000000000102',
              '["urn:ietf:params:scim:schemas:extension:enterprise:2.0:user.department"]', NULL, '')),
          '{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "id": "7a000000-0000-4000-8000-000000000102",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "D1"}}'::jsonb,
          'attributes: one attribute of the extension (its URN, a dot, the name, as the module writes it)');
SELECT throws_ok($$UPDATE userbulk.users SET manager_id = id WHERE id = '7a000000-0000-4000-8000-000000000103'$$,
                 '23514', NULL, 'a user is not its own manager');
SELECT throws_ok($$UPDATE userbulk.users SET manager_id = '7a000000-0000-4000-8000-000000000109'
                    WHERE id = '7a000000-0000-4000-8000-000000000103'$$,
                 '23503', NULL, 'a manager of another account is refused by the key');
DELETE FROM userbulk.users WHERE id = '7a000000-0000-4000-8000-000000000101';
SELECT is((SELECT manager_id FROM userbulk.users WHERE id = '7a000000-0000-4000-8000-000000000102'),
          NULL, 'deleting the manager clears the reference, the user stays');

SELECT * FROM finish();
ROLLBACK;
