-- Demo directory: two accounts, acme and globex, with fixed ids so that
-- the README's examples and the tests can name them. Loading it again puts
-- both accounts back as they are here (their users' changes and audit rows
-- are dropped); other accounts are not touched.

BEGIN;

-- The product's vocabularies (shared by all accounts).
INSERT INTO userbulk.access_types (id, name) VALUES
    ('60000000-0000-4000-8000-000000000001', 'Application'),
    ('60000000-0000-4000-8000-000000000002', 'Data')
ON CONFLICT DO NOTHING;
INSERT INTO userbulk.access_levels (id, name) VALUES
    ('70000000-0000-4000-8000-000000000001', 'Read'),
    ('70000000-0000-4000-8000-000000000002', 'Write'),
    ('70000000-0000-4000-8000-000000000003', 'Admin')
ON CONFLICT DO NOTHING;
INSERT INTO userbulk.access_modes (id, name) VALUES
    ('80000000-0000-4000-8000-000000000001', 'Allow'),
    ('80000000-0000-4000-8000-000000000002', 'Deny')
ON CONFLICT DO NOTHING;
INSERT INTO userbulk.privileges (id, code, name) VALUES
    ('50000000-0000-4000-8000-000000000001', 'USER_READ',   'Read users'),
    ('50000000-0000-4000-8000-000000000002', 'USER_WRITE',  'Change users'),
    ('50000000-0000-4000-8000-000000000003', 'CERT_REVIEW', 'Review certifications'),
    ('50000000-0000-4000-8000-000000000004', 'REPORT_VIEW', 'View reports')
ON CONFLICT DO NOTHING;
INSERT INTO userbulk.statuses (id, status_id, code, name, color) VALUES
    ('40000000-0000-4000-8000-000000000001', 1, 'ACTIVE',   'Active',   '#2e7d32'),
    ('40000000-0000-4000-8000-000000000002', 2, 'INACTIVE', 'Inactive', '#757575'),
    ('40000000-0000-4000-8000-000000000003', 3, 'LOCKED',   'Locked',   '#c62828'),
    ('40000000-0000-4000-8000-000000000004', 4, 'PENDING',  'Pending',  '#f9a825')
ON CONFLICT DO NOTHING;
INSERT INTO userbulk.timezones (id, name, code, supports_dst, daylight_name) VALUES
    ('UTC',              'Coordinated Universal Time', 'UTC', false, NULL),
    ('Europe/Paris',     'Central European Time',      'CET', true,  'Central European Summer Time'),
    ('America/New_York', 'Eastern Time',               'ET',  true,  'Eastern Daylight Time'),
    ('Asia/Tokyo',       'Japan Standard Time',        'JST', false, NULL)
ON CONFLICT DO NOTHING;

-- Start both demo accounts afresh.
DO $$
BEGIN
    -- the audit trail: two tables since migration 004, one table before
    -- (t/migrate.t loads this file into the first schema version)
    IF to_regclass('userbulk.audit_change') IS NOT NULL THEN
        DELETE FROM userbulk.audit_change  WHERE account_id IN (SELECT id FROM userbulk.accounts WHERE code IN ('acme', 'globex'));
        DELETE FROM userbulk.audit_request WHERE account_id IN (SELECT id FROM userbulk.accounts WHERE code IN ('acme', 'globex'));
    ELSE
        DELETE FROM userbulk.audit WHERE account_id IN (SELECT id FROM userbulk.accounts WHERE code IN ('acme', 'globex'));
    END IF;
END
$$;
DELETE FROM userbulk.user_roles WHERE account_id IN (SELECT id FROM userbulk.accounts WHERE code IN ('acme', 'globex'));
DELETE FROM userbulk.users      WHERE account_id IN (SELECT id FROM userbulk.accounts WHERE code IN ('acme', 'globex'));
DELETE FROM userbulk.role_privileges WHERE account_id IN (SELECT id FROM userbulk.accounts WHERE code IN ('acme', 'globex'));
DELETE FROM userbulk.roles      WHERE account_id IN (SELECT id FROM userbulk.accounts WHERE code IN ('acme', 'globex'));
UPDATE userbulk.teams SET parent_id = NULL WHERE account_id IN (SELECT id FROM userbulk.accounts WHERE code IN ('acme', 'globex'));
DELETE FROM userbulk.teams      WHERE account_id IN (SELECT id FROM userbulk.accounts WHERE code IN ('acme', 'globex'));
DELETE FROM userbulk.departments WHERE account_id IN (SELECT id FROM userbulk.accounts WHERE code IN ('acme', 'globex'));
DELETE FROM userbulk.locations  WHERE account_id IN (SELECT id FROM userbulk.accounts WHERE code IN ('acme', 'globex'));
DELETE FROM userbulk.program_admin_roles WHERE account_id IN (SELECT id FROM userbulk.accounts WHERE code IN ('acme', 'globex'));
DELETE FROM userbulk.accounts   WHERE code IN ('acme', 'globex');

