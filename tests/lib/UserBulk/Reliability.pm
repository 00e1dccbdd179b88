package UserBulk::Reliability;

# Helpers of the reliability suites (corpus.t, faults.t, concurrency.t,
# memory.t, hostile.t, outage.t):
#
#   reset_demo()                 reload src/sql/demo.sql (both demo accounts afresh)
#   seed_users($n)               add u1..u$n.{acme,globex} (src/sql/seed.sql)
#   db_fingerprint(except => [user ids])
#                                one string that changes when anything in the
#                                directory changes: every row of every userbulk
#                                table (users, user_roles, audit, reference
#                                tables) and the list of its tables; the users
#                                named in except (and their roles and audit
#                                rows) are left out
#   httpd_parent(), httpd_children()   pids of the test server
#   vm_rss_kb($pid)              resident memory of a process
#   crash_lines($mark)           error-log lines (after $mark) that tell of a
#                                crashed child or a sanitizer report
#   wait_for_log($mark, qr/.../, $seconds)   the first matching line, or undef

use strict;
use warnings;

use Apache::Test ();
use Cwd ();
use Exporter 'import';
use File::Spec::Functions qw(catfile);
use File::Temp ();
use IPC::Open2 ();
use POSIX ();
use Time::HiRes qw(sleep time);
use UserBulk::Test qw(db_query error_log_lines);

our @EXPORT_OK = qw(reset_demo seed_users db_fingerprint httpd_parent httpd_children
                    vm_rss_kb crash_lines wait_for_log project_root pg_tool db_session_query
                    httpd_child_of_connection lock_session wait_until
                    in_background wait_for_waiters hold_commits);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

sub project_root {
    # tests/lib/UserBulk/Reliability.pm -> project root
    my $dir = __FILE__;
    $dir =~ s{/[^/]+$}{};
    return Cwd::realpath("$dir/../../..");
}

sub pg_tool { return catfile(project_root(), 'tools', 'pg.sh') }

sub reset_demo {
    my $file = catfile(project_root(), 'src', 'sql', 'demo.sql');
    open my $fh, '<', $file or die "$file: $!";
    local $/;
    db_query(scalar <$fh>);
}

sub seed_users {
    my ($n) = @_;
    my $dir = $ENV{UB_PG_DIR} or die "UB_PG_DIR is not set (run through tests/tools/run-tests.sh)\n";
    system(pg_tool(), 'seed', $dir, $n) == 0 or die "pg.sh seed $n failed\n";
}

my @REFERENCE = qw(accounts departments locations program_admin_roles access_types
                   access_levels access_modes privileges roles role_privileges teams
                   statuses timezones);

# One psql kept open for the many fingerprints a suite takes (a psql per
# query costs more than the query). Rows come back as with db_query.
my ($PSQL_PID, $PSQL_IN, $PSQL_OUT, $PSQL_SEQ);

sub _psql_session {
    return if $PSQL_PID && kill 0, $PSQL_PID;
    my ($bin) = sort { $b cmp $a } glob '/usr/lib/postgresql/*/bin/psql';
    $PSQL_PID = IPC::Open2::open2($PSQL_OUT, $PSQL_IN, $bin // 'psql', '-X', '-q', '-A', '-t',
                                  '-v', 'ON_ERROR_STOP=0', '-P', 'null=\\N', '-F', "\x1f",
                                  '-d', UserBulk::Test::db_conninfo());
    $PSQL_SEQ = 0;
}

sub db_session_query {
    my ($sql) = @_;
    _psql_session();
    my $end = "--ub-end-" . ++$PSQL_SEQ . "--";
    $sql =~ s/;?\s*\z//;
    print {$PSQL_IN} "$sql;\n\\echo $end\n";
    $PSQL_IN->flush;
    my @lines;
    while (defined(my $l = <$PSQL_OUT>)) {
        chomp $l;
        last if $l eq $end;
        push @lines, $l;
    }
    my @rows = map { [ map { $_ eq '\\N' ? undef : $_ } split /\x1f/, $_, -1 ] } @lines;
    return wantarray ? @rows : (@rows ? $rows[0][0] : undef);
}

END { if ($PSQL_PID) { close $PSQL_IN; waitpid $PSQL_PID, 0 } }

