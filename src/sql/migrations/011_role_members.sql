-- 011: a role's members in user id order, from the index alone.
--
-- SCIM's Groups (src/sql/functions/scim_groups.sql) list a role's members
-- in user id order and derive the group's version from their ids: with
-- user_id in the index, both are one index-only range scan, sorted as it
-- comes, without reading user_roles' rows. The index replaces 001's
-- (account_id, role_id), which it serves as well (noofUsers counts by its
-- prefix): no more index entries per membership than before.
DROP INDEX userbulk.user_roles_role;
CREATE INDEX user_roles_role ON userbulk.user_roles (account_id, role_id, user_id);
