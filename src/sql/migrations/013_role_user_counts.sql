-- 013: a role's number of users (the POST's noofUsers) kept, not counted.
--
-- Counting a role's links at each POST reads the role's whole range of
-- the index user_roles_role: for the role every user of an account holds,
-- as many entries as the account has users, at every call. Instead, every
-- statement that adds or removes links adds one row per role it touched
-- with the difference (delta), in its own transaction, from a trigger on
-- user_roles: whoever writes the links (the functions, a cascade from a
-- deleted user, a DBA's statement), the sum of a role's deltas in a
-- snapshot is the number of its links in that snapshot, as count(*) would
-- be. Writers only ever insert here, so concurrent writers of one role do
-- not wait for each other (one counter row updated by all would make them
-- queue until each commits, and could deadlock two that touch two roles
-- in opposite orders).
--
-- A role's rows are folded into one now and then (see
-- userbulk.role_user_counts_add), so that a sum reads a few rows.

CREATE TABLE userbulk.role_user_counts (
    account_id  uuid NOT NULL,
    role_id     uuid NOT NULL,
    delta       bigint NOT NULL
);
CREATE INDEX role_user_counts_role ON userbulk.role_user_counts (account_id, role_id);

COMMENT ON TABLE userbulk.role_user_counts IS
    'The number of each role''s users as differences: sum(delta) by (account_id, role_id) '
    'is count(*) of its user_roles rows. Written only by the triggers on user_roles.';

-- After each statement on user_roles: one row per role touched, + added
-- links - removed ones; then the roles touched whose rows have grown past
-- 64 are folded into one row each. The fold takes only rows no one else
-- holds (SKIP LOCKED: it never waits), deletes them and inserts their sum
-- in the same statement: a concurrent fold takes other rows or none, and
-- a reader sees the rows before or the sum after, never both.
CREATE FUNCTION userbulk.role_user_counts_add() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    v_touched uuid[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM userbulk.role_user_counts;
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO userbulk.role_user_counts (account_id, role_id, delta)
             SELECT n.account_id, n.role_id, count(*) FROM ub_new_links n GROUP BY 1, 2;
        v_touched := ARRAY(SELECT DISTINCT n.role_id FROM ub_new_links n);
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO userbulk.role_user_counts (account_id, role_id, delta)
             SELECT o.account_id, o.role_id, -count(*) FROM ub_old_links o GROUP BY 1, 2;
        v_touched := ARRAY(SELECT DISTINCT o.role_id FROM ub_old_links o);
    ELSE
        INSERT INTO userbulk.role_user_counts (account_id, role_id, delta)
             SELECT x.account_id, x.role_id, sum(x.d)
               FROM (SELECT n.account_id, n.role_id, 1 AS d FROM ub_new_links n
                     UNION ALL
                     SELECT o.account_id, o.role_id, -1 FROM ub_old_links o) x
              GROUP BY 1, 2 HAVING sum(x.d) <> 0;
        v_touched := ARRAY(SELECT n.role_id FROM ub_new_links n
                           UNION SELECT o.role_id FROM ub_old_links o);
    END IF;
    WITH crowded AS (
        SELECT c.account_id, c.role_id FROM userbulk.role_user_counts c
         WHERE c.role_id = ANY (v_touched)
         GROUP BY 1, 2 HAVING count(*) > 64
    ), gone AS (
        DELETE FROM userbulk.role_user_counts c
         WHERE c.ctid = ANY (ARRAY(
               SELECT x.ctid FROM userbulk.role_user_counts x JOIN crowded k
                   ON k.account_id = x.account_id AND k.role_id = x.role_id
                  FOR UPDATE OF x SKIP LOCKED))
        RETURNING c.account_id, c.role_id, c.delta
    )
    INSERT INTO userbulk.role_user_counts (account_id, role_id, delta)
         SELECT g.account_id, g.role_id, sum(g.delta) FROM gone g GROUP BY 1, 2;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER role_user_counts_insert AFTER INSERT ON userbulk.user_roles
    REFERENCING NEW TABLE AS ub_new_links
    FOR EACH STATEMENT EXECUTE FUNCTION userbulk.role_user_counts_add();
CREATE TRIGGER role_user_counts_delete AFTER DELETE ON userbulk.user_roles
    REFERENCING OLD TABLE AS ub_old_links
    FOR EACH STATEMENT EXECUTE FUNCTION userbulk.role_user_counts_add();
CREATE TRIGGER role_user_counts_update AFTER UPDATE ON userbulk.user_roles
    REFERENCING OLD TABLE AS ub_old_links NEW TABLE AS ub_new_links
    FOR EACH STATEMENT EXECUTE FUNCTION userbulk.role_user_counts_add();
CREATE TRIGGER role_user_counts_truncate AFTER TRUNCATE ON userbulk.user_roles
    FOR EACH STATEMENT EXECUTE FUNCTION userbulk.role_user_counts_add();

-- The links as they are: the triggers exist already, and this transaction
-- holds user_roles against writers since creating them.
INSERT INTO userbulk.role_user_counts (account_id, role_id, delta)
     SELECT ur.account_id, ur.role_id, count(*) FROM userbulk.user_roles ur GROUP BY 1, 2;
