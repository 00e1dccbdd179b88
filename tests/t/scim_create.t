# SCIM 2.0, creation (RFC 7644 section 3.3): POST /scim/v2/Users with the
# request Okta's provisioning sends (its SCIM 2.0 documentation's shape),
# its refusals as SCIM errors, and the user created as the other APIs and
# the audit trail see it.
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
my $SCIM = [ Accept => 'application/scim+json', 'Content-Type' => 'application/scim+json' ];

reset_demo();

sub scim {
    my ($method, $path, $body, %o) = @_;
    return json_request($method, "/scim/v2$path", exists $o{token} ? $o{token} : token(),
                        $body, $o{headers} // $SCIM);
}


# Okta's create request (its SCIM 2.0 guide: "Create the user").
sub okta_user {
    my (%o) = @_;
    return {
        schemas     => [ USER_SCHEMA ],
        userName    => 'test.user@okta.local',
        name        => { givenName => 'Test', familyName => 'User' },
        emails      => [ { primary => $TRUE, value => 'test.user@okta.local', type => 'work' } ],
        displayName => 'Test User',
        locale      => 'en-US',
        externalId  => '00ujl29u0le5T6Aj10h7',
        groups      => [],
        password    => '1mz050nq',
        active      => $TRUE,
        %o,
    };
}

# --- Okta's create ---------------------------------------------------------------
my $created;
{
    my $res = scim(POST => '/Users', okta_user());
    is $res->code, 201, 'Okta\'s create: 201' or diag $res->content;
    like $res->header('Content-Type') // '', qr{^application/scim\+json}, '... application/scim+json';
    $created = $res->json // {};
    like $created->{id} // '', qr/^[0-9a-f-]{36}$/, '... an id';
    is $res->header('ETag'), 'W/"1"', '... ETag W/"1"';
    like $res->header('Location') // '', qr{^https?://[^/]+/scim/v2/Users/\Q$created->{id}\E$},
        '... Location: the user\'s URL';
    is $created->{userName}, 'test.user@okta.local', '... userName';
    is_deeply $created->{name}, { givenName => 'Test', familyName => 'User' }, '... name';
    is $created->{emails}[0]{value}, 'test.user@okta.local', '... emails[0].value';
    is $created->{displayName}, 'Test User', '... displayName';
    is $created->{active}, $TRUE, '... active';
    is $created->{externalId}, '00ujl29u0le5T6Aj10h7', '... externalId (Okta\'s id of the user)';
    ok !exists $created->{password}, '... password ignored, never answered';
    is $created->{meta}{location}, $res->header('Location'), '... meta.location is the Location';

    my $get = scim(GET => "/Users/$created->{id}");
    is $get->code, 200, 'GET /Users/{id} finds it';
    is_deeply $get->json, $created, '... the same resource as the create answered';
    is $get->header('ETag'), 'W/"1"', '... the same ETag';

    my $list = scim(GET => '/Users?filter=' . uri_escape_utf8('userName eq "TEST.USER@okta.local"'));
    is $list->json->{totalResults}, 1, 'filter=userName eq finds it';
    is $list->json->{Resources}[0]{id}, $created->{id}, '... by its id';

    is db_query(qq{SELECT string_agg(r.name, ',') FROM userbulk.user_roles ur
                     JOIN userbulk.roles r ON r.id = ur.role_id WHERE ur.user_id = '$created->{id}'}),
       'Viewer', 'the account\'s default role';

    my $trace = $res->header('X-Trace-Id');
    my ($a) = db_query("SELECT actor, endpoint, user_id, before::text, after::text FROM userbulk.audit "
                       . "WHERE trace_id = '$trace'");
    ok $a, 'an audit row carries the trace id';
    is $a->[0], 'alice', 'audit: the caller';
    is $a->[1], 'scim', 'audit: endpoint scim';
    is $a->[2], $created->{id}, 'audit: the user';
    is $a->[3], '{}', 'audit: before, nothing';
    is_deeply(JSON::PP->new->decode($a->[4]),
        { userName => 'test.user@okta.local', email => 'test.user@okta.local', firstName => 'Test',
          lastName => 'User', displayName => 'Test User', lockedOut => $FALSE,
          externalId => '00ujl29u0le5T6Aj10h7', roles => [ '10000000-0000-4000-8000-000000000003' ] }, 'audit: after, the fields created');
}

# --- the created user through the seed APIs ---------------------------------------
{
    my $res = json_request(PUT => PUT_USERS, token(),
                           [ { userName => 'test.user@okta.local', email => 'test.user@okta.local',
                               name => { firstName => 'Tess' } } ]);
    is $res->code, 200, 'PUT /users of the created user: 200' or diag $res->content;
    is scim(GET => "/Users/$created->{id}")->json->{name}{givenName}, 'Tess', '... and SCIM sees the change';
}

# --- uniqueness --------------------------------------------------------------------
{
    my $b = scim_error(scim(POST => '/Users', okta_user()), 409, 'uniqueness', 'the same create again');
    like $b->{detail}, qr/userName/, '... names userName';
    $b = scim_error(scim(POST => '/Users', okta_user(userName => 'other.okta',
                                                      emails => [ { value => 'ALICE@acme.example' } ])),
                    409, 'uniqueness', 'an address taken (another case)');
    like $b->{detail}, qr/emails/, '... names emails';
    scim_error(scim(POST => '/Users', okta_user(userName => 'gina.globex',
                                                 emails => [ { value => 'new@x.example' } ])),
               409, 'uniqueness', 'a userName of another account (unique system-wide)');
}

# Another request holding the same userName in an open transaction: the
# create waits at the unique index and answers 409, not 500.
{
    my $psql = pg_bin('psql');
    my $conn = db_conninfo();
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        exec $psql, $conn, '-X', '-q', '-c',
            "BEGIN; INSERT INTO userbulk.users (account_id, user_name, email) VALUES "
            . "('00000000-0000-4000-8000-00000000000a', 'race.acme', 'race0\@acme.example'); "
            . "SELECT pg_sleep(2); COMMIT;";
        exit 127;
    }
    my $held = 0;
    for (1 .. 100) {
        $held = db_query(q{SELECT count(*) FROM pg_stat_activity
                            WHERE query LIKE '%race.acme%pg_sleep(2)%' AND pid <> pg_backend_pid()
                              AND state = 'active'});
        last if $held;
        select undef, undef, undef, 0.05;
    }
    ok $held, 'another transaction holds userName race.acme';
    my $res = scim(POST => '/Users', okta_user(userName => 'race.acme',
                                               emails => [ { value => 'race1@acme.example' } ]));
    waitpid $pid, 0;
    scim_error($res, 409, 'uniqueness', 'a create racing the other transaction');
}

