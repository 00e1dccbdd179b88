-- 005: emails compared case-insensitively whatever the server's locale.
--
-- Until 004, email_lower was lower(email) under the database's collation:
-- with a database created --locale=C, lower() folds ASCII only, so
-- 'Éva@x' and 'éva@x' were two addresses. userbulk.fold_email lowers with
-- the ICU root locale, which PostgreSQL carries whatever the server's own
-- locale; every comparison of addresses in functions/ goes through it.
-- (An ICU upgrade that changed a case mapping would need this column
-- recomputed, as any index over collated text would.)
--
-- The result is given the database's default collation back, so that
-- comparing it with email_lower uses the unique index.

CREATE FUNCTION userbulk.fold_email(p_email text)
RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT lower(p_email COLLATE "und-x-icu") COLLATE "default"
$$;

-- Addresses that were distinct under the old folding and are one now
-- cannot both stay: say which, and change nothing (the migration runs in
-- one transaction).
DO $$
DECLARE
    v_clash text;
BEGIN
    SELECT string_agg(format('%s (%s)', c.addr, c.names), '; ') INTO v_clash
      FROM (SELECT userbulk.fold_email(u.email) AS addr,
                   string_agg(u.user_name, ', ' ORDER BY u.user_name) AS names
              FROM userbulk.users u
             GROUP BY 1 HAVING count(*) > 1
             ORDER BY 1 LIMIT 20) c;
    IF v_clash IS NOT NULL THEN
        RAISE EXCEPTION 'migration 005: users share an address once case is folded: %', v_clash
              USING HINT = 'change the addresses of all but one user of each, then migrate again';
    END IF;
END
$$;

-- A generated column's expression cannot be changed in place: the column
-- is made again (every row rewritten once), with its unique constraint as
-- before.
ALTER TABLE userbulk.users DROP CONSTRAINT users_email_unique;
ALTER TABLE userbulk.users DROP COLUMN email_lower;
ALTER TABLE userbulk.users
    ADD COLUMN email_lower text GENERATED ALWAYS AS (userbulk.fold_email(email)) STORED;
ALTER TABLE userbulk.users
    ADD CONSTRAINT users_email_unique UNIQUE (email_lower) DEFERRABLE INITIALLY IMMEDIATE;
