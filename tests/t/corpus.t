# The bad-input corpus (issue 5, item 1): hostile or broken requests against
# both endpoints, each with the exact status and JSON error it must get, each
# followed by a check that the directory is unchanged (a fingerprint of every
# row of every userbulk table, the audit trail and the schema's tables).
# Injection strings that are legal values must be stored verbatim: checked
# by reading them back. Nothing may answer 500 or crash a child.
#
#   make test T=t/corpus.t
use strict;
use warnings;
use utf8;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use Encode qw(encode_utf8);
use JSON::PP ();
use Time::HiRes qw(time);
use HTTP::Response ();
use UserBulk::Test qw(:all);
use UserBulk::Raw qw(raw_http http_head);
use UserBulk::Reliability qw(:all);

my $TRUE  = JSON::PP::true;
my $FALSE = JSON::PP::false;
my $ALICE = '20000000-0000-4000-8000-000000000001';
my $BOB   = '20000000-0000-4000-8000-000000000002';
my $GINA  = '20000000-0000-4000-8000-000000000011';
my $NOBODY = '20000000-0000-4000-8000-0000000000ff';
my $GLOBEX_ADMIN_ROLE = '10000000-0000-4000-8000-000000000011';
my $ACME_TEAM = '30000000-0000-4000-8000-000000000001';
my $LIMIT = 8388608;    # UserBulkMaxBodySize of tests/t/conf/extra.conf.in

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;
my $TOKEN = token();
my $mark = error_log_mark();
my $cases = 0;
my @statuses;

reset_demo();
my $BASE = db_fingerprint();

# --- how a case is checked -----------------------------------------------------------

sub body_bytes { my ($b) = @_; return ref $b ? $JSON->encode($b) : $b }

sub send_put  { json_request(PUT  => PUT_USERS,      $TOKEN, body_bytes($_[0]), $_[1]) }
sub send_post { json_request(POST => ACCOUNT_UPDATE, $TOKEN, body_bytes($_[0]), $_[1]) }

