# SCIM 2.0 answers against the RFC 7643 schemas, judged by a third party:
# SCIMMY (npm "scimmy", pinned in tests/package.json; make test-tools
# installs it) through tests/tools/scim-validate.mjs. Real answers of the
# server: lists (users with and without name and phone numbers, a filtered
# list, an empty one, attribute selections), a user by id, the answer of a
# create, and the discovery documents. And the validator's own test: a
# broken resource is refused, each violation named, so that this file can
# fail. Other test files validate their answers with the same call,
# scim_valid_ok (tests/lib/UserBulk/Scim.pm).
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
my $BOB = '20000000-0000-4000-8000-000000000002';
my $SCIM = [ Accept => 'application/scim+json', 'Content-Type' => 'application/scim+json' ];

reset_demo();

sub scim {
    my ($method, $path, $body) = @_;
    return json_request($method, "/scim/v2$path", token(), $body, $SCIM);
}

# A 200 answer, validated.
sub valid_answer {
    my ($path, $name, %o) = @_;
    my $res = scim(GET => $path);
    is $res->code, 200, "$name: 200" or diag $res->content;
    scim_valid_ok($res, $name, %o);
    return $res->json;
}

# Users as bare as the directory allows (no name, no phone, no display
# name) and one with every column the SCIM mapping reads.
db_query(q{INSERT INTO userbulk.users (account_id, user_name, email)
           VALUES ('00000000-0000-4000-8000-00000000000a', 'bare.acme', 'bare@acme.example')});
db_query(q{INSERT INTO userbulk.users (account_id, user_name, email, first_name, middle_name,
                                       last_name, display_name, phone1, phone2, locked_out)
           VALUES ('00000000-0000-4000-8000-00000000000a', 'full.acme', 'full@acme.example',
                   'Fay', 'Q', 'Full', 'Fay Full', '+1 212 555 0199', '+1 212 555 0198', true)});

# --- Users ------------------------------------------------------------------------------
{
    my $b = valid_answer('/Users', 'GET /Users (7 users)', as => 'User');
    is $b->{totalResults}, 7, '... all of them';
    my %u = map { $_->{userName} => $_ } @{ $b->{Resources} };
    ok !exists $u{'bare.acme'}{name} && !exists $u{'bare.acme'}{phoneNumbers},
       '... incl. one with no name and no phone numbers';
    is scalar @{ $u{'full.acme'}{phoneNumbers} }, 2, '... and one with two phone numbers';
    scim_valid_ok($u{'bare.acme'}, 'the bare user alone', as => 'User');
}
valid_answer('/Users?count=2&startIndex=2', 'a page of 2');
valid_answer('/Users?filter=' . uri_escape_utf8('userName eq "nobody"'), 'an empty list');
valid_answer('/Users?filter=' . uri_escape_utf8('userName sw "b" or active eq false'), 'a filtered list');
valid_answer('/Users?count=0', 'count=0: totalResults only');
valid_answer("/Users/$BOB", 'GET /Users/{id}', as => 'User');
valid_answer('/Users?attributes=userName,emails.value', 'attributes=userName,emails.value',
             as => 'User', partial => 1);
valid_answer("/Users/$BOB?excludedAttributes=name,meta", 'excludedAttributes=name,meta',
             as => 'User', partial => 1);
{
    my $res = scim(POST => '/Users', {
        schemas  => [ USER_SCHEMA ],
        userName => 'new.scim@acme.example',
        name     => { givenName => 'New', familyName => 'Scim' },
        emails   => [ { value => 'new.scim@acme.example', type => 'work', primary => $TRUE } ],
        active   => $TRUE,
    });
    is $res->code, 201, 'POST /Users: 201' or diag $res->content;
    scim_valid_ok($res, 'the answer of POST /Users', as => 'User');
}

