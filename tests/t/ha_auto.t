# Automatic failover with pg_auto_failover (issue 17, part 2; `make test-ha`).
#
# A formation on this machine's loopback: a monitor, a primary (node1) and
# a synchronous secondary (node2), each node under its own pg_autoctl, the
# monitor's health checks tuned as README's HA section recommends. httpd
# names both nodes (target_session_attrs=read-write); two clients send PUT
# /users without pause. Then node1 dies as a machine dies: its postmaster
# and its pg_autoctl SIGKILLed together (no clean shutdown). Before that,
# phase 1: the primary's postmaster alone is SIGKILLed (see there). Nobody
# promotes anything: pg_auto_failover must, and the module must
# serve again by itself. Then node1's pg_autoctl is started again and must
# rejoin as a standby of node2 (pg_rewind), the clients still running.
# Every 200 must be in the new primary's audit trail with its value, every
# other answer a 503 that applied nothing. The figures go to
# tests/t/logs/ha-auto-summary.txt.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use Cwd qw(realpath);
use File::Path qw(make_path remove_tree);
use POSIX ();
use Time::HiRes qw(time sleep);
use UserBulk::Failover ();
use UserBulk::Httpd ();
use UserBulk::Test qw(:all);

my $ROOT = realpath("$FindBin::RealBin/../..");
my $D = "$ROOT/.run/ha-auto";
my $SOCK = "$D/sock";
my $LOGS = "$ROOT/tests/t/logs/ha-auto-clients";
my $BIN = pg_bin('pg_ctl') =~ s{/pg_ctl$}{}r;
my $AUTOCTL = '/usr/bin/pg_autoctl';
die "$AUTOCTL is missing (make deps installs pg-auto-failover-cli and postgresql-15-auto-failover)\n" unless -x $AUTOCTL;

# The monitor's failure detection (milliseconds); the defaults (5 s checks,
# 20 s before a node is unhealthy, 30 s for the old primary to demote)
# take 40 s and more to fail over.
my %MONITOR = (
    'pgautofailover.health_check_period'               => 1000,
    'pgautofailover.health_check_timeout'              => 1000,
    'pgautofailover.health_check_max_retries'          => 2,
    'pgautofailover.health_check_retry_delay'          => 500,
    'pgautofailover.node_considered_unhealthy_timeout' => 3000,
    'pgautofailover.primary_demote_timeout'            => 3000,
);

