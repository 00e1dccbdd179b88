# PostgreSQL going away and coming back (CONTRACT.md, "Both endpoints"):
# while it is away both APIs answer 503 with a JSON body and Retry-After,
# quickly and without applying anything; once it is back they serve again
# by themselves, with no httpd restart.
#
# Then (issue 5, item 4) the same under load: four clients keep sending
# while PostgreSQL stops and starts again; every answer is 200 or 503 JSON,
# every 200's change is in the directory with its audit row, every 503's is
# not. And a restart with no request during it: the connections the
# children pooled before it are dead, yet the first requests after it must
# be served.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use File::Temp ();
use POSIX ();
use Time::HiRes qw(time sleep);
use UserBulk::Test qw(:all);
use UserBulk::Reliability qw(wait_until httpd_children httpd_parent);

my $ROOT = "$FindBin::RealBin/../..";
my $PG = "$ROOT/tools/pg.sh";
my $DIR = $ENV{UB_PG_DIR} or die "UB_PG_DIR is not set (run through tests/tools/run-tests.sh)\n";
my $ALICE = '20000000-0000-4000-8000-000000000001';

sub put_alice {
    my ($first) = @_;
    return json_request(PUT => PUT_USERS, token(), [ { userName => 'alice.acme', email => 'alice@acme.example',
                                                        name => { firstName => $first } } ]);
}
sub post_alice { json_request(POST => ACCOUNT_UPDATE, token(), { userId => $ALICE, employeeCode => $_[0] }) }

is put_alice('Before')->code, 200, 'serving before the outage';
my $audit = db_query('SELECT count(*) FROM userbulk.audit');

system($PG, 'stop', $DIR) == 0 or die "cannot stop PostgreSQL\n";

my $t0 = time;
my $res = put_alice('During');
my $took = time - $t0;
is $res->code, 503, 'PUT /users while PostgreSQL is away: 503';
is $res->header('Retry-After'), '5', 'Retry-After';
is $res->json->{code}, 'unavailable', 'JSON body';
like $res->header('X-Trace-Id') // '', qr/^[0-9a-f]{32}$/, 'trace id';
ok $took < 10, sprintf('answered without hanging (%.1f s; connect_timeout bounds it)', $took);

$res = post_alice('DURING');
is $res->code, 503, 'POST while PostgreSQL is away: 503';
is $res->json->{errorType}, 'Unavailable', 'envelope errorType Unavailable';
is $res->json->{messageCode}, 503, 'messageCode 503';
is $res->header('Retry-After'), '5', 'Retry-After';

$res = json_request(PUT => PUT_USERS, token(), '{"not json');
is $res->code, 400, 'a malformed request is still answered 400: it needs no database';

system($PG, 'start', $DIR, $ENV{UB_PG_PORT}, '--ephemeral') == 0 or die "cannot start PostgreSQL\n";

my ($put, $tries) = (undef, 0);
for (1 .. 10) {
    $tries++;
    $put = put_alice('After');
    last if $put->code == 200;
    sleep 0.5;
}
is $put->code, 200, "serving again once PostgreSQL is back ($tries tries, no httpd restart)";
is post_alice('AFTER')->code, 200, 'the POST API too';
# Every pooled connection must serve again, not only a fresh one: the driver
# reconnects old ones in place, without the prepared statements.
my @codes = map { put_alice('After')->code } 1 .. 20;
is_deeply \@codes, [ (200) x 20 ], '20 requests in a row after the outage all 200 (every pooled connection recovered)';
is db_query("SELECT first_name || ' ' || employee_code FROM userbulk.users WHERE id = '$ALICE'"), 'After AFTER',
   'the requests after the outage applied';
is db_query('SELECT count(*) FROM userbulk.audit'), $audit + 2,
   'nothing was applied during the outage (two audit rows: the two requests after it)';

