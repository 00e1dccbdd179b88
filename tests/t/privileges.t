# Least privilege (issue 12): httpd connects as the API role userbulk_api,
# which may only call the API's entry functions (src/sql/privileges.sql).
# As that role, with psql: no table or view of the schema can be read (not
# password_hash, not the audit trail), the audit trail cannot be truncated,
# deleted or updated, nothing can be created in the schema, the helpers and
# prune_audit cannot be called; the entry functions work. A work
# table planted in the session cannot make put_users run the caller's code
# with the owner's rights. Both APIs answer through httpd as that role.
# migrate.sh refuses a missing API role (exit 4) and creates it with
# --admin.
#
#   make test T=t/privileges.t
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use Cwd qw(realpath);
use UserBulk::Test qw(:all);

my $ROOT = realpath("$FindBin::RealBin/../..");
my $API = api_conninfo();
my $BOB = '20000000-0000-4000-8000-000000000002';
my $SECRET = sprintf 'hash-%x%x', time, $$;    # a unique string to look for

reset_demo();
db_query(qq{UPDATE userbulk.users SET password_hash = '$SECRET' WHERE id = '$BOB'});

# Runs SQL as the API role: '' when it succeeds, else psql's message.
sub as_api {
    my ($sql) = @_;
    my $ok = eval { db_query_on($API, $sql); 1 };
    return $ok ? '' : $@;
}

sub denied {
    my ($sql, $name) = @_;
    my $err = as_api($sql);
    like $err, qr/permission denied/, "$name: permission denied";
    unlike $err, qr/\Q$SECRET\E/, "$name: nothing of the hash shown";
}

# --- no table can be read, the audit trail not be touched --------------------------
denied('SELECT password_hash FROM userbulk.users', 'SELECT password_hash');
my @relations = map { $_->[0] } db_query(q{
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'userbulk' AND c.relkind IN ('r', 'v', 'm', 'p') ORDER BY 1});
cmp_ok scalar @relations, '>=', 15, 'the schema has its tables and the audit view';
my @readable = grep { as_api("SELECT 1 FROM userbulk.$_ LIMIT 1") !~ /permission denied/ } @relations;
is_deeply \@readable, [], 'not one table or view of the schema can be read';
for my $t (qw(audit_request audit_change)) {
    denied("TRUNCATE userbulk.$t", "TRUNCATE $t");
    denied("DELETE FROM userbulk.$t", "DELETE FROM $t");
    denied("UPDATE userbulk.$t SET account_id = account_id", "UPDATE $t");
}
denied(q{INSERT INTO userbulk.audit_request (account_id, actor, trace_id, endpoint)
         VALUES ('00000000-0000-4000-8000-00000000000a', 'forger', 'x', 'PUT /users')},
       'INSERT a forged audit row');
denied(q{UPDATE userbulk.users SET locked_out = true}, 'UPDATE users');

# --- nothing can be created in the schema -----------------------------------------
denied('CREATE TABLE userbulk.x (i integer)', 'CREATE TABLE userbulk.x');
denied('CREATE FUNCTION userbulk.f() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$',
       'CREATE FUNCTION userbulk.f');
denied('CREATE VIEW userbulk.v AS SELECT 1 AS one', 'CREATE VIEW userbulk.v');

# --- only the entry functions can be called ------------------------------------------
denied(q{SELECT userbulk.prune_audit(now())}, 'userbulk.prune_audit (empties the audit trail)');
denied(q{SELECT userbulk.err('a', 'b', 'c')}, 'a helper (userbulk.err)');
is db_query(q{SELECT string_agg(p.proname, ',' ORDER BY p.proname) FROM pg_proc p
               WHERE p.pronamespace = 'userbulk'::regnamespace
                 AND has_function_privilege('userbulk_api', p.oid, 'EXECUTE')}),
   'account_update,get_users,put_users,revert_request,scim_group,scim_group_change,scim_group_create,scim_group_delete,scim_groups,scim_user,scim_users,scim_write,user_changes', 'the API role may execute exactly the entry functions';
is db_query(q{SELECT count(*) FROM pg_proc p
               WHERE p.pronamespace = 'userbulk'::regnamespace
                 AND has_function_privilege('public', p.oid, 'EXECUTE')}),
   0, 'PUBLIC may execute none of the schema\'s functions';
