# Authentication (401) and authorization (403) in front of both endpoints:
# mod_oauth2 with the demo key (conf/demo-oauth2.conf.in), and the JSON
# bodies of mod_userbulk's error handler (ErrorDocument 401/403).
#
# CONTRACT.md: 401 for no token, bad signature, expired, wrong issuer or
# audience, alg:none; 403 for a valid token without the role; bodies
# {"code","message","description"} for PUT /users and the envelope for the
# second API; WWW-Authenticate: Bearer kept; no token in a log or response.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use JSON::PP ();
use UserBulk::Test qw(:all);
use UserBulk::Token qw(tampered_token);

my @ENDPOINTS = (
    {
        name   => 'PUT /users',
        method => 'PUT',
        path   => PUT_USERS,
        body   => [ { userName => 'alice.acme', email => 'alice@acme.example' } ],
        form   => 'simple',
    },
    {
        name   => 'POST /api/v1/account/users/update',
        method => 'POST',
        path   => ACCOUNT_UPDATE,
        body   => { userIds => ['00000000-0000-0000-0000-000000000000'], isSSOUser => JSON::PP::false },
        form   => 'envelope',
    },
);

my @UNAUTHENTICATED = (
    [ 'no Authorization header',        undef ],
    [ 'Basic credentials',              undef, [ Authorization => 'Basic YWxpY2U6c2VjcmV0' ] ],
    [ 'empty Bearer token',             undef, [ Authorization => 'Bearer ' ] ],
    [ 'malformed token',                'not-a-jwt' ],
    [ 'three garbage segments',         'abc.def.ghi' ],
    [ 'bad signature (other key)',      token(wrong_key => 1) ],
    [ 'payload changed after signing',  tampered_token() ],
    [ 'alg none',                       token(alg => 'none') ],
    [ 'expired',                        token(exp_in => -60) ],
    [ 'without exp',                    token(omit => ['exp']) ],
    [ 'issued in the future (iat +1h)', token(iat_in => 3600, nbf_in => 3600) ],
    [ 'wrong issuer',                   token(iss => 'https://evil.example') ],
    [ 'without issuer',                 token(omit => ['iss']) ],
    [ 'wrong audience',                 token(aud => 'another-api') ],
    [ 'audience list without ours',     token(aud => [ 'another-api', 'userbulk-api-2' ]) ],
    [ 'without audience',               token(omit => ['aud']) ],
);

my @FORBIDDEN = (
    [ 'another role',                     token(roles => ['userbulk.viewer']) ],
    [ 'empty roles',                      token(roles => []) ],
    [ 'no roles claim',                   token(omit => ['roles']) ],
    [ 'role name in another case',        token(roles => ['USERBULK.ADMIN']) ],
    [ 'role name with a suffix',          token(roles => ['userbulk.admin.readonly']) ],
    [ 'role only in another claim',       token(roles => ['user'], claims => { scope => 'userbulk.admin' }) ],
    [ 'admin role of another service',    token(roles => ['admin']) ],
);

my @ACCEPTED = (
    [ 'admin token',                      token() ],
    [ 'admin among other roles',          token(roles => [ 'user', 'userbulk.admin' ]) ],
    [ 'audience list with ours',          token(aud => [ 'another-api', 'userbulk-api' ]) ],
    [ 'token of the other demo account',  token(account => 'globex', sub => 'bob') ],
);

my @tokens = grep { defined } map { $_->[1] } @UNAUTHENTICATED, @FORBIDDEN, @ACCEPTED;

