package UserBulk::Scim;

# What the SCIM test files share: the schema URNs and the check of a SCIM
# error answer (RFC 7644 section 3.12).
use strict;
use warnings;

use Exporter 'import';
use Test::More ();

our @EXPORT_OK = qw(USER_SCHEMA ERROR_SCHEMA LIST_SCHEMA scim_error);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

use constant USER_SCHEMA  => 'urn:ietf:params:scim:schemas:core:2.0:User';
use constant ERROR_SCHEMA => 'urn:ietf:params:scim:api:messages:2.0:Error';
use constant LIST_SCHEMA  => 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

# scim_error(RESPONSE, STATUS, SCIMTYPE or undef, NAME): the status, the
# content type, the Error schema, the status again as a string in the body,
# the scimType and a detail. Returns the body.
sub scim_error {
    my ($res, $status, $scim_type, $name) = @_;
    my $b = $res->json // {};
    Test::More::is($res->code, $status, "$name: $status");
    Test::More::like($res->header('Content-Type') // '', qr{^application/scim\+json},
                     "$name: application/scim+json");
    Test::More::is_deeply($b->{schemas}, [ ERROR_SCHEMA ], "$name: the Error schema");
    Test::More::is($b->{status}, "$status", "$name: status as a string");
    Test::More::is($b->{scimType}, $scim_type, "$name: scimType " . ($scim_type // 'absent'));
    Test::More::ok(defined $b->{detail} && length $b->{detail}, "$name: a detail");
    return $b;
}

1;
