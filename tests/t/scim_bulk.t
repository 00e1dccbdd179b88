# SCIM 2.0 /Bulk (RFC 7644 section 3.7) on /Users: bulkId references,
# several operations on one user, failOnErrors, the atomic and dry-run
# extensions, 413 tooMany, the worst case (1000 operations in one body),
# an address swap chain, and concurrent requests on the same users.
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
use UserBulk::Scim qw(:all);

my $TRUE = JSON::PP::true;
my $FALSE = JSON::PP::false;
my $SCIM = [ Accept => 'application/scim+json', 'Content-Type' => 'application/scim+json' ];
use constant BULK_REQUEST  => 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
use constant BULK_RESPONSE => 'urn:ietf:params:scim:api:messages:2.0:BulkResponse';
use constant PATCH_SCHEMA  => 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

reset_demo();

sub bulk {
    my ($ops, %o) = @_;
    my $res = json_request(POST => '/scim/v2/Bulk' . ($o{query} // ''), $o{token} // token(),
                           { schemas => [ BULK_REQUEST ], Operations => $ops, %{ $o{extra} // {} } }, $SCIM);
    return $res;
}

sub user_op {
    my ($bulk_id, $name, %o) = @_;
    return { method => 'POST', path => '/Users', bulkId => $bulk_id,
             data => { schemas => [ USER_SCHEMA ], userName => $name,
                       emails => [ { value => $o{email} // "$name\@bulk.example" } ],
                       name => { givenName => 'G', familyName => 'F' } } };
}

sub patch_op {
    my ($path, @ops) = @_;
    return { method => 'PATCH', path => $path, data => { schemas => [ PATCH_SCHEMA ], Operations => [ @ops ] } };
}

sub statuses { return join ',', map { $_->{status} } @{ $_[0]->json->{Operations} // [] } }

sub id_of { return db_query("SELECT id FROM userbulk.users WHERE user_name = '$_[0]'") }

# --- creation, bulkId references, a response per operation ----------------------------
my ($ann, $ben);
{
    my $res = bulk([ user_op('a', 'ann.bulk'),
                     user_op('b', 'ben.bulk'),
                     patch_op('/Users/bulkId:a', { op => 'replace', path => 'displayName', value => 'Ann B' }) ]);
    is $res->code, 200, 'a Bulk request: 200' or diag $res->content;
    like $res->header('Content-Type') // '', qr{^application/scim\+json}, '... application/scim+json';
    my $b = $res->json // {};
    is_deeply $b->{schemas}, [ BULK_RESPONSE ], '... a BulkResponse';
    is statuses($res), '201,201,200', '... 201, 201, 200';
    $ann = id_of('ann.bulk');
    $ben = id_of('ben.bulk');
    my ($o0, $o1, $o2) = @{ $b->{Operations} };
    is $o0->{method}, 'POST', '... method';
    is $o0->{bulkId}, 'a', '... bulkId';
    like $o0->{location}, qr{/scim/v2/Users/\Q$ann\E$}, '... location of the created user';
    is $o0->{version}, 'W/"1"', '... version';
    is $o2->{location}, $o0->{location}, 'PATCH /Users/bulkId:a: the user created by a';
    is db_query("SELECT display_name || ' ' || version FROM userbulk.users WHERE id = '$ann'"), 'Ann B 1',
       '... folded into the creation: one version';
    is db_query(qq{SELECT count(*) FROM userbulk.audit WHERE trace_id = '@{[ $res->header('X-Trace-Id') ]}'}), 2,
       'the audit trail: one row per user';
    is db_query(qq{SELECT count(DISTINCT endpoint) || endpoint FROM userbulk.audit
                    WHERE trace_id = '@{[ $res->header('X-Trace-Id') ]}' GROUP BY endpoint}), '1scim', '... endpoint scim';
}

# --- several operations on one user, in order ----------------------------------------------
{
    my $res = bulk([ patch_op("/Users/$ann", { op => 'replace', path => 'name.givenName', value => 'One' }),
                     patch_op("/Users/$ann", { op => 'replace', path => 'name.givenName', value => 'Two' },
                                             { op => 'replace', path => 'name.familyName', value => 'Later' }),
                     { method => 'PUT', path => "/Users/$ben", data => { schemas => [ USER_SCHEMA ], userName => 'ben.bulk',
                                                                          emails => [ { value => 'ben@bulk.example' } ] } },
                     { method => 'DELETE', path => "/Users/$ben" },
                     patch_op("/Users/$ben", { op => 'replace', path => 'displayName', value => 'x' }) ]);
    is statuses($res), '200,200,200,204,404', 'PATCH, PATCH; PUT, DELETE, PATCH on one user each (each answers its own method)' or diag $res->content;
    is db_query("SELECT first_name || ' ' || last_name || ' ' || version FROM userbulk.users WHERE id = '$ann'"),
       'Two Later 2', 'the later assignment wins; one version for the request';
    is db_query("SELECT count(*) FROM userbulk.users WHERE id = '$ben'"), 0, 'a DELETE after a PUT deletes';
    like $res->json->{Operations}[4]{response}{detail}, qr/deleted by operation 2 /, '... and an operation after it is 404';
    $res = bulk([ user_op('c', 'cid.bulk'), { method => 'DELETE', path => '/Users/bulkId:c' } ]);
    is statuses($res), '201,400', 'DELETE of a user the request creates: refused';
    $res = bulk([ patch_op('/Users/bulkId:nope', { op => 'replace', path => 'displayName', value => 'x' }) ]);
    is statuses($res), '409', 'a bulkId no POST before defines: 409';
    is $res->json->{Operations}[0]{response}{scimType}, 'invalidValue', '... invalidValue';
}

# --- errors per operation, versions ---------------------------------------------------------------
{
    my $v = db_query("SELECT version FROM userbulk.users WHERE id = '$ann'");
    my $res = bulk([ { method => 'PUT', path => "/Users/$ann", version => 'W/"1"',
                       data => { schemas => [ USER_SCHEMA ], userName => 'ann.bulk', emails => [ { value => 'ann.bulk@bulk.example' } ] } },
                     user_op('d', 'alice.acme'),
                     { method => 'POST', path => '/Groups', bulkId => 'g', data => {} },
                     { method => 'GET', path => "/Users/$ann" },
                     user_op('e', 'eve.bulk', email => 'bob@acme.example') ]);
    is statuses($res), '412,409,501,400,409', 'an old version 412, a userName and an address taken 409, Groups 501, GET 400'
        or diag $res->content;
    my @o = @{ $res->json->{Operations} };
    is_deeply $o[1]{response}{schemas}, [ ERROR_SCHEMA ], 'an error response: the Error schema';
    is $o[1]{response}{scimType}, 'uniqueness', '... scimType uniqueness';
    like $o[1]{response}{detail}, qr/^userName/, '... naming userName';
    like $o[2]{response}{detail}, qr/Groups/, 'Groups: not in /Bulk';
    is db_query("SELECT version FROM userbulk.users WHERE id = '$ann'"), $v, 'nothing changed';
    $res = bulk([ { method => 'DELETE', path => "/Users/$ann", version => 'W/"1"' } ]);
    is statuses($res), '412', 'DELETE with an old version: 412';
}

# --- failOnErrors -----------------------------------------------------------------------------------
{
    my $res = bulk([ user_op('f1', 'alice.acme'),
                     user_op('f2', 'fay.bulk'),
                     user_op('f3', 'alice.acme'),
                     user_op('f4', 'flo.bulk') ], extra => { failOnErrors => 1 });
    is statuses($res), '409', 'failOnErrors 1: the first error, nothing after it' or diag $res->content;
    is db_query("SELECT count(*) FROM userbulk.users WHERE user_name IN ('fay.bulk', 'flo.bulk')"), 0,
       '... the operations after it not performed';
    $res = bulk([ user_op('f1', 'fay.bulk'), user_op('f2', 'alice.acme'), user_op('f3', 'flo.bulk'),
                  user_op('f4', 'alice.acme'), user_op('f5', 'fox.bulk') ], extra => { failOnErrors => 2 });
    is statuses($res), '201,409,201,409', 'failOnErrors 2: up to the second error';
    is db_query("SELECT string_agg(user_name, ',' ORDER BY user_name) FROM userbulk.users WHERE user_name LIKE 'f%.bulk'"),
       'fay.bulk,flo.bulk', '... those before it applied, fox not';
    # a later operation that would free an address is not performed: the
    # earlier one counting on it is decided again
    my $fay = id_of('fay.bulk');
    $res = bulk([ patch_op("/Users/$ann", { op => 'replace', path => 'emails', value => [ { value => 'fay.bulk@bulk.example' } ] }),
                  user_op('x', 'alice.acme'),
                  { method => 'DELETE', path => "/Users/$fay" } ], extra => { failOnErrors => 1 });
    is statuses($res), '409', 'failOnErrors: a freed address that is not freed';
    is db_query("SELECT count(*) FROM userbulk.users WHERE id = '$fay'"), 1, '... the DELETE not performed';
    # an operation that failed only because of one after the cut (both
    # ask for the same address) is decided again and passes
    $res = bulk([ user_op('y1', 'yan.bulk', email => 'same@bulk.example'),
                  user_op('y2', 'yan.bulk'),
                  user_op('y3', 'yoko.bulk', email => 'same@bulk.example') ], extra => { failOnErrors => 1 });
    is statuses($res), '201', 'failOnErrors: an address asked twice, the second not performed';
    is db_query("SELECT count(*) FROM userbulk.users WHERE user_name = 'yan.bulk'"), 1, '... the first applied';
    is scim_bad_failonerrors(), 400, 'failOnErrors 0: 400';
}
sub scim_bad_failonerrors { return bulk([], extra => { failOnErrors => 0 })->code }

# --- atomic, dry run (our extensions, as PUT /users has them) ------------------------------------------------
{
    my $res = bulk([ user_op('a1', 'amy.bulk'), user_op('a2', 'alice.acme') ], query => '?atomic=true');
    is statuses($res), '424,409', '?atomic=true: the others answer 424' or diag $res->content;
    is $res->json->{Operations}[0]{response}{status}, '424', '... with an error response';
    is db_query("SELECT count(*) FROM userbulk.users WHERE user_name = 'amy.bulk'"), 0, '... nothing applied';
    $res = bulk([ user_op('a1', 'amy.bulk') ], query => '?dryRun=true');
    is statuses($res), '201', '?dryRun=true: the answer of a real run';
    is db_query("SELECT count(*) FROM userbulk.users WHERE user_name = 'amy.bulk'"), 0, '... nothing applied';
    $res = bulk([ user_op('a1', 'amy.bulk') ], query => '?atomic=maybe');
    scim_error($res, 400, 'invalidValue', '?atomic=maybe');
}

# --- the request as a whole ----------------------------------------------------------------------------
{
    my $e = scim_error(bulk([ map { { method => 'DELETE', path => "/Users/x$_" } } 1 .. 1001 ]),
                       413, 'tooMany', '1001 operations');
    like $e->{detail}, qr/at most 1000 operations/, '... names the limit';
    scim_error(json_request(POST => '/scim/v2/Bulk', token(), { Operations => [] }, $SCIM), 400, 'invalidSyntax',
               'no BulkRequest schema');
    scim_error(json_request(POST => '/scim/v2/Bulk', token(), '{"schemas":', $SCIM), 400, 'invalidSyntax', 'not JSON');
    is statuses(bulk([])), '', 'no operations: an empty BulkResponse';
}

# --- an address swap chain, and a chain that ends at a user keeping the address ------------------------
{
    my $res = bulk([ map { user_op("s$_", "s$_.bulk") } 1 .. 4 ]);
    is statuses($res), '201,201,201,201', 'four users';
    my @id = map { scalar id_of("s$_.bulk") } 1 .. 4;
    my $to = sub { my ($i, $addr) = @_;
                   patch_op("/Users/$id[$i]", { op => 'replace', path => 'emails[type eq "work"].value', value => $addr }) };
    $res = bulk([ $to->(0, 's2.bulk@bulk.example'), $to->(1, 's3.bulk@bulk.example'), $to->(2, 's1.bulk@bulk.example') ]);
    is statuses($res), '200,200,200', 'a ring of three swaps: applied' or diag $res->content;
    is db_query("SELECT string_agg(email, ',' ORDER BY user_name) FROM userbulk.users WHERE user_name LIKE 's_.bulk'"),
       's2.bulk@bulk.example,s3.bulk@bulk.example,s1.bulk@bulk.example,s4.bulk@bulk.example', '... the addresses moved';
    $res = bulk([ $to->(0, 's3.bulk@bulk.example'), $to->(1, 's4.bulk@bulk.example') ]);
    is statuses($res), '409,409', 'a chain ending at a user who keeps the address: every link fails';
}

# --- the worst case: 1000 operations in one body -------------------------------------------------------
{
    my $res = bulk([ map { user_op("w$_", sprintf('w%04d.bulk', $_)) } 1 .. 1000 ]);
    is $res->code, 200, '1000 creations in one request: 200';
    is scalar(grep { $_->{status} eq '201' } @{ $res->json->{Operations} }), 1000, '... 1000 times 201';
    my @id = map { $_->[0] } db_query("SELECT id FROM userbulk.users WHERE user_name LIKE 'w____.bulk' ORDER BY user_name");
    $res = bulk([ map { $_ % 2 ? patch_op("/Users/$id[$_]", { op => 'replace', value => { active => $FALSE } })
                               : { method => 'PUT', path => "/Users/$id[$_]",
                                   data => { schemas => [ USER_SCHEMA ], userName => sprintf('w%04d.bulk', $_ + 1),
                                             emails => [ { value => sprintf('w%04d.bulk@bulk.example', $_ + 1) } ],
                                             displayName => "W $_" } } } 0 .. 999 ]);
    is $res->code, 200, '1000 PUT and PATCH operations: 200';
    is scalar(grep { $_->{status} eq '200' } @{ $res->json->{Operations} }), 1000, '... 1000 times 200';
    is db_query("SELECT count(*) FROM userbulk.users WHERE user_name LIKE 'w____.bulk' AND version = 2"), 1000,
       '... every user changed once';
}

# --- concurrent requests on the same users, in opposite orders: they queue, none deadlocks --------------
{
    my @id = map { $_->[0] } db_query("SELECT id FROM userbulk.users WHERE user_name LIKE 'w____.bulk' ORDER BY user_name LIMIT 200");
    my $ops = sub { [ map { patch_op("/Users/$_", { op => 'replace', path => 'displayName', value => "c$_[0]" }) } @{ $_[1] } ] };
    my $pid = open(my $kid, '-|') // die "fork: $!";
    if ($pid == 0) {
        my $r = bulk($ops->(1, \@id));
        print statuses($r) =~ /^(200,)*200$/ ? "ok\n" : "not ok: " . $r->content . "\n";
        exit 0;
    }
    my $res = bulk($ops->(2, [ reverse @id ]));
    my $other = <$kid>;
    close $kid;
    like statuses($res), qr/^(200,){199}200$/, 'one of two concurrent requests on 200 users: all 200';
    is $other, "ok\n", '... the other too';
    is db_query("SELECT count(*) FROM userbulk.users WHERE id IN ('" . join("','", @id) . "') AND version = 4"), 200,
       '... each user changed by both';
}


# --- a user changed by another writer after the request read it -------------------------------------
# The engine reads the users without locks, decides, then locks and changes
# them. Here the request reads mv1, then waits for its row, locked by a
# writer that changes mv1's phone. Once the writer commits, the request must
# decide again on what is stored now, never write what it decided on the
# stale read (a PATCH writes the columns it does not set as it read them: the
# writer's phone would be lost): a plain PATCH applies on top of the
# writer's version; one that names the version it read fails with 412. The
# other operation applies either way.
{
    my $dir = tempdir(CLEANUP => 1);
    is statuses(bulk([ user_op('m1', 'mv1.bulk'), user_op('m2', 'mv2.bulk') ])), '201,201', 'two users';
    my ($mv1, $mv2) = (scalar id_of('mv1.bulk'), scalar id_of('mv2.bulk'));
    my $row = sub { my ($r) = db_query("SELECT version, phone1, display_name FROM userbulk.users WHERE id = '$_[0]'");
                    return join ' ', map { $_ // '-' } @{ $r // [] } };
    for my $case ('plain', 'versioned', 'mixed') {
        my $v = db_query("SELECT version FROM userbulk.users WHERE id = '$mv1'");
        my $writer = lock_session("UPDATE userbulk.users SET phone1 = '+1 555 01$v', version = version + 1
                                    WHERE id = '$mv1'");
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $op = patch_op("/Users/$mv1", { op => 'replace', path => 'displayName', value => "D $case" });
            $op->{version} = "W/\"$v\"" if $case eq 'versioned';
            # mixed: mv2's operation sets what is stored (the name the
            # versioned case left), so the engine locks both users before
            # it changes mv1
            my $res = bulk([ patch_op("/Users/$mv2", { op => 'replace', path => 'displayName',
                                                       value => $case eq 'mixed' ? 'D versioned' : "D $case" }), $op ]);
            open my $fh, '>', "$dir/$case" or POSIX::_exit(1);
            print $fh statuses($res);
            close $fh;
            POSIX::_exit(0);
        }
        ok wait_until(30, sub { db_query("SELECT count(*) FROM pg_locks WHERE NOT granted") > 0 }),
           "$case: the request waits for the writer's lock on mv1";
        ok $writer->{commit}->(), "$case: the writer commits";
        waitpid $pid, 0;
        open my $fh, '<', "$dir/$case" or die "$case: no response recorded\n";
        my $got = <$fh>;
        if ($case eq 'plain' || $case eq 'mixed') {
            is $got, '200,200', "$case: both applied";
            is $row->($mv1), ($v + 2) . " +1 555 01$v D $case",
               "$case: mv1 changed on top of the writer's version, the writer's phone kept";
        }
        else {
            is $got, '200,412', 'versioned: mv1 fails with 412 (the writer moved it past the version read)';
            is $row->($mv1), ($v + 1) . " +1 555 01$v D plain", "versioned: mv1 as the writer left it";
        }
        is((split / /, $row->($mv2), 3)[2], $case eq 'mixed' ? 'D versioned' : "D $case",
           $case eq 'mixed' ? 'mixed: mv2 as it was (its operation set what was stored)' : "$case: mv2 applied");
    }
}

is role_ids_drift(), 0, "after the /Bulk requests, every user's role_ids is its links (017)";
is audit_chain_drift(), 0, "after the /Bulk requests, every user's history is one chain from its row (018)";
done_testing();
