# Worst-case bodies (issue 12): 8 MB of tiny values, the shape that costs
# the body parser the most per byte, and the longest lists each endpoint
# takes. The answer must be the clear 400 the README names, and the httpd
# child serving the request must not grow by more than 64 MB over it (it
# grew by over 400 MB before: the parser's vectors doubled inside the
# request pool). The child is found from the connection's socket; its peak
# resident size (VmHWM) is reset before the request (/proc/PID/clear_refs)
# and read after.
#
#   tests/tools/run-tests.sh t/worst_parse.t
#
# Under make test-asan the sizes are ASan's (its quarantine keeps freed
# memory by design): there only the answers are checked.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use JSON::PP ();
use UserBulk::Test qw(:all);
use UserBulk::Raw qw(http_head open_request read_response client_port server_host_port);
use UserBulk::Reliability qw(:all);

my $ALICE = '20000000-0000-4000-8000-000000000001';
my $MAX_BODY = 8 * 1024 * 1024;    # UserBulkMaxBody's default
my $MAX_ROLES = 1000;              # UB_MAX_ROLES
my $GROWTH_MB = 64;
my $ASAN = defined $ENV{UB_ASAN_OPTIONS};
my $JSON = JSON::PP->new->canonical;
my (undef, $PORT) = server_host_port();
my $mark = error_log_mark();

reset_demo();
my $BASE = db_fingerprint();
my $t = token(sub => 'worst-parse');

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
