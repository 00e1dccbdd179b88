# PUT /users: every rule of CONTRACT.md for the first API, against a real
# httpd and a real PostgreSQL. Each check looks at what a user would: the
# status, the JSON body, and the directory itself.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use File::Temp qw(tempdir);
use JSON::PP ();
use POSIX ();
use UserBulk::Test qw(:all);
use UserBulk::Reliability qw(lock_session wait_until);

my $TRUE = JSON::PP::true;
my $FALSE = JSON::PP::false;
my $ACME = '00000000-0000-4000-8000-00000000000a';
my $ALICE = '20000000-0000-4000-8000-000000000001';
my $BOB = '20000000-0000-4000-8000-000000000002';
my $ADMIN_ROLE_ID = '10000000-0000-4000-8000-000000000001';
my $VIEWER_ROLE_ID = '10000000-0000-4000-8000-000000000003';
my $GLOBEX_ADMIN_ROLE_ID = '10000000-0000-4000-8000-000000000011';

sub put { json_request(PUT => PUT_USERS, token(), @_) }

# The stored state of a user, as a hash.
sub user {
    my ($user_name) = @_;
    my ($row) = db_query(
        "SELECT email, first_name, middle_name, last_name, phone1, department_code,
                location_code, program_admin_role_code, locked_out::text, version,
                (SELECT string_agg(r.name, ',' ORDER BY r.name) FROM userbulk.user_roles ur
                   JOIN userbulk.roles r ON r.id = ur.role_id WHERE ur.user_id = u.id)
           FROM userbulk.users u WHERE user_name = '$user_name'");
    my %u;
    @u{qw(email first_name middle_name last_name phone department location par
          locked_out version roles)} = @$row;
    return \%u;
}

sub audit_count { db_query("SELECT count(*) FROM userbulk.audit") }

# A full, valid record for alice as the demo has her, with changes.
sub alice {
    return { userName => 'alice.acme', email => 'alice@acme.example',
             name => { firstName => 'Alice', lastName => 'Archer' },
             phoneNumber => '+1 212 555 0101', departmentId => 'ENG',
             locationId => 'NYC', programAdminRoleId => 'PA-ADMIN',
             roles => [ { roleName => 'Administrator' }, { roleName => 'Viewer' } ],
             lockedOut => $FALSE, @_ };
}

sub errors_of {
    my ($body, $index) = @_;
    my ($failed) = grep { $_->{index} == $index } @{ $body->{failedResults} };
    return $failed ? $failed->{errors} : [];
}

sub has_error {
    my ($body, $index, $field, $code, $name) = @_;
    my @hit = grep { $_->{field} eq $field && $_->{code} eq $code } @{ errors_of($body, $index) };
    ok(scalar @hit, $name) or diag explain $body;
}

reset_demo();

# --- the happy path ---------------------------------------------------------
{
    my $res = put([ alice(phoneNumber => '+1 212 555 0199', name => { firstName => 'Alicia', lastName => 'Archer' }) ]);
    is $res->code, 200, 'a valid record is applied: 200';
    like $res->header('Content-Type'), qr{^application/json}, 'answered as JSON';
    my $b = $res->json;
    is_deeply [ @$b{qw(totalProcessed successCount failureCount)} ], [ 1, 1, 0 ], 'counters';
    is $b->{successResults}[0]{index}, 0, 'success result index';
    is $b->{successResults}[0]{userName}, 'alice.acme', 'success result userName';
    is $b->{successResults}[0]{userId}, $ALICE, 'success result userId';
    is $b->{successResults}[0]{version}, 2, 'success result carries the new version';
    is_deeply $b->{failedResults}, [], 'no failed results';
    my $u = user('alice.acme');
    is $u->{first_name}, 'Alicia', 'first name stored';
    is $u->{phone}, '+1 212 555 0199', 'phone stored';
    is $u->{version}, 2, 'version bumped';
    my $trace = $res->header('X-Trace-Id');
    like $trace, qr/^[0-9a-f]{32}$/, 'X-Trace-Id header';
    my ($a) = db_query("SELECT actor, endpoint, user_id, before::text, after::text FROM userbulk.audit WHERE trace_id = '$trace'");
    ok $a, 'an audit row carries the trace id';
    is $a->[0], 'alice', 'audit: who (the token subject)';
    is $a->[1], 'PUT /users', 'audit: endpoint';
    is $a->[2], $ALICE, 'audit: the user';
    is_deeply(JSON::PP->new->decode($a->[3]), { firstName => 'Alice', phoneNumber => '+1 212 555 0101' }, 'audit: only changed fields, before');
    is_deeply(JSON::PP->new->decode($a->[4]), { firstName => 'Alicia', phoneNumber => '+1 212 555 0199' }, 'audit: only changed fields, after');
    my @log = grep { /UB0100/ && /\Q$trace\E/ } error_log_lines(0);
    is scalar @log, 1, 'the request has one error-log line with its trace id';
}

# --- a single object is a batch of one ----------------------------------------
{
    my $res = put(alice(lockedOut => $TRUE));
    is $res->code, 200, 'a single object is a batch of one';
    is $res->json->{totalProcessed}, 1, 'one record processed';
    is user('alice.acme')->{locked_out}, 'true', 'lockedOut stored';
}

# --- PUT replaces: fields left out or null are cleared ------------------------
{
    my $res = put([ { userName => 'bob.acme', email => 'bob@acme.example', phoneNumber => undef } ]);
    is $res->code, 200, 'minimal record applied';
    my $u = user('bob.acme');
    is_deeply [ @$u{qw(first_name last_name phone department location par roles)} ],
              [ undef, undef, undef, undef, undef, undef, undef ],
              'left-out and null fields are cleared, roles removed';
    is $u->{locked_out}, 'false', 'lockedOut left out is false';
}

# --- a record equal to the stored state writes nothing ------------------------
{
    reset_demo();
    my $before = audit_count();
    my $res = put([ alice() ]);
    is $res->code, 200, 'unchanged record is a success';
    is $res->json->{successCount}, 1, 'counted as success';
    is user('alice.acme')->{version}, 1, 'no version bump';
    is $res->json->{successResults}[0]{version}, 1, 'answered with the stored version';
    is audit_count(), $before, 'no audit row';

    # The same unchanged record beside one that changes: each as it is.
    my $bob_before = user('bob.acme');
    $res = put([ alice(), { userName => 'bob.acme', email => 'bob@acme.example',
                            name => { firstName => 'Robert', lastName => 'Baker' } } ]);
    is $res->code, 200, 'unchanged and changed records together: 200';
    my %version = map { $_->{userName} => $_->{version} } @{ $res->json->{successResults} };
    is $version{'alice.acme'}, 1, '... the unchanged one keeps its version';
    is $version{'bob.acme'}, $bob_before->{version} + 1, '... the changed one gets the next';
    is user('bob.acme')->{first_name}, 'Robert', '... and is applied';
    is audit_count(), $before + 1, '... one audit row, for the changed one';
}

# --- partial success, request order, a 4xx changes nothing ---------------------
{
    reset_demo();
    my $res = put([
        { userName => 'bob.acme', email => 'bob@acme.example', name => { firstName => 'Robert' } },
        { userName => 'nobody.acme', email => 'nobody@acme.example' },
        { userName => 'carol.acme', email => 'not-an-email' },
        { userName => 'dave.acme', email => 'dave@acme.example', departmentId => 'ENG' },
    ]);
    is $res->code, 200, 'partial success is 200';
    my $b = $res->json;
    is_deeply [ @$b{qw(totalProcessed successCount failureCount)} ], [ 4, 2, 2 ], 'partial counters';
    is_deeply [ map { $_->{index} } @{ $b->{successResults} } ], [ 0, 3 ], 'successes in request order';
    is_deeply [ map { $_->{index} } @{ $b->{failedResults} } ], [ 1, 2 ], 'failures in request order';
    has_error($b, 1, 'userName', 'not_found', 'unknown user');
    has_error($b, 2, 'email', 'invalid_format', 'bad email format');
    is $b->{failedResults}[1]{userName}, 'carol.acme', 'failed result names the userName';
    is user('carol.acme')->{email}, 'carol@acme.example', 'a failed record changes nothing';
    is user('bob.acme')->{first_name}, 'Robert', 'the others still apply';

    my $n = audit_count();
    $res = put([ { userName => 'nobody.acme', email => 'x@acme.example' }, { userName => 'carol.acme', email => 'bad' } ]);
    is $res->code, 400, 'no record applied: 400';
    is_deeply [ @{ $res->json }{qw(totalProcessed successCount failureCount)} ], [ 2, 0, 2 ], 'counters of a 400';
    is audit_count(), $n, 'a 400 writes nothing';
}

# --- another account's users look exactly like unknown users -------------------
{
    reset_demo();
    my $foreign = put([ { userName => 'gina.globex', email => 'gina2@globex.example' } ])->json;
    my $unknown = put([ { userName => 'zed.globex', email => 'zed@globex.example' } ])->json;
    $_->{failedResults}[0]{userName} = 'X' for $foreign, $unknown;
    is_deeply $foreign, $unknown, "another account's user answers as an unknown user";
    is db_query("SELECT email FROM userbulk.users WHERE user_name = 'gina.globex'"), 'gina@globex.example',
       "another account's user is unchanged";
}

# --- read-only fields ---------------------------------------------------------
{
    reset_demo();
    my $res = put([ alice(userAccess => { AccessAutomation => $TRUE, AccessCertification => $TRUE, AccessComplete => $FALSE }) ]);
    is $res->code, 200, 'read-only flags sent with their stored values are accepted';
    $res = put([ alice(userAccess => { AccessAutomation => $FALSE }), alice(userName => 'bob.acme', email => 'bob@acme.example', password => 'secret') ]);
    is $res->code, 400, 'changing read-only fields fails';
    has_error($res->json, 0, 'userAccess.AccessAutomation', 'read_only', 'a different read-only flag fails the record');
    has_error($res->json, 1, 'password', 'read_only', 'any password fails the record');
    unlike $res->content, qr/secret/, 'the password is not echoed';
    is db_query("SELECT access_automation::text FROM userbulk.users WHERE user_name = 'alice.acme'"), 'true', 'flag unchanged';
}

# --- emails --------------------------------------------------------------------
{
    reset_demo();
    my $res = put([ alice(email => 'BOB@acme.example') ]);
    is $res->code, 400, 'an email taken by a user outside the batch fails';
    has_error($res->json, 0, 'email', 'email_taken', 'email_taken, compared case-insensitively');

    $res = put([ alice(email => 'gina@globex.example') ]);
    has_error($res->json, 0, 'email', 'email_taken', 'emails are unique across accounts');

    $res = put([ alice(email => 'bob@acme.example'), { userName => 'bob.acme', email => 'alice@acme.example' } ]);
    is $res->code, 200, 'two users may swap emails in one batch';
    is $res->json->{successCount}, 2, 'both swapped';
    is user('alice.acme')->{email}, 'bob@acme.example', 'alice has bob\'s address';
    is user('bob.acme')->{email}, 'alice@acme.example', 'bob has alice\'s address';

    reset_demo();
    $res = put([ alice(email => 'shared@acme.example'), { userName => 'bob.acme', email => 'Shared@acme.example' } ]);
    is $res->code, 400, 'two records asking for one address';
    has_error($res->json, $_, 'email', 'email_taken', "record $_ fails") for 0, 1;

    $res = put([ alice(email => 'bob@acme.example'), { userName => 'bob.acme', email => 'bob@acme.example', departmentId => 'NOPE' } ]);
    has_error($res->json, 0, 'email', 'email_taken', 'an address kept by a failing record stays taken');

    for my $bad ('', 'a@b', 'a@@b.example', '.a@b.example', 'a..b@b.example', 'a b@b.example', 'a@-b.example', 'a@b.123') {
        $res = put([ alice(email => $bad) ]);
        has_error($res->json, 0, 'email', 'invalid_format', "email '$bad' is refused");
    }
    $res = put([ alice(email => 'alice+tag@mail.acme.example') ]);
    is $res->code, 200, 'a plus-tagged address on a subdomain is accepted';
}

# --- reference codes and roles ----------------------------------------------------
{
    reset_demo();
    my $res = put([ alice(departmentId => 'NOPE', locationId => 'BER', programAdminRoleId => 'PA-NONE') ]);
    is $res->code, 400, 'unknown codes fail';
    has_error($res->json, 0, 'departmentId', 'unknown_code', 'unknown department');
    has_error($res->json, 0, 'locationId', 'unknown_code', "another account's location is unknown");
    has_error($res->json, 0, 'programAdminRoleId', 'unknown_code', 'unknown program admin role');

    $res = put([ alice(roles => [ { roleId => $VIEWER_ROLE_ID }, { roleId => $GLOBEX_ADMIN_ROLE_ID }, { roleName => 'Nope' } ]) ]);
    is $res->code, 400, 'unknown roles fail';
    has_error($res->json, 0, 'roles[1]', 'unknown_role', "another account's role is unknown");
    has_error($res->json, 0, 'roles[2]', 'unknown_role', 'unknown role name');
    is user('alice.acme')->{roles}, 'Administrator,Viewer', 'roles unchanged after a failure';

    $res = put([ alice(roles => [ { roleId => $VIEWER_ROLE_ID }, { roleName => 'Reviewer' } ]) ]);
    is $res->code, 200, 'roles by id and by name';
    is user('alice.acme')->{roles}, 'Reviewer,Viewer', 'role set replaced';
    $res = put([ alice(roles => [ { roleId => $VIEWER_ROLE_ID, roleName => 'Administrator' } ]) ]);
    has_error($res->json, 0, 'roles[0]', 'unknown_role', 'roleId and roleName naming different roles');
}

# --- the same userName twice ----------------------------------------------------
{
    reset_demo();
    my $res = put([ alice(), { userName => 'bob.acme', email => 'bob@acme.example' }, alice(phoneNumber => '1') ]);
    is $res->code, 200, 'the other records still apply';
    has_error($res->json, $_, 'userName', 'duplicate_user_name', "occurrence $_ fails") for 0, 2;
    is user('alice.acme')->{phone}, '+1 212 555 0101', 'a repeated user is not changed';
}

# --- types, lengths, unknown and missing fields ------------------------------------
{
    reset_demo();
    my $res = put([
        alice(email => 42),
        alice(name => 'Alice'),
        alice(name => { firstName => [] }),
        alice(lockedOut => 'yes'),
        alice(roles => { roleName => 'Viewer' }),
        alice(roles => [ 'Viewer' ]),
        alice(userAccess => { AccessComplete => 1 }),
        alice(departmentId => 7),
        alice(phoneNumber => 'call me'),
        alice(roles => [ { roleId => 'not-a-uuid' } ]),
        { email => 'x@acme.example' },
        { userName => 'alice.acme' },
        alice(nickname => 'Al'),
        'not an object',
        alice(name => { firstName => 'x' x 101 }),
        alice(userName => 'u' x 101),
        alice(email => ('e' x 64) . '@' . ('d' x 63) . '.' . ('d' x 63) . '.' . ('d' x 63) . '.example'),
    ]);
    is $res->code, 400, 'malformed records: 400';
    my $b = $res->json;
    has_error($b, 0, 'email', 'invalid_type', 'email not a string');
    has_error($b, 1, 'name', 'invalid_type', 'name not an object');
    has_error($b, 2, 'name.firstName', 'invalid_type', 'name.firstName not a string');
    has_error($b, 3, 'lockedOut', 'invalid_type', 'lockedOut not a boolean');
    has_error($b, 4, 'roles', 'invalid_type', 'roles not an array');
    has_error($b, 5, 'roles[0]', 'invalid_type', 'a role not an object');
    has_error($b, 6, 'userAccess.AccessComplete', 'invalid_type', 'flag not a boolean');
    has_error($b, 7, 'departmentId', 'invalid_type', 'departmentId not a string');
    has_error($b, 8, 'phoneNumber', 'invalid_format', 'phone number with letters');
    has_error($b, 9, 'roles[0].roleId', 'invalid_format', 'roleId not a UUID');
    has_error($b, 10, 'userName', 'required', 'userName is required');
    has_error($b, 11, 'email', 'required', 'email is required');
    has_error($b, 12, 'nickname', 'unknown_field', 'unknown fields are refused');
    has_error($b, 13, '', 'invalid_type', 'a record that is not an object');
    has_error($b, 14, 'name.firstName', 'too_long', 'first name over 100 characters');
    has_error($b, 15, 'userName', 'too_long', 'userName over 100 characters');
    has_error($b, 16, 'email', 'too_long', 'email over 254 characters');
    is user('alice.acme')->{version}, 1, 'nothing changed';

    $res = put([ alice(name => { firstName => "\x{e9}" x 100, lastName => 'Archer' }) ]);
    is $res->code, 200, '100 accented characters fit a 100-character name';
}

# --- the request as a whole -----------------------------------------------------------
{
    reset_demo();
    my $n = audit_count();
    my @many = map { { userName => "u$_.acme", email => "u$_\@acme.example" } } 1 .. 1001;
    my $res = put(\@many);
    is $res->code, 400, '1001 records: 400';
    is $res->json->{code}, 'too_many_records', 'too_many_records';
    is $res->json->{totalProcessed}, 0, 'nothing processed';

    $res = put([]);
    is $res->code, 400, 'empty array: 400';
    is $res->json->{code}, 'empty_batch', 'empty_batch';

    $res = put('{"userName": ');
    is $res->code, 400, 'truncated JSON: 400';
    is $res->json->{code}, 'invalid_json', 'invalid_json';

    $res = put("[{\"userName\":\"alice.acme\",\"email\":\"\xff\xfe\@acme.example\"}]");
    is $res->code, 400, 'invalid UTF-8: 400';

    $res = put('[{"userName":"alice.acme","userName":"bob.acme","email":"a@acme.example"}]');
    is $res->code, 400, 'duplicate keys: 400';

    $res = put('"just a string"');
    is $res->code, 400, 'a JSON string: 400';
    is $res->json->{code}, 'invalid_body', 'invalid_body';

    $res = put(('[' x 5000) . (']' x 5000));
    is $res->code, 400, 'nesting 5000 deep: 400';

    $res = put([ alice() ], [ 'Content-Type' => 'text/plain' ]);
    is $res->code, 415, 'text/plain: 415';
    is $res->json->{code}, 'unsupported_media_type', 'unsupported_media_type';
    $res = put([ alice() ], [ 'Content-Type' => 'application/json; charset=latin1' ]);
    is $res->code, 415, 'a charset other than UTF-8: 415';
    $res = put([ alice() ], [ 'Content-Type' => 'application/json; charset=UTF-8' ]);
    is $res->code, 200, 'charset=UTF-8 accepted';

    $res = put('[' . ('{"userName":"alice.acme","email":"alice@acme.example"},' x 160000) . '{}]');
    is $res->code, 413, 'a body over UserBulkMaxBodySize: 413';
    is $res->json->{code}, 'body_too_large', 'body_too_large';

    is audit_count(), $n, 'refused requests changed nothing';
}

# --- methods ---------------------------------------------------------------------------
for my $method (qw(GET POST DELETE PATCH)) {
    my $res = json_request($method => PUT_USERS, token(), $method eq 'GET' ? undef : [ alice() ]);
    is $res->code, 405, "$method: 405";
    is $res->header('Allow'), 'PUT', "$method: Allow: PUT";
    is $res->json->{code}, 'method_not_allowed', "$method: JSON body";
}

# --- concurrency: overlapping batches queue instead of deadlocking ----------------------
{
    reset_demo();
    my $pg_log = "$ENV{UB_PG_DIR}/log/postgresql.log";
    my $deadlocks = sub { open my $fh, '<', $pg_log or return -1; scalar grep { /deadlock detected/ } <$fh> };
    my $deadlocks_before = $deadlocks->();
    my @users = map { "u$_.acme" } 1 .. 300;
    db_query("INSERT INTO userbulk.users (account_id, user_name, email) SELECT '$ACME', 'u' || n || '.acme', 'u' || n || '\@acme.example' FROM generate_series(1, 300) n");
    # A writer holds the user in the middle of the key order, so that the
    # six batches pile up, each holding some rows and waiting for more, and
    # then go on together: taken in any other order than one for all, they
    # would deadlock.
    my $writer = lock_session("SELECT 1 FROM userbulk.users WHERE id = (
                                   SELECT id FROM userbulk.users WHERE user_name LIKE 'u%.acme'
                                    ORDER BY id OFFSET 150 LIMIT 1) FOR UPDATE");
    my @pids;
    for my $k (1 .. 6) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my @order = $k % 2 ? @users : reverse @users;
            my $res = put([ map { { userName => $_, email => ($_ =~ s/\.acme$//r) . "\@acme.example", name => { firstName => "writer$k" } } } @order ]);
            exit($res->code == 200 && $res->json->{successCount} == 300 ? 0 : 1);
        }
        push @pids, $pid;
    }
    ok wait_until(60, sub { db_query("SELECT count(*) FROM pg_locks WHERE NOT granted") >= 6 }),
       'the six batches wait, each for a row another holds';
    ok $writer->{release}->(), 'the writer lets go';
    my $ok = 0;
    for (@pids) { waitpid $_, 0; $ok++ if $? == 0 }
    is $ok, 6, '6 concurrent overlapping batches of 300 all apply in full';
    is db_query("SELECT count(DISTINCT first_name) FROM userbulk.users WHERE user_name LIKE 'u%.acme'"), 1,
       'every user ends with the same (last) writer';
    is db_query("SELECT count(*) FROM userbulk.audit a JOIN userbulk.users u ON u.id = a.user_id WHERE u.user_name LIKE 'u%.acme'"), 1800,
       'every applied change has its audit row';
    is $deadlocks->(), $deadlocks_before,
       'no deadlock: the batches took their users in one order, whatever the order they named them in';
    reset_demo();
    db_query("DELETE FROM userbulk.users WHERE user_name LIKE 'u%.acme'");
}

# --- a user changed by another writer after the batch read it ---------------------------
# The batch reads alice, then waits for her row, locked by a writer that
# changes her phone. Once the writer commits, the batch must decide again on
# what is stored now, never apply what it decided on the stale read: a
# plain record still applies (PUT replaces) on top of the writer's version,
# and the audit's "before" is the writer's value; a record that names the
# version it read fails with a conflict. The other record applies either way.
{
    my $dir = tempdir(CLEANUP => 1);
    for my $case ('plain', 'versioned') {
        reset_demo();
        my $v = user('alice.acme')->{version};
        my $writer = lock_session("UPDATE userbulk.users SET phone1 = '+1 555 0100', version = version + 1
                                    WHERE user_name = 'alice.acme'");
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $res = put([ alice(phoneNumber => '+1 555 0199', $case eq 'versioned' ? (version => $v + 0) : ()),
                            { userName => 'bob.acme', email => 'bob@acme.example', name => { firstName => 'Bobby' } } ]);
            open my $fh, '>', "$dir/$case" or POSIX::_exit(1);
            print $fh encode_json({ code => $res->code, body => $res->json });
            close $fh;
            POSIX::_exit(0);
        }
        ok wait_until(30, sub { db_query("SELECT count(*) FROM pg_locks WHERE NOT granted") > 0 }),
           "$case: the batch waits for the writer's lock on alice";
        ok $writer->{commit}->(), "$case: the writer commits";
        waitpid $pid, 0;
        open my $fh, '<', "$dir/$case" or die "$case: no response recorded\n";
        my $got = JSON::PP->new->decode(do { local $/; <$fh> });
        my $body = $got->{body};
        my %ok = map { $_->{userName} => $_ } @{ $body->{successResults} // [] };
        is $got->{code}, 200, "$case: 200";
        is user('bob.acme')->{first_name}, 'Bobby', "$case: bob has the batch's name";
        if ($case eq 'plain') {
            is $ok{'alice.acme'}{version}, $v + 2, 'plain: alice applied on top of the writer (version + 2)';
            is user('alice.acme')->{phone}, '+1 555 0199', "plain: alice has the batch's phone";
            is db_query("SELECT before ->> 'phoneNumber' FROM userbulk.audit
                          WHERE user_id = '$ALICE' ORDER BY id DESC LIMIT 1"), '+1 555 0100',
               "plain: the audit's before is the writer's phone, not the stale read";
        } else {
            has_error($body, 0, 'version', 'conflict', 'versioned: alice fails with a version conflict');
            is user('alice.acme')->{phone}, '+1 555 0100', "versioned: alice keeps the writer's phone";
            is user('alice.acme')->{version}, $v + 1, "versioned: alice stays at the writer's version";
        }
    }
    # (before the data goes back to the demo's, with its trail)
    is audit_chain_drift(), 0, "after the PUTs, every user's history is one chain from its row (018)";
    reset_demo();
}

done_testing();
