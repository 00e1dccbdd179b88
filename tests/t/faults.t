# Faults in the middle of a 1000-record PUT /users (issue 5, item 4): the
# request must be applied whole (every record, each with its audit row) or
# not at all, whatever dies when.
#
# To stop the request in the middle, deterministically, a session of the
# test holds a SHARE lock on userbulk.audit: the request's transaction then
# runs until its INSERT into the audit table and waits there, with all 1000
# users already updated (uncommitted). The test sees it waiting in
# pg_stat_activity, then strikes:
#
#   A. SIGKILL to the httpd child serving the request;
#   B. the request's PostgreSQL session terminated (pg_terminate_backend);
#   C. the client hangs up while its request waits;
#   D. the client hangs up half way through sending the body.
#
# then lets go of the lock and checks the directory.
#
#   make test T=t/faults.t
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use JSON::PP ();
use Time::HiRes qw(sleep time);
use UserBulk::Test qw(:all);
use UserBulk::Raw qw(http_head open_request read_response client_port server_host_port);
use UserBulk::Reliability qw(:all);

my $N = 1000;
my $RUN = sprintf '%x%x', time, $$;
my $JSON = JSON::PP->new->canonical;
my (undef, $SERVER_PORT) = server_host_port();
my $mark = error_log_mark();
my @killed;

reset_demo();
seed_users($N);
is(db_query("SELECT count(*) FROM userbulk.users WHERE user_name LIKE 'u%.acme'"), $N, "$N generated users in acme");

# The request of a scenario: every generated user gets a first name that
# names the scenario; the token's subject names it in the audit trail.
sub batch_request {
    my ($tag) = @_;
    my $body = $JSON->encode([ map { { userName => "u$_.acme", email => "u$_\@acme.example",
                                       name => { firstName => "$tag-$RUN", lastName => "Last$_" },
                                       departmentId => 'ENG', locationId => 'LON' } } 1 .. $N ]);
    my $head = http_head(PUT => PUT_USERS, token => token(sub => "$tag-$RUN"), length => length $body);
    return ($head, $body);
}

# httpd's sessions are the API role's: only a superuser sees what they run
# and wait for, and may terminate them (as a DBA would).
sub as_admin { return db_query_on(admin_conninfo('userbulk'), @_) }

