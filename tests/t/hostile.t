# Hostile callers (issue 5, item 6), beyond what auth.t covers: forged and
# bent tokens, claims smuggled through request headers, claims that carry
# SQL or Apache expressions, a token of one account naming another account's
# users, roles, codes and teams; and no token, password or secret in any log.
#
#   make test T=t/hostile.t
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use Digest::SHA qw(hmac_sha256);
use File::Spec::Functions qw(catfile);
use JSON::PP ();
use MIME::Base64 ();
use UserBulk::Test qw(:all);
use UserBulk::Token qw(mint_token b64url b64url_decode load_key);
use UserBulk::Reliability qw(:all);

my $TRUE = JSON::PP::true;
my $ALICE = '20000000-0000-4000-8000-000000000001';
my $BOB = '20000000-0000-4000-8000-000000000002';
my $GINA = '20000000-0000-4000-8000-000000000011';
my $HANK = '20000000-0000-4000-8000-000000000012';
my $ACME_REVIEWER = '10000000-0000-4000-8000-000000000002';
my $ACME_TEAM = '30000000-0000-4000-8000-000000000001';
my $NOBODY = '20000000-0000-4000-8000-0000000000ff';
my $RUN = sprintf '%x%x', time, $$;    # makes this run's secrets unique strings

my $JSON = JSON::PP->new->canonical;
my @SECRETS;    # every token and password this file sends: none may be logged
my $mark = error_log_mark();

sub tok { my $t = token(@_); push @SECRETS, $t; return $t }

# A token signed by hand: any header, any claims, any key.
sub signed {
    my ($header, $claims, $key) = @_;
    my $in = b64url($JSON->encode($header)) . '.' . b64url($JSON->encode($claims));
    my $t = "$in." . b64url(hmac_sha256($in, $key));
    push @SECRETS, $t;
    return $t;
}

my $KEY = load_key();
my $now = time;
my %CLAIMS = (sub => "mallory-$RUN", account => 'acme', roles => ['userbulk.admin'],
              iss => ISSUER, aud => AUDIENCE, iat => $now, nbf => $now, exp => $now + 3600);
my %HEADER = (alg => 'HS256', typ => 'JWT', kid => $KEY->{kid});
sub claims { my %c = (%CLAIMS, @_); delete @c{ grep { !defined $c{$_} } keys %c }; return \%c }

sub alice_put { [ { userName => 'alice.acme', email => 'alice@acme.example', name => { firstName => "Hostile $_[0]" } } ] }
sub put  { json_request(PUT  => PUT_USERS,      @_) }
sub post { json_request(POST => ACCOUNT_UPDATE, @_) }

sub audit_of_trace {
    my ($trace) = @_;
    return db_query("SELECT actor, endpoint, user_id FROM userbulk.audit WHERE trace_id = '$trace' ORDER BY id");
}

reset_demo();
my $BASE = db_fingerprint();
sub unchanged { is(db_fingerprint(), $BASE, "$_[0]: nothing changed") }

