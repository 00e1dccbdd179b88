-- 018: revert_request reads a user's fields by the keys of the audit row.
--
-- userbulk.revert_fields(users, uuid[]) built an object of every field a
-- revert can set, for each user, to keep the few the audit row names; it
-- was called once per user (an argument named twice in its body was a
-- subquery, so PostgreSQL could not inline it). functions/revert.sql now
-- defines revert_fields(jsonb, users, uuid[]): the fields a key set names,
-- inlined into the pass. The old signature goes.
DROP FUNCTION IF EXISTS userbulk.revert_fields(userbulk.users, uuid[]);
