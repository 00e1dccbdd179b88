-- 022: users has one key on its id, the primary key (account_id, id),
-- where it had two: the primary key (id) and the unique (account_id, id)
-- that the manager's foreign key references. Every statement of the API
-- names the account with the user (t/zz-citus.t checks it), so the one
-- key serves every lookup; and an update that cannot be HOT (a new
-- address: its unique index changes) writes one index entry less. It is
-- also the key a table distributed by account needs (README, Citus).
-- Builds one index and checks the manager's key again: like 017 and 018,
-- run it at a quiet time.
ALTER TABLE userbulk.users DROP CONSTRAINT users_manager;
ALTER TABLE userbulk.users DROP CONSTRAINT users_account_id_id_key;
ALTER TABLE userbulk.users DROP CONSTRAINT users_pkey;
ALTER TABLE userbulk.users ADD CONSTRAINT users_pkey PRIMARY KEY (account_id, id);
ALTER TABLE userbulk.users ADD CONSTRAINT users_manager FOREIGN KEY (account_id, manager_id)
    REFERENCES userbulk.users (account_id, id) ON DELETE SET NULL (manager_id);
