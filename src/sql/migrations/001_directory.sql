-- 001: the user directory. Applied once by migrate.sh, which records the
-- version in userbulk.schema_version inside the same transaction.
--
-- Every table that holds an account's data carries account_id, and every
-- key and foreign key that crosses tables includes it: a role, team or code
-- of another account cannot be linked to a user even by mistake, and the
-- directory can later be sharded by account.


CREATE TABLE userbulk.accounts (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code        varchar(64) NOT NULL UNIQUE,    -- what tokens carry
    name        varchar(200) NOT NULL
);

-- Reference codes an account configures ("configured in Certification").
CREATE TABLE userbulk.departments (
    account_id  uuid NOT NULL REFERENCES userbulk.accounts,
    code        varchar(64) NOT NULL,
    name        varchar(200) NOT NULL,
    PRIMARY KEY (account_id, code)
);
CREATE TABLE userbulk.locations (
    account_id  uuid NOT NULL REFERENCES userbulk.accounts,
    code        varchar(64) NOT NULL,
    name        varchar(200) NOT NULL,
    PRIMARY KEY (account_id, code)
);
CREATE TABLE userbulk.program_admin_roles (
    account_id  uuid NOT NULL REFERENCES userbulk.accounts,
    code        varchar(64) NOT NULL,
    name        varchar(200) NOT NULL,
    PRIMARY KEY (account_id, code)
);

-- Privileges and their access vocabularies are the product's, shared by
-- all accounts.
CREATE TABLE userbulk.access_types (
    id   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name varchar(100) NOT NULL UNIQUE
);
CREATE TABLE userbulk.access_levels (
    id   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name varchar(100) NOT NULL UNIQUE
);
CREATE TABLE userbulk.access_modes (
    id   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name varchar(100) NOT NULL UNIQUE
);
CREATE TABLE userbulk.privileges (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code            varchar(64) NOT NULL UNIQUE,
    name            varchar(200) NOT NULL,
    description     text
);

CREATE TABLE userbulk.roles (
    id          uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    account_id  uuid NOT NULL REFERENCES userbulk.accounts,
    name        varchar(100) NOT NULL,
    description text,
    is_licensed boolean NOT NULL DEFAULT false,
    is_default  boolean NOT NULL DEFAULT false,
    UNIQUE (account_id, name),
    UNIQUE (account_id, id)
);
CREATE TABLE userbulk.role_privileges (
    account_id      uuid NOT NULL,
    role_id         uuid NOT NULL,
    privilege_id    uuid NOT NULL REFERENCES userbulk.privileges,
    access_type_id  uuid NOT NULL REFERENCES userbulk.access_types,
    access_level_id uuid NOT NULL REFERENCES userbulk.access_levels,
    access_mode_id  uuid NOT NULL REFERENCES userbulk.access_modes,
    PRIMARY KEY (role_id, privilege_id),
    FOREIGN KEY (account_id, role_id) REFERENCES userbulk.roles (account_id, id)
        ON DELETE CASCADE
);

-- Teams: an account's org units, in a tree.
CREATE TABLE userbulk.teams (
    id             uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    account_id     uuid NOT NULL REFERENCES userbulk.accounts,
    code           varchar(64),
    name           varchar(200) NOT NULL,
    level_ordinal  integer NOT NULL DEFAULT 0,
    parent_id      uuid,
    UNIQUE (account_id, id),
    FOREIGN KEY (account_id, parent_id) REFERENCES userbulk.teams (account_id, id)
);

-- Statuses and time zones are the product's vocabulary.
CREATE TABLE userbulk.statuses (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    status_id  integer NOT NULL UNIQUE,       -- statusDetails.statusId
    code       varchar(32) NOT NULL UNIQUE,   -- statusCode
    name       varchar(100) NOT NULL,
    color      varchar(16)
);
CREATE TABLE userbulk.timezones (
    id              varchar(64) PRIMARY KEY,  -- timezoneId, e.g. Europe/Paris
    name            varchar(100) NOT NULL,
    code            varchar(16),
    supports_dst    boolean NOT NULL DEFAULT false,
    daylight_name   varchar(100)
);

