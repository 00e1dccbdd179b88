-- userbulk.scim_write (src/sql/functions/scim_write.sql), called as the
-- module calls it, as the API role. Users u1..u6 of account tap
-- (lib/setup.sql), ids ...0101 to ...0106; x1 of tap2 is ...0109.
\ir lib/setup.sql
SELECT plan(46);

-- The engine from operations as JSON: op, id, set (bits), version and the
-- values (userName, email, given, middle, family, display, phone1, phone2,
-- lockedOut, externalId, employee, department, manager); idx is the position.
CREATE FUNCTION pg_temp.w(p_ops jsonb, p_options jsonb DEFAULT '{}', p_account text DEFAULT 'tap')
RETURNS SETOF userbulk.scim_write_result LANGUAGE sql AS $$
    SELECT * FROM userbulk.scim_write(p_account, 'tap-actor', 'tap-w', p_options, 'https://h/scim/v2',
        ARRAY(SELECT ROW((o - 1)::integer, e ->> 'op', e ->> 'id', coalesce((e ->> 'set')::integer, 0),
                         (e ->> 'version')::bigint, e ->> 'userName', e ->> 'email', e ->> 'given',
                         e ->> 'middle', e ->> 'family', e ->> 'display', e ->> 'phone1', e ->> 'phone2',
                         (e ->> 'lockedOut')::boolean, e ->> 'externalId', e ->> 'employee',
                         e ->> 'department', e ->> 'manager')::userbulk.scim_input
                FROM jsonb_array_elements(p_ops) WITH ORDINALITY r(e, o) ORDER BY o))
$$;
-- "idx:status:code" of each row, comma-separated
CREATE FUNCTION pg_temp.wcodes(p_ops jsonb, p_options jsonb DEFAULT '{}')
RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(r.idx || ':' || r.status || ':' || coalesce(r.code, ''), ',' ORDER BY r.idx)
      FROM pg_temp.w(p_ops, p_options) r
$$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pg_temp TO userbulk_api;
SET LOCAL ROLE userbulk_api;

