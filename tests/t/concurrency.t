# Concurrency (issue 5, item 5): eight clients at once, each sending a mix
# of PUT /users batches, POST account updates and SCIM Groups membership
# PATCHes over the same five users, in shuffled orders, the APIs touching
# the same columns (names, roles).
#
# - Every request succeeds (200; a PATCH 204) and the PUTs and POSTs apply
#   every record: no deadlock or serialization failure reaches a client.
# - The audit trail is one serial history per user, walked as
#   userbulk.user_history walks it (the chain of migration 018: a PATCH
#   takes its request id before it waits for the users' locks, so ids need
#   not follow the order of commits): for every column, each change's
#   "before" is the previous change's "after" (no update lost, none applied
#   on a stale read), and the chains hold every audit row.
# - The final state of every user equals, column by column, the last change
#   the audit trail records for it.
#
#   make test T=t/concurrency.t
#   UB_CONCURRENCY_CLIENTS=16 UB_CONCURRENCY_REQUESTS=100 make test T=t/concurrency.t
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use File::Temp qw(tempdir);
use JSON::PP ();
use List::Util qw(shuffle);
use POSIX ();
use Time::HiRes qw(sleep time);
use UserBulk::Test qw(:all);
use UserBulk::Reliability qw(:all);

my $CLIENTS  = $ENV{UB_CONCURRENCY_CLIENTS} // 8;
my $REQUESTS = $ENV{UB_CONCURRENCY_REQUESTS} // 30;
my $JSON = JSON::PP->new->canonical;
my $TRUE = JSON::PP::true;
my $FALSE = JSON::PP::false;

my %USERS = (    # userName => [id, email]
    'alice.acme' => [ '20000000-0000-4000-8000-000000000001', 'alice@acme.example' ],
    'bob.acme'   => [ '20000000-0000-4000-8000-000000000002', 'bob@acme.example' ],
    'carol.acme' => [ '20000000-0000-4000-8000-000000000003', 'carol@acme.example' ],
    'dave.acme'  => [ '20000000-0000-4000-8000-000000000004', 'dave@acme.example' ],
    'erin.acme'  => [ '20000000-0000-4000-8000-000000000005', 'erin@acme.example' ],
);
my @NAMES = sort keys %USERS;
my %ROLE_ID = (Administrator => '10000000-0000-4000-8000-000000000001',
               Reviewer      => '10000000-0000-4000-8000-000000000002',
               Viewer        => '10000000-0000-4000-8000-000000000003');
my @TEAMS = map { "30000000-0000-4000-8000-00000000000$_" } 1 .. 3;
my @STATUSES = qw(ACTIVE INACTIVE LOCKED PENDING);
my @ZONES = ('UTC', 'Europe/Paris', 'America/New_York', 'Asia/Tokyo');

my $mark = error_log_mark();
reset_demo();
my $audit_before = db_query('SELECT coalesce(max(id), 0) FROM userbulk.audit');
my $dir = tempdir(CLEANUP => 1);

sub pick_some { my ($n, @from) = @_; return (shuffle @from)[0 .. $n - 1] }

