package UserBulk::Scim;

# What the SCIM test files share: the schema URNs, the check of a SCIM
# error answer (RFC 7644 section 3.12), and the validation of an answer
# against the RFC 7643 schemas by a third party (SCIMMY, through
# tests/tools/scim-validate.mjs).
use strict;
use warnings;

use Exporter 'import';
use File::Basename ();
use File::Spec ();
use IPC::Open3 ();
use Symbol ();
use Test::More ();
use JSON::PP ();

our @EXPORT_OK = qw(USER_SCHEMA ERROR_SCHEMA LIST_SCHEMA scim_error scim_validate scim_valid_ok);
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

my $TESTS = File::Spec->rel2abs(File::Basename::dirname(__FILE__) . '/../..');
my $VALIDATOR = "$TESTS/tools/scim-validate.mjs";

# scim_validate(ANSWER, as => KIND, partial => 1): the violations SCIMMY
# and the validator find in ANSWER (a response object, JSON text, or a
# Perl structure): a resource or a ListResponse of them, User, Group,
# ResourceType, ServiceProviderConfig or Schema by its schemas. as: the
# kind it must be (a ListResponse: of that kind only). partial: an answer
# to attributes=/excludedAttributes=, which may leave out required
# attributes. Returns the list of violations, empty when valid; dies when
# the validator cannot run (so that a missing install fails loudly).
sub scim_validate {
    my ($answer, %o) = @_;
    my $text = ref $answer && eval { $answer->can('content') } ? $answer->content
             : ref $answer ? JSON::PP->new->canonical->encode($answer)
             : $answer;
    -d "$TESTS/node_modules/scimmy"
        or die "scim_validate: SCIMMY is not installed in tests/node_modules: run make test-tools\n";
    my @args = ('node', $VALIDATOR, ($o{as} ? ('--as', $o{as}) : ()), ($o{partial} ? '--partial' : ()));
    my $err = Symbol::gensym();
    my $pid = IPC::Open3::open3(my $in, my $out, $err, @args);
    # The validator reads all its input before it writes a line.
    binmode $in;
    print {$in} $text // '';
    close $in;
    my @lines = <$out>;
    my @errs = <$err>;
    waitpid $pid, 0;
    my $rc = $? >> 8;
    chomp @lines;
    die "scim_validate: the validator failed (exit $rc): @errs\n" if $rc != 0 && $rc != 1;
    die "scim_validate: exit 1 and no violation named\n" if $rc == 1 && !@lines;
    return $rc == 0 ? () : @lines;
}

# scim_valid_ok(ANSWER, NAME, OPTIONS): one test, passing when ANSWER is
# valid (scim_validate's options); each violation is a diagnostic line.
sub scim_valid_ok {
    my ($answer, $name, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my @v = scim_validate($answer, %o);
    my $ok = Test::More::ok(!@v, "$name: valid by RFC 7643 (SCIMMY)");
    Test::More::diag("  $_") for @v;
    return $ok;
}

1;
