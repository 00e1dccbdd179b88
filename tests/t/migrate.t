# Schema tooling (issue 6, part 2): src/sql/migrate.sh and `make db` create
# or upgrade the schema in an existing database, versioned and idempotent.
#
# A database is brought to the first version only (migration 001, the
# tables), given data, then upgraded by the real migrate.sh: the later
# migrations and the functions (functions/*.sql) are applied, the data survives, the version
# is the newest; a second run changes nothing (same schema dump, same data,
# same version rows). Also: concurrent runs take turns, a database newer
# than the release is left alone, `make db` works, and re-applying
# the functions under a running httpd leaves it serving.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use Cwd qw(realpath);
use File::Copy qw(copy);
use File::Path qw(make_path remove_tree);
use UserBulk::Test qw(:all);

my $ROOT = realpath("$FindBin::RealBin/../..");
my $SQL = "$ROOT/src/sql";
my $DB = 'ub_migrate_test';
my $WORK = "$ROOT/.run/migrate-test";

my @migrations = sort glob "$SQL/migrations/[0-9][0-9][0-9]_*.sql";
my ($latest) = $migrations[-1] =~ m{/(\d{3})_[^/]+\.sql$};
$latest += 0;
cmp_ok $latest, '>=', 2, "there are migrations after the first (newest: $latest)";

sub admin { db_query_on(admin_conninfo(), @_) }

sub fresh_db {
    my ($name) = @_;
    admin("DROP DATABASE IF EXISTS $name");
    admin("CREATE DATABASE $name OWNER userbulk ENCODING 'UTF8' TEMPLATE template0");
    (my $ci = db_conninfo()) =~ s/dbname=\S+/dbname=$name/;
    return $ci;
}

my $CI = fresh_db($DB);
sub q_db { db_query_on($CI, @_) }

# What must survive: every table's rows, as text, in a stable order. Each row
# as jsonb (keys in a fixed order): a migration may remake a column, which
# then comes last (005 remakes users.email_lower).
my @TABLES = qw(accounts departments locations program_admin_roles access_types
                access_levels access_modes privileges roles role_privileges teams
                statuses timezones users user_roles audit);
# Columns a later migration adds are null in the rows that predate it
# (010: a user's created_at stays unknown): nulls are left out, so the
# digest compares the values the rows had.
# (users.role_ids, added by 017, is derived from user_roles: it is checked
# against the links on its own, below.)
sub data_digest {
    return join ' ', map {
        "$_=" . q_db("SELECT count(*) || ':' || coalesce(md5(string_agg(jsonb_strip_nulls(to_jsonb(t) - 'role_ids' - 'last_change')::text, '|'
                                                                       ORDER BY (to_jsonb(t) - 'role_ids' - 'last_change')::text)), '-')
                        FROM userbulk.$_ t")
    } @TABLES;
}

