-- 018: each user's history as a chain from the user's row, instead of an
-- index of audit_change by user.
--
-- audit_change's primary key was (account_id, user_id, request_id): the
-- index of each user's history. Its keys are random (user ids), so a
-- request changing 1000 users wrote into about 1000 of its pages, more
-- the larger the trail: the largest cost of a PUT /users above
-- PostgreSQL's floor after the audit rows themselves. Two things read it:
-- the revert (a user changed since the request is a conflict) and a
-- user's history.
--
-- Both now follow a chain that the writers keep in the rows they write
-- anyway:
--
--   * users.last_change: the audit request of the user's latest audit
--     row (null: none). Every writer of functions/ that writes a user's
--     audit row sets it, in the same UPDATE that gives the user version + 1
--     (a deletion removes the row, and its chain head with it).
--   * audit_change.prev_request: the user's audit row before this one
--     (null: the first, or one written before the chain was kept for it).
--     The writer read it from the user's row, at the version it updates.
--
-- A user's history is userbulk.user_history(account, user): from the
-- head, one primary key probe per row. The revert's conflict check is
-- users.last_change against the request reverted. Request ids are taken
-- from the sequence before the user's row is updated, so a writer that
-- waited for another one's lock (and retried) links after it: the chain
-- follows the order of commits on each user, whatever the ids' order.
--
-- The primary key becomes (request_id, user_id), the key of the index 012
-- built for the change feed, which it replaces: audit_change keeps one
-- index, whose keys grow with each request.
--
-- The backfill links every existing row to the one before it and gives
-- every user its last request: it rewrites the audit trail and every user
-- with a history once, while the migration holds its locks; migrate a
-- large directory at a quiet time. A history deleted before (prune_audit)
-- ends where the pruning stopped, as it did.

ALTER TABLE userbulk.users ADD COLUMN last_change bigint;
ALTER TABLE userbulk.audit_change ADD COLUMN prev_request bigint;

COMMENT ON COLUMN userbulk.users.last_change IS
    'The audit request (audit_request.id) of the user''s latest audit row: the '
    'head of its history (userbulk.user_history). Written by the API''s functions '
    'with each change they audit (migration 018).';
COMMENT ON COLUMN userbulk.audit_change.prev_request IS
    'The request of the same user''s audit row before this one (null: none kept): '
    'the link of the user''s history (userbulk.user_history, migration 018).';

UPDATE userbulk.audit_change c
   SET prev_request = p.prev
  FROM (SELECT h.request_id, h.account_id, h.user_id,
               lag(h.request_id) OVER (PARTITION BY h.account_id, h.user_id
                                       ORDER BY h.request_id) AS prev
          FROM userbulk.audit_change h) p
 WHERE c.request_id = p.request_id AND c.account_id = p.account_id
   AND c.user_id = p.user_id AND p.prev IS NOT NULL;

UPDATE userbulk.users u
   SET last_change = h.last
  FROM (SELECT c.account_id, c.user_id, max(c.request_id) AS last
          FROM userbulk.audit_change c GROUP BY c.account_id, c.user_id) h
 WHERE u.account_id = h.account_id AND u.id = h.user_id;

-- (the new key's index is built before the old ones go, under this
-- migration's lock: the feed and the revert have an index throughout;
-- USING INDEX gives it the constraint's name, audit_change_pkey)
CREATE UNIQUE INDEX audit_change_request_key ON userbulk.audit_change (request_id, user_id);
ALTER TABLE userbulk.audit_change DROP CONSTRAINT audit_change_pkey;
DROP INDEX userbulk.audit_change_request_user;
ALTER TABLE userbulk.audit_change
    ADD CONSTRAINT audit_change_pkey PRIMARY KEY USING INDEX audit_change_request_key;

-- The working sets of put_users and scim_write carry each user's chain
-- head as read (functions/ declares the same shapes; on a new database
-- it creates them after the migrations).
DO $do$
BEGIN
    IF to_regtype('userbulk.put_work') IS NOT NULL THEN
        ALTER TYPE userbulk.put_work ADD ATTRIBUTE last_change bigint;
    END IF;
    IF to_regtype('userbulk.scim_work') IS NOT NULL THEN
        ALTER TYPE userbulk.scim_work ADD ATTRIBUTE last_change bigint;
    END IF;
END
$do$;