# --- invalid requests --------------------------------------------------------------
{
    my $b = scim_error(scim(POST => '/Users', okta_user(userName => 'bad.okta',
                                                         emails => [ { value => 'not-an-address' } ])),
                       400, 'invalidValue', 'a bad address');
    like $b->{detail}, qr/^emails\[0\]\.value /, '... names emails[0].value';
    my %no_name = %{ okta_user(userName => undef, emails => [ { value => 'nn@okta.local' } ]) };
    delete $no_name{userName};
    $b = scim_error(scim(POST => '/Users', \%no_name), 400, 'invalidValue', 'no userName');
    like $b->{detail}, qr/^userName /, '... names userName';
    $b = scim_error(scim(POST => '/Users', okta_user(userName => 'x' x 101,
                                                      emails => [ { value => 'long@okta.local' } ])),
                    400, 'invalidValue', 'a userName too long');
    $b = scim_error(scim(POST => '/Users', okta_user(userName => 'nomail.okta', emails => [])),
                    400, 'invalidValue', 'no address');
    like $b->{detail}, qr/^emails /, '... names emails';
    $b = scim_error(scim(POST => '/Users', okta_user(userName => 'phone.okta', emails => [ { value => 'p@okta.local' } ],
                                                      phoneNumbers => [ { value => 'call me' } ])),
                    400, 'invalidValue', 'a bad phone number');
    like $b->{detail}, qr/^phoneNumbers\[0\]\.value /, '... names phoneNumbers[0].value';
    $b = scim_error(scim(POST => '/Users', { userName => 'noschema.okta', emails => [ { value => 'ns@okta.local' } ] }),
                    400, 'invalidSyntax', 'no schemas');
    scim_error(scim(POST => '/Users', '{"schemas":['), 400, 'invalidSyntax', 'not JSON');
    scim_error(scim(POST => '/Users', okta_user(), headers => [ 'Content-Type' => 'text/plain' ]),
               415, undef, 'text/plain');
    is db_query(q{SELECT count(*) FROM userbulk.users
                   WHERE user_name IN ('bad.okta', 'nomail.okta', 'phone.okta', 'noschema.okta', 'other.okta')}),
       0, 'a refusal creates nothing';
}

# --- application/json, readOnly attributes, active false -------------------------
{
    my $res = scim(POST => '/Users', okta_user(userName => 'json.okta', id => 'mine', meta => { version => 'W/"9"' },
                                               emails => [ { value => 'j1@okta.local' },
                                                           { value => 'j2@okta.local', primary => $TRUE } ],
                                               phoneNumbers => [ { value => '+1 555 0100' }, { value => '+1 555 0101' },
                                                                 { value => '+1 555 0102' } ],
                                               active => $FALSE),
                   headers => [ 'Content-Type' => 'application/json' ]);
    is $res->code, 201, 'application/json: 201' or diag $res->content;
    my $b = $res->json // {};
    isnt $b->{id}, 'mine', '... id is the server\'s (readOnly)';
    is $b->{meta}{version}, 'W/"1"', '... meta is the server\'s';
    is $b->{emails}[0]{value}, 'j2@okta.local', '... the primary address';
    is_deeply [ map { $_->{value} } @{ $b->{phoneNumbers} } ], [ '+1 555 0100', '+1 555 0101' ],
        '... the first two phone numbers';
    is $b->{active}, $FALSE, '... active false';
    is db_query(q{SELECT locked_out FROM userbulk.users WHERE user_name = 'json.okta'}), 't',
       '... stored as locked out';
}

# --- tenancy -----------------------------------------------------------------------
scim_error(scim(GET => "/Users/$created->{id}", undef, token => token(account => 'globex')),
           404, undef, 'another account does not see the created user');
is scim(GET => '/Users?filter=' . uri_escape_utf8('userName eq "test.user@okta.local"'), undef,
        token => token(account => 'globex'))->json->{totalResults}, 0, '... nor finds it by userName';
{
    my $res = scim(PUT => '/Users');
    scim_error($res, 405, undef, 'PUT /Users');
    is $res->header('Allow'), 'GET, POST', '... Allow: GET, POST';
}

is role_ids_drift(), 0, "after the SCIM creations, every user's role_ids is its links (017)";
is audit_chain_drift(), 0, "after the SCIM creations and deletions, every user's history is one chain from its row (018)";
done_testing();
