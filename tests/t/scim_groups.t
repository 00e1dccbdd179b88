# SCIM 2.0 Groups (RFC 7643 section 4.2, RFC 7644 section 3): the account's
# roles as groups, membership = the users' roles. Entra's and Okta's group
# requests (their provisioning documentation's shapes), the users' version
# and audit trail as the seed APIs change them, tenancy, If-Match, the
# limits, and the seed APIs seeing what SCIM changed.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use URI::Escape qw(uri_escape_utf8);
use JSON::PP ();
use UserBulk::Test qw(:all);
use UserBulk::Scim qw(:all);

use constant GROUP_SCHEMA => 'urn:ietf:params:scim:schemas:core:2.0:Group';
use constant PATCH_SCHEMA => 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

my $SCIM = [ Accept => 'application/scim+json', 'Content-Type' => 'application/scim+json' ];
my $ADMIN = '10000000-0000-4000-8000-000000000001';
my $REVIEWER = '10000000-0000-4000-8000-000000000002';
my $VIEWER = '10000000-0000-4000-8000-000000000003';
my $GLOBEX_ADMIN = '10000000-0000-4000-8000-000000000011';
my ($ALICE, $BOB, $CAROL, $DAVE, $ERIN) = map { sprintf '20000000-0000-4000-8000-%012d', $_ } 1 .. 5;
my $GINA = '20000000-0000-4000-8000-000000000011';

reset_demo();

