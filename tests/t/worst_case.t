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
#   - the longest role lists the limits allow, and one more; a keyword of
#     any length
#
#   make test T=t/worst_case.t
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use JSON::PP ();
use UserBulk::Test qw(:all);
use UserBulk::Raw qw(http_head open_request read_response client_port server_host_port);
use UserBulk::Reliability qw(:all);

my $N = 1000;
my $ACME = '00000000-0000-4000-8000-00000000000a';
my $mark = error_log_mark();

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

# ---------------------------------------------------------------------------
# 3. A chain whose end the batch frees: u1 .. u998 take the next one's
#    address, u999 alice's, and alice a new one: all apply.
{
    my @recs = map { record($_, 'u' . ($_ + 1) . '@acme.example') } 1 .. $N - 2;
    push @recs, record($N - 1, 'alice@acme.example');
    push @recs, { userName => 'alice.acme', email => 'alice.new@acme.example' };
    my $res = put(\@recs);
    is($res->code, 200, 'chain whose end is freed: 200');
    is_deeply([ @{ $res->json // {} }{qw(successCount failureCount)} ], [ $N, 0 ], 'freed chain: every record applies');
    my $a = addresses(1, $N - 1);
    is($a->{'u1.acme'}, 'u2@acme.example', 'freed chain: the head took the next address');
    is($a->{'u' . ($N - 1) . '.acme'}, 'alice@acme.example', "freed chain: the last link took alice's");
    is(scalar db_query("SELECT email FROM userbulk.users WHERE user_name = 'alice.acme'"), 'alice.new@acme.example',
       'freed chain: alice has her new address');
}

# ---------------------------------------------------------------------------
# 4. Bodies of 8 MB of tiny values, the shape that costs the body parser the
#    most per byte, and the longest lists each endpoint takes. The answer
#    must be the clear 400 the README names, and the httpd child serving the
#    request must not grow by more than 64 MB over it (it grew by over 400
#    MB before: the parser's vectors doubled inside the request pool). The
#    child is found from the connection's socket; its peak resident size
#    (VmHWM) is reset before the request (/proc/PID/clear_refs) and read
#    after. Under make test-asan the sizes are ASan's (its quarantine keeps
#    freed memory by design): there only the answers are checked.
my $ALICE = '20000000-0000-4000-8000-000000000001';
my $MAX_BODY = 8 * 1024 * 1024;    # UserBulkMaxBody's default
my $MAX_ROLES = 1000;              # UB_MAX_ROLES
my $GROWTH_MB = 64;
my $ASAN = defined $ENV{UB_ASAN_OPTIONS};
my $JSON = JSON::PP->new->canonical;
my (undef, $PORT) = server_host_port();

reset_demo();
my $BASE = db_fingerprint();

sub unchanged { is(db_fingerprint(), $BASE, "$_[0]: nothing changed") }

# prefix, "0," as often as fits in the body limit, "0", suffix
sub zeros {
    my ($prefix, $suffix) = @_;
    my $n = int(($MAX_BODY - length($prefix) - length($suffix) - 1) / 2);
    return $prefix . ('0,' x $n) . '0' . $suffix;
}

sub status_kb {
    my ($pid, $field) = @_;
    open my $fh, '<', "/proc/$pid/status" or return undef;
    while (my $line = <$fh>) { return $1 if $line =~ /^\Q$field\E:\s+(\d+)/ }
    return undef;
}

# Sends one request on a connection of its own. Returns the answer, and
# how much the serving child's peak resident size passed its resident size
# before the request (kB; undef when the child could not be found).
sub measured {
    my ($method, $path, $body) = @_;
    # the head first: the server accepts a connection when data comes
    # (TCP_DEFER_ACCEPT), and the child is found by its socket
    my $sock = open_request(http_head($method, $path, token => $t, length => length $body));
    my $child = wait_until(10, sub { httpd_child_of_connection(client_port($sock), $PORT) });
    my $before;
    if ($child) {
        open my $fh, '>', "/proc/$child/clear_refs" or die "/proc/$child/clear_refs: $!";
        print {$fh} "5";        # 5: the peak resident size starts again from now
        close $fh or die "/proc/$child/clear_refs: $!";
        $before = status_kb($child, 'VmRSS');
    }
    my $off = 0;
    while ($off < length $body) {
        my $n = syswrite($sock, $body, length($body) - $off, $off);
        die "write failed: $!\n" unless defined $n;
        $off += $n;
    }
    my $res = read_response($sock, 120);
    my $grew = $child && defined $before ? status_kb($child, 'VmHWM') - $before : undef;
    close $sock;
    return ($res, $grew);
}

sub within_bound {
    my ($label, $grew, $len) = @_;
    return if $ASAN;
    ok(defined $grew, "$label: the serving child was found") or return;
    cmp_ok($grew / 1024, '<', $GROWTH_MB,
           sprintf('%s: the child grew by %.1f MB at the peak for a %.1f MB body (under %d MB)',
                   $label, $grew / 1024, $len / 1048576, $GROWTH_MB));
}

# --- PUT /users: 8 MB of records that are each a 0 -------------------------
{
    my $body = zeros('[', ']');
    my ($res, $grew) = measured(PUT => PUT_USERS, $body);
    is($res->{status}, 400, 'PUT of 8 MB [0,0,...]: 400');
    is($res->{json}{code}, 'too_many_records', 'PUT of 8 MB [0,0,...]: too_many_records');
    like($res->{json}{message} // '', qr/1001 user records or more; at most 1000/,
         'PUT of 8 MB [0,0,...]: the message names the limit');
    within_bound('PUT of 8 MB [0,0,...]', $grew, length $body);
    unchanged('PUT of 8 MB [0,0,...]');
}

# --- PUT /users: one record of 8 MB of tiny values ---------------------------
{
    my $body = zeros('[{"userName":"alice.acme","email":"alice@acme.example","x":[', ']}]');
    my ($res, $grew) = measured(PUT => PUT_USERS, $body);
    is($res->{status}, 400, 'PUT of one record holding 8 MB [0,0,...]: 400');
    is($res->{json}{code}, 'too_many_values', 'PUT of one record holding 8 MB [0,0,...]: too_many_values');
    like($res->{json}{message} // '', qr/more than \d+ JSON values/,
         'PUT of one record holding 8 MB [0,0,...]: the message names the cap');
    within_bound('PUT of one record holding 8 MB [0,0,...]', $grew, length $body);
    unchanged('PUT of one record holding 8 MB [0,0,...]');
}

# --- POST: an unknown field of 8 MB of tiny values ---------------------------
{
    my $body = zeros(qq({"userId":"$ALICE","isSSOUser":true,"x":[), ']}');
    my ($res, $grew) = measured(POST => ACCOUNT_UPDATE, $body);
    is($res->{status}, 400, 'POST with {"x":[0,0,...]} of 8 MB: 400');
    is($res->{json}{messageCode}, 400, 'POST with {"x":[0,0,...]} of 8 MB: messageCode 400');
    like($res->{json}{message} // '', qr/more than \d+ JSON values/,
         'POST with {"x":[0,0,...]} of 8 MB: the message names the cap');
    within_bound('POST with {"x":[0,0,...]} of 8 MB', $grew, length $body);
    unchanged('POST with {"x":[0,0,...]} of 8 MB');
}

# --- role lists at the cap and one past it -----------------------------------
sub role_id { sprintf '10000000-0000-4000-8000-%012d', 100000 + $_[0] }

{
    my @viewer = map { { roleName => 'Viewer' } } 1 .. $MAX_ROLES + 1;
    my $res = json_request(PUT => PUT_USERS, $t, [ { userName => 'alice.acme', email => 'alice@acme.example' },
                                                   { userName => 'bob.acme', email => 'bob@acme.example',
                                                     roles => \@viewer } ],
                           { 'Prefer' => 'tx=rollback' });
    my $j = $res->json;
    my ($bob) = grep { $_->{index} == 1 } @{ $j->{failedResults} // [] };
    ok($bob, 'PUT with 1001 roles in record 1: record 1 failed') or diag($res->content);
    is_deeply([ map { "$_->{field}:$_->{code}" } @{ $bob->{errors} // [] } ], ['roles:too_many_roles'],
              'PUT with 1001 roles in record 1: one error, roles too_many_roles');
    like($bob->{errors}[0]{message} // '', qr/1001 roles; at most 1000/, 'PUT with 1001 roles: the message names the cap');

    pop @viewer;
    $res = json_request(PUT => PUT_USERS, $t, [ { userName => 'bob.acme', email => 'bob@acme.example', roles => \@viewer } ],
                        { 'Prefer' => 'tx=rollback' });
    $j = $res->json;
    ok(!grep({ $_->{code} eq 'too_many_roles' } map { @{ $_->{errors} } } @{ $j->{failedResults} // [] }),
       'PUT with 1000 roles: within the cap') or diag($res->content);
    unchanged('PUT with role lists at and over the cap (dry runs)');
}

for my $list (qw(userRoleIds userRoles)) {
    my @ids = map { role_id($_) } 1 .. $MAX_ROLES + 1;
    my $res = json_request(POST => ACCOUNT_UPDATE, $t, { userId => $ALICE, $list => \@ids });
    is($res->code, 400, "POST with 1001 $list: 400");
    like($res->json->{message} // '', qr/(?:^|; )\Q$list\E: holds 1001 ids; at most 1000 are allowed \(too_many_roles\)/,
         "POST with 1001 $list: the message names $list and the cap") or diag($res->content);

    pop @ids;
    $res = json_request(POST => ACCOUNT_UPDATE, $t, { userId => $ALICE, $list => \@ids });
    is($res->code, 400, "POST with 1000 unknown $list: 400 (unknown roles)");
    unlike($res->json->{message} // '', qr/too_many_roles/, "POST with 1000 $list: within the cap")
        or diag($res->content);
}

{
    my @ids = map { role_id($_) } 1 .. $MAX_ROLES;
    my $res = json_request(POST => ACCOUNT_UPDATE, $t, { userId => $ALICE, userRoleIds => \@ids,
                                                          userRoles => [ reverse map { { userRoleId => uc } } @ids ] });
    is($res->code, 400, 'POST with the same 1000 ids in userRoleIds and userRoles: 400 (unknown roles)');
    unlike($res->json->{message} // '', qr/conflicting_fields|too_many_roles/,
           'POST with the same 1000 ids in both lists, reversed and upper case: they agree')
        or diag($res->content);
    unchanged('POST with role lists at and over the cap');
}

# --- keyword: ignored, whatever its length ------------------------------------
{
    my $res = json_request(POST => ACCOUNT_UPDATE, $t, { userId => $ALICE, keyword => 'k' x 1_000_000 });
    is($res->code, 200, 'POST with a keyword of 1,000,000 characters: 200 (ignored)') or diag(substr $res->content, 0, 500);
    unchanged('POST with a long keyword');
}

my @crash = crash_lines($mark);
ok(!@crash, 'no child crashed') or diag(join "\n", @crash);

done_testing();
