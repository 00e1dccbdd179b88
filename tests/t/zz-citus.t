# Scale-out by account (issue 17, item 3): the two properties README's
# "Scale-out with Citus" section relies on, checked against every
# statement the module ran in this suite, not against a list kept by hand.
#
# The test cluster records every statement, the ones inside the SQL
# functions too, in pg_stat_statements (tools/pg.sh --ephemeral:
# pg_stat_statements.track = all). Named zz- to run late, after the other
# files have driven every endpoint through its paths (errors, retries,
# concurrency); it also sends one request of each kind itself, so that it
# means something when run alone.
#
# (a) Every statement the module runs constrains the account on every
#     distributed table it names: account_id = something (a parameter, a
#     variable, another table's account_id: a join that carries it), in the
#     query level that reads the table; an INSERT names account_id among
#     its columns. Known system-wide reads are listed in %SYSTEM_WIDE
#     below, each with its reason (one the run did not see is noted).
# (b) No statement creates a temporary table (pgbouncer's transaction mode
#     hands a session to another client after each transaction, and Citus
#     would keep such a table on the coordinator only), and no function of
#     schema userbulk has CREATE TEMP in its source.
#
# Why pg_stat_statements and not EXPLAIN: the recorded texts are the
# statements as run (plpgsql's statements with their variables, the
# dynamic SQL of the SCIM filters as built, PostgreSQL's own foreign-key
# and cascade queries), with no need to guess parameter values for a
# plan; an EXPLAIN of a generic plan needs PostgreSQL 16. What the texts
# cannot show is an SQL function inlined into its caller: the bodies of
# the LANGUAGE sql functions are checked from the catalog instead.
#
# Which statements are the module's: those recorded since
# tests/tools/run-tests.sh reset pg_stat_statements before the Apache::Test
# suite (not the pgTAP files', not migrate.sh's first run), nested ones run
# as the schema's owner (the API functions are SECURITY DEFINER) and
# whatever the API role ran. Test fixtures also run as the owner
# (src/sql/demo.sql's DO block, reset_demo): an offender whose text is
# found in demo.sql, in a migration or in the test files is theirs and
# left out.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use Cwd qw(realpath);
use JSON::PP ();
use UserBulk::Test qw(:all);

my $ROOT = realpath("$FindBin::RealBin/../..");
my $ADMIN = admin_conninfo('userbulk');
my $SCIM = [ Accept => 'application/scim+json', 'Content-Type' => 'application/scim+json' ];
my $PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
my $ALICE = '20000000-0000-4000-8000-000000000001';
my $VIEWER = '10000000-0000-4000-8000-000000000003';

# Distributed tables are those with an account_id column; these are the
# others, each with what it is under Citus.
my %NOT_BY_ACCOUNT_ID = (
    accounts       => 'reference table (the token\'s account code -> id)',
    statuses       => 'reference table (product vocabulary)',
    timezones      => 'reference table (product vocabulary)',
    privileges     => 'reference table (product vocabulary)',
    access_types   => 'reference table (product vocabulary)',
    access_levels  => 'reference table (product vocabulary)',
    access_modes   => 'reference table (product vocabulary)',
    schema_version => 'local table of migrate.sh, read by no request',
    idempotency    => 'distributed by its text column account (the token\'s code): no other table joins it',
);
# Tables distributed by another column than account_id, even where they
# have one: user_emails by the address it keeps unique across accounts
# (migration 023).
my %DIST_COLUMN = (idempotency => 'account', user_emails => 'email_lower');

