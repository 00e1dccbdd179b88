-- 002: retention of the audit trail.
--
-- userbulk.audit grows by one row per applied change and is never pruned by
-- the module. Sites keep it for a period, e.g. nightly:
--   DELETE FROM userbulk.audit WHERE at < now() - interval '400 days';
-- Without an index on "at" each such run reads the whole table. (The
-- existing indexes serve the other questions: a user's history and a
-- request's trace id.)
--
-- IF NOT EXISTS: on a large audit table, build it first without blocking
-- the API, then migrate:
--   CREATE INDEX CONCURRENTLY IF NOT EXISTS audit_at ON userbulk.audit (at);
CREATE INDEX IF NOT EXISTS audit_at ON userbulk.audit (at);

COMMENT ON TABLE userbulk.audit IS
    'Every change applied by mod_userbulk, written in the transaction that '
    'applies it: who (actor), when (at), trace_id (the X-Trace-Id of the '
    'request), endpoint, the user, and the changed fields before and after. '
    'Never pruned by the module; index audit_at serves retention deletes.';
COMMENT ON TABLE userbulk.schema_version IS
    'Migrations applied by migrate.sh (src/sql/migrations/NNN_*.sql).';