# The request's PostgreSQL session, once it waits for the audit lock.
sub waiting_backend {
    return wait_until(60, sub {
        scalar as_admin("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'
                           AND query LIKE '%userbulk.put_users%' AND pid <> pg_backend_pid()");
    });
}

# Waits until no session runs put_users any more (it finished, or died).
sub backend_done {
    return wait_until(60, sub {
        !as_admin("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%userbulk.put_users%'
                     AND state <> 'idle' AND pid <> pg_backend_pid()");
    });
}

# What of the batch is in the directory: users changed, their audit rows,
# and the users changed that have exactly one audit row of the request.
sub applied {
    my ($tag) = @_;
    my $name = "$tag-$RUN";
    my ($users, $audit, $paired) = @{ (db_query(
        "SELECT (SELECT count(*) FROM userbulk.users WHERE first_name = '$name'),
                (SELECT count(*) FROM userbulk.audit WHERE actor = '$name'),
                (SELECT count(*) FROM userbulk.users u WHERE u.first_name = '$name'
                    AND (SELECT count(*) FROM userbulk.audit a WHERE a.user_id = u.id AND a.actor = '$name'
                            AND a.after ->> 'firstName' = '$name') = 1)"))[0] };
    return { users => $users, audit => $audit, paired => $paired };
}

sub whole_or_nothing {
    my ($label, $a) = @_;
    my $whole = $a->{users} == $N && $a->{audit} == $N && $a->{paired} == $N;
    my $nothing = $a->{users} == 0 && $a->{audit} == 0;
    ok($whole || $nothing, "$label: the batch is applied whole or not at all ("
       . ($whole ? "all $N users, each with its audit row" : $nothing ? 'nothing' :
          "HALF: $a->{users} users, $a->{audit} audit rows, $a->{paired} paired") . ')');
    return $whole ? 'whole' : $nothing ? 'nothing' : 'half';
}

sub serves_again {
    my ($label) = @_;
    my $res = json_request(PUT => PUT_USERS, token(), [ { userName => 'u1.acme', email => 'u1@acme.example',
                                                          name => { firstName => "After-$label" } } ]);
    is($res->code, 200, "$label: the next request is served (200)") or diag($res->content);
}

# --- A. the httpd child is killed while its transaction waits ----------------------
{
    my ($head, $body) = batch_request('Killed');
    my $lock = lock_session('LOCK TABLE userbulk.audit IN SHARE MODE');
    my $sock = open_request($head . $body);
    my $backend = waiting_backend();
    ok($backend, 'A: the request runs and waits for the audit table (every user updated, uncommitted)');
    is(applied('Killed')->{users}, 0, 'A: meanwhile nothing of it is visible');
    my $child = httpd_child_of_connection(client_port($sock), $SERVER_PORT);
    ok($child, "A: the httpd child serving it is pid " . ($child // '?'));
    kill 'KILL', $child if $child;
    push @killed, $child;
    my $res = read_response($sock, 30);
    ok($res->{eof}, 'A: the client sees the connection close without an answer');
    $lock->{release}->();
    ok(backend_done(), 'A: the request\'s PostgreSQL session is done');
    my $outcome = whole_or_nothing('A (child killed)', applied('Killed'));
    note("A: child killed mid-transaction: $outcome applied");
    serves_again('A');
}

# --- B. the request's database session dies while its transaction waits ------------
{
    my ($head, $body) = batch_request('Terminated');
    my $lock = lock_session('LOCK TABLE userbulk.audit IN SHARE MODE');
    my $sock = open_request($head . $body);
    my $backend = waiting_backend();
    ok($backend, 'B: the request waits for the audit table');
    ok(as_admin("SELECT pg_terminate_backend($backend)") eq 't', "B: its PostgreSQL session ($backend) terminated");
    my $res = read_response($sock, 60);
    is($res->{status}, 503, 'B: the client gets 503');
    is(($res->{json} // {})->{code}, 'unavailable', 'B: JSON code unavailable');
    is($res->{headers}{'retry-after'}, '5', 'B: Retry-After');
    $lock->{release}->();
    is(whole_or_nothing('B (database session killed)', applied('Terminated')), 'nothing', 'B: nothing applied, as the 503 says');
    serves_again('B');
}

# --- C. the client hangs up while its request waits --------------------------------
{
    my ($head, $body) = batch_request('Gone');
    my $lock = lock_session('LOCK TABLE userbulk.audit IN SHARE MODE');
    my $sock = open_request($head . $body);
    ok(waiting_backend(), 'C: the request waits for the audit table');
    close $sock;
    $lock->{release}->();
    ok(backend_done(), 'C: the request\'s PostgreSQL session is done');
    my $outcome = whole_or_nothing('C (client gone)', applied('Gone'));
    note("C: client gone mid-transaction: $outcome applied");
    serves_again('C');
}

# --- D. the client hangs up half way through the body -----------------------------
{
    my ($head, $body) = batch_request('Half');
    my $m = error_log_mark();
    my $before = db_fingerprint();
    my $sock = open_request($head . substr($body, 0, int(length($body) / 2)));
    sleep 0.2;
    close $sock;
    ok(wait_for_log($m, qr/UB0006/, 60), 'D: the server saw the body end early (UB0006)');
    is(db_fingerprint(), $before, 'D: nothing changed');
    is(whole_or_nothing('D (body cut)', applied('Half')), 'nothing', 'D: nothing applied');
}

{
    my @crash = crash_lines($mark, killed_pids => [ grep { defined } @killed ]);
    ok(!@crash, 'no child crashed (besides the one killed on purpose)') or diag(join "\n", @crash);
}
reset_demo();

done_testing();
