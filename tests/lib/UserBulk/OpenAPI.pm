package UserBulk::OpenAPI;

# Checks HTTP responses against conf/openapi.json, with core Perl only
# (JSON::PP). Knows the subset of OpenAPI 3.1 / JSON Schema 2020-12 that the
# document uses, and refuses any other keyword, so the document cannot
# silently say more than is checked:
#
#   type (a name or a list), enum, const, properties, required,
#   additionalProperties (boolean or schema), items, minItems, maxItems,
#   minLength, maxLength, minimum, maximum, pattern, format (uuid, email,
#   date, date-time), anyOf, oneOf, allOf, $ref (local), and the
#   annotations description, title, examples, default, deprecated.
#
#   my $api = UserBulk::OpenAPI->load("$ROOT/conf/openapi.json");
#   my @errors = $api->check_response(method => 'PUT', path => '/users',
#                    status => 200, headers => { 'x-trace-id' => ... },
#                    body => $bytes);
#   my @errors = $api->check_schema($schema, $data, '$');
#
# An empty list means the response is what the document says.

use strict;
use warnings;

use B ();
use JSON::PP ();

my %ANNOTATION = map { $_ => 1 } qw(description title examples default deprecated $comment);
my %KEYWORD = map { $_ => 1 } qw(type enum const properties required additionalProperties
                                 items minItems maxItems minLength maxLength minimum maximum
                                 pattern format anyOf oneOf allOf $ref);

sub load {
    my ($class, $file) = @_;
    open my $fh, '<', $file or die "$file: $!\n";
    local $/;
    my $doc = JSON::PP->new->decode(<$fh>);
    return bless { doc => $doc, file => $file }, $class;
}

sub doc { $_[0]{doc} }

# The operation object of METHOD PATH, or undef.
# The document's path that path is an instance of: itself, or a templated
# one ("/users/requests/{requestId}/revert", a {name} standing for one
# segment); undef when none.
sub path_of {
    my ($self, $path) = @_;
    return $path if $self->{doc}{paths}{$path};
    for my $p (sort keys %{ $self->{doc}{paths} }) {
        next unless $p =~ /\{/;
        my $re = join '[^/]+', map { quotemeta } split /\{[^}]*\}/, $p, -1;
        return $p if $path =~ /^$re$/;
    }
    return undef;
}

sub operation {
    my ($self, $method, $path) = @_;
    $path = $self->path_of($path) // return undef;
    my $item = $self->{doc}{paths}{$path} or return undef;
    return $item->{ lc $method };
}

