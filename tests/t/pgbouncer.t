# pgbouncer between httpd and PostgreSQL (issue 6, part 5: scale-out).
#
# mod_dbd prepares mod_userbulk's statements once per connection
# (PQprepare, protocol-level), and the SQL keeps a temporary work table per
# session: both need the same server session for the life of a client
# connection, which is pgbouncer's session pooling. Tested here: both APIs
# through pgbouncer in session mode, also after httpd was restarted and its
# new connections got server sessions that earlier clients used (pgbouncer
# resets them with DISCARD ALL). Transaction pooling is not supported by
# pgbouncer 1.18 (Debian 12) for protocol-level prepared statements; see
# the README.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use Cwd qw(realpath);
use File::Path qw(make_path remove_tree);
use IO::Socket::INET ();
use POSIX ();
use Time::HiRes qw(time sleep);
use UserBulk::Httpd ();
use UserBulk::Test qw(:all);

my $ROOT = realpath("$FindBin::RealBin/../..");
my $PGB = '/usr/sbin/pgbouncer';
die "pgbouncer is not installed (make deps installs it)\n" unless -x $PGB;

my $DIR = "$ROOT/.run/pgbouncer-test";
my $port = UserBulk::Httpd::free_port();
remove_tree($DIR);
make_path($DIR);
chmod 0755, $DIR;
my @run_as = $> == 0 ? ('runuser', '-u', 'postgres', '--') : ();    # it refuses to run as root
if ($> == 0) { my ($u, $g) = (getpwnam 'postgres')[2, 3]; chown $u, $g, $DIR }

my ($sock, $pgport) = @ENV{qw(UB_PG_SOCKET UB_PG_PORT)};
{
    open my $f, '>', "$DIR/pgbouncer.ini" or die $!;
    print $f <<"INI";
[databases]
userbulk = host=$sock port=$pgport dbname=userbulk

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $DIR/users.txt
admin_users = userbulk
pool_mode = session
default_pool_size = 4
max_client_conn = 50
server_reset_query = DISCARD ALL
logfile = $DIR/pgbouncer.log
pidfile = $DIR/pgbouncer.pid
INI
    open my $u, '>', "$DIR/users.txt" or die $!;
    print $u qq{"userbulk" ""\n"userbulk_api" ""\n};    # the admin, httpd
}

my $pid = fork // die "fork: $!";
if (!$pid) {
    open STDIN, '<', '/dev/null';
    open STDOUT, '>>', "$DIR/stdout";
    open STDERR, '>&', \*STDOUT;
    exec @run_as, $PGB, "$DIR/pgbouncer.ini" or POSIX::_exit(127);
}
END { if ($pid) { local $?; kill 'TERM', $pid; waitpid($pid, 0) } }
my $up = 0;
for (1 .. 100) {
    last if $up = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 1) ? 1 : 0;
    sleep 0.1;
}
ok $up, "pgbouncer listens on 127.0.0.1:$port" or diag `cat $DIR/stdout $DIR/pgbouncer.log 2>/dev/null`;

my $admin = "host=127.0.0.1 port=$port dbname=pgbouncer user=userbulk";
sub pool_stat {
    my ($col) = @_;
    my @rows = db_query_on($admin, 'SHOW STATS');
    # SHOW STATS: database, total_xact_count, total_query_count, ...
    my ($row) = grep { $_->[0] eq 'userbulk' } @rows;
    return $row ? $row->[ $col eq 'xact' ? 1 : 2 ] : 0;
}

# The PostgreSQL backend pids of pgbouncer's server connections.
sub server_pids {
    my ($rc, $out) = capture(pg_bin('psql'), '-X', '-A', '-F', '|', '-P', 'footer=off', '-d', $admin, '-c', 'SHOW SERVERS');
    my ($head, @rows) = split /\n/, $out;
    my @cols = split /\|/, $head // '';
    my ($i) = grep { $cols[$_] eq 'remote_pid' } 0 .. $#cols;
    return {} unless defined $i;
    return { map { (split /\|/)[$i] => 1 } @rows };
}

my $conf = "DBDriver pgsql\n"
         . "DBDParams \"host=127.0.0.1 port=$port dbname=userbulk user=userbulk_api connect_timeout=3\"\n"
         . "DBDMin 2\nDBDKeep 2\nDBDMax 4\n"
         . UserBulk::Httpd::demo_oauth2_include()
         . UserBulk::Httpd::api_locations();
my $patch = [ 'Content-Type' => 'application/json-patch+json' ];

sub traffic {
    my ($h, $label) = @_;
    my $before = pool_stat('query');
    my @codes;
    for my $i (1 .. 12) {
        push @codes, json_request(PUT => $h->url(PUT_USERS), token(),
            [ { userName => 'dave.acme', email => 'dave@acme.example', name => { firstName => "Bouncer$label$i" } } ])->code;
        push @codes, json_request(POST => $h->url(ACCOUNT_UPDATE), token(),
            { userId => '20000000-0000-4000-8000-000000000004', employeeCode => "PGB-$label-$i" }, $patch)->code;
    }
    is_deeply \@codes, [ (200) x 24 ], "$label: 24 requests of both APIs through pgbouncer, all 200";
    cmp_ok pool_stat('query') - $before, '>=', 24, "$label: the statements went through pgbouncer";
    is db_query(q{SELECT first_name || ' ' || employee_code FROM userbulk.users WHERE user_name = 'dave.acme'}),
       "Bouncer${label}12 PGB-$label-12", "$label: applied";
}

my $h = UserBulk::Httpd->new(name => 'pgbouncer', userbulk => 1, modules => [qw(dbd oauth2)], conf => $conf);
$h->start;
traffic($h, 'first');
$h->stop;
my $first = server_pids();
ok scalar(keys %$first), 'pgbouncer keeps server sessions after the clients left: ' . join(',', sort keys %$first);

# A new httpd: its connections get the server sessions the first one used,
# reset by pgbouncer; mod_dbd prepares the statements again on each.
my $h2 = UserBulk::Httpd->new(name => 'pgbouncer', userbulk => 1, modules => [qw(dbd oauth2)], conf => $conf);
$h2->start;
traffic($h2, 'second');
my $second = server_pids();
ok scalar(grep { $first->{$_} } keys %$second), 'the new httpd was served by server sessions of the first (reset, statements prepared again)';
my @log = $h2->error_log_lines(0);
ok !grep({ /UB020[0-35689]|UB021[1-3]|\[dbd:error\]/ } @log), 'no database error in the error log' or diag join "\n", grep { /UB02|dbd/ } @log;
$h2->stop;

kill 'TERM', $pid;
waitpid($pid, 0);
$pid = 0;
remove_tree($DIR);
done_testing();
