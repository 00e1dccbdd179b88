-- 017: each user's role ids on the user's row, kept by the database.
--
-- Deciding whether a PUT /users record changes its user needs the user's
-- roles. They were read from user_roles, one index lookup per record: in a
-- batch resending what is stored, that lookup was a third of PostgreSQL's
-- work. users.role_ids holds the same ids (sorted, without repeats), on the
-- row the batch reads anyway.
--
-- user_roles stays what it was: the links, with the integrity of 015 and
-- the index by role. role_ids is derived from it, and equal to it for
-- every user at every commit:
--
--   * After each INSERT, DELETE or UPDATE statement on user_roles, the
--     users whose links it wrote are locked (FOR NO KEY UPDATE, in id
--     order) and then given the ids of their links as they are now.
--     TRUNCATE empties every user's role_ids.
--   * A function of functions/ that writes a user's links and role_ids in
--     the same transaction (put_users, account_update; seed.sql too) sets
--     userbulk.writes_role_ids = 'on' (set_config, local to the
--     transaction) just before its link statements and '' just after them
--     (a failure between rolls the setting back with the savepoint); the
--     triggers of those statements skip the recount, which would find
--     nothing to change. tests/sql/role_ids.sql checks role_ids against the
--     links after every kind of change, and that the setting is not left
--     behind.
--
-- Why concurrent writers cannot leave role_ids stale (READ COMMITTED): two
-- writers of one user's links both lock the user's row before they count.
-- The second waits for the first to commit, and its count is a later
-- statement, whose snapshot sees the first one's links. A writer of
-- functions/ locks (or updates) the row before it writes links, as before.
-- In REPEATABLE READ or SERIALIZABLE, locking a row that a concurrent
-- transaction changed fails with a serialization error rather than count
-- from an old snapshot.
--
-- Never write role_ids by hand: change user_roles, and the triggers follow.
--
-- The backfill below rewrites every user that has a link, once, while the
-- migration holds its locks; migrate a large directory at a quiet time.

ALTER TABLE userbulk.users ADD COLUMN role_ids uuid[] NOT NULL DEFAULT '{}';

COMMENT ON COLUMN userbulk.users.role_ids IS
    'The ids of the user''s roles (user_roles), sorted: kept by the triggers '
    'role_ids_kept_* of user_roles (migration 017). Never written by hand.';

-- The users (p_accounts[i], p_users[i]), locked in id order and given
-- their links' ids.
CREATE FUNCTION userbulk.role_ids_recount(p_accounts uuid[], p_users uuid[]) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    -- (each user by its own key: a row changed while this waited is
    -- checked again, cheaply)
    PERFORM 1 FROM unnest(p_accounts, p_users) AS x(a, u)
      JOIN userbulk.users u ON u.account_id = x.a AND u.id = x.u
     ORDER BY u.id
       FOR NO KEY UPDATE OF u;
    -- a statement of its own: its snapshot sees what committed while the
    -- locks above were awaited
    UPDATE userbulk.users u SET role_ids = k.ids
      FROM (SELECT x.a, x.u, ARRAY(SELECT ur.role_id FROM userbulk.user_roles ur
                                    WHERE ur.account_id = x.a AND ur.user_id = x.u
                                    ORDER BY ur.role_id) AS ids
              FROM unnest(p_accounts, p_users) AS x(a, u)) k
     WHERE u.account_id = k.a AND u.id = k.u AND u.role_ids IS DISTINCT FROM k.ids;
END
$fn$;

-- After a statement on user_roles: recount the users it touched, unless
-- the function running it keeps role_ids itself.
CREATE FUNCTION userbulk.role_ids_keep() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    v_accounts uuid[];
    v_users    uuid[];
BEGIN
    IF current_setting('userbulk.writes_role_ids', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(k.account_id), array_agg(k.user_id) INTO v_accounts, v_users
          FROM (SELECT DISTINCT n.account_id, n.user_id FROM ub_new_links n) k;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(k.account_id), array_agg(k.user_id) INTO v_accounts, v_users
          FROM (SELECT DISTINCT o.account_id, o.user_id FROM ub_old_links o) k;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(k.account_id), array_agg(k.user_id) INTO v_accounts, v_users
          FROM (SELECT o.account_id, o.user_id FROM ub_old_links o
                UNION SELECT n.account_id, n.user_id FROM ub_new_links n) k;
    ELSE    -- TRUNCATE
        UPDATE userbulk.users u SET role_ids = '{}' WHERE u.role_ids <> '{}';
    END IF;
    IF v_users IS NOT NULL THEN
        PERFORM userbulk.role_ids_recount(v_accounts, v_users);
    END IF;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER role_ids_kept_insert AFTER INSERT ON userbulk.user_roles
    REFERENCING NEW TABLE AS ub_new_links
    FOR EACH STATEMENT EXECUTE FUNCTION userbulk.role_ids_keep();
CREATE TRIGGER role_ids_kept_delete AFTER DELETE ON userbulk.user_roles
    REFERENCING OLD TABLE AS ub_old_links
    FOR EACH STATEMENT EXECUTE FUNCTION userbulk.role_ids_keep();
CREATE TRIGGER role_ids_kept_update AFTER UPDATE ON userbulk.user_roles
    REFERENCING OLD TABLE AS ub_old_links NEW TABLE AS ub_new_links
    FOR EACH STATEMENT EXECUTE FUNCTION userbulk.role_ids_keep();
CREATE TRIGGER role_ids_kept_truncate AFTER TRUNCATE ON userbulk.user_roles
    FOR EACH STATEMENT EXECUTE FUNCTION userbulk.role_ids_keep();

UPDATE userbulk.users u SET role_ids = l.ids
  FROM (SELECT ur.user_id, array_agg(ur.role_id ORDER BY ur.role_id) AS ids
          FROM userbulk.user_roles ur GROUP BY ur.user_id) l
 WHERE u.id = l.user_id;