# Checks one 401/403 answer: status, challenge, JSON body, trace id, no token.
sub check_error {
    my ($ep, $label, $res, $status, $token, $challenge) = @_;
    my $what = "$ep->{name}, $label";
    is($res->code, $status, "$what: $status");
    like($res->header('WWW-Authenticate') // '', $challenge, "$what: WWW-Authenticate $challenge");
    like($res->header('Content-Type') // '', qr{^application/json\b}i, "$what: Content-Type application/json");
    my $trace = $res->header('X-Trace-Id');
    ok(defined $trace && length $trace, "$what: X-Trace-Id");
    my $body = $res->json;
    if ($ep->{form} eq 'simple') {
        ok(ref $body eq 'HASH'
            && (grep { defined $body->{$_} && !ref $body->{$_} && length $body->{$_} }
                qw(code message description)) == 3,
           "$what: body {code, message, description}")
            or diag('body: ' . $res->content);
    }
    else {
        ok(ref $body eq 'HASH'
            && (grep { exists $body->{$_} }
                qw(data message isError messageCode status errorType traceid responseDescription)) == 8
            && JSON::PP::is_bool($body->{isError}) && $body->{isError}
            && ($body->{messageCode} // '') eq $status
            && defined $body->{errorType} && length $body->{errorType}
            && !defined $body->{data}
            && defined $trace && ($body->{traceid} // '') eq $trace,
           "$what: envelope (isError true, messageCode $status, errorType, traceid = X-Trace-Id)")
            or diag('body: ' . $res->content);
    }
    my $leak = grep { index($res->as_string, $_) >= 0 } @tokens;
    ok(!$leak, "$what: no token in the response");
}

my $mark = error_log_mark();

for my $ep (@ENDPOINTS) {
    for my $case (@UNAUTHENTICATED) {
        my ($label, $token, $headers) = @$case;
        my $res = json_request($ep->{method}, $ep->{path}, $token, $ep->{body}, $headers);
        check_error($ep, $label, $res, 401, $token, qr/^Bearer\b/);
    }

    # liboauth2 1.4.5 does not check "nbf": UserBulkNotBefore does.
    {
        my $token = token(nbf_in => 3600);
        push @tokens, $token;
        my $res = json_request($ep->{method}, $ep->{path}, $token, $ep->{body});
        check_error($ep, 'not yet valid (nbf +1h)', $res, 401, $token, qr/^Bearer\b.*invalid_token/);
        $res = json_request($ep->{method}, $ep->{path}, token(nbf_in => -60), $ep->{body});
        isnt($res->code, 401, "$ep->{name}, nbf in the past is accepted");
    }

    for my $case (@FORBIDDEN) {
        my ($label, $token) = @$case;
        my $res = json_request($ep->{method}, $ep->{path}, $token, $ep->{body});
        check_error($ep, $label, $res, 403, $token, qr/^Bearer\b.*insufficient_scope/);
    }

    for my $case (@ACCEPTED) {
        my ($label, $token) = @$case;
        my $res = json_request($ep->{method}, $ep->{path}, $token, $ep->{body});
        ok($res->code != 401 && $res->code != 403,
           "$ep->{name}, $label: passes authentication and authorization")
            or diag($res->status_line);
    }
}

# mod_oauth2 caches a verified token for 300 s by default, across locations,
# so a token that expires during that time stays accepted: the configuration
# sets expiry=0. A token valid for 2 s must be refused once it expired.
{
    my $token = token(exp_in => 2);
    push @tokens, $token;
    for my $ep (@ENDPOINTS) {
        my $res = json_request($ep->{method}, $ep->{path}, $token, $ep->{body});
        ok($res->code != 401 && $res->code != 403, "$ep->{name}, short-lived token: accepted while valid")
            or diag($res->status_line);
    }
    sleep 3;
    for my $ep (@ENDPOINTS) {
        my $res = json_request($ep->{method}, $ep->{path}, $token, $ep->{body});
        is($res->code, 401, "$ep->{name}, the same token once expired: 401 (no validation cache)");
    }
}

{
    my @log = error_log_lines($mark);
    my @leaks = grep { my $l = $_; grep { index($l, $_) >= 0 } @tokens } @log;
    ok(!@leaks, 'no token in the error log') or diag(join "\n", @leaks);
    my $k = do {
        open my $fh, '<', UserBulk::Token::default_key_file() or die "demo key: $!";
        local $/;
        JSON::PP->new->decode(scalar <$fh>)->{k};
    };
    ok(!grep({ index($_, $k) >= 0 } @log), 'no key material in the error log');
}

done_testing();
