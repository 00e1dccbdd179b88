-- userbulk.put_roles resolves every list of a batch in one call
-- (src/sql/functions/common.sql): its one-list form goes, as a function
-- whose result changes cannot be replaced in place.
DROP FUNCTION IF EXISTS userbulk.put_roles(uuid, jsonb);
DROP FUNCTION IF EXISTS userbulk.put_roles(uuid, text[]);
