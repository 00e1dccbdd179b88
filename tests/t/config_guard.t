# Configuration that cannot be bent (issue 12): the directives are refused
# in .htaccess (whoever writes one must not sign the audit trail with a
# name of their choosing), UserBulkMaxBodySize stops at 1 GiB, a request
# whose UserBulkActor evaluates empty is refused (403, in the API's form),
# and a 500 of the handler answers the trace id its log line carries.
# An httpd of its own: it needs a DocumentRoot with AllowOverride All and
# locations the suite's server must not have.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use File::Path qw(make_path remove_tree);
use JSON::PP ();
use UserBulk::Httpd ();
use UserBulk::Test qw(:all);

my $h = UserBulk::Httpd->new(name => 'guard', modules => [qw(dbd oauth2)], userbulk => 1);
my $docroot = $h->dir . '-docroot';
remove_tree($docroot);
make_path("$docroot/forge");
{
    open my $fh, '>', "$docroot/forge/.htaccess" or die $!;
    print $fh qq(UserBulkActor "forged.admin"\n);
    close $fh or die $!;
}
my $account = '"%{reqenv:OAUTH2_CLAIM_account}"';
my $base = "DBDriver pgsql\nDBDParams \"" . db_conninfo() . "\"\n"
         . UserBulk::Httpd::demo_oauth2_include()
         . UserBulk::Httpd::api_locations();

# --- UserBulkMaxBodySize ----------------------------------------------------------
for my $v (2147483648, 1073741825) {
    $h->set_conf($base . "<Location /big>\n SetHandler userbulk-put-users\n UserBulkAccount $account\n"
                 . " UserBulkMaxBodySize $v\n</Location>\n");
    my $err = $h->configtest;
    ok defined $err, "configtest refuses UserBulkMaxBodySize $v";
    like $err // '', qr/UserBulkMaxBodySize: '$v' is not a whole number from 1024 to 1073741824 .*1 GiB/,
         'naming the directive, the range and why';
}
$h->set_conf($base . "<Location /big>\n SetHandler userbulk-put-users\n UserBulkAccount $account\n"
             . " UserBulkMaxBodySize 1073741824\n</Location>\n");
is $h->configtest, undef, 'UserBulkMaxBodySize 1073741824 (1 GiB) is taken';

# --- the server ----------------------------------------------------------------------
$h->set_conf($base . <<"CONF");
DocumentRoot "$docroot"
<Directory "$docroot">
    AllowOverride All
</Directory>
# No UserBulkActor: the default, REMOTE_USER, unless something overrides it.
<Location /forge>
    SetHandler userbulk-put-users
    UserBulkAccount $account
</Location>
<Location /noactor>
    SetHandler userbulk-put-users
    UserBulkAccount $account
    UserBulkActor "%{reqenv:UB_NO_SUCH_CLAIM}"
</Location>
<Location /noactor-post>
    SetHandler userbulk-account-update
    UserBulkAccount $account
    UserBulkActor "%{reqenv:UB_NO_SUCH_CLAIM}"
</Location>
# A handler without UserBulkAccount: the handler's own 500 (UB0002).
<Location /noaccount>
    SetHandler userbulk-put-users
</Location>
<Location /noaccount-post>
    SetHandler userbulk-account-update
    ErrorDocument 500 /userbulk-error/account-update
</Location>
CONF
$h->start;
reset_demo();

my $bob = "SELECT coalesce(first_name, '') || ' v' || version FROM userbulk.users WHERE user_name = 'bob.acme'";
my $batch = [ { userName => 'bob.acme', email => 'bob@acme.example', name => { firstName => 'Forged' } } ];

# --- .htaccess ----------------------------------------------------------------------
{
    my $before = db_query($bob);
    my $mark = $h->error_log_mark;
    my $res = json_request(PUT => $h->url('/forge'), token(), $batch);
    is $res->code, 500, 'UserBulkActor in .htaccess: the request fails (500)';
    ok((grep { /UserBulkActor not allowed here/ } $h->error_log_lines($mark)),
       'the error log says the directive is not allowed there');
    is db_query($bob), $before, 'nothing changed';
    is db_query("SELECT count(*) FROM userbulk.audit_request WHERE actor = 'forged.admin'"), 0,
       'the audit trail holds no forged actor';
}

# --- an empty actor -------------------------------------------------------------------
{
    my $before = db_query($bob);
    my $mark = $h->error_log_mark;
    my $res = json_request(PUT => $h->url('/noactor'), token(), $batch);
    is $res->code, 403, 'UserBulkActor evaluating empty: 403';
    is $res->json->{code}, 'no_actor', 'code no_actor';
    like $res->json->{message}, qr/audit/, 'the message says why';
    is db_query($bob), $before, 'nothing changed';
    my $trace = $res->header('X-Trace-Id') // 'none';
    ok((grep { /UB0010 .*\/noactor.*\[trace \Q$trace\E\]/ } $h->error_log_lines($mark)),
       'UB0010 logged with the trace id answered');

    $res = json_request(POST => $h->url('/noactor-post'), token(),
                        { userId => '20000000-0000-4000-8000-000000000002', isSSOUser => JSON::PP::true() });
    is $res->code, 403, 'the POST API: 403 too';
    ok $res->json->{isError}, 'in its envelope (isError)';
    is $res->json->{traceid}, $res->header('X-Trace-Id'), 'with the trace id';
    is db_query("SELECT is_sso_user::text FROM userbulk.users WHERE user_name = 'bob.acme'"), 'false', 'nothing changed';

    is json_request(PUT => $h->url('/users'), token(), $batch)->code, 200,
       'where UserBulkActor names the caller, the same request applies';
}

# --- the handler's 500 keeps its trace id ----------------------------------------------
for my $how ([ PUT => '/noaccount', $batch ],
             [ POST => '/noaccount-post', { userId => '20000000-0000-4000-8000-000000000002', isSSOUser => JSON::PP::true() } ]) {
    my ($method, $path, $body) = @$how;
    my $mark = $h->error_log_mark;
    my $res = json_request($method => $h->url($path), token(), $body);
    is $res->code, 500, "$path: 500";
    my $trace = $res->header('X-Trace-Id') // 'none';
    my @lines = $h->error_log_lines($mark);
    my ($logged) = map { /UB0002 .*\[trace (\w+)\]/ ? $1 : () } @lines;
    is $logged, $trace, "$path: X-Trace-Id is the trace id of the UB0002 line";
    ok((grep { /UB0101 .*answered 500 .*\[trace \Q$trace\E\]/ } @lines), "$path: and of the error body's UB0101 line");
    is $res->json->{traceid}, $trace, "$path: and the body's traceid" if $method eq 'POST';
}

$h->stop;
remove_tree($docroot);
done_testing();
