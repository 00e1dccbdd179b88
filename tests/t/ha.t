# High availability on PostgreSQL's own replication (issue 6, part 5), also
# run alone by `make test-ha`.
#
# A primary and a streaming standby on this machine (pg_basebackup -R),
# synchronous (synchronous_standby_names = '*'): a commit is acknowledged
# only once the standby has it. httpd names both in DBDParams
# (host=A,B port=a,b target_session_attrs=read-write). Two clients send PUT
# /users without pause; the standby is promoted, the old primary stopped
# (immediate mode: fenced).
# The module must serve again by itself (no httpd restart), every 200 must
# be in the new primary (its trace id in the audit, its value in the row),
# every non-200 must be a 503 that applied nothing there. The failover as
# the clients saw it is measured and written to tests/t/logs/ha/summary.txt.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use Cwd qw(realpath);
use File::Path qw(make_path remove_tree);
use POSIX ();
use Time::HiRes qw(time sleep);
use UserBulk::Httpd ();
use UserBulk::Test qw(:all);

my $ROOT = realpath("$FindBin::RealBin/../..");
my $PGSH = "$ROOT/tools/pg.sh";
my $DIR = "$ROOT/.run/ha";
my $LOGS = "$ROOT/tests/t/logs/ha-clients";
my ($P, $S) = ("$DIR/primary", "$DIR/standby");
my $BIN = pg_bin('pg_ctl') =~ s{/pg_ctl$}{}r;

sub sh { my ($rc, $out) = capture(@_); die "@_ failed ($rc):\n$out" if $rc; return $out }
sub as_pg { return $> == 0 ? ('runuser', '-u', 'postgres', '--', @_) : @_ }
sub admin_ci { my ($dir) = @_; chomp(my $p = sh($PGSH, 'port', $dir)); return "host=/tmp/ub-$p port=$p dbname=userbulk user=postgres" }

my @cleanup;
END { local $?; $_->() for reverse @cleanup }

# --- the two PostgreSQL nodes --------------------------------------------------------
for my $d ($P, $S) { system($PGSH, 'stop', $d) if -d $d }
remove_tree($DIR, $LOGS);
make_path($DIR, $LOGS);
my ($pp, $sp) = (UserBulk::Httpd::free_port(), UserBulk::Httpd::free_port());
push @cleanup, sub { system("$PGSH stop $_ >/dev/null 2>&1") for $P, $S };

# Not --ephemeral: that turns synchronous_commit off.
sh($PGSH, 'start', $P, $pp);
sh($PGSH, 'demo', $P);
make_path("$S/log");
chmod 0700, $S;
if ($> == 0) { my ($u, $g) = (getpwnam 'postgres')[2, 3]; chown $u, $g, $S, "$S/log" }
my $t = time;
sh(as_pg("$BIN/pg_basebackup", '-D', "$S/data", '-R', '-X', 'stream', '-c', 'fast',
         '-h', "/tmp/ub-$pp", '-p', $pp, '-U', 'postgres'));
note sprintf 'pg_basebackup: %.1f s', time - $t;
sh($PGSH, 'start', $S, $sp);
is db_query_on(admin_ci($S), 'SELECT pg_is_in_recovery()'), 't', 'the standby runs, in recovery';

# Synchronous from now on (set after the base backup, so the standby, once
# promoted, does not wait for a standby of its own).
db_query_on(admin_ci($P), q{ALTER SYSTEM SET synchronous_standby_names = '*'});
db_query_on(admin_ci($P), 'SELECT pg_reload_conf()');
my $sync = '';
for (1 .. 100) {
    $sync = db_query_on(admin_ci($P), q{SELECT string_agg(sync_state, ',') FROM pg_stat_replication}) // '';
    last if $sync eq 'sync';
    sleep 0.1;
}
is $sync, 'sync', 'the standby streams synchronously';

# --- httpd naming both nodes ---------------------------------------------------------
my $dbd = "host=/tmp/ub-$pp,/tmp/ub-$sp port=$pp,$sp dbname=userbulk user=userbulk_api "
        . "connect_timeout=2 target_session_attrs=read-write";