sub scim {
    my ($method, $path, $body, %o) = @_;
    return json_request($method, "/scim/v2$path", exists $o{token} ? $o{token} : token(),
                        $body, [ @$SCIM, @{ $o{headers} // [] } ]);
}
sub patch { my ($id, @ops) = @_; return scim(PATCH => "/Groups/$id", { schemas => [ PATCH_SCHEMA ], Operations => \@ops }) }
sub members { my ($id) = @_; return [ map { $_->{value} } @{ scim(GET => "/Groups/$id")->json->{members} // [] } ] }
sub version { my ($id) = @_; return db_query("SELECT version FROM userbulk.users WHERE id = '$id'") }

# --- reading ---------------------------------------------------------------------------
{
    my $res = scim(GET => "/Groups/$VIEWER");
    is $res->code, 200, 'GET /Groups/{id}: 200' or diag $res->content;
    my $g = $res->json;
    is_deeply $g->{schemas}, [ GROUP_SCHEMA ], '... the Group schema';
    is $g->{displayName}, 'Viewer', '... displayName is the role\'s name';
    is_deeply [ map { "$_->{value} $_->{display}" } @{ $g->{members} } ],
        [ "$ALICE alice.acme", "$BOB bob.acme" ], '... members: id and userName, in id order';
    like $g->{members}[0]{'$ref'}, qr{/scim/v2/Users/\Q$ALICE\E$}, '... $ref to the user';
    is $g->{meta}{resourceType}, 'Group', '... meta.resourceType';
    like $g->{meta}{location}, qr{/scim/v2/Groups/\Q$VIEWER\E$}, '... meta.location';
    like $res->header('ETag') // '', qr/^W\/"[0-9a-f]{32}"$/, '... a weak ETag';
    is $g->{meta}{version}, $res->header('ETag'), '... meta.version is the ETag';
    scim_valid_ok($g, 'GET /Groups/{id}', as => 'Group');

    # Entra: excludedAttributes=members, by filter
    $res = scim(GET => '/Groups?excludedAttributes=members&filter=' . uri_escape_utf8('displayName eq "viewer"'));
    is $res->code, 200, 'Entra\'s list: excludedAttributes=members, displayName eq';
    my $l = $res->json;
    is_deeply $l->{schemas}, [ LIST_SCHEMA ], '... a ListResponse';
    is $l->{totalResults}, 1, '... the one group (displayName without case)';
    ok !exists $l->{Resources}[0]{members}, '... without members';
    scim_valid_ok(scim(GET => '/Groups')->json, 'GET /Groups (with members)', as => 'Group');
    is scim(GET => '/Groups')->json->{totalResults}, 3, 'the list: the account\'s three roles';
    is scim(GET => '/Groups?count=1&startIndex=2')->json->{Resources}[0]{id}, $REVIEWER, '... paged in id order';
    is scim(GET => '/Groups?filter=' . uri_escape_utf8('displayName sw "Rev"'))->json->{totalResults}, 1, 'filter sw';
    is scim(GET => '/Groups?filter=' . uri_escape_utf8(qq{id eq "$ADMIN" or displayName co "iew"}))->json->{totalResults}, 3,
       'filter id eq or displayName co';
    is_deeply [ sort keys %{ scim(GET => "/Groups/$VIEWER?attributes=displayName")->json } ],
        [ qw(displayName id schemas) ], 'attributes=displayName: that, id and schemas';
    my $b = scim_error(scim(GET => '/Groups?filter=' . uri_escape_utf8('members eq "x"')), 400, 'invalidFilter', 'a filter on members');
    like $b->{detail}, qr/members/, '... names it';
    ok !exists scim(GET => "/Groups/$VIEWER?excludedAttributes=members")->json->{members},
       'GET /Groups/{id}?excludedAttributes=members: no members';
}

# --- tenancy -------------------------------------------------------------------------
scim_error(scim(GET => "/Groups/$GLOBEX_ADMIN"), 404, undef, 'another account\'s role: 404');
scim_error(patch($GLOBEX_ADMIN, { op => 'add', path => 'members', value => [ { value => $ALICE } ] }),
           404, undef, 'PATCH of another account\'s role: 404');
scim_error(scim(GET => '/Groups/not-a-uuid'), 404, undef, 'an id that is no uuid: 404');
{
    my $v = version($DAVE);
    my $b = scim_error(patch($REVIEWER, { op => 'add', path => 'members', value => [ { value => $DAVE }, { value => $GINA } ] }),
                       400, 'invalidValue', 'another account\'s user as a member');
    like $b->{detail}, qr/\Q$GINA\E/, '... names the member';
    is_deeply members($REVIEWER), [ $CAROL ], '... nothing changed (dave not added either)';
    is version($DAVE), $v, '... dave\'s version kept';
}

# --- Entra: add and remove members (its PATCH shapes) -------------------------------
{
    my $etag = scim(GET => "/Groups/$REVIEWER")->header('ETag');
    my $v = version($DAVE);
    my $res = patch($REVIEWER, { op => 'Add', path => 'members', value => [ { value => $DAVE } ] });
    is $res->code, 204, 'Entra: Add members: 204' or diag $res->content;
    isnt $res->header('ETag'), $etag, '... a new ETag';
    is_deeply members($REVIEWER), [ $CAROL, $DAVE ], '... dave is a member';
    is version($DAVE), $v + 1, '... dave\'s version bumped, as a role change by PUT /users';
    my $trace = $res->header('X-Trace-Id');
    my @a = db_query("SELECT endpoint, actor, user_id, before::text, after::text FROM userbulk.audit WHERE trace_id = '$trace'");
    is scalar @a, 1, '... one audit row';
    is_deeply [ @{ $a[0] }[0 .. 2] ], [ 'scim', 'alice', $DAVE ], '... endpoint scim, the actor, dave';
    is_deeply [ map { JSON::PP->new->decode($_) } @{ $a[0] }[3, 4] ], [ { roles => [] }, { roles => [ $REVIEWER ] } ],
        '... roles before and after';

    # the change as the seed APIs see it
    Apache::TestRequest::module('userbulk_readback');
    my $back = json_request(GET => PUT_USERS . '?userName=dave.acme', token());
    Apache::TestRequest::module('default');
    is_deeply [ map { $_->{roleId} } @{ $back->json->[0]{roles} } ], [ $REVIEWER ], 'PUT /users\' read-back sees the role';
    my $post = json_request(POST => ACCOUNT_UPDATE, token(), { userIds => [ $DAVE ], isTwoFactorEnabled => JSON::PP::true });
    is_deeply [ map { $_->{userRoleId} } @{ $post->json->{data}[0]{userRoleModels} } ], [ $REVIEWER ],
        'the POST\'s answer sees it';

    $res = patch($REVIEWER, { op => 'Remove', path => qq{members[value eq "$DAVE"]} });
    is $res->code, 204, 'Entra: Remove members[value eq "id"]: 204' or diag $res->content;
    is_deeply members($REVIEWER), [ $CAROL ], '... dave is no member';
    $res = patch($REVIEWER, { op => 'Remove', path => 'members', value => [ { value => $CAROL } ] });
    is $res->code, 204, 'Entra: Remove members with a value list';
    is_deeply members($REVIEWER), [], '... carol gone too';
    $res = patch($REVIEWER, { op => 'Replace', path => 'displayName', value => 'Reviewers' });
    is $res->code, 204, 'Entra: Replace displayName';
    is scim(GET => "/Groups/$REVIEWER")->json->{displayName}, 'Reviewers', '... renamed';
    is db_query("SELECT name FROM userbulk.roles WHERE id = '$REVIEWER'"), 'Reviewers', '... the role is';
    $res = patch($REVIEWER, { op => 'remove', path => qq{members[value eq "$ERIN"]} });
    is $res->code, 204, 'removing a user who is no member: nothing to do, 204';
}

# --- Okta: replace members, pathless replace, remove with a value --------------------
{
    my $res = patch($REVIEWER, { op => 'replace', path => 'members',
                                 value => [ { value => $ALICE, display => 'alice.acme' }, { value => $BOB, display => 'bob.acme' } ] });
    is $res->code, 204, 'Okta: replace members' or diag $res->content;
    is_deeply members($REVIEWER), [ $ALICE, $BOB ], '... the members are those';
    $res = patch($REVIEWER, { op => 'replace', value => { id => $REVIEWER, displayName => 'Reviewer' } });
    is $res->code, 204, 'Okta: pathless replace of displayName';
    is scim(GET => "/Groups/$REVIEWER")->json->{displayName}, 'Reviewer', '... renamed back';
    $res = patch($REVIEWER, { op => 'remove', path => 'members', value => [ { value => $BOB } ] });
    is $res->code, 204, 'Okta: remove members with a value';
    is_deeply members($REVIEWER), [ $ALICE ], '... bob gone';
    # operations in order: the last word on a member wins
    $res = patch($REVIEWER, { op => 'add', path => 'members', value => [ { value => $ERIN } ] },
                            { op => 'remove', path => qq{members[value eq "$ERIN"]} },
                            { op => 'add', path => 'members', value => [ { value => $DAVE } ] });
    is $res->code, 204, 'three operations in one PATCH';
    is_deeply members($REVIEWER), [ $ALICE, $DAVE ], '... applied in order';
    is db_query("SELECT count(*) FROM userbulk.audit WHERE trace_id = '" . $res->header('X-Trace-Id') . "'"), 1,
       '... one audit row: erin did not change';
}

# --- refusals -----------------------------------------------------------------------
{
    my $b = scim_error(patch($REVIEWER, { op => 'replace', path => 'displayName', value => 'Administrator' }),
                       409, 'uniqueness', 'renaming to another role\'s name');
    like $b->{detail}, qr/displayName/, '... names displayName';
    scim_error(patch($REVIEWER, { op => 'move', path => 'members' }), 400, 'invalidSyntax', 'an unknown op');
    scim_error(patch($REVIEWER, { op => 'remove' }), 400, 'noTarget', 'remove without a path');
    scim_error(patch($REVIEWER, { op => 'remove', path => 'displayName' }), 400, 'mutability', 'remove displayName');
    scim_error(patch($REVIEWER, { op => 'add', path => 'owner', value => 'x' }), 400, 'invalidPath', 'an unknown path');
    scim_error(patch($REVIEWER, { op => 'replace', path => 'displayName', value => 'x' x 101 }), 400, 'invalidValue', 'a name too long');
    scim_error(scim(PATCH => "/Groups/$REVIEWER", { Operations => [ { op => 'add', path => 'members', value => [] } ] }),
               400, 'invalidSyntax', 'no PatchOp schema');
    scim_error(scim(PATCH => "/Groups/$REVIEWER", '{"schemas":['), 400, 'invalidSyntax', 'not JSON');
    is_deeply members($REVIEWER), [ $ALICE, $DAVE ], 'refusals changed nothing';
}

# --- If-Match ------------------------------------------------------------------------
{
    my $etag = scim(GET => "/Groups/$REVIEWER")->header('ETag');
    my $res = json_request(PATCH => "/scim/v2/Groups/$REVIEWER", token(),
                           { schemas => [ PATCH_SCHEMA ], Operations => [ { op => 'add', path => 'members', value => [ { value => $ERIN } ] } ] },
                           [ @$SCIM, 'If-Match' => $etag ]);
    is $res->code, 204, 'If-Match with the current ETag: applied';
    $res = json_request(PATCH => "/scim/v2/Groups/$REVIEWER", token(),
                        { schemas => [ PATCH_SCHEMA ], Operations => [ { op => 'remove', path => 'members' } ] },
                        [ @$SCIM, 'If-Match' => $etag ]);
    scim_error($res, 412, undef, 'If-Match with the ETag before that change');
    is_deeply members($REVIEWER), [ $ALICE, $DAVE, $ERIN ], '... nothing changed';
    scim_error(json_request(PATCH => "/scim/v2/Groups/$REVIEWER", token(),
                            { schemas => [ PATCH_SCHEMA ], Operations => [ { op => 'remove', path => 'members' } ] },
                            [ @$SCIM, 'If-Match' => 'garbage' ]), 400, 'invalidSyntax', 'an If-Match that is no entity tag');
    # a role change by PUT /users changes the group's ETag too
    $etag = scim(GET => "/Groups/$REVIEWER")->header('ETag');
    json_request(PUT => PUT_USERS, token(), [ { userName => 'bob.acme', email => 'bob@acme.example', roles => [ { roleId => $REVIEWER } ] } ]);
    isnt scim(GET => "/Groups/$REVIEWER")->header('ETag'), $etag, 'a member given by PUT /users changes the ETag';
    is_deeply members($REVIEWER), [ $ALICE, $BOB, $DAVE, $ERIN ], '... and is a member';
}

# --- POST, PUT, DELETE -----------------------------------------------------------------
my $new;
{
    my $res = scim(POST => '/Groups', { schemas => [ GROUP_SCHEMA ], displayName => 'Entra Group',
                                        externalId => '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',
                                        members => [ { value => $CAROL } ] });
    is $res->code, 201, 'Entra: POST /Groups: 201' or diag $res->content;
    $new = $res->json;
    like $res->header('Location') // '', qr{/scim/v2/Groups/\Q$new->{id}\E$}, '... Location';
    is $new->{displayName}, 'Entra Group', '... displayName';
    is_deeply [ map { $_->{value} } @{ $new->{members} } ], [ $CAROL ], '... its member';
    is db_query("SELECT is_default::text || ' ' || (SELECT count(*) FROM userbulk.role_privileges p WHERE p.role_id = r.id)
                   FROM userbulk.roles r WHERE r.id = '$new->{id}'"), 'false 0', '... a role, not default, without privileges';
    scim_error(scim(POST => '/Groups', { schemas => [ GROUP_SCHEMA ], displayName => 'Entra Group' }), 409, 'uniqueness',
               'POST of a name the account has');
    scim_error(scim(POST => '/Groups', { schemas => [ GROUP_SCHEMA ], displayName => 'Bad', members => [ { value => $GINA } ] }),
               400, 'invalidValue', 'POST with another account\'s user');
    is db_query(q{SELECT count(*) FROM userbulk.roles WHERE name = 'Bad'}), 0, '... no role made';
    is scim(GET => "/Groups/$new->{id}", undef, token => token(account => 'globex'))->code, 404, 'globex does not see it';

    $res = scim(PUT => "/Groups/$new->{id}", { schemas => [ GROUP_SCHEMA ], displayName => 'Entra Group 2',
                                               members => [ { value => $DAVE }, { value => $ERIN } ] });
    is $res->code, 200, 'PUT /Groups/{id}: 200' or diag $res->content;
    is_deeply [ map { $_->{value} } @{ $res->json->{members} } ], [ $DAVE, $ERIN ], '... members replaced';
    is $res->json->{displayName}, 'Entra Group 2', '... renamed';

    my $v = version($DAVE);
    $res = scim(DELETE => "/Groups/$new->{id}");
    is $res->code, 204, 'DELETE of a role without privileges: 204' or diag $res->content;
    is scim(GET => "/Groups/$new->{id}")->code, 404, '... gone';
    is version($DAVE), $v + 1, '... its members\' versions bumped';
    is db_query("SELECT after::text FROM userbulk.audit WHERE trace_id = '" . $res->header('X-Trace-Id') . "' AND user_id = '$DAVE'"),
       qq({"roles": ["$REVIEWER"]}), '... their audit rows: the role lost';
    my $b = scim_error(scim(DELETE => "/Groups/$ADMIN"), 409, undef, 'DELETE of a role with privileges');
    like $b->{detail}, qr/privileges/, '... says why';
    is scim(GET => "/Groups/$ADMIN")->code, 200, '... it stays';
}

# --- discovery -----------------------------------------------------------------------
{
    my $rt = scim(GET => '/ResourceTypes/Group');
    is $rt->code, 200, '/ResourceTypes/Group';
    is $rt->json->{endpoint}, '/Groups', '... endpoint /Groups';
    my $s = scim(GET => '/Schemas/' . GROUP_SCHEMA);
    is $s->code, 200, '/Schemas/<Group>';
    is_deeply [ map { $_->{name} } @{ $s->json->{attributes} } ], [ qw(displayName members) ], '... displayName, members';
    is scim(GET => '/ResourceTypes')->json->{totalResults}, 2, '/ResourceTypes lists User and Group';
}

# --- the worst case: a PATCH adding 1000 members, then a group too large to list ----
{
    db_query(q{INSERT INTO userbulk.users (id, account_id, user_name, email)
               SELECT ('21000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid, '00000000-0000-4000-8000-00000000000a',
                      'bulk' || n || '.acme', 'bulk' || n || '@acme.example' FROM generate_series(1, 1000) n});
    my @ids = map { { value => sprintf '21000000-0000-4000-8000-%012d', $_ } } reverse 1 .. 1000;
    my $res = patch($VIEWER, { op => 'Add', path => 'members', value => \@ids });
    is $res->code, 204, 'a PATCH adding 1000 members: 204' or diag $res->content;
    my $trace = $res->header('X-Trace-Id');
    is db_query("SELECT count(*) FROM userbulk.audit WHERE trace_id = '$trace'"), 1000, '... 1000 audit rows';
    is db_query("SELECT count(DISTINCT id) FROM userbulk.audit WHERE trace_id = '$trace'"), 1, '... of one request';
    is db_query(q{SELECT count(*) FROM userbulk.users WHERE user_name LIKE 'bulk%' AND version = 2}), 1000, '... each bumped once';
    is scalar @{ scim(GET => "/Groups/$VIEWER")->json->{members} }, 1001, '... the group lists them (and alice; bob lost Viewer to the PUT above)';
    my $log = error_log_mark();
    my $b = scim_error(patch($VIEWER, { op => 'add', path => 'members', value => [ map { { value => "x$_" } } 1 .. 10001 ] }),
                       400, 'invalidValue', 'more than 10000 member values');
    like $b->{detail}, qr/10000/, '... says the limit';
}

is role_ids_drift(), 0, "after the SCIM group changes, every user's role_ids is its links (017)";
is audit_chain_drift(), 0, "after the SCIM group changes, every user's history is one chain from its row (018)";
done_testing();
