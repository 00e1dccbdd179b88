# PUT /users emails at their worst (issue 12): chains of records each asking
# for the address the next one's user holds, rings of swaps, duplicates in
# the batch, and addresses that differ only in the case of a non-ASCII
# letter. The test cluster runs with locale C (tests/tools/pg.sh), where
# PostgreSQL's lower() folds ASCII only.
#
#   tests/tools/run-tests.sh t/email_worst.t
use strict;
use warnings;
use utf8;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use HTTP::Request ();
use LWP::UserAgent ();
use UserBulk::Test qw(:all);
use UserBulk::Reliability qw(seed_users);
use Encode qw(encode_utf8);
use File::Copy ();
use File::Path ();

my $ALICE = '20000000-0000-4000-8000-000000000001';
my $N = 1000;       # UserBulkMaxRecords of the test configuration

# The chain below used to take one pass over the batch per link: about 40
# s for 1000 records on an idle machine. Its answer must now come well
# within this (a generous bound, not a measurement).
my $PATIENCE = 20;

# PUT /users with a client that gives up after $PATIENCE seconds (LWP then
# answers 500 itself, with a "read timeout" in the body).
sub put_patiently {
    my ($records) = @_;
    my $ua = LWP::UserAgent->new(timeout => $PATIENCE, keep_alive => 0);
    my $req = HTTP::Request->new(PUT => Apache::TestRequest::resolve_url(PUT_USERS),
        [ Authorization => 'Bearer ' . token(), 'Content-Type' => 'application/json',
          Accept => 'application/json' ], encode_json($records));
    my $res = $ua->request($req);
    UserBulk::Test::record_response($req, $res);
    return ($res, decode_json_body($res));
}

# db_query with SQL that may hold non-ASCII text (sent and answered in UTF-8)
sub q_utf8 { db_query(encode_utf8($_[0])) }

sub email_of { scalar db_query("SELECT email FROM userbulk.users WHERE user_name = '$_[0]'") }

