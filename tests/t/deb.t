# The Debian package (issue 17, part 1) on this machine, as an admin uses
# it: `make deb` (lintian-clean), `apt-get install ./...deb`, which enables
# nothing; a2enmod/a2enconf and apache2ctl configtest on a scratch copy of
# /etc/apache2 whose userbulk.load and userbulk.conf are the installed files
# (the system's own configuration is never enabled nor started); an httpd
# that Includes those enabled files, after the admin's edit of the
# installed userbulk.conf, serves a request against the test PostgreSQL;
# an upgrade to a rebuilt newer version keeps the edited conffile and
# serves again; the purge leaves /etc/apache2 and /var/lib/apache2 as they
# were, and nothing of the package's files.
#
# Needs root (dpkg) and a machine without the package or a make install'd
# copy: it refuses to run otherwise rather than overwrite them.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use Cwd qw(realpath);
use Digest::SHA ();
use File::Copy qw(copy);
use File::Find qw(find);
use File::Path qw(make_path remove_tree);
use UserBulk::Httpd ();
use UserBulk::Test qw(:all);

my $ROOT = realpath("$FindBin::RealBin/../..");
my $D = "$ROOT/.run/deb-test";
my $PKG = 'libapache2-mod-userbulk';
my $ETC = '/etc/apache2';
my $MARK = "$ROOT/.run/deb-test.installed";    # the package is ours to purge
my $ISS = 'https://idp.example.com/';            # as the shipped userbulk.conf names them
my $AUD = 'userbulk-api';

