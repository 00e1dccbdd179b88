# The diff preview (?diff=true) and the undo of a request
# (POST /users/requests/{requestId}/revert), issue 16: on the vhost
# userbulk_undo (UserBulkDiff On, UserBulkRevert On); off on the main
# server, as by default.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use UserBulk::Test qw(:all);

# Every user row of acme (but version, updated_at and updated_by, which a
# change moves) with its role set, as one digest.
sub digest {
    return db_query(q{SELECT md5(string_agg((to_jsonb(u) - 'version' - 'updated_at' - 'updated_by' - 'last_change')::text || '|'
                        || coalesce((SELECT string_agg(ur.role_id::text, ',' ORDER BY ur.role_id)
                                       FROM userbulk.user_roles ur WHERE ur.user_id = u.id), ''), ';' ORDER BY u.id))
                        FROM userbulk.users u JOIN userbulk.accounts a ON a.id = u.account_id WHERE a.code = 'acme'});
}
sub audit_count { return db_query('SELECT count(*) FROM userbulk.audit_request') }
sub put { return json_request(PUT => PUT_USERS . ($_[0] // ''), token(), $_[1], $_[2]) }
sub revert {
    my ($id, $query, $tok) = @_;
    return json_request(POST => PUT_USERS . "/requests/$id/revert" . ($query // ''), $tok // token());
}
sub codes { return [ map { $_->{errors}[0]{code} } @{ $_[0]->json->{failedResults} } ] }

my @batch = (
    { userName => 'alice.acme', email => 'bob@acme.example', name => { firstName => 'Alicia', lastName => 'Archer' },
      roles => [ { roleName => 'Reviewer' } ] },
    { userName => 'bob.acme', email => 'alice@acme.example', name => { firstName => 'Bob', lastName => 'Baker' },
      departmentId => 'HR', phoneNumber => '+44 20 7946 0000' },
    { userName => 'carol.acme', email => 'carol@acme.example', name => { firstName => 'Carol', lastName => 'Carter' },
      lockedOut => JSON::PP::true },
);

# --- off by default -----------------------------------------------------------------
reset_demo();
{
    my $res = revert(1);
    is $res->code, 405, 'UserBulkRevert off: POST .../requests/{id}/revert is not a method of the location';
    is $res->header('Allow'), 'PUT', '... Allow: PUT';
    $res = put('?dryRun=true&diff=true', [ $batch[2] ]);
    is $res->code, 400, 'UserBulkDiff off: ?diff=true refused';
    is $res->json->{code}, 'diff_not_enabled', '... diff_not_enabled';
}

Apache::TestRequest::module('userbulk_undo');

# --- the preview equals what the real run writes ----------------------------------
reset_demo();
{
    my $d0 = digest();
    my $audits = audit_count();
    my $preview = put('?dryRun=true&diff=true', \@batch);
    is $preview->code, 200, 'dry run with diff: 200';
    is digest(), $d0, '... nothing changed';
    is audit_count(), $audits, '... nothing audited';
    my %changes = map { $_->{userName} => $_->{changes} } @{ $preview->json->{successResults} };
    is_deeply [ sort keys %changes ], [ 'alice.acme', 'bob.acme', 'carol.acme' ], 'a change per record';
    is_deeply [ $changes{'carol.acme'}{before}{lockedOut}, $changes{'carol.acme'}{after}{lockedOut} ],
              [ JSON::PP::false, JSON::PP::true ], 'each with the fields it changes, as stored and as they become';
    ok !exists $changes{'carol.acme'}{after}{email}, '... only those';
    is_deeply [ sort keys %{ $changes{'bob.acme'}{after} } ],
              [ 'departmentId', 'email', 'locationId', 'phoneNumber', 'roles' ],
              'a field left out (PUT replaces) shows as cleared';

    my $real = put('?diff=true', \@batch);
    is $real->code, 200, 'the real run';
    my $trace = $real->header('X-Trace-Id');
    my $rows = db_query(qq{SELECT string_agg(u.user_name || ' ' || c.before::text || ' ' || c.after::text, '~~' ORDER BY u.user_name)
                             FROM userbulk.audit_change c JOIN userbulk.audit_request r ON r.id = c.request_id
                             JOIN userbulk.users u ON u.id = c.user_id WHERE r.trace_id = '$trace'});
    my @rows = split /~~/, $rows;
    is scalar @rows, 3, 'three audit rows';
    for my $row (@rows) {
        my ($user, $rest) = split / /, $row, 2;
        my ($before, $after) = $rest =~ /^(\{.*?\}) (\{.*\})$/;
        my $text = qq{"changes":{"before":$before,"after":$after}};
        ok index($preview->content, $text) >= 0, "the preview of $user is its audit row, byte for byte";
        ok index($real->content, $text) >= 0, "... and so is the real run's answer";
    }
    my $d1 = digest();
    isnt $d1, $d0, 'the batch changed the directory';

    # the revert, first as a dry run
    my $dry = revert($trace, '?dryRun=true&diff=true');
    is $dry->code, 200, 'revert dry run by the trace id: 200';
    is $dry->json->{successCount}, 3, '... every user could be put back';
    is digest(), $d1, '... nothing changed';
    my ($carol) = grep { $_->{userName} eq 'carol.acme' } @{ $dry->json->{successResults} };
    is_deeply [ $carol->{changes}{before}{lockedOut}, $carol->{changes}{after}{lockedOut} ],
              [ JSON::PP::true, JSON::PP::false ], '... each with its diff';

    my $res = revert($trace);
    is $res->code, 200, 'revert: 200';
    is $res->json->{successCount}, 3, '... three users put back';
    is digest(), $d0, 'every user row and role set is as before the batch (digest)';
    my $rid = $res->json->{requestId};
    like $rid, qr/^\d+$/, 'the revert is a request of the audit trail';
    is db_query("SELECT endpoint FROM userbulk.audit_request WHERE id = $rid"), 'revert', '... endpoint revert';

    $res = revert($trace);
    is $res->code, 409, 'reverting the batch again: 409';
    is_deeply codes($res), [ 'conflict', 'conflict', 'conflict' ], '... each user moved on (the revert)';
    is digest(), $d0, '... nothing changed';

    $res = revert($rid);
    is $res->code, 200, 'the revert, reverted (by its number)';
    is digest(), $d1, '... the state after the batch again';
}

# --- conflicts, force, atomic -----------------------------------------------------------
reset_demo();
{
    my @two = ({ userName => 'dave.acme', email => 'dave@acme.example', name => { firstName => 'David', lastName => 'Dalton' } },
               { userName => 'erin.acme', email => 'erin@acme.example', name => { firstName => 'Erina', lastName => 'Ellis' } });
    my $r1 = put('', \@two);
    is $r1->code, 200, 'a batch of two';
    $two[1]{name}{firstName} = 'Erinn';
    is put('', [ $two[1] ])->code, 200, 'one of its users changed again';
    my $d = digest();
    my $res = revert($r1->header('X-Trace-Id'), '?atomic=true');
    is $res->code, 409, 'atomic revert with a conflict: 409';
    is_deeply codes($res), [ 'not_applied', 'conflict' ], '... the other user not applied';
    is digest(), $d, '... nothing changed';
    $res = revert($r1->header('X-Trace-Id'));
    is $res->code, 200, 'not atomic: 200';
    is $res->json->{successCount}, 1, '... dave put back';
    is_deeply codes($res), [ 'conflict' ], '... erin a conflict';
    is db_query(q{SELECT first_name FROM userbulk.users WHERE user_name = 'erin.acme'}), 'Erinn', '... left as it is';
    $res = revert($r1->header('X-Trace-Id'), '?force=true');
    is $res->code, 200, '?force=true';
    is db_query(q{SELECT first_name FROM userbulk.users WHERE user_name = 'erin.acme'}), 'Erin', '... puts erin back too';
}

# --- tenancy, ids, kinds ------------------------------------------------------------------
reset_demo();
{
    my $r1 = put('', [ $batch[2] ]);
    my $trace = $r1->header('X-Trace-Id');
    my $id = db_query("SELECT id FROM userbulk.audit_request WHERE trace_id = '$trace'");
    my $res = revert($id, '', token(account => 'globex'));
    is $res->code, 404, "another account's request: 404";
    is $res->json->{code}, 'not_found', '... not_found';
    is revert($trace, '', token(account => 'globex'))->code, 404, '... by its trace id too';
    is revert('999999999')->code, 404, 'no such request: 404';
    is revert('no%20such')->code, 404, 'an id that names nothing: 404';
    is revert('1234567890123456789')->code, 404, 'a number past a bigint: 404';
    is revert($id, '?atomic=maybe')->code, 400, 'a malformed option: 400';
    is revert($id, '?diff=true', token())->code, 200, 'by its number, with a diff';

    # the POST's vocabulary
    my $d = digest();
    my $post = json_request(POST => ACCOUNT_UPDATE, token(),
        { userIds => [ '20000000-0000-4000-8000-000000000004', '20000000-0000-4000-8000-000000000005' ],
          userRoleIds => [ '10000000-0000-4000-8000-000000000002' ], timezone => { timezoneId => 'Europe/Paris' },
          accountAccess => { activationDate => '2026-12-01' }, isEmployee => JSON::PP::false },
        [ 'Content-Type' => 'application/json-patch+json' ]);
    ok $post->code == 200, 'a POST change' or diag $post->content;
    is revert($post->header('X-Trace-Id'))->code, 200, 'its revert';
    is digest(), $d, '... puts the fields back';

    # a SCIM creation cannot be undone here
    Apache::TestRequest::module('default');
    my $scim = json_request(POST => '/scim/v2/Users', token(),
        { schemas => [ 'urn:ietf:params:scim:schemas:core:2.0:User' ], userName => 'zed.acme',
          emails => [ { value => 'zed@acme.example', primary => JSON::PP::true } ] },
        { 'Content-Type' => 'application/scim+json', Accept => 'application/scim+json' });
    is $scim->code, 201, 'a SCIM creation';
    Apache::TestRequest::module('userbulk_undo');
    $res = revert($scim->header('X-Trace-Id'));
    is $res->code, 409, 'its revert: 409';
    is_deeply codes($res), [ 'not_revertible' ], '... not_revertible';
    like $res->json->{failedResults}[0]{errors}[0]{message}, qr/DELETE/, '... saying how to undo it';
}

Apache::TestRequest::module('default');
is role_ids_drift(), 0, "after the reverts, every user's role_ids is its links (017)";
is audit_chain_drift(), 0, "after the reverts, every user's history is one chain from its row (018)";
done_testing();