-- The literal the module writes (tests/unit/test_scim_patch.c,
-- write_input_literal_escapes_twice), read by PostgreSQL as the values sent.
SELECT is((SELECT string_agg(concat_ws('|', r.idx, r.op, coalesce(r.id, 'NULL'), r.set,
                                       coalesce(r.expected::text, 'NULL'), coalesce(r.user_name, 'NULL'),
                                       coalesce(r.email, 'NULL'), coalesce(r.first_name, 'NULL'),
                                       coalesce(r.middle_name, 'NULL'), coalesce(r.locked_out::text, 'NULL'),
                                       coalesce(r.manager, 'NULL')), ';')
             FROM unnest('{"(0,\"patch\",\"abc\",6,3,,\"a\\\"b\\\\c\",\"\",,,,,,,,,,)","(2,\"create\",,1,,\"u\",,,,,,,,\"true\",,,,)"}'::userbulk.scim_input[]) r),
          '0|patch|abc|6|3|NULL|a"b\c||NULL|NULL|NULL;2|create|NULL|1|NULL|u|NULL|NULL|NULL|true|NULL',
          'the operations'' literal: quotes and backslashes escaped twice, NULL empty, '''' quoted');

-- --- no temporary object: the work set lives in the call -------------------------
-- (A session keeping a temporary table must commit its removal at exit,
-- which hangs a fast shutdown under synchronous replication, and a pooler
-- in transaction mode could hand it to another client.) This session's
-- pg_temp has this file's functions and no relation yet.
SELECT count(*)::int AS relations_before FROM pg_class c WHERE c.relnamespace = pg_my_temp_schema() \gset
SELECT is(pg_temp.wcodes('[{"op":"patch","id":"7a000000-0000-4000-8000-000000000103","set":4,"given":"Tmp"},
                          {"op":"delete","id":"7a000000-0000-4000-8000-0000000000ff"},
                          {"op":"create","set":511,"userName":"tmp.tap","email":"tmp@tap.example"}]', '{"dry_run":true}'),
          '0:200:,1:404:not_found,2:201:', 'a batch of every kind (dry run)');
SELECT is((SELECT count(*)::int FROM pg_class c WHERE c.relnamespace = pg_my_temp_schema()),
          :relations_before, '... and leaves no relation in the session''s pg_temp');
SELECT is(pg_my_temp_schema() <> 0, true, '... (which exists: this file''s functions are there)');

-- --- patch: only the columns set; no-op writes nothing ----------------------------
SELECT is(pg_temp.wcodes('[{"op":"patch","id":"7a000000-0000-4000-8000-000000000103","set":256,"lockedOut":true}]'),
          '0:200:', 'a patch of active: 200');
SELECT is((SELECT version || ' ' || (resource ->> 'active') || ' ' || (resource ->> 'userName')
             FROM pg_temp.w('[{"op":"patch","id":"7a000000-0000-4000-8000-000000000103","set":4,"given":"Neu"}]',
                            '{"resources":true}')),
          '3 false u3.tap', '... a second one: version 3, the first kept, the resource answered');
SELECT is((SELECT version FROM pg_temp.w('[{"op":"patch","id":"7a000000-0000-4000-8000-000000000103","set":260,"given":"Neu","lockedOut":true}]')),
          3::bigint, 'setting what is stored: the version stays');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM userbulk.audit_change c JOIN userbulk.audit_request r ON r.id = c.request_id
            WHERE r.trace_id = 'tap-w'), 2, '... and writes no audit row (two changes, two rows)');
SELECT is((SELECT c.before::text || ' ' || c.after::text || ' ' || r.endpoint
             FROM userbulk.audit_change c JOIN userbulk.audit_request r ON r.id = c.request_id
            WHERE r.trace_id = 'tap-w' AND c.after ? 'firstName'),
          '{"firstName": "U3"} {"firstName": "Neu"} scim', 'the audit row: the changed field only, endpoint scim');
SELECT is((SELECT updated_by FROM userbulk.users WHERE user_name = 'u3.tap'), 'tap-actor', 'updated_by');
SET LOCAL ROLE userbulk_api;

-- --- put: every column; userName immutable ----------------------------------------
SELECT is((SELECT (resource -> 'name')::text || ' ' || coalesce(resource ->> 'displayName', '-')
             FROM pg_temp.w('[{"op":"put","id":"7a000000-0000-4000-8000-000000000104","set":511,"userName":"u4.tap","email":"u4@tap.example","family":"Four"}]',
                            '{"resources":true}')),
          '{"familyName": "Four"} -', 'a put clears what it does not send');
SELECT is(pg_temp.wcodes('[{"op":"put","id":"7a000000-0000-4000-8000-000000000104","set":511,"userName":"other.tap","email":"u4@tap.example"}]'),
          '0:400:mutability', 'another userName: 400 mutability');

-- --- refusals ------------------------------------------------------------------------
SELECT is(pg_temp.wcodes('[{"op":"patch","id":"7a000000-0000-4000-8000-000000000109","set":4,"given":"X"}]'),
          '0:404:not_found', 'another account''s user: 404');
SELECT is(pg_temp.wcodes('[{"op":"delete","id":"not-an-id"}]'), '0:404:not_found', 'not an id: 404');
SELECT is(pg_temp.wcodes('[{"op":"patch","id":"7a000000-0000-4000-8000-000000000101,7a000000-0000-4000-8000-000000000102","set":4,"given":"X"},
                          {"op":"patch","id":"7a000000-0000-4000-8000-000000000103","set":4,"given":"Y"}]', '{"dry_run":true}'),
          '0:404:not_found,1:200:', 'two ids in one, beside an id: 404 (the ids are not taken as all well-formed), the other 200');
SELECT is(pg_temp.wcodes('[{"op":"patch","id":"7a000000-0000-4000-8000-000000000105","set":4,"given":"X","version":7}]'),
          '0:412:precondition', 'an expected version not the stored one: 412');
SELECT is(pg_temp.wcodes('[{"op":"patch","id":"7a000000-0000-4000-8000-000000000105","set":4,"given":"X","version":1}]'),
          '0:200:', '... the stored one: 200');
SELECT is(pg_temp.wcodes('[{"op":"patch","id":"7a000000-0000-4000-8000-000000000105","set":2,"email":"U1@tap.example"}]'),
          '0:409:uniqueness', 'an address another user keeps: 409 uniqueness');
SELECT is(pg_temp.wcodes('[{"op":"patch","id":"7a000000-0000-4000-8000-000000000105","set":4,"given":"A"},{"op":"patch","id":"7a000000-0000-4000-8000-000000000105","set":8,"middle":"B"}]'),
          '0:200:,1:400:invalidValue', 'a user named twice: the second refused');
SELECT is((SELECT string_agg(status || code, ',') FROM pg_temp.w('[{"op":"delete","id":"7a000000-0000-4000-8000-000000000105"}]', '{}', 'nope')),
          '403unknown_account', 'an account the directory does not have: 403');

-- --- the final state of addresses -----------------------------------------------------
SELECT is(pg_temp.wcodes('[{"op":"patch","id":"7a000000-0000-4000-8000-000000000105","set":2,"email":"u6@tap.example"},
                          {"op":"patch","id":"7a000000-0000-4000-8000-000000000106","set":2,"email":"u5@tap.example"}]'),
          '0:200:,1:200:', 'two users swap addresses');
SELECT is(pg_temp.wcodes('[{"op":"delete","id":"7a000000-0000-4000-8000-000000000106"},
                          {"op":"create","set":511,"userName":"new.tap","email":"U5@tap.example"}]'),
          '0:204:,1:201:', 'a deletion frees its address for a creation of the batch');
SELECT is(pg_temp.wcodes('[{"op":"create","set":511,"userName":"new.tap","email":"n2@tap.example"},
                          {"op":"create","set":511,"userName":"n3.tap","email":"n3@tap.example"},
                          {"op":"create","set":511,"userName":"n3.tap","email":"n4@tap.example"}]'),
          '0:409:uniqueness,1:201:,2:409:uniqueness', 'creations: a userName taken, or named twice');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM userbulk.users WHERE id = '7a000000-0000-4000-8000-000000000106'), 0,
          'a deletion is a hard delete');
SELECT is((SELECT c.before ->> 'userName' || ' ' || c.after::text
             FROM userbulk.audit_change c WHERE c.user_id = '7a000000-0000-4000-8000-000000000106'
              AND c.after = '{}'), 'u6.tap {}', '... its audit row keeps the user in before, after {}');
SELECT is((SELECT string_agg(r.name, ',') FROM userbulk.users u JOIN userbulk.user_roles ur ON ur.user_id = u.id
             JOIN userbulk.roles r ON r.id = ur.role_id WHERE u.user_name = 'n3.tap'), 'Reader',
          'a creation: the account''s default roles');
SET LOCAL ROLE userbulk_api;

-- --- atomic, dry run ------------------------------------------------------------------
SELECT is(pg_temp.wcodes('[{"op":"patch","id":"7a000000-0000-4000-8000-000000000101","set":4,"given":"Atom"},
                          {"op":"patch","id":"7a000000-0000-4000-8000-000000000109","set":4,"given":"X"}]', '{"atomic":true}'),
          '0:424:not_applied,1:404:not_found', 'atomic: one fails, the other is not applied (424)');
SELECT is(pg_temp.wcodes('[{"op":"patch","id":"7a000000-0000-4000-8000-000000000101","set":4,"given":"Atom"}]',
                        '{"atomic":true,"failed":true}'),
          '0:424:not_applied', '... also when the module failed an operation');
SELECT is((SELECT version FROM pg_temp.w('[{"op":"patch","id":"7a000000-0000-4000-8000-000000000101","set":4,"given":"Dry"}]',
                                         '{"dry_run":true}')), 2::bigint, 'a dry run answers the version it would give');
RESET ROLE;
SELECT is((SELECT first_name || version FROM userbulk.users WHERE user_name = 'u1.tap'), 'U11',
          '... and, like the atomic failures, changed nothing');
SET LOCAL ROLE userbulk_api;

-- --- put_users keeps its final-state check through the shared email_taken ---------------
RESET ROLE;
SET LOCAL ROLE userbulk;
SELECT is((SELECT string_agg(p.idx || ':' || p.errors::text, ',')
             FROM pg_temp.put('[{"userName":"u1.tap","email":"u2@tap.example"},{"userName":"u2.tap","email":"u1@tap.example","aa":true,"ac":true,"acp":true,"aom":true}]') p),
          '0:[],1:[]', 'PUT /users: a swap still succeeds');
SELECT is((SELECT string_agg(p.idx || ':' || (p.errors -> 0 ->> 'code'), ',')
             FROM pg_temp.put('[{"userName":"u1.tap","email":"n3@tap.example"}]') p),
          '0:email_taken', '... an address kept by a user without a record is taken');
RESET ROLE;
SET LOCAL ROLE userbulk_api;
-- --- creation (POST /Users is a batch of one) ---------------------------------------------
SELECT is((SELECT status || ' ' || version || ' ' || (resource ->> 'userName') || ' '
                  || (resource #>> '{meta,location}' = 'https://h/scim/v2/Users/' || id)
             FROM pg_temp.w('[{"op":"create","set":8191,"userName":"c1.tap","email":"C1@Tap.example","given":"Cee","externalId":"okta-c1"}]',
                            '{"resources":true}')),
          '201 1 c1.tap true', 'a creation: 201, version 1, the resource at its location');
RESET ROLE;
SELECT is((SELECT r.endpoint || ' ' || (c.before = '{}') || ' ' || (c.after ->> 'email') || ' ' || (c.after ->> 'externalId')
             FROM userbulk.audit_request r JOIN userbulk.audit_change c ON c.request_id = r.id
             JOIN userbulk.users u ON u.id = c.user_id WHERE u.user_name = 'c1.tap'),
          'scim true C1@Tap.example okta-c1', '... its audit row: before {}, after the fields created');
SET LOCAL ROLE userbulk_api;

-- --- externalId and the enterprise extension ------------------------------------------------
SELECT is(pg_temp.wcodes('[{"op":"patch","id":"7a000000-0000-4000-8000-000000000102","set":7680,
                            "externalId":"ext-2","employee":"E-2","department":"D2",
                            "manager":"7a000000-0000-4000-8000-000000000101"}]'),
          '0:200:', 'externalId, employeeNumber, department, manager set');
RESET ROLE;
SELECT is((SELECT external_id || ' ' || employee_code || ' ' || department_code || ' ' || manager_id
             FROM userbulk.users WHERE id = '7a000000-0000-4000-8000-000000000102'),
          'ext-2 E-2 D2 7a000000-0000-4000-8000-000000000101', '... stored');
SELECT is((SELECT c.after::text FROM userbulk.audit_change c
            WHERE c.user_id = '7a000000-0000-4000-8000-000000000102' AND c.after ? 'managerId'),
          '{"externalId": "ext-2", "managerId": "7a000000-0000-4000-8000-000000000101", "departmentId": "D2", "employeeCode": "E-2"}'::jsonb::text,
          '... the audit row names them');
SET LOCAL ROLE userbulk_api;
SELECT is(pg_temp.wcodes('[{"op":"patch","id":"7a000000-0000-4000-8000-000000000102","set":2048,"department":"DX"}]'),
          '0:400:invalidValue', 'a department code of another account: 400');
SELECT is((SELECT field FROM pg_temp.w('[{"op":"patch","id":"7a000000-0000-4000-8000-000000000102","set":2048,"department":"NOPE"}]')),
          'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department', '... naming the attribute');
SELECT is(pg_temp.wcodes('[{"op":"patch","id":"7a000000-0000-4000-8000-000000000102","set":4096,"manager":"7a000000-0000-4000-8000-000000000109"}]'),
          '0:400:invalidValue', 'a manager of another account: 400');
SELECT is(pg_temp.wcodes('[{"op":"patch","id":"7a000000-0000-4000-8000-000000000102","set":4096,"manager":"7a000000-0000-4000-8000-000000000102"}]'),
          '0:400:invalidValue', 'the user itself as manager: 400');
SELECT is(pg_temp.wcodes('[{"op":"patch","id":"7a000000-0000-4000-8000-000000000103","set":4096,"manager":"7a000000-0000-4000-8000-000000000101"},
                          {"op":"delete","id":"7a000000-0000-4000-8000-000000000101"}]', '{"dry_run":true}'),
          '0:400:invalidValue,1:204:', 'a manager the same request deletes: 400');
SELECT is(pg_temp.wcodes('[{"op":"patch","id":"7a000000-0000-4000-8000-000000000102","set":4,"given":"Two"},
                          {"op":"delete","id":"7a000000-0000-4000-8000-000000000101"}]'),
          '0:200:,1:204:', 'deleting the manager of a user another operation patches: both pass');
RESET ROLE;
SELECT is((SELECT first_name || ' ' || coalesce(manager_id::text, 'none') FROM userbulk.users
            WHERE id = '7a000000-0000-4000-8000-000000000102'), 'Two none',
          '... the user keeps no reference to a deleted manager');
SELECT is((SELECT c.after ->> 'managerId' FROM userbulk.audit_change c
            WHERE c.user_id = '7a000000-0000-4000-8000-000000000102' AND c.after ? 'firstName'
              AND c.after ->> 'firstName' = 'Two'), NULL, '... which its audit row says (managerId null)');
SET LOCAL ROLE userbulk_api;
SELECT is(pg_temp.wcodes('[{"op":"patch","id":"7a000000-0000-4000-8000-000000000102","set":512,"externalId":null}]'),
          '0:200:', 'externalId cleared');

SELECT * FROM finish();
ROLLBACK;
