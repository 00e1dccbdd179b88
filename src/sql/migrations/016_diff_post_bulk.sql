-- 016: the diff preview on the POST API and on SCIM /Bulk.
--
-- account_update answers, with the change option "diff", each changed
-- target's fields before and after in its user row; scim_write, with the
-- option "diff", each operation's. Both are the jsonb values the function
-- writes to audit_change (a dry run: would write), in two new columns of
-- their row types (functions/common.sql, functions/scim_write.sql);
-- null otherwise.
--
-- ALTER, not DROP: a view or function a site built on the types stays;
-- functions/ then replaces account_update and scim_write with the ones
-- that fill the columns, in the same transaction. On a database brought
-- up from an older version, a type may not exist yet (008 drops
-- account_update_row; functions/ creates both).
DO $$
BEGIN
    IF to_regtype('userbulk.account_update_row') IS NOT NULL THEN
        ALTER TYPE userbulk.account_update_row ADD ATTRIBUTE before jsonb, ADD ATTRIBUTE after jsonb;
    END IF;
    IF to_regtype('userbulk.scim_write_result') IS NOT NULL THEN
        ALTER TYPE userbulk.scim_write_result ADD ATTRIBUTE before jsonb, ADD ATTRIBUTE after jsonb;
    END IF;
END
$$;
