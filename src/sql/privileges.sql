-- Who may do what in the schema userbulk. Applied by migrate.sh as the
-- schema's owner after functions/*.sql, in the same transaction, every run
-- (CREATE OR REPLACE FUNCTION resets what is set here). psql variable
-- api_role: the role httpd connects as (migrate.sh --api-role).
--
-- The owner (the role migrate.sh connects as) owns every object and keeps
-- every right. The API role may only call the entry functions of the
-- module's statements (src/store.c). They run as the owner (SECURITY
-- DEFINER) with a search_path of pg_catalog and pg_temp only: a role that
-- calls them cannot put its own objects in front of theirs (their bodies
-- name every object of the schema as userbulk.*; their working sets are
-- variables of the call, but scim_write's, a pg_temp table refused unless
-- the owner's). So the API role
-- reads no table (password_hash, the audit trail), writes none except
-- through the functions' checks, and cannot truncate or delete the audit
-- trail or create anything in the schema.
--
-- The helpers called inside the statements (userbulk.err, put_roles,
-- put_errors, iso, refusal, scim_resource, scim_project, scim_where, scim_diff,
-- email_taken, move_addresses, the scim_group_* helpers, changes_page, revert_fields, revert_keys) stay as they are: a SECURITY DEFINER or SET
-- clause would stop PostgreSQL from inlining the SQL ones. They need no
-- grant: they run as the owner.

-- PostgreSQL lets PUBLIC execute every new function: no one but the owner
-- and the API role (below) may call ours. Tables, views and sequences have
-- no PUBLIC rights; what an earlier setup may have granted goes too.
REVOKE ALL ON SCHEMA userbulk FROM PUBLIC, :"api_role";
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA userbulk FROM PUBLIC, :"api_role";
REVOKE ALL ON ALL TABLES IN SCHEMA userbulk FROM PUBLIC, :"api_role";
REVOKE ALL ON ALL SEQUENCES IN SCHEMA userbulk FROM PUBLIC, :"api_role";

-- By name alone: there is one function of each name (migrations drop the
-- earlier signatures: 006), and a second one would make these fail rather
-- than leave it callable.
ALTER FUNCTION userbulk.put_users SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION userbulk.account_update SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION userbulk.get_users SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION userbulk.scim_users SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION userbulk.scim_user SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION userbulk.scim_write SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION userbulk.scim_groups SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION userbulk.scim_group SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION userbulk.scim_group_create SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION userbulk.scim_group_change SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION userbulk.scim_group_delete SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION userbulk.user_changes SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION userbulk.revert_request SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- USAGE to find the functions by name (it also shows the names of the
-- tables, not their rows); no CREATE. To the API role and to every role
-- that could call the functions before this run (migrate.sh lists them in
-- pg_temp.ub_granted): a run with another --api-role, or without it where
-- the site's role has another name, takes nothing from httpd. A role is
-- withdrawn by hand: REVOKE ... FROM it, or DROP OWNED BY it.
SELECT format('GRANT USAGE ON SCHEMA userbulk TO %I', r.role),
       format('GRANT EXECUTE ON FUNCTION userbulk.put_users, userbulk.account_update, '
              'userbulk.get_users, userbulk.scim_users, userbulk.scim_user, '
              'userbulk.scim_write, userbulk.scim_groups, '
              'userbulk.scim_group, userbulk.scim_group_create, userbulk.scim_group_change, '
              'userbulk.scim_group_delete, userbulk.user_changes, '
              'userbulk.revert_request TO %I', r.role)
  FROM (SELECT :'api_role' AS role UNION SELECT g.role FROM pg_temp.ub_granted g) r
\gexec
