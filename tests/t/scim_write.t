# SCIM 2.0, writes on one user (RFC 7644 sections 3.5, 3.6): PUT, PATCH
# (Okta's deactivate and reactivate, Microsoft Entra's Add/Replace/Remove,
# as their public provisioning documentation shows them), DELETE, If-Match,
# tenancy, the audit trail, and the seed APIs seeing the changes (and SCIM
# seeing theirs).
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use JSON::PP ();
use URI::Escape ();
use UserBulk::Test qw(:all);
use UserBulk::Scim qw(:all);

my $TRUE = JSON::PP::true;
my $FALSE = JSON::PP::false;
my $SCIM = [ Accept => 'application/scim+json', 'Content-Type' => 'application/scim+json' ];
use constant PATCH_SCHEMA => 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

reset_demo();

sub scim {
    my ($method, $path, $body, %o) = @_;
    return json_request($method, "/scim/v2$path", exists $o{token} ? $o{token} : token(),
                        $body, [ @$SCIM, @{ $o{headers} // [] } ]);
}

# The userNames a GET /Users?filter= lists, comma-separated.
sub names_by_filter {
    my ($filter) = @_;
    my $res = json_request(GET => '/scim/v2/Users?filter=' . URI::Escape::uri_escape_utf8($filter), token(),
                           undef, $SCIM);
    return join ',', map { $_->{userName} } @{ ($res->json // {})->{Resources} // [] };
}

sub patch_body { return { schemas => [ PATCH_SCHEMA ], Operations => [ @_ ] } }

sub create {
    my ($name, %o) = @_;
    my $res = scim(POST => '/Users', { schemas => [ USER_SCHEMA ], userName => $name,
                                       name => { givenName => 'Given', familyName => 'Family' },
                                       emails => [ { value => "$name\@scim.example", type => 'work', primary => $TRUE } ],
                                       %o });
    is $res->code, 201, "created $name" or diag $res->content;
    return $res->json;
}

sub audit_of {
    my ($res) = @_;
    my $trace = $res->header('X-Trace-Id');
    return [ map { { endpoint => $_->[0], user => $_->[1], before => JSON::PP->new->decode($_->[2]),
                     after => JSON::PP->new->decode($_->[3]) } }
             db_query("SELECT endpoint, user_id, before::text, after::text FROM userbulk.audit "
                      . "WHERE trace_id = '$trace' ORDER BY user_id") ];
}

# --- PUT: the whole user -------------------------------------------------------
my $u = create('put.scim', phoneNumbers => [ { value => '+1 555 0100', type => 'work' } ]);
{
    my $res = scim(PUT => "/Users/$u->{id}", { schemas => [ USER_SCHEMA ], id => 'ignored', userName => 'put.scim',
                                              name => { givenName => 'Petra' }, displayName => 'Petra P',
                                              emails => [ { value => 'petra@scim.example' } ],
                                              meta => { version => 'W/"77"' }, externalId => 'x1' });
    is $res->code, 200, 'PUT: 200' or diag $res->content;
    my $b = $res->json // {};
    is $res->header('ETag'), 'W/"2"', '... ETag of the new version';
    is $b->{meta}{version}, 'W/"2"', '... meta.version';
    is $b->{id}, $u->{id}, '... id readOnly (ignored)';
    scim_valid_ok($b, 'the PUT\'s answer');
    is $b->{externalId}, 'x1', '... externalId stored';
    is_deeply $b->{name}, { givenName => 'Petra' }, '... familyName gone: PUT replaces';
    ok !exists $b->{phoneNumbers}, '... the phone numbers too';
    is $b->{emails}[0]{value}, 'petra@scim.example', '... the new address';
    is $b->{active}, $TRUE, '... active (absent: true)';
    is_deeply scim(GET => "/Users/$u->{id}")->json, $b, 'GET answers the same';
    is_deeply audit_of($res),
        [ { endpoint => 'scim', user => $u->{id},
            before => { email => 'put.scim@scim.example', lastName => 'Family', firstName => 'Given',
                        displayName => undef, phoneNumber => '+1 555 0100', externalId => undef },
            after => { email => 'petra@scim.example', lastName => undef, firstName => 'Petra',
                       displayName => 'Petra P', phoneNumber => undef, externalId => 'x1' } } ],
        'the audit row: before and after of the changed fields only';

    $res = scim(PUT => "/Users/$u->{id}", { schemas => [ USER_SCHEMA ], userName => 'put.scim',
                                           name => { givenName => 'Petra' }, displayName => 'Petra P',
                                           emails => [ { value => 'petra@scim.example' } ],
                                           externalId => 'x1' });
    is $res->code, 200, 'the same PUT again: 200';
    is $res->header('ETag'), 'W/"2"', '... the version stays';
    is_deeply audit_of($res), [], '... and no audit row';

    my $e = scim_error(scim(PUT => "/Users/$u->{id}", { schemas => [ USER_SCHEMA ], userName => 'renamed.scim',
                                                       emails => [ { value => 'petra@scim.example' } ] }),
                       400, 'mutability', 'PUT of another userName');
    like $e->{detail}, qr/^userName .*immutable/, '... names userName';
    $e = scim_error(scim(PUT => "/Users/$u->{id}", { schemas => [ USER_SCHEMA ], userName => 'put.scim',
                                                    emails => [ { value => 'ALICE@acme.example' } ] }),
                    409, 'uniqueness', 'PUT of an address another user has');
    like $e->{detail}, qr/^emails /, '... names emails';
    $e = scim_error(scim(PUT => "/Users/$u->{id}", { schemas => [ USER_SCHEMA ], userName => 'put.scim' }),
                    400, 'invalidValue', 'PUT without emails');
    like $e->{detail}, qr/^emails /, '... names emails';
    scim_error(scim(PUT => "/Users/$u->{id}", { userName => 'put.scim' }), 400, 'invalidSyntax', 'PUT without schemas');
    is scim(GET => "/Users/$u->{id}")->header('ETag'), 'W/"2"', 'the refusals changed nothing';
}

# --- If-Match --------------------------------------------------------------------
{
    my $body = { schemas => [ USER_SCHEMA ], userName => 'put.scim', displayName => 'Match',
                 emails => [ { value => 'petra@scim.example' } ], externalId => 'x1' };
    my $e = scim_error(scim(PUT => "/Users/$u->{id}", $body, headers => [ 'If-Match' => 'W/"1"' ]),
                       412, undef, 'If-Match of an older version');
    like $e->{detail}, qr/version 2, not 1/, '... says both versions';
    scim_error(scim(PUT => "/Users/$u->{id}", $body, headers => [ 'If-Match' => 'garbage' ]),
               412, undef, 'If-Match naming no version');
    my $res = scim(PUT => "/Users/$u->{id}", $body, headers => [ 'If-Match' => 'W/"2"' ]);
    is $res->code, 200, 'If-Match W/"2": 200';
    is $res->header('ETag'), 'W/"3"', '... ETag W/"3"';
    $res = scim(PATCH => "/Users/$u->{id}", patch_body({ op => 'replace', path => 'displayName', value => 'Strong' }),
                headers => [ 'If-Match' => '"3"' ]);
    is $res->code, 200, 'If-Match "3" (strong form): 200';
    $res = scim(PATCH => "/Users/$u->{id}", patch_body({ op => 'replace', path => 'displayName', value => 'Star' }),
                headers => [ 'If-Match' => '*' ]);
    is $res->code, 200, 'If-Match *: 200';
    scim_error(scim(DELETE => "/Users/$u->{id}", undef, headers => [ 'If-Match' => 'W/"3"' ]),
               412, undef, 'DELETE with an older If-Match');
    is scim(GET => "/Users/$u->{id}")->code, 200, '... the user stays';
}

# --- PATCH: Okta's deactivate and reactivate (its SCIM 2.0 guide) -------------------
my $okta = create('okta.scim');
{
    my $res = scim(PATCH => "/Users/$okta->{id}",
                   { schemas => [ PATCH_SCHEMA ], Operations => [ { op => 'replace', value => { active => $FALSE } } ] });
    is $res->code, 200, 'Okta\'s deactivate: 200 with the user' or diag $res->content;
    is $res->json->{active}, $FALSE, '... active false';
    is db_query("SELECT locked_out FROM userbulk.users WHERE id = '$okta->{id}'"), 't', '... stored as lockedOut';
    is_deeply audit_of($res)->[0]{after}, { lockedOut => $TRUE }, '... audited';
    $res = scim(PATCH => "/Users/$okta->{id}",
                { schemas => [ PATCH_SCHEMA ], Operations => [ { op => 'replace', value => { active => $TRUE } } ] });
    is $res->json->{active}, $TRUE, 'Okta\'s reactivate: active true';
    is $res->header('ETag'), 'W/"3"', '... version 3';
}

# --- PATCH: Microsoft Entra's transcripts (its SCIM guide's requests) ---------------
my $entra = create('entra.scim', phoneNumbers => [ { value => '+1 555 0110', type => 'work' } ]);
{
    # "Update user [Multi-valued properties]" and "[Single-valued properties]"
    my $res = scim(PATCH => "/Users/$entra->{id}", patch_body(
        { op => 'Replace', path => 'emails[type eq "work"].value', value => 'updatedEmail@scim.example' },
        { op => 'Replace', path => 'name.familyName', value => 'updatedFamilyName' },
        { op => 'Add', path => 'phoneNumbers[type eq "mobile"].value', value => '+1 555 0111' },
        { op => 'Replace', path => 'urn:ietf:params:scim:schemas:core:2.0:User:userName', value => 'entra.scim' }));
    is $res->code, 200, 'Entra\'s Replace/Add with value filters: 200' or diag $res->content;
    my $b = $res->json // {};
    is $b->{emails}[0]{value}, 'updatedEmail@scim.example', '... emails[type eq "work"].value';
    is $b->{name}{familyName}, 'updatedFamilyName', '... name.familyName';
    is $b->{name}{givenName}, 'Given', '... name.givenName kept';
    is_deeply [ map { $_->{value} } @{ $b->{phoneNumbers} } ], [ '+1 555 0110', '+1 555 0111' ],
        '... the mobile number added beside the work one';

    # Entra's pathless Replace: dotted and URN-prefixed keys, active as a string
    $res = scim(PATCH => "/Users/$entra->{id}", patch_body(
        { op => 'Replace', value => { 'name.givenName' => 'Eve', displayName => 'Eve E',
                                      'urn:ietf:params:scim:schemas:core:2.0:User:name.familyName' => 'Entra',
                                      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department' => 'SALES',
                                      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter' => 'ignored',
                                      active => 'False' } }));
    is $res->code, 200, 'Entra\'s pathless Replace: 200' or diag $res->content;
    $b = $res->json // {};
    is_deeply $b->{name}, { givenName => 'Eve', familyName => 'Entra' }, '... dotted and URN-prefixed keys';
    is $b->{displayName}, 'Eve E', '... displayName';
    is $b->{'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'}{department}, 'SALES',
        '... the enterprise department (costCenter, which has no column, ignored)';
    is $b->{active}, $FALSE, '... active "False" (a string, as some tenants send it)';

    # "Remove"
    $res = scim(PATCH => "/Users/$entra->{id}", patch_body(
        { op => 'Remove', path => 'phoneNumbers[type eq "mobile"].value' },
        { op => 'remove', path => 'displayName' },
        { op => 'add', path => 'active', value => 'True' }));
    is $res->code, 200, 'Entra\'s Remove: 200';
    $b = $res->json // {};
    is_deeply [ map { $_->{value} } @{ $b->{phoneNumbers} } ], [ '+1 555 0110' ], '... the mobile number removed';
    ok !exists $b->{displayName}, '... displayName removed';
    is $b->{active}, $TRUE, '... active "True"';

    # later operations win
    $res = scim(PATCH => "/Users/$entra->{id}", patch_body(
        { op => 'replace', path => 'name.givenName', value => 'First' },
        { op => 'replace', path => 'name', value => { givenName => 'Second' } }));
    is $res->json->{name}{givenName}, 'Second', 'operations compose in order';

    my $v = scim(GET => "/Users/$entra->{id}")->header('ETag');
    for my $case (
        [ 'remove of emails', 400, 'invalidValue', qr/emails/, { op => 'remove', path => 'emails' } ],
        [ 'remove of userName', 400, 'mutability', qr/userName/, { op => 'remove', path => 'userName' } ],
        [ 'replace of userName', 400, 'mutability', qr/userName/, { op => 'replace', path => 'userName', value => 'other.scim' } ],
        [ 'an unknown path', 400, 'invalidPath', qr/nickname2/, { op => 'replace', path => 'nickname2', value => 'x' } ],
        [ 'a filter on another attribute', 400, 'invalidFilter', qr/value filter/, { op => 'replace', path => 'emails[value eq "x"].value', value => 'y@scim.example' } ],
        [ 'a readOnly attribute', 400, 'mutability', qr/id is readOnly/, { op => 'replace', path => 'id', value => 'x' } ],
        [ 'remove without a path', 400, 'noTarget', qr/path/, { op => 'remove' } ],
        [ 'an unknown op', 400, 'invalidSyntax', qr/op must be/, { op => 'move', path => 'displayName' } ],
        [ 'a bad address', 400, 'invalidValue', qr/emails\[type eq "work"\]\.value/, { op => 'replace', path => 'emails[type eq "work"].value', value => 'nope' } ],
        [ 'active not a boolean', 400, 'invalidValue', qr/active/, { op => 'replace', value => { active => 'maybe' } } ],
        [ 'an address another user has', 409, 'uniqueness', qr/emails/, { op => 'replace', path => 'emails[type eq "work"].value', value => 'bob@acme.example' } ],
    ) {
        my ($name, $status, $type, $re, $op) = @$case;
        my $e = scim_error(scim(PATCH => "/Users/$entra->{id}", patch_body($op)), $status, $type, "PATCH: $name");
        like $e->{detail}, $re, "... names it";
    }
    scim_error(scim(PATCH => "/Users/$entra->{id}", { Operations => [ { op => 'add', path => 'displayName', value => 'x' } ] }),
               400, 'invalidSyntax', 'PATCH without the PatchOp schema');
    my $e = scim_error(scim(PATCH => "/Users/$entra->{id}",
                            patch_body(map { { op => 'replace', path => 'displayName', value => "d$_" } } 1 .. 1001)),
                       400, 'invalidValue', 'PATCH of 1001 operations');
    like $e->{detail}, qr/at most 1000 operations/, '... names the limit';
    is scim(GET => "/Users/$entra->{id}")->header('ETag'), $v, 'the refused PATCHes changed nothing';
}

# --- DELETE: a hard delete, audited ---------------------------------------------------
{
    my $d = create('delete.scim');
    my $res = scim(DELETE => "/Users/$d->{id}");
    is $res->code, 204, 'DELETE: 204';
    is $res->content, '', '... no body';
    scim_error(scim(GET => "/Users/$d->{id}"), 404, undef, 'a later GET: 404');
    scim_error(scim(DELETE => "/Users/$d->{id}"), 404, undef, 'a second DELETE: 404');
    is db_query("SELECT count(*) FROM userbulk.users WHERE id = '$d->{id}'"), 0, 'the row is gone';
    is db_query("SELECT count(*) FROM userbulk.user_roles WHERE user_id = '$d->{id}'"), 0, '... with its roles';
    my $a = audit_of($res);
    is $a->[0]{endpoint}, 'scim', 'the audit row: endpoint scim';
    is_deeply $a->[0]{after}, {}, '... after {}';
    is $a->[0]{before}{userName}, 'delete.scim', '... before: the user as it was';
    is $a->[0]{before}{email}, 'delete.scim@scim.example', '... its address';
    is_deeply $a->[0]{before}{roles}, [ '10000000-0000-4000-8000-000000000003' ], '... and its roles';
    # its address is free again
    create('delete2.scim', emails => [ { value => 'delete.scim@scim.example' } ]);
}

# --- tenancy -----------------------------------------------------------------------
{
    my $globex = token(account => 'globex');
    my $body = { schemas => [ USER_SCHEMA ], userName => 'put.scim', emails => [ { value => 'g@scim.example' } ] };
    scim_error(scim(PUT => "/Users/$u->{id}", $body, token => $globex), 404, undef, 'PUT of another account\'s user');
    scim_error(scim(PATCH => "/Users/$u->{id}", patch_body({ op => 'replace', path => 'displayName', value => 'x' }),
                    token => $globex), 404, undef, 'PATCH of another account\'s user');
    scim_error(scim(DELETE => "/Users/$u->{id}", undef, token => $globex), 404, undef, 'DELETE of another account\'s user');
    scim_error(scim(DELETE => '/Users/not-an-id'), 404, undef, 'DELETE of no id');
    is scim(GET => "/Users/$u->{id}")->code, 200, 'the user is untouched';
}

# --- the seed APIs see SCIM's changes, and SCIM theirs -------------------------------------
{
    my $res = scim(PATCH => "/Users/$okta->{id}", patch_body({ op => 'replace', path => 'name.givenName', value => 'Otto' }));
    is $res->code, 200, 'a SCIM PATCH';
    my $stale = json_request(PUT => PUT_USERS, token(),
                             [ { userName => 'okta.scim', email => 'okta.scim@scim.example',
                                 name => { firstName => 'Olga' }, version => 3 } ]);
    like $stale->content, qr/"conflict"/, 'PUT /users with the version before it: conflict (it sees the change)';
    my $put = json_request(PUT => PUT_USERS, token(),
                           [ { userName => 'okta.scim', email => 'okta.scim@scim.example',
                               name => { firstName => 'Olga', lastName => 'Family' }, version => 4 } ]);
    is $put->code, 200, 'PUT /users with the version SCIM gave: 200' or diag $put->content;
    my $g = scim(GET => "/Users/$okta->{id}");
    is $g->json->{name}{givenName}, 'Olga', 'SCIM sees PUT /users\' change';
    is $g->header('ETag'), 'W/"5"', '... and its version';
    my $post = json_request(POST => ACCOUNT_UPDATE, token(), { userId => $okta->{id}, isSSOUser => $TRUE },
                            [ 'Content-Type' => 'application/json-patch+json', 'If-Match' => '"5"' ]);
    is $post->code, 200, 'the POST with SCIM\'s version as If-Match: 200' or diag $post->content;
    is scim(GET => "/Users/$okta->{id}")->header('ETag'), 'W/"6"', 'SCIM sees the POST\'s change';
    scim_error(scim(PATCH => "/Users/$okta->{id}", patch_body({ op => 'replace', path => 'displayName', value => 'x' }),
                    headers => [ 'If-Match' => 'W/"5"' ]), 412, undef, 'a SCIM PATCH with the version before the POST');
}

# --- externalId and the enterprise extension ------------------------------------------
{
    my $ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
    my $ALICE = '20000000-0000-4000-8000-000000000001';
    # Okta's create with its enterprise attributes (the extension's object)
    my $res = scim(POST => '/Users', { schemas => [ USER_SCHEMA, $ENT ], userName => 'ent.scim',
                                       externalId => '00u1ent', emails => [ { value => 'ent@scim.example' } ],
                                       $ENT => { employeeNumber => 'E-100', department => 'ENG',
                                                 manager => { value => $ALICE }, costCenter => 'CC-9' } });
    is $res->code, 201, 'a create with the enterprise extension: 201' or diag $res->content;
    my $b = $res->json // {};
    scim_valid_ok($b, '... the answer');
    is_deeply $b->{$ENT}, { employeeNumber => 'E-100', department => 'ENG',
                            manager => { value => $ALICE, '$ref' => $b->{meta}{location} =~ s/[^\/]+$/$ALICE/r } },
        '... employeeNumber, department, manager stored (costCenter: no column, ignored)';
    is $b->{externalId}, '00u1ent', '... externalId';
    is db_query("SELECT employee_code || ' ' || department_code || ' ' || manager_id FROM userbulk.users WHERE id = '$b->{id}'"),
       "E-100 ENG $ALICE", '... in the columns the seed APIs read';
    is names_by_filter('externalId eq "00u1ent"'), 'ent.scim', 'Entra finds it by externalId';

    my $e = scim_error(scim(POST => '/Users', { schemas => [ USER_SCHEMA ], userName => 'ent2.scim',
                                                emails => [ { value => 'ent2@scim.example' } ],
                                                $ENT => { department => 'NOPE' } }),
                       400, 'invalidValue', 'a department code the account does not have');
    like $e->{detail}, qr/^\Q$ENT\E:department "NOPE" is not a department code/, '... names the attribute';
    is db_query(q{SELECT count(*) FROM userbulk.users WHERE user_name = 'ent2.scim'}), 0, '... nothing created';
    $e = scim_error(scim(POST => '/Users', { schemas => [ USER_SCHEMA ], userName => 'ent2.scim',
                                             emails => [ { value => 'ent2@scim.example' } ],
                                             $ENT => { manager => { value => 'not-an-id' } } }),
                    400, 'invalidValue', 'a manager that is no id');
    like $e->{detail}, qr/manager\.value/, '... names manager.value';
    scim_error(scim(POST => '/Users', { schemas => [ USER_SCHEMA ], userName => 'ent2.scim',
                                        emails => [ { value => 'ent2@scim.example' } ],
                                        $ENT => { manager => { value => '20000000-0000-4000-8000-000000000011' } } }),
               400, 'invalidValue', 'a manager of another account');

    # Entra's PATCH of the extension: the manager as a bare id, then removed
    $res = scim(PATCH => "/Users/$b->{id}", patch_body(
        { op => 'Add', path => "$ENT:manager", value => '20000000-0000-4000-8000-000000000002' },
        { op => 'Replace', path => "$ENT:employeeNumber", value => 'E-101' },
        { op => 'Replace', path => 'externalId', value => '00u1ent-b' }));
    is $res->code, 200, 'Entra: Add manager (a bare id), Replace employeeNumber, externalId' or diag $res->content;
    $b = $res->json // {};
    is $b->{$ENT}{manager}{value}, '20000000-0000-4000-8000-000000000002', '... the manager';
    is $b->{$ENT}{employeeNumber}, 'E-101', '... employeeNumber';
    is $b->{externalId}, '00u1ent-b', '... externalId';
    $res = scim(PATCH => "/Users/$b->{id}", patch_body({ op => 'Remove', path => "$ENT:manager" },
                                                       { op => 'replace', path => "$ENT:department", value => 'SALES' }));
    is $res->code, 200, 'Remove manager, replace department: 200' or diag $res->content;
    $b = $res->json // {};
    ok !exists $b->{$ENT}{manager}, '... no manager';
    is $b->{$ENT}{department}, 'SALES', '... department';
    Apache::TestRequest::module('userbulk_readback');
    my ($read) = @{ json_request(GET => PUT_USERS . '?userName=ent.scim', token())->json // [] };
    Apache::TestRequest::module('default');
    is $read->{departmentId}, 'SALES', 'the seed API\'s read-back sees the department';
    scim_error(scim(PATCH => "/Users/$b->{id}", patch_body({ op => 'replace', path => "$ENT:department", value => 'NOPE' })),
               400, 'invalidValue', 'PATCH of a department the account does not have');
    scim_error(scim(PATCH => "/Users/$b->{id}", patch_body({ op => 'replace', path => "$ENT:nickname", value => 'x' })),
               400, 'invalidPath', 'PATCH of an attribute the extension does not have');
}

done_testing();