# Compares two dumps, showing only the first differing lines.
sub same_dump {
    my ($got, $want, $name) = @_;
    return pass($name) if $got eq $want;
    my @g = split /\n/, $got;
    my @w = split /\n/, $want;
    my $i = 0;
    $i++ while $i < @g && $i < @w && $g[$i] eq $w[$i];
    fail($name);
    diag("first difference at line " . ($i + 1) . ":\n  got:  " . ($g[$i] // '(end)')
         . "\n  want: " . ($w[$i] // '(end)'));
}

sub schema_dump {
    my ($rc, $out) = capture(pg_bin('pg_dump'), '--schema-only', '--no-owner', '-d', $CI);
    die "pg_dump failed: $out" if $rc;
    # pg_dump 15.14+ brackets the dump with a random \restrict key.
    $out =~ s/^\\(?:un)?restrict .*\n//mg;
    return $out;
}

# --- the first version: migration 001 only ---------------------------------
remove_tree($WORK);
make_path("$WORK/migrations", "$WORK/functions");
copy("$SQL/migrate.sh", "$WORK/migrate.sh") or die "copy: $!";
chmod 0755, "$WORK/migrate.sh";
copy($migrations[0], "$WORK/migrations/") or die "copy: $!";
# The first release's functions do not matter here: the data is loaded
# with plain SQL, and the upgrade replaces every function.
# Nor their privileges (privileges.sql came later; it names the functions).
for my $f ('privileges.sql', map { s{^.*/}{functions/}r } glob "$SQL/functions/*.sql") {
    open my $fh, '>', "$WORK/$f" or die $!;
    print $fh "-- (none)\n";
    close $fh;
}

my ($rc, $out) = capture("$WORK/migrate.sh", $CI);
is $rc, 0, 'migrate.sh with only 001 creates the first version' or diag $out;
is q_db('SELECT max(version) FROM userbulk.schema_version'), 1, 'the database is at version 1';

($rc, $out) = capture(pg_bin('psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $CI, '-f', "$SQL/demo.sql");
is $rc, 0, 'the demo directory loads into version 1' or diag $out;
q_db(q{INSERT INTO userbulk.audit (account_id, at, actor, trace_id, endpoint, user_id, before, after)
       SELECT account_id, now() - interval '500 days', 'migrate.t', 'trace-old', 'PUT /users', id,
              '{"firstName":"A"}', '{"firstName":"B"}'
         FROM userbulk.users WHERE user_name = 'alice.acme'});
q_db(q{INSERT INTO userbulk.audit (account_id, at, actor, trace_id, endpoint, user_id, before, after)
       SELECT account_id, now() - interval '10 days', 'migrate.t', 'trace-mid', 'PUT /users', id,
              '{"firstName":"B"}', '{"firstName":"C"}'
         FROM userbulk.users WHERE user_name = 'alice.acme'});
q_db(q{UPDATE userbulk.users SET first_name = 'Upgraded', version = version + 1
        WHERE user_name = 'bob.acme'});
my $digest = data_digest();
like $digest, qr/users=7:/, 'data in place: 7 users';

# --- the upgrade -------------------------------------------------------------
($rc, $out) = capture("$SQL/migrate.sh", $CI);
is $rc, 0, 'migrate.sh upgrades from version 1' or diag $out;
for my $m (@migrations[1 .. $#migrations]) {
    my ($name) = $m =~ m{/([^/]+)\.sql$};
    like $out, qr/applying \Q$name\E\b/, "applies $name";
}
unlike $out, qr/applying 001/, 'does not apply 001 again';
like $out, qr/schema at version $latest\b/, "says the schema is at version $latest";
is q_db('SELECT max(version) FROM userbulk.schema_version'), $latest, "the database is at version $latest";
is q_db('SELECT string_agg(version::text, \',\' ORDER BY version) FROM userbulk.schema_version'),
   join(',', 1 .. $latest), 'every version recorded once, in order';
is data_digest(), $digest, 'every row of every table survived the upgrade';
is q_db(q{SELECT first_name FROM userbulk.users WHERE user_name = 'bob.acme'}), 'Upgraded',
   'a changed user keeps its change';
is q_db(q{SELECT count(*) FROM userbulk.users u
           WHERE u.role_ids IS DISTINCT FROM ARRAY(SELECT ur.role_id FROM userbulk.user_roles ur
                                                    WHERE ur.user_id = u.id ORDER BY ur.role_id)}), 0,
   'every user has the ids of its role links on its row (017)';
cmp_ok q_db(q{SELECT count(*) FROM userbulk.users WHERE cardinality(role_ids) > 0}), '>=', 5,
   'the users with links have them there';
is q_db(q{SELECT string_agg(r.trace_id, ' ' ORDER BY h.ordinality)
            FROM userbulk.users u
           CROSS JOIN LATERAL userbulk.user_history(u.account_id, u.id) WITH ORDINALITY h
            JOIN userbulk.audit_request r ON r.id = h.id
           WHERE u.user_name = 'alice.acme'}), 'trace-old trace-mid',
   '018: a user\'s history from before is linked, oldest first (user_history)';
is q_db(q{SELECT count(*) FROM userbulk.users u WHERE u.last_change IS NOT NULL}), 1,
   '... and only a user with a history has a head';
is q_db(q{SELECT count(*) FROM pg_index WHERE indrelid = 'userbulk.audit_change'::regclass}), 1,
   '... audit_change has one index, its primary key (request_id, user_id)';
is q_db(q{SELECT string_agg(pg_get_indexdef(i.indexrelid, 0, false), '; ')
            FROM pg_index i
           WHERE i.indrelid = 'userbulk.users'::regclass
             AND (i.indisprimary OR 'id' IN (SELECT a.attname FROM pg_attribute a
                                              WHERE a.attrelid = i.indrelid
                                                AND a.attnum = ANY (i.indkey)))}),
   'CREATE UNIQUE INDEX users_pkey ON userbulk.users USING btree (account_id, id)',
   '022: users has one index on its id, its primary key (account_id, id)';
is q_db(q{SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c WHERE c.conname = 'users_manager'}),
   'FOREIGN KEY (account_id, manager_id) REFERENCES users(account_id, id) ON DELETE SET NULL (manager_id)',
   '... which the manager\'s foreign key references';
is user_emails_drift($CI), 0, '023: every user\'s address is in user_emails, and nothing else';
cmp_ok q_db(q{SELECT count(*) FROM userbulk.user_emails}), '>=', 5, '... for the users there were';
is q_db(q{SELECT count(*) FROM pg_indexes WHERE schemaname = 'userbulk' AND tablename = 'users'
             AND indexdef ~ 'email'}), 0,
   '... and no index of users has the address (users_email_unique is gone)';
ok q_db(q{SELECT count(*) FROM pg_proc WHERE pronamespace = 'userbulk'::regnamespace
            AND proname IN ('put_users', 'account_update')}) == 2,
   'functions/ was applied (put_users, account_update exist)';
is q_db(q{SELECT count(*) FROM pg_indexes WHERE schemaname = 'userbulk' AND indexname = 'audit_request_at'}), 1,
   '004: the retention index audit_request_at exists';
is q_db(q{SELECT relkind FROM pg_class WHERE oid = 'userbulk.audit'::regclass}), 'v',
   '004: userbulk.audit is a view over audit_request and audit_change';
is q_db(q{SELECT id || ' ' || actor || ' ' || trace_id || ' ' || after::text FROM userbulk.audit
           WHERE trace_id = 'trace-old'}), q_db(q{SELECT min(id) FROM userbulk.audit_request}) . ' migrate.t trace-old {"firstName": "B"}',
   '004: an audit row of version 1 reads as it did, under its id';

# The functions work on the upgraded data.
my $acme = q_db(q{SELECT id FROM userbulk.accounts WHERE code = 'acme'});
# (one record, as the module sends it: the lists of roles, and an array of
# rows of userbulk.put_input naming theirs by number)
my ($row) = db_query_on($CI, q{SELECT idx, code FROM userbulk.put_users('acme', 'migrate.t', 'trace-upgrade',
    '{}'::jsonb, '{"[]"}', ARRAY[ROW(0, 'carol.acme', 'carol@acme.example', 'Carol2', NULL, NULL, NULL, NULL,
                           NULL, NULL, false, 1, NULL, NULL, NULL, NULL, NULL)::userbulk.put_input])});
ok defined $row, 'put_users answers on the upgraded database';
is q_db(q{SELECT first_name FROM userbulk.users WHERE user_name = 'carol.acme'}), 'Carol2',
   '... and applies a change';
is q_db(q{SELECT count(*) || ' ' || max(actor) FROM userbulk.audit WHERE trace_id = 'trace-upgrade'}), '1 migrate.t',
   '... with its audit row';
is q_db(q{SELECT (u.last_change = r.id) || ' ' || (c.prev_request IS NULL)
            FROM userbulk.users u JOIN userbulk.audit_request r ON r.trace_id = 'trace-upgrade'
            JOIN userbulk.audit_change c ON c.request_id = r.id AND c.user_id = u.id
           WHERE u.user_name = 'carol.acme'}), 'true true',
   '... the head of the user\'s history, its first row';
cmp_ok q_db(q{SELECT min(id) FROM userbulk.audit WHERE trace_id = 'trace-upgrade'}), '>',
       q_db(q{SELECT max(id) FROM userbulk.audit WHERE trace_id <> 'trace-upgrade'}),
       '... numbered after the rows of the first version';

# Retention: the 500-day-old request goes, with its rows; the new one stays.
is q_db(q{SELECT userbulk.prune_audit(now() - interval '400 days')}), 1,
   'prune_audit deletes the one audit row older than 400 days';
is q_db(q{SELECT count(*) FROM userbulk.audit_request WHERE trace_id = 'trace-old'})
   . q_db(q{SELECT count(*) FROM userbulk.audit WHERE trace_id = 'trace-old'}), '00',
   '... its request and its change';
is q_db(q{SELECT count(*) FROM userbulk.audit WHERE trace_id = 'trace-upgrade'}), 1,
   '... and keeps the newer one';
is q_db(q{SELECT userbulk.prune_audit(now() - interval '400 days')}), 0, 'pruning again deletes nothing';
is q_db(q{SELECT string_agg(h.trace_id, ' ')
            FROM userbulk.users u CROSS JOIN LATERAL userbulk.user_history(u.account_id, u.id) h
           WHERE u.user_name = 'alice.acme'}), 'trace-mid',
   'a history ends where the pruning stopped';
$digest = data_digest();

# --- running it again changes nothing ------------------------------------------
my $dump = schema_dump();
my $versions = q_db(q{SELECT string_agg(version || '@' || applied_at, ',' ORDER BY version) FROM userbulk.schema_version});
($rc, $out) = capture("$SQL/migrate.sh", $CI);
is $rc, 0, 'a second run succeeds' or diag $out;
unlike $out, qr/applying/, 'a second run applies no migration';
same_dump(schema_dump(), $dump, 'a second run leaves the schema as it was (pg_dump --schema-only identical)');
is data_digest(), $digest, 'a second run leaves the data as it was';
is q_db(q{SELECT string_agg(version || '@' || applied_at, ',' ORDER BY version) FROM userbulk.schema_version}),
   $versions, 'a second run leaves schema_version as it was';

# --- what a site built on the functions' row types stays ------------------------
# (Until 006 every run dropped userbulk.put_result CASCADE, and such a view
# with it.) A type of another shape than functions/ answer stops the run.
q_db(q{CREATE VIEW userbulk.site_results AS SELECT (r).idx FROM (SELECT NULL::userbulk.put_result AS r) x});
($rc, $out) = capture("$SQL/migrate.sh", $CI);
is $rc, 0, 'a run with a view built on userbulk.put_result succeeds' or diag $out;
is q_db(q{SELECT count(*) FROM pg_views WHERE schemaname = 'userbulk' AND viewname = 'site_results'}), 1,
   '... and leaves the view in place';
q_db('DROP VIEW userbulk.site_results');
q_db('ALTER TYPE userbulk.put_result ADD ATTRIBUTE site_extra integer');
($rc, $out) = capture("$SQL/migrate.sh", $CI);
isnt $rc, 0, 'a run over a userbulk.put_result of another shape fails';
like $out, qr/userbulk\.put_result: the database has \(.*site_extra integer\), functions\/ answer/,
     '... saying which type and both shapes';
q_db('ALTER TYPE userbulk.put_result DROP ATTRIBUTE site_extra');

# --- make db -------------------------------------------------------------------
{
    local $ENV{MAKEFLAGS};
    ($rc, $out) = capture('make', '-s', '-C', $ROOT, 'db', "DB=$CI");
    is $rc, 0, "make db DB='...' runs migrate.sh" or diag $out;
    like $out, qr/schema at version $latest\b/, 'make db says the version';
    ($rc, $out) = capture('make', '-s', '-C', $ROOT, 'db');
    isnt $rc, 0, 'make db without DB fails';
    like $out, qr/usage: make db DB=/, '... with a usage line';
}

# --- a database newer than this release ---------------------------------------------
q_db(q{INSERT INTO userbulk.schema_version (version, name) VALUES (999, '999_future')});
($rc, $out) = capture("$SQL/migrate.sh", $CI);
is $rc, 3, 'a database at a newer version is refused (exit 3)';
like $out, qr/version 999, newer than this release's $latest/, '... saying why';
same_dump(schema_dump(), $dump, '... and nothing is changed');
q_db('DELETE FROM userbulk.schema_version WHERE version = 999');

# --- concurrent runs on an empty database ----------------------------------------------
{
    my $ci = fresh_db("${DB}_concurrent");
    my @kids;
    for my $i (1 .. 3) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my ($r, $o) = capture("$SQL/migrate.sh", $ci);
            open my $f, '>', "$WORK/concurrent-$i.log" or die $!;
            print $f $o;
            close $f;
            exit $r;
        }
        push @kids, $pid;
    }
    my @codes = map { waitpid($_, 0); $? >> 8 } @kids;
    is_deeply \@codes, [ 0, 0, 0 ], 'three runs at once all succeed';
    my $all = join '', map { local $/; open my $f, '<', "$WORK/concurrent-$_.log" or die $!; <$f> } 1 .. 3;
    my @applied = $all =~ /applying 001/g;
    is scalar @applied, 1, 'migration 001 applied by exactly one of them';
    is db_query_on($ci, 'SELECT count(*) || \'/\' || max(version) FROM userbulk.schema_version'),
       "$latest/$latest", 'each version recorded once';
    admin("DROP DATABASE ${DB}_concurrent");
}

# --- re-applying under a running httpd ---------------------------------------------------
# httpd holds sessions with the statements prepared; functions/ replaces
# the functions (and a migration may drop and re-create their types). The next requests must still be
# served (PostgreSQL re-plans a prepared statement whose objects changed).
{
    my $put = sub {
        json_request(PUT => PUT_USERS, token(), [ { userName => 'dave.acme', email => 'dave@acme.example',
                                                    name => { firstName => $_[0] } } ]);
    };
    my $post = sub {
        json_request(POST => ACCOUNT_UPDATE, token(),
                     { userId => '20000000-0000-4000-8000-000000000004', employeeCode => $_[0] });
    };
    is $put->('Online1')->code, 200, 'serving before re-applying the schema';
    is $post->('ON1')->code, 200, '... both APIs';
    ($rc, $out) = capture("$SQL/migrate.sh", db_conninfo());
    is $rc, 0, 'migrate.sh on the live test database' or diag $out;
    my @codes = map { $put->("Online2$_")->code } 1 .. 6;
    is_deeply \@codes, [ (200) x 6 ], 'PUT /users keeps serving on every pooled session after functions/ was re-applied';
    @codes = map { $post->("ON2$_")->code } 1 .. 6;
    is_deeply \@codes, [ (200) x 6 ], 'so does POST';
}

admin("DROP DATABASE $DB");
remove_tree($WORK);
done_testing();
