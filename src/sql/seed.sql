-- Adds generated users to both demo accounts, for benchmarks:
--   psql -v users=100000 -f src/sql/seed.sql
-- Users are named u<N>.<account> with address u<N>@<account>.example, N
-- from 1 to :users; running it again adds only the missing ones.
\if :{?users}
\else
\set users 1000
\endif

-- Every generated user gets the account's default roles: its links and,
-- on its row, their ids (users.role_ids, 017), written together, so that
-- the triggers of user_roles need not count each new user again.
BEGIN;
SET LOCAL userbulk.writes_role_ids = 'on';
WITH new AS (
    INSERT INTO userbulk.users (account_id, user_name, first_name, last_name, display_name, email,
            department_code, location_code, status_id, timezone_id, updated_by, role_ids)
    SELECT a.id,
           format('u%s.%s', n, a.code),
           format('First%s', n), format('Last%s', n), format('First%s Last%s', n, n),
           format('u%s@%s.example', n, a.code),
           d.code, l.code,
           '40000000-0000-4000-8000-000000000001', 'UTC', 'seed', r.ids
      FROM userbulk.accounts a
     CROSS JOIN generate_series(1, :users) AS n
     CROSS JOIN LATERAL (SELECT code FROM userbulk.departments WHERE account_id = a.id ORDER BY code LIMIT 1) d
     CROSS JOIN LATERAL (SELECT code FROM userbulk.locations WHERE account_id = a.id ORDER BY code LIMIT 1) l
     CROSS JOIN LATERAL (SELECT ARRAY(SELECT ro.id FROM userbulk.roles ro
                                       WHERE ro.account_id = a.id AND ro.is_default ORDER BY ro.id) AS ids) r
     WHERE a.code IN ('acme', 'globex')
    ON CONFLICT (user_name) DO NOTHING
    RETURNING id, account_id, role_ids
)
INSERT INTO userbulk.user_roles (account_id, user_id, role_id)
SELECT new.account_id, new.id, x FROM new CROSS JOIN unnest(new.role_ids) AS x;
COMMIT;

ANALYZE userbulk.users;
ANALYZE userbulk.user_roles;