sub resolve {
    my ($self, $node) = @_;
    my $seen = 0;
    while (ref $node eq 'HASH' && defined $node->{'$ref'}) {
        my $ref = $node->{'$ref'};
        die "only local references are supported: $ref\n" unless $ref =~ m{^#/};
        my $target = $self->{doc};
        for my $part (split m{/}, substr($ref, 2)) {
            $part =~ s/~1/\//g;
            $part =~ s/~0/~/g;
            $target = $target->{$part};
            die "unresolvable reference $ref\n" unless defined $target;
        }
        $node = $target;
        die "reference loop at $ref\n" if ++$seen > 50;
    }
    return $node;
}

# The JSON type of a decoded value: null, boolean, object, array, number,
# string. Decided from how JSON::PP made the scalar (before anything
# stringifies or numifies it).
sub json_type {
    my ($v) = @_;
    return 'null' unless defined $v;
    return 'boolean' if JSON::PP::is_bool($v);
    return 'object' if ref $v eq 'HASH';
    return 'array' if ref $v eq 'ARRAY';
    my $flags = B::svref_2object(\$v)->FLAGS;
    return 'string' if $flags & B::SVf_POK;
    return 'number' if $flags & (B::SVf_IOK | B::SVf_NOK);
    return 'string';
}

sub _is_type {
    my ($want, $have, $v) = @_;
    return 1 if $want eq $have;
    return 1 if $want eq 'integer' && $have eq 'number' && $v == int($v);
    return 0;
}

sub _equal {
    my ($a, $b) = @_;
    my $j = JSON::PP->new->canonical->allow_nonref;
    return $j->encode($a) eq $j->encode($b);
}

my %FORMAT = (
    uuid        => qr/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
    email       => qr/^[^@\s]+@[^@\s]+$/,
    date        => qr/^\d{4}-\d{2}-\d{2}$/,
    'date-time' => qr/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/,
);

# Validates DATA against SCHEMA; returns the errors, each "PATH: problem".
sub check_schema {
    my ($self, $schema, $data, $at) = @_;
    $at //= '$';
    return () if ref $schema ne 'HASH' && JSON::PP::is_bool($schema) && $schema;
    return ("$at: no value is allowed here") if JSON::PP::is_bool($schema) && !$schema;
    for my $k (keys %$schema) {
        die "UserBulk::OpenAPI: schema keyword '$k' at $at is outside the checked subset\n"
            unless $KEYWORD{$k} || $ANNOTATION{$k};
    }
    if (defined $schema->{'$ref'}) {
        return $self->check_schema($self->resolve($schema), $data, $at);
    }
    my @err;
    my $type = json_type($data);

    if (defined(my $t = $schema->{type})) {
        my @t = ref $t ? @$t : ($t);
        return ("$at: is $type, not " . join(' or ', @t))
            unless grep { _is_type($_, $type, $data) } @t;
    }
    if (exists $schema->{const} && !_equal($schema->{const}, $data)) {
        push @err, "$at: is not " . JSON::PP->new->allow_nonref->encode($schema->{const});
    }
    if ($schema->{enum} && !grep { _equal($_, $data) } @{ $schema->{enum} }) {
        push @err, "$at: " . JSON::PP->new->allow_nonref->encode($data) . " is not one of the documented values";
    }
    if ($type eq 'string') {
        my $len = length $data;
        push @err, "$at: longer than $schema->{maxLength}" if defined $schema->{maxLength} && $len > $schema->{maxLength};
        push @err, "$at: shorter than $schema->{minLength}" if defined $schema->{minLength} && $len < $schema->{minLength};
        push @err, "$at: '$data' does not match $schema->{pattern}"
            if defined $schema->{pattern} && $data !~ /$schema->{pattern}/;
        if (defined(my $f = $schema->{format})) {
            die "UserBulk::OpenAPI: format '$f' is not checked\n" unless $FORMAT{$f};
            push @err, "$at: '$data' is not a $f" unless $data =~ $FORMAT{$f};
        }
    }
    if ($type eq 'number') {
        push @err, "$at: below $schema->{minimum}" if defined $schema->{minimum} && $data < $schema->{minimum};
        push @err, "$at: above $schema->{maximum}" if defined $schema->{maximum} && $data > $schema->{maximum};
    }
    if ($type eq 'array') {
        my $n = @$data;
        push @err, "$at: more than $schema->{maxItems} items" if defined $schema->{maxItems} && $n > $schema->{maxItems};
        push @err, "$at: fewer than $schema->{minItems} items" if defined $schema->{minItems} && $n < $schema->{minItems};
        if ($schema->{items}) {
            push @err, $self->check_schema($schema->{items}, $data->[$_], "$at\[$_\]") for 0 .. $#$data;
        }
    }
    if ($type eq 'object') {
        my $props = $schema->{properties} // {};
        for my $r (@{ $schema->{required} // [] }) {
            push @err, "$at: '$r' is missing" unless exists $data->{$r};
        }
        for my $k (sort keys %$data) {
            if ($props->{$k}) {
                push @err, $self->check_schema($props->{$k}, $data->{$k}, "$at.$k");
            }
            elsif (exists $schema->{additionalProperties}) {
                my $ap = $schema->{additionalProperties};
                if (JSON::PP::is_bool($ap)) {
                    push @err, "$at: '$k' is not documented" unless $ap;
                }
                else {
                    push @err, $self->check_schema($ap, $data->{$k}, "$at.$k");
                }
            }
        }
    }
    for my $sub (@{ $schema->{allOf} // [] }) {
        push @err, $self->check_schema($sub, $data, $at);
    }
    if (my $any = $schema->{anyOf}) {
        my @each = map { [ $self->check_schema($_, $data, $at) ] } @$any;
        push @err, "$at: matches none of anyOf (" . join('; ', map { @$_ ? $_->[0] : () } @each) . ")"
            unless grep { !@$_ } @each;
    }
    if (my $one = $schema->{oneOf}) {
        my @each = map { [ $self->check_schema($_, $data, $at) ] } @$one;
        my $ok = grep { !@$_ } @each;
        push @err, "$at: matches none of oneOf (" . join('; ', map { $_->[0] } @each) . ")" if $ok == 0;
        push @err, "$at: matches $ok of oneOf, not exactly one" if $ok > 1;
    }
    return @err;
}

# Checks one response of METHOD PATH: the status is documented, the
# documented headers are there and valid, the media type is documented and
# the body valid.
sub check_response {
    my ($self, %r) = @_;
    my $op = $self->operation($r{method}, $r{path})
        or return ("$r{method} $r{path} is not in the document");
    my $doc_res = $op->{responses}{ $r{status} } // $op->{responses}{default}
        or return ("$r{method} $r{path}: status $r{status} is not documented");
    $doc_res = $self->resolve($doc_res);
    my @err;
    my %h = map { lc($_) => $r{headers}{$_} } keys %{ $r{headers} // {} };
    for my $name (sort keys %{ $doc_res->{headers} // {} }) {
        my $hd = $self->resolve($doc_res->{headers}{$name});
        my $v = $h{ lc $name };
        if (!defined $v) {
            push @err, "header $name is missing" if $hd->{required};
            next;
        }
        push @err, map { "header $name: $_" } $self->check_schema($hd->{schema}, "$v", 'value') if $hd->{schema};
    }
    my $content = $doc_res->{content};
    return @err unless $content;    # the document promises no body
    my ($mt) = split /;/, $h{'content-type'} // '';
    $mt = lc($mt // '');
    $mt =~ s/\s+//g;
    my $media = $content->{$mt}
        or return (@err, "Content-Type '" . ($h{'content-type'} // '') . "' is not documented for $r{status}");
    return @err unless $media->{schema};
    return @err if $r{no_body};     # e.g. a HEAD answer: headers only (RFC 9110)
    my $data = eval { JSON::PP->new->allow_nonref->decode($r{body}) };
    return (@err, "the body is not JSON: " . substr($r{body} // '', 0, 80)) unless defined $data || $r{body} =~ /^\s*null\s*$/;
    push @err, $self->check_schema($media->{schema}, $data, 'body');
    return @err;
}

1;
