-- src/sql/privileges.sql, seen from the catalog and as the API role
-- userbulk_api. (tests/t/privileges.t checks the tables the API role cannot
-- read or write, and the functions it may call, through httpd's role.)
\ir lib/setup.sql
SELECT plan(10);

SELECT is((SELECT string_agg(p.proname || ' ' || p.prosecdef || ' ' || (SELECT c FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%'), ', ' ORDER BY p.proname)
             FROM pg_proc p WHERE p.pronamespace = 'userbulk'::regnamespace
              AND p.proname IN ('put_users', 'account_update', 'get_users', 'scim_users', 'scim_user',
                                 'scim_groups', 'scim_group', 'scim_group_create', 'scim_group_change', 'scim_group_delete', 'scim_write', 'user_changes',
                                 'revert_request')),
          'account_update true search_path=pg_catalog, pg_temp, get_users true search_path=pg_catalog, pg_temp, put_users true search_path=pg_catalog, pg_temp, revert_request true search_path=pg_catalog, pg_temp, scim_group true search_path=pg_catalog, pg_temp, scim_group_change true search_path=pg_catalog, pg_temp, scim_group_create true search_path=pg_catalog, pg_temp, scim_group_delete true search_path=pg_catalog, pg_temp, scim_groups true search_path=pg_catalog, pg_temp, scim_user true search_path=pg_catalog, pg_temp, scim_users true search_path=pg_catalog, pg_temp, scim_write true search_path=pg_catalog, pg_temp, user_changes true search_path=pg_catalog, pg_temp',
          'the entry functions run as the owner, with a search_path of pg_catalog and pg_temp only');
SELECT is((SELECT string_agg(p.proname, ',' ORDER BY p.proname)
             FROM pg_proc p WHERE p.pronamespace = 'userbulk'::regnamespace
              AND p.proname NOT IN ('put_users', 'account_update', 'get_users', 'scim_users', 'scim_user',
                                 'scim_groups', 'scim_group', 'scim_group_create', 'scim_group_change', 'scim_group_delete', 'scim_write', 'user_changes',
                                 'revert_request',
                                 -- the feed's deferred trigger runs at COMMIT, after the entry function returned
                                 'audit_feed_append',
                                 -- triggers (never inlined) that keep their plans whatever
                                 -- their caller's plan_cache_mode (functions/account_update.sql)
                                 'role_links_check', 'role_user_counts_add')
              AND (p.prosecdef OR p.proconfig IS NOT NULL)),
          NULL, 'no helper is SECURITY DEFINER or has a SET clause (either would stop its inlining)');
SELECT is((SELECT string_agg(p.proname, ',' ORDER BY p.proname) FROM pg_proc p
            WHERE p.pronamespace = 'userbulk'::regnamespace AND has_function_privilege('public', p.oid, 'EXECUTE')),
          NULL, 'PUBLIC may call no function of the schema');
SELECT is((SELECT string_agg(DISTINCT pg_get_userbyid(c.relowner), ',') FROM pg_class c
            WHERE c.relnamespace = 'userbulk'::regnamespace)
          || ' ' || (SELECT string_agg(DISTINCT pg_get_userbyid(p.proowner), ',') FROM pg_proc p
                      WHERE p.pronamespace = 'userbulk'::regnamespace)
          || ' ' || (SELECT string_agg(DISTINCT pg_get_userbyid(t.typowner), ',') FROM pg_type t
                      WHERE t.typnamespace = 'userbulk'::regnamespace),
          'userbulk userbulk userbulk', 'the owner owns every table, function and type of the schema');
SELECT ok(NOT has_schema_privilege('userbulk_api', 'userbulk', 'CREATE'), 'the API role may not create in the schema');

SET LOCAL ROLE userbulk_api;
SELECT is(pg_temp.codes('[{"userName":"u3.tap","email":"u3@tap.example","firstName":"Api","lastName":"Tap"}]'), '0:',
          'as the API role: put_users applies a record');
SELECT is((SELECT count(*) FROM userbulk.account_update('tap', 'api', 'tap-api', '{"targets":["7a000000-0000-4000-8000-000000000103"],"employee_code":"E"}')
            WHERE user_id IS NOT NULL), 1::bigint, '... account_update a change');
SELECT throws_ok($$SELECT userbulk.put_diff(true, 'a', 'b', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                             NULL, NULL, NULL, NULL, false, false, '{}', '{}')$$,
                 '42501', NULL, '... but may not call a helper (put_diff)');
SELECT throws_ok($$SELECT userbulk.ensure_row_type('put_result', 'a integer')$$, '42501', NULL,
                 '... nor ensure_row_type');
SELECT throws_ok($$SELECT userbulk.retried('23505', 1)$$, '42501', NULL, '... nor retried');
RESET ROLE;
SET LOCAL ROLE userbulk;

SELECT * FROM finish();
ROLLBACK;