INSERT INTO userbulk.accounts (id, code, name) VALUES
    ('00000000-0000-4000-8000-00000000000a', 'acme',   'Acme Corporation'),
    ('00000000-0000-4000-8000-00000000000b', 'globex', 'Globex Inc.');

INSERT INTO userbulk.departments (account_id, code, name) VALUES
    ('00000000-0000-4000-8000-00000000000a', 'ENG',   'Engineering'),
    ('00000000-0000-4000-8000-00000000000a', 'SALES', 'Sales'),
    ('00000000-0000-4000-8000-00000000000a', 'HR',    'Human Resources'),
    ('00000000-0000-4000-8000-00000000000b', 'OPS',   'Operations'),
    ('00000000-0000-4000-8000-00000000000b', 'FIN',   'Finance');
INSERT INTO userbulk.locations (account_id, code, name) VALUES
    ('00000000-0000-4000-8000-00000000000a', 'NYC', 'New York'),
    ('00000000-0000-4000-8000-00000000000a', 'LON', 'London'),
    ('00000000-0000-4000-8000-00000000000b', 'BER', 'Berlin'),
    ('00000000-0000-4000-8000-00000000000b', 'TYO', 'Tokyo');
INSERT INTO userbulk.program_admin_roles (account_id, code, name) VALUES
    ('00000000-0000-4000-8000-00000000000a', 'PA-ADMIN',   'Program administrator'),
    ('00000000-0000-4000-8000-00000000000a', 'PA-AUDITOR', 'Program auditor'),
    ('00000000-0000-4000-8000-00000000000b', 'PA-ADMIN',   'Program administrator');

INSERT INTO userbulk.roles (id, account_id, name, description, is_licensed, is_default) VALUES
    ('10000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-00000000000a', 'Administrator', 'Manages users',        true,  false),
    ('10000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-00000000000a', 'Reviewer',      'Reviews certifications', true, false),
    ('10000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-00000000000a', 'Viewer',        'Reads reports',        false, true),
    ('10000000-0000-4000-8000-000000000011', '00000000-0000-4000-8000-00000000000b', 'Administrator', 'Manages users',        true,  false),
    ('10000000-0000-4000-8000-000000000012', '00000000-0000-4000-8000-00000000000b', 'Analyst',       'Reads data',           false, true);
INSERT INTO userbulk.role_privileges (account_id, role_id, privilege_id, access_type_id, access_level_id, access_mode_id) VALUES
    ('00000000-0000-4000-8000-00000000000a', '10000000-0000-4000-8000-000000000001', '50000000-0000-4000-8000-000000000001', '60000000-0000-4000-8000-000000000001', '70000000-0000-4000-8000-000000000001', '80000000-0000-4000-8000-000000000001'),
    ('00000000-0000-4000-8000-00000000000a', '10000000-0000-4000-8000-000000000001', '50000000-0000-4000-8000-000000000002', '60000000-0000-4000-8000-000000000001', '70000000-0000-4000-8000-000000000003', '80000000-0000-4000-8000-000000000001'),
    ('00000000-0000-4000-8000-00000000000a', '10000000-0000-4000-8000-000000000002', '50000000-0000-4000-8000-000000000003', '60000000-0000-4000-8000-000000000002', '70000000-0000-4000-8000-000000000002', '80000000-0000-4000-8000-000000000001'),
    ('00000000-0000-4000-8000-00000000000a', '10000000-0000-4000-8000-000000000003', '50000000-0000-4000-8000-000000000004', '60000000-0000-4000-8000-000000000002', '70000000-0000-4000-8000-000000000001', '80000000-0000-4000-8000-000000000001'),
    ('00000000-0000-4000-8000-00000000000b', '10000000-0000-4000-8000-000000000011', '50000000-0000-4000-8000-000000000002', '60000000-0000-4000-8000-000000000001', '70000000-0000-4000-8000-000000000003', '80000000-0000-4000-8000-000000000001'),
    ('00000000-0000-4000-8000-00000000000b', '10000000-0000-4000-8000-000000000012', '50000000-0000-4000-8000-000000000004', '60000000-0000-4000-8000-000000000002', '70000000-0000-4000-8000-000000000001', '80000000-0000-4000-8000-000000000002');

