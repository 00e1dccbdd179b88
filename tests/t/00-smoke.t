# The test bed itself: httpd is up with our modules and configuration, the
# test database is reachable and migrated, tokens minted with the demo key
# pass mod_oauth2, and everything else needs one.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use UserBulk::Test qw(:all);

plan tests => 12;

# need_module() would skip this file silently when a module is missing:
# assert instead, so a broken setup fails.
ok(Apache::Test::have_module('mod_userbulk.c'), 'mod_userbulk is loaded');
ok(Apache::Test::have_module('mod_oauth2.c'), 'mod_oauth2 is loaded');
ok(Apache::Test::have_module('mod_dbd.c'), 'mod_dbd is loaded');

is(db_query('SELECT current_user'), 'userbulk', 'the test database answers as role userbulk');
cmp_ok(db_query(q{SELECT count(*) FROM pg_tables
                  WHERE schemaname NOT IN ('pg_catalog', 'information_schema')}),
       '>', 0, 'the schema is migrated');

{
    my $res = json_request(GET => '/userbulk-smoke-no-such-page', undef);
    is($res->code, 401, 'everything needs a token (deny by default)');
    like($res->header('WWW-Authenticate') // '', qr/^Bearer\b/, '... with a Bearer challenge');
}
{
    my $res = json_request(GET => '/userbulk-smoke-no-such-page', token());
    is($res->code, 404, 'a demo-key token passes mod_oauth2 (404, not 401/403)');
}
{
    my $res = json_request(PUT => PUT_USERS, undef, []);
    is($res->code, 401, 'PUT /users without a token: 401');
}
{
    my $res = json_request(POST => ACCOUNT_UPDATE, undef, {});
    is($res->code, 401, 'POST /api/v1/account/users/update without a token: 401');
}

my @log = error_log_lines();
my @bad = grep { /\[[\w:]*(?:emerg|alert|crit)\]/ || /AH00111/ } @log;
ok(!@bad, 'no emerg/alert/crit lines and no undefined ${VARIABLES} in the error log')
    or diag(join "\n", @bad);
my @dbd = grep { /\[dbd:(?:error|crit|alert|emerg)\]/ } @log;
ok(!@dbd, 'mod_dbd connected to PostgreSQL') or diag(join "\n", @dbd);
