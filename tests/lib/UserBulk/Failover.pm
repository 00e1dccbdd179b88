package UserBulk::Failover;

# The clients and the measurement of the failover tests (ha.t: a promotion
# done by the test; ha_auto.t: pg_auto_failover's):
#
#   my $f = UserBulk::Failover->new(url => ..., logs => DIR);
#   $f->start;                         clients send PUT /users without pause
#   $f->wait_for($n, $after, $ok_only, $limit)
#                                      every client has $n answers ending after
#                                      $after (all 200 when $ok_only)
#   $f->stop;
#   my $s = $f->verify($conninfo, start => T, down => T)
#   my $r = $f->recovery($t0, $t1)    per client, between $t0 and $t1: the
#                                      answers other than 200, and when it
#                                      was served again (s after $t0)
#
# verify() asserts, against the database of $conninfo (the primary after
# the failover): every 200 has its audit row there with the value it sent,
# every other answer was a 503 that applied nothing there, each client's
# user holds the value of its last 200, each client was served again within
# 15 s of `down`. It returns the figures: per client requests, 503s,
# `failover` (from `start` to the end of its first 200 after its last
# failure), the slowest request after `start`, `first_ok_after_down`; and
# `worst` (the longest failover of a client).

use strict;
use warnings;

use POSIX ();
use Test::More ();
use Time::HiRes qw(time sleep);
use UserBulk::Test qw(json_request token db_query_on);

my @CLIENTS = ([ 1, 'bob.acme', 'bob@acme.example' ], [ 2, 'carol.acme', 'carol@acme.example' ]);
my $ACTOR = 'ha-test';

