# make install / make uninstall (issue 6, part 1), into a scratch DESTDIR:
# the module in apxs' LIBEXECDIR, userbulk.load and userbulk.conf where
# Debian's a2enmod and a2enconf find them (and they do), the SQL,
# migrate.sh and the OpenAPI document under the share directory, nothing
# else; an edited userbulk.conf survives both; uninstall removes the rest.
# t/install_httpd.t starts an httpd from the installed files.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use Cwd qw(realpath);
use File::Compare qw(compare);
use File::Copy qw(copy);
use File::Find qw(find);
use File::Path qw(make_path remove_tree);
use JSON::PP ();
use UserBulk::Test qw(:all);
use UserBulk::Httpd ();

my $ROOT = realpath("$FindBin::RealBin/../..");
my $D = "$ROOT/.run/install-test";
chomp(my $MODDIR = `apxs -q LIBEXECDIR`);
chomp(my $ETC = `apxs -q SYSCONFDIR`);
my $SHARE = '/usr/share/userbulk';
ok $MODDIR && $ETC, "apxs answers LIBEXECDIR ($MODDIR) and SYSCONFDIR ($ETC)";

sub make_in {
    local $ENV{MAKEFLAGS};
    return capture('make', '--no-print-directory', '-C', $ROOT, @_, "DESTDIR=$D");
}

# Every file and symlink under DESTDIR, relative to it.
sub tree {
    my @f;
    find({ no_chdir => 1, wanted => sub { push @f, substr($_, length $D) if -f $_ || -l $_ } }, $D) if -d $D;
    return [ sort @f ];
}

remove_tree($D);
my ($rc, $out) = make_in('install');
is $rc, 0, 'make install DESTDIR=... succeeds' or diag $out;

my @migrations = map { s{^.*/}{}r } sort glob "$ROOT/src/sql/migrations/*.sql";
my @sql = map { s{^.*/}{}r } sort glob "$ROOT/src/sql/*.sql";
my @functions = map { s{^.*/}{}r } sort glob "$ROOT/src/sql/functions/*.sql";
my @expected = sort(
    "$MODDIR/mod_userbulk.so",
    "$ETC/mods-available/userbulk.load",
    "$ETC/conf-available/userbulk.conf",
    "$SHARE/openapi.json",
    "$SHARE/sql/migrate.sh",
    (map { "$SHARE/sql/$_" } @sql),
    (map { "$SHARE/sql/migrations/$_" } @migrations),
    (map { "$SHARE/sql/functions/$_" } @functions),
);
is_deeply tree(), \@expected, 'installs exactly the module, .load, .conf, SQL, migrate.sh and openapi.json';

my $so = "$D$MODDIR/mod_userbulk.so";
is compare($so, "$ROOT/.build/mod_userbulk.so"), 0, 'the module is the one built';
is sprintf('%o', (stat $so)[2] & 07777), '644', 'the module is mode 644';
is sprintf('%o', (stat "$D$SHARE/sql/migrate.sh")[2] & 07777), '755', 'migrate.sh is executable';

my $load = do { local $/; open my $fh, '<', "$D$ETC/mods-available/userbulk.load" or die $!; <$fh> };
like $load, qr{^LoadModule userbulk_module \Q$MODDIR\E/mod_userbulk\.so$}m,
    'userbulk.load names the module where it was installed (without DESTDIR)';