my $h = UserBulk::Httpd->new(
    name => 'ha', userbulk => 1, modules => [qw(dbd oauth2)],
    conf => "DBDriver pgsql\nDBDParams \"$dbd\"\nDBDMin 2\nDBDKeep 4\nDBDMax 8\n"
          . UserBulk::Httpd::demo_oauth2_include()
          . UserBulk::Httpd::api_locations());
$h->start;
push @cleanup, sub { $h->stop };
my $URL = $h->url('/users');

# --- traffic ----------------------------------------------------------------------------
my @CLIENTS = ([ 1, 'bob.acme', 'bob@acme.example' ], [ 2, 'carol.acme', 'carol@acme.example' ]);
my $STOP = "$LOGS/stop";

sub client {
    my ($id, $user, $email) = @_;
    my $tok = token(sub => 'ha-test');
    open my $out, '>', "$LOGS/client$id.log" or POSIX::_exit(2);
    $out->autoflush(1);
    my $deadline = time + 90;
    for (my $n = 1; !-e $STOP && time < $deadline; $n++) {
        my $v = "c$id-$n";
        my $t0 = time;
        my $res = json_request(PUT => $URL, $tok,
                               [ { userName => $user, email => $email, name => { firstName => $v } } ]);
        printf $out "%.6f %.6f %d %s %s\n", $t0, time, $res->code,
            $res->header('X-Trace-Id') // '-', $v;
        sleep 0.005;
    }
    close $out;
    POSIX::_exit(0);
}

sub read_log {
    my ($id) = @_;
    open my $fh, '<', "$LOGS/client$id.log" or return [];
    return [ map { my @f = split; { t0 => $f[0], t1 => $f[1], code => $f[2], trace => $f[3], value => $f[4] } } <$fh> ];
}

# Waits until every client has N answers ending after T (all 200 when
# $ok_only), or the deadline.
sub wait_for {
    my ($n, $after, $ok_only, $limit) = @_;
    my $deadline = time + $limit;
    while (time < $deadline) {
        my $done = grep {
            my @r = grep { $_->{t1} > $after } @{ read_log($_->[0]) };
            my $tail = 0;
            for (reverse @r) { last if $ok_only && $_->{code} != 200; $tail++ }
            $tail >= $n;
        } @CLIENTS;
        return 1 if $done == @CLIENTS;
        sleep 0.05;
    }
    return 0;
}

my @kids;
for my $c (@CLIENTS) {
    my $pid = fork // die "fork: $!";
    client(@$c) if !$pid;
    push @kids, $pid;
}
push @cleanup, sub { open my $f, '>', $STOP; kill 'TERM', @kids; waitpid($_, 0) for @kids };

ok wait_for(20, 0, 1, 20), 'both clients are served (20 answers each) before the failover';

# --- failover ----------------------------------------------------------------------------
my $t_promote = time;
sh(as_pg("$BIN/pg_ctl", '-D', "$S/data", '-w', '-t', '60', 'promote'));
my $t_promoted = time;
# The old primary is fenced the way a failover manager (or a dead machine)
# does it: at once. A fast shutdown would hang here: each of its sessions
# holding mod_userbulk's temporary work table commits the table's removal
# when it exits, and that commit waits for the synchronous standby, which
# is gone (promoted). The requests on those sessions would hang with it.
sh(as_pg("$BIN/pg_ctl", '-D', "$P/data", '-m', 'immediate', '-w', '-t', '60', 'stop'));
my $t_stopped = time;
is db_query_on(admin_ci($S), 'SELECT pg_is_in_recovery()'), 'f', 'the standby was promoted';

my $back = wait_for(20, $t_stopped, 1, 30);
ok $back, 'both clients are served again, 20 answers in a row each, without an httpd restart';
{ open my $f, '>', $STOP or die $! }
waitpid($_, 0) for @kids;
@kids = ();

# --- what the clients saw ---------------------------------------------------------------
my $new = admin_ci($S);
my %applied = map { $_->[0] => $_->[1] }
    db_query_on($new, q{SELECT trace_id, after->>'firstName' FROM userbulk.audit WHERE actor = 'ha-test'});