is db_query(q{SELECT string_agg(p.proname, ',' ORDER BY p.proname) FROM pg_proc p
               WHERE p.pronamespace = 'userbulk'::regnamespace
                 AND (p.prosecdef OR p.proconfig::text LIKE '%search_path%')}),
   'account_update,audit_feed_append,get_users,put_users,revert_request,scim_group,scim_group_change,scim_group_create,scim_group_delete,scim_groups,scim_user,scim_users,scim_write,user_changes',
   'only the entry functions (and the change feed\'s commit-time trigger) run as the owner with a search_path of their own (the helpers stay inlinable)';

# --- ... and they work ----------------------------------------------------------------------
# (each record's error codes gathered from its rows: one row per error)
my $put = q{SELECT idx || ':' || coalesce(json_agg(code) FILTER (WHERE code IS NOT NULL), '[]')::text
  FROM userbulk.put_users('acme', 'privileges.t', 'trace-priv', '{}'::jsonb, '{"[{\\"roleName\\":\\"Viewer\\"}]"}',
    ARRAY[ROW(0, 'bob.acme', 'bob@acme.example', 'Robert', NULL, 'Baker', NULL, NULL, NULL, NULL,
              false, 1, NULL, NULL, NULL, NULL, NULL)::userbulk.put_input])
 GROUP BY idx};
my ($row) = eval { db_query_on($API, $put) };
is $row->[0], '0:[]', 'put_users works as the API role' or diag $@;
is db_query(q{SELECT first_name FROM userbulk.users WHERE user_name = 'bob.acme'}), 'Robert', '... and applies';
is db_query(q{SELECT count(*) FROM userbulk.audit WHERE trace_id = 'trace-priv'}), 1, '... with its audit row';
($row) = eval { db_query_on($API, q{SELECT userbulk.get_users('acme', '["bob.acme"]')}) };
like $row->[0] // $@, qr/"firstName" : "Robert"/, 'get_users works as the API role';
unlike $row->[0] // '', qr/\Q$SECRET\E/, '... without the hash';
($row) = eval { db_query_on($API, qq{SELECT user_id, employee_code FROM userbulk.account_update(
    'acme', 'privileges.t', 'trace-priv2', '{"targets": ["$BOB"], "employee_code": "PRIV-1"}')
    WHERE user_id IS NOT NULL}) };
is_deeply $row, [ $BOB, 'PRIV-1' ], 'account_update works as the API role' or diag $@;

# --- a work table planted in the session ------------------------------------------------------
# put_users once kept its work table in the session's pg_temp; it now holds
# its working set in a variable of the call. A table of the old name made
# there first by the API role, with a trigger, given to the owner: put_users
# (run as the owner) must not touch it, so the trigger never runs as the
# owner.
my $plant = q{
    CREATE FUNCTION pg_temp.leak() RETURNS trigger LANGUAGE plpgsql AS $f$
    BEGIN
        RAISE EXCEPTION 'leaked: %', (SELECT string_agg(password_hash, ',') FROM userbulk.users);
    END $f$;
    CREATE TEMP TABLE ub_put_work (idx integer, at tid);
    CREATE TRIGGER leak BEFORE DELETE OR INSERT ON pg_temp.ub_put_work
        FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.leak();
    GRANT ALL ON pg_temp.ub_put_work TO userbulk;
};
my $err = as_api($plant . $put);
unlike $err, qr/\Q$SECRET\E/, 'a work table planted by the caller does not run its trigger as the owner';
is $err, '', '... put_users does not use it, and answers';

# --- httpd connects as the API role, and serves ----------------------------------------------
is json_request(PUT => PUT_USERS, token(), [ { userName => 'bob.acme', email => 'bob@acme.example',
                                               name => { firstName => 'Bobby' } } ])->code,
   200, 'PUT /users through httpd';
is json_request(POST => ACCOUNT_UPDATE, token(), { userId => $BOB, employeeCode => 'PRIV-2' })->code,
   200, 'POST through httpd';
is db_query(q{SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity
               WHERE datname = 'userbulk' AND pid <> pg_backend_pid()
                 AND application_name <> 'psql'}),
   'userbulk_api', 'httpd\'s sessions are the API role\'s';

