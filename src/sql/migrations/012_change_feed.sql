-- 012: what the change feed (GET /users/changes, functions/changes.sql)
-- needs of the audit trail: a position for each request in the order of
-- commits, and an index scan per page.
--
-- audit_request ids come from a sequence at insert, not at commit: request
-- 7 may commit after 8, and a reader whose cursor moved past 8 would never
-- see 7. audit_feed numbers each account's requests in the order their
-- transactions commit (seq 1, 2, 3... without gaps), written at commit by
-- a deferred trigger of audit_request (functions/changes.sql says how and
-- why): a reader that sees seq n sees every seq below it.
--
-- Nothing of the existing trail is rewritten: requests recorded before
-- this migration have no position and are not in the feed.
--
-- The index on audit_change is built here under a lock that holds off
-- writers for the build. On a large trail, build it first without blocking
-- the API, then migrate (IF NOT EXISTS takes it as it is):
--   CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_change_request_user
--       ON userbulk.audit_change (request_id, user_id);

CREATE TABLE userbulk.audit_feed (
    account_id  uuid NOT NULL,
    seq         bigint NOT NULL,        -- 1, 2, 3... per account, in commit order
    request_id  bigint NOT NULL,        -- userbulk.audit_request (id)
    PRIMARY KEY (account_id, seq)       -- a page: one scan from the cursor on
);
CREATE INDEX audit_feed_request ON userbulk.audit_feed (request_id);     -- retention

-- Per account, the last seq given: the row the committing writer locks.
CREATE TABLE userbulk.audit_feed_clock (
    account_id  uuid PRIMARY KEY,
    seq         bigint NOT NULL
);

-- Per account, the last seq that prune_audit deleted: a cursor below it
-- may have missed changes that are gone (410 Gone).
CREATE TABLE userbulk.audit_pruned (
    account_id  uuid PRIMARY KEY,
    seq         bigint NOT NULL
);

-- A request's changed users in order, from the cursor's user on within
-- the first request of a page. Also how prune_audit (and revert) find a
-- request's rows: it replaces the BRIN summary of 004, which could not
-- resume inside a request and, on the unsummarized tail the feed reads,
-- scanned all of it.
CREATE INDEX IF NOT EXISTS audit_change_request_user
    ON userbulk.audit_change (request_id, user_id);
DROP INDEX IF EXISTS userbulk.audit_change_request;

COMMENT ON TABLE userbulk.audit_feed IS
    'The change feed''s order: each account''s requests (audit_request) numbered '
    '1, 2, 3... in the order their transactions committed; written at commit by '
    'the trigger audit_request_feed.';
COMMENT ON TABLE userbulk.audit_feed_clock IS
    'Per account, the last audit_feed.seq given.';
COMMENT ON TABLE userbulk.audit_pruned IS
    'Per account, the last audit_feed.seq that userbulk.prune_audit deleted: a '
    'feed cursor before it is answered 410 Gone.';