# One client: $REQUESTS requests, PUT, POST and PATCH in turn, each on a
# shuffled subset of the users, with values unique to (client, request) so
# that every PUT or POST record changes something (a PATCH may ask for a
# membership a user already has).
sub client {
    my ($c) = @_;
    srand(1000 + $c);
    my $t = token(sub => "client-$c");
    my @log;
    for my $r (1 .. $REQUESTS) {
        my $tag = "c${c}r$r";
        my ($endpoint, $res, $want);
        if ($r % 3 == 0) {
            my @who = pick_some(1 + int rand 3, @NAMES);
            my $role = (sort keys %ROLE_ID)[ rand 3 ];
            $endpoint = 'PATCH';
            $res = json_request(PATCH => "/scim/v2/Groups/$ROLE_ID{$role}", $t,
                                { schemas => [ 'urn:ietf:params:scim:api:messages:2.0:PatchOp' ],
                                  Operations => [ { op => rand() < 0.5 ? 'add' : 'remove', path => 'members',
                                                    value => [ map { { value => $USERS{$_}[0] } } @who ] } ] },
                                [ 'Content-Type' => 'application/scim+json' ]);
        }
        elsif ($r % 3 == 1) {
            my @who = pick_some(1 + int rand 5, @NAMES);
            my @records = map {
                { userName => $_, email => $USERS{$_}[1],
                  name => { firstName => "F-$tag", lastName => "L-$tag" },
                  departmentId => (qw(ENG SALES HR))[ rand 3 ], locationId => (qw(NYC LON))[ rand 2 ],
                  lockedOut => rand() < 0.5 ? $TRUE : $FALSE,
                  roles => [ map { { roleName => $_ } } pick_some(int rand 4, sort keys %ROLE_ID) ] }
            } @who;
            $endpoint = 'PUT';
            $res = json_request(PUT => PUT_USERS, $t, \@records);
            $want = scalar @who;
        }
        else {
            my @who = pick_some(1 + int rand 5, @NAMES);
            my %change = (userIds => [ map { $USERS{$_}[0] } @who ],
                          userRoleIds => [ map { $ROLE_ID{$_} } pick_some(int rand 4, sort keys %ROLE_ID) ],
                          teamId => $TEAMS[ rand @TEAMS ], statusCode => $STATUSES[ rand @STATUSES ],
                          timezone => { timezoneId => $ZONES[ rand @ZONES ] },
                          isSSOUser => rand() < 0.5 ? $TRUE : $FALSE,
                          isTwoFactorEnabled => rand() < 0.5 ? $TRUE : $FALSE);
            # One target: a personal field too (first name, shared with PUT).
            %change = (%change, firstName => "P-$tag", employeeCode => $tag) if @who == 1;
            $endpoint = 'POST';
            $res = json_request(POST => ACCOUNT_UPDATE, $t, \%change);
            $want = scalar @who;
        }
        my $body = $res->json // {};
        my $ok = $res->code == ($endpoint eq 'PATCH' ? 204 : 200);
        push @log, { endpoint => $endpoint, status => $ok ? 200 : $res->code, trace => $res->header('X-Trace-Id'),
                     applied => $endpoint eq 'PUT' ? $body->{successCount}
                              : $endpoint eq 'POST' ? scalar @{ $body->{data} // [] } : undef,
                     want => $want, error => $ok ? undef : substr($res->content, 0, 300) };
    }
    return \@log;
}

# Start the clients together.
my $go = "$dir/go";
my @pids;
for my $c (1 .. $CLIENTS) {
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $until = time + 60;
        sleep 0.01 until -e $go || time > $until;
        my $log = eval { client($c) } // [ { status => 0, error => "client died: $@" } ];
        open my $fh, '>', "$dir/client-$c.json" or POSIX::_exit(1);
        print $fh $JSON->encode($log);
        close $fh;
        POSIX::_exit(0);
    }
    push @pids, $pid;
}
my $t0 = time;
open my $gofh, '>', $go or die;
close $gofh;
waitpid $_, 0 for @pids;
my $took = time - $t0;