# =====================================================================================
# 1. Tokens that must not pass (401), on both endpoints
# =====================================================================================
my $valid = tok(sub => "mallory-$RUN");
my ($vh, $vp, $vs) = split /\./, $valid;
my @REFUSED = (
    [ 'alg "None"',                     b64url($JSON->encode({ alg => 'None', typ => 'JWT' })) . ".$vp." ],
    [ 'alg "NONE"',                     b64url($JSON->encode({ alg => 'NONE', typ => 'JWT' })) . ".$vp." ],
    [ 'alg none keeping the signature', b64url($JSON->encode({ alg => 'none', typ => 'JWT' })) . ".$vp.$vs" ],
    [ 'alg none, no signature segment', b64url($JSON->encode({ alg => 'none', typ => 'JWT' })) . ".$vp" ],
    [ 'kid of another key',             signed({ %HEADER, kid => 'another-key' }, claims(), $KEY->{secret}) ],
    [ 'signed with an empty key',       signed(\%HEADER, claims(), '') ],
    [ 'signed with the key id',         signed(\%HEADER, claims(), $KEY->{kid} // 'x') ],
    [ 'signed with the encoded key',    signed(\%HEADER, claims(), b64url($KEY->{secret})) ],
    [ 'a key embedded in the header',   signed({ alg => 'HS256', typ => 'JWT', jwk => { kty => 'oct', k => 'AAAA' } }, claims(), "\0\0\0") ],
    [ 'expired two minutes ago',        signed(\%HEADER, claims(exp => $now - 120), $KEY->{secret}) ],
    [ 'exp as a string',                signed(\%HEADER, claims(exp => '' . ($now + 3600)), $KEY->{secret}) ],
    [ 'not valid for ten more minutes', signed(\%HEADER, claims(nbf => $now + 600), $KEY->{secret}) ],
    [ 'nbf not a number',               signed(\%HEADER, claims(nbf => 'soon'), $KEY->{secret}) ],
    [ 'issuer with a trailing slash',   signed(\%HEADER, claims(iss => ISSUER . '/'), $KEY->{secret}) ],
    [ 'issuer in another case',         signed(\%HEADER, claims(iss => 'https://IDP.userbulk.test'), $KEY->{secret}) ],
    [ 'issuer as an array',             signed(\%HEADER, claims(iss => [ISSUER]), $KEY->{secret}) ],
    [ 'issuer with a newline',          signed(\%HEADER, claims(iss => ISSUER . "\n"), $KEY->{secret}) ],
    [ 'audience with a trailing space', signed(\%HEADER, claims(aud => AUDIENCE . ' '), $KEY->{secret}) ],
    [ 'audience forged inside a list',  signed(\%HEADER, claims(aud => [ 'x", "' . AUDIENCE ]), $KEY->{secret}) ],
    [ 'audience forged with a bracket', signed(\%HEADER, claims(aud => [ AUDIENCE . '"]' ]), $KEY->{secret}) ],
    [ 'audience as an object',          signed(\%HEADER, claims(aud => { aud => AUDIENCE }), $KEY->{secret}) ],
    [ 'audience as a number',           signed(\%HEADER, claims(aud => 1), $KEY->{secret}) ],
    [ 'no subject',                     signed(\%HEADER, claims(sub => undef), $KEY->{secret}) ],
    [ 'four segments',                  "$valid.$vs" ],
    [ 'signature of another token',     "$vh.$vp." . (split /\./, tok(sub => 'someone-else'))[2] ],
);
for my $c (@REFUSED) {
    my ($label, $t) = @$c;
    push @SECRETS, $t;
    my $res = put($t, alice_put('refused'));
    is($res->code, 401, "PUT, $label: 401");
    is(($res->json // {})->{code}, 'unauthorized', "PUT, $label: JSON code unauthorized");
    like($res->header('WWW-Authenticate') // '', qr/^Bearer\b/, "PUT, $label: WWW-Authenticate: Bearer");
    $res = post($t, { userId => $ALICE, employeeCode => 'REFUSED' });
    is($res->code, 401, "POST, $label: 401");
    is(($res->json // {})->{errorType}, 'Unauthorized', "POST, $label: errorType Unauthorized");
    unchanged($label);
}
{
    # Two tokens at once (two Authorization headers, which httpd joins).
    my $res = put(undef, alice_put('two'), [ Authorization => 'Bearer ' . tok(), Authorization => 'Bearer ' . tok(account => 'globex') ]);
    is($res->code, 401, 'two Authorization headers: 401');
    unchanged('two Authorization headers');
    # A token anywhere but the Authorization header is no token. (Not put
    # in @SECRETS: a token a client writes into a URL is in the access log
    # by the client's doing; what matters is that the server refuses it.)
    my $exposed = token(exp_in => -3600);
    $res = raw_request(PUT => PUT_USERS . "?access_token=$exposed", [ 'Content-Type' => 'application/json' ],
                       JSON::PP::encode_json(alice_put('query')));
    is($res->code, 401, 'a token in the query string: 401');
    my $t = tok();
    $res = raw_request(PUT => PUT_USERS, [ 'Content-Type' => 'application/json', Cookie => "access_token=$t" ],
                       JSON::PP::encode_json(alice_put('cookie')));
    is($res->code, 401, 'a token in a cookie: 401');
    $res = raw_request(PUT => PUT_USERS, [ 'Content-Type' => 'application/json', 'X-Access-Token' => $t, 'X-Auth-Token' => $t ],
                       JSON::PP::encode_json(alice_put('x-header')));
    is($res->code, 401, 'a token in X-Access-Token / X-Auth-Token: 401');
    unchanged('tokens outside the Authorization header');
}

# Accepted for the record (so that the refusals above are refusals of the
# bent part only): the same claims, well signed, within the allowed skew.
{
    my $res = put(signed(\%HEADER, claims(nbf => $now + 30), $KEY->{secret}), alice_put('skew'));
    is($res->code, 200, 'nbf 30 s ahead (within the 60 s skew): accepted');
    reset_demo();
    $BASE = db_fingerprint();
}

# =====================================================================================
# 2. Claims smuggled through request headers change nothing
# =====================================================================================
my @SMUGGLE = (
    'OAUTH2_CLAIM_account' => 'globex', 'OAUTH2_CLAIM_sub' => 'admin', 'OAUTH2-CLAIM-account' => 'globex',
    'OAUTH2_CLAIM_roles' => 'userbulk.admin', 'X-Forwarded-User' => 'root', 'X-Remote-User' => 'root',
    'Remote-User' => 'root', 'X-Forwarded-Preferred-Username' => 'root', 'X-Account' => 'globex',
    'X-Userbulk-Account' => 'globex', 'X-Userbulk-Actor' => 'root', 'REMOTE_USER' => 'root',
    'X-Forwarded-For' => '10.0.0.1', 'Forwarded' => 'for=10.0.0.1;by=idp',
);
{
    my $sub = "smuggler-$RUN";
    my $t = tok(sub => $sub);
    my $res = put($t, alice_put('smuggled'), [@SMUGGLE]);
    is($res->code, 200, 'PUT with smuggled claim headers: applied in the token\'s account');
    my @audit = audit_of_trace($res->header('X-Trace-Id'));
    is_deeply(\@audit, [ [ $sub, 'PUT /users', $ALICE ] ], 'PUT: the audit names the token\'s subject, not a header');

    $res = put($t, [ { userName => 'gina.globex', email => 'gina@globex.example' } ], [@SMUGGLE]);
    is($res->code, 400, 'PUT of a globex user with OAUTH2_CLAIM_account: globex in the headers: refused');
    is($res->json->{failedResults}[0]{errors}[0]{code}, 'not_found', '... as an unknown user (the account is the token\'s)');

    $res = post($t, { userId => $ALICE, employeeCode => "SMUGGLED" }, [@SMUGGLE]);
    is($res->code, 200, 'POST with smuggled claim headers: applied');
    is_deeply([ audit_of_trace($res->header('X-Trace-Id')) ], [ [ $sub, 'POST /api/v1/account/users/update', $ALICE ] ],
              'POST: the audit names the token\'s subject');
    $res = post($t, { userId => $GINA, employeeCode => 'SMUGGLED' }, [@SMUGGLE]);
    is($res->code, 400, 'POST on a globex user with smuggled headers: refused');
    is($res->json->{errorType}, 'NotFound', '... NotFound');
    isnt(db_query("SELECT employee_code FROM userbulk.users WHERE id = '$GINA'"), 'SMUGGLED', 'gina unchanged');

    # A token without the account claim: a header cannot supply it.
    my $none = tok(omit => ['account']);
    $res = put($none, alice_put('no-account'), [ OAUTH2_CLAIM_account => 'acme', 'X-Account' => 'acme' ]);
    is($res->code, 403, 'PUT, a token without an account and the account in headers: 403');
    is($res->json->{code}, 'no_account', '... code no_account');
    $res = post($none, { userId => $ALICE, isSSOUser => $TRUE }, [ OAUTH2_CLAIM_account => 'acme' ]);
    is($res->code, 403, 'POST, a token without an account and the account in headers: 403');
    reset_demo();
    $BASE = db_fingerprint();
}

# =====================================================================================
# 3. Claims carrying SQL or Apache expressions are data, never code
# =====================================================================================
{
    my $t = tok(account => q{acme' OR '1'='1});
    my $res = put($t, alice_put('sql-account'));
    is($res->code, 400, q{account "acme' OR '1'='1": PUT refused});
    is($res->json->{failedResults}[0]{errors}[0]{code}, 'not_found', '... alice is unknown in that "account"');
    $res = post($t, { userId => $ALICE, isSSOUser => $TRUE });
    is($res->json->{errorType}, 'NotFound', '... POST: NotFound');
    unchanged('an account claim with SQL');

    $t = tok(account => '%{HTTP_X_ACCOUNT}');
    $res = put($t, alice_put('expr-account'), [ 'X-Account' => 'acme' ]);
    is($res->code, 400, 'account "%{HTTP_X_ACCOUNT}" with X-Account: acme: refused (not evaluated again)');
    $t = tok(account => '%{reqenv:OAUTH2_CLAIM_account}');
    $res = put($t, alice_put('expr-account'));
    is($res->code, 400, 'account "%{reqenv:OAUTH2_CLAIM_account}": refused');
    unchanged('an account claim with an Apache expression');

    my $sub = q{%{HTTP_X_EVIL}'); DROP TABLE userbulk.audit; --} . $RUN;
    $t = tok(sub => $sub);
    $res = put($t, alice_put('expr-sub'), [ 'X-Evil' => 'mallory' ]);
    is($res->code, 200, 'a subject with an expression and SQL: applied');
    is_deeply([ audit_of_trace($res->header('X-Trace-Id')) ], [ [ $sub, 'PUT /users', $ALICE ] ],
              '... and the audit stores the subject verbatim');
    is(db_query("SELECT updated_by FROM userbulk.users WHERE id = '$ALICE'"), $sub, '... as updated_by too');
    is(db_query("SELECT count(*) FROM pg_class WHERE relnamespace = 'userbulk'::regnamespace
                   AND relname IN ('audit', 'audit_request', 'audit_change')"), 3,
       '... and the audit trail is still there (the view and its two tables)');

    # A newline in a claim cannot forge an error-log line.
    my $m = error_log_mark();
    $t = tok(account => "acme\n[Mon Jan 01 00:00:00.000000 2024] [userbulk:info] [pid 1] UB0100 forged-$RUN");
    put($t, alice_put('newline'));
    my @lines = error_log_lines($m);
    ok(!(grep { /^\[Mon Jan 01 00:00:00/ } @lines), 'a newline in the account claim forges no error-log line');
    ok((grep { /UB0100 .*account=acme\\n\[Mon Jan 01/ } @lines), '... it is logged escaped, on the request\'s own line');
    reset_demo();
    $BASE = db_fingerprint();
}

# =====================================================================================
# 4. One account's token naming another account's users, roles, codes, teams
# =====================================================================================
{
    my $g = tok(account => 'globex', sub => "globex-admin-$RUN");

    # POST by id: exactly the answer for an id that does not exist.
    my $foreign = post($g, { userIds => [$ALICE], isSSOUser => $TRUE });
    my $unknown = post($g, { userIds => [$NOBODY], isSSOUser => $TRUE });
    is($foreign->code, 400, "globex token, POST acme's alice by id: 400");
    is($foreign->json->{errorType}, 'NotFound', '... NotFound');
    is_deeply(masked($foreign->json, $ALICE), masked($unknown->json, $NOBODY),
              '... the same answer, word for word, as for an id that exists nowhere');
    is($foreign->code, $unknown->code, '... and the same status');
    my $res = post($g, { userIds => [ $GINA, $ALICE ], isSSOUser => $TRUE });
    is($res->json->{errorType}, 'NotFound', "globex token, POST gina and acme's alice: NotFound");
    $res = post($g, { userId => uc $ALICE, employeeCode => 'X' });
    is($res->json->{errorType}, 'NotFound', "globex token, POST acme's alice in upper case: NotFound");
    unchanged('globex token naming acme users by id (all or nothing: gina unchanged too)');

    # PUT by userName: exactly the answer for a userName that does not exist.
    $foreign = put($g, [ { userName => 'alice.acme', email => 'alice@acme.example' } ]);
    $unknown = put($g, [ { userName => 'nobody.globex', email => 'alice@acme.example' } ]);
    is($foreign->code, 400, "globex token, PUT acme's alice.acme: 400");
    is_deeply(masked($foreign->json, 'alice.acme'), masked($unknown->json, 'nobody.globex'),
              '... the same answer, word for word, as for a userName that exists nowhere');
    is($foreign->json->{failedResults}[0]{errors}[0]{code}, 'not_found', '... not_found');
    unchanged('globex token naming acme users by userName');

    # A mixed batch: globex's own user applies, the acme user is unknown.
    my $before = db_fingerprint(except => [$GINA]);
    $res = put($g, [ { userName => 'gina.globex', email => 'gina@globex.example', name => { firstName => 'Gina' } },
                     { userName => 'bob.acme', email => 'bob@acme.example', name => { firstName => 'Hijacked' } } ]);
    is($res->code, 200, 'globex token, PUT gina and acme\'s bob: 200 (gina applies)');
    is_deeply([ map { $_->{userName} } @{ $res->json->{successResults} } ], ['gina.globex'], '... only gina applied');
    is($res->json->{failedResults}[0]{errors}[0]{code}, 'not_found', '... bob is not_found');
    is(db_fingerprint(except => [$GINA]), $before, '... and nothing but gina changed');
    reset_demo();
    $BASE = db_fingerprint();

    # Another account's role, codes and team are unknown.
    my $gina = { userName => 'gina.globex', email => 'gina@globex.example' };
    for my $c ([ 'roleName Reviewer (acme)', { roles => [ { roleName => 'Reviewer' } ] }, 'roles[0]', 'unknown_role' ],
               [ 'roleId of acme Reviewer', { roles => [ { roleId => $ACME_REVIEWER } ] }, 'roles[0]', 'unknown_role' ],
               [ 'departmentId ENG (acme)', { departmentId => 'ENG' }, 'departmentId', 'unknown_code' ],
               [ 'locationId NYC (acme)', { locationId => 'NYC' }, 'locationId', 'unknown_code' ],
               [ 'programAdminRoleId PA-AUDITOR (acme)', { programAdminRoleId => 'PA-AUDITOR' }, 'programAdminRoleId', 'unknown_code' ]) {
        my ($label, $extra, $field, $code) = @$c;
        $res = put($g, [ { %$gina, %$extra } ]);
        is($res->code, 400, "globex token, gina with $label: 400");
        is_deeply([ map { "$_->{field} $_->{code}" } @{ $res->json->{failedResults}[0]{errors} } ], ["$field $code"],
                  "... $field $code");
    }
    $res = post($g, { userId => $GINA, userRoleIds => [$ACME_REVIEWER] });
    like($res->json->{message} // '', qr/^userRoleIds: /, "globex token, POST gina with acme's role: refused");
    $res = post($g, { userId => $GINA, teamId => $ACME_TEAM });
    like($res->json->{message} // '', qr/^teamId: /, "globex token, POST gina with acme's team: refused");
    unchanged("another account's roles, codes and teams");
}

# An answer with the id or userName named replaced, and the trace id left out.
sub masked {
    my ($body, $name) = @_;
    my $text = $JSON->encode($body);
    $text =~ s/\Q$name\E/NAME/g;
    my $copy = $JSON->decode($text);
    delete $copy->{traceid};
    return $copy;
}


# =====================================================================================
# 5. Passwords and credentials sent are never echoed or logged
# =====================================================================================
{
    my $pw = "Pw-$RUN-correct-horse";
    push @SECRETS, $pw;
    my $res = put(tok(), [ { userName => 'alice.acme', email => 'alice@acme.example', password => $pw } ]);
    is($res->code, 400, 'a password in a PUT record: refused');
    is($res->json->{failedResults}[0]{errors}[0]{code}, 'read_only', '... read_only');
    ok(index($res->content, $pw) < 0, '... and the answer does not echo it');
    $res = post(tok(), { userId => $ALICE, password => $pw, currentPassword => $pw });
    ok(index($res->content, $pw) < 0, 'a password in a POST body is not echoed');
    my $basic_pw = "Basic-$RUN-secret";
    push @SECRETS, $basic_pw, MIME::Base64::encode_base64("alice:$basic_pw", '');
    $res = put(undef, alice_put('basic'), [ Authorization => 'Basic ' . MIME::Base64::encode_base64("alice:$basic_pw", '') ]);
    is($res->code, 401, 'Basic credentials: 401');
    # Enough requests for every path to log something: 503-free ones here.
    put(tok(), [ { userName => 'alice.acme', email => 'bad', password => $pw } ]);
    reset_demo();
}

# =====================================================================================
# 6. No secret in any log line
# =====================================================================================
{
    my @files = grep { -f } glob(catfile(Apache::Test::vars()->{t_logs}, '*'));
    push @files, catfile($ENV{UB_PG_DIR}, 'log', 'postgresql.log') if $ENV{UB_PG_DIR};
    my $k = do {
        open my $fh, '<', UserBulk::Token::default_key_file() or die $!;
        local $/;
        JSON::PP->new->decode(scalar <$fh>)->{k};
    };
    # Each token whole, and its signature alone (a log that cut the token
    # would still leak it).
    my @needles = map { ($_, grep { length > 20 } (split /\./)[2] // ()) } @SECRETS;
    push @needles, $k;
    my @leaks;
    for my $f (@files) {
        open my $fh, '<', $f or next;
        while (my $line = <$fh>) {
            for my $n (@needles) {
                push @leaks, "$f: $line" if index($line, $n) >= 0;
            }
        }
    }
    ok(scalar(@SECRETS) >= 30, scalar(@SECRETS) . ' tokens and passwords sent by this file');
    ok(!@leaks, 'no token, signature, password or key in ' . join(', ', map { s{.*/}{}r } @files))
        or diag(join '', @leaks[0 .. ($#leaks < 9 ? $#leaks : 9)]);
    my @crash = crash_lines($mark);
    ok(!@crash, 'no child crashed') or diag(join "\n", @crash);
}

done_testing();