CREATE TABLE userbulk.users (
    id                           uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    account_id                   uuid NOT NULL REFERENCES userbulk.accounts,
    user_name                    varchar(100) NOT NULL UNIQUE,
    password_hash                text,        -- never read or written by the APIs
    first_name                   varchar(100),
    middle_name                  varchar(100),
    last_name                    varchar(100),
    display_name                 varchar(300),
    email                        varchar(254) NOT NULL,
    -- Unique across the whole system, case-insensitively. Declared as a
    -- DEFERRABLE constraint (checked at the end of each statement, not row
    -- by row) so that two users can swap addresses in one batch.
    email_lower                  text GENERATED ALWAYS AS (lower(email)) STORED,
    phone1                       varchar(32),
    phone2                       varchar(32),
    department_code              varchar(64),
    location_code                varchar(64),
    program_admin_role_code      varchar(64),
    locked_out                   boolean NOT NULL DEFAULT false,
    access_automation            boolean NOT NULL DEFAULT false,
    access_certification         boolean NOT NULL DEFAULT false,
    access_complete              boolean NOT NULL DEFAULT false,
    access_operational_matching  boolean NOT NULL DEFAULT false,
    login_name                   varchar(100),
    reset_password_state         boolean NOT NULL DEFAULT false,
    activation_date              timestamptz,
    expiry_date                  timestamptz,
    status_id                    uuid REFERENCES userbulk.statuses,
    timezone_id                  varchar(64) REFERENCES userbulk.timezones,
    team_id                      uuid,
    profile_pic                  varchar(2048),
    is_sso_user                  boolean NOT NULL DEFAULT false,
    is_employee                  boolean NOT NULL DEFAULT false,
    employee_code                varchar(64),
    is_two_factor_enabled        boolean NOT NULL DEFAULT false,
    version                      bigint NOT NULL DEFAULT 1,
    updated_at                   timestamptz NOT NULL DEFAULT now(),
    updated_by                   text,
    CONSTRAINT users_email_unique UNIQUE (email_lower) DEFERRABLE INITIALLY IMMEDIATE,
    CONSTRAINT users_expiry_after_activation CHECK (expiry_date >= activation_date),
    UNIQUE (account_id, id),
    FOREIGN KEY (account_id, department_code) REFERENCES userbulk.departments (account_id, code),
    FOREIGN KEY (account_id, location_code) REFERENCES userbulk.locations (account_id, code),
    FOREIGN KEY (account_id, program_admin_role_code) REFERENCES userbulk.program_admin_roles (account_id, code),
    FOREIGN KEY (account_id, team_id) REFERENCES userbulk.teams (account_id, id)
) WITH (fillfactor = 80);   -- room on the page keeps updates HOT

CREATE TABLE userbulk.user_roles (
    account_id  uuid NOT NULL,
    user_id     uuid NOT NULL,
    role_id     uuid NOT NULL,
    PRIMARY KEY (user_id, role_id),
    FOREIGN KEY (account_id, user_id) REFERENCES userbulk.users (account_id, id) ON DELETE CASCADE,
    FOREIGN KEY (account_id, role_id) REFERENCES userbulk.roles (account_id, id)
);
-- noofUsers counts a role's users in the account.
CREATE INDEX user_roles_role ON userbulk.user_roles (account_id, role_id);

-- Every applied change, written in the transaction that applies it.
CREATE TABLE userbulk.audit (
    id          bigserial PRIMARY KEY,
    account_id  uuid NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    trace_id    text NOT NULL,
    endpoint    text NOT NULL,
    user_id     uuid NOT NULL,
    before      jsonb NOT NULL,     -- only the fields that changed
    after       jsonb NOT NULL
);
CREATE INDEX audit_user ON userbulk.audit (account_id, user_id, id);
CREATE INDEX audit_trace ON userbulk.audit (trace_id);
