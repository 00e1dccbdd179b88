-- 015: a role link's user and role checked once per statement, not twice
-- per row.
--
-- The two foreign keys of user_roles (001) ran one lookup-and-lock query
-- per key per inserted link: a POST giving 1000 users a role ran 2000 of
-- them. The triggers below keep every guarantee those keys gave, with one
-- set-based check per statement:
--
--   * a link names a user and a role of its own account_id: after each
--     INSERT or UPDATE statement on user_roles, the links it wrote are
--     joined with users and roles on (account_id, id), and the rows found
--     are locked FOR KEY SHARE, as the keys' checks locked them, in key
--     order; a link whose user or role is missing fails the statement with
--     SQLSTATE 23503 (foreign_key_violation), as the key did;
--   * no link outlives its user: after a DELETE statement on users, the
--     deleted users' links are deleted (ON DELETE CASCADE);
--   * no link outlives its role: a DELETE statement on roles fails with
--     23503 while a deleted role has links (the key's NO ACTION);
--   * a user's or role's key (account_id, id) does not change under its
--     links: such an UPDATE fails with 23503 (NO ACTION);
--   * TRUNCATE of users or roles fails while links remain (TRUNCATE them
--     together with user_roles).
--
-- Why concurrent writers cannot break them (READ COMMITTED, in which the
-- module and migrate.sh run): a linker locks the user and the role
-- FOR KEY SHARE after inserting its links and before it commits. A deleter
-- of that user or role then waits for the linker, and the deleter's
-- cascade or refusal is a later statement, whose snapshot sees the
-- committed links. A deleter that got there first holds the row until it
-- commits; the linker's lock then finds the row gone and its statement
-- fails. The same order as the keys' checks: only the number of queries
-- differs.
--
-- REPEATABLE READ and SERIALIZABLE: a deleter's snapshot would miss a link
-- committed after it began (the keys re-read with a fresh snapshot, which a
-- trigger in SQL cannot do), so the deleting triggers refuse to run there
-- (SQLSTATE 0A000): delete users and roles in READ COMMITTED, as
-- everything in this module does.

ALTER TABLE userbulk.user_roles
    DROP CONSTRAINT user_roles_account_id_user_id_fkey,
    DROP CONSTRAINT user_roles_account_id_role_id_fkey;

-- After INSERT or UPDATE on user_roles: the statement's new links.
CREATE FUNCTION userbulk.role_links_check() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    v_want  bigint;
    v_got   bigint;
    v_bad   record;
BEGIN
    -- the users, locked in id order
    SELECT count(*) INTO v_want FROM (SELECT DISTINCT n.account_id, n.user_id FROM ub_new_links n) k;
    SELECT count(*) INTO v_got FROM (
        SELECT 1 FROM userbulk.users u
         WHERE (u.account_id, u.id) IN (SELECT n.account_id, n.user_id FROM ub_new_links n)
         ORDER BY u.id
           FOR KEY SHARE) l;
    IF v_got < v_want THEN
        SELECT n.account_id, n.user_id AS id INTO v_bad FROM ub_new_links n
         WHERE NOT EXISTS (SELECT 1 FROM userbulk.users u
                            WHERE u.account_id = n.account_id AND u.id = n.user_id)
         LIMIT 1;
        RAISE EXCEPTION 'insert or update on table "user_roles" names a user that is not in its account'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'user_roles',
                  CONSTRAINT = 'user_roles_user',
                  DETAIL = format('Key (account_id, user_id)=(%s, %s) is not present in table "users".',
                                  v_bad.account_id, v_bad.id);
    END IF;
    -- the roles, likewise
    SELECT count(*) INTO v_want FROM (SELECT DISTINCT n.account_id, n.role_id FROM ub_new_links n) k;
    SELECT count(*) INTO v_got FROM (
        SELECT 1 FROM userbulk.roles r
         WHERE (r.account_id, r.id) IN (SELECT n.account_id, n.role_id FROM ub_new_links n)
         ORDER BY r.id
           FOR KEY SHARE) l;
    IF v_got < v_want THEN
        SELECT n.account_id, n.role_id AS id INTO v_bad FROM ub_new_links n
         WHERE NOT EXISTS (SELECT 1 FROM userbulk.roles r
                            WHERE r.account_id = n.account_id AND r.id = n.role_id)
         LIMIT 1;
        RAISE EXCEPTION 'insert or update on table "user_roles" names a role that is not in its account'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'user_roles',
                  CONSTRAINT = 'user_roles_role',
                  DETAIL = format('Key (account_id, role_id)=(%s, %s) is not present in table "roles".',
                                  v_bad.account_id, v_bad.id);
    END IF;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER role_links_check_insert AFTER INSERT ON userbulk.user_roles
    REFERENCING NEW TABLE AS ub_new_links
    FOR EACH STATEMENT EXECUTE FUNCTION userbulk.role_links_check();
CREATE TRIGGER role_links_check_update AFTER UPDATE ON userbulk.user_roles
    REFERENCING NEW TABLE AS ub_new_links
    FOR EACH STATEMENT EXECUTE FUNCTION userbulk.role_links_check();

-- The deleting side runs only in READ COMMITTED (see above).
CREATE FUNCTION userbulk.role_links_isolation(p_what text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION '% needs READ COMMITTED: the role links it removes or refuses must be read as committed now, not as of the transaction''s start', p_what
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Run it in a READ COMMITTED transaction.';
    END IF;
END
$fn$;

-- After DELETE on users: their links go too.
CREATE FUNCTION userbulk.role_links_user_gone() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM userbulk.role_links_isolation('deleting users');
    DELETE FROM userbulk.user_roles ur USING ub_old_users o
     WHERE ur.user_id = o.id AND ur.account_id = o.account_id;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER role_links_user_gone AFTER DELETE ON userbulk.users
    REFERENCING OLD TABLE AS ub_old_users
    FOR EACH STATEMENT EXECUTE FUNCTION userbulk.role_links_user_gone();

-- After DELETE on roles: refused while a deleted role has links.
CREATE FUNCTION userbulk.role_links_role_gone() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    v_bad record;
BEGIN
    PERFORM userbulk.role_links_isolation('deleting roles');
    SELECT o.account_id, o.id INTO v_bad FROM ub_old_roles o
     WHERE EXISTS (SELECT 1 FROM userbulk.user_roles ur
                    WHERE ur.account_id = o.account_id AND ur.role_id = o.id)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'update or delete on table "roles" leaves links in table "user_roles"'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'roles',
                  CONSTRAINT = 'user_roles_role',
                  DETAIL = format('Key (account_id, id)=(%s, %s) is still referenced from table "user_roles".',
                                  v_bad.account_id, v_bad.id);
    END IF;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER role_links_role_gone AFTER DELETE ON userbulk.roles
    REFERENCING OLD TABLE AS ub_old_roles
    FOR EACH STATEMENT EXECUTE FUNCTION userbulk.role_links_role_gone();

-- After an UPDATE that changes a user's or role's (account_id, id):
-- refused while the old key has links and no row holds it any more.
CREATE FUNCTION userbulk.role_links_key_moved() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM userbulk.role_links_isolation(format('changing the key of %s', TG_TABLE_NAME));
    IF TG_TABLE_NAME = 'users' THEN
        IF EXISTS (SELECT 1 FROM userbulk.user_roles ur
                    WHERE ur.user_id = OLD.id AND ur.account_id = OLD.account_id)
           AND NOT EXISTS (SELECT 1 FROM userbulk.users u
                            WHERE u.id = OLD.id AND u.account_id = OLD.account_id) THEN
            RAISE EXCEPTION 'update or delete on table "users" leaves links in table "user_roles"'
                USING ERRCODE = 'foreign_key_violation', TABLE = 'users',
                      CONSTRAINT = 'user_roles_user',
                      DETAIL = format('Key (account_id, id)=(%s, %s) is still referenced from table "user_roles".',
                                      OLD.account_id, OLD.id);
        END IF;
    ELSE
        IF EXISTS (SELECT 1 FROM userbulk.user_roles ur
                    WHERE ur.account_id = OLD.account_id AND ur.role_id = OLD.id)
           AND NOT EXISTS (SELECT 1 FROM userbulk.roles r
                            WHERE r.id = OLD.id AND r.account_id = OLD.account_id) THEN
            RAISE EXCEPTION 'update or delete on table "roles" leaves links in table "user_roles"'
                USING ERRCODE = 'foreign_key_violation', TABLE = 'roles',
                      CONSTRAINT = 'user_roles_role',
                      DETAIL = format('Key (account_id, id)=(%s, %s) is still referenced from table "user_roles".',
                                      OLD.account_id, OLD.id);
        END IF;
    END IF;
    RETURN NULL;
END
$fn$;
-- (Row triggers: a column list allows no transition table. They fire only
-- for an UPDATE that sets id or account_id, and act only where it changed.)
CREATE TRIGGER role_links_user_key AFTER UPDATE OF id, account_id ON userbulk.users
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.account_id IS DISTINCT FROM NEW.account_id)
    EXECUTE FUNCTION userbulk.role_links_key_moved();
CREATE TRIGGER role_links_role_key AFTER UPDATE OF id, account_id ON userbulk.roles
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.account_id IS DISTINCT FROM NEW.account_id)
    EXECUTE FUNCTION userbulk.role_links_key_moved();

-- After TRUNCATE of users or roles: refused while links remain (a
-- TRUNCATE that names user_roles too has emptied it by then).
CREATE FUNCTION userbulk.role_links_truncated() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF EXISTS (SELECT 1 FROM userbulk.user_roles) THEN
        RAISE EXCEPTION 'TRUNCATE of table "%" leaves links in table "user_roles"', TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME,
                  HINT = 'Truncate user_roles in the same command.';
    END IF;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER role_links_users_truncated AFTER TRUNCATE ON userbulk.users
    FOR EACH STATEMENT EXECUTE FUNCTION userbulk.role_links_truncated();
CREATE TRIGGER role_links_roles_truncated AFTER TRUNCATE ON userbulk.roles
    FOR EACH STATEMENT EXECUTE FUNCTION userbulk.role_links_truncated();
