# httpd started from what make install put in a scratch DESTDIR (issue 6,
# part 1): a minimal server configuration that Includes the installed
# userbulk.load and userbulk.conf, with only what a site must adjust
# changed (the module's path inside DESTDIR, the database, the identity
# provider's JWKS URI, here served by the same httpd), answers PUT /users
# and the POST API for real.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use Cwd qw(realpath);
use File::Path qw(remove_tree);
use JSON::PP ();
use UserBulk::Httpd ();
use UserBulk::Test qw(:all);

my $ROOT = realpath("$FindBin::RealBin/../..");
my $D = "$ROOT/.run/install-httpd-test";
chomp(my $MODDIR = `apxs -q LIBEXECDIR`);
chomp(my $ETC = `apxs -q SYSCONFDIR`);
# The issuer and audience the shipped userbulk.conf names as examples.
my $ISS = 'https://idp.example.com/';
my $AUD = 'userbulk-api';

remove_tree($D);
{
    local $ENV{MAKEFLAGS};
    my ($rc, $out) = capture('make', '--no-print-directory', '-C', $ROOT, 'install', "DESTDIR=$D");
    is $rc, 0, 'make install DESTDIR=...' or diag $out;
}

sub slurp { local $/; open my $fh, '<', $_[0] or die "$_[0]: $!"; return scalar <$fh> }
sub spew { open my $fh, '>', $_[0] or die "$_[0]: $!"; print $fh $_[1]; close $fh or die $! }

# Adjusts TEXT with each [regex, replacement, expected count]; one test per
# substitution, so that a change of the shipped file's shape is seen here.
sub adjust {
    my ($what, $text, @subs) = @_;
    for my $s (@subs) {
        my ($re, $with, $want, $name) = @$s;
        my $n = () = $text =~ /$re/g;
        is $n, $want, "$what: $name ($want line(s))";
        $text =~ s/$re/$with/g;
    }
    return $text;
}

my $h = UserBulk::Httpd->new(name => 'installed', core => 1, modules => [qw(dbd oauth2 authz_host)]);
my $dir = $h->dir;

my $so = "$D$MODDIR/mod_userbulk.so";
my $load = adjust('userbulk.load', slurp("$D$ETC/mods-available/userbulk.load"),
    [ qr{\Q$MODDIR\E/mod_userbulk\.so}, $so, 1, 'module path into DESTDIR' ]);

# The identity provider's JWKS is served by this same httpd (the demo key
# as a key set), so the shipped jwks_uri configuration is what is tested.
(my $jwk = slurp("$ROOT/conf/demo-key.jwk")) =~ s/\s+\z//;
my $jwks_url = $h->url('/.well-known/jwks.json');
my $ci = api_conninfo();    # as the shipped userbulk.conf: the API role
my $conf = adjust('userbulk.conf', slurp("$D$ETC/conf-available/userbulk.conf"),
    [ qr{^DBDParams .*$}m, "DBDParams \"$ci\"", 1, 'DBDParams to the test database' ],
    [ qr{OAuth2TokenVerify jwks_uri \S+}, "OAuth2TokenVerify jwks_uri $jwks_url", 3, 'the JWKS URI to the local key set' ]);

# Written beside the server's own files; the server Includes them as a
# Debian apache2.conf includes mods-enabled/*.load and conf-enabled/*.conf.
my $conf_text = "Include \"$dir-etc/userbulk.load\"\nInclude \"$dir-etc/userbulk.conf\"\n";
remove_tree("$dir-etc");
mkdir "$dir-etc" or die $!;
mkdir "$dir-etc/.well-known" or die $!;
spew("$dir-etc/userbulk.load", $load);
spew("$dir-etc/userbulk.conf", $conf);
spew("$dir-etc/.well-known/jwks.json", qq({"keys":[$jwk]}\n));
$h->set_conf($conf_text . "DocumentRoot \"$dir-etc\"\n<Directory \"$dir-etc\">\n    Require all granted\n</Directory>\n");
my $err = $h->configtest;
ok !defined $err, 'the configuration with the installed files passes apache2 -t' or diag $err;
$h->start;
ok 1, 'httpd started from the installed module and configuration';

my $tok = token(iss => $ISS, aud => $AUD);
my $res = json_request(PUT => $h->url('/users'), $tok,
                       [ { userName => 'erin.acme', email => 'erin@acme.example', name => { firstName => 'Installed' } } ]);
is $res->code, 200, 'PUT /users answers 200 through the installed files' or diag $res->as_string;
is $res->json && $res->json->{successCount}, 1, '... with the result of the record';
like $res->header('X-Trace-Id') // '', qr/^[0-9a-f]{32}$/, '... and a trace id';
is db_query(q{SELECT first_name FROM userbulk.users WHERE user_name = 'erin.acme'}), 'Installed',
   'the change is in the database';

$res = json_request(POST => $h->url('/api/v1/account/users/update'), $tok,
                    { userId => '20000000-0000-4000-8000-000000000005', employeeCode => 'E-INST' },
                    [ 'Content-Type' => 'application/json-patch+json' ]);
is $res->code, 200, 'POST /api/v1/account/users/update answers 200 too' or diag $res->as_string;

$res = json_request(GET => $h->url('/scim/v2/Users?count=1'), $tok);
is $res->code, 200, 'GET /scim/v2/Users answers 200 too' or diag $res->as_string;
is $res->json && $res->json->{itemsPerPage}, 1, '... a page of one';
$res = json_request(GET => $h->url('/scim/v2/Users'), undef);
is $res->code, 401, 'SCIM without a token: 401';
is $res->json && $res->json->{schemas}[0], 'urn:ietf:params:scim:api:messages:2.0:Error',
   '... as a SCIM error, through the installed ErrorDocument';

$res = json_request(PUT => $h->url('/users'), undef, []);
is $res->code, 401, 'no token: 401';
is $res->json && $res->json->{code}, 'unauthorized', '... with the JSON body of the installed ErrorDocument';
like $res->header('WWW-Authenticate') // '', qr/^Bearer\b/, '... and a Bearer challenge';

$res = json_request(PUT => $h->url('/users'), token(iss => $ISS, aud => $AUD, roles => ['viewer']), []);
is $res->code, 403, 'a token without the role: 403';
like $res->header('WWW-Authenticate') // '', qr/insufficient_scope/, '... with an insufficient_scope challenge';

# The shipped configuration checks issuer and audience (mod_oauth2 does not).
$res = json_request(PUT => $h->url('/users'), token(iss => 'https://other.example/', aud => $AUD), []);
is $res->code, 401, 'a token of another issuer: 401';
like $res->header('WWW-Authenticate') // '', qr/issuer or audience/, '... saying why';
$res = json_request(PUT => $h->url('/users'), token(iss => $ISS, aud => 'another-api'), []);
is $res->code, 401, 'a token for another audience: 401';
$res = json_request(POST => $h->url('/api/v1/account/users/update'), token(iss => $ISS, aud => 'another-api'), {});
is $res->code, 401, 'the same on the POST API';
is $res->json && $res->json->{errorType}, 'Unauthorized', '... in the envelope';

my @log = $h->error_log_lines(0);
ok !grep({ /\[[\w:]*(?:emerg|alert|crit)\]/ || /\[dbd:error\]/ } @log), 'no emerg/alert/crit or DBD error in its error log'
    or diag join "\n", @log;

$h->stop;
remove_tree($D, "$dir-etc");
done_testing();