my (@lost, @wrong, @bad_status, @applied_503, %summary);
my $total = 0;
for my $c (@CLIENTS) {
    my ($id, $user) = @$c;
    my $log = read_log($id);
    $total += @$log;
    my @fail = grep { $_->{code} != 200 } @$log;
    for my $r (@$log) {
        if ($r->{code} == 200) {
            push @lost, "$r->{value} ($r->{trace})" unless exists $applied{ $r->{trace} };
            push @wrong, $r->{value} if exists $applied{ $r->{trace} } && ($applied{ $r->{trace} } // '') ne $r->{value};
        }
        elsif ($r->{code} == 503) {
            push @applied_503, $r->{value} if exists $applied{ $r->{trace} };
        }
        else {
            push @bad_status, "$r->{code} for $r->{value}";
        }
    }
    # The client's failover: from the start of the promotion to the end of
    # its first 200 after its last failure (or after the old primary was
    # stopped, when it saw no failure).
    my ($recovered) = map { $_->{t1} } grep {
        $_->{code} == 200 && $_->{t0} >= (@fail ? $fail[-1]{t1} : $t_stopped)
    } @$log;
    my $slowest = 0;
    for (grep { $_->{t1} >= $t_promote } @$log) { $slowest = $_->{t1} - $_->{t0} if $_->{t1} - $_->{t0} > $slowest }
    my ($first_ok_after_stop) = map { $_->{t1} } grep { $_->{code} == 200 && $_->{t0} >= $t_stopped } @$log;
    $summary{$id} = {
        requests => scalar @$log, failed => scalar @fail,
        failover => defined $recovered ? $recovered - $t_promote : 999,
        slowest => $slowest,
        first_ok_after_stop => defined $first_ok_after_stop ? $first_ok_after_stop - $t_stopped : undef,
        last_value => (map { $_->{value} } grep { $_->{code} == 200 } @$log)[-1],
        user => $user,
    };
}
ok !@lost, 'no acknowledged update lost: every 200 has its audit row in the new primary'
    or diag scalar(@lost) . " lost: @lost[0 .. ($#lost > 9 ? 9 : $#lost)]";
ok !@wrong, '... with the value that request sent' or diag "@wrong";
ok !@bad_status, 'every request that failed was answered 503 (no 500, no hang, no connection error)'
    or diag "@bad_status[0 .. ($#bad_status > 9 ? 9 : $#bad_status)]";
ok !@applied_503, 'no 503 applied anything in the new primary' or diag "@applied_503";
for my $id (sort keys %summary) {
    my $s = $summary{$id};
    is db_query_on($new, "SELECT first_name FROM userbulk.users WHERE user_name = '$s->{user}'"), $s->{last_value},
       "client $id: the user holds the value of its last 200";
    ok defined $s->{first_ok_after_stop} && $s->{first_ok_after_stop} < 15,
       sprintf('client %d: served again %.2f s after the old primary stopped (< 15 s)', $id, $s->{first_ok_after_stop} // -1);
}
my @log = $h->error_log_lines(0);
my $reprepared = grep { /UB020[47]/ } @log;

my $worst = 0;
$worst < $_->{failover} and $worst = $_->{failover} for values %summary;
my $text = sprintf("failover: promote %.2f s, old primary stop %.2f s; %d requests; "
                   . join('; ', map {
                         my $s = $summary{$_};
                         sprintf('client %d: %d requests, %d answered 503, served again %.2f s after the promotion began, slowest request during the failover %.2f s',
                                 $_, $s->{requests}, $s->{failed}, $s->{failover}, $s->{slowest})
                     } sort keys %summary)
                   . "; statements prepared again (UB0204, UB0207): %d; failover as the clients saw it: %.2f s",
                   $t_promoted - $t_promote, $t_stopped - $t_promoted, $total, $reprepared, $worst);
{
    open my $f, '>', "$ROOT/tests/t/logs/ha-summary.txt" or die $!;
    print $f "$text\n";
}
diag $text;
cmp_ok $worst, '<', 15, 'the failover as the clients saw it is a matter of seconds';

$_->() for reverse splice @cleanup;
remove_tree($DIR) if Test::More->builder->is_passing;    # kept for a look when failing
done_testing();
