-- 023: the system-wide unique address kept in a table of its own,
-- user_emails (email_lower PRIMARY KEY, account_id, user_id), where it was
-- a unique index on users (users_email_unique).
--
-- Why: an update that changes an indexed column of users cannot be HOT,
-- so every index of users gets an entry. The address was such a column:
-- a batch giving 500 users a new address wrote each of them into every
-- index. Without an index on it, that update is HOT (the row stays on its
-- page, no index entry), and the address moves in user_emails alone: one
-- row out, one row in, one index.
--
-- users.email and users.email_lower stay as they are (the address as
-- given, and folded by userbulk.fold_email). user_emails holds, for every
-- user, (email_lower, account_id, id), and nothing else, at every commit:
--
--   * INSERT on users: after the statement, its rows' addresses are added
--     (one statement for all of them);
--   * DELETE on users: after the statement, its rows' addresses are
--     removed;
--   * UPDATE of users that changes a row's address or key: after each such
--     row, its entry is moved, unless the function running the statement
--     moves them itself, set-based (put_users, scim_write, revert,
--     account_update set userbulk.writes_emails = 'on' with set_config,
--     local to the transaction, just before their UPDATE and '' just after
--     moving the entries; a failure between rolls both back with the
--     savepoint). The row trigger's condition is evaluated per row, and
--     costs nothing for a row whose address stays;
--   * TRUNCATE of users empties user_emails.
--
-- The key of user_emails is checked as each entry goes in (not
-- DEFERRABLE, where users_email_unique was). Two transactions giving the
-- same address to two users at once then queue at the key: the second
-- waits for the first and fails (23505) when it commits, where with a
-- deferred check both could go in and then wait on each other, a
-- deadlock (tests/t/email.t races six clients for one address). Swaps
-- still pass: the functions move all of a batch's entries out and then
-- in, and the row trigger of a hand-written UPDATE first removes the
-- entry of the new address if its user no longer has it (a user the same
-- statement moved away, whose own trigger has not run yet). Entries go in
-- in address order, so two batches wanting the same addresses wait in
-- one order.
--
-- Concurrent writers (READ COMMITTED): a user's entry is moved by the
-- transaction that updated (and so locked) the user's row, so two writers
-- of one user's address are serialized by the row; two writers giving
-- the same address to two users meet on the key of user_emails.
--
-- Never write user_emails by hand: write users, and the triggers follow.
-- Builds one index and copies every address: run it at a quiet time.

CREATE TABLE userbulk.user_emails (
    email_lower text NOT NULL,
    account_id  uuid NOT NULL,
    user_id     uuid NOT NULL,
    CONSTRAINT user_emails_pkey PRIMARY KEY (email_lower)
);
COMMENT ON TABLE userbulk.user_emails IS
    'Every user''s folded address (users.email_lower), unique across the system: kept by '
    'the triggers user_emails_kept_* of users and by the functions that move addresses '
    '(migration 023). Never written by hand.';

INSERT INTO userbulk.user_emails (email_lower, account_id, user_id)
     SELECT u.email_lower, u.account_id, u.id FROM userbulk.users u;
ALTER TABLE userbulk.users DROP CONSTRAINT users_email_unique;

-- After INSERT, DELETE or TRUNCATE on users: add or remove the entries of
-- the statement's rows.
CREATE FUNCTION userbulk.user_emails_keep() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO userbulk.user_emails (email_lower, account_id, user_id)
             SELECT n.email_lower, n.account_id, n.id FROM ub_new_users n ORDER BY n.email_lower;
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM userbulk.user_emails e USING ub_old_users o
         WHERE e.email_lower = o.email_lower AND e.user_id = o.id AND e.account_id = o.account_id;
    ELSE    -- TRUNCATE
        DELETE FROM userbulk.user_emails;
    END IF;
    RETURN NULL;
END
$fn$;

-- After an UPDATE of a user's address or key that no function moves
-- itself: its entry, moved. The new address's entry is first removed if
-- its user no longer has that address: another row of the same statement
-- (which has already been written) gave it up, and its own trigger, which
-- would remove the entry, comes later; so one statement may swap
-- addresses. A user of another transaction is seen as committed: an
-- address it still holds there is taken.
CREATE FUNCTION userbulk.user_emails_move() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    DELETE FROM userbulk.user_emails e
     WHERE e.email_lower = OLD.email_lower AND e.user_id = OLD.id AND e.account_id = OLD.account_id;
    DELETE FROM userbulk.user_emails e
     WHERE e.email_lower = NEW.email_lower
       AND NOT EXISTS (SELECT 1 FROM userbulk.users u
                        WHERE u.account_id = e.account_id AND u.id = e.user_id
                          AND u.email_lower = e.email_lower);
    INSERT INTO userbulk.user_emails (email_lower, account_id, user_id)
         VALUES (NEW.email_lower, NEW.account_id, NEW.id);
    RETURN NULL;
END
$fn$;

CREATE TRIGGER user_emails_kept_insert AFTER INSERT ON userbulk.users
    REFERENCING NEW TABLE AS ub_new_users
    FOR EACH STATEMENT EXECUTE FUNCTION userbulk.user_emails_keep();
CREATE TRIGGER user_emails_kept_delete AFTER DELETE ON userbulk.users
    REFERENCING OLD TABLE AS ub_old_users
    FOR EACH STATEMENT EXECUTE FUNCTION userbulk.user_emails_keep();
CREATE TRIGGER user_emails_kept_truncate AFTER TRUNCATE ON userbulk.users
    FOR EACH STATEMENT EXECUTE FUNCTION userbulk.user_emails_keep();
CREATE TRIGGER user_emails_kept_update AFTER UPDATE OF email, account_id, id ON userbulk.users
    FOR EACH ROW
    WHEN ((OLD.email_lower IS DISTINCT FROM NEW.email_lower
           OR OLD.id IS DISTINCT FROM NEW.id OR OLD.account_id IS DISTINCT FROM NEW.account_id)
          AND current_setting('userbulk.writes_emails', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION userbulk.user_emails_move();