# --- discovery ---------------------------------------------------------------------------
valid_answer('/ServiceProviderConfig', '/ServiceProviderConfig', as => 'ServiceProviderConfig');
valid_answer('/ResourceTypes', '/ResourceTypes', as => 'ResourceType');
valid_answer('/ResourceTypes/User', '/ResourceTypes/User', as => 'ResourceType');
valid_answer('/Schemas', '/Schemas (each declared attribute as RFC 7643 defines it)', as => 'Schema');
valid_answer('/Schemas/' . USER_SCHEMA, '/Schemas/{User}', as => 'Schema');

# --- the validator refuses what is broken ------------------------------------------------
{
    my $good = scim(GET => "/Users/$BOB")->json;
    my $broken = { %$good };
    delete $broken->{userName};
    $broken->{active} = 'yes';
    $broken->{emails} = { value => 'bob@acme.example' };
    $broken->{name} = { %{ $good->{name} }, givenName => 42 };
    $broken->{nickname2} = 'x';
    $broken->{password} = 'secret';
    $broken->{phoneNumbers} = [ map { { %$_, primary => $TRUE } } ({ value => '1' }, { value => '2' }) ];
    $broken->{meta} = { %{ $good->{meta} }, lastModified => 'yesterday' };
    my @v = scim_validate($broken);
    my %want = (
        'userName missing'         => qr/^\$: Required attribute 'userName' is missing/,
        'active not a boolean'     => qr/^\$\.active: .*'boolean'/,
        'emails not a collection'  => qr/^\$\.emails: .*expected to be a collection/,
        'givenName not a string'   => qr/^\$\.name: .*'givenName'.*'string'/,
        'an unknown attribute'     => qr/^\$\.nickname2: no attribute/,
        'password in an answer'    => qr/^\$\.password: .*never returned/,
        'two primary phones'       => qr/^\$\.phoneNumbers: more than one value has primary true/,
        'lastModified not a date'  => qr/'lastModified' expected value type 'dateTime'/,
    );
    for my $what (sort keys %want) {
        ok((grep { $_ =~ $want{$what} } @v), "a broken User is refused: $what") or diag join "\n", @v;
    }
    is_deeply [ scim_validate($good) ], [], '... and the same user unbroken passes';
    ok !!(() = scim_validate($good, as => 'Group')), 'a User is not a Group';
    ok !!(() = scim_validate({ schemas => [ LIST_SCHEMA ], totalResults => 1, startIndex => 1,
                              itemsPerPage => 2, Resources => [ $good ] })),
       'a ListResponse whose itemsPerPage is not its Resources\' count';
    my $schema = scim(GET => '/Schemas/' . USER_SCHEMA)->json;
    my ($user_name) = grep { $_->{name} eq 'userName' } @{ $schema->{attributes} };
    $user_name->{caseExact} = $TRUE;
    ok((grep { /userName.*caseExact/ || /caseExact.*'userName'/ } scim_validate($schema)),
       'a Schema whose userName is caseExact (RFC 7643: false) is refused');
    my $config = scim(GET => '/ServiceProviderConfig')->json;
    $config->{bulk}{maxOperations} = 'many';
    ok !!(() = scim_validate($config)), 'a ServiceProviderConfig with maxOperations "many" is refused';
}

# --- Groups ---------------------------------------------------------------------------------
# The helper knows the Group schema (t/scim_groups.t validates its answers).
{
    my $group = { schemas => [ 'urn:ietf:params:scim:schemas:core:2.0:Group' ], id => 'g1',
                  displayName => 'userbulk.admin',
                  members => [ { value => $BOB, '$ref' => "https://x/scim/v2/Users/$BOB", type => 'User',
                                 display => 'bob.acme' } ],
                  meta => { resourceType => 'Group', location => 'https://x/scim/v2/Groups/g1' } };
    scim_valid_ok($group, 'a Group', as => 'Group');
    ok((grep { /Required attribute 'displayName'/ } scim_validate({ %$group, displayName => undef })),
       'a Group without displayName is refused');
    ok((grep { /non-canonical/ } scim_validate({ %$group, members => [ { value => $BOB, type => 'Role' } ] })),
       'a member of type Role is refused');
}

reset_demo();
done_testing();
