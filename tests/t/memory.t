# Memory of the server's children over thousands of requests (issue 5,
# item 3): the resident size (VmRSS) of every httpd child is read after
# request 1,000 (warmed up: pools, connections, caches) and after the last
# one; the growth in between must stay small. Small requests of every kind:
# PUT and POST that write, records and requests refused by the store and by
# the core, a body that is not JSON.
#
#   make test T=t/memory.t                     10,000 requests
#   UB_MEMORY_REQUESTS=100000 make test T=t/memory.t
#
# Then one large answer (101,000 record errors, about 8 MB of JSON): the
# memory it takes must be in proportion to its size.
#
# The bound is generous on purpose (20 %): the test must not depend on the
# machine's speed or the allocator's moods, only catch a leak per request
# (10,000 requests leaking 1 KB each would be 10 MB, far over it).
# Under make test-asan the sizes are ASan's (its quarantine keeps freed
# memory by design): there the test checks instead that every child really
# runs with the sanitizer runtime and the instrumented module.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(time);
use UserBulk::Test qw(:all);
use UserBulk::Raw qw(keepalive_client);
use UserBulk::Reliability qw(:all);

my $N = $ENV{UB_MEMORY_REQUESTS} // 10_000;
my $WARM = 1_000;
my $ALICE = '20000000-0000-4000-8000-000000000001';
my $BOB = '20000000-0000-4000-8000-000000000002';
my $JSON = JSON::PP->new->canonical;
my $ASAN = defined $ENV{UB_ASAN_OPTIONS};
my $mark = error_log_mark();

reset_demo();
my $t = token(sub => 'memory');

# Request i of client who (1 or 2), one of six kinds.
sub request {
    my ($c, $who, $i) = @_;
    my $k = $i % 6;
    my $u = $who == 1 ? 'alice' : 'bob';
    if ($k == 3) {               # a POST naming an unknown user (refused by the store)
        return $c->(POST => ACCOUNT_UPDATE, $t, $JSON->encode({ userIds => [ $ALICE, sprintf('20000000-0000-4000-8000-%012d', 1000 + $i) ],
                    isSSOUser => JSON::PP::true }));
    }
    if ($k == 0) {               # a PUT that writes
        return $c->(PUT => PUT_USERS, $t, $JSON->encode([ { userName => "$u.acme", email => "$u\@acme.example",
                    name => { firstName => "Mem$i" }, roles => [ { roleName => 'Viewer' } ] } ]));
    }
    if ($k == 1) {               # a POST that writes and answers the user model
        return $c->(POST => ACCOUNT_UPDATE, $t, $JSON->encode({ userId => $who == 1 ? $ALICE : $BOB, employeeCode => "M$i",
                    userRoleIds => ['10000000-0000-4000-8000-00000000000' . (1 + $i % 3)] }));
    }
    if ($k == 2) {               # records refused by the store and by the core
        return $c->(PUT => PUT_USERS, $t, $JSON->encode([ { userName => "nobody$i.acme", email => "n$i\@acme.example" },
                    { userName => 'carol.acme', email => 'not an email', nickname => 'x' } ]));
    }
    if ($k == 4) {               # a POST refused before the database
        return $c->(POST => ACCOUNT_UPDATE, $t, '{"userIds":["bad"],"isSSOUser":"yes"}');
    }
    return $c->(PUT => PUT_USERS, $t, '[{"userName":');    # not JSON
}

my %EXPECT = (0 => 200, 1 => 200, 2 => 400, 3 => 400, 4 => 400, 5 => 400);

sub rss_by_child { return +{ map { ($_ => vm_rss_kb($_)) } httpd_children() } }

