# SCIM 2.0, read side (RFC 7643, RFC 7644): GET /scim/v2/Users with filters,
# pages and attribute selection, GET /Users/{id}, the discovery documents,
# and SCIM error bodies for every refusal; the requests Okta's SCIM spec
# test and Microsoft Entra's provisioning send to read users.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use URI::Escape qw(uri_escape_utf8);
use JSON::PP ();
use UserBulk::Test qw(:all);
use UserBulk::Scim qw(:all);

my $TRUE = JSON::PP::true;
my $FALSE = JSON::PP::false;
my $ALICE = '20000000-0000-4000-8000-000000000001';
my $BOB = '20000000-0000-4000-8000-000000000002';
my $DAVE = '20000000-0000-4000-8000-000000000004';
my $GINA = '20000000-0000-4000-8000-000000000011';

reset_demo();

sub scim {
    my ($path, %o) = @_;
    return json_request($o{method} // 'GET', "/scim/v2$path",
                        exists $o{token} ? $o{token} : token(),
                        undef, [ Accept => 'application/scim+json' ]);
}

# GET /Users with these query parameters (values percent-encoded here).
sub list {
    my (@q) = @_;
    my @pairs;
    while (my ($k, $v) = splice @q, 0, 2) { push @pairs, "$k=" . uri_escape_utf8($v) }
    return scim('/Users' . (@pairs ? '?' . join('&', @pairs) : ''));
}

sub names_of {
    my ($res) = @_;
    my $b = $res->json or return 'not JSON: ' . $res->content;
    return join ',', map { $_->{userName} } @{ $b->{Resources} };
}


