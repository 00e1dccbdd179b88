-- 006: what earlier releases' functions.sql dropped on every run, dropped
-- once.
--
-- Until 005, the functions were re-applied after a DROP ... CASCADE of
-- their row types and of every earlier signature, on every run of
-- migrate.sh: whatever a DBA had built on those types (a view, a function
-- of the site's) went with them, silently, at each upgrade. The re-applied
-- files (functions/*.sql) now drop nothing: they create the row types only
-- when missing, checking the shape of those that exist, and replace the
-- functions in place. Removing or reshaping one of their objects is a
-- migration's job, applied once (see userbulk.ensure_row_type in
-- functions/common.sql).

-- PUT /users records as JSON of a composite type, and per-user views: the
-- records now come as typed arrays (see put_users).
DROP TYPE IF EXISTS userbulk.put_item CASCADE;
DROP FUNCTION IF EXISTS userbulk.put_view(text, text, text, text, text, text, text, text, boolean, uuid[]);
-- The POST's earlier one-row answer and the views that built it.
DROP TYPE IF EXISTS userbulk.account_update_result CASCADE;
DROP FUNCTION IF EXISTS userbulk.account_view(userbulk.users, uuid[]);
DROP FUNCTION IF EXISTS userbulk.user_models(uuid, uuid[]);
-- put_users' earlier signatures (the records as JSON).
DROP FUNCTION IF EXISTS userbulk.put_users(text, text, text, jsonb);
DROP FUNCTION IF EXISTS userbulk.put_users(text, text, text, jsonb, jsonb);

-- The row types the functions answer, for the last time: a release that
-- re-applied its functions made them afresh, in whatever shape that
-- release had. functions/common.sql creates them again, in this same
-- transaction, in the shape of this release; from now on they stay. (This
-- also drops the functions that answer them, put_users, account_update and
-- refusal, which functions/ creates again too; privileges.sql grants their
-- rights again, migrate.sh having listed who held them.)
DROP TYPE IF EXISTS userbulk.put_result CASCADE;
DROP TYPE IF EXISTS userbulk.account_update_row CASCADE;