sub new {
    my ($class, %o) = @_;
    return bless { url => $o{url}, logs => $o{logs}, kids => [], seconds => $o{seconds} // 180 }, $class;
}

sub clients { return @CLIENTS }

sub _client {
    my ($self, $id, $user, $email) = @_;
    my $tok = token(sub => $ACTOR);
    open my $out, '>', "$self->{logs}/client$id.log" or POSIX::_exit(2);
    $out->autoflush(1);
    my $deadline = time + $self->{seconds};
    for (my $n = 1; !-e "$self->{logs}/stop" && time < $deadline; $n++) {
        my $v = "c$id-$n";
        my $t0 = time;
        my $res = json_request(PUT => $self->{url}, $tok,
                               [ { userName => $user, email => $email, name => { firstName => $v } } ]);
        # a 503 commit_unknown (the answer to COMMIT lost) may have applied
        my $code = $res->code == 503 && $res->content =~ /"commit_unknown"/ ? 599 : $res->code;
        printf $out "%.6f %.6f %d %s %s\n", $t0, time, $code,
            $res->header('X-Trace-Id') // '-', $v;
        sleep 0.005;
    }
    close $out;
    POSIX::_exit(0);
}

sub start {
    my ($self) = @_;
    unlink "$self->{logs}/stop";
    for my $c (@CLIENTS) {
        my $pid = fork // die "fork: $!";
        $self->_client(@$c) if !$pid;
        push @{ $self->{kids} }, $pid;
    }
    return $self;
}

sub stop {
    my ($self) = @_;
    return unless @{ $self->{kids} };
    { open my $f, '>', "$self->{logs}/stop" or die $! }
    waitpid($_, 0) for @{ $self->{kids} };
    $self->{kids} = [];
}

sub DESTROY {
    my ($self) = @_;
    return unless @{ $self->{kids} || [] };
    kill 'TERM', @{ $self->{kids} };
    waitpid($_, 0) for @{ $self->{kids} };
}

sub read_log {
    my ($self, $id) = @_;
    open my $fh, '<', "$self->{logs}/client$id.log" or return [];
    return [ map { my @f = split; { t0 => $f[0], t1 => $f[1], code => $f[2], trace => $f[3], value => $f[4] } } <$fh> ];
}

sub wait_for {
    my ($self, $n, $after, $ok_only, $limit) = @_;
    my $deadline = time + $limit;
    while (time < $deadline) {
        my $done = grep {
            my @r = grep { $_->{t1} > $after } @{ $self->read_log($_->[0]) };
            my $tail = 0;
            for (reverse @r) { last if $ok_only && $_->{code} != 200; $tail++ }
            $tail >= $n;
        } @CLIENTS;
        return 1 if $done == @CLIENTS;
        sleep 0.05;
    }
    return 0;
}

sub verify {
    my ($self, $ci, %t) = @_;
    my %applied = map { $_->[0] => $_->[1] }
        db_query_on($ci, qq{SELECT trace_id, after->>'firstName' FROM userbulk.audit WHERE actor = '$ACTOR'});
    my (@lost, @wrong, @bad_status, @applied_503, %summary);
    my $unknown = 0;     # 503 commit_unknown answers
    my $total = 0;
    for my $c (@CLIENTS) {
        my ($id, $user) = @$c;
        my $log = $self->read_log($id);
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
            elsif ($r->{code} == 599) {
                # 503 commit_unknown: applied or not, both are true to it;
                # the user's final value below still checks the order
                $unknown++;
            }
            else {
                push @bad_status, "$r->{code} for $r->{value}";
            }
        }
        # The client's failover: from `start` to the end of its first 200
        # after its last failure (or after `down`, when it saw no failure).
        my ($recovered) = map { $_->{t1} } grep {
            $_->{code} == 200 && $_->{t0} >= (@fail ? $fail[-1]{t1} : $t{down})
        } @$log;
        my $slowest = 0;
        for (grep { $_->{t1} >= $t{start} } @$log) { $slowest = $_->{t1} - $_->{t0} if $_->{t1} - $_->{t0} > $slowest }
        my ($first_ok) = map { $_->{t1} } grep { $_->{code} == 200 && $_->{t0} >= $t{down} } @$log;
        $summary{$id} = {
            requests => scalar @$log, failed => scalar @fail,
            failover => defined $recovered ? $recovered - $t{start} : 999,
            slowest => $slowest,
            first_ok_after_down => defined $first_ok ? $first_ok - $t{down} : undef,
            # the last 200, or a later commit_unknown that did commit
            last_value => (map { $_->{value} }
                           grep { $_->{code} == 200 || ($_->{code} == 599 && exists $applied{ $_->{trace} }) }
                           @$log)[-1],
            user => $user,
        };
    }
    my $tb = Test::More->builder;
    $tb->ok(!@lost, 'no acknowledged update lost: every 200 has its audit row in the new primary')
        or $tb->diag(scalar(@lost) . " lost: @lost[0 .. ($#lost > 9 ? 9 : $#lost)]");
    $tb->ok(!@wrong, '... with the value that request sent') or $tb->diag("@wrong");
    $tb->ok(!@bad_status, 'every request that failed was answered 503 (no 500, no hang, no connection error)')
        or $tb->diag("@bad_status[0 .. ($#bad_status > 9 ? 9 : $#bad_status)]");
    $tb->ok(!@applied_503, 'no 503 unavailable applied anything in the new primary (a 503 commit_unknown may have)')
        or $tb->diag("@applied_503");
    for my $id (sort keys %summary) {
        my $s = $summary{$id};
        $tb->is_eq(scalar db_query_on($ci, "SELECT first_name FROM userbulk.users WHERE user_name = '$s->{user}'"),
                   $s->{last_value}, "client $id: the user holds the value of its last 200");
        $tb->ok(defined $s->{first_ok_after_down} && $s->{first_ok_after_down} < 15,
                sprintf('client %d: served again %.2f s after the failure (< 15 s)', $id, $s->{first_ok_after_down} // -1));
    }
    my $worst = 0;
    $worst < $_->{failover} and $worst = $_->{failover} for values %summary;
    return { clients => \%summary, total => $total, worst => $worst, commit_unknown => $unknown };
}

sub recovery {
    my ($self, $t0, $t1) = @_;
    my %r;
    for my $c (@CLIENTS) {
        my @log = grep { $_->{t1} >= $t0 && $_->{t0} <= $t1 } @{ $self->read_log($c->[0]) };
        my @fail = grep { $_->{code} != 200 } @log;
        my ($back) = map { $_->{t1} - $t0 } grep { $_->{code} == 200 && (!@fail || $_->{t0} >= $fail[-1]{t1}) } @log;
        $r{ $c->[0] } = { failed => scalar @fail, back => $back };
    }
    return \%r;
}

# One line per client, for the summary file and the README.
sub describe {
    my ($self, $s) = @_;
    return join '; ', map {
        my $c = $s->{clients}{$_};
        sprintf('client %d: %d requests, %d answered 503, served again %.2f s after the failure began, slowest request during the failover %.2f s',
                $_, $c->{requests}, $c->{failed}, $c->{failover}, $c->{slowest})
    } sort keys %{ $s->{clients} };
}

1;
