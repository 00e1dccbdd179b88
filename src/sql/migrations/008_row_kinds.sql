-- The answers' row types take their new shapes (src/sql/functions/common.sql):
-- put_result one row per error, (field, code, message) as text, instead of
-- a JSON array of them; account_update_row a kind column and a refusal's
-- three text columns instead of a JSON error, and the role model as text.
-- functions/ creates both again, with the functions that answer them, in
-- the same transaction. A view or function a site built on the old shapes
-- goes with them (CASCADE): nothing else can keep an old shape alive.
DROP TYPE IF EXISTS userbulk.put_result CASCADE;
DROP TYPE IF EXISTS userbulk.account_update_row CASCADE;