sub slurp { local $/; open my $fh, '<', $_[0] or die "$_[0]: $!"; return scalar <$fh> }
sub spew { open my $fh, '>', $_[0] or die "$_[0]: $!"; print $fh $_[1]; close $fh or die $! }
# dpkg's status letters (ii: installed), '' when dpkg knows nothing of it.
sub pkg_status { my ($rc, $s) = capture('dpkg-query', '-W', '-f=${db:Status-Abbrev}', $PKG); return $rc ? '' : $s =~ s/\s+$//r }
sub pkg_version { my ($rc, $v) = capture('dpkg-query', '-W', '-f=${Version}', $PKG); return $rc ? '' : $v }

# What the machine's apache2 configuration and state are: every file
# (content digest) and symlink (target) under them.
sub snapshot {
    my %s;
    for my $top ($ETC, '/var/lib/apache2') {
        next unless -d $top;
        find({ no_chdir => 1, wanted => sub {
            if (-l $_) { $s{$_} = 'link ' . readlink($_) }
            elsif (-f $_) { $s{$_} = 'file ' . Digest::SHA->new(256)->addfile($_)->hexdigest }
            elsif (-d $_) { $s{$_} = 'dir' }
        } }, $top);
    }
    return \%s;
}

# apt-get (apt's interface for scripts; `apt install ./x.deb` does the
# same), waiting for a dpkg lock another apt run holds.
sub apt {
    local $ENV{DEBIAN_FRONTEND} = 'noninteractive';
    return capture('apt-get', '-y', '-o', 'DPkg::Lock::Timeout=120', '--no-install-recommends', @_);
}

sub purge {
    my ($rc, $out) = apt('purge', $PKG);
    unlink $MARK if $rc == 0;
    return ($rc, $out);
}

die "t/deb.t installs a package: it needs root\n" if $> != 0;
if (-e $MARK && pkg_status() ne '') {
    my ($rc, $out) = purge();    # left by a run that was killed
    die "cannot purge the $PKG an earlier run left:\n$out" if $rc;
}
die "$PKG is installed on this machine (" . pkg_status() . "): t/deb.t would replace it; apt purge it first\n"
    if pkg_status() =~ /^.[ifhuWt]/;
for my $f ('/usr/lib/apache2/modules/mod_userbulk.so', '/usr/share/userbulk',
           "$ETC/mods-available/userbulk.load", "$ETC/conf-available/userbulk.conf") {
    die "$f exists (make install?): t/deb.t would overwrite it; make uninstall first\n" if -e $f;
}

my @cleanup;
END { local $?; $_->() for reverse @cleanup }
remove_tree($D);
make_path($D);
my $before = snapshot();

# --- make deb ---------------------------------------------------------------------
sub build {
    my (%env) = @_;
    local @ENV{ keys %env } = values %env;
    local $ENV{MAKEFLAGS};
    my ($rc, $out) = capture("$ROOT/tools/deb.sh", $env{VERSION} // ());
    my ($deb) = $out =~ m{^(/\S+\.deb)$}m;
    return ($rc, $out, $deb);
}
my ($rc, $out, $deb1) = build(UB_DEB_NOCHECK => 1);
is $rc, 0, 'make deb builds the package, lintian finds no error or warning' or diag $out;
chomp(my $arch = `dpkg --print-architecture`);
chomp(my $v1 = `cd $ROOT && dpkg-parsechangelog -S Version`);
is $deb1 && $deb1 =~ s{.*/}{}r, "${PKG}_${v1}_$arch.deb", "named ${PKG}_<version>_<arch>.deb ($v1, $arch)";
copy($deb1, "$D/v1.deb") or die "$deb1: $!";
# The upgrade: the same tree as a newer version.
my $v2 = "$v1+upgrade1";
($rc, $out, my $deb2) = build(UB_DEB_NOCHECK => 1, UB_DEB_NO_LINTIAN => 1, VERSION => $v2);
is $rc, 0, "make deb VERSION=$v2 builds the newer version" or diag $out;
copy($deb2, "$D/v2.deb") or die "$deb2: $!";

# --- apt install --------------------------------------------------------------------
spew($MARK, "$$\n");
push @cleanup, sub { purge() if -e $MARK };
($rc, $out) = apt('install', "$D/v1.deb");
is $rc, 0, 'apt-get install ./...deb succeeds' or diag $out;
is pkg_status(), 'ii', '... the package is installed';
like $out, qr/nothing enabled\. Next:.*migrate\.sh.*a2enmod userbulk.*a2enconf userbulk.*configtest/s,
     'postinst says what to do next';

my (undef, $list) = capture('dpkg', '-L', $PKG);
my %files = map { $_ => 1 } grep { -f $_ && !-l $_ } split /\n/, $list;
my @sql = map { s{^\Q$ROOT\E/src/}{/usr/share/userbulk/}r }
          glob("$ROOT/src/sql/*.sql $ROOT/src/sql/migrate.sh $ROOT/src/sql/migrations/*.sql $ROOT/src/sql/functions/*.sql");
my @missing = grep { !$files{$_} } '/usr/lib/apache2/modules/mod_userbulk.so', "$ETC/mods-available/userbulk.load",
    "$ETC/conf-available/userbulk.conf", '/usr/share/userbulk/openapi.json', @sql;
ok !@missing, 'it installs the module, userbulk.load, userbulk.conf, openapi.json, migrate.sh and every SQL file of src/sql'
    or diag "missing: @missing";
ok -x '/usr/share/userbulk/sql/migrate.sh', 'migrate.sh is executable';
like slurp("$ETC/mods-available/userbulk.load"), qr{^LoadModule userbulk_module /usr/lib/apache2/modules/mod_userbulk\.so$}m,
     'userbulk.load loads the installed module';
my (undef, $conffiles) = capture('dpkg-query', '-W', '-f=${Conffiles}', $PKG);
like $conffiles, qr{^ \Q$ETC\E/conf-available/userbulk\.conf [0-9a-f]{32}$}m, 'userbulk.conf is a conffile';
like $conffiles, qr{^ \Q$ETC\E/mods-available/userbulk\.load [0-9a-f]{32}$}m, 'userbulk.load is a conffile';
ok !-e "$ETC/mods-enabled/userbulk.load" && !-e "$ETC/conf-enabled/userbulk.conf"
   && (!-e "$ETC/mods-enabled/dbd.load" || $before->{"$ETC/mods-enabled/dbd.load"}),
   'installing enabled nothing (no userbulk or dbd in mods-enabled, conf-enabled)';

# --- a2enmod / a2enconf / apache2ctl configtest on a copy of /etc/apache2 ---------
# The copy's userbulk.load and userbulk.conf are symlinks to the installed
# files: what a2enmod enables there is what the package installed.
my $CONF = "$D/etc-apache2";
($rc, $out) = capture('cp', '-a', $ETC, $CONF);
is $rc, 0, 'a scratch copy of /etc/apache2' or diag $out;
for my $f ('mods-available/userbulk.load', 'conf-available/userbulk.conf') {
    unlink "$CONF/$f";
    symlink "$ETC/$f", "$CONF/$f" or die "$CONF/$f: $!";
}
{
    local $ENV{APACHE_CONFDIR} = $CONF;
    local $ENV{APACHE_STATE_DIRECTORY} = "$D/state";
    make_path("$D/state");
    ($rc, $out) = capture('a2enmod', 'userbulk', 'oauth2', 'rewrite', 'headers');
    is $rc, 0, 'a2enmod userbulk oauth2 rewrite headers' or diag $out;
    is readlink("$CONF/mods-enabled/userbulk.load"), '../mods-available/userbulk.load', '... enabled userbulk.load';
    ok -l "$CONF/mods-enabled/dbd.load", '... and mod_dbd with it (# Depends: dbd)';
    ($rc, $out) = capture('a2enconf', 'userbulk');
    is $rc, 0, 'a2enconf userbulk' or diag $out;
    is readlink("$CONF/conf-enabled/userbulk.conf"), '../conf-available/userbulk.conf', '... enabled userbulk.conf';
    # In a namespace without network when possible: nothing is fetched at start.
    my @isolate = system('unshare -n true >/dev/null 2>&1') == 0 ? ('unshare', '-n') : ();
    ($rc, $out) = capture(@isolate, 'apache2ctl', 'configtest');
    is $rc, 0, 'apache2ctl configtest: the Debian configuration with the package enabled, as shipped' or diag $out;
}

# --- the admin's edit, and a request served from the installed files ----------------
my $h = UserBulk::Httpd->new(name => 'deb', core => 1, modules => [qw(authz_host)]);
push @cleanup, sub { $h->stop };
my $dir = $h->dir;
my $www = "$D/www";
make_path("$www/.well-known");
(my $jwk = slurp("$ROOT/conf/demo-key.jwk")) =~ s/\s+\z//;
spew("$www/.well-known/jwks.json", qq({"keys":[$jwk]}\n));

# The edit a site makes: its database and its identity provider's key set.
my $installed_conf = "$ETC/conf-available/userbulk.conf";
my $edited = slurp($installed_conf);
my $ci = api_conninfo();
my $jwks_url = $h->url('/.well-known/jwks.json');
is(($edited =~ s{^DBDParams .*$}{DBDParams "$ci"}mg), 1, 'edit userbulk.conf: DBDParams to the test database');
is(($edited =~ s{OAuth2TokenVerify jwks_uri \S+}{OAuth2TokenVerify jwks_uri $jwks_url}g), 3,
   'edit userbulk.conf: the JWKS URI to the local key set (3 lines)');
$edited .= "# edited by the admin (t/deb.t)\n";
spew($installed_conf, $edited);

# The server Includes what a2enmod/a2enconf enabled in the copy (mod_dbd
# among them), as Debian's apache2.conf includes mods-enabled/*.load.
$h->set_conf(join "\n",
    (map { "Include \"$CONF/mods-enabled/$_.load\"" } qw(dbd oauth2 userbulk)),
    "Include \"$CONF/conf-enabled/userbulk.conf\"",
    "DocumentRoot \"$www\"", "<Directory \"$www\">", "    Require all granted", "</Directory>", "");

sub serves {
    my ($what, $name) = @_;
    my $err = $h->configtest;
    ok !defined $err, "$what: the configuration passes apache2 -t" or diag $err;
    $h->start;
    my $res = json_request(PUT => $h->url('/users'), token(iss => $ISS, aud => $AUD),
                           [ { userName => 'erin.acme', email => 'erin@acme.example', name => { firstName => $name } } ]);
    is $res->code, 200, "$what: PUT /users answers 200 through the installed module and conf" or diag $res->as_string;
    is db_query(q{SELECT first_name FROM userbulk.users WHERE user_name = 'erin.acme'}), $name, "$what: the change is in the database";
    $res = json_request(GET => $h->url('/scim/v2/Users?count=1'), token(iss => $ISS, aud => $AUD));
    is $res->code, 200, "$what: GET /scim/v2/Users answers 200" or diag $res->as_string;
    $h->stop;
}
serves("version $v1", 'Debian-v1');

# --- upgrade to the rebuilt newer version -------------------------------------------
($rc, $out) = apt('install', "$D/v2.deb");
is $rc, 0, "apt-get install ./...deb of $v2: the upgrade succeeds" or diag $out;
is pkg_version(), $v2, "... version $v2 is installed";
like $out, qr/upgraded\. Apply the new schema.*migrate\.sh/s, '... postinst says to run migrate.sh and restart';
is slurp($installed_conf), $edited, 'the edited userbulk.conf is kept';
ok !glob("$ETC/conf-available/userbulk.conf.dpkg-*"), '... without a .dpkg-dist or .dpkg-new beside it';
ok !-e "$ETC/mods-enabled/userbulk.load", '... and the upgrade enabled nothing either';
serves("version $v2", 'Debian-v2');

# --- purge ---------------------------------------------------------------------------
(undef, $list) = capture('dpkg', '-L', $PKG);
my @owned = grep { -f $_ || -l $_ } split /\n/, $list;
($rc, $out) = purge();
is $rc, 0, 'apt-get purge succeeds' or diag $out;
is pkg_status(), '', '... the package is gone from dpkg\'s database';
my @left = grep { -e $_ || -l $_ } @owned, '/usr/share/userbulk', "/usr/share/doc/$PKG", $installed_conf;
ok !@left, 'nothing of its files is left (the edited conffile neither)' or diag "left: @left";
my $after = snapshot();
my @changed = grep { ($before->{$_} // '') ne ($after->{$_} // '') } sort keys %{ { %$before, %$after } };
ok !@changed, '/etc/apache2 and /var/lib/apache2 are as they were before the test'
    or diag "changed: @changed";

$_->() for reverse splice @cleanup;
remove_tree($D) if Test::More->builder->is_passing;
done_testing();
