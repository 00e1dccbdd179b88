# PostgreSQL going away and coming back (CONTRACT.md, "Both endpoints"):
# while it is away both APIs answer 503 with a JSON body and Retry-After,
# quickly and without applying anything; once it is back they serve again
# by themselves, with no httpd restart.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use Time::HiRes qw(time sleep);
use UserBulk::Test qw(:all);

my $ROOT = "$FindBin::RealBin/../..";
my $PG = "$ROOT/tests/tools/pg.sh";
my $DIR = $ENV{UB_PG_DIR} or die "UB_PG_DIR is not set (run through tests/tools/run-tests.sh)\n";
my $ALICE = '20000000-0000-4000-8000-000000000001';

sub put_alice {
    my ($first) = @_;
    return json_request(PUT => PUT_USERS, token(), [ { userName => 'alice.acme', email => 'alice@acme.example',
                                                        name => { firstName => $first } } ]);
}
sub post_alice { json_request(POST => ACCOUNT_UPDATE, token(), { userId => $ALICE, employeeCode => $_[0] }) }

is put_alice('Before')->code, 200, 'serving before the outage';
my $audit = db_query('SELECT count(*) FROM userbulk.audit');

system($PG, 'stop', $DIR) == 0 or die "cannot stop PostgreSQL\n";

my $t0 = time;
my $res = put_alice('During');
my $took = time - $t0;
is $res->code, 503, 'PUT /users while PostgreSQL is away: 503';
is $res->header('Retry-After'), '5', 'Retry-After';
is $res->json->{code}, 'unavailable', 'JSON body';
like $res->header('X-Trace-Id') // '', qr/^[0-9a-f]{32}$/, 'trace id';
ok $took < 10, sprintf('answered without hanging (%.1f s; connect_timeout bounds it)', $took);

$res = post_alice('DURING');
is $res->code, 503, 'POST while PostgreSQL is away: 503';
is $res->json->{errorType}, 'Unavailable', 'envelope errorType Unavailable';
is $res->json->{messageCode}, 503, 'messageCode 503';
is $res->header('Retry-After'), '5', 'Retry-After';

$res = json_request(PUT => PUT_USERS, token(), '{"not json');
is $res->code, 400, 'a malformed request is still answered 400: it needs no database';

system($PG, 'start', $DIR, $ENV{UB_PG_PORT}, '--ephemeral') == 0 or die "cannot start PostgreSQL\n";

my ($put, $tries) = (undef, 0);
for (1 .. 10) {
    $tries++;
    $put = put_alice('After');
    last if $put->code == 200;
    sleep 0.5;
}
is $put->code, 200, "serving again once PostgreSQL is back ($tries tries, no httpd restart)";
is post_alice('AFTER')->code, 200, 'the POST API too';
# Every pooled connection must serve again, not only a fresh one: the driver
# reconnects old ones in place, without the prepared statements.
my @codes = map { put_alice('After')->code } 1 .. 20;
is_deeply \@codes, [ (200) x 20 ], '20 requests in a row after the outage all 200 (every pooled connection recovered)';
is db_query("SELECT first_name || ' ' || employee_code FROM userbulk.users WHERE id = '$ALICE'"), 'After AFTER',
   'the requests after the outage applied';
is db_query('SELECT count(*) FROM userbulk.audit'), $audit + 2,
   'nothing was applied during the outage (two audit rows: the two requests after it)';

done_testing();