# The indexes (from 0) of the failed results, and whether each failed with
# exactly one error, email_taken on email.
sub failed_by_email {
    my ($body) = @_;
    my @idx = sort { $a <=> $b } map { $_->{index} } @{ $body->{failedResults} // [] };
    my $all_email = !grep {
        my $e = $_->{errors};
        @$e != 1 || $e->[0]{field} ne 'email' || $e->[0]{code} ne 'email_taken'
    } @{ $body->{failedResults} // [] };
    return (\@idx, $all_email);
}

sub fresh {
    reset_demo();
    seed_users($N);     # u1.acme .. u1000.acme, with u<N>@acme.example
}

# --- a chain that ends at an address held outside the batch: all fail -----------
{
    fresh();
    my @recs = map { { userName => "u$_.acme",
                       email => $_ < $N ? 'u' . ($_ + 1) . '@acme.example' : 'alice@acme.example' } } 1 .. $N;
    my ($res, $b) = put_patiently(\@recs);
    is $res->code, 400, "a chain of $N records ending at alice's address is answered (400)"
        or diag substr($res->content // '', 0, 300);
    is_deeply [ @{ $b // {} }{qw(totalProcessed successCount failureCount)} ], [ $N, 0, $N ],
        'every record of the chain fails';
    my ($idx, $all_email) = failed_by_email($b);
    is_deeply $idx, [ 0 .. $N - 1 ], 'one failed result per record';
    ok $all_email, 'each with email_taken on email only';
    is email_of('u1.acme'), 'u1@acme.example', 'the head of the chain keeps its address';
    is email_of("u$N.acme"), "u$N\@acme.example", 'the tail keeps its address';
    is email_of('alice.acme'), 'alice@acme.example', 'alice keeps hers';
}

# --- the same chain, its end freed by the batch: all succeed ------------------------
{
    fresh();
    my @recs = map { { userName => "u$_.acme",
                       email => $_ < $N - 1 ? 'u' . ($_ + 1) . '@acme.example' : 'alice@acme.example' } } 1 .. $N - 1;
    push @recs, { userName => 'alice.acme', email => 'alice.new@acme.example' };
    my ($res, $b) = put_patiently(\@recs);
    is $res->code, 200, "a chain of $N records whose last address is freed: 200";
    is_deeply [ @{ $b // {} }{qw(successCount failureCount)} ], [ $N, 0 ], 'every record applies';
    is email_of('u1.acme'), 'u2@acme.example', 'the head took the next address';
    is email_of('u' . ($N - 1) . '.acme'), 'alice@acme.example', 'the last link took alice\'s';
    is email_of('alice.acme'), 'alice.new@acme.example', 'alice has her new address';
}

# --- a ring of swaps: every address freed by the batch, all succeed ----------------
{
    fresh();
    my @recs = map { { userName => "u$_.acme", email => 'u' . ($_ % $N + 1) . '@acme.example' } } 1 .. $N;
    my ($res, $b) = put_patiently(\@recs);
    is $res->code, 200, "a ring of $N swaps: 200";
    is_deeply [ @{ $b // {} }{qw(successCount failureCount)} ], [ $N, 0 ], 'every record of the ring applies';
    is email_of('u1.acme'), 'u2@acme.example', 'u1 has u2\'s address';
    is email_of("u$N.acme"), 'u1@acme.example', "u$N has u1's address";
    is db_query("SELECT count(DISTINCT email_lower) FROM userbulk.users WHERE user_name LIKE 'u%.acme'"), $N,
       'still one address per user';
}

# --- duplicates and what hangs on them, next to a ring of two ----------------------
{
    fresh();
    my ($res, $b) = put_patiently([
        { userName => 'u1.acme', email => 'dup@acme.example' },           # 0 duplicate
        { userName => 'u2.acme', email => 'Dup@ACME.example' },           # 1 the same, other case
        { userName => 'u3.acme', email => 'u1@acme.example' },            # 2 u1 keeps it: taken
        { userName => 'u4.acme', email => 'u3@acme.example' },            # 3 u3 keeps it: taken
        { userName => 'u5.acme', email => 'u6@acme.example' },            # 4 a swap...
        { userName => 'u6.acme', email => 'u5@acme.example' },            # 5 ...applies
        { userName => 'u7.acme', email => 'u8@acme.example' },            # 6 u8 fails: taken
        { userName => 'u8.acme', email => 'u7@acme.example', departmentId => 'NOPE' },   # 7
        { userName => 'u9.acme', email => 'U9@acme.example' },            # 8 its own, recased
    ]);
    is $res->code, 200, 'a batch with duplicates: 200 (some records apply)';
    my ($idx, $all_email) = failed_by_email($b);
    is_deeply $idx, [ 0, 1, 2, 3, 6, 7 ], 'both duplicates fail, and the records asking for their users\' addresses';
    my %codes = map { $_->{index} => join(',', map { "$_->{field}:$_->{code}" } @{ $_->{errors} }) }
                @{ $b->{failedResults} // [] };
    is_deeply \%codes, { 0 => 'email:email_taken', 1 => 'email:email_taken', 2 => 'email:email_taken',
                         3 => 'email:email_taken', 6 => 'email:email_taken', 7 => 'departmentId:unknown_code' },
        'each for the reason it has';
    is_deeply [ map { email_of("u$_.acme") } 1, 2, 3, 4, 7, 8 ],
        [ map { "u$_\@acme.example" } 1, 2, 3, 4, 7, 8 ], 'failed records change nothing';
    is_deeply [ map { email_of("u$_.acme") } 5, 6, 9 ],
        [ 'u6@acme.example', 'u5@acme.example', 'U9@acme.example' ], 'the swap and the recased address apply';
}

# --- case folding that does not depend on the server's locale ------------------------
{
    reset_demo();
    is db_query("SHOW lc_ctype"), 'C', 'the test database runs with locale C';
    q_utf8("UPDATE userbulk.users SET email = 'éva\@example.com' WHERE user_name = 'bob.acme'");
    my ($res, $b) = put_patiently([ { userName => 'alice.acme', email => 'Éva@example.com' } ]);
    is $res->code, 400, 'PUT: E-acute-va\@example.com while bob holds e-acute-va\@example.com: 400';
    my ($idx, $all_email) = failed_by_email($b);
    ok @$idx == 1 && $all_email, 'PUT: email_taken' or diag explain $b;
    is email_of('alice.acme'), 'alice@acme.example', 'PUT: alice keeps her address';

    $res = json_request(POST => ACCOUNT_UPDATE, token(), { userId => $ALICE, email => 'ÉVA@EXAMPLE.COM' },
                        [ 'Content-Type' => 'application/json-patch+json' ]);
    is $res->code, 400, 'POST: the same address in capitals: 400';
    like $res->json->{message} // '', qr/email/, 'POST: the message names the email';
    is email_of('alice.acme'), 'alice@acme.example', 'POST: alice keeps her address';

    my $err = eval { q_utf8("UPDATE userbulk.users SET email = 'ÉVA\@example.com' WHERE user_name = 'alice.acme'"); '' } // $@;
    like $err, qr/users_email_unique/, 'the unique index refuses the address directly';
    is q_utf8("SELECT userbulk.fold_email('ÉVA\@Example.COM')"), encode_utf8('éva@example.com'),
       'fold_email lowers non-ASCII letters under locale C';
    reset_demo();
}

# --- migration 005 on addresses that become one once folded ------------------------
{
    my $root = "$FindBin::RealBin/../..";
    my $work = "$root/.run/email-fold-test";
    my $db = 'ub_email_fold_test';
    File::Path::remove_tree($work);
    File::Path::make_path("$work/migrations");
    File::Copy::copy("$root/src/sql/migrate.sh", "$work/migrate.sh") or die "copy: $!";
    chmod 0755, "$work/migrate.sh";
    for my $m (grep { m{/00[1-4]_[^/]+\.sql$} } glob "$root/src/sql/migrations/*.sql") {
        File::Copy::copy($m, "$work/migrations/") or die "copy: $!";
    }
    open my $fh, '>', "$work/functions.sql" or die $!;
    print $fh "-- (none: the data is loaded with plain SQL)\n";
    close $fh;
    db_query_on(admin_conninfo(), "DROP DATABASE IF EXISTS $db");
    db_query_on(admin_conninfo(), "CREATE DATABASE $db OWNER userbulk ENCODING 'UTF8' TEMPLATE template0");
    (my $ci = db_conninfo()) =~ s/dbname=\S+/dbname=$db/;
    my ($rc, $out) = capture("$work/migrate.sh", $ci);
    is $rc, 0, 'a database at version 4' or diag $out;
    ($rc, $out) = capture(pg_bin('psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $ci, '-f', "$root/src/sql/demo.sql");
    is $rc, 0, 'with the demo directory' or diag $out;
    db_query_on($ci, encode_utf8("UPDATE userbulk.users SET email = 'Éva\@x.example' WHERE user_name = 'alice.acme';
                                  UPDATE userbulk.users SET email = 'éva\@x.example' WHERE user_name = 'bob.acme'"));
    ($rc, $out) = capture("$root/src/sql/migrate.sh", $ci);
    isnt $rc, 0, '005 stops when two addresses become one once folded';
    like $out, qr/share an address.*\(alice\.acme, bob\.acme\)/, 'and names their users';
    is db_query_on($ci, 'SELECT max(version) FROM userbulk.schema_version'), 4, 'the database stays at version 4';
    db_query_on($ci, "UPDATE userbulk.users SET email = 'bob\@acme.example' WHERE user_name = 'bob.acme'");
    ($rc, $out) = capture("$root/src/sql/migrate.sh", $ci);
    is $rc, 0, 'once they differ, 005 applies' or diag $out;
    is db_query_on($ci, "SELECT email_lower FROM userbulk.users WHERE user_name = 'alice.acme'"),
       encode_utf8('éva@x.example'), 'email_lower is recomputed with the new folding';
    db_query_on(admin_conninfo(), "DROP DATABASE $db");
    File::Path::remove_tree($work);
}

done_testing();