# Two clients at once (two cores), each on a kept-alive connection; the
# sizes are read when the first has sent half of 1,000 (about request
# 1,000 in all) and after both are done.
my $half = int($N / 2);
my $out = Apache::Test::vars()->{t_logs} . "/memory-client2.$$";
my $kid = fork // die "fork: $!";
if (!$kid) {
    my ($c, $bad) = (keepalive_client(), 0);
    for my $i (1 .. $N - $half) {
        my $res = eval { request($c, 2, $i) } // { status => 0, body => $@ };
        $bad++ if $res->{status} != $EXPECT{ $i % 6 };
    }
    open my $fh, '>', $out or POSIX::_exit(1);
    print $fh "$bad\n";
    close $fh;
    POSIX::_exit(0);
}
my ($bad, %rss, $t0) = (0);
$t0 = time;
my $client = keepalive_client();
for my $i (1 .. $half) {
    my $res = request($client, 1, $i);
    if ($res->{status} != $EXPECT{ $i % 6 }) {
        $bad++;
        diag("request $i: $res->{status} $res->{body}") if $bad <= 5;
    }
    $rss{$WARM} = rss_by_child() if $i == $WARM / 2;
}
waitpid $kid, 0;
my $took = time - $t0;
$rss{$N} = rss_by_child();
my $bad2 = do { open my $fh, '<', $out or die "client 2 left no result: $!"; my $n = <$fh>; chomp $n; $n };
unlink $out;
$bad += $bad2;

is($bad, 0, "$N requests, each answered as expected (" . sprintf('%.0f', $N / $took) . ' requests/s)');

my @both = grep { defined $rss{$N}{$_} } sort { $a <=> $b } keys %{ $rss{$WARM} };
my ($at_warm, $at_end) = (0, 0);
for my $pid (@both) {
    $at_warm += $rss{$WARM}{$pid};
    $at_end += $rss{$N}{$pid};
    note(sprintf 'child %d: VmRSS %d kB at request %d, %d kB at request %d (%+.1f %%)',
         $pid, $rss{$WARM}{$pid}, $WARM, $rss{$N}{$pid}, $N, 100 * ($rss{$N}{$pid} - $rss{$WARM}{$pid}) / $rss{$WARM}{$pid});
}
my $growth = $at_warm ? 100 * ($at_end - $at_warm) / $at_warm : 0;
my $summary = sprintf('%d children: VmRSS %d kB at request %d, %d kB at request %d (%+.1f %%)',
                      scalar @both, $at_warm, $WARM, $at_end, $N, $growth);
note($summary);
ok(@both >= 1, 'the same children served from request 1,000 to the end (' . scalar(@both) . ')');

if ($ASAN) {
    my @kids = httpd_children();
    my @instrumented = grep {
        open my $fh, '<', "/proc/$_/maps" or next;
        my $maps = do { local $/; <$fh> };
        $maps =~ /libasan/ && $maps =~ m{\.build-asan/mod_userbulk\.so|\Q$ENV{UB_MODULE_SO}\E}
    } @kids;
    is(scalar @instrumented, scalar @kids, "under ASan: every child runs libasan and the instrumented module ($summary)");
}
else {
    cmp_ok($growth, '<', 20, "memory flat: $summary");
}

# One large answer: 1000 records of unknown users, each with 100 unknown
# fields, about 1 MB of request. The answer names 101,000 errors (about
# 8 MB of JSON); building it must cost memory in proportion to it, not a
# multiple. The children's total resident size is read before and after.
{
    my $body = '[' . join(',', map {
        my $r = $_;
        qq({"userName":"nobody$r.acme","email":"n$r\@acme.example",) . join(',', map { sprintf '"x%03d":1', $_ } 1 .. 100) . '}'
    } 1 .. 1000) . ']';
    my $total = sub { my $s = 0; $s += vm_rss_kb($_) // 0 for httpd_children(); return $s };
    my $before = $total->();
    my $t1 = time;
    my $res = keepalive_client()->(PUT => PUT_USERS, $t, $body);
    my $took = time - $t1;
    my $after = $total->();
    is($res->{status}, 400, sprintf('a %.1f MB request naming 101,000 errors: 400 (%.1f MB answer in %.1f s)',
                                    length($body) / 1048576, length($res->{body}) / 1048576, $took));
    my $grew = ($after - $before) / 1024;
    my $answer = length($res->{body}) / 1048576;
    note(sprintf 'large answer: children grew by %.0f MB for a %.1f MB answer (%.0f x)', $grew, $answer, $grew / ($answer || 1));
    if (!$ASAN) {
        cmp_ok($grew, '<', 256, sprintf('building a %.1f MB answer costs the children less than 256 MB (they grew by %.0f MB)',
                                        $answer, $grew));
    }
}

my @crash = crash_lines($mark);
ok(!@crash, 'no child crashed') or diag(join "\n", @crash);
reset_demo();

done_testing();
