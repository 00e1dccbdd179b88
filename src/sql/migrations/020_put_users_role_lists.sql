-- 020: put_users takes each distinct list of roles once (p_role_lists,
-- JSON text each), and a record names its list by number
-- (userbulk.put_input.role_list, from 1) instead of carrying the list's
-- text: a batch whose records share a few lists of roles sends and
-- resolves each once, and a record finds its list's ids by position, not
-- by comparing texts. The earlier signature and row type go (one function
-- of each name: privileges.sql grants by name); functions/ creates the
-- new ones in the same transaction. A module of an earlier release calls
-- the earlier signature: upgrade the module with the schema.
DROP FUNCTION IF EXISTS userbulk.put_users(text, text, text, jsonb, userbulk.put_input[]);
DROP TYPE IF EXISTS userbulk.put_input;
