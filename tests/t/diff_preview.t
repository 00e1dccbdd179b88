# The diff preview where PUT /users and a revert already had it (t/revert.t)
# was missing: the POST's dry run (Prefer: tx=rollback, ?dryRun=true) and
# ?diff=true, and SCIM /Bulk's ?diff=true (issue 16, part 1). On the vhost
# userbulk_undo (UserBulkDiff On in the POST's and SCIM's locations); off
# on the main server, as by default.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use JSON::PP ();
use UserBulk::Test qw(:all);
use UserBulk::Scim qw(:all);
use UserBulk::Reliability qw(lock_session wait_until);
use File::Temp qw(tempdir);
use POSIX ();

my $TRUE = JSON::PP::true;
my $FALSE = JSON::PP::false;
my $ALICE = '20000000-0000-4000-8000-000000000001';
my $BOB   = '20000000-0000-4000-8000-000000000002';
my $CAROL = '20000000-0000-4000-8000-000000000003';
my $DAVE  = '20000000-0000-4000-8000-000000000004';
my $ERIN  = '20000000-0000-4000-8000-000000000005';
my $REVIEWER = '10000000-0000-4000-8000-000000000002';
my $VIEWER   = '10000000-0000-4000-8000-000000000003';
my $TEAM_SALES = '30000000-0000-4000-8000-000000000003';
my $SCIM = [ Accept => 'application/scim+json', 'Content-Type' => 'application/scim+json' ];
use constant BULK_REQUEST => 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
use constant PATCH_SCHEMA => 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

# Everything a request may write, every column of every row (versions and
# times included): users, role links and counts, the audit trail, the
# change feed and its clocks.
sub digest {
    return db_query(q{SELECT md5(concat_ws('#',
        (SELECT string_agg(to_jsonb(u)::text, ';' ORDER BY u.id) FROM userbulk.users u),
        (SELECT string_agg(to_jsonb(r)::text, ';' ORDER BY r.user_id, r.role_id) FROM userbulk.user_roles r),
        (SELECT string_agg(to_jsonb(c)::text, ';' ORDER BY to_jsonb(c)::text) FROM userbulk.role_user_counts c),
        (SELECT string_agg(to_jsonb(q)::text, ';' ORDER BY q.id) FROM userbulk.audit_request q),
        (SELECT string_agg(to_jsonb(c)::text, ';' ORDER BY c.request_id, c.user_id) FROM userbulk.audit_change c),
        (SELECT string_agg(to_jsonb(f)::text, ';' ORDER BY to_jsonb(f)::text) FROM userbulk.audit_feed f),
        (SELECT string_agg(to_jsonb(k)::text, ';' ORDER BY to_jsonb(k)::text) FROM userbulk.audit_feed_clock k)))});
}

# The audit rows of the request answered with trace id: each as the
# changes member its answer must hold, byte for byte.
sub audit_changes {
    my ($trace) = @_;
    my $rows = db_query(qq{SELECT string_agg('"changes":{"before":' || c.before::text || ',"after":' || c.after::text || '}',
                                             '~~' ORDER BY c.user_id)
                             FROM userbulk.audit_change c JOIN userbulk.audit_request r ON r.id = c.request_id
                            WHERE r.trace_id = '$trace'});
    return split /~~/, $rows // '';
}

# The raw text of each "changes" member of an answer, in order.
sub raw_changes { return [ $_[0]->content =~ /("changes":\{"before":\{.*?\},"after":\{.*?\}\})/g ] }