sub sh { my ($rc, $out) = capture(@_); die "@_ failed ($rc):\n$out" if $rc; return $out }
sub as_pg { return $> == 0 ? ('runuser', '-u', 'postgres', '--', @_) : @_ }
my ($mp, $p1, $p2) = map { UserBulk::Httpd::free_port() } 1 .. 3;
my %PORT = (monitor => $mp, node1 => $p1, node2 => $p2);
sub ci { my ($node, $db, $user) = @_; return "host=$SOCK port=$PORT{$node} dbname=" . ($db // 'userbulk') . ' user=' . ($user // 'postgres') . ' connect_timeout=2' }
sub mon { return db_query_on(ci('monitor', 'pg_auto_failover'), @_) }
sub state_of { my ($node) = @_; return scalar mon("SELECT reportedstate || '/' || goalstate FROM pgautofailover.node WHERE nodename = '$node'") // '' }

# pg_autoctl's configuration and state under $D, not in the postgres
# user's home; every local connection through $SOCK.
my %AUTOENV = (XDG_CONFIG_HOME => "$D/xdg/config", XDG_DATA_HOME => "$D/xdg/data",
               XDG_RUNTIME_DIR => "$D/xdg/run", PGHOST => $SOCK);

# pg_autoctl ARGS as the postgres user, in a process group of its own (the
# node's pg_autoctl processes and its postmaster: what dies with the node).
my %GROUP;
sub spawn {
    my ($name, @args) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        POSIX::setsid();
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$D/$name.log" or POSIX::_exit(2);
        open STDERR, '>&', \*STDOUT;
        @ENV{ keys %AUTOENV } = values %AUTOENV;
        if ($> == 0) {
            my ($uid, $gid) = (getpwnam 'postgres')[2, 3];
            $) = "$gid $gid";
            $( = $gid;
            ($<, $>) = ($uid, $uid);
        }
        chdir $D;
        exec $AUTOCTL, @args or POSIX::_exit(127);
    }
    $GROUP{$name} = $pid;
    return $pid;
}

sub kill_group {
    my ($name, $sig) = @_;
    my $pid = delete $GROUP{$name} or return;
    kill $sig, -$pid;
    for (1 .. 100) { last if waitpid($pid, POSIX::WNOHANG()) == $pid; sleep 0.1 }
    kill 'KILL', -$pid;
    waitpid($pid, 0);
}

sub wait_until {
    my ($what, $limit, $cond) = @_;
    my $deadline = time + $limit;
    while (time < $deadline) {
        my $v = eval { $cond->() };
        return $v if $v;
        sleep 0.1;
    }
    return 0;
}

my @cleanup;
END { local $?; $_->() for reverse @cleanup }
push @cleanup, sub {
    # Each node's pg_autoctl stops its postgres on TERM; what is left is killed.
    kill_group($_, 'TERM') for qw(node1 node2 monitor);
    for my $n (qw(node1 node2 monitor)) {
        my $pid = do { open my $fh, '<', "$D/$n/postmaster.pid" or next; <$fh> };
        chomp $pid if $pid;
        kill 'KILL', $pid if $pid && (readlink("/proc/$pid/cwd") // '') eq "$D/$n";
    }
};

# --- the formation ----------------------------------------------------------------------
remove_tree($D, $LOGS);
make_path($SOCK, "$D/xdg/run", $LOGS);
chmod 0700, "$D/xdg/run";
sh('chown', '-R', 'postgres:', $D) if $> == 0;
chmod 0755, $D, $SOCK;
# The monitor and node1 are initialised here (locale C, trust for local and
# loopback connections, the socket in $SOCK); pg_autoctl adopts them.
# node2 is node1's base backup, settings included.
for my $n (qw(monitor node1)) {
    sh(as_pg("$BIN/initdb", '-D', "$D/$n", '-E', 'UTF8', '--locale=C', '-U', 'postgres', '--auth=trust'));
    sh(as_pg('sh', '-c', "printf \"unix_socket_directories = '%s'\\nlisten_addresses = '127.0.0.1'\\n\" '$SOCK' >>'$D/$n/postgresql.conf'"));
}
my $t0 = time;
spawn('monitor', 'create', 'monitor', '--pgctl', "$BIN/pg_ctl", '--pgdata', "$D/monitor", '--pgport', $mp,
      '--hostname', '127.0.0.1', '--auth', 'trust', '--no-ssl', '--run');
ok wait_until('monitor', 60, sub { mon(q{SELECT 1 FROM pg_extension WHERE extname = 'pgautofailover'}) }),
   'the monitor runs';
mon("ALTER SYSTEM SET $_ = $MONITOR{$_}") for sort keys %MONITOR;
mon('SELECT pg_reload_conf()');
my $MONITOR_URI = "postgres://autoctl_node\@127.0.0.1:$mp/pg_auto_failover?sslmode=disable";

sub create_node {
    my ($n) = @_;
    spawn($n, 'create', 'postgres', '--pgctl', "$BIN/pg_ctl", '--pgdata', "$D/$n", '--pgport', $PORT{$n},
          '--hostname', '127.0.0.1', '--name', $n, '--dbname', 'userbulk', '--monitor', $MONITOR_URI,
          '--auth', 'trust', '--no-ssl', '--run');
}
create_node('node1');
ok wait_until('node1', 60, sub { state_of('node1') eq 'single/single' }), 'node1 runs alone (single)';

# The schema and the demo data, before node2 copies node1.
sh("$ROOT/src/sql/migrate.sh", '--api-role', 'userbulk_api', '--admin', ci('node1', 'postgres'),
   '--owner', 'userbulk', ci('node1', 'userbulk', 'userbulk'));
sh(pg_bin('psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1', ci('node1', 'userbulk', 'userbulk'), '-f', "$ROOT/src/sql/demo.sql");

create_node('node2');
# pg_basebackup waits for a spread checkpoint on node1 (minutes on an idle
# cluster): a CHECKPOINT there hurries it.
ok wait_until('node2', 120, sub {
    db_query_on(ci('node1', 'postgres'), 'CHECKPOINT') if state_of('node2') =~ /^(?:wait_standby|catchingup)/;
    state_of('node2') eq 'secondary/secondary' && state_of('node1') eq 'primary/primary';
}), 'node2 follows as secondary, node1 is primary';
like db_query_on(ci('node1', 'postgres'), 'SHOW synchronous_standby_names'), qr/pgautofailover_standby_/,
     'node1 commits synchronously (a 200 is on node2 too)';
my $t_formed = time - $t0;

# --- httpd naming both nodes ------------------------------------------------------------------
my $dbd = "host=127.0.0.1,127.0.0.1 port=$p1,$p2 dbname=userbulk user=userbulk_api "
        . "connect_timeout=2 target_session_attrs=read-write";
my $h = UserBulk::Httpd->new(
    name => 'ha-auto', userbulk => 1, modules => [qw(dbd oauth2)],
    conf => "DBDriver pgsql\nDBDParams \"$dbd\"\nDBDMin 2\nDBDKeep 4\nDBDMax 8\n"
          . UserBulk::Httpd::demo_oauth2_include()
          . UserBulk::Httpd::api_locations());
$h->start;
push @cleanup, sub { $h->stop };

my $f = UserBulk::Failover->new(url => $h->url('/users'), logs => $LOGS, seconds => 180)->start;
push @cleanup, sub { $f->stop };
ok $f->wait_for(20, 0, 1, 30), 'both clients are served (20 answers each) before the failure';

sub postmaster_of { my ($n) = @_; open my $fh, '<', "$D/$n/postmaster.pid" or return; my $pid = <$fh>; chomp $pid; return $pid }
sub gone { my ($pid) = @_; return wait_until('death', 5, sub { (`ps -o stat= -p $pid` // '') !~ /^[^Z]/ }) }
sub settled {
    my %s = map { $_ => state_of($_) } qw(node1 node2);
    my ($pri) = grep { $s{$_} eq 'primary/primary' } keys %s;
    my ($sec) = grep { $s{$_} eq 'secondary/secondary' } keys %s;
    return $pri && $sec ? [ $pri, $sec ] : undef;
}

# --- 1. the primary's postmaster alone is SIGKILLed ------------------------------------------
# Its pg_autoctl, alive, restarts Postgres as primary while the monitor may
# have begun the failover; httpd reconnects to it; its commits wait for the
# synchronous standby. When the monitor demotes it, the fast shutdown must
# end: it hung while a session's exit had to commit the removal of a
# per-session work table (README, High availability), which no function
# keeps any more.
my ($PRI, $SEC) = ('node1', 'node2');
my ($pm_r, $pm);
{
    $pm = postmaster_of('node1');
    my $t_pm = time;
    kill 'KILL', $pm;
    ok gone($pm), "node1's postmaster (pid $pm) SIGKILLed";
    ok $f->wait_for(20, $t_pm, 1, 30), 'postmaster killed: both clients are served again, 20 answers in a row each';
    my $t_pm_end = time;
    my $after_pm = wait_until('settled', 60, \&settled);
    ok $after_pm, 'the formation settles again: a primary and a synchronous secondary'
        or diag 'node1: ' . state_of('node1') . ', node2: ' . state_of('node2');
    ($PRI, $SEC) = @$after_pm if $after_pm;
    $pm_r = $f->recovery($t_pm, $t_pm_end);
}

# --- 2. the primary's node dies: postmaster and pg_autoctl SIGKILLed together -------------------
ok $f->wait_for(20, time, 1, 30), "both clients are served by $PRI before it dies";
$pm = postmaster_of($PRI);
my $t_kill = time;
kill 'KILL', $pm, -$GROUP{$PRI};
waitpid(delete $GROUP{$PRI}, 0);
ok gone($pm), "${PRI}'s postmaster (pid $pm) and pg_autoctl are gone (SIGKILL)";

my $promoted = wait_until('promotion', 60, sub { state_of($SEC) =~ m{^(?:wait_primary|primary)/} });
my $t_promoted = time;
ok $promoted, "pg_auto_failover promoted $SEC by itself (wait_primary)";
ok $f->wait_for(20, $t_kill, 1, 30), 'both clients are served again, 20 answers in a row each, without an httpd restart';
my $kill_r = $f->recovery($t_kill, time);

# --- 3. the dead node comes back ---------------------------------------------------------------------
my $t_restart = time;
spawn($PRI, 'run', '--pgdata', "$D/$PRI");
my $rejoined = wait_until('rejoin', 90, sub {
    state_of($PRI) eq 'secondary/secondary' && state_of($SEC) eq 'primary/primary';
});
my $t_rejoined = time;
ok $rejoined, "$PRI rejoined as secondary of $SEC, which is primary again (synchronous)"
    or diag "$PRI: " . state_of($PRI) . ", $SEC: " . state_of($SEC);
is db_query_on(ci($PRI, 'postgres'), 'SELECT pg_is_in_recovery()'), 't', "$PRI is in recovery (a standby)";
ok $f->wait_for(20, $t_rejoined, 1, 30), 'the clients are served after the rejoin too';
$f->stop;

# --- what the clients saw ---------------------------------------------------------------------
# Every 200 of the whole run (both failures) against the last primary.
my $s = $f->verify(ci($SEC), start => $t_kill, down => $t_kill);
my $replicated = wait_until('replay', 10, sub {
    db_query_on(ci($PRI), q{SELECT count(*) FROM userbulk.audit WHERE actor = 'ha-test'})
        == db_query_on(ci($SEC), q{SELECT count(*) FROM userbulk.audit WHERE actor = 'ha-test'});
});
ok $replicated, "$PRI, the new standby, has ${SEC}'s audit trail";
sub per_client { my ($r) = @_; return join ', ', map { sprintf 'client %d: %d answered 503, served again %.2f s after', $_, $r->{$_}{failed}, $r->{$_}{back} // -1 } sort keys %$r }

my $text = sprintf("pg_auto_failover: formation built in %.1f s. %s"
                   . "%s (primary) SIGKILLed with its pg_autoctl: %s promoted %.2f s later; %s. "
                   . "%s rejoined as standby %.1f s after its pg_autoctl was started again. %d requests in all.",
                   $t_formed, $pm_r ? 'Postmaster of node1 SIGKILLed: ' . per_client($pm_r) . ". Then $PRI primary. " : '',
                   $PRI, $SEC, $t_promoted - $t_kill, per_client($kill_r),
                   $PRI, $t_rejoined - $t_restart, $s->{total});
{
    open my $out, '>', "$ROOT/tests/t/logs/ha-auto-summary.txt" or die $!;
    print $out "$text\n";
}
diag $text;

$_->() for reverse splice @cleanup;
remove_tree($D) if Test::More->builder->is_passing && !$ENV{UB_KEEP_HA};    # kept for a look when failing
done_testing();
