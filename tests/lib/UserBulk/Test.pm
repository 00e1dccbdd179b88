package UserBulk::Test;

# Helpers shared by the Apache::Test files in tests/t/.
#
#   use FindBin; use lib "$FindBin::RealBin/../lib";
#   use Apache::Test qw(-withtestmore);
#   use UserBulk::Test qw(:all);
#
#   my $res = json_request(PUT => '/users', token(), [ { userName => 'x' } ]);
#   is $res->code, 200;  my $body = $res->json;
#   my $n = db_query("SELECT count(*) FROM ...");       # first column of row 1
#   my @rows = db_query("SELECT a, b FROM ...");         # list of array refs
#   my $mark = error_log_mark();  ...;  my @lines = error_log_lines($mark);
#
# token(%claims) mints a token signed with the demo key (UserBulk::Token;
# defaults: sub alice, account acme, roles [userbulk.admin], valid 1 h).

use strict;
use warnings;

use Apache::TestRequest ();
use Apache::Test ();
use Exporter 'import';
use File::Basename qw(dirname);
use File::Spec ();
use File::Spec::Functions qw(catfile);
use HTTP::Request ();
use JSON::PP ();
use UserBulk::Token qw(mint_token ISSUER AUDIENCE);

our @EXPORT_OK = qw(token json_request raw_request decode_json_body encode_json
                    db_query db_query_on db_conninfo api_conninfo admin_conninfo pg_bin
                    reset_demo capture error_log_file error_log_mark
                    error_log_lines role_ids_drift audit_chain_drift user_emails_drift ISSUER AUDIENCE
                    ADMIN_ROLE PUT_USERS ACCOUNT_UPDATE);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

use constant ADMIN_ROLE     => 'userbulk.admin';
use constant PUT_USERS      => '/users';
use constant ACCOUNT_UPDATE => '/api/v1/account/users/update';

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;

sub token { return mint_token(@_) }

sub encode_json { return $JSON->encode($_[0]) }

# Decodes a response body as JSON; undef (and no exception) when it is not.
sub decode_json_body {
    my ($res) = @_;
    my $body = $res->content;
    return undef unless defined $body && length $body;
    my $data = eval { $JSON->decode($body) };
    return $data;
}

my $UA;

sub _ua {
    return $UA if $UA;
    $UA = Apache::TestRequest::user_agent(reset => 1, keep_alive => 0);
    $UA->requests_redirectable([]);    # show redirects, never follow them
    $UA->timeout(60);
    return $UA;
}

