-- userbulk.scim_create_user (src/sql/functions/scim_create.sql), called
-- as the module calls it, as the API role.
\ir lib/setup.sql
SELECT plan(12);
SET LOCAL ROLE userbulk_api;

CREATE TEMP TABLE made AS
    SELECT * FROM userbulk.scim_create_user('tap', 'alice', 'trace-c1', 'new.tap', 'New@Tap.example',
                                            'Nina', NULL, 'New', 'Nina New', '+1 555 0100', NULL,
                                            false, 'https://h/scim/v2');
SELECT is((SELECT version FROM made), 1::bigint, 'created: version 1');
SELECT is((SELECT resource ->> 'userName' FROM made), 'new.tap', '... the resource answered');
SELECT is((SELECT resource -> 'meta' ->> 'location' FROM made),
          'https://h/scim/v2/Users/' || (SELECT resource ->> 'id' FROM made), '... its location');
SELECT is((SELECT code FROM made), NULL, '... no refusal');
RESET ROLE;
SET LOCAL ROLE userbulk;
SELECT is((SELECT a.code FROM userbulk.users u JOIN userbulk.accounts a ON a.id = u.account_id
            WHERE u.user_name = 'new.tap'), 'tap', 'the user belongs to the caller''s account');
SELECT is((SELECT string_agg(r.name, ',') FROM userbulk.users u
             JOIN userbulk.user_roles ur ON ur.user_id = u.id
             JOIN userbulk.roles r ON r.id = ur.role_id
            WHERE u.user_name = 'new.tap'), 'Reader', '... with the account''s default role');
SELECT is((SELECT r.endpoint || ' ' || r.actor || ' ' || (c.before = '{}') || ' ' || (c.after ->> 'email')
             FROM userbulk.audit_request r JOIN userbulk.audit_change c ON c.request_id = r.id
            WHERE r.trace_id = 'trace-c1'), 'scim alice true New@Tap.example',
          'the audit trail: endpoint scim, the actor, after the fields created');
SET LOCAL ROLE userbulk_api;

SELECT is((SELECT field || ' ' || code FROM userbulk.scim_create_user('tap2', 'x', 't', 'new.tap',
           'other@tap.example', NULL, NULL, NULL, NULL, NULL, NULL, false, '')),
          'userName uniqueness', 'a userName taken (by any account): uniqueness');
SELECT is((SELECT field || ' ' || code FROM userbulk.scim_create_user('tap', 'x', 't', 'other.tap',
           'U1@TAP.example', NULL, NULL, NULL, NULL, NULL, NULL, false, '')),
          'emails uniqueness', 'an address taken (folded): uniqueness');
SELECT is((SELECT code FROM userbulk.scim_create_user('nope', 'x', 't', 'z.tap',
           'z@tap.example', NULL, NULL, NULL, NULL, NULL, NULL, false, '')),
          'unknown_account', 'an account the directory does not have');
SELECT is((SELECT (resource ->> 'active') || ' ' || (resource -> 'phoneNumbers' -> 1 ->> 'value')
             FROM userbulk.scim_create_user('tap', 'x', 't', 'off.tap', 'off@tap.example', NULL, NULL,
                                            NULL, NULL, '1', '2', true, '')),
          'false 2', 'locked out: active false; the second phone number');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM userbulk.users WHERE user_name IN ('other.tap', 'z.tap')), 0,
          'a refusal creates nothing');
SELECT * FROM finish();
ROLLBACK;