# The common part of every answer: not 500, JSON in valid UTF-8, a trace id.
sub check_answer {
    my ($name, $status, $json, $headers, $body) = @_;
    push @statuses, $status;
    $cases++;
    isnt($status, 500, "$name: not 500");
    ok(ref $json eq 'HASH', "$name: JSON body") or diag("status $status");
    my $copy = $body // '';
    ok(eval { Encode::decode('UTF-8', $copy, Encode::FB_CROAK); 1 }, "$name: the body is valid UTF-8")
        or diag("body: " . join '', map { $_ >= 0x20 && $_ < 0x7f ? chr : sprintf '\\x%02x', $_ } unpack 'C*', $body // '');
    like($headers->{'x-trace-id'} // '', qr/^[0-9a-f]{32}$/, "$name: X-Trace-Id");
}

sub unchanged {
    my ($name) = @_;
    is(db_fingerprint(), $BASE, "$name: the directory is unchanged");
}

sub headers_of { my ($res) = @_; return { map { lc($_) => scalar $res->header($_) } $res->header_field_names } }

# PUT refused as a whole: {"code","message","description"}.
sub put_refused {
    my ($name, $body, $status, $code, %o) = @_;
    my $res = $o{res} // send_put($body, $o{headers});
    my $j = $res->json;
    check_answer("PUT $name", $res->code, $j, headers_of($res), $res->content);
    is($res->code, $status, "PUT $name: $status");
    is($j->{code}, $code, "PUT $name: code $code") if ref $j eq 'HASH';
    like($j->{message} // '', $o{message}, "PUT $name: message") if $o{message};
    unchanged("PUT $name");
    return $res;
}

# PUT whose records fail: the status (400 when none applied) and, per
# record index, the exact set of [field, code] errors.
sub put_failed {
    my ($name, $body, $expect, %o) = @_;
    my $res = send_put($body, $o{headers});
    my $j = $res->json;
    check_answer("PUT $name", $res->code, $j, headers_of($res), $res->content);
    is($res->code, 400, "PUT $name: 400 (no record applied)");
    if (ref $j eq 'HASH') {
        is($j->{successCount}, 0, "PUT $name: successCount 0");
        my %got = map {
            my $f = $_;
            ($f->{index} => [ sort map { "$_->{field} $_->{code}" } @{ $f->{errors} } ])
        } @{ $j->{failedResults} // [] };
        my %want = map { $_ => [ sort map { "$_->[0] $_->[1]" } @{ $expect->{$_} } ] } keys %$expect;
        is_deeply(\%got, \%want, "PUT $name: errors " . join('; ', map { "[$_] @{ $want{$_} }" } sort keys %want))
            or diag($res->content);
        if ($o{message}) {
            my @m = map { map { $_->{message} } @{ $_->{errors} } } @{ $j->{failedResults} // [] };
            ok((grep { index($_, $o{message}) >= 0 } @m), "PUT $name: the message quotes the value verbatim")
                or diag(explain \@m);
        }
    }
    unchanged("PUT $name");
    return $res;
}

# POST refused: the envelope with errorType; the message names the field
# (and for the module's own checks, "field: ... (code)").
sub post_refused {
    my ($name, $body, $status, $error_type, $message, %o) = @_;
    my $res = $o{res} // send_post($body, $o{headers});
    my $j = $res->json;
    check_answer("POST $name", $res->code, $j, headers_of($res), $res->content);
    is($res->code, $status, "POST $name: $status");
    if (ref $j eq 'HASH') {
        is($j->{messageCode}, $status, "POST $name: messageCode $status");
        ok(JSON::PP::is_bool($j->{isError}) && $j->{isError}, "POST $name: isError");
        is($j->{errorType}, $error_type, "POST $name: errorType $error_type");
        is($j->{data}, undef, "POST $name: data null");
        like($j->{message} // '', $message, "POST $name: message") or diag($j->{message});
        is($j->{traceid}, $res->header('X-Trace-Id'), "POST $name: traceid = X-Trace-Id");
    }
    unchanged("POST $name");
    return $res;
}

# One error of the module's own checks: exactly "field: message (code)".
sub field_error { my ($field, $code) = @_; return qr/^\Q$field\E: (?:(?!\([a-z_]+\); ).)*\(\Q$code\E\)$/s }

# An answer that is not an error and changes nothing.
sub post_noop {
    my ($name, $body) = @_;
    my $res = send_post($body);
    check_answer("POST $name", $res->code, $res->json, headers_of($res), $res->content);
    is($res->code, 200, "POST $name: 200");
    unchanged("POST $name");
}

# Builds {a: {b: value}} from "a.b".
sub nest {
    my ($path, $value) = @_;
    my @k = split /\./, $path;
    my $v = $value;
    $v = { pop(@k) => $v } while @k;
    return $v;
}

sub alice_min { return { userName => 'alice.acme', email => 'alice@acme.example', @_ } }

# Alice exactly as the demo stores her: sending it changes nothing.
sub alice_full {
    return { userName => 'alice.acme', email => 'alice@acme.example',
             name => { firstName => 'Alice', lastName => 'Archer' },
             phoneNumber => '+1 212 555 0101', departmentId => 'ENG', locationId => 'NYC',
             programAdminRoleId => 'PA-ADMIN', roles => [ { roleName => 'Administrator' }, { roleName => 'Viewer' } ],
             lockedOut => $FALSE, @_ };
}

# =====================================================================================
# 1. Not JSON, broken JSON, bad encodings
# =====================================================================================

my @NOT_JSON = (
    [ 'plain text',                        'hello' ],
    [ 'empty body',                        '' ],
    [ 'whitespace only',                   " \r\n\t " ],
    [ 'truncated array',                   '[{"userName":"alice.acme","email":"alice@acme.example"}' ],
    [ 'truncated inside a string',         '[{"userName":"ali' ],
    [ 'truncated after a key',             '{"userName":' ],
    [ 'trailing garbage',                  '[{"userName":"alice.acme","email":"alice@acme.example"}] x' ],
    [ 'two documents',                     '{} {}' ],
    [ 'single quotes',                     "[{'userName':'alice.acme'}]" ],
    [ 'trailing comma',                    '[{"userName":"alice.acme","email":"alice@acme.example",}]' ],
    [ 'comment',                           '[/* hi */{"userName":"alice.acme"}]' ],
    [ 'NaN',                               '[{"userName":NaN}]' ],
    [ 'invalid UTF-8 (\xff\xfe)',          qq([{"userName":"alice.acme","email":"alice\@acme.example","name":{"firstName":"\xff\xfe"}}]) ],
    [ 'invalid UTF-8 in a key',            qq([{"user\xc3Name":"alice.acme"}]) ],
    [ 'overlong UTF-8 (/ as C0 AF)',       qq([{"userName":"alice.acme","email":"alice\@acme.example","name":{"firstName":"\xc0\xaf"}}]) ],
    [ 'UTF-8 encoded surrogate',           qq([{"userName":"alice.acme","email":"alice\@acme.example","name":{"firstName":"\xed\xa0\x80"}}]) ],
    [ 'code point above U+10FFFF',         qq([{"userName":"alice.acme","email":"alice\@acme.example","name":{"firstName":"\xf4\x90\x80\x80"}}]) ],
    [ 'truncated multi-byte sequence',     qq([{"userName":"alice.acme","email":"alice\@acme.example","name":{"firstName":"\xe2\x82"}}]) ],
    [ 'UTF-16LE body',                     encode_utf16le('[{"userName":"alice.acme","email":"alice@acme.example"}]') ],
    [ 'NUL as \u0000 in a string',         '[{"userName":"alice.acme","email":"alice@acme.example","name":{"firstName":"Al\u0000ice"}}]' ],
    [ 'NUL as \u0000 in a key',            '[{"userName":"alice.acme","email":"alice@acme.example","na\u0000me":{}}]' ],
    [ 'raw NUL byte in a string',          qq([{"userName":"alice.acme","email":"alice\@acme.example","name":{"firstName":"Al\x00ice"}}]) ],
    [ 'raw NUL byte between tokens',       qq([{"userName":"alice.acme",\x00"email":"alice\@acme.example"}]) ],
    [ 'raw NUL byte after the document',   qq([{"userName":"alice.acme","email":"alice\@acme.example"}]\x00) ],
    [ 'raw control character in a string', qq([{"userName":"alice.acme","email":"alice\@acme.example","name":{"firstName":"Al\x01ice"}}]) ],
    [ 'unpaired surrogate escape',         '[{"userName":"alice.acme","email":"alice@acme.example","name":{"firstName":"\ud800"}}]' ],
    [ 'bad escape',                        '[{"userName":"alice.acme","email":"alice@acme.example","name":{"firstName":"\x"}}]' ],
    # Found by fuzz_put_batch: the parser's message quotes the token it
    # stopped at, here half of a two-byte character.
    [ 'bad escape before a multi-byte character', encode_utf8('[{"userName":"alice.acme","email":"alice@acme.example","name":{"firstName":"\u00é"}}]') ],
    [ 'bad escape before a 4-byte character', encode_utf8('[{"userName":"alice.acme","email":"alice@acme.example","name":{"firstName":"\u' . "\x{1F600}" . '"}}]') ],
    [ 'nesting 10,000 deep (arrays)',      ('[' x 10000) . (']' x 10000) ],
    [ 'nesting 10,000 deep (objects in a field)',
      '[{"userName":"alice.acme","email":"alice@acme.example","name":' . ('{"a":' x 10000) . '1' . ('}' x 10000) . '}]' ],
    [ 'nesting 100,000 deep, unclosed',    '[' x 100000 ],
    [ 'duplicate key userName',            '[{"userName":"alice.acme","userName":"bob.acme","email":"alice@acme.example"}]' ],
    [ 'duplicate key inside name',         '[{"userName":"alice.acme","email":"alice@acme.example","name":{"firstName":"A","firstName":"B"}}]' ],
    [ 'duplicate key email',
      '[{"userName":"alice.acme","email":"alice@acme.example","email":"x@acme.example"}]' ],
    [ 'integer too large for 64 bits',     '[{"userName":123456789012345678901234567890,"email":"alice@acme.example"}]' ],
    [ 'integer too small for 64 bits',     '[{"userName":-9223372036854775809,"email":"alice@acme.example"}]' ],
    [ 'real overflow (1e400)',             '[{"userName":"alice.acme","email":"alice@acme.example","lockedOut":1e400}]' ],
);

sub encode_utf16le { my ($s) = @_; return join '', map { pack 'v', ord } split //, $s }

for my $c (@NOT_JSON) {
    my ($name, $body) = @$c;
    put_refused($name, $body, 400, 'invalid_json', message => qr/not valid JSON/);
    post_refused($name, $body, 400, 'ValidationError', qr/not valid JSON/);
}

# JSON, but not what the endpoint takes.
put_refused('a JSON string',  '"alice.acme"', 400, 'invalid_body');
put_refused('a JSON number',  '42',           400, 'invalid_body');
put_refused('JSON null',      'null',         400, 'invalid_body');
put_refused('JSON true',      'true',         400, 'invalid_body');
put_refused('an empty array', '[]',           400, 'empty_batch');
post_refused('an array', '[{"userId":"' . $ALICE . '"}]', 400, 'ValidationError', qr/one JSON object/);
post_refused('a string', '"x"', 400, 'ValidationError', qr/one JSON object/);
post_refused('null',     'null', 400, 'ValidationError', qr/one JSON object/);
post_refused('an empty object', '{}', 400, 'ValidationError', field_error('userIds', 'required'));

# Deep but under the parser's limit, where a value is expected: a type error.
put_failed('roles nested 2,000 deep', '[{"userName":"alice.acme","email":"alice@acme.example","roles":['
           . ('[' x 2000) . (']' x 2000) . ']}]', { 0 => [ [ 'roles[0]', 'invalid_type' ] ] });
post_noop('an unknown field nested 2,000 deep is ignored',
          '{"userId":"' . $ALICE . '","extra":' . ('[' x 2000) . (']' x 2000) . '}');

# =====================================================================================
# 2. Record counts
# =====================================================================================
{
    my @recs = map { { userName => "nobody$_.acme", email => "nobody$_\@acme.example" } } 1 .. 1001;
    put_refused('1001 records', \@recs, 400, 'too_many_records', message => qr/1001/);
    # 1001 records that would all apply: still nothing.
    my @valid = map { alice_min(name => { firstName => "N$_" }) } 1 .. 1001;
    put_refused('1001 records of one valid user', \@valid, 400, 'too_many_records');
    pop @recs;
    put_failed('1000 unknown users (the limit itself is accepted)', \@recs,
               { map { $_ => [ [ 'userName', 'not_found' ] ] } 0 .. 999 });
    my @ids = map { sprintf '20000000-0000-4000-8000-%012d', 100000 + $_ } 1 .. 1001;
    post_refused('1001 targets', { userIds => \@ids, isSSOUser => $TRUE }, 400, 'ValidationError',
                 field_error('userIds', 'too_many_records'));
    pop @ids;
    post_refused('1000 unknown targets', { userIds => \@ids, isSSOUser => $TRUE }, 400, 'NotFound', qr/no user with id/);
    put_failed('an array of numbers', '[1,2]', { 0 => [ [ '', 'invalid_type' ] ], 1 => [ [ '', 'invalid_type' ] ] });
    put_failed('an array of nulls and arrays', '[null,[]]', { 0 => [ [ '', 'invalid_type' ] ], 1 => [ [ '', 'invalid_type' ] ] });
}

# =====================================================================================
# 3. Wrong types, every field of both APIs
# =====================================================================================
my %WRONG = (string => [ 42, $TRUE, [], {} ], bool => [ 'true', 1, 0, [], {} ], object => [ 'x', 1, [], $TRUE ],
             array => [ 'x', 1, {}, $TRUE ], integer => [ '1', 1.5, $TRUE, [] ]);

my @PUT_FIELDS = (
    [ userName => 'string' ], [ email => 'string' ], [ name => 'object' ],
    [ 'name.firstName' => 'string' ], [ 'name.middleName' => 'string' ], [ 'name.lastName' => 'string' ],
    [ phoneNumber => 'string' ], [ departmentId => 'string' ], [ locationId => 'string' ],
    [ programAdminRoleId => 'string' ], [ lockedOut => 'bool' ], [ roles => 'array' ],
    [ userAccess => 'object' ], map({ [ "userAccess.$_" => 'bool' ] }
        qw(AccessAutomation AccessCertification AccessComplete AccessOperationalMatching)),
);
for my $f (@PUT_FIELDS) {
    my ($path, $type) = @$f;
    for my $v (@{ $WRONG{$type} }) {
        my $rec = alice_min();
        my ($top) = split /\./, $path;
        %$rec = (%$rec, %{ nest($path, $v) });
        put_failed("$path as " . $JSON->encode($v), [ $rec ], { 0 => [ [ $path, 'invalid_type' ] ] });
    }
}
put_failed('roles[0] a string', [ alice_min(roles => ['Administrator']) ], { 0 => [ [ 'roles[0]', 'invalid_type' ] ] });
put_failed('roles[0].roleId a number', [ alice_min(roles => [ { roleId => 1 } ]) ], { 0 => [ [ 'roles[0].roleId', 'invalid_type' ] ] });
put_failed('roles[1].roleName true', [ alice_min(roles => [ { roleName => 'Viewer' }, { roleName => $TRUE } ]) ],
           { 0 => [ [ 'roles[1].roleName', 'invalid_type' ] ] });
put_failed('roles[0] empty object', [ alice_min(roles => [ {} ]) ], { 0 => [ [ 'roles[0]', 'required' ] ] });
put_failed('password (any value is read-only)', [ alice_min(password => 'hunter2') ], { 0 => [ [ 'password', 'read_only' ] ] });
put_failed('password null', [ alice_min(password => undef) ], { 0 => [ [ 'password', 'read_only' ] ] });
put_failed('userName missing', [ { email => 'alice@acme.example' } ], { 0 => [ [ 'userName', 'required' ] ] });
put_failed('userName empty', [ { userName => '', email => 'alice@acme.example' } ], { 0 => [ [ 'userName', 'required' ] ] });
put_failed('email missing', [ { userName => 'alice.acme' } ], { 0 => [ [ 'email', 'required' ] ] });
put_failed('email null', [ { userName => 'alice.acme', email => undef } ], { 0 => [ [ 'email', 'required' ] ] });
put_failed('an unknown field', [ alice_min(nickname => 'Al') ], { 0 => [ [ 'nickname', 'unknown_field' ] ] });
put_failed('an unknown field in name', [ alice_min(name => { title => 'Dr' }) ], { 0 => [ [ 'name.title', 'unknown_field' ] ] });
put_failed('an unknown field in a role', [ alice_min(roles => [ { roleName => 'Viewer', admin => $TRUE } ]) ],
           { 0 => [ [ 'roles[0].admin', 'unknown_field' ] ] });
put_failed('a different read-only flag', [ alice_min(userAccess => { AccessAutomation => $FALSE }) ],
           { 0 => [ [ 'userAccess.AccessAutomation', 'read_only' ] ] });
put_failed('the same userName twice', [ alice_min(), alice_min(name => { firstName => 'Other' }) ],
           { 0 => [ [ 'userName', 'duplicate_user_name' ] ], 1 => [ [ 'userName', 'duplicate_user_name' ] ] });

my @POST_FIELDS = (
    [ userIds => 'array' ], [ userId => 'string' ], [ userRoleIds => 'array' ], [ userRoles => 'array' ],
    [ teamId => 'string' ], [ team => 'object' ], [ 'team.accountOrgUnitId' => 'string' ],
    [ 'team.levelOrdinal' => 'integer' ], [ 'team.accountOrgUnitName' => 'string' ],
    [ 'team.accountOrgUnitCode' => 'string' ], [ 'team.parentAccountOrgUnitId' => 'string' ],
    [ 'team.subLevelUnits' => 'array' ], [ status => 'object' ], [ 'status.id' => 'string' ],
    [ 'status.name' => 'string' ], [ 'status.code' => 'string' ], [ statusCode => 'string' ],
    [ statusDetails => 'object' ], [ 'statusDetails.statusId' => 'integer' ],
    [ 'statusDetails.uniqueId' => 'string' ], [ 'statusDetails.statusName' => 'string' ],
    [ 'statusDetails.statusCode' => 'string' ], [ 'statusDetails.statusColor' => 'string' ],
    [ timezone => 'object' ], [ 'timezone.timezoneId' => 'string' ], [ 'timezone.timezoneName' => 'string' ],
    [ 'timezone.code' => 'string' ], [ 'timezone.supportsDaylightSavingTime' => 'bool' ],
    [ 'timezone.daylightName' => 'string' ], [ accountAccess => 'object' ],
    [ 'accountAccess.resetPasswordState' => 'bool' ], [ 'accountAccess.activationDate' => 'string' ],
    [ 'accountAccess.expiryDate' => 'string' ], [ 'accountAccess.loginName' => 'string' ],
    [ isSSOUser => 'bool' ], [ isEmployee => 'bool' ], [ isTwoFactorEnabled => 'bool' ],
    [ keyword => 'string' ], [ name => 'string' ], [ firstName => 'string' ], [ middleName => 'string' ],
    [ lastName => 'string' ], [ phoneNumber1 => 'string' ], [ phoneNumber2 => 'string' ],
    [ email => 'string' ], [ loginName => 'string' ], [ employeeCode => 'string' ], [ profilePic => 'string' ],
);
for my $f (@POST_FIELDS) {
    my ($path, $type) = @$f;
    for my $v (@{ $WRONG{$type} }) {
        my $body = { userIds => [$ALICE] };
        delete $body->{userIds} if $path eq 'userId' || $path eq 'userIds';
        %$body = (%$body, %{ nest($path, $v) });
        # userIds as {} or true is "not an array"; userId alone needs userIds absent.
        post_refused("$path as " . $JSON->encode($v), $body, 400, 'ValidationError',
                     $path eq 'userIds' || $path eq 'userId'
                         ? qr/^\Q$path\E: [^;]*\(invalid_type\)(; userIds: [^;]*\(required\))?$/
                         : field_error($path, 'invalid_type'));
    }
}
post_refused('userIds[0] a number', { userIds => [1] }, 400, 'ValidationError', field_error('userIds[0]', 'invalid_type'));
post_refused('userIds[0] an object without userId', { userIds => [ {} ] }, 400, 'ValidationError', field_error('userIds[0]', 'invalid_type'));
post_refused('userIds[0] not a UUID', { userIds => ['alice.acme'] }, 400, 'ValidationError', field_error('userIds[0]', 'invalid_format'));
post_refused('userIds[0] a UUID with braces', { userIds => ["{$ALICE}"] }, 400, 'ValidationError', field_error('userIds[0]', 'invalid_format'));
post_refused('userIds repeated (other case)', { userIds => [ $ALICE, uc $ALICE ] }, 400, 'ValidationError', field_error('userIds[1]', 'duplicate_id'));
post_refused('userId not a UUID', { userId => 'alice' }, 400, 'ValidationError', field_error('userId', 'invalid_format'));
post_refused('userRoleIds[0] a number', { userId => $ALICE, userRoleIds => [7] }, 400, 'ValidationError', field_error('userRoleIds[0]', 'invalid_type'));
post_refused('userRoleIds[0] not a UUID', { userId => $ALICE, userRoleIds => ['Administrator'] }, 400, 'ValidationError', field_error('userRoleIds[0]', 'invalid_format'));
post_refused('teamId not a UUID', { userId => $ALICE, teamId => 'HQ' }, 400, 'ValidationError', field_error('teamId', 'invalid_format'));
post_refused('status.id not a UUID', { userId => $ALICE, status => { id => '1' } }, 400, 'ValidationError', field_error('status.id', 'invalid_format'));

# =====================================================================================
# 4. Numbers out of range
# =====================================================================================
post_refused('statusId 2^31', '{"userId":"' . $ALICE . '","statusDetails":{"statusId":2147483648}}', 400, 'ValidationError',
             field_error('statusDetails.statusId', 'out_of_range'));
post_refused('statusId -2^31-1', '{"userId":"' . $ALICE . '","statusDetails":{"statusId":-2147483649}}', 400, 'ValidationError',
             field_error('statusDetails.statusId', 'out_of_range'));
post_refused('statusId 2^63-1', '{"userId":"' . $ALICE . '","statusDetails":{"statusId":9223372036854775807}}', 400, 'ValidationError',
             field_error('statusDetails.statusId', 'out_of_range'));
post_refused('statusId 2^63', '{"userId":"' . $ALICE . '","statusDetails":{"statusId":9223372036854775808}}', 400, 'ValidationError',
             qr/not valid JSON/);
post_refused('statusId 1e2 (a real)', '{"userId":"' . $ALICE . '","statusDetails":{"statusId":1e2}}', 400, 'ValidationError',
             field_error('statusDetails.statusId', 'invalid_type'));
post_refused('statusId 0 (no such status)', { userId => $ALICE, statusDetails => { statusId => 0 } }, 400, 'ValidationError', qr/^status: /);
post_refused('statusId -1', { userId => $ALICE, statusDetails => { statusId => -1 } }, 400, 'ValidationError', qr/^status: /);
post_refused('levelOrdinal 2^31', '{"userId":"' . $ALICE . '","team":{"levelOrdinal":2147483648}}', 400, 'ValidationError',
             field_error('team.levelOrdinal', 'out_of_range'));
put_failed('userName 2^63-1 (a number)', '[{"userName":9223372036854775807,"email":"alice@acme.example"}]',
           { 0 => [ [ 'userName', 'invalid_type' ] ] });
put_failed('lockedOut -0.0', '[{"userName":"alice.acme","email":"alice@acme.example","lockedOut":-0.0}]',
           { 0 => [ [ 'lockedOut', 'invalid_type' ] ] });

# =====================================================================================
# 5. Overlong strings (limits are characters: multi-byte characters count once)
# =====================================================================================
my %PUT_LEN = (userName => 100, email => 254, 'name.firstName' => 100, 'name.middleName' => 100,
               'name.lastName' => 100, phoneNumber => 32, departmentId => 64, locationId => 64,
               programAdminRoleId => 64);
for my $path (sort keys %PUT_LEN) {
    my $n = $PUT_LEN{$path} + 1;
    my $v = $path eq 'email' ? ('a' x 64) . '@' . join('.', ('b' x 60) x 3) . '.' . ('c' x ($n - 248))
          : $path eq 'phoneNumber' ? '1' x $n : 'é' x $n;
    my $rec = alice_min();
    %$rec = (%$rec, %{ nest($path, $v) });
    put_failed("$path of $n characters", [ $rec ], { 0 => [ [ $path, 'too_long' ] ] });
}
put_failed('roles[0].roleName of 101 characters', [ alice_min(roles => [ { roleName => 'r' x 101 } ]) ],
           { 0 => [ [ 'roles[0].roleName', 'too_long' ] ] });
put_failed('a 1 MB firstName', [ alice_min(name => { firstName => 'x' x 1048576 }) ], { 0 => [ [ 'name.firstName', 'too_long' ] ] });

my %POST_LEN = (name => 300, firstName => 100, middleName => 100, lastName => 100, phoneNumber1 => 32,
                phoneNumber2 => 32, loginName => 100, 'accountAccess.loginName' => 100, employeeCode => 64,
                profilePic => 2048, statusCode => 32, 'timezone.timezoneId' => 64);
for my $path (sort keys %POST_LEN) {
    my $n = $POST_LEN{$path} + 1;
    my $v = $path =~ /phone/ ? '1' x $n : 'ü' x $n;
    post_refused("$path of $n characters", { userId => $ALICE, %{ nest($path, $v) } }, 400, 'ValidationError',
                 field_error($path, 'too_long'));
}
post_refused('email of 255 characters', { userId => $ALICE, email => ('a' x 64) . '@' . join('.', ('b' x 60) x 3) . '.' . ('c' x 7) },
             400, 'ValidationError', field_error('email', 'too_long'));

# =====================================================================================
# 6. Emails at the edges of the format
# =====================================================================================
my @BAD_EMAILS = (
    '', 'plainaddress', '@acme.example', 'alice@', 'alice@acme', 'alice@acme.123', 'alice@@acme.example',
    'al@ice@acme.example', '.alice@acme.example', 'alice.@acme.example', 'al..ice@acme.example',
    'alice@-acme.example', 'alice@acme-.example', 'alice@acme..example', 'alice@.acme.example',
    'alice@acme.example.', ' alice@acme.example', 'alice@acme.example ', "alice\@acme.example\n",
    '"alice smith"@acme.example', 'alice(comment)@acme.example', 'alice@[127.0.0.1]', 'alice@acme_corp.example',
    ('a' x 65) . '@acme.example', 'alice@' . ('b' x 64) . '.example', "ali\tce\@acme.example",
);
for my $e (@BAD_EMAILS) {
    my $label = $JSON->encode($e);
    put_failed("email $label", [ alice_min(email => $e) ], { 0 => [ [ 'email', 'invalid_format' ] ] });
}
for my $e ('plainaddress', 'alice@acme', ('a' x 65) . '@acme.example', 'alice@acme..example') {
    post_refused('email ' . $JSON->encode($e), { userId => $ALICE, email => $e }, 400, 'ValidationError',
                 field_error('email', 'invalid_format'));
}
post_refused('email ""', { userId => $ALICE, email => '' }, 400, 'ValidationError', field_error('email', 'invalid_format'));
put_failed("an email taken by another user, in another case", [ alice_min(email => 'BOB@ACME.EXAMPLE') ],
           { 0 => [ [ 'email', 'email_taken' ] ] });
put_failed("an email of another account's user", [ alice_min(email => 'gina@globex.example') ],
           { 0 => [ [ 'email', 'email_taken' ] ] });
put_failed('two records asking for one free address', [ alice_min(email => 'free@acme.example'),
           { userName => 'bob.acme', email => 'FREE@acme.example' } ],
           { 0 => [ [ 'email', 'email_taken' ] ], 1 => [ [ 'email', 'email_taken' ] ] });
post_refused('an email taken by another user', { userId => $ALICE, email => 'Bob@Acme.Example' }, 400, 'ValidationError', qr/^email: /);

# Legal at the edges: stored exactly as sent.
my @GOOD_EMAILS = (
    ('a' x 64) . '@acme.example',                                              # longest local part
    ('a' x 64) . '@' . join('.', ('b' x 63) x 2, 'c' x 61),                    # 254 characters, 63-character labels
    'a@b.co', "o'hara+tag\@acme.example", '!#$%&*+-/=?^_`{|}~@acme.example',
    'ünïcödé@exämple.example', 'x@1.example', 'x@acme.example1',
);
for my $e (@GOOD_EMAILS) {
    my $label = length($e) > 40 ? length($e) . ' characters' : $JSON->encode($e);
    my $res = send_put([ alice_min(email => $e) ]);
    check_answer("PUT email $label", $res->code, $res->json, headers_of($res), $res->content);
    is($res->code, 200, "PUT email $label: accepted");
    is(stored('email')->[0], $e, "PUT email $label: stored verbatim");
    is(db_fingerprint(except => [$ALICE]), BASE_EXCEPT_ALICE(), "PUT email $label: nothing else changed");
}
restore();

# =====================================================================================
# 7. Unknown codes, unknown and foreign users
# =====================================================================================
put_failed('unknown departmentId', [ alice_min(departmentId => 'NOPE') ], { 0 => [ [ 'departmentId', 'unknown_code' ] ] });
put_failed('unknown locationId', [ alice_min(locationId => 'MARS') ], { 0 => [ [ 'locationId', 'unknown_code' ] ] });
put_failed('unknown programAdminRoleId', [ alice_min(programAdminRoleId => 'PA-ROOT') ], { 0 => [ [ 'programAdminRoleId', 'unknown_code' ] ] });
put_failed("another account's departmentId (OPS of globex)", [ alice_min(departmentId => 'OPS') ], { 0 => [ [ 'departmentId', 'unknown_code' ] ] });
put_failed("another account's locationId (BER of globex)", [ alice_min(locationId => 'BER') ], { 0 => [ [ 'locationId', 'unknown_code' ] ] });
put_failed('a code in another case (eng)', [ alice_min(departmentId => 'eng') ], { 0 => [ [ 'departmentId', 'unknown_code' ] ] });
put_failed('unknown roleName', [ alice_min(roles => [ { roleName => 'Root' } ]) ], { 0 => [ [ 'roles[0]', 'unknown_role' ] ] });
put_failed('unknown roleId', [ alice_min(roles => [ { roleId => $NOBODY } ]) ], { 0 => [ [ 'roles[0]', 'unknown_role' ] ] });
put_failed("another account's roleId", [ alice_min(roles => [ { roleId => $GLOBEX_ADMIN_ROLE } ]) ], { 0 => [ [ 'roles[0]', 'unknown_role' ] ] });
put_failed("another account's roleName (Analyst)", [ alice_min(roles => [ { roleName => 'Analyst' } ]) ], { 0 => [ [ 'roles[0]', 'unknown_role' ] ] });
put_failed('roleId and roleName naming different roles', [ alice_min(roles => [ { roleId => '10000000-0000-4000-8000-000000000001', roleName => 'Viewer' } ]) ],
           { 0 => [ [ 'roles[0]', 'unknown_role' ] ] });
put_failed('roleId not a UUID', [ alice_min(roles => [ { roleId => 'Administrator' } ]) ], { 0 => [ [ 'roles[0].roleId', 'invalid_format' ] ] });
put_failed('an unknown user', [ { userName => 'nobody.acme', email => 'nobody@acme.example' } ], { 0 => [ [ 'userName', 'not_found' ] ] });
put_failed("another account's user", [ { userName => 'gina.globex', email => 'gina@globex.example' } ], { 0 => [ [ 'userName', 'not_found' ] ] });
put_failed('a userName in another case', [ { userName => 'Alice.Acme', email => 'alice@acme.example' } ], { 0 => [ [ 'userName', 'not_found' ] ] });
post_refused('an unknown id', { userId => $NOBODY, isSSOUser => $TRUE }, 400, 'NotFound', qr/no user with id \Q$NOBODY\E in the account/);
post_refused("another account's id", { userId => $GINA, isSSOUser => $TRUE }, 400, 'NotFound', qr/no user with id \Q$GINA\E in the account/);
post_refused('an unknown role', { userId => $ALICE, userRoleIds => [$NOBODY] }, 400, 'ValidationError', qr/^userRoleIds: /);
post_refused("another account's role", { userId => $ALICE, userRoleIds => [$GLOBEX_ADMIN_ROLE] }, 400, 'ValidationError', qr/^userRoleIds: /);
post_refused('an unknown team', { userId => $ALICE, teamId => $NOBODY }, 400, 'ValidationError', qr/^teamId: /);
post_refused('an unknown statusCode', { userId => $ALICE, statusCode => 'GONE' }, 400, 'ValidationError', qr/^status: /);
post_refused('an unknown status.id', { userId => $ALICE, status => { id => $NOBODY } }, 400, 'ValidationError', qr/^status: /);
post_refused('an unknown time zone', { userId => $ALICE, timezone => { timezoneId => 'Mars/Olympus' } }, 400, 'ValidationError', qr/^timezone\.timezoneId: /);
post_refused('personal fields with two targets', { userIds => [ $ALICE, $BOB ], firstName => 'Same' }, 400, 'ValidationError',
             field_error('userIds', 'personal_fields_need_one_user'));
post_refused('teamId and team.accountOrgUnitId disagreeing', { userId => $ALICE, teamId => $ACME_TEAM, team => { accountOrgUnitId => $NOBODY } },
             400, 'ValidationError', field_error('team.accountOrgUnitId', 'conflicting_fields'));

# Dates at the edges.
for my $d ('2026-02-29', '2026-13-01', '2026-00-10', '0000-01-01', '2026-01-01T24:00:00Z', '2026-01-01T23:60:00Z',
           '2026-01-01T23:59:60Z', '2026-01-01T00:00:00+15:00', '2026-01-01T00:00:00.1234567Z', '2026-1-1',
           '20260101', '2026-01-01T00:00:00ZZ', '2026-01-01T', 'tomorrow') {
    post_refused("activationDate $d", { userId => $ALICE, accountAccess => { activationDate => $d } }, 400, 'ValidationError',
                 field_error('accountAccess.activationDate', 'invalid_format'));
}
# Dates valid in ISO 8601 whose instant falls outside years 1-9999 once the
# offset is applied: refused, or stored as exactly that instant.
for my $d ('0001-01-01T00:00:00+01:00', '0001-01-01T00:30:00+14:00', '9999-12-31T23:00:00-14:00') {
    my $name = "POST activationDate $d";
    my $res = send_post({ userId => $ALICE, accountAccess => { activationDate => $d } });
    check_answer($name, $res->code, $res->json, headers_of($res), $res->content);
    if ($res->code == 400) {
        like(($res->json // {})->{message} // '', qr/^accountAccess\.activationDate: /, "$name: refused, naming the field");
        unchanged($name);
    }
    else {
        is($res->code, 200, "$name: 200 or 400");
        is(db_query("SELECT activation_date = '$d'::timestamptz FROM userbulk.users WHERE id = '$ALICE'"), 't',
           "$name: stored as the instant sent (stored: "
           . db_query("SELECT activation_date FROM userbulk.users WHERE id = '$ALICE'") . ')');
        restore();
    }
}
post_refused('expiry before activation', { userId => $ALICE, accountAccess => { activationDate => '2027-01-01', expiryDate => '2026-12-31T23:59:59Z' } },
             400, 'ValidationError', qr/^accountAccess\.expiryDate: /);

# =====================================================================================
# 8. Injection in every string field: refused, or stored verbatim and never run
# =====================================================================================
my @INJECT = (
    q{'; DROP TABLE userbulk.users; --},
    q{' OR '1'='1},
    q{"); DELETE FROM userbulk.audit; --},
    q{$$; SELECT pg_sleep(30); $$},
    q{\'; TRUNCATE userbulk.user_roles; --},
    q{%{REMOTE_USER}},
    q{%{reqenv:OAUTH2_CLAIM_account}},
    q{%{env:PATH} ${UB_PG_SOCKET} %{HTTP_AUTHORIZATION}},
    q{%s%s%s%n%x%p},
    q{%%27 %27 %00},
    q{{{7*7}} ${7*7} <%= 7*7 %>},
    q{<script>alert(1)</script>},
    qq{line1\r\nX-Injected: 1\r\n\r\nbody},
    q{../../../../etc/passwd},
    "\x{202e}gnp.exe \x{2028} \x{1F600} \x{FEFF}",
    q{\\x00 \\u0000 \\\\},
);

# PUT: name fields take anything (up to 100 characters): stored verbatim.
for my $s (@INJECT) {
    my $label = 'injection ' . $JSON->encode($s);
    my $res = send_put([ alice_min(name => { firstName => $s, middleName => $s, lastName => $s }) ]);
    check_answer("PUT $label", $res->code, $res->json, headers_of($res), $res->content);
    is($res->code, 200, "PUT $label in name.*: accepted");
    is_deeply(stored('first_name', 'middle_name', 'last_name'), [ ($s) x 3 ], "PUT $label: stored verbatim");
    is(db_fingerprint(except => [$ALICE]), BASE_EXCEPT_ALICE(), "PUT $label: nothing else changed");
    restore();

    # Where a value must name something, it names nothing: refused, quoted verbatim.
    put_failed("$label as userName", [ { userName => $s, email => 'alice@acme.example' } ],
               { 0 => [ [ 'userName', 'not_found' ] ] });
    put_failed("$label as departmentId", [ alice_min(departmentId => $s) ], { 0 => [ [ 'departmentId', 'unknown_code' ] ] },
               message => $s);
    put_failed("$label as locationId", [ alice_min(locationId => $s) ], { 0 => [ [ 'locationId', 'unknown_code' ] ] },
               message => $s);
    put_failed("$label as programAdminRoleId", [ alice_min(programAdminRoleId => $s) ],
               { 0 => [ [ 'programAdminRoleId', 'unknown_code' ] ] }, message => $s);
    put_failed("$label as roleName", [ alice_min(roles => [ { roleName => $s } ]) ], { 0 => [ [ 'roles[0]', 'unknown_role' ] ] });
    put_failed("$label as roleId", [ alice_min(roles => [ { roleId => $s } ]) ],
               { 0 => [ [ 'roles[0].roleId', format_or_long($s, 36) ] ] });
    put_failed("$label as phoneNumber", [ alice_min(phoneNumber => $s) ],
               { 0 => [ [ 'phoneNumber', format_or_long($s, 32) ] ] });
    put_failed("$label as email", [ alice_min(email => $s) ], { 0 => [ [ 'email', 'invalid_format' ] ] });

    # POST: the personal text fields store it verbatim (one target).
    my %personal = (name => 'display_name', firstName => 'first_name', middleName => 'middle_name',
                    lastName => 'last_name', loginName => 'login_name', employeeCode => 'employee_code',
                    profilePic => 'profile_pic');
    $res = send_post({ userId => $ALICE, map { $_ => $s } keys %personal });
    check_answer("POST $label", $res->code, $res->json, headers_of($res), $res->content);
    is($res->code, 200, "POST $label in the personal fields: accepted");
    my @cols = sort values %personal;
    is_deeply(stored(@cols), [ ($s) x @cols ], "POST $label: stored verbatim in @cols");
    is(db_fingerprint(except => [$ALICE]), BASE_EXCEPT_ALICE(), "POST $label: nothing else changed");
    restore();

    post_refused("$label as statusCode", { userId => $ALICE, statusCode => $s }, 400, 'ValidationError',
                 length($s) > 32 ? field_error('statusCode', 'too_long') : qr/^status: /);
    post_refused("$label as timezoneId", { userId => $ALICE, timezone => { timezoneId => $s } }, 400, 'ValidationError',
                 qr/^timezone\.timezoneId: no time zone \Q$s\E$/);
    post_refused("$label as userId", { userId => $s }, 400, 'ValidationError', field_error('userId', format_or_long($s, 36)));
    post_refused("$label as userIds[0]", { userIds => [$s] }, 400, 'ValidationError', field_error('userIds[0]', 'invalid_format'));
    post_refused("$label as userRoleIds[0]", { userId => $ALICE, userRoleIds => [$s] }, 400, 'ValidationError',
                 field_error('userRoleIds[0]', 'invalid_format'));
    post_refused("$label as teamId", { userId => $ALICE, teamId => $s }, 400, 'ValidationError',
                 field_error('teamId', format_or_long($s, 36)));
    post_refused("$label as status.id", { userId => $ALICE, status => { id => $s } }, 400, 'ValidationError',
                 field_error('status.id', format_or_long($s, 36)));
    post_refused("$label as phoneNumber1", { userId => $ALICE, phoneNumber1 => $s }, 400, 'ValidationError',
                 field_error('phoneNumber1', format_or_long($s, 32)));
    post_refused("$label as activationDate", { userId => $ALICE, accountAccess => { activationDate => $s } }, 400,
                 'ValidationError', field_error('accountAccess.activationDate', 'invalid_format'));
    post_noop("$label as keyword and display-only fields (ignored)",
              { userId => $ALICE, keyword => $s, status => { name => $s }, timezone => { timezoneName => $s },
                team => { accountOrgUnitName => $s } });
}

# Injection that is a well-formed email address: stored verbatim.
for my $e (q{'OR'1'='1@acme.example}, q{%{REMOTE_USER}@acme.example}, q{'--;@acme.example},
           q{${UB_PG_SOCKET}@acme.example}) {
    my $label = 'email ' . $JSON->encode($e);
    my $res = send_put([ alice_min(email => $e) ]);
    check_answer("PUT $label", $res->code, $res->json, headers_of($res), $res->content);
    if ($e =~ /;/) {
        is($res->code, 400, "PUT $label: refused (';' is not allowed)");
        unchanged("PUT $label");
        next;
    }
    is($res->code, 200, "PUT $label: accepted");
    is(stored('email')->[0], $e, "PUT $label: stored verbatim");
    is(db_fingerprint(except => [$ALICE]), BASE_EXCEPT_ALICE(), "PUT $label: nothing else changed");
    restore();
    $res = send_post({ userId => $ALICE, email => $e });
    is($res->code, 200, "POST $label: accepted");
    is(stored('email')->[0], $e, "POST $label: stored verbatim");
    restore();
}

# =====================================================================================
# 9. Content types and methods
# =====================================================================================
for my $ct (undef, 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x',
            'application/jsonx', 'application/json; charset=latin1', 'application/json;charset="iso-8859-1"',
            'text/json', 'application/*', '', 'json') {
    my $label = 'Content-Type ' . ($ct // '(none)');
    my $h = [ 'Content-Type' => $ct ];
    my $body = $JSON->encode([ alice_min() ]);
    my $res;
    if (defined $ct) {
        $res = json_request(PUT => PUT_USERS, $TOKEN, $body, $h);
    }
    else {
        $res = raw_request(PUT => PUT_USERS, [ Authorization => "Bearer $TOKEN" ], $body);
    }
    put_refused($label, undef, 415, 'unsupported_media_type', res => $res);
    $res = defined $ct ? json_request(POST => ACCOUNT_UPDATE, $TOKEN, '{"userId":"' . $ALICE . '"}', $h)
                       : raw_request(POST => ACCOUNT_UPDATE, [ Authorization => "Bearer $TOKEN" ], '{"userId":"' . $ALICE . '"}');
    post_refused($label, undef, 415, 'ValidationError', qr/must be sent as/, res => $res);
}
put_refused('Content-Type application/json-patch+json (the POST API only)', undef, 415, 'unsupported_media_type',
            res => json_request(PUT => PUT_USERS, $TOKEN, $JSON->encode([ alice_min() ]),
                                [ 'Content-Type' => 'application/json-patch+json' ]));
for my $m (qw(GET HEAD POST PATCH DELETE OPTIONS)) {
    my $res = raw_request($m => PUT_USERS, [ Authorization => "Bearer $TOKEN" ]);
    $cases++;
    is($res->code, 405, "$m /users: 405");
    is($res->header('Allow'), 'PUT', "$m /users: Allow: PUT");
    is(($res->json // {})->{code}, 'method_not_allowed', "$m /users: JSON code method_not_allowed") unless $m eq 'HEAD';
    unchanged("$m /users");
}

# =====================================================================================
# 10. Bodies too large, refused without being read
# =====================================================================================
for my $ep ([ PUT => PUT_USERS ], [ POST => ACCOUNT_UPDATE ]) {
    my ($method, $path) = @$ep;
    # 10 MB, declared: refused at once.
    my $sent = 0;
    my $ten = 10 * 1024 * 1024;
    my $res = raw_http(head => http_head($method => $path, token => $TOKEN, length => $ten),
                       parts => sub { return undef if $sent >= $ten; $sent += 65536; ' ' x 65536 });
    too_large("$method 10 MB body (Content-Length)", $method, $res);

    # 100 MB declared: the answer comes before a single byte of the body.
    my $t0 = time;
    $res = raw_http(head => http_head($method => $path, token => $TOKEN, length => 100 * 1024 * 1024), parts => []);
    my $took = time - $t0;
    too_large("$method 100 MB body (Content-Length, never sent)", $method, $res);
    is($res->{sent}, 0, "$method 100 MB declared: answered without reading any of the body");
    ok($took < 10, sprintf("$method 100 MB declared: answered in %.3f s", $took));
    note(sprintf "%s 100 MB declared: 413 in %.1f ms", $method, $took * 1000);

    # 10 MB and 100 MB chunked: no length to look at; reading stops at the
    # limit. The 100 MB are generated piece by piece, never held in memory.
    for my $mb (10, 100) {
        my $total = $mb * 1024 * 1024;
        my $piece = '{"userName":"nobody.acme","email":"nobody@acme.example"},' x 1024;
        my $n = 0;
        $res = raw_http(head => http_head($method => $path, token => $TOKEN, chunked => 1), chunked => 1,
                        parts => sub {
                            return undef if $n >= $total;
                            $n += length $piece;
                            return $n == length $piece ? "[$piece" : $piece;
                        });
        too_large("$method $mb MB chunked body", $method, $res);
        ok($res->{sent} < 32 * 1024 * 1024, "$method $mb MB chunked: refused after reading at most the limit"
           . sprintf(' (client got to send %.1f MB)', $res->{sent} / 1048576));
    }
    # Expect: 100-continue with a body too large: no 100, a 413.
    $res = raw_http(head => http_head($method => $path, token => $TOKEN, length => 50 * 1024 * 1024, expect_continue => 1),
                    expect_continue => 1, parts => [ 'x' x 1024 ]);
    too_large("$method 50 MB with Expect: 100-continue", $method, $res);
    is_deeply($res->{interim}, [], "$method 50 MB with Expect: 100-continue: no 100 Continue was sent");
}

sub too_large {
    my ($name, $method, $res) = @_;
    check_answer($name, $res->{status} // 0, $res->{json}, $res->{headers} // {}, $res->{body});
    is($res->{status}, 413, "$name: 413") or diag($res->{error} // $res->{body});
    if ($method eq 'PUT') {
        is(($res->{json} // {})->{code}, 'body_too_large', "$name: code body_too_large");
    }
    else {
        is(($res->{json} // {})->{messageCode}, 413, "$name: messageCode 413");
        like(($res->{json} // {})->{message} // '', qr/larger than $LIMIT bytes/, "$name: message");
    }
    unchanged($name);
}

# =====================================================================================
# 11. Chunked, Expect: 100-continue, slow and abandoned bodies (raw socket)
# =====================================================================================
{
    my $body = $JSON->encode([ alice_full(name => { firstName => 'Chunked', lastName => 'Archer' }) ]);
    my $res = raw_http(head => http_head(PUT => PUT_USERS, token => $TOKEN, chunked => 1), chunked => 1,
                       parts => [ map { substr($body, $_ * 7, 7) } 0 .. int(length($body) / 7) ]);
    check_answer('PUT chunked body (7-byte chunks)', $res->{status}, $res->{json}, $res->{headers}, $res->{body});
    is($res->{status}, 200, 'PUT chunked body: 200');
    is(db_query("SELECT first_name FROM userbulk.users WHERE id = '$ALICE'"), 'Chunked', 'PUT chunked body: applied');
    restore();

    $body = $JSON->encode({ userId => $ALICE, employeeCode => 'CHUNKED' });
    $res = raw_http(head => http_head(POST => ACCOUNT_UPDATE, token => $TOKEN, chunked => 1), chunked => 1,
                    parts => [ substr($body, 0, 5), substr($body, 5) ]);
    check_answer('POST chunked body', $res->{status}, $res->{json}, $res->{headers}, $res->{body});
    is($res->{status}, 200, 'POST chunked body: 200');
    is(db_query("SELECT employee_code FROM userbulk.users WHERE id = '$ALICE'"), 'CHUNKED', 'POST chunked body: applied');
    restore();

    $res = raw_http(head => http_head(PUT => PUT_USERS, token => $TOKEN, chunked => 1), chunked => 1,
                    parts => [ '[{"userName":', '"alice.acme"' ]);
    put_refused('chunked body that is truncated JSON', undef, 400, 'invalid_json', res => as_response($res));

    # Broken chunked framing: the answer must still be one JSON response.
    for my $c ([ 'a chunk size that is not hex', "ZZ\r\n[]\r\n0\r\n\r\n", 400 ],
               [ 'a chunk size beyond 64 bits', "FFFFFFFFFFFFFFFFFFFFFF\r\n[]\r\n0\r\n\r\n", 413 ]) {
        my ($what, $raw, $status) = @$c;
        for my $ep ([ PUT => PUT_USERS ], [ POST => ACCOUNT_UPDATE ]) {
            my ($method, $path) = @$ep;
            $res = raw_http(head => http_head($method => $path, token => $TOKEN, chunked => 1), parts => [$raw]);
            my $name = "$method chunked body with $what";
            check_answer($name, $res->{status}, $res->{json}, $res->{headers}, $res->{body});
            is($res->{status}, $status, "$name: $status");
            like($res->{headers}{'content-type'} // '', qr{^application/json}, "$name: answered as JSON")
                or diag(substr($res->{body} // '', 0, 400));
            unchanged($name);
        }
    }

    # Content-Length and Transfer-Encoding both: the chunked framing wins
    # (RFC 9112 6.3), the length is ignored.
    $body = $JSON->encode([ alice_full() ]);
    $res = raw_http(head => http_head(PUT => PUT_USERS, token => $TOKEN, chunked => 1, length => 999999999),
                    chunked => 1, parts => [$body]);
    check_answer('PUT with Content-Length and chunked', $res->{status}, $res->{json}, $res->{headers}, $res->{body});
    is($res->{status}, 200, 'PUT with Content-Length and chunked: the chunked body is read');
    unchanged('PUT with Content-Length and chunked (a record equal to the stored one)');

    # Expect: 100-continue.
    $body = $JSON->encode([ alice_min(name => { firstName => 'Continued' }) ]);
    $res = raw_http(head => http_head(PUT => PUT_USERS, token => $TOKEN, length => length $body, expect_continue => 1),
                    expect_continue => 1, parts => [$body]);
    check_answer('PUT Expect: 100-continue', $res->{status}, $res->{json}, $res->{headers}, $res->{body});
    is_deeply($res->{interim}, [100], 'PUT Expect: 100-continue: 100 Continue before the body');
    is($res->{status}, 200, 'PUT Expect: 100-continue: 200');
    is(db_query("SELECT first_name FROM userbulk.users WHERE id = '$ALICE'"), 'Continued', 'PUT Expect: 100-continue: applied');
    restore();
    $body = '{"userId":"' . $ALICE . '","isSSOUser":true}';
    $res = raw_http(head => http_head(POST => ACCOUNT_UPDATE, token => $TOKEN, length => length $body, expect_continue => 1),
                    expect_continue => 1, parts => [$body]);
    is_deeply($res->{interim}, [100], 'POST Expect: 100-continue: 100 Continue');
    is($res->{status}, 200, 'POST Expect: 100-continue: 200');
    restore();
    $res = raw_http(head => http_head(PUT => PUT_USERS, token => $TOKEN, length => 10, expect_continue => 1,
                                      content_type => 'text/plain'),
                    expect_continue => 1, parts => ['0123456789']);
    is_deeply($res->{interim}, [], 'Expect: 100-continue with a refused Content-Type: no 100 Continue');
    put_refused('Expect: 100-continue with a refused Content-Type', undef, 415, 'unsupported_media_type', res => as_response($res));

    # A slow client: the body in five pieces, a second apart. Served.
    $body = $JSON->encode([ alice_min(name => { firstName => 'Slow' }) ]);
    my $k = int(length($body) / 5) + 1;
    $res = raw_http(head => http_head(PUT => PUT_USERS, token => $TOKEN, length => length $body),
                    parts => [ map { substr($body, $_ * $k, $k) } 0 .. 4 ], pause => 1);
    check_answer('PUT slow body', $res->{status}, $res->{json}, $res->{headers}, $res->{body});
    is($res->{status}, 200, sprintf('PUT slow body (5 pieces over %.1f s): 200', $res->{elapsed}));
    is(db_query("SELECT first_name FROM userbulk.users WHERE id = '$ALICE'"), 'Slow', 'PUT slow body: applied');
    restore();
    $body = '{"userId":"' . $ALICE . '","employeeCode":"SLOW"}';
    $res = raw_http(head => http_head(POST => ACCOUNT_UPDATE, token => $TOKEN, chunked => 1), chunked => 1,
                    parts => [ substr($body, 0, 10), substr($body, 10, 20), substr($body, 30) ], pause => 1);
    is($res->{status}, 200, 'POST slow chunked body: 200');
    is(db_query("SELECT employee_code FROM userbulk.users WHERE id = '$ALICE'"), 'SLOW', 'POST slow chunked body: applied');
    restore();

    # A client that stops half way and goes away: nothing changes.
    for my $c ([ PUT => PUT_USERS, $JSON->encode([ alice_min(name => { firstName => 'Abandoned' }) ]), 0 ],
               [ POST => ACCOUNT_UPDATE, '{"userId":"' . $ALICE . '","employeeCode":"ABANDONED"}', 0 ],
               [ PUT => PUT_USERS, $JSON->encode([ alice_min(name => { firstName => 'Abandoned' }) ]), 1 ],
               [ POST => ACCOUNT_UPDATE, '{"userId":"' . $ALICE . '","employeeCode":"ABANDONED"}', 1 ]) {
        my ($method, $path, $b, $chunked) = @$c;
        my $m = error_log_mark();
        my $half = int(length($b) / 2);
        raw_http(head => http_head($method => $path, token => $TOKEN, $chunked ? (chunked => 1) : (length => length $b)),
                 chunked => $chunked, parts => [ substr($b, 0, $half), substr($b, $half) ], pause => 0.5, abandon_after => 1);
        my $line = wait_for_log($m, qr/UB0006/, 60);
        my $name = "$method client gone half way through a " . ($chunked ? 'chunked' : 'Content-Length') . ' body';
        $cases++;
        ok($line, "$name: the server saw the body end early (UB0006)");
        unchanged($name);
    }
}

sub as_response {
    my ($r) = @_;
    my $res = HTTP::Response->new($r->{status} // 599);
    $res->header($_ => $r->{headers}{$_}) for keys %{ $r->{headers} // {} };
    $res->content($r->{body} // '');
    return bless $res, 'UserBulk::Test::Response';
}

# =====================================================================================
# Helpers that need the state above
# =====================================================================================
my $BASE_EXCEPT;
sub BASE_EXCEPT_ALICE { return $BASE_EXCEPT //= db_fingerprint(except => [$ALICE]) }

# Puts the demo back after a case that changed it.
sub restore {
    reset_demo();
    $BASE = db_fingerprint();
    undef $BASE_EXCEPT;
}

# Alice's columns as stored, read as JSON (a value may hold a newline).
sub stored {
    my (@cols) = @_;
    my $json = db_query('SELECT json_build_array(' . join(', ', @cols) . ")::text FROM userbulk.users WHERE id = '$ALICE'");
    return $JSON->decode($json);
}

# A value too long for its column is refused as such before its format is
# looked at.
sub format_or_long { my ($s, $max, $code) = @_; return length($s) > $max ? 'too_long' : ($code // 'invalid_format') }

# =====================================================================================
# Nothing crashed, nothing answered 500
# =====================================================================================
{
    my @crash = crash_lines($mark);
    ok(!@crash, 'no child crashed, no sanitizer report') or diag(join "\n", @crash);
    my @five = grep { $_ == 500 } @statuses;
    ok(!@five, 'no answer was 500');
    ok($cases >= 60, "the corpus holds $cases requests (at least 60)");
    note("corpus: $cases requests");
}

done_testing();