# (a)'s known system-wide reads: a pattern of the query level (the text
# between the parentheses around the table, whitespace collapsed) that
# reads a distributed table without the account => why it may.
my %SYSTEM_WIDE = (
    qr/^SELECT \$\d+ FROM userbulk\.users t WHERE t\.user_name = b\.user_name$/ =>
        'scim_write: userName is unique system-wide (users.user_name UNIQUE); '
        . 'under Citus a table of its own keyed by the name (README)',
    qr/FROM userbulk\.idempotency o WHERE o\.created_at < now\(\) - interval \$\d+ ORDER BY o\.created_at LIMIT \$\d+ FOR UPDATE SKIP LOCKED/ =>
        'put_users: the sweep of expired keys of every account (bounded, SKIP LOCKED); '
        . 'under Citus a job per shard (README)',
    qr/^DELETE FROM userbulk\.audit_request r WHERE r\.at < p_before RETURNING r\.id$/ =>
        'prune_audit: the operator\'s retention job, for every account by design',
    qr/^DELETE FROM userbulk\.audit_feed f WHERE f\.request_id = ANY \(v_ids\) RETURNING f\.account_id, f\.seq$/ =>
        'prune_audit: the feed rows of the requests it deleted',
    qr/^DELETE FROM userbulk\.audit_change c WHERE c\.request_id = ANY \(v_ids\)$/ =>
        'prune_audit: the changes of the requests it deleted',
);

# (b)'s known exceptions: a pattern => why.
my %TEMP_ALLOWED = (
    qr/\bpg_temp\.ub_shape_\w+/ =>
        'userbulk.ensure_row_type: a scratch type that migrate.sh creates and drops '
        . 'in the same call; no request runs it',
);
# The same for the functions' source: function => why.
my %TEMP_ALLOWED_FUNCTIONS = (
    ensure_row_type => $TEMP_ALLOWED{ qr/\bpg_temp\.ub_shape_\w+/ },
);