# --- migrate.sh and the API role ------------------------------------------------------------
{
    my $role = 'ub_priv_test_api';
    db_query_on(admin_conninfo('userbulk'), "DROP OWNED BY $role") if db_query_on(admin_conninfo(),
        "SELECT 1 FROM pg_roles WHERE rolname = '$role'");
    db_query_on(admin_conninfo(), "DROP ROLE IF EXISTS $role");
    my ($rc, $out) = capture("$ROOT/src/sql/migrate.sh", '--api-role', $role, db_conninfo());
    is $rc, 4, 'migrate.sh with an API role that does not exist stops (exit 4)';
    like $out, qr/\Q$role\E does not exist.*CREATE ROLE/, '... saying how to make it';
    ($rc, $out) = capture("$ROOT/src/sql/migrate.sh", '--api-role', 'userbulk', db_conninfo());
    is $rc, 4, 'migrate.sh with the owner as API role stops (exit 4)';
    ($rc, $out) = capture("$ROOT/src/sql/migrate.sh", '--api-role', $role,
                          '--admin', admin_conninfo(), db_conninfo());
    is $rc, 0, 'migrate.sh --admin creates the API role' or diag $out;
    (my $ci = $API) =~ s/ user=\S+ / user=$role /;
    ($row) = eval { db_query_on($ci, q{SELECT userbulk.get_users('acme', '["bob.acme"]')}) };
    like $row->[0] // $@, qr/"userName" : "bob.acme"/, '... which may call the entry functions';
    like eval { db_query_on($ci, 'SELECT count(*) FROM userbulk.users'); '' } // $@, qr/permission denied/,
         '... and read no table';
    # A migration may drop put_users (functions/ then creates it afresh,
    # without grants): httpd's role keeps its rights through a run naming
    # another.
    is db_query(q{SELECT string_agg(p.proname, ',' ORDER BY p.proname) FROM pg_proc p
                   WHERE p.pronamespace = 'userbulk'::regnamespace
                     AND has_function_privilege('userbulk_api', p.oid, 'EXECUTE')}),
       'account_update,get_users,put_users,revert_request,scim_group,scim_group_change,scim_group_create,scim_group_delete,scim_groups,scim_user,scim_users,scim_write,user_changes', '... and userbulk_api keeps its rights';
    is json_request(PUT => PUT_USERS, token(), [ { userName => 'bob.acme', email => 'bob@acme.example',
                                                   name => { firstName => 'Bobbie' } } ])->code,
       200, '... httpd still serves';
    db_query_on(admin_conninfo('userbulk'), "DROP OWNED BY $role");
    db_query_on(admin_conninfo(), "DROP ROLE $role");
}

# --- make db ADMIN=...: both roles made on a bare cluster ----------------------------------
{
    my ($db, $owner, $api) = qw(ub_priv_db ub_priv_owner ub_priv_api);
    my $cleanup = sub {
        db_query_on(admin_conninfo(), "DROP DATABASE IF EXISTS $db");
        for my $r ($api, $owner) {
            next unless db_query_on(admin_conninfo(), "SELECT 1 FROM pg_roles WHERE rolname = '$r'");
            db_query_on(admin_conninfo(), "DROP OWNED BY $r");
            db_query_on(admin_conninfo(), "DROP ROLE $r");
        }
    };
    $cleanup->();
    db_query_on(admin_conninfo(), "CREATE DATABASE $db TEMPLATE template0");    # the superuser's
    (my $ci = db_conninfo()) =~ s/ dbname=\S+ user=\S+ / dbname=$db user=$owner /;
    local $ENV{MAKEFLAGS};
    my ($rc, $out) = capture('make', '-s', '-C', $ROOT, 'db', "DB=$ci", "API_ROLE=$api",
                             'ADMIN=' . admin_conninfo(), "OWNER=$owner");
    is $rc, 0, 'make db ADMIN=... OWNER=... API_ROLE=... on a database the owner cannot create in' or diag $out;
    like $out, qr/creating role $owner.*creating role $api.*granting CREATE/s, '... creates both roles and grants CREATE';
    is db_query_on($ci, q{SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'userbulk'}), $owner,
       '... the schema is the owner\'s';
    (my $api_ci = $ci) =~ s/ user=\S+ / user=$api /;
    is eval { db_query_on($api_ci, q{SELECT userbulk.get_users('acme', '[]')}) } // $@, '[]',
       '... and the API role may call the entry functions';
    $cleanup->();
}

reset_demo();
done_testing();