my @all;
for my $c (1 .. $CLIENTS) {
    open my $fh, '<', "$dir/client-$c.json" or die "client $c left no log\n";
    push @all, @{ $JSON->decode(do { local $/; <$fh> }) };
}
is(scalar @all, $CLIENTS * $REQUESTS, "$CLIENTS clients sent $REQUESTS requests each, in " . sprintf('%.1f s', $took));
my @not200 = grep { $_->{status} != 200 } @all;
is(scalar @not200, 0, 'every request succeeded (200, a PATCH 204: no deadlock or serialization failure reached a client)')
    or diag(join "\n", map { "$_->{endpoint} $_->{status}: " . ($_->{error} // '') } @not200[0 .. ($#not200 < 4 ? $#not200 : 4)]);
my @partial = grep { $_->{status} == 200 && defined $_->{want} && ($_->{applied} // -1) != $_->{want} } @all;
is(scalar @partial, 0, 'every request applied every record it named');

# --- the audit trail, one serial history per user and column ------------------------
# Both APIs' names for one column.
my %COLUMN = (
    firstName => 'first_name', first_name => 'first_name', middleName => 'middle_name', middle_name => 'middle_name',
    lastName => 'last_name', last_name => 'last_name', email => 'email', phoneNumber => 'phone1', phone1 => 'phone1',
    departmentId => 'department_code', locationId => 'location_code', programAdminRoleId => 'program_admin_role_code',
    lockedOut => 'locked_out', roles => 'roles', role_ids => 'roles', team_id => 'team_id', status_id => 'status_id',
    timezone_id => 'timezone_id', is_sso_user => 'is_sso_user', is_two_factor_enabled => 'is_two_factor_enabled',
    employee_code => 'employee_code', name => 'display_name',
);
my @rows = db_query("SELECT user_id, trace_id, endpoint, before::text, after::text FROM userbulk.audit
                      WHERE id > $audit_before ORDER BY id");
my %traces = map { $_->{trace} => 1 } @all;
is(scalar(grep { !$traces{ $_->[1] } } @rows), 0, 'every audit row belongs to one of the requests');
ok(scalar(grep { $_->[2] eq 'scim' } @rows) > 0, '... the PATCHes among them');
# Each user's rows in the order of its history's chain.
my @chained = map {
    db_query("SELECT h.user_id, h.trace_id, h.endpoint, h.before::text, h.after::text
                FROM userbulk.user_history('00000000-0000-4000-8000-00000000000a', '$USERS{$_}[0]')
                     WITH ORDINALITY h
               WHERE h.id > $audit_before ORDER BY h.ordinality")
} @NAMES;
is(scalar @chained, scalar @rows, 'the users\' history chains hold every audit row');
@rows = @chained;

my (%last, $breaks, @why);
for my $row (@rows) {
    my ($user, $trace, $endpoint, $before, $after) = @$row;
    ($before, $after) = map { $JSON->decode($_) } $before, $after;
    for my $key (sort keys %$after) {
        my $col = $COLUMN{$key} // die "unmapped audit key $key\n";
        my $b = canon($before->{$key});
        if (exists $last{$user}{$col} && $last{$user}{$col} ne $b) {
            $breaks++;
            push @why, "$user $col: before=$b, previous after=$last{$user}{$col} ($endpoint, trace $trace)";
        }
        $last{$user}{$col} = canon($after->{$key});
    }
}
ok(!$breaks, scalar(@rows) . " audit rows: every change starts from the previous change's result")
    or diag(join "\n", @why[0 .. ($#why < 9 ? $#why : 9)]);

# --- the final state is the last committed change -----------------------------------
my $mismatch = 0;
for my $name (@NAMES) {
    my $id = $USERS{$name}[0];
    my $state = $JSON->decode(scalar db_query(
        "SELECT json_build_object('first_name', first_name, 'middle_name', middle_name, 'last_name', last_name,
                'email', email, 'phone1', phone1, 'department_code', department_code, 'location_code', location_code,
                'program_admin_role_code', program_admin_role_code, 'locked_out', locked_out, 'team_id', team_id,
                'status_id', status_id, 'timezone_id', timezone_id, 'is_sso_user', is_sso_user,
                'is_two_factor_enabled', is_two_factor_enabled, 'employee_code', employee_code,
                'display_name', display_name,
                'roles', (SELECT coalesce(json_agg(role_id ORDER BY role_id), '[]') FROM userbulk.user_roles
                           WHERE user_id = u.id))::text
           FROM userbulk.users u WHERE id = '$id'"));
    my @cols = sort keys %{ $last{$id} // {} };
    my @bad = grep { canon($state->{$_}) ne $last{$id}{$_} } @cols;
    $mismatch += @bad;
    ok(!@bad, "$name: the stored state equals the last change of the audit trail in all " . scalar(@cols) . ' columns changed')
        or diag(join "\n", map { "$_: stored " . canon($state->{$_}) . ", audit says $last{$id}{$_}" } @bad);
}

# Deadlocks PostgreSQL detected and the functions retried (not an error:
# reported for the record).
my $pg_log = "$ENV{UB_PG_DIR}/log/postgresql.log";
my $deadlocks = 0;
if (open my $fh, '<', $pg_log) {
    while (<$fh>) { $deadlocks++ if /deadlock detected/ }
}
note("concurrency: $CLIENTS clients x $REQUESTS requests in " . sprintf('%.1f s', $took) . ', '
     . scalar(@not200) . ' not 200, ' . scalar(@rows) . " audit rows, deadlocks retried inside PostgreSQL (whole run so far): $deadlocks");

my @errors = grep { /UB020[0-35689]|UB021[1-3]/ } error_log_lines($mark);
ok(!@errors, 'no statement or answer failed (the errors of UB0200-UB0213) in the error log') or diag(join "\n", @errors[0 .. ($#errors < 4 ? $#errors : 4)]);
my @crash = crash_lines($mark);
ok(!@crash, 'no child crashed') or diag(join "\n", @crash);
# (writers queued on the same users: each links its audit row to the one
# that committed before it, whatever their request ids' order)
is audit_chain_drift(), 0, "after the concurrent writers, every user's history is one chain from its row (018)";
reset_demo();

# One spelling of a value: JSON with sorted keys; lists of ids sorted.
sub canon {
    my ($v) = @_;
    $v = [ sort @$v ] if ref $v eq 'ARRAY';
    return $JSON->encode($v);
}

done_testing();