sub collapse { my ($s) = @_; $s =~ s/--[^\n]*//g; $s =~ s/\s+/ /g; $s =~ s/^ | $//g; return $s }

# plpgsql takes SELECT ... INTO's target out of the statement it runs.
sub without_into { my ($s) = @_; $s =~ s/\bINTO (?:STRICT )?[\w.]+(?: ?, ?[\w.]+)* (?=FROM\b|$)//gi; return $s }

sub admin_json {
    my ($sql) = @_;
    return JSON::PP->new->utf8->decode(scalar db_query_on($ADMIN, "SELECT coalesce(jsonb_agg(q), '[]')::text FROM ($sql) q"));
}

# --- one request of each kind ----------------------------------------------------
reset_demo();
sub scim { my ($m, $p, $b) = @_; return json_request($m, "/scim/v2$p", token(), $b, $SCIM) }
my %sent;
$sent{'PUT /users'} = json_request(PUT => PUT_USERS, token(),
    [ { userName => 'alice.acme', email => 'alice@acme.example', name => { firstName => 'Citus' } } ]);
$sent{'POST update'} = json_request(POST => ACCOUNT_UPDATE, token(), { userId => $ALICE, employeeCode => 'C1' });
Apache::TestRequest::module('userbulk_readback');
$sent{'GET /users'} = json_request(GET => PUT_USERS . '?userName=alice.acme', token());
Apache::TestRequest::module('userbulk_feed');
$sent{'GET /users/changes'} = json_request(GET => '/users/changes', token());
# the diff of a PUT, then the revert of it (UserBulkDiff, UserBulkRevert)
Apache::TestRequest::module('userbulk_undo');
my $put = json_request(PUT => PUT_USERS . '?diff=true', token(),
    [ { userName => 'bob.acme', email => 'bob@acme.example', name => { firstName => 'Citus' } } ]);
$sent{'PUT /users?diff=true'} = $put;
$sent{'POST revert'} = json_request(POST => PUT_USERS . '/requests/' . ($put->header('X-Trace-Id') // 'none')
                                    . '/revert?diff=true', token());
Apache::TestRequest::module('default');
$sent{'GET /Users?filter'} = scim(GET => '/Users?filter=userName%20sw%20%22a%22');
$sent{'GET /Users/{id}'} = scim(GET => "/Users/$ALICE");
my $made = scim(POST => '/Users', { schemas => [ 'urn:ietf:params:scim:schemas:core:2.0:User' ],
                                    userName => 'citus.acme', emails => [ { value => 'citus@acme.example', primary => JSON::PP::true } ] });
$sent{'POST /Users'} = $made;
my $id = ($made->json // {})->{id} // 'none';
$sent{'PATCH /Users/{id}'} = scim(PATCH => "/Users/$id",
    { schemas => [ $PATCH ], Operations => [ { op => 'replace', path => 'displayName', value => 'Citus' } ] });
$sent{'DELETE /Users/{id}'} = scim(DELETE => "/Users/$id");
$sent{'GET /Groups'} = scim(GET => '/Groups');
$sent{'GET /Groups/{id}'} = scim(GET => "/Groups/$VIEWER");
my $group = scim(POST => '/Groups', { schemas => [ 'urn:ietf:params:scim:schemas:core:2.0:Group' ],
                                      displayName => 'Citus group', members => [ { value => $ALICE } ] });
$sent{'POST /Groups'} = $group;
my $gid = ($group->json // {})->{id} // 'none';
$sent{'PATCH /Groups/{id}'} = scim(PATCH => "/Groups/$gid",
    { schemas => [ $PATCH ], Operations => [ { op => 'remove', path => "members[value eq \"$ALICE\"]" } ] });
$sent{'DELETE /Groups/{id}'} = scim(DELETE => "/Groups/$gid");
for my $what (sort keys %sent) {
    my $code = $sent{$what}->code;
    ok $code >= 200 && $code < 300, "$what: $code" or diag $sent{$what}->content;
}

# --- the recording is complete ----------------------------------------------------
is db_query_on($ADMIN, 'SHOW pg_stat_statements.track'), 'all',
    'pg_stat_statements records nested statements (track = all)';
is db_query_on($ADMIN, 'SELECT dealloc FROM pg_stat_statements_info'), 0,
    'no statement was evicted from pg_stat_statements (pg_stat_statements.max is large enough)';
{
    # Every function the API role may call was called by it (the module ran it).
    my $missing = admin_json(q{
        SELECT p.proname FROM pg_proc p
         WHERE p.pronamespace = 'userbulk'::regnamespace
           AND has_function_privilege('userbulk_api', p.oid, 'EXECUTE')
           AND NOT EXISTS (SELECT 1 FROM pg_stat_statements s
                            WHERE s.userid = 'userbulk_api'::regrole
                              AND s.query ~ ('\muserbulk\.' || p.proname || '\('))
         ORDER BY 1});
    ok !@$missing, 'every API function was run by the module in this suite'
        or diag 'never called: ' . join ', ', map { $_->{proname} } @$missing;
}

# --- the tables -----------------------------------------------------------------------
my $tables = admin_json(q{
    SELECT c.relname AS name, c.relkind::text AS kind,
           EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                      AND a.attname = 'account_id' AND NOT a.attisdropped) AS by_account
      FROM pg_class c
     WHERE c.relnamespace = 'userbulk'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')});
my %dist;    # table or view => its distribution column
my @unknown;
for my $t (@$tables) {
    if (exists $DIST_COLUMN{ $t->{name} }) {
        $dist{ $t->{name} } = $DIST_COLUMN{ $t->{name} };
    } elsif ($t->{by_account}) {
        $dist{ $t->{name} } = 'account_id';
    } elsif (!exists $NOT_BY_ACCOUNT_ID{ $t->{name} }) {
        push @unknown, $t->{name};
    }
}
ok !@unknown, 'every table without account_id is a known reference or local table'
    or diag 'say what these are under Citus (README, %NOT_BY_ACCOUNT_ID): ' . join ', ', @unknown;
cmp_ok scalar(keys %dist), '>=', 15, 'the distributed tables are found (' . join(', ', sort keys %dist) . ')';

# Every foreign key between two distributed tables includes account_id on
# both sides, at the same place (001_directory.sql's promise): colocated
# shards can then enforce it locally.
{
    my $fks = admin_json(q{
        SELECT c.conname, c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent,
               ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                       JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i) AS cols,
               ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
                       JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i) AS refcols
          FROM pg_constraint c
         WHERE c.contype = 'f' AND c.connamespace = 'userbulk'::regnamespace});
    my @bad;
    for my $fk (@$fks) {
        my ($child, $parent) = map { s/^userbulk\.//r } @$fk{qw(child parent)};
        next unless $dist{$child} && $dist{$parent};
        my ($i) = grep { $fk->{cols}[$_] eq 'account_id' } 0 .. $#{ $fk->{cols} };
        push @bad, "$fk->{conname} ($child -> $parent)"
            unless defined $i && $fk->{refcols}[$i] eq 'account_id';
    }
    ok !@bad, 'every foreign key between distributed tables carries account_id' or diag join "\n", @bad;
}

# --- (a) the account on every distributed table ------------------------------------------
my $KEYWORDS = qr/^(?:WHERE|JOIN|INNER|LEFT|RIGHT|FULL|CROSS|ON|USING|SET|ORDER|GROUP|HAVING|LIMIT|OFFSET|FOR|RETURNING|VALUES|SELECT|UNION|EXCEPT|INTERSECT|DEFAULT|ON|WINDOW|NATURAL|LATERAL|TABLESAMPLE)$/i;

# The text between the innermost parentheses around position POS (the
# query level of a FROM item), or all of it.
sub scope_at {
    my ($s, $pos) = @_;
    my ($depth, $from) = (0, undef);
    for (my $i = $pos - 1; $i >= 0; $i--) {
        my $c = substr $s, $i, 1;
        if ($c eq ')') { $depth++ }
        elsif ($c eq '(') {
            if ($depth == 0) { $from = $i; last }
            $depth--;
        }
    }
    return $s unless defined $from;
    $depth = 0;
    for (my $i = $from + 1; $i < length $s; $i++) {
        my $c = substr $s, $i, 1;
        if ($c eq '(') { $depth++ }
        elsif ($c eq ')') {
            return collapse(substr($s, $from + 1, $i - $from - 1)) if $depth == 0;
            $depth--;
        }
    }
    return substr $s, $from + 1;
}

# (The functions run with search_path pg_catalog, pg_temp: every table they
# name is schema-qualified, so userbulk.<table> finds them all.)
#
# The distributed tables of a statement that lack the account, as a list
# of "table alias (why)"; empty when every one is constrained. A read
# that %SYSTEM_WIDE lists is counted in %used, not returned.
my %used;
sub unscoped {
    my ($text) = @_;
    my $s = collapse($text);
    return () if $s =~ /^(?:CREATE|ALTER|DROP|COMMENT|GRANT|REVOKE)\b/i;    # migrate.sh's DDL
    $s =~ s/"(\w+)"/$1/g;                          # "userbulk"."users" (the foreign-key queries)
    $s =~ s/OPERATOR\(pg_catalog\.(\S+?)\)/$1/g;    # $1 OPERATOR(pg_catalog.=) account_id
    my @bad;
    while ($s =~ /\buserbulk\.(\w+)\b(?!\s*\()/g) {
        my ($table, $at, $end) = ($1, $-[0], $+[0]);
        my $col = $dist{$table} or next;
        my $before = substr $s, 0, $at;
        my $after = substr $s, $end;
        my $scope = scope_at($s, $at);
        my ($known) = grep { $scope =~ $_ } keys %SYSTEM_WIDE;
        if ($known) { $used{$known}++; next }
        if ($before =~ /\bINSERT INTO\s*$/i) {
            push @bad, "$table (INSERT without $col)"
                unless $after =~ /^\s*(?:AS \w+\s*)?\(([^)]*)\)/ && $1 =~ /\b\Q$col\E\b/;
            next;
        }
        my $alias = $table;
        if ($after =~ /^\s+(?:AS\s+)?(\w+)/i && $1 !~ $KEYWORDS) {
            $alias = $1;
        }
        # alias.account_id, or account_id unqualified (PostgreSQL refuses an
        # ambiguous one), compared with = to anything: a parameter, a
        # variable, another table's account_id
        my $q = qr/(?:\b\Q$alias\E\.|(?<![\w.]))\Q$col\E\b/;
        next if $scope =~ /$q\s*=(?!=)/ || $scope =~ /(?<![<>!=])=\s*$q/;
        push @bad, "$table $alias (no $alias.$col = ... in its query level)";
    }
    return @bad;
}

# The fixtures' and the migrations' SQL, where an offender may come from.
my $fixtures = '';
for my $f (glob("$ROOT/src/sql/demo.sql $ROOT/src/sql/seed.sql $ROOT/src/sql/migrations/*.sql "
                . "$ROOT/src/sql/privileges.sql $ROOT/tests/t/*.t $ROOT/tests/lib/UserBulk/*.pm")) {
    next if $f =~ m{/zz-citus\.t$};
    open my $fh, '<', $f or die "$f: $!\n";
    local $/;
    $fixtures .= without_into(collapse(scalar <$fh>)) . "\n";
}
sub from_fixture {
    my ($text) = @_;
    my $re = join '', map { /^\$\d+$/ ? '.{1,200}?' : quotemeta } split /(\$\d+)/, without_into(collapse($text));
    $re =~ s/\\ /\\s*/g;
    return $fixtures =~ /$re/;
}

my $statements = admin_json(q{
    SELECT s.query, sum(s.calls)::bigint AS calls
      FROM pg_stat_statements s
     WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND ((s.userid = 'userbulk'::regrole AND NOT s.toplevel) OR s.userid = 'userbulk_api'::regrole)
     GROUP BY s.query});
cmp_ok scalar(@$statements), '>', 100, scalar(@$statements) . ' distinct statements of the module recorded';

my (@offenders, @temp, $fixture_count);
for my $st (@$statements) {
    my $text = collapse($st->{query});
    if ($text =~ /\bCREATE\s+(?:(?:GLOBAL|LOCAL)\s+)?TEMP(?:ORARY)?\s|\bINTO\s+TEMP(?:ORARY)?\s|\bCREATE\s+(?:\w+\s+)?\w+\s+pg_temp\./i) {
        my ($why) = grep { $text =~ $_ } keys %TEMP_ALLOWED;
        push @temp, $text unless $why || from_fixture($text);    # t/privileges.t tries some as the API role
    }
    my @bad = unscoped($text) or next;
    if (from_fixture($text)) { $fixture_count++; next }
    push @offenders, join('; ', @bad) . "\n    $text";
}
ok !@offenders, '(a) every statement constrains the account on every distributed table'
    or diag join "\n", "statements reading across accounts (add the account, or list one in %SYSTEM_WIDE with its reason):", @offenders;
note(($fixture_count // 0) . ' statements of fixtures left out (found in demo.sql, a migration or a test file)');
# A listed read that no statement made: stale, or its path was not run
# (this file alone runs one request of each kind, not every path).
note "system-wide read listed but not seen: $SYSTEM_WIDE{$_}" for grep { !$used{$_} } sort keys %SYSTEM_WIDE;

# Inlined SQL functions leave no statement of their own: their bodies,
# from the catalog.
{
    my $bodies = admin_json(q{
        SELECT p.proname, p.prosrc FROM pg_proc p
         WHERE p.pronamespace = 'userbulk'::regnamespace AND p.prolang = (SELECT l.oid FROM pg_language l WHERE l.lanname = 'sql')});
    my @bad;
    for my $b (@$bodies) {
        my $text = collapse($b->{prosrc});
        my @why = unscoped($text) or next;
        push @bad, "userbulk.$b->{proname}: " . join '; ', @why;
    }
    ok !@bad, '(a) every LANGUAGE sql function\'s body constrains the account' or diag join "\n", @bad;
}

# --- (b) no temporary tables ------------------------------------------------------------
ok !@temp, '(b) no statement of the module creates a temporary table' or diag join "\n", @temp;
{
    my $procs = admin_json(q{
        SELECT p.proname, p.prosrc FROM pg_proc p WHERE p.pronamespace = 'userbulk'::regnamespace});
    my @bad;
    for my $p (@$procs) {
        my $src = $p->{prosrc} =~ s/--[^\n]*//gr;
        next unless $src =~ /\bCREATE\s+(?:(?:GLOBAL|LOCAL)\s+)?TEMP(?:ORARY)?\s|\bINTO\s+TEMP(?:ORARY)?\s|\bCREATE\s+(?:\w+\s+)?\w+\s+pg_temp\./i;
        next if $TEMP_ALLOWED_FUNCTIONS{ $p->{proname} };
        push @bad, "userbulk.$p->{proname}";
    }
    ok !@bad, '(b) no function of schema userbulk has CREATE TEMP in its source' or diag join ', ', @bad;
}

done_testing();