# --- a stream of concurrent requests across an outage -------------------------------
{
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    my @users = ('alice.acme', 'bob.acme', 'carol.acme', 'dave.acme', 'erin.acme');
    my %id = map { $users[$_] => sprintf('20000000-0000-4000-8000-%012d', $_ + 1) } 0 .. $#users;
    my @pids;
    for my $w (1 .. 4) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $t = token(sub => "stream-$w");
            open my $out, '>', "$dir/w$w" or POSIX::_exit(1);
            $out->autoflush(1);
            for (my $i = 1; !-e "$dir/stop" && $i < 100000; $i++) {
                my $user = $users[ ($w + $i) % @users ];
                my $value = "w$w-$i";
                my $put = $i % 2;
                my $t0 = time;
                my $res = $put
                    ? json_request(PUT => PUT_USERS, $t, [ { userName => $user, email => "${\ ($user =~ s/\.acme$//r)}\@acme.example",
                                                             name => { firstName => $value } } ])
                    : json_request(POST => ACCOUNT_UPDATE, $t, { userId => $id{$user}, employeeCode => $value });
                my $j = $res->json;
                print $out JSON::PP->new->canonical->encode({
                    start => $t0, end => time, put => $put, user => $user, value => $value, status => $res->code,
                    trace => scalar $res->header('X-Trace-Id'), retry => scalar $res->header('Retry-After'),
                    code => ref $j eq 'HASH' ? ($put ? $j->{code} : $j->{errorType}) : 'NOT JSON',
                    # a 503 whose COMMIT's answer was lost says it may have applied
                    unknown => ($res->code == 503 && $res->content =~ /may have been applied/ ? 1 : 0) }), "\n";
            }
            close $out;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    my $lines = sub {    # each worker's answers, optionally only those started after $since
        my ($since) = @_;
        return map {
            my $w = $_;
            my @l = -e "$dir/w$w" ? do { open my $fh, '<', "$dir/w$w"; grep { /\n\z/ } <$fh> } : ();
            scalar grep { !defined $since || JSON::PP::decode_json($_)->{start} > $since } @l;
        } 1 .. 4;
    };
    my $each_at_least = sub { my ($n, $since) = @_; return sub { !grep { $_ < $n } $lines->($since) } };

    ok(wait_until(60, $each_at_least->(3)), 'stream: four clients are sending');
    system($PG, 'stop', $DIR) == 0 or die "cannot stop PostgreSQL\n";
    my $stopped = time;
    ok(wait_until(60, $each_at_least->(3, $stopped)), 'stream: each got answers while PostgreSQL was away');
    # (PostgreSQL accepts connections before pg.sh start returns, which
    # migrates first: the outage ends, at the latest, when start begins.)
    my $restarting = time;
    system($PG, 'start', $DIR, $ENV{UB_PG_PORT}, '--ephemeral') == 0 or die "cannot start PostgreSQL\n";
    my $started = time;
    ok(wait_until(60, $each_at_least->(6, $started)), 'stream: each got answers after PostgreSQL came back');
    open my $stop, '>', "$dir/stop" or die;
    close $stop;
    waitpid $_, 0 for @pids;

    my @all = map { my $w = $_; open my $fh, '<', "$dir/w$w" or die; map { JSON::PP::decode_json($_) } <$fh> } 1 .. 4;
    my %by = (200 => 0, 503 => 0);
    $by{ $_->{status} }++ for @all;
    note(sprintf 'stream: %d answers: %d x 200, %d x 503, %d other', scalar @all, $by{200}, $by{503},
         scalar(@all) - $by{200} - $by{503});
    my @other = grep { $_->{status} != 200 && $_->{status} != 503 } @all;
    is(scalar @other, 0, 'stream: every answer is 200 or 503') or diag(JSON::PP::encode_json($other[0]));
    my @bad503 = grep { $_->{status} == 503 && !(($_->{code} // '') =~ /^(unavailable|Unavailable|commit_unknown)$/ && ($_->{retry} // '') eq '5') } @all;
    is(scalar @bad503, 0, 'stream: every 503 is JSON (unavailable, or commit_unknown when the answer to COMMIT was lost) with Retry-After') or diag(JSON::PP::encode_json($bad503[0]));
    my @slow = grep { $_->{end} - $_->{start} > 15 } @all;
    is(scalar @slow, 0, 'stream: every answer came within 15 s (bounded connect and statement time)');
    my @away = grep { $_->{start} > $stopped && $_->{end} < $restarting } @all;
    ok(@away >= 12, scalar(@away) . ' requests were sent and answered entirely while PostgreSQL was away');
    is(scalar(grep { $_->{status} != 503 } @away), 0, 'stream: all of those are 503')
        or diag(JSON::PP::encode_json((grep { $_->{status} != 503 } @away)[0]));

    # Every 200's change is in the directory with its audit row; no 503's is.
    my %audit;
    for my $row (db_query("SELECT trace_id, after::text FROM userbulk.audit WHERE actor LIKE 'stream-%'")) {
        push @{ $audit{ $row->[0] } }, JSON::PP::decode_json($row->[1]);
    }
    # an answer's request applied whole: its one audit row carries its value
    my $applied = sub {
        my ($r) = @_;
        my $a = $audit{ $r->{trace} } // [];
        return @$a == 1 && ($a->[0]{ $r->{put} ? 'firstName' : 'employee_code' } // '') eq $r->{value};
    };
    my @lost = grep { !$applied->($_) } grep { $_->{status} == 200 } @all;
    is(scalar @lost, 0, "stream: each of the $by{200} answers 200 is in the audit trail with its value") or diag(JSON::PP::encode_json($lost[0]));
    # A 503 that says the commit's answer was lost may have applied, but
    # then whole: its one audit row carries its value.
    my @unknown = grep { $_->{status} == 503 && $_->{unknown} } @all;
    my @ghost = grep { $audit{ $_->{trace} } } grep { $_->{status} == 503 && !$_->{unknown} } @all;
    is(scalar @ghost, 0, sprintf "stream: none of the %d answers 503 unavailable applied anything", $by{503} - @unknown);
    my @half = grep { $audit{ $_->{trace} } && !$applied->($_) } @unknown;
    is(scalar @half, 0, sprintf 'stream: each of the %d answers 503 commit_unknown applied whole or not at all', scalar @unknown);
    # The final state is the last change applied, in the order the audit
    # trail committed them (the clients' clocks cannot tell that order).
    my %last;
    for my $row (db_query("SELECT u.user_name, a.after::text FROM userbulk.audit a JOIN userbulk.users u ON u.id = a.user_id
                           WHERE a.actor LIKE 'stream-%' ORDER BY a.id")) {
        my $after = JSON::PP::decode_json($row->[1]);
        $last{ $row->[0] }{$_} = $after->{ $_ eq 'first_name' ? 'firstName' : $_ }
            for grep { exists $after->{ $_ eq 'first_name' ? 'firstName' : $_ } } qw(first_name employee_code);
    }
    for my $user (@users) {
        my ($row) = db_query("SELECT first_name, employee_code FROM userbulk.users WHERE user_name = '$user'");
        my %got = (first_name => $row->[0], employee_code => $row->[1]);
        is_deeply({ map { $_ => $got{$_} } keys %{ $last{$user} // {} } }, $last{$user} // {},
                  "stream: $user holds the values of its last audited change");
    }
    is(scalar(grep { $_->{status} != 200 } map { my $w = $_; my @mine = grep { $_->{value} =~ /^w$w-/ } @all; $mine[-1] } 1 .. 4), 0,
       'stream: each client\'s last request was served (the module recovered by itself)');
}

# --- a restart with no request during it: the pooled connections are dead ---------
{
    # Every child opens and pools connections: a burst of concurrent requests.
    my @pids;
    for my $w (1 .. 6) {
        my $pid = fork // die;
        if (!$pid) { put_alice("Burst$w") for 1 .. 5; POSIX::_exit(0) }
        push @pids, $pid;
    }
    waitpid $_, 0 for @pids;
    system($PG, 'stop', $DIR) == 0 or die "cannot stop PostgreSQL\n";
    system($PG, 'start', $DIR, $ENV{UB_PG_PORT}, '--ephemeral') == 0 or die "cannot start PostgreSQL\n";
    # PostgreSQL is back and accepts connections (pg.sh start waited for it).
    my @answers = map { my $r = put_alice("Restart$_"); [ $r->code, $r->header('X-Trace-Id') ] } 1 .. 12;
    my @codes = map { $_->[0] } @answers;
    is_deeply(\@codes, [ (200) x 12 ], 'after a restart of PostgreSQL, the first 12 requests are all served (no pooled dead connection is used)')
        or diag("answers: @codes (a 503 per child whose pooled connection died with the old server)");
    my @ghost = grep { $_->[0] != 200 && db_query("SELECT count(*) FROM userbulk.audit WHERE trace_id = '$_->[1]'") } @answers;
    is(scalar @ghost, 0, 'and the requests refused there applied nothing');
}

# Tidy up for the files that run next: a graceful restart of httpd gives
# every child fresh connections, so that none of them meets a connection
# that died with the old PostgreSQL (the bug the test above shows).
{
    my %old = map { $_ => 1 } httpd_children();
    kill 'USR1', httpd_parent();
    ok(wait_until(60, sub { my @k = httpd_children(); @k && !grep { $old{$_} } @k }),
       'tidy up: httpd restarted gracefully, every child is new');
    ok(wait_until(60, sub { put_alice('Tidy')->code == 200 }), 'tidy up: serving');
}

done_testing();