# raw_request(METHOD, PATH, HEADERS (array ref of pairs), BODY (bytes))
sub raw_request {
    my ($method, $path, $headers, $body) = @_;
    my $url = Apache::TestRequest::resolve_url($path);
    my $req = HTTP::Request->new($method => $url, $headers // [], $body);
    $req->header('Content-Length' => length($body // '')) if defined $body;
    my $res = _ua()->request($req);
    record_response($req, $res);
    return bless $res, 'UserBulk::Test::Response';
}

# Every response the suite receives is appended to tests/t/logs/
# responses.jsonl (one JSON object a line), so that t/zz-openapi.t can check
# them all against conf/openapi.json. tests/TEST empties it at each run.
my $RESPONSES = File::Spec->catfile(dirname(__FILE__), ('..') x 2, 't', 'logs', 'responses.jsonl');
my $RECORD_JSON = JSON::PP->new->ascii->canonical;

sub responses_file { return $RESPONSES }

sub record_response {
    my ($req, $res) = @_;
    return if $ENV{UB_NO_RECORD};
    my %h;
    $res->headers->scan(sub { my ($k, $v) = @_; $h{ lc $k } //= $v });
    my $line = $RECORD_JSON->encode({
        test    => File::Basename::basename($0),
        method  => $req->method,
        path    => $req->uri->path,
        request => { 'content-type' => scalar $req->header('Content-Type'),
                     accept         => scalar $req->header('Accept') },
        status  => $res->code + 0,
        headers => \%h,
        body    => $res->content // '',
    });
    open my $fh, '>>', $RESPONSES or return;
    flock $fh, 2;
    print $fh $line, "\n";
    close $fh;
}

# json_request(METHOD, PATH, TOKEN, BODY, HEADERS)
#   TOKEN: a JWT, or undef for none.
#   BODY: a Perl structure (sent as JSON), a string (sent as is), or undef.
#   HEADERS: hash or array ref of extra headers; Content-Type defaults to
#   application/json when there is a body.
sub json_request {
    my ($method, $path, $token, $body, $headers) = @_;
    my @h = ref $headers eq 'HASH' ? %$headers : @{ $headers // [] };
    my %has;
    for (my $i = 0; $i < @h; $i += 2) { $has{ lc $h[$i] } = 1 }
    push @h, Authorization => "Bearer $token" if defined $token && !$has{authorization};
    my $content;
    if (defined $body) {
        $content = ref $body ? $JSON->encode($body) : $body;
        push @h, 'Content-Type' => 'application/json' unless $has{'content-type'};
    }
    push @h, Accept => 'application/json' unless $has{accept};
    return raw_request($method, $path, \@h, $content);
}

# ---------------------------------------------------------------------------
# The test database (started by tests/tools/run-tests.sh).

sub db_conninfo {
    my ($sock, $port) = @ENV{qw(UB_PG_SOCKET UB_PG_PORT)};
    die "UB_PG_SOCKET/UB_PG_PORT are not set (run through tests/tools/run-tests.sh)\n"
        unless $sock && $port;
    return "host=$sock port=$port dbname=userbulk user=userbulk connect_timeout=3";
}

# The same as the API role, the one httpd connects as (it may only call the
# API's functions: src/sql/privileges.sql).
sub api_conninfo {
    (my $ci = db_conninfo()) =~ s/ user=userbulk / user=userbulk_api /;
    return $ci;
}

# The superuser of the test cluster, into database DB (default postgres).
sub admin_conninfo {
    my ($db) = @_;
    my ($sock, $port) = @ENV{qw(UB_PG_SOCKET UB_PG_PORT)};
    die "UB_PG_SOCKET/UB_PG_PORT are not set (run through tests/tools/run-tests.sh)\n"
        unless $sock && $port;
    return "host=$sock port=$port dbname=" . ($db // 'postgres') . " user=postgres connect_timeout=3";
}

# A PostgreSQL program of the newest installed server version (psql,
# pg_dump, pg_basebackup, pg_ctl, ...).
sub pg_bin {
    my ($name) = @_;
    return $ENV{UB_PSQL} if $name eq 'psql' && $ENV{UB_PSQL};
    my ($bin) = sort { $b cmp $a } glob "/usr/lib/postgresql/*/bin/$name";
    return $bin // $name;
}

sub _psql { return pg_bin('psql') }

# Runs SQL as the application's role. In list context returns the rows as
# array refs (NULL as undef); in scalar context the first column of the first
# row. Dies with psql's message when the statement fails.
sub db_query { return db_query_on(db_conninfo(), @_) }

# How many users' role_ids (migration 017) differ from their links in
# user_roles: 0 after any writer, whatever it did.
sub role_ids_drift {
    return db_query(q{SELECT count(*) FROM userbulk.users u
                       WHERE u.role_ids IS DISTINCT FROM ARRAY(SELECT ur.role_id FROM userbulk.user_roles ur
                                                                WHERE ur.user_id = u.id ORDER BY ur.role_id)});
}

# How many users lack their entry in user_emails (migration 023), or have
# another, plus the entries that name no user or not its address: 0 after
# any writer, whatever it did. On the database of conninfo CI, or the
# test database's.
sub user_emails_drift {
    my ($ci) = @_;
    return db_query_on($ci // db_conninfo(),
                       q{SELECT count(*) FROM userbulk.users u
                           FULL JOIN userbulk.user_emails e
                             ON e.user_id = u.id AND e.account_id = u.account_id AND e.email_lower = u.email_lower
                          WHERE u.id IS NULL OR e.user_id IS NULL});
}

# How many users' histories (migration 018) are not one chain: walking
# back from the head on the user's row (last_change) through each row's
# prev_request must reach every audit row of the user, and only those.
# 0 after any writer, whatever it did: a writer that left the head or a
# link out breaks the walk.
sub audit_chain_drift {
    return db_query(q{WITH RECURSIVE h AS (
                          SELECT c.user_id, c.request_id, c.prev_request
                            FROM userbulk.users u
                            JOIN userbulk.audit_change c
                              ON c.request_id = u.last_change AND c.user_id = u.id
                             AND c.account_id = u.account_id
                          UNION ALL
                          SELECT c.user_id, c.request_id, c.prev_request
                            FROM h JOIN userbulk.audit_change c
                              ON c.request_id = h.prev_request AND c.user_id = h.user_id)
                      SELECT count(*) FROM userbulk.users u
                        LEFT JOIN (SELECT h.user_id, count(*) AS n FROM h GROUP BY h.user_id) w
                               ON w.user_id = u.id
                        LEFT JOIN (SELECT c.user_id, count(*) AS n FROM userbulk.audit_change c
                                    GROUP BY c.user_id) a ON a.user_id = u.id
                       WHERE coalesce(w.n, 0) <> coalesce(a.n, 0)});
}

# The same against any database: db_query_on(CONNINFO, SQL).
sub db_query_on {
    my ($conninfo, $sql) = @_;
    my $sep = "\x1f";
    my @cmd = (_psql(), '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
               '-P', 'null=\\N', '-F', $sep, '-d', $conninfo, '-c', $sql);
    my $pid = open(my $out, '-|') // die "cannot fork: $!\n";
    if (!$pid) {
        open STDERR, '>&', \*STDOUT or die;
        exec @cmd or die "cannot run $cmd[0]: $!\n";
    }
    my @lines = <$out>;
    close $out;
    die "db_query failed ($sql): @lines" if $?;
    chomp @lines;
    my @rows = map { [ map { $_ eq '\\N' ? undef : $_ } split /\Q$sep\E/, $_, -1 ] } @lines;
    return wantarray ? @rows : (@rows ? $rows[0][0] : undef);
}

# Puts both demo accounts back as src/sql/demo.sql has them (their users'
# changes and audit rows dropped), so that a test file starts from a known
# directory.
sub reset_demo {
    my $file = File::Spec->catfile(dirname(__FILE__), (File::Spec->updir) x 3,
                                   'src', 'sql', 'demo.sql');
    open my $fh, '<', $file or die "$file: $!\n";
    local $/;
    db_query(scalar <$fh>);
}

# Runs a command (a list, no shell), stdin from /dev/null. Returns its exit
# status (as $? >> 8, or 128 + signal) and its stdout and stderr together.
sub capture {
    my (@cmd) = @_;
    my $pid = open(my $out, '-|') // die "cannot fork: $!\n";
    if (!$pid) {
        open STDIN, '<', '/dev/null' or die;
        open STDERR, '>&', \*STDOUT or die;
        exec @cmd or die "cannot run $cmd[0]: $!\n";
    }
    local $/;
    my $text = <$out> // '';
    close $out;
    my $rc = $? & 127 ? 128 + ($? & 127) : $? >> 8;
    return ($rc, $text);
}

# ---------------------------------------------------------------------------
# The server's error log.

sub error_log_file {
    my $vars = Apache::Test::vars();
    return catfile($vars->{t_logs}, 'error_log');
}

# The current end of the error log, to read only what a test caused.
sub error_log_mark { return -s error_log_file() // 0 }

# The error log's lines (after MARK, a value of error_log_mark()).
sub error_log_lines {
    my ($mark) = @_;
    open my $fh, '<', error_log_file() or return ();
    seek $fh, $mark // 0, 0;
    my @lines = <$fh>;
    chomp @lines;
    return @lines;
}

# ---------------------------------------------------------------------------

package UserBulk::Test::Response;

our @ISA = ('HTTP::Response');

# The body decoded as JSON, or undef when it is not JSON.
sub json { return UserBulk::Test::decode_json_body($_[0]) }

1;
