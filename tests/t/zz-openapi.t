# The machine-readable API (issue 6, part 6): conf/openapi.json, checked
# against real responses.
#
# Every response the suite received (UserBulk::Test records them in
# tests/t/logs/responses.jsonl) and the requests of this file, which give
# every documented status of both endpoints at least once, are checked
# against the document: status documented, headers (X-Trace-Id always,
# Retry-After, Allow, WWW-Authenticate where documented), media type, body
# schema. Named zz- to run last, after the other files recorded theirs.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use Cwd qw(realpath);
use JSON::PP ();
use UserBulk::Httpd ();
use UserBulk::OpenAPI ();
use UserBulk::Test qw(:all);

my $ROOT = realpath("$FindBin::RealBin/../..");
my $api = UserBulk::OpenAPI->load("$ROOT/conf/openapi.json");
my $doc = $api->doc;
my $BOB = '20000000-0000-4000-8000-000000000002';
my $NOBODY = '20000000-0000-4000-8000-0000000000ff';

# --- the document itself ----------------------------------------------------------
like $doc->{openapi}, qr/^3\.1\.\d+$/, 'an OpenAPI 3.1 document';
my %ops = (PUT => '/users', POST => '/api/v1/account/users/update', GET => '/users/changes');
for my $m (sort keys %ops) {
    my $op = $api->operation($m, $ops{$m});
    ok $op, "documents $m $ops{$m}";
    my @missing = grep {
        $_ ne '500' && !($op->{responses}{$_}{headers} // {})->{'X-Trace-Id'}
    } sort keys %{ $op->{responses} };
    ok !@missing, "$m: every answer of the module documents X-Trace-Id" or diag "@missing";
}
# Every schema stays inside the subset the checker knows (it dies otherwise).
{
    my @bad;
    my $walk;
    $walk = sub {
        my ($node, $where) = @_;
        return unless ref $node eq 'HASH';
        eval { $api->check_schema({ map { $_ => $node->{$_} } grep { !/^(properties|items|anyOf|oneOf|allOf|additionalProperties)$/ } keys %$node }, undef, $where); 1 }
            or push @bad, $@;
        $walk->($node->{properties}{$_}, "$where.$_") for keys %{ $node->{properties} // {} };
        $walk->($node->{items}, "$where\[]") if ref $node->{items};
        $walk->($node->{additionalProperties}, "$where.*") if ref $node->{additionalProperties} eq 'HASH';
        my $i = 0;
        $walk->($_, "$where|" . $i++) for map { @{ $node->{$_} // [] } } qw(anyOf oneOf allOf);
    };
    $walk->($doc->{components}{schemas}{$_}, $_) for sort keys %{ $doc->{components}{schemas} };
    ok !@bad, 'every schema uses only keywords the checker knows' or diag join '', @bad;
}

# --- requests that give every documented status -----------------------------------
my $json_patch = [ 'Content-Type' => 'application/json-patch+json' ];
my @own = (
    [ PUT => '/users', token(), [ { userName => 'bob.acme', email => 'bob@acme.example' } ] ],
    [ PUT => '/users', token(), [ { userName => 'nobody.acme', email => 'x@acme.example' } ] ],
    [ PUT => '/users', token(), '{"not json' ],
    [ PUT => '/users', token(), [] ],
    [ PUT => '/users', token(), [ map { { userName => "u$_", email => "u$_\@x.example" } } 1 .. 1001 ] ],
    [ PUT => '/users', undef, [] ],
    [ PUT => '/users', token(roles => ['viewer']), [] ],
    [ PUT => '/users', token(account => ''), [] ],
    [ GET => '/users', token() ],
    [ PUT => '/users', token(), 'x' x 8388609 ],
    [ PUT => '/users', token(), '[]', [ 'Content-Type' => 'text/plain' ] ],
    [ POST => $ops{POST}, token(), { userId => $BOB, isSSOUser => JSON::PP::false }, $json_patch ],
    [ POST => $ops{POST}, token(), { userId => $BOB, isSSOUser => JSON::PP::false },
      [ @$json_patch, Accept => 'text/plain' ] ],
    [ POST => $ops{POST}, token(), { userId => $NOBODY }, $json_patch ],
    [ POST => $ops{POST}, token(), { userIds => [ map { sprintf '20000000-0000-4000-8000-%012d', $_ } 1 .. 1001 ] }, $json_patch ],
    [ POST => $ops{POST}, token(), '[1,2]', $json_patch ],
    [ POST => $ops{POST}, undef, {}, $json_patch ],
    [ POST => $ops{POST}, undef, {}, [ @$json_patch, Accept => 'text/plain' ] ],
    [ POST => $ops{POST}, token(roles => ['viewer']), {}, $json_patch ],
    [ GET => $ops{POST}, token() ],
    [ POST => $ops{POST}, token(), 'x' x 8388609, $json_patch ],
    [ POST => $ops{POST}, token(), '{}', [ 'Content-Type' => 'text/plain' ] ],
);
for my $r (@own) {
    my ($m, $p, $t, $b, $h) = @$r;
    json_request($m, $p, $t, $b, $h);
}

# The change feed: on in the vhost userbulk_feed, off (404) here.
json_request(GET => '/users/changes', token());
{
    Apache::TestRequest::module('userbulk_feed');
    my $latest = json_request(GET => '/users/changes?since=latest', token());
    json_request(GET => '/users/changes?since=' . $latest->json->{next}, token());
    json_request(GET => '/users/changes?since=nonsense', token());
    json_request(GET => '/users/changes', undef);
    json_request(GET => '/users/changes', token(roles => ['viewer']));
    json_request(PUT => '/users/changes', token(), []);
    # 410: a cursor before what retention pruned (an old request of acme
    # made for the purpose)
    db_query("INSERT INTO userbulk.audit_request (account_id, at, actor, trace_id, endpoint)
              SELECT id, now() - interval '3000 days', 'openapi', 'openapi-410', 'PUT /users'
                FROM userbulk.accounts WHERE code = 'acme'");
    db_query("SELECT userbulk.prune_audit(now() - interval '2900 days')");
    json_request(GET => '/users/changes?since=' . ($latest->json->{next} =~ s/\.\d+$/.0/r), token());
    Apache::TestRequest::module('default');
}

# 503: an httpd of its own whose database does not exist.
{
    my $h = UserBulk::Httpd->new(
        name => 'openapi-503', userbulk => 1, modules => [qw(dbd oauth2)],
        conf => "DBDriver pgsql\n"
              . "DBDParams \"host=127.0.0.1 port=" . UserBulk::Httpd::free_port()
              . " dbname=userbulk user=userbulk_api connect_timeout=2\"\n"
              . UserBulk::Httpd::demo_oauth2_include()
              . UserBulk::Httpd::api_locations()
              . "<Location /users>\n    UserBulkChangeFeed On\n</Location>\n");
    $h->start;
    my $put = json_request(PUT => $h->url('/users'), token(), [ { userName => 'bob.acme', email => 'bob@acme.example' } ]);
    is $put->code, 503, 'PUT /users without a database: 503';
    my $post = json_request(POST => $h->url($ops{POST}), token(), { userId => $BOB }, $json_patch);
    is $post->code, 503, 'POST without a database: 503';
    is json_request(GET => $h->url('/users/changes'), token())->code, 503, 'the change feed without a database: 503';
    $h->stop;
}

# --- every recorded response against the document --------------------------------
my $file = UserBulk::Test::responses_file();
open my $fh, '<', $file or die "$file: $!";
my (%groups, %seen_status);
my ($checked, $skipped) = (0, 0);
while (my $line = <$fh>) {
    my $r = JSON::PP->new->decode($line);
    my $path = $api->path_of($r->{path}) // $r->{path};
    if (!$api->operation($r->{method}, $path) && !$doc->{paths}{$path}) {
        $skipped++;    # not an API path (e.g. the smoke test's 404 page)
        next;
    }
    $checked++;
    # A method the path does not document: answered like the documented
    # operation's 405.
    my $method = $api->operation($r->{method}, $path) ? $r->{method}
               : (grep { $ops{$_} eq $path } keys %ops)[0];
    # A HEAD answer has the headers of the GET it stands for, and no body.
    my @err = $api->check_response(method => $method, path => $path, status => $r->{status},
                                   headers => $r->{headers}, body => $r->{body},
                                   no_body => uc($r->{method}) eq 'HEAD');
    if (($r->{headers}{'content-type'} // '') =~ m{^(application/json|text/plain)} && $path eq $ops{POST}) {
        my $b = eval { JSON::PP->new->decode($r->{body}) };
        push @err, 'envelope traceid differs from X-Trace-Id'
            if ref $b eq 'HASH' && ($b->{traceid} // '') ne ($r->{headers}{'x-trace-id'} // '');
    }
    my $key = "$r->{method} $path $r->{status} " . ($r->{headers}{'content-type'} // '-');
    my $g = $groups{$key} //= { n => 0, errors => [], tests => {} };
    $g->{n}++;
    $g->{tests}{ $r->{test} }++;
    push @{ $g->{errors} }, map { "[$r->{test}] $_" } @err if @err && @{ $g->{errors} } < 5;
    $seen_status{"$method $path"}{ $r->{status} }++ unless @err;
}
close $fh;
cmp_ok $checked, '>=', scalar(@own) + 2, "checked $checked recorded responses (skipped $skipped of other paths)";
for my $key (sort keys %groups) {
    my $g = $groups{$key};
    ok !@{ $g->{errors} }, "$key: $g->{n} response(s) as documented (" . join(' ', sort keys %{ $g->{tests} }) . ')'
        or diag join "\n", @{ $g->{errors} };
}

# Every documented status was seen for real (500 is a misconfiguration).
for my $m (sort keys %ops) {
    my $op = $api->operation($m, $ops{$m});
    my @unseen = grep { $_ ne '500' && !$seen_status{"$m $ops{$m}"}{$_} } sort keys %{ $op->{responses} };
    ok !@unseen, "$m $ops{$m}: every documented status was answered for real and validated" or diag "not seen: @unseen";
}

done_testing();
