# Emails as PUT /users and the POST compare them (issue 12): duplicates in
# the batch and what hangs on them, and addresses that differ only in the
# case of a non-ASCII letter. The test cluster runs with locale C
# (tools/pg.sh), where PostgreSQL's lower() folds ASCII only. Chains
# and rings of 1000 records are t/worst_case.t's.
#
#   make test T=t/email.t
use strict;
use warnings;
use utf8;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use UserBulk::Test qw(:all);
use UserBulk::Reliability qw(seed_users);
use Encode qw(encode_utf8);
use File::Copy ();
use File::Path ();
use File::Temp ();
use POSIX ();
use Time::HiRes ();

my $ALICE = '20000000-0000-4000-8000-000000000001';
my $N = 10;         # u1.acme .. u10.acme

sub put_records {
    my ($records) = @_;
    my $res = json_request(PUT => PUT_USERS, token(), $records);
    return ($res, $res->json);
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
    seed_users($N);     # u1.acme .. u10.acme, with u<N>@acme.example
}

# --- duplicates and what hangs on them, next to a ring of two ----------------------
{
    fresh();
    my ($res, $b) = put_records([
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
    my ($res, $b) = put_records([ { userName => 'alice.acme', email => 'Éva@example.com' } ]);
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
    like $err, qr/user_emails_pkey/, 'the key of user_emails refuses the address directly';
    is q_utf8("SELECT userbulk.fold_email('ÉVA\@Example.COM')"), encode_utf8('éva@example.com'),
       'fold_email lowers non-ASCII letters under locale C';
    reset_demo();
}

# --- one address asked for by several clients at once (user_emails' key, 023) -------
# Six clients, each for its own user, all asking for the same new address
# at the same moment, in twelve rounds (half PUT /users, half SCIM PATCH;
# a round starts when every client has its answer of the one before): in
# every round one gets it and the others are told it is taken; no client
# sees a server error, and user_emails ends as users.
{
    fresh();
    my ($clients, $rounds) = (6, 12);
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    my %ids = map { ("u$_.acme" => scalar db_query("SELECT id FROM userbulk.users WHERE user_name = 'u$_.acme'")) }
              1 .. $clients;
    # every client's answer of round $r is in: a file each
    my $barrier = sub {
        my ($r, $c) = @_;
        open my $fh, '>', "$dir/done.$r.$c" or die $!;
        close $fh;
        my $until = Time::HiRes::time() + 120;
        while (scalar(my @in = glob("$dir/done.$r.*")) < $clients) {
            die "round $r: the other clients did not answer" if Time::HiRes::time() > $until;
            Time::HiRes::sleep(0.005);
        }
    };
    my @pids;
    for my $c (1 .. $clients) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my @out;
            for my $r (1 .. $rounds) {
                $barrier->($r - 1, $c);
                my $addr = "race$r\@acme.example";
                my ($code, $taken);
                if ($r % 2) {
                    my ($res, $b) = put_records([ { userName => "u$c.acme", email => $addr } ]);
                    $code = $res->code;
                    my ($idx, $all_email) = failed_by_email($b);
                    $taken = @$idx == 1 && $all_email ? 1 : 0;
                } else {
                    my $res = json_request(PATCH => "/scim/v2/Users/$ids{\"u$c.acme\"}", token(),
                        { schemas => [ 'urn:ietf:params:scim:api:messages:2.0:PatchOp' ],
                          Operations => [ { op => 'replace', path => 'emails[type eq "work"].value', value => $addr } ] },
                        [ 'Content-Type' => 'application/scim+json' ]);
                    $code = $res->code;
                    $taken = $code == 409 && (($res->json // {})->{scimType} // '') eq 'uniqueness' ? 1 : 0;
                }
                push @out, "$r $code $taken";
            }
            $barrier->($rounds, $c);
            open my $fh, '>', "$dir/$c" or die $!;
            print $fh join("\n", @out), "\n";
            close $fh;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    waitpid $_, 0 for @pids;
    my (%won, @bad);
    for my $c (1 .. $clients) {
        open my $fh, '<', "$dir/$c" or die "client $c left no answers";
        while (my $line = <$fh>) {
            my ($r, $code, $taken) = split ' ', $line;
            if ($code == 200 && !$taken) { $won{$r}++ }
            elsif (!$taken) { push @bad, "round $r client $c: $code" }
        }
    }
    ok !@bad, 'no client got another answer than the address or "taken"' or diag join "\n", @bad;
    is join(',', map { $won{$_} // 0 } 1 .. $rounds), join(',', (1) x $rounds),
       'in every round exactly one client got the address';
    is db_query(q{SELECT count(*) FROM (SELECT email_lower FROM userbulk.users
                                          GROUP BY 1 HAVING count(*) > 1) d}), 0,
       'no address is held by two users';
    is user_emails_drift(), 0, 'user_emails ends as users: every address once, each with its user';
    reset_demo();
}

# --- migration 005 on addresses that become one once folded ------------------------
{
    my $root = "$FindBin::RealBin/../..";
    my $work = "$root/.run/email-fold-test";
    my $db = 'ub_email_fold_test';
    File::Path::remove_tree($work);
    File::Path::make_path("$work/migrations", "$work/functions");
    File::Copy::copy("$root/src/sql/migrate.sh", "$work/migrate.sh") or die "copy: $!";
    chmod 0755, "$work/migrate.sh";
    for my $m (grep { m{/00[1-4]_[^/]+\.sql$} } glob "$root/src/sql/migrations/*.sql") {
        File::Copy::copy($m, "$work/migrations/") or die "copy: $!";
    }
    for my $f ('privileges.sql', map { s{^.*/}{functions/}r } glob "$root/src/sql/functions/*.sql") {
        open my $fh, '>', "$work/$f" or die $!;
        print $fh "-- (none: the data is loaded with plain SQL)\n";
        close $fh;
    }
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