like $load, qr{^# Depends: dbd$}m, 'userbulk.load declares its dependency on mod_dbd for a2enmod';
is compare("$D$ETC/conf-available/userbulk.conf", "$ROOT/conf/userbulk.conf"), 0,
   'userbulk.conf is the annotated reference';
for my $f (@sql, (map { "migrations/$_" } @migrations), map { "functions/$_" } @functions) {
    is compare("$D$SHARE/sql/$f", "$ROOT/src/sql/$f"), 0, "sql/$f installed";
}
{
    my $doc = eval {
        local $/;
        open my $fh, '<', "$D$SHARE/openapi.json" or die $!;
        JSON::PP->new->decode(<$fh>);
    };
    like $doc && $doc->{openapi}, qr/^3\.1\./, 'openapi.json is an OpenAPI 3.1 document';
}

# --- a2enmod / a2enconf find them ---------------------------------------------
# Debian's tools work on another configuration directory through
# APACHE_CONFDIR; mod_dbd's .load comes from the system's apache2 package.
{
    # apache2 (make deps) brings a2enmod: without it this is a failure, not a skip.
    die "a2enmod is not installed (make deps installs apache2)\n"
        unless -x '/usr/sbin/a2enmod' && -f "$ETC/mods-available/dbd.load";
    # What Debian's apache2 package provides around our files.
    copy("$ETC/mods-available/dbd.load", "$D$ETC/mods-available/dbd.load") or die $!;
    make_path("$D$ETC/mods-enabled", "$D$ETC/conf-enabled");
    local $ENV{APACHE_CONFDIR} = "$D$ETC";
    local $ENV{APACHE_ENVVARS} = "$D/no-envvars";
    local $ENV{APACHE_STATE_DIRECTORY} = "$D/var/lib/apache2";
    ($rc, $out) = capture('/usr/sbin/a2enmod', 'userbulk');
    is $rc, 0, 'a2enmod userbulk succeeds' or diag $out;
    is readlink("$D$ETC/mods-enabled/userbulk.load"), '../mods-available/userbulk.load',
       'a2enmod enabled userbulk.load';
    is readlink("$D$ETC/mods-enabled/dbd.load"), '../mods-available/dbd.load',
       'a2enmod enabled mod_dbd, its dependency';
    ($rc, $out) = capture('/usr/sbin/a2enconf', 'userbulk');
    is $rc, 0, 'a2enconf userbulk succeeds' or diag $out;
    is readlink("$D$ETC/conf-enabled/userbulk.conf"), '../conf-available/userbulk.conf',
       'a2enconf enabled userbulk.conf';
    ok -f "$D/var/lib/apache2/module/enabled_by_admin/userbulk", 'a2enmod kept its state inside DESTDIR';
}

# The shipped configuration loads as it is, with the modules it names
# (in a namespace without network: nothing may be fetched at start).
{
    # Without a network namespace (unshare -n refused) the check still runs,
    # only without the guarantee that nothing is fetched.
    my @isolate = system('unshare -n true >/dev/null 2>&1') == 0 ? ('unshare', '-n') : ();
    my $conf = "$D/configtest.conf";
    open my $fh, '>', $conf or die $!;
    print $fh join "\n",
        "ServerRoot $D", "ServerName localhost", "Listen 127.0.0.1:" . UserBulk::Httpd::free_port(),
        "PidFile $D/configtest.pid", "ErrorLog $D/configtest.log", "DefaultRuntimeDir $D",
        (map { "LoadModule ${_}_module $MODDIR/mod_$_.so" }
             qw(mpm_event authz_core authn_core headers rewrite dbd oauth2)),
        "Include $D$ETC/mods-enabled/userbulk.load", "Include $D$ETC/conf-enabled/userbulk.conf", '';
    close $fh;
    # The .load names the module's final place; point it into DESTDIR.
    my $txt = do { local $/; open my $l, '<', $conf or die; <$l> };
    (my $load_copy = $load) =~ s{\Q$MODDIR\E/mod_userbulk\.so}{$so};
    open my $l2, '>', "$D/userbulk-destdir.load" or die $!;
    print $l2 $load_copy;
    close $l2;
    $txt =~ s{Include \Q$D$ETC\E/mods-enabled/userbulk\.load}{Include $D/userbulk-destdir.load};
    open my $w, '>', $conf or die $!;
    print $w $txt;
    close $w;
    ($rc, $out) = capture(@isolate, '/usr/sbin/apache2', '-f', $conf, '-t');
    is $rc, 0, 'the installed userbulk.conf passes apache2 -t as shipped (mod_oauth2, rewrite, headers, dbd)'
        or diag $out;
    unlink $conf, "$D/userbulk-destdir.load", "$D/configtest.log";
}

# --- the installed migrate.sh works from where it was installed -----------------
{
    my $db = 'ub_install_test';
    db_query_on(admin_conninfo(), "DROP DATABASE IF EXISTS $db");
    db_query_on(admin_conninfo(), "CREATE DATABASE $db OWNER userbulk TEMPLATE template0");
    (my $ci = db_conninfo()) =~ s/dbname=\S+/dbname=$db/;
    ($rc, $out) = capture("$D$SHARE/sql/migrate.sh", $ci);
    is $rc, 0, 'the installed migrate.sh creates the schema' or diag $out;
    my ($latest) = $migrations[-1] =~ /^(\d+)/;
    is db_query_on($ci, 'SELECT max(version) FROM userbulk.schema_version'), $latest + 0,
       'at the newest version';
    db_query_on(admin_conninfo(), "DROP DATABASE $db");
}

# --- an edited userbulk.conf is the admin's -------------------------------------
my $conf = "$D$ETC/conf-available/userbulk.conf";
{
    open my $fh, '>>', $conf or die $!;
    print $fh "# edited by the admin\n";
}
my $edited = do { local $/; open my $fh, '<', $conf or die $!; <$fh> };
($rc, $out) = make_in('install');
is $rc, 0, 'make install again succeeds' or diag $out;
is do { local $/; open my $fh, '<', $conf or die $!; <$fh> }, $edited, 'an edited userbulk.conf is not overwritten';
is compare("$conf.dist", "$ROOT/conf/userbulk.conf"), 0, '... the shipped one goes beside it as userbulk.conf.dist';
like $out, qr/was edited: kept it/, '... and make install says so';

# --- make uninstall ------------------------------------------------------------------
($rc, $out) = make_in('uninstall');
is $rc, 0, 'make uninstall succeeds' or diag $out;
my @left = grep { !m{/dbd\.load$} && !m{^/var/lib/apache2/} } @{ tree() };
is_deeply \@left, [ "$ETC/conf-available/userbulk.conf" ],
    'uninstall removes the module, .load, .dist, SQL, OpenAPI and the enabled symlinks; keeps the edited conf';
ok !-l "$D$ETC/mods-enabled/userbulk.load" && !-l "$D$ETC/conf-enabled/userbulk.conf",
   'no symlink left pointing at a removed file';
ok !-e "$D$SHARE", 'the share directory is gone';
like $out, qr/kept the edited/, 'uninstall says it kept the edited conf';

# Without the edit, the conf goes too.
copy("$ROOT/conf/userbulk.conf", $conf) or die $!;
($rc, $out) = make_in('uninstall');
is $rc, 0, 'make uninstall again succeeds' or diag $out;
ok !-e $conf, 'an unedited userbulk.conf is removed';

remove_tree($D);
done_testing();
