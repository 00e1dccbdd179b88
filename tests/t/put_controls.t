# The controls PUT /users offers beyond its seed (issue 7), none of which
# changes the default behaviour: ?atomic=true, ?dryRun=true and
# Prefer: tx=rollback, a version per record (and If-Match on the POST API),
# GET /users read-back, and Idempotency-Key.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use JSON::PP ();
use UserBulk::Test qw(:all);

my $FALSE = JSON::PP::false;
my $TRUE = JSON::PP::true;
my $ALICE = '20000000-0000-4000-8000-000000000001';
my $BOB = '20000000-0000-4000-8000-000000000002';

sub put {
    my ($query, $body, $headers) = @_;
    return json_request(PUT => PUT_USERS . $query, token(), $body, $headers);
}

sub snapshot {
    return db_query("SELECT string_agg(user_name || ':' || email || ':' || coalesce(first_name, '') || ':' || version, ',' ORDER BY user_name)
                       FROM userbulk.users")
         . ' audit=' . db_query('SELECT count(*) FROM userbulk.audit');
}

sub codes_of {
    my ($body, $index) = @_;
    my ($f) = grep { $_->{index} == $index } @{ $body->{failedResults} };
    return [ map { $_->{code} } @{ $f ? $f->{errors} : [] } ];
}

my @batch = (
    { userName => 'bob.acme', email => 'bob@acme.example', name => { firstName => 'Robert' } },
    { userName => 'carol.acme', email => 'carol@acme.example', name => { firstName => 'Caroline' } },
);
my @bad = (@batch, { userName => 'nobody.acme', email => 'nobody@acme.example' });

# --- atomic ------------------------------------------------------------------
reset_demo();
{
    my $before = snapshot();
    my $res = put('?atomic=true', \@bad);
    is $res->code, 400, 'atomic with a failing record: 400';
    my $b = $res->json;
    is $b->{successCount}, 0, 'no success reported';
    is $b->{failureCount}, 3, 'every record listed as failed';
    is_deeply codes_of($b, 0), [ 'not_applied' ], 'a valid record is marked not applied';
    is_deeply codes_of($b, 1), [ 'not_applied' ], 'the other valid record too';
    is_deeply codes_of($b, 2), [ 'not_found' ], 'the failing record has its own error';
    is snapshot(), $before, 'nothing applied, no audit row';

    $res = put('?atomic=true', [ @batch, { userName => 'dave.acme', email => 'bad' } ]);
    is $res->code, 400, 'atomic, a record failing the format checks';
    is_deeply codes_of($res->json, 0), [ 'not_applied' ], 'valid records not applied';
    is snapshot(), $before, 'nothing applied';

    $res = put('?atomic=true', \@batch);
    is $res->code, 200, 'atomic with every record valid: 200';
    is $res->json->{successCount}, 2, 'all applied';
    is db_query("SELECT first_name FROM userbulk.users WHERE user_name = 'carol.acme'"), 'Caroline', 'stored';

    $res = put('?atomic=maybe', \@batch);
    is $res->code, 400, 'a malformed atomic value: 400';
    is $res->json->{code}, 'invalid_query', 'invalid_query';
}

# --- dry run -----------------------------------------------------------------
reset_demo();
for my $how ([ '?dryRun=true', [] ], [ '', [ Prefer => 'return=minimal, tx=rollback' ] ]) {
    my ($query, $headers) = @$how;
    my $name = $query || 'Prefer: tx=rollback';
    my $before = snapshot();
    my $dry = put($query, [ @bad, { userName => 'dave.acme', email => 'bob@acme.example' } ], $headers);
    is snapshot(), $before, "$name: nothing changed, no audit row";
    my $real = put('', [ @bad, { userName => 'dave.acme', email => 'bob@acme.example' } ]);
    is $dry->code, $real->code, "$name: same status as the real run";
    is_deeply $dry->json, $real->json, "$name: same answer as the real run (versions included)";
    reset_demo();
}
{
    my $res = put('', \@batch, [ Prefer => 'tx=rollback' ]);
    is $res->header('Preference-Applied'), 'tx=rollback', 'Preference-Applied says the rollback was honoured';
    is put('?dryRun=true', [ { userName => 'bob.acme', email => 'alice@acme.example' } ])->json->{failedResults}[0]{errors}[0]{code},
       'email_taken', 'a dry run runs the uniqueness checks against the real data';
}

# --- versions ----------------------------------------------------------------
reset_demo();
{
    my $res = put('', [ { %{ $batch[0] }, version => 1 } ]);
    is $res->code, 200, 'the version read: applied';
    is $res->json->{successResults}[0]{version}, 2, 'the new version is answered';
    $res = put('', [ { %{ $batch[0] }, name => { firstName => 'Bobby' }, version => 1 } ]);
    is $res->code, 409, 'a stale version in a one-record request: 409';
    is_deeply codes_of($res->json, 0), [ 'conflict' ], 'code conflict';
    is db_query("SELECT first_name FROM userbulk.users WHERE user_name = 'bob.acme'"), 'Robert', 'not overwritten';
    $res = put('', [ { %{ $batch[0] }, name => { firstName => 'Bobby' }, version => 1 }, $batch[1] ]);
    is $res->code, 200, 'in a larger batch the stale record fails alone';
    is_deeply codes_of($res->json, 0), [ 'conflict' ], 'conflict on that record';
    $res = put('', [ { %{ $batch[0] }, version => 'two' } ]);
    is_deeply codes_of($res->json, 0), [ 'invalid_type' ], 'a version that is not a number';

    my $v = db_query("SELECT version FROM userbulk.users WHERE id = '$ALICE'");
    $res = json_request(POST => ACCOUNT_UPDATE, token(), { userId => $ALICE, isSSOUser => $TRUE },
                        [ 'If-Match' => '"' . ($v + 5) . '"' ]);
    is $res->code, 409, 'POST with a stale If-Match: 409';
    is $res->json->{errorType}, 'Conflict', 'errorType Conflict';
    is db_query("SELECT is_sso_user::text FROM userbulk.users WHERE id = '$ALICE'"), 'false', 'not applied';
    $res = json_request(POST => ACCOUNT_UPDATE, token(), { userId => $ALICE, isSSOUser => $TRUE },
                        [ 'If-Match' => qq("$v") ]);
    is $res->code, 200, 'POST with the current If-Match: 200';
    $res = json_request(POST => ACCOUNT_UPDATE, token(), { userIds => [ $ALICE, $BOB ], isSSOUser => $TRUE },
                        [ 'If-Match' => '"1"' ]);
    is $res->code, 400, 'If-Match with several targets: 400';
}

# --- read-back ---------------------------------------------------------------
reset_demo();
{
    my $res = json_request(GET => PUT_USERS . '?userName=alice.acme', token());
    is $res->code, 405, 'GET /users stays 405 where UserBulkReadBack is off';

    Apache::TestRequest::module('userbulk_readback');
    $res = json_request(GET => PUT_USERS . '?userName=bob.acme&userName=alice.acme&userName=gina.globex&userName=nobody', token());
    is $res->code, 200, 'GET /users?userName=...: 200';
    my $users = $res->json;
    is_deeply [ map { $_->{userName} } @$users ], [ 'bob.acme', 'alice.acme' ],
              "in the order asked; unknown and other accounts' users left out";
    my ($alice) = grep { $_->{userName} eq 'alice.acme' } @$users;
    is $alice->{version}, 1, 'the version';
    is $alice->{userAccess}{AccessAutomation}, $TRUE, 'the read-only flags';
    is_deeply [ map { $_->{roleName} } @{ $alice->{roles} } ], [ 'Administrator', 'Viewer' ], 'the roles';

    $alice->{phoneNumber} = '+1 212 555 0199';
    $res = json_request(PUT => PUT_USERS, token(), [ $alice ]);
    is $res->code, 200, 'what was read can be changed and put back';
    my $row = db_query("SELECT phone1 || '|' || department_code || '|' || location_code || '|' || program_admin_role_code
                        || '|' || (SELECT count(*) FROM userbulk.user_roles WHERE user_id = '$ALICE') FROM userbulk.users WHERE id = '$ALICE'");
    is $row, '+1 212 555 0199|ENG|NYC|PA-ADMIN|2', 'only the changed field changed';
    is json_request(PUT => PUT_USERS, token(), [ $alice ])->code, 409, 'putting back the same read twice: 409 (stale version)';

    $res = json_request(GET => PUT_USERS, token());
    is $res->code, 400, 'GET without userName: 400';
    $res = json_request(GET => PUT_USERS . '?' . join('&', map { "userName=u$_" } 1 .. 51), token());
    is $res->code, 400, 'more userNames than the record limit: 400';
    $res = json_request(GET => PUT_USERS . '?userName=alice.acme&userName=%ff', token());
    is $res->code, 400, 'a userName that is not UTF-8: 400, not left out';
    is $res->json->{code}, 'invalid_query', '... invalid_query';
    like $res->json->{message}, qr/UTF-8/, '... saying why';
    $res = json_request(GET => PUT_USERS . '?userName=%c3%a9va.acme', token());
    is $res->code, 200, 'a userName in UTF-8, percent-encoded: 200';
    $res = json_request(GET => PUT_USERS . '?userName=alice.acme', undef);
    is $res->code, 401, 'the same auth';
    is json_request(DELETE => PUT_USERS, token())->header('Allow'), 'GET, PUT', 'Allow names GET too';
    Apache::TestRequest::module('default');
}

# --- idempotency -----------------------------------------------------------------
reset_demo();
{
    my $key = [ 'Idempotency-Key' => 'req-0001' ];
    my $first = put('', \@batch, $key);
    is $first->code, 200, 'a first request with a key';
    my $after = snapshot();
    db_query("UPDATE userbulk.users SET first_name = 'Changed', version = version + 1 WHERE user_name = 'bob.acme'");
    my $again = put('', \@batch, $key);
    is $again->code, 200, 'the retry';
    is $again->content, $first->content, 'answers the first response again';
    is db_query("SELECT first_name FROM userbulk.users WHERE user_name = 'bob.acme'"), 'Changed', 'without applying it twice';
    my $other = put('', [ $batch[0] ], $key);
    is $other->code, 422, 'the same key with another body: 422';
    is $other->json->{code}, 'idempotency_key_reused', 'idempotency_key_reused';
    is json_request(PUT => PUT_USERS, token(sub => 'bob'), \@batch, $key)->json->{successCount}, 2,
       "another caller's key is another key";
    is put('', \@batch, [ 'Idempotency-Key' => "bad key\t" ])->code, 400, 'a malformed key: 400';
    db_query("UPDATE userbulk.idempotency SET created_at = now() - interval '25 hours'");
    db_query("UPDATE userbulk.users SET first_name = 'Changed' WHERE user_name = 'bob.acme'");
    is put('', \@batch, $key)->code, 200, 'after 24 hours the key is new again';
    is db_query("SELECT first_name FROM userbulk.users WHERE user_name = 'bob.acme'"), 'Robert', 'and the request applies';
}

done_testing();