sub post {
    my ($body, $query, $headers) = @_;
    return json_request(POST => ACCOUNT_UPDATE . ($query // ''), token(), $body,
                        [ 'Content-Type' => 'application/json-patch+json', @{ $headers // [] } ]);
}

sub bulk {
    my ($ops, $query) = @_;
    return json_request(POST => '/scim/v2/Bulk' . ($query // ''), token(),
                        { schemas => [ BULK_REQUEST ], Operations => $ops }, $SCIM);
}

sub patch_op {
    my ($id, @ops) = @_;
    return { method => 'PATCH', path => "/Users/$id", data => { schemas => [ PATCH_SCHEMA ], Operations => [ @ops ] } };
}

# The envelope without its trace id and message: what a dry run and a real
# run share (a dry run's message says it changed nothing).
sub sans_trace {
    (my $t = $_[0]->content) =~ s/"traceid":"[0-9a-f]+"//;
    $t =~ s/"message":"[^"]*"//;
    return $t;
}

my %change = (
    userIds => [ $DAVE, $ERIN ],
    userRoleIds => [ $REVIEWER, $VIEWER ],
    teamId => $TEAM_SALES,
    statusCode => 'INACTIVE',
    timezone => { timezoneId => 'Europe/Paris' },
    accountAccess => { resetPasswordState => $TRUE, activationDate => '2026-12-01',
                       expiryDate => '2027-12-01T09:30:00+01:00' },
    isTwoFactorEnabled => $TRUE,
);

# --- off by default (the main server) -----------------------------------------------
reset_demo();
{
    my $d0 = digest();
    my $res = post(\%change, '?diff=true', [ Prefer => 'tx=rollback' ]);
    is $res->code, 400, 'POST: UserBulkDiff off: ?diff=true refused';
    is $res->json->{errorType}, 'ValidationError', '... in the envelope (errorType ValidationError)';
    like $res->json->{message}, qr/diff/, '... saying why';
    is $res->json->{data}, undef, '... no data';
    $res = post(\%change, '?diff=true');
    is $res->code, 400, '... on a real run too';
    is digest(), $d0, '... nothing changed';

    $res = bulk([ patch_op($ALICE, { op => 'replace', path => 'displayName', value => 'A' }) ], '?dryRun=true&diff=true');
    scim_error($res, 400, 'invalidValue', 'SCIM /Bulk: UserBulkDiff off: ?diff=true refused');
    like $res->json->{detail}, qr/diff/, '... saying why';
    is digest(), $d0, '... nothing changed';

    # the dry run itself needs no directive
    $res = post(\%change, '', [ Prefer => 'tx=rollback' ]);
    is $res->code, 200, 'POST: Prefer: tx=rollback without diff: 200';
    is $res->header('Preference-Applied'), 'tx=rollback', '... Preference-Applied: tx=rollback';
    ok !grep({ exists $_->{changes} } @{ $res->json->{data} }), '... no changes member unasked';
    is digest(), $d0, '... nothing written';
}

Apache::TestRequest::module('userbulk_undo');

# --- POST: the dry run answers what the real run answers and writes ------------------
reset_demo();
{
    my $d0 = digest();
    my $dry = post(\%change, '?diff=true', [ Prefer => 'tx=rollback' ]);
    is $dry->code, 200, 'POST dry run with diff: 200' or diag $dry->content;
    is $dry->header('Preference-Applied'), 'tx=rollback', '... Preference-Applied: tx=rollback';
    is digest(), $d0, '... nothing written: no user, role, audit or feed row';
    is $dry->json->{message}, '2 users would be updated (dry run: nothing was changed)',
       '... and its message claims no change';
    my @data = @{ $dry->json->{data} };
    is scalar @data, 2, '... both targets answered';
    my $dave = $data[0]{changes};
    my %asked = map { $_ => 1 } qw(activation_date expiry_date reset_password_state role_ids status_id
                                   team_id timezone_id is_two_factor_enabled);
    ok keys %{ $dave->{after} } >= 5 && !grep({ !$asked{$_} } keys %{ $dave->{after} }),
       '... each with the fields that change (audit names), only those the change sets';
    is_deeply [ sort keys %{ $dave->{before} } ], [ sort keys %{ $dave->{after} } ], '... before and after name the same';
    is_deeply $dave->{after}{role_ids}, [ $REVIEWER, $VIEWER ], '... roles included, as the new set';
    is $dave->{before}{reset_password_state}, $FALSE, '... with the stored values before';
    is $dave->{after}{expiry_date}, '2027-12-01T08:30:00.000Z', '... and the new ones after';

    my $again = post(\%change, '?dryRun=true&diff=true');
    is $again->code, 200, '?dryRun=true: the same dry run';
    ok !defined $again->header('Preference-Applied'), '... (no Preference-Applied: no Prefer was sent)';
    is sans_trace($again), sans_trace($dry), '... the same answer, byte for byte';
    is $again->json->{message}, $dry->json->{message}, '... the same message (a dry run, nothing changed)';
    is digest(), $d0, '... nothing written';

    my $real = post(\%change, '?diff=true');
    is $real->code, 200, 'the real run with diff: 200';
    ok !defined $real->header('Preference-Applied'), '... no Preference-Applied';
    isnt digest(), $d0, '... applied';
    is $real->json->{message}, '2 users updated', "... the seed's message";
    is sans_trace($real), sans_trace($dry), 'the dry run answered exactly what the real run answers, changes included';
    my @audit = audit_changes($real->header('X-Trace-Id'));
    is scalar @audit, 2, 'two audit rows';
    is_deeply [ sort @{ raw_changes($real) } ], [ sort @audit ], "the real run's changes are its audit rows, byte for byte";
    is_deeply [ sort @{ raw_changes($dry) } ], [ sort @audit ], "... and so were the dry run's";

    # a target already as asked changes nothing, and says so by no changes
    my $d1 = digest();
    my $none = post(\%change, '?diff=true', [ Prefer => 'tx=rollback' ]);
    is $none->code, 200, 'the same change again, dry: 200';
    ok !grep({ exists $_->{changes} } @{ $none->json->{data} }), '... nobody would change: no changes';
    $none = post(\%change, '?diff=true');
    is $none->code, 200, '... for real: 200';
    ok !grep({ exists $_->{changes} } @{ $none->json->{data} }), '... no changes';
    is digest(), $d1, '... nothing written';
}

# --- POST: one target, personal fields; only the fields that differ ------------------------
reset_demo();
{
    my %one = (userId => $BOB, firstName => 'Robert', email => 'robert@acme.example',
               phoneNumber1 => '', isSSOUser => $FALSE);
    my $d0 = digest();
    my $dry = post(\%one, '?diff=true', [ Prefer => 'tx=rollback' ]);
    is $dry->code, 200, 'one target, dry with diff: 200' or diag $dry->content;
    is digest(), $d0, '... nothing written';
    my $c = $dry->json->{data}[0]{changes};
    is_deeply $c->{after}, { first_name => 'Robert', email => 'robert@acme.example', phone1 => undef },
              '... only what differs from the stored user (isSSOUser is as asked already; "" clears)';
    ok exists $c->{before}{phone1} && defined $c->{before}{phone1}, '... the cleared phone as it was';
    my $real = post(\%one, '?diff=true');
    is $real->code, 200, '... the real run';
    is_deeply raw_changes($real), raw_changes($dry), '... the same changes, byte for byte';
    is_deeply raw_changes($real), [ audit_changes($real->header('X-Trace-Id')) ], '... its audit row';
}

# --- POST: bad input is refused as always; the dry run checks and locks as a real run --------
reset_demo();
{
    my $d0 = digest();
    my $res = post({ %change, userIds => [ $DAVE, '20000000-0000-4000-8000-0000000000ff' ] }, '?diff=true',
                   [ Prefer => 'tx=rollback' ]);
    is $res->code, 400, 'dry run, an unknown target: 400';
    is $res->json->{errorType}, 'NotFound', '... NotFound';
    $res = post({ %change, userRoleIds => [ '10000000-0000-4000-8000-0000000000ff' ] }, '?diff=true',
                [ Prefer => 'tx=rollback' ]);
    is $res->code, 400, 'dry run, an unknown role: 400';
    like $res->json->{message}, qr/unknown_role|no role/, '... unknown_role';
    $res = post({ userIds => [ $DAVE ], isSSOUser => 'yes' }, '?dryRun=true&diff=true');
    is $res->code, 400, "dry run, a field of the wrong type: 400";
    is $res->json->{errorType}, 'ValidationError', '... ValidationError';
    $res = post({ userId => $DAVE, firstName => 'D' }, '?diff=true', [ Prefer => 'tx=rollback', 'If-Match' => '"7"' ]);
    is $res->code, 409, 'dry run, a stale If-Match: 409';
    is $res->json->{errorType}, 'Conflict', '... Conflict';
    $res = post(\%change, '?diff=maybe');
    is $res->code, 400, '?diff=maybe: 400';
    like $res->json->{message}, qr/diff must be true or false/, '... invalid_query, naming diff';
    $res = post(\%change, '?dryRun=maybe');
    is $res->code, 400, '?dryRun=maybe: 400 (never taken for a real run)';
    is digest(), $d0, 'none of these changed anything';
}

# --- POST: the dry run waits for a target's lock, and decides on the row as committed ------
reset_demo();
{
    my $dir = tempdir(CLEANUP => 1);
    my $writer = lock_session("UPDATE userbulk.users SET is_two_factor_enabled = true, version = version + 1
                                WHERE id = '$DAVE'");
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $res = post({ userIds => [ $DAVE ], teamId => $TEAM_SALES, isTwoFactorEnabled => $TRUE },
                       '?diff=true', [ Prefer => 'tx=rollback' ]);
        open my $fh, '>', "$dir/dry" or POSIX::_exit(1);
        print $fh $res->content;
        close $fh;
        POSIX::_exit(0);
    }
    ok wait_until(30, sub { db_query("SELECT count(*) FROM pg_locks WHERE NOT granted") > 0 }),
       'the dry run waits for the lock a writer holds on its target';
    ok $writer->{commit}->(), 'the writer commits';
    waitpid $pid, 0;
    open my $fh, '<', "$dir/dry" or die "no response recorded\n";
    my $got = JSON::PP->new->decode(do { local $/; <$fh> });
    is_deeply [ sort keys %{ $got->{data}[0]{changes}{after} // {} } ], [ 'team_id' ],
              "... then decides on the writer's row: two-factor is already on, only the team would change";
    is db_query("SELECT team_id IS NULL OR team_id <> '$TEAM_SALES' FROM userbulk.users WHERE id = '$DAVE'"), 't',
       '... and writes nothing';
}

# --- SCIM /Bulk: the preview is what the real run writes ------------------------------
reset_demo();
{
    my @ops = (
        patch_op($ALICE, { op => 'replace', path => 'displayName', value => 'Alice A.' },
                         { op => 'replace', path => 'active', value => $FALSE }),
        { method => 'PUT', path => "/Users/$BOB",
          data => { schemas => [ USER_SCHEMA ], userName => 'bob.acme', emails => [ { value => 'bob@acme.example' } ],
                    name => { givenName => 'Robert', familyName => 'Baker' } } },
        patch_op($ALICE, { op => 'replace', path => 'name.givenName', value => 'Alicia' }),    # folded into op 0
        { method => 'DELETE', path => "/Users/$CAROL" },
        patch_op('20000000-0000-4000-8000-0000000000ff', { op => 'replace', path => 'displayName', value => 'x' }),
        { method => 'POST', path => '/Users', bulkId => 'n1',
          data => { schemas => [ USER_SCHEMA ], userName => 'nina.acme', emails => [ { value => 'nina@acme.example' } ] } },
        patch_op($DAVE, { op => 'replace', path => 'userName', value => 'dave.acme' }),  # as stored: no change
    );
    my $d0 = digest();
    my $dry = bulk(\@ops, '?dryRun=true&diff=true');
    is $dry->code, 200, 'SCIM /Bulk dry run with diff: 200' or diag $dry->content;
    is digest(), $d0, '... nothing written';
    my @r = @{ $dry->json->{Operations} };
    is join(',', map { $_->{status} } @r), '200,200,200,204,404,201,200', '... the statuses of a real run';
    is_deeply [ map { exists $_->{changes} ? 1 : 0 } @r ], [ 1, 1, 0, 1, 0, 1, 0 ],
              '... changes on each operation that changes its user; once per user (the folded one has none), none for a refusal or no change';
    is_deeply $r[0]{changes}{after}, { displayName => 'Alice A.', firstName => 'Alicia', lockedOut => $TRUE },
              '... a user patched twice: the whole change (audit names)';
    is_deeply $r[3]{changes}{after}, {}, '... a deletion: after {}';
    is $r[3]{changes}{before}{userName}, 'carol.acme', '... before: every field';
    ok exists $r[5]{changes}{after}{roles}, '... a creation: the roles it is given';

    my $real = bulk(\@ops, '?diff=true');
    is $real->code, 200, 'the real run with diff: 200';
    is join(',', map { $_->{status} } @{ $real->json->{Operations} }), '200,200,200,204,404,201,200', '... the same statuses';
    isnt digest(), $d0, '... applied';
    is_deeply raw_changes($real), raw_changes($dry), "the dry run's changes are the real run's, byte for byte";
    my @audit = audit_changes($real->header('X-Trace-Id'));
    is scalar @audit, 4, 'four audit rows';
    is_deeply [ sort @{ raw_changes($real) } ], [ sort @audit ], '... and they are the audit rows, byte for byte';

    # without diff, nothing of it
    my $d1 = digest();
    my $plain = bulk([ patch_op($ERIN, { op => 'replace', path => 'displayName', value => 'E' }) ], '?dryRun=true');
    is $plain->code, 200, 'a dry run without diff: 200';
    ok !exists $plain->json->{Operations}[0]{changes}, '... no changes';
    is digest(), $d1, '... nothing written';
    my $bad = bulk([ patch_op($ERIN, { op => 'replace', path => 'displayName', value => 'E' }) ], '?diff=maybe');
    scim_error($bad, 400, 'invalidValue', '?diff=maybe');
    is digest(), $d1, '... nothing written';
}

# --- SCIM /Bulk: atomic, one operation fails: nothing applied, no changes -------------------
reset_demo();
{
    my $d0 = digest();
    my $res = bulk([ patch_op($ALICE, { op => 'replace', path => 'displayName', value => 'A' }),
                     patch_op('20000000-0000-4000-8000-0000000000ff', { op => 'replace', path => 'displayName', value => 'x' }) ],
                   '?atomic=true&diff=true');
    is $res->code, 200, 'atomic with a failure: 200 (BulkResponse)';
    is join(',', map { $_->{status} } @{ $res->json->{Operations} }), '424,404', '... 424 and the refusal';
    ok !grep({ exists $_->{changes} } @{ $res->json->{Operations} }), '... no changes: nothing applied';
    is digest(), $d0, '... nothing written';
}

Apache::TestRequest::module('default');
done_testing();
