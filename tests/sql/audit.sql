-- userbulk.prune_audit (src/sql/functions/audit.sql), called directly.
\ir lib/setup.sql
SELECT plan(6);

-- Three requests: two old (two and one changed users), one recent.
INSERT INTO userbulk.audit_request (id, account_id, at, actor, trace_id, endpoint) VALUES
    (-3, '7a000000-0000-4000-8000-000000000001', now() - interval '500 days', 'tap', 'tap-old1', 'PUT /users'),
    (-2, '7a000000-0000-4000-8000-000000000001', now() - interval '450 days', 'tap', 'tap-old2', 'PUT /users'),
    (-1, '7a000000-0000-4000-8000-000000000001', now() - interval '10 days', 'tap', 'tap-new', 'PUT /users');
INSERT INTO userbulk.audit_change (request_id, account_id, user_id, before, after) VALUES
    (-3, '7a000000-0000-4000-8000-000000000001', '7a000000-0000-4000-8000-000000000101', '{"a":1}', '{"a":2}'),
    (-3, '7a000000-0000-4000-8000-000000000001', '7a000000-0000-4000-8000-000000000102', '{"a":1}', '{"a":2}'),
    (-2, '7a000000-0000-4000-8000-000000000001', '7a000000-0000-4000-8000-000000000101', '{"a":2}', '{"a":3}'),
    (-1, '7a000000-0000-4000-8000-000000000001', '7a000000-0000-4000-8000-000000000101', '{"a":3}', '{"a":4}');

SELECT is(userbulk.prune_audit(now() - interval '1000 days'), 0::bigint, 'nothing older: nothing deleted, 0');
SELECT is(userbulk.prune_audit(now() - interval '400 days'), 3::bigint, 'the rows of the view userbulk.audit that went');
SELECT is((SELECT string_agg(trace_id, ',' ORDER BY id) FROM userbulk.audit_request WHERE trace_id LIKE 'tap-%'), 'tap-new',
          'the old requests are gone, the recent one stays');
SELECT is((SELECT count(*) FROM userbulk.audit_change WHERE request_id IN (-3, -2)), 0::bigint, '... with their changes');
SELECT is((SELECT after FROM userbulk.audit WHERE trace_id = 'tap-new'), '{"a":4}'::jsonb, '... the recent change stays');
SELECT is(userbulk.prune_audit(now() - interval '400 days'), 0::bigint, 'pruning again deletes nothing');

SELECT * FROM finish();
ROLLBACK;