# --- discovery ------------------------------------------------------------------
{
    my $res = scim('/ServiceProviderConfig');
    my $b = $res->json;
    is $res->code, 200, 'ServiceProviderConfig: 200';
    like $res->header('Content-Type'), qr{^application/scim\+json}, '... application/scim+json';
    is_deeply $b->{schemas}, ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'], '... its schema';
    is $b->{patch}{supported}, $TRUE, '... patch: supported';
    is $b->{bulk}{supported}, $TRUE, '... bulk: supported';
    is $b->{bulk}{maxOperations}, 1000, '... maxOperations: UserBulkMaxRecords (its default here)';
    is $b->{bulk}{maxPayloadSize}, 8388608, '... maxPayloadSize: UserBulkMaxBodySize (its default here)';
    is $b->{filter}{supported}, $TRUE, '... filter supported';
    is $b->{filter}{maxResults}, 200, '... with maxResults 200 (the page cap, below)';
    is $b->{changePassword}{supported}, $FALSE, '... changePassword: no';
    is $b->{sort}{supported}, $FALSE, '... sort: no';
    is $b->{etag}{supported}, $TRUE, '... etag: yes (meta.version, ETag)';
    is $b->{authenticationSchemes}[0]{type}, 'oauthbearertoken', '... bearer tokens';
    like $b->{meta}{location}, qr{^https?://[^/]+/scim/v2/ServiceProviderConfig$}, '... its location';
    is_deeply [ map { $_->{type} } @{ $b->{authenticationSchemes} } ], [ 'oauthbearertoken' ],
        '... that one scheme only';

    # A location with other limits announces its own.
    my $o = json_request(GET => '/scim-limits/v2/ServiceProviderConfig', token(), undef,
                         [ Accept => 'application/scim+json' ])->json;
    is $o->{bulk}{maxOperations}, 50, 'another location: maxOperations is its UserBulkMaxRecords';
    is $o->{bulk}{maxPayloadSize}, 65536, '... maxPayloadSize its UserBulkMaxBodySize';
    like $o->{meta}{location}, qr{/scim-limits/v2/ServiceProviderConfig$}, '... and its own location';
}
{
    my $b = scim('/ResourceTypes')->json;
    is $b->{totalResults}, 2, 'ResourceTypes: User and Group';
    is $b->{Resources}[0]{id}, 'User', '... User';
    is $b->{Resources}[0]{endpoint}, '/Users', '... at /Users';
    is $b->{Resources}[0]{schema}, USER_SCHEMA, '... with the core User schema';
    is scim('/ResourceTypes/User')->json->{id}, 'User', '/ResourceTypes/User';
    is_deeply $b->{Resources}[0]{schemaExtensions},
        [ { schema => 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User', required => $FALSE } ],
        '... with the enterprise extension, optional';
    scim_error(scim('/ResourceTypes/Bulk'), 404, undef, '/ResourceTypes/Bulk (no such resource)');
}
{
    my $b = scim('/Schemas')->json;
    is $b->{totalResults}, 3, 'Schemas: User, the enterprise extension and Group';
    my $s = scim("/Schemas/" . USER_SCHEMA)->json;
    is $s->{id}, USER_SCHEMA, '/Schemas/{User schema}';
    my %attr = map { $_->{name} => $_ } @{ $s->{attributes} };
    is $attr{userName}{caseExact}, $FALSE, 'userName: caseExact false (RFC 7643)';
    is $attr{id}{caseExact}, $TRUE, 'id: caseExact true';
    is $attr{externalId}{caseExact}, $TRUE, 'externalId: caseExact true (RFC 7643)';
    my $ent = scim('/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User')->json;
    is_deeply [ map { $_->{name} } @{ $ent->{attributes} } ], [ 'employeeNumber', 'department', 'manager' ],
        '/Schemas/{the enterprise extension}: the attributes kept';
    is $attr{id}{returned}, 'always', 'id: returned always';
    my ($value) = grep { $_->{name} eq 'value' } @{ $attr{emails}{subAttributes} };
    is $value->{caseExact}, $FALSE, 'emails.value: caseExact false';
    is $attr{active}{type}, 'boolean', 'active: boolean';
    is $attr{id}{mutability}, 'readOnly', 'id readOnly';
    is $attr{userName}{mutability}, 'immutable', 'userName immutable (the key of PUT /users)';
    ok !(grep { $_ ne 'id' && $_ ne 'userName' && $attr{$_}{mutability} ne 'readWrite' } keys %attr),
        'the others readWrite (PUT, PATCH)';
    scim_error(scim('/Schemas/urn:ietf:params:scim:schemas:core:2.0:Nope'), 404, undef, 'an unknown schema');
}

# --- Okta's spec test -------------------------------------------------------------
{
    my $res = list(count => 1, startIndex => 1);
    my $b = $res->json;
    is $res->code, 200, 'Okta: GET /Users?count=1&startIndex=1: 200';
    like $res->header('Content-Type'), qr{^application/scim\+json}, '... application/scim+json';
    is_deeply $b->{schemas}, [ LIST_SCHEMA ], '... a ListResponse';
    is $b->{totalResults}, 5, '... totalResults: acme\'s 5 users';
    is $b->{startIndex}, 1, '... startIndex 1';
    is $b->{itemsPerPage}, 1, '... itemsPerPage 1';
    my $u = $b->{Resources}[0];
    is $u->{id}, $ALICE, '... the first by id';
    is $u->{userName}, 'alice.acme', '... userName';
    is $u->{name}{givenName}, 'Alice', '... name.givenName';
    is $u->{name}{familyName}, 'Archer', '... name.familyName';
    is $u->{active}, $TRUE, '... active';
    is $u->{emails}[0]{value}, 'alice@acme.example', '... emails[0].value';
    is $u->{emails}[0]{primary}, $TRUE, '... primary';
    is $u->{emails}[0]{type}, 'work', '... type work';
    is_deeply $u->{phoneNumbers}, [ { value => '+1 212 555 0101', type => 'work', primary => $TRUE } ],
        '... phoneNumbers';
    is_deeply $u->{schemas}, [ USER_SCHEMA, 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User' ],
        '... the User schema and the enterprise extension';
    is $u->{'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'}{department}, 'ENG',
        '... enterprise department: the department code';
    is $u->{meta}{resourceType}, 'User', '... meta.resourceType';
    like $u->{meta}{lastModified}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, '... meta.lastModified';
    is $u->{meta}{version}, 'W/"1"', '... meta.version: the row version';
    like $u->{meta}{location}, qr{^https?://[^/]+/scim/v2/Users/$ALICE$}, '... meta.location';
    like $u->{meta}{created}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, '... meta.created';
}
is names_of(list(filter => 'userName eq "bob.acme"')), 'bob.acme', 'Okta: filter=userName eq "bob.acme"';
is names_of(list(filter => 'userName eq "BOB.ACME"')), 'bob.acme', 'Okta: ... with an upper-case value: the user';
{
    my $b = list(filter => 'userName eq "nobody@acme.example"')->json;
    is $b->{totalResults}, 0, 'Okta: no match: totalResults 0';
    is_deeply $b->{Resources}, [], '... and no Resources';
}
scim_error(scim('/Users/20000000-0000-4000-8000-0000000000ff'), 404, undef, 'Okta: an unknown id');
scim_error(scim('/Users/not-an-id'), 404, undef, 'an id that is not a UUID');
{
    my $res = scim("/Users/$BOB");
    my $b = $res->json;
    is $res->code, 200, 'GET /Users/{id}: 200';
    like $res->header('Content-Type'), qr{^application/scim\+json}, '... application/scim+json';
    is $b->{userName}, 'bob.acme', '... the user';
    is $res->header('ETag'), 'W/"1"', '... ETag: the row version';
    is $b->{meta}{version}, $res->header('ETag'), '... as meta.version';
}

# --- Entra --------------------------------------------------------------------------
is names_of(list(filter => 'userName eq "alice.acme"')), 'alice.acme', 'Entra: filter=userName eq';
{
    my $b = list(filter => 'externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"')->json;
    is $b->{totalResults}, 0, 'Entra: externalId eq: no user has that externalId (0, then Entra creates)';
    is names_of(list(filter => 'externalId pr')), '', 'externalId pr: none has one yet';
    db_query(qq{UPDATE userbulk.users SET external_id = '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef' WHERE id = '$BOB'});
    is names_of(list(filter => 'externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"')), 'bob.acme',
       'Entra: externalId eq: the user with it';
    is names_of(list(filter => 'externalId eq "0A21F0F2-8D2A-4F8E-BF98-7363C4AED4EF"')), '',
       '... caseExact (RFC 7643: externalId)';
    db_query(qq{UPDATE userbulk.users SET external_id = NULL WHERE id = '$BOB'});
}

# --- externalId, the enterprise extension ----------------------------------------------
{
    db_query(qq{UPDATE userbulk.users SET external_id = '00u1ab2cd3', employee_code = 'E-17',
                       department_code = 'SALES', manager_id = '$ALICE' WHERE id = '$BOB'});
    my $b = scim("/Users/$BOB")->json;
    my $ent = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
    is $b->{externalId}, '00u1ab2cd3', 'externalId';
    is_deeply $b->{schemas}, [ USER_SCHEMA, $ent ], '... the schemas list the enterprise extension';
    is_deeply $b->{$ent}, { employeeNumber => 'E-17', department => 'SALES',
                            manager => { value => $ALICE, '$ref' => $b->{meta}{location} =~ s/$BOB$/$ALICE/r } },
        '... employeeNumber, department, manager';
    $b = scim("/Users/$BOB?attributes=$ent:employeeNumber,userName")->json;
    is_deeply [ sort keys %$b ], [ sort 'id', 'schemas', 'userName', $ent ],
        'attributes= with an attribute of the extension (its URN, a colon, the name)';
    is_deeply $b->{$ent}, { employeeNumber => 'E-17' }, '... only that one of the extension';
    $b = scim("/Users/$BOB?excludedAttributes=$ent")->json;
    ok !exists $b->{$ent}, 'excludedAttributes= the extension: left out';
    reset_demo();
}

# --- tenancy --------------------------------------------------------------------------
scim_error(scim("/Users/$GINA"), 404, undef, "another account's user by id");
is list(filter => 'userName eq "gina.globex"')->json->{totalResults}, 0, "another account's user by filter: 0";
is names_of(list()), 'alice.acme,bob.acme,carol.acme,dave.acme,erin.acme', "the list: the account's users only, in id order";
is names_of(json_request(GET => '/scim/v2/Users', token(account => 'globex'))), 'gina.globex,hank.globex',
   "globex's token: globex's users";

# --- filters --------------------------------------------------------------------------
my %filters = (
    'userName sw "c"'                                   => 'carol.acme',
    'userName ew ".ACME" and name.givenName eq "bob"'   => 'bob.acme',
    'emails.value co "DAVE@"'                           => 'dave.acme',
    'emails eq "Erin@Acme.Example"'                     => 'erin.acme',
    'name.familyName eq "Archer" or name.familyName eq "Baker"' => 'alice.acme,bob.acme',
    'not (userName co "l")'                             => 'bob.acme,dave.acme,erin.acme',
    'userName ne "alice.acme" and not (userName sw "b") and not(userName sw "e")' => 'carol.acme,dave.acme',
    '(userName eq "alice.acme" or userName eq "bob.acme") and name.givenName eq "Bob"' => 'bob.acme',
    'userName eq "alice.acme" or userName eq "bob.acme" and name.givenName eq "Alice"' => 'alice.acme',
    'name.middleName pr'                                => '',
    'not (name.middleName eq "x")'                      => 'alice.acme,bob.acme,carol.acme,dave.acme,erin.acme',
    'name.middleName eq null'                           => 'alice.acme,bob.acme,carol.acme,dave.acme,erin.acme',
    'displayName eq "carol carter"'                     => 'carol.acme',
    'userName gt "c" and userName lt "e"'               => 'carol.acme,dave.acme',
    'userName ge "dave.acme" and userName le "dave.acme"' => 'dave.acme',
    "id eq \"$BOB\""                                    => 'bob.acme',
    'id sw "20000000-0000-4000-8000-00000000000"'       => 'alice.acme,bob.acme,carol.acme,dave.acme,erin.acme',
    'meta.lastModified gt "2000-01-01T00:00:00Z"'       => 'alice.acme,bob.acme,carol.acme,dave.acme,erin.acme',
    'meta.lastModified lt "2000-01-01T00:00:00+01:00"'  => '',
    'active eq true and userName sw "a"'                => 'alice.acme',
    'userName eq "x\" OR 1=1 --"'                       => '',
    "userName eq \"bob.acme') OR true --\""             => '',
    'userName eq "\u0062ob.acme"'                       => 'bob.acme',
    'USERNAME EQ "bob.acme"'                            => 'bob.acme',
    USER_SCHEMA . ":userName eq \"bob.acme\""             => 'bob.acme',
    # multi-valued attributes: emails holds one value (work, primary),
    # phoneNumbers phone1 (work) and phone2 (mobile)
    'emails[type eq "work" and value co "@ACME.example"]' => 'alice.acme,bob.acme,carol.acme,dave.acme,erin.acme',
    'emails[type eq "home"]'                            => '',
    'emails.type eq "WORK" and userName sw "b"'         => 'bob.acme',
    'emails[value ew "e@acme.example" or value sw "dave"]' => 'alice.acme,dave.acme',
    'phoneNumbers pr'                                   => 'alice.acme,bob.acme',
    'phoneNumbers[type eq "work"]'                      => 'alice.acme,bob.acme',
    'phoneNumbers[type eq "mobile"]'                    => '',
    'phoneNumbers.value eq "+1 212 555 0102"'           => 'bob.acme',
    'phoneNumbers.value ne "+1 212 555 0102"'           => 'alice.acme,carol.acme,dave.acme,erin.acme',
    'not (phoneNumbers pr)'                             => 'carol.acme,dave.acme,erin.acme',
    'phoneNumbers.type eq null'                         => 'carol.acme,dave.acme,erin.acme',
    'phoneNumbers[type eq "work" and value ew "0101"] or userName eq "erin.acme"' => 'alice.acme,erin.acme',
);
for my $f (sort keys %filters) {
    is names_of(list(filter => $f)), $filters{$f}, "filter=$f";
}

# A value path holds for one value: bob's second number (mobile) ends in
# 0101 like alice's work number; only alice has a work number ending so.
db_query("UPDATE userbulk.users SET phone2 = '+1 212 555 0101' WHERE id = '$BOB'");
is names_of(list(filter => 'phoneNumbers[type eq "work" and value ew "0101"]')), 'alice.acme',
   'phoneNumbers[type eq "work" and value ew "0101"]: type and value of the same number';
is names_of(list(filter => 'phoneNumbers.type eq "work" and phoneNumbers.value ew "0101"')),
   'alice.acme,bob.acme', '... where the same, outside a value path, may hold on two numbers';
is names_of(list(filter => 'phoneNumbers[type eq "mobile"]')), 'bob.acme', 'phoneNumbers[type eq "mobile"]: phone2';
db_query("UPDATE userbulk.users SET phone2 = NULL WHERE id = '$BOB'");

# active <-> lockedOut: active is NOT locked_out.
db_query("UPDATE userbulk.users SET locked_out = true WHERE id = '$DAVE'");
is names_of(list(filter => 'active eq false')), 'dave.acme', 'active eq false: the locked-out user';
is names_of(list(filter => 'active ne true')), 'dave.acme', 'active ne true: the same';
is scim("/Users/$DAVE")->json->{active}, $FALSE, '... and his resource says active false';
db_query("UPDATE userbulk.users SET locked_out = false WHERE id = '$DAVE'");

for my $bad ('userName', 'userName eq', 'userName eq bob', 'userName xx "a"', '(userName eq "a"',
             'password eq "x"', 'active eq "yes"', 'userName eq "a" junk',
             'emails[type eq "work"', 'emails[nickName eq "x"]', 'name[givenName eq "x"]',
             'emails[type eq "work"].value eq "x"', 'phoneNumbers[value[type pr]]',
             'externalId eq true', 'phoneNumbers.primary eq true',
             ('emails[type pr] or ' x 64) . 'id pr',
             ('(' x 16) . 'phoneNumbers[type pr]' . (')' x 16),
             'meta.lastModified gt "yesterday"', ('not (' x 20) . 'id pr' . (')' x 20),
             'userName eq "' . ('a' x 4100) . '"') {
    scim_error(list(filter => $bad), 400, 'invalidFilter', 'filter=' . substr($bad, 0, 40));
}
like scim_error(list(filter => ('(' x 17) . 'id pr' . (')' x 17)), 400, 'invalidFilter', 'too deep')->{detail},
     qr/nested deeper than 16/, '... the detail says the cap';
like scim_error(list(filter => join(' or ', ('id pr') x 65)), 400, 'invalidFilter', 'too many comparisons')->{detail},
     qr/more than 64 comparisons/, '... the detail says the cap';
like scim_error(list(filter => 'emails[nickName eq "x"]'), 400, 'invalidFilter', 'an unknown sub-attribute')->{detail},
     qr/emails has no sub-attribute "nickName"/, '... the detail names it';
{
    my $mark = error_log_mark();
    list(filter => 'nickName eq "x"');
    ok((grep { /UB0600 refused a SCIM filter/ } error_log_lines($mark)), 'a refused filter is logged (UB0600)');
}

# --- pages -----------------------------------------------------------------------------
{
    my $b = list(startIndex => 2, count => 2)->json;
    is_deeply [ map { $_->{userName} } @{ $b->{Resources} } ], [ 'bob.acme', 'carol.acme' ], 'startIndex=2&count=2';
    is $b->{startIndex}, 2, '... startIndex 2';
    is $b->{itemsPerPage}, 2, '... itemsPerPage 2';
    is $b->{totalResults}, 5, '... totalResults counts them all';
    $b = list(startIndex => 0, count => 1)->json;
    is $b->{startIndex}, 1, 'startIndex=0 is 1';
    $b = list(count => 0)->json;
    is $b->{totalResults}, 5, 'count=0: totalResults';
    is_deeply $b->{Resources}, [], '... no Resources';
    $b = list(count => -3)->json;
    is $b->{itemsPerPage}, 0, 'a negative count is 0';
    $b = list(startIndex => 9)->json;
    is $b->{totalResults}, 5, 'past the end: totalResults';
    is $b->{itemsPerPage}, 0, '... an empty page';
    $b = list(startIndex => 4, filter => 'userName sw "a" or userName sw "e"')->json;
    is $b->{totalResults}, 2, 'a filtered page past its matches: totalResults of the filter';
    scim_error(list(count => 'ten'), 400, 'invalidValue', 'count=ten');
    scim_error(list(startIndex => '1x'), 400, 'invalidValue', 'startIndex=1x');
}
{
    db_query(q{INSERT INTO userbulk.users (account_id, user_name, email)
               SELECT '00000000-0000-4000-8000-00000000000a', 'scimpage' || g, 'scimpage' || g || '@acme.example'
                 FROM generate_series(1, 250) g});
    my $b = list(count => 1000)->json;
    is $b->{totalResults}, 255, 'more users than the server max: totalResults';
    is $b->{itemsPerPage}, 200, '... a page of at most 200 (count lowered to the max)';
    $b = list()->json;
    is $b->{itemsPerPage}, 200, '... also without count';
    reset_demo();
}

# --- attributes / excludedAttributes --------------------------------------------------
{
    my $u = scim("/Users/$BOB?attributes=userName")->json;
    is_deeply [ sort keys %$u ], [ qw(id schemas userName) ], 'attributes=userName: it, id and schemas';
    $u = scim("/Users/$BOB?attributes=name.givenName,emails.value")->json;
    is_deeply $u->{name}, { givenName => 'Bob' }, 'attributes=name.givenName: that sub-attribute';
    is_deeply $u->{emails}, [ { value => 'bob@acme.example' } ], 'attributes=emails.value: in each email';
    $u = scim("/Users/$BOB?excludedAttributes=emails,meta,id")->json;
    ok !exists $u->{emails} && !exists $u->{meta}, 'excludedAttributes=emails,meta: gone';
    is $u->{id}, $BOB, '... id is returned always';
    is $u->{userName}, 'bob.acme', '... the others stay';
    $u = scim("/Users/$BOB?excludedAttributes=name.familyName")->json;
    is_deeply $u->{name}, { givenName => 'Bob' }, 'excludedAttributes=name.familyName';
    my $b = list(filter => 'userName eq "bob.acme"', attributes => USER_SCHEMA . ":userName,active")->json;
    is_deeply [ sort keys %{ $b->{Resources}[0] } ], [ qw(active id schemas userName) ],
        'a list with attributes (URN-qualified)';
    scim_error(list(attributes => 'userName;drop'), 400, 'invalidValue', 'attributes=userName;drop');
}

# --- refusals in SCIM's form ------------------------------------------------------------
scim_error(scim('/Users', token => undef), 401, undef, 'no token');
scim_error(scim('/Users', token => token(roles => ['viewer'])), 403, undef, 'a token without the role');
scim_error(scim('/Users', token => token(account => '')), 403, undef, 'a token without an account');
{
    my $res = scim('/Users', method => 'PUT');
    scim_error($res, 405, undef, 'PUT /Users');
    is $res->header('Allow'), 'GET, POST', '... Allow: GET, POST (creation: t/scim_create.t)';
    $res = scim("/Users/$BOB", method => 'POST');
    scim_error($res, 405, undef, 'POST /Users/{id}');
    is $res->header('Allow'), 'GET, PUT, PATCH, DELETE', '... Allow: GET, PUT, PATCH, DELETE (t/scim_write.t)';
    scim_error(scim('/Me'), 404, undef, '/Me (not served)');
    $res = scim('/Bulk');
    scim_error($res, 405, undef, 'GET /Bulk');
    is $res->header('Allow'), 'POST', '... Allow: POST (t/scim_bulk.t)';
    scim_error(scim(''), 404, undef, 'the base URL itself');
    scim_error(scim("/Users/$BOB/x"), 404, undef, 'a path below a user');
}
is db_query(q{SELECT count(*) FROM userbulk.audit_request WHERE endpoint LIKE 'scim%'}) // 0, 0,
   'reading writes nothing to the audit trail';

done_testing();