INSERT INTO userbulk.teams (id, account_id, code, name, level_ordinal, parent_id) VALUES
    ('30000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-00000000000a', 'HQ',    'Headquarters', 0, NULL),
    ('30000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-00000000000a', 'ENG',   'Engineering',  1, '30000000-0000-4000-8000-000000000001'),
    ('30000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-00000000000a', 'SALES', 'Sales',        1, '30000000-0000-4000-8000-000000000001'),
    ('30000000-0000-4000-8000-000000000011', '00000000-0000-4000-8000-00000000000b', 'GLB',   'Global',       0, NULL),
    ('30000000-0000-4000-8000-000000000012', '00000000-0000-4000-8000-00000000000b', 'OPS',   'Operations',   1, '30000000-0000-4000-8000-000000000011');

-- Users. alice carries read-only access flags a client may send back.
INSERT INTO userbulk.users (id, account_id, user_name, first_name, last_name, display_name, email,
        phone1, department_code, location_code, program_admin_role_code,
        access_automation, access_certification, login_name, status_id, timezone_id, team_id,
        is_employee, employee_code, activation_date, updated_by) VALUES
    ('20000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-00000000000a', 'alice.acme', 'Alice', 'Archer', 'Alice Archer', 'alice@acme.example',
        '+1 212 555 0101', 'ENG', 'NYC', 'PA-ADMIN', true, true, 'alice', '40000000-0000-4000-8000-000000000001', 'America/New_York', '30000000-0000-4000-8000-000000000002',
        true, 'E-0001', '2026-01-05T09:00:00Z', 'demo'),
    ('20000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-00000000000a', 'bob.acme', 'Bob', 'Baker', 'Bob Baker', 'bob@acme.example',
        '+1 212 555 0102', 'SALES', 'NYC', NULL, false, false, 'bob', '40000000-0000-4000-8000-000000000001', 'America/New_York', '30000000-0000-4000-8000-000000000003',
        true, 'E-0002', '2026-01-05T09:00:00Z', 'demo'),
    ('20000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-00000000000a', 'carol.acme', 'Carol', 'Carter', 'Carol Carter', 'carol@acme.example',
        NULL, 'HR', 'LON', NULL, false, false, 'carol', '40000000-0000-4000-8000-000000000004', 'Europe/Paris', '30000000-0000-4000-8000-000000000001',
        false, NULL, NULL, 'demo'),
    ('20000000-0000-4000-8000-000000000004', '00000000-0000-4000-8000-00000000000a', 'dave.acme', 'Dave', 'Dalton', 'Dave Dalton', 'dave@acme.example',
        NULL, 'ENG', 'LON', NULL, false, false, 'dave', '40000000-0000-4000-8000-000000000001', 'UTC', '30000000-0000-4000-8000-000000000002',
        true, 'E-0004', NULL, 'demo'),
    ('20000000-0000-4000-8000-000000000005', '00000000-0000-4000-8000-00000000000a', 'erin.acme', 'Erin', 'Ellis', 'Erin Ellis', 'erin@acme.example',
        NULL, NULL, NULL, NULL, false, false, 'erin', '40000000-0000-4000-8000-000000000002', 'UTC', NULL,
        false, NULL, NULL, 'demo'),
    ('20000000-0000-4000-8000-000000000011', '00000000-0000-4000-8000-00000000000b', 'gina.globex', 'Gina', 'Gale', 'Gina Gale', 'gina@globex.example',
        '+49 30 5550 0111', 'OPS', 'BER', 'PA-ADMIN', false, true, 'gina', '40000000-0000-4000-8000-000000000001', 'Europe/Paris', '30000000-0000-4000-8000-000000000012',
        true, 'G-0011', NULL, 'demo'),
    ('20000000-0000-4000-8000-000000000012', '00000000-0000-4000-8000-00000000000b', 'hank.globex', 'Hank', 'Hill', 'Hank Hill', 'hank@globex.example',
        NULL, 'FIN', 'TYO', NULL, false, false, 'hank', '40000000-0000-4000-8000-000000000001', 'Asia/Tokyo', '30000000-0000-4000-8000-000000000011',
        true, 'G-0012', NULL, 'demo');

INSERT INTO userbulk.user_roles (account_id, user_id, role_id) VALUES
    ('00000000-0000-4000-8000-00000000000a', '20000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000001'),
    ('00000000-0000-4000-8000-00000000000a', '20000000-0000-4000-8000-000000000001', '10000000-0000-4000-8000-000000000003'),
    ('00000000-0000-4000-8000-00000000000a', '20000000-0000-4000-8000-000000000002', '10000000-0000-4000-8000-000000000003'),
    ('00000000-0000-4000-8000-00000000000a', '20000000-0000-4000-8000-000000000003', '10000000-0000-4000-8000-000000000002'),
    ('00000000-0000-4000-8000-00000000000b', '20000000-0000-4000-8000-000000000011', '10000000-0000-4000-8000-000000000011'),
    ('00000000-0000-4000-8000-00000000000b', '20000000-0000-4000-8000-000000000012', '10000000-0000-4000-8000-000000000012');

COMMIT;
