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
use Time::HiRes qw(time sleep);
use UserBulk::Failover ();
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
my $f = UserBulk::Failover->new(url => $URL, logs => $LOGS, seconds => 90)->start;
push @cleanup, sub { $f->stop };

ok $f->wait_for(20, 0, 1, 20), 'both clients are served (20 answers each) before the failover';

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

my $back = $f->wait_for(20, $t_stopped, 1, 30);
ok $back, 'both clients are served again, 20 answers in a row each, without an httpd restart';
$f->stop;

# --- what the clients saw ---------------------------------------------------------------
my $s = $f->verify(admin_ci($S), start => $t_promote, down => $t_stopped);
my @log = $h->error_log_lines(0);
my $reprepared = grep { /UB020[47]/ } @log;

my $text = sprintf("failover: promote %.2f s, old primary stop %.2f s; %d requests; %s"
                   . "; statements prepared again (UB0204, UB0207): %d; failover as the clients saw it: %.2f s",
                   $t_promoted - $t_promote, $t_stopped - $t_promoted, $s->{total}, $f->describe($s),
                   $reprepared, $s->{worst});
{
    open my $out, '>', "$ROOT/tests/t/logs/ha-summary.txt" or die $!;
    print $out "$text\n";
}
diag $text;
cmp_ok $s->{worst}, '<', 15, 'the failover as the clients saw it is a matter of seconds';

$_->() for reverse splice @cleanup;
remove_tree($DIR) if Test::More->builder->is_passing;    # kept for a look when failing
done_testing();
