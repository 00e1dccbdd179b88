# POST /api/v1/account/users/update: every rule of CONTRACT.md for the
# second API, and the promise that both APIs change the same directory.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use JSON::PP ();
use UserBulk::Test qw(:all);

my $TRUE = JSON::PP::true;
my $FALSE = JSON::PP::false;
my $ALICE = '20000000-0000-4000-8000-000000000001';
my $BOB   = '20000000-0000-4000-8000-000000000002';
my $DAVE  = '20000000-0000-4000-8000-000000000004';
my $ERIN  = '20000000-0000-4000-8000-000000000005';
my $GINA  = '20000000-0000-4000-8000-000000000011';
my $REVIEWER = '10000000-0000-4000-8000-000000000002';
my $VIEWER   = '10000000-0000-4000-8000-000000000003';
my $GLOBEX_ADMIN = '10000000-0000-4000-8000-000000000011';
my $TEAM_SALES = '30000000-0000-4000-8000-000000000003';
my $TEAM_GLOBEX = '30000000-0000-4000-8000-000000000012';
my $INACTIVE = '40000000-0000-4000-8000-000000000002';

sub post {
    my ($body, $headers) = @_;
    return json_request(POST => ACCOUNT_UPDATE, token(),
                        $body, $headers // [ 'Content-Type' => 'application/json-patch+json' ]);
}

sub state_of {
    my ($id) = @_;
    return db_query("SELECT version || ' ' || coalesce(email, '') || ' ' || coalesce(team_id::text, '-')
                            || ' ' || is_sso_user || ' ' || coalesce((SELECT string_agg(role_id::text, ',' ORDER BY role_id)
                            FROM userbulk.user_roles WHERE user_id = u.id), '-')
                       FROM userbulk.users u WHERE id = '$id'");
}

sub audit_count { db_query("SELECT count(*) FROM userbulk.audit") }

# A refusal: 400 envelope with the given errorType, message matching, and
# nothing changed in the directory.
sub refused {
    my ($body, $type, $message_re, $name, @ids) = @_;
    my @before = map { state_of($_) } @ids;
    my $n = audit_count();
    my $res = post($body);
    is $res->code, 400, "$name: 400";
    my $e = $res->json // {};
    is $e->{errorType}, $type, "$name: errorType $type";
    ok $e->{isError}, "$name: isError";
    is $e->{messageCode}, 400, "$name: messageCode";
    like $e->{message} // '', $message_re, "$name: the message names the problem";
    is $e->{data}, undef, "$name: no data";
    is_deeply [ map { state_of($_) } @ids ], \@before, "$name: nothing changed";
    is audit_count(), $n, "$name: no audit row";
    return $e;
}

reset_demo();

# --- the happy path: one change applied to every target ----------------------
{
    my $res = post({
        userIds => [ $DAVE, $ERIN ],
        userRoleIds => [ $REVIEWER, $VIEWER ],
        teamId => $TEAM_SALES,
        statusCode => 'INACTIVE',
        timezone => { timezoneId => 'Europe/Paris' },
        accountAccess => { resetPasswordState => $TRUE, activationDate => '2026-12-01',
                           expiryDate => '2027-12-01T09:30:00+01:00' },
        isSSOUser => $TRUE, isEmployee => $FALSE, isTwoFactorEnabled => $TRUE,
        keyword => 'ignored', someFutureField => 1,
    });
    is $res->code, 200, 'uniform change: 200';
    like $res->header('Content-Type'), qr{^application/json}, 'JSON by default';
    my $e = $res->json;
    is $e->{isError}, $FALSE, 'isError false';
    is $e->{messageCode}, 200, 'messageCode 200';
    is $e->{errorType}, undef, 'errorType null on success';
    is $e->{traceid}, $res->header('X-Trace-Id'), 'traceid is the X-Trace-Id';
    is scalar @{ $e->{data} }, 2, 'one state per target';
    is_deeply [ map { $_->{userId} } @{ $e->{data} } ], [ $DAVE, $ERIN ], 'in the order of userIds';
    for my $u (@{ $e->{data} }) {
        is_deeply [ map { $_->{userRoleId} } @{ $u->{userRoleModels} } ], [ $REVIEWER, $VIEWER ], "$u->{userId}: roles replaced";
        is $u->{team}{accountOrgUnitId}, $TEAM_SALES, "$u->{userId}: team";
        is $u->{statusCode}, 'INACTIVE', "$u->{userId}: status by code";
        is $u->{status}{id}, $INACTIVE, "$u->{userId}: status object";
        is $u->{statusDetails}{statusId}, 2, "$u->{userId}: statusDetails";
        is $u->{timezone}{timezoneId}, 'Europe/Paris', "$u->{userId}: time zone";
        is $u->{accountAccess}{resetPasswordState}, $TRUE, "$u->{userId}: resetPasswordState";
        is $u->{accountAccess}{activationDate}, '2026-12-01T00:00:00.000Z', "$u->{userId}: activation date in UTC";
        is $u->{accountAccess}{expiryDate}, '2027-12-01T08:30:00.000Z', "$u->{userId}: expiry date, offset applied";
        is $u->{activationDateString}, '2026-12-01', "$u->{userId}: activationDateString";
        is $u->{expiryDateString}, '2027-12-01', "$u->{userId}: expiryDateString";
        is_deeply [ @$u{qw(isSSOUser isEmployee isTwoFactorEnabled)} ], [ $TRUE, $FALSE, $TRUE ], "$u->{userId}: flags";
    }
    my $dave = $e->{data}[0];
    is $dave->{email}, 'dave@acme.example', 'untouched fields keep their values';
    is $dave->{firstName}, 'Dave', 'personal fields untouched';
    is $dave->{employeeCode}, 'E-0004', 'employeeCode untouched';
    for my $key (qw(userRoleModels activationDateString expiryDateString responseDescription userId name
                    firstName middleName lastName phoneNumber1 phoneNumber2 accountAccess status email
                    timezone profilePic userIds isSSOUser userRoles statusCode team loginName
                    statusDetails isEmployee employeeCode isTwoFactorEnabled)) {
        ok exists $dave->{$key}, "the user model has $key";
    }
    is $dave->{middleName}, undef, 'nulls are null';
    my $reviewer = $dave->{userRoleModels}[0];
    is $reviewer->{userRoleName}, 'Reviewer', 'role name';
    is $reviewer->{noofUsers}, 3, "noofUsers counts the role's users in the account";
    is $reviewer->{users}, undef, 'users is not expanded';
    is $reviewer->{isLicensed}, $TRUE, 'isLicensed';
    is $reviewer->{isDefault}, $FALSE, 'isDefault';
    my $p = $reviewer->{privileges}[0];
    is $p->{privilegeCode}, 'CERT_REVIEW', 'privilege';
    is $p->{accessType}{accessTypeName}, 'Data', 'access type';
    is $p->{accessLevel}{accessLevelName}, 'Write', 'access level';
    is $p->{accessMode}{accessModeName}, 'Allow', 'access mode';
    is db_query("SELECT count(*) FROM userbulk.audit WHERE trace_id = '$e->{traceid}' AND endpoint = 'POST /api/v1/account/users/update'"), 2,
       'one audit row per changed user, with the trace id';

    my $n = audit_count();
    my $v = db_query("SELECT version FROM userbulk.users WHERE id = '$DAVE'");
    $res = post({ userIds => [ $DAVE ], statusDetails => { statusId => 2 }, isSSOUser => $TRUE });
    is $res->code, 200, 'a change to the stored values is a success';
    is db_query("SELECT version FROM userbulk.users WHERE id = '$DAVE'"), $v, 'that writes nothing: same version';
    is audit_count(), $n, 'and no audit row';
}

# --- the audit trail: per target, exactly the fields that changed ---------------------
{
    reset_demo();
    for my $id ($DAVE, $ERIN) {
        is post({ userId => $id, userRoleIds => [ $VIEWER ], isTwoFactorEnabled => $FALSE,
                  isSSOUser => ($id eq $DAVE ? $TRUE : $FALSE) })->code, 200, "$id: a known state";
    }
    my $audit = sub {
        my ($trace) = @_;
        my $json = JSON::PP->new;
        return { map { $_->[0] => [ $json->decode($_->[1]), $json->decode($_->[2]) ] }
                 db_query("SELECT user_id, before::text, after::text FROM userbulk.audit WHERE trace_id = '$trace'") };
    };
    # isSSOUser changes erin only, isTwoFactorEnabled both, the roles neither
    my $res = post({ userIds => [ $DAVE, $ERIN ], userRoleIds => [ $VIEWER ], isSSOUser => $TRUE,
                     isTwoFactorEnabled => $TRUE });
    is $res->code, 200, 'a change that some targets already have';
    is_deeply $audit->($res->json->{traceid}),
              { $DAVE => [ { is_two_factor_enabled => $FALSE }, { is_two_factor_enabled => $TRUE } ],
                $ERIN => [ { is_sso_user => $FALSE, is_two_factor_enabled => $FALSE },
                           { is_sso_user => $TRUE, is_two_factor_enabled => $TRUE } ] },
              'each audit row holds the fields that changed for its user, before and after';
    # every field set changes on both
    $res = post({ userIds => [ $DAVE, $ERIN ], userRoleIds => [ $VIEWER, $REVIEWER ], isSSOUser => $FALSE,
                  accountAccess => { activationDate => '2020-01-02T03:04:05.678Z' } });
    is $res->code, 200, 'a change of every field it sets';
    is db_query("SELECT activation_date = '2020-01-02T03:04:05.678Z' FROM userbulk.users WHERE id = '$DAVE'"), 't',
       'the date is stored to the millisecond';
    is_deeply $audit->($res->json->{traceid}),
              { map { $_ => [ { role_ids => [ $VIEWER ], is_sso_user => $TRUE, activation_date => undef },
                              { role_ids => [ $REVIEWER, $VIEWER ], is_sso_user => $FALSE,
                                activation_date => '2020-01-02T03:04:05.678Z' } ] } $DAVE, $ERIN },
              'the same with every field changing: roles sorted by id, dates as answered';
}

# --- absent or null leaves values; userId alone -------------------------------------
{
    reset_demo();
    my $res = post({ userIds => undef, userId => $ALICE, userRoleIds => undef, teamId => undef, isSSOUser => $TRUE,
                     status => undef, accountAccess => { expiryDate => undef } });
    is $res->code, 200, 'userId alone when userIds is null';
    my $a = $res->json->{data}[0];
    is $a->{userId}, $ALICE, 'the one target';
    is scalar @{ $a->{userRoleModels} }, 2, 'null userRoleIds leaves the roles';
    is $a->{team}{accountOrgUnitCode}, 'ENG', 'null teamId leaves the team';
    is $a->{statusCode}, 'ACTIVE', 'null status leaves the status';
    is $res->json->{data}[0]{isSSOUser}, $TRUE, 'the field sent is applied';
    $res = post({ userIds => [], userId => $BOB, userRoleIds => [] });
    is $res->code, 200, 'userId when userIds is empty';
    is_deeply $res->json->{data}[0]{userRoleModels}, [], 'an empty userRoleIds removes every role';
    $res = post({ userRoles => [ { userRoleId => $REVIEWER } ], userId => $BOB, team => { accountOrgUnitId => $TEAM_SALES } });
    is $res->code, 200, 'userRoles objects and team.accountOrgUnitId';
    is $res->json->{data}[0]{userRoles}[0], $REVIEWER, 'userRoles applied';
}

# --- personal fields: one target only -----------------------------------------------
{
    reset_demo();
    my $res = post({ userId => $ALICE, firstName => 'Alicia', name => 'Alicia Archer', phoneNumber1 => '+1 555 0100',
                     email => 'alicia@acme.example', loginName => 'alicia', employeeCode => 'E-1', profilePic => 'https://pics.example/a.png' });
    is $res->code, 200, 'personal fields with one target';
    my $a = $res->json->{data}[0];
    is_deeply [ @$a{qw(firstName name phoneNumber1 email loginName employeeCode profilePic)} ],
              [ 'Alicia', 'Alicia Archer', '+1 555 0100', 'alicia@acme.example', 'alicia', 'E-1', 'https://pics.example/a.png' ],
              'personal fields applied';
    # (the answer is built from what the change sets, not read back: the
    # stored row must say the same)
    is db_query("SELECT concat_ws('|', first_name, display_name, phone1, email, login_name, employee_code, profile_pic)
                   FROM userbulk.users WHERE id = '$ALICE'"),
       'Alicia|Alicia Archer|+1 555 0100|alicia@acme.example|alicia|E-1|https://pics.example/a.png',
       '... as stored';
    is $a->{accountAccess}{loginName}, 'alicia', 'accountAccess.loginName follows';
    $res = post({ userId => $ALICE, phoneNumber1 => '' });
    is $res->json->{data}[0]{phoneNumber1}, undef, 'an empty string clears a personal field';

    refused({ userIds => [ $ALICE, $BOB ], isSSOUser => $TRUE, firstName => 'Same' }, 'ValidationError',
            qr/personal/, 'personal fields with two targets', $ALICE, $BOB);
    refused({ userId => $ALICE, email => 'BOB@acme.example' }, 'ValidationError', qr/email/, 'an email taken by another user', $ALICE);
    refused({ userId => $ALICE, email => 'not-an-email' }, 'ValidationError', qr/email/, 'a malformed email', $ALICE);
    refused({ userId => $ALICE, loginName => 'a', accountAccess => { loginName => 'b' } }, 'ValidationError',
            qr/loginName/, 'loginName spellings disagreeing', $ALICE);
}

# --- all or nothing ---------------------------------------------------------------------
{
    reset_demo();
    my $unknown = '20000000-0000-4000-8000-0000000000ff';
    my $e1 = refused({ userIds => [ $ALICE, $unknown ], isSSOUser => $TRUE }, 'NotFound', qr/\Q$unknown\E/,
                     'one unknown id among valid ones', $ALICE);
    my $e2 = refused({ userIds => [ $ALICE, $GINA ], isSSOUser => $TRUE }, 'NotFound', qr/\Q$GINA\E/,
                     "another account's id", $ALICE, $GINA);
    ($e1->{message} =~ s/\Q$unknown\E/ID/r) eq ($e2->{message} =~ s/\Q$GINA\E/ID/r)
        ? pass("another account's id answers exactly as an unknown id")
        : fail("another account's id answers exactly as an unknown id");
    refused({ userIds => [ $ALICE, $ALICE ], isSSOUser => $TRUE }, 'ValidationError', qr/userIds\[1\]/, 'a repeated id', $ALICE);
    refused({ userIds => [ 'alice.acme' ], isSSOUser => $TRUE }, 'ValidationError', qr/userIds\[0\]/, 'a malformed id', $ALICE);
    refused({ userIds => undef, isSSOUser => $TRUE }, 'ValidationError', qr/userIds/, 'no target');
    refused({ userIds => [ $ALICE, $BOB ], userRoleIds => [ $REVIEWER, $GLOBEX_ADMIN ] }, 'ValidationError', qr/role/,
            "another account's role", $ALICE, $BOB);
    refused({ userIds => [ $ALICE ], teamId => $TEAM_GLOBEX }, 'ValidationError', qr/team/, "another account's team", $ALICE);
    refused({ userIds => [ $ALICE ], statusCode => 'GONE' }, 'ValidationError', qr/status/, 'an unknown status', $ALICE);
    refused({ userIds => [ $ALICE ], statusCode => 'ACTIVE', statusDetails => { statusId => 2 } }, 'ValidationError',
            qr/status/, 'status spellings naming different statuses', $ALICE);
    refused({ userIds => [ $ALICE ], timezone => { timezoneId => 'Mars/Olympus' } }, 'ValidationError', qr/time zone/,
            'an unknown time zone', $ALICE);
    refused({ userIds => [ $ALICE ], teamId => '30000000-0000-4000-8000-000000000002', team => { accountOrgUnitId => $TEAM_SALES } },
            'ValidationError', qr/team/, 'team spellings disagreeing', $ALICE);
    refused({ userIds => [ $ALICE ], accountAccess => { activationDate => '2026-02-30' } }, 'ValidationError',
            qr/activationDate/, 'a date that does not exist', $ALICE);
    refused({ userIds => [ $ALICE ], accountAccess => { expiryDate => '31/12/2026' } }, 'ValidationError',
            qr/expiryDate/, 'a date not in ISO 8601', $ALICE);
    refused({ userIds => [ $ALICE, $BOB ], accountAccess => { activationDate => '2027-01-01', expiryDate => '2026-01-01' } },
            'ValidationError', qr/expiry/i, 'expiry before activation', $ALICE, $BOB);
    refused({ userIds => [ $ALICE ], accountAccess => { expiryDate => '2025-01-01' } }, 'ValidationError', qr/expiry/i,
            'expiry before the stored activation date', $ALICE);
    my %wrong = (isSSOUser => 'yes', isEmployee => 1, userRoleIds => 'x', teamId => 5,
                 accountAccess => { resetPasswordState => 'no' }, team => { levelOrdinal => 'one' },
                 statusDetails => { statusId => '1' }, timezone => { supportsDaylightSavingTime => 'y' },
                 email => [], name => {}, status => 'ACTIVE');
    for my $field (sort keys %wrong) {
        my $path = ref $wrong{$field} eq 'HASH' && %{ $wrong{$field} }
                 ? $field . '.' . (keys %{ $wrong{$field} })[0] : $field;
        refused({ userIds => [ $ALICE ], $field => $wrong{$field} }, 'ValidationError', qr/\Q$path\E/,
                "wrong type of $path is named", $ALICE);
    }
    my @many = map { sprintf '20000000-0000-4000-8000-%012d', $_ } 1 .. 1001;
    refused({ userIds => \@many, isSSOUser => $TRUE }, 'ValidationError', qr/at most 1000/, '1001 targets');
}

# --- the request as a whole ------------------------------------------------------------------
{
    reset_demo();
    my $res = post({ userId => $ALICE, isSSOUser => $TRUE }, [ 'Content-Type' => 'application/json' ]);
    is $res->code, 200, 'application/json is accepted too';
    $res = post({ userId => $ALICE }, [ 'Content-Type' => 'text/plain' ]);
    is $res->code, 415, 'text/plain body: 415';
    is $res->json->{messageCode}, 415, '415 in the envelope';
    $res = post('[]');
    is $res->code, 400, 'an array body: 400';
    is $res->json->{errorType}, 'ValidationError', 'ValidationError';
    $res = post('{"userId":');
    is $res->code, 400, 'truncated JSON: 400';
    $res = post({ userId => $ALICE, isSSOUser => $TRUE }, [ 'Content-Type' => 'application/json', Accept => 'text/plain' ]);
    is $res->code, 200, 'Accept: text/plain';
    like $res->header('Content-Type'), qr{^text/plain}, 'answered as text/plain';
    is $res->json->{data}[0]{userId}, $ALICE, 'the same JSON inside';
    $res = post({ userId => $ALICE }, [ 'Content-Type' => 'application/json', Accept => 'text/plain, application/json' ]);
    like $res->header('Content-Type'), qr{^application/json}, 'JSON when Accept also asks for JSON';
    for my $method (qw(GET PUT DELETE)) {
        $res = json_request($method => ACCOUNT_UPDATE, token(), $method eq 'GET' ? undef : { userId => $ALICE });
        is $res->code, 405, "$method: 405";
        is $res->header('Allow'), 'POST', "$method: Allow: POST";
        is $res->json->{errorType}, 'ValidationError', "$method: envelope";
    }
}

# --- both APIs change the same directory ----------------------------------------------------
{
    reset_demo();
    my $res = json_request(PUT => PUT_USERS, token(), [ { userName => 'bob.acme', email => 'robert@acme.example',
                                                          name => { firstName => 'Robert' }, roles => [ { roleName => 'Reviewer' } ] } ]);
    is $res->code, 200, 'PUT /users changes bob';
    $res = post({ userId => $BOB });
    my $b = $res->json->{data}[0];
    is $b->{email}, 'robert@acme.example', 'the POST API sees the email PUT wrote';
    is $b->{firstName}, 'Robert', 'and the first name';
    is_deeply [ map { $_->{userRoleName} } @{ $b->{userRoleModels} } ], [ 'Reviewer' ], 'and the roles';
    $res = post({ userId => $BOB, userRoleIds => [ $VIEWER ] });
    is $res->code, 200, 'the POST API changes bob\'s roles';
    my $v = db_query("SELECT version FROM userbulk.users WHERE id = '$BOB'");
    $res = json_request(PUT => PUT_USERS, token(), [ { userName => 'bob.acme', email => 'robert@acme.example',
                                                       name => { firstName => 'Robert' }, roles => [ { roleId => $VIEWER } ] } ]);
    is $res->json->{successResults}[0]{version}, $v, 'PUT /users sees the roles POST wrote (nothing to change)';
    is $res->json->{successResults}[0]{userId}, $BOB, 'same user id in both APIs';
}

is audit_chain_drift(), 0, "after the POSTs, every user's history is one chain from its row (018)";

done_testing();