sub db_fingerprint {
    my (%o) = @_;
    my @except = @{ $o{except} // [] };
    for (@except) { /^[0-9a-f-]{36}$/ or die "db_fingerprint: bad id $_\n" }
    my $ids = @except ? "ARRAY[" . join(',', map { "'$_'::uuid" } @except) . "]" : "ARRAY[]::uuid[]";
    my $ref = join "\n", map { "UNION ALL SELECT '$_:' || t::text FROM userbulk.$_ t" } @REFERENCE;
    return scalar db_session_query(<<"SQL");
SELECT count(*) || ':' || md5(string_agg(x, E'\\n' ORDER BY x)) FROM (
    SELECT 'users:' || u::text FROM userbulk.users u WHERE NOT (u.id = ANY ($ids))
    UNION ALL SELECT 'user_roles:' || r::text FROM userbulk.user_roles r WHERE NOT (r.user_id = ANY ($ids))
    UNION ALL SELECT 'audit:' || a::text FROM userbulk.audit a WHERE NOT (a.user_id = ANY ($ids))
    $ref
    UNION ALL SELECT 'relation:' || c.relname || ':' || c.relkind::text FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'userbulk'
    UNION ALL SELECT 'function:' || p.proname FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'userbulk'
) s(x)
SQL
}

sub httpd_parent {
    my $file = catfile(Apache::Test::vars()->{t_logs}, 'httpd.pid');
    open my $fh, '<', $file or die "$file: $!";
    my $pid = <$fh>;
    $pid =~ s/\s+//g;
    return $pid;
}

# The server's children: processes whose parent is the httpd parent.
sub httpd_children {
    my $parent = httpd_parent();
    my @kids;
    for my $dir (glob '/proc/[0-9]*') {
        open my $fh, '<', "$dir/status" or next;
        my %st = map { /^(\w+):\s*(\S*)/ ? ($1 => $2) : () } <$fh>;
        push @kids, $st{Pid} if ($st{PPid} // '') eq $parent && ($st{State} // '') ne 'Z';
    }
    return sort { $a <=> $b } @kids;
}

# The httpd child that holds the server side of the connection whose
# client end is on local port $client_port: the socket's inode from
# /proc/net/tcp, then the child with a descriptor on it.
sub httpd_child_of_connection {
    my ($client_port, $server_port) = @_;
    my %inodes;
    for my $table ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $fh, '<', $table or next;
        while (my $line = <$fh>) {
            my @f = split ' ', $line;
            next unless @f > 9 && $f[1] =~ /:([0-9A-F]{4})$/;
            my $local = hex $1;
            my ($remote) = $f[2] =~ /:([0-9A-F]{4})$/ or next;
            $inodes{ $f[9] } = 1 if $local == $server_port && hex($remote) == $client_port;
        }
    }
    for my $pid (httpd_children()) {
        for my $fd (glob "/proc/$pid/fd/*") {
            my $target = readlink $fd // next;
            return $pid if $target =~ /^socket:\[(\d+)\]$/ && $inodes{$1};
        }
    }
    return undef;
}

# A PostgreSQL session of its own that holds a lock until told otherwise:
#   my $s = lock_session('LOCK TABLE userbulk.audit IN SHARE MODE');
#   ...; $s->{release}->();     # rolls back ($s->{commit}->() commits)
# Returns once the lock is held. Its application_name is ub-lock-holder.
sub lock_session {
    my ($sql) = @_;
    my ($bin) = sort { $b cmp $a } glob '/usr/lib/postgresql/*/bin/psql';
    local $ENV{PGAPPNAME} = 'ub-lock-holder';
    my ($out, $in);
    my $pid = IPC::Open2::open2($out, $in, $bin // 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
                                '-d', UserBulk::Test::db_conninfo());
    print {$in} "BEGIN;\n$sql;\n\\echo ub-locked\n";
    $in->flush;
    while (defined(my $l = <$out>)) { last if $l =~ /ub-locked/ }
    my $end = sub {
        my ($verb) = @_;
        print {$in} "$verb;\n\\q\n";
        close $in;
        waitpid $pid, 0;
        return $? == 0;
    };
    return {
        pid => $pid,
        release => sub { $end->('ROLLBACK') },
        commit => sub { $end->('COMMIT') },
    };
}

# Polls $check (a code ref) every 50 ms until it returns true or $seconds
# pass; returns its last value.
sub wait_until {
    my ($seconds, $check) = @_;
    my $until = time + $seconds;
    while (1) {
        my $v = $check->();
        return $v if $v || time > $until;
        sleep 0.05;
    }
}

# Runs CODE in a child process; returns a sub that waits for it and gives
# what CODE returned (a string, or "died: ..." when it died).
my $BACKGROUND_DIR;
sub in_background {
    my ($code) = @_;
    $BACKGROUND_DIR //= File::Temp::tempdir(CLEANUP => 1);
    my $file = "$BACKGROUND_DIR/bg-" . rand();
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $out = eval { $code->() } // "died: $@";
        open my $fh, '>', $file or POSIX::_exit(1);
        print {$fh} $out;
        close $fh;
        POSIX::_exit(0);
    }
    return sub {
        waitpid $pid, 0;
        open my $fh, '<', $file or return 'no result';
        local $/;
        return scalar <$fh>;
    };
}

# Holds every writer of ACCOUNT's users at its COMMIT, until the returned
# session's release (or commit): the session locks the account's row of
# audit_feed_clock, which the change feed's commit-time trigger takes, so
# a writer held there has written its rows and taken its locks. Makes the
# row first when the account has none yet.
sub hold_commits {
    my ($account) = @_;
    db_query("INSERT INTO userbulk.audit_feed_clock (account_id, seq)
              SELECT '$account', coalesce(max(f.seq), 0) FROM userbulk.audit_feed f WHERE f.account_id = '$account'
              ON CONFLICT DO NOTHING");
    return lock_session("SELECT 1 FROM userbulk.audit_feed_clock WHERE account_id = '$account' FOR UPDATE");
}

# Waits (30 s at most) until N sessions of the test database wait for a
# lock; returns whether they do.
sub wait_for_waiters {
    my ($n) = @_;
    return wait_until(30, sub { db_query("SELECT count(*) FROM pg_locks WHERE NOT granted") >= $n });
}

sub vm_rss_kb {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return undef;
    while (my $line = <$fh>) { return $1 if $line =~ /^VmRSS:\s+(\d+)/ }
    return undef;
}

sub crash_lines {
    my ($mark, %o) = @_;
    my %allowed = map { $_ => 1 } @{ $o{killed_pids} // [] };
    return grep {
        (/exit signal/ && !(/pid (\d+) exit signal Killed/ && $allowed{$1}))
            || /Segmentation|AddressSanitizer|LeakSanitizer|runtime error:|double free|stack smashing/
    } error_log_lines($mark);
}

sub wait_for_log {
    my ($mark, $re, $seconds) = @_;
    my $until = time + ($seconds // 30);
    while (1) {
        my ($hit) = grep { $_ =~ $re } error_log_lines($mark);
        return $hit if defined $hit;
        return undef if time > $until;
        sleep 0.1;
    }
}

1;
