package UserBulk::Token;

# Mints JSON Web Tokens for the demo and the tests, with core Perl only
# (Digest::SHA, MIME::Base64, JSON::PP): no CPAN, no network.
#
# The key is the demo key in conf/demo-key.jwk, a symmetric HS256 JWK that is
# published in the repository. It protects nothing: it exists so that
# `make run` and `make test` can hand out tokens that mod_oauth2 accepts.
#
#   use UserBulk::Token qw(mint_token);
#   my $jwt = mint_token(account => 'acme', roles => ['userbulk.admin']);
#
# Options of mint_token (all optional):
#   sub, account, roles (array ref or "a,b"), iss, aud (string or array ref),
#   exp_in (seconds from now, negative = already expired; default 3600),
#   nbf_in, iat_in (seconds from now; nbf/iat default to now),
#   alg ('HS256' or 'none'), key_file, wrong_key (sign with another key),
#   kid (override the header's kid), claims (hash ref merged last),
#   omit (array ref of claim names to leave out).

use strict;
use warnings;

use Digest::SHA qw(hmac_sha256);
use File::Basename qw(dirname);
use File::Spec;
use JSON::PP ();
use MIME::Base64 qw(encode_base64 decode_base64);
use Exporter 'import';

our @EXPORT_OK = qw(mint_token tampered_token load_key default_key_file b64url b64url_decode
                    ISSUER AUDIENCE);

# The issuer and audience the demo and test configurations accept.
use constant ISSUER   => 'https://idp.userbulk.test';
use constant AUDIENCE => 'userbulk-api';

sub default_key_file {
    # tests/lib/UserBulk/Token.pm -> project root
    my $root = File::Spec->rel2abs(
        File::Spec->catdir(dirname(__FILE__), (File::Spec->updir) x 3));
    return File::Spec->catfile($root, 'conf', 'demo-key.jwk');
}

sub b64url {
    my ($bytes) = @_;
    my $s = encode_base64($bytes, '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+\z//;
    return $s;
}

sub b64url_decode {
    my ($s) = @_;
    $s =~ tr{-_}{+/};
    $s .= '=' x ((4 - length($s) % 4) % 4);
    return decode_base64($s);
}

# A valid token (mint_token's arguments) whose payload was changed after
# signing: account acme -> globex, the signature kept. Every auth module
# must refuse it.
sub tampered_token {
    my ($h, $p, $s) = split /\./, mint_token(@_);
    my $claims = JSON::PP->new->decode(b64url_decode($p));
    $claims->{account} = 'globex';
    return join '.', $h, b64url(JSON::PP->new->canonical->encode($claims)), $s;
}

# Returns { kid => ..., secret => raw bytes } from a JWK of kty "oct".
sub load_key {
    my ($file) = @_;
    $file //= default_key_file();
    open my $fh, '<', $file or die "token: cannot read key $file: $!\n";
    my $text = do { local $/; <$fh> };
    close $fh;
    my $jwk = JSON::PP->new->decode($text);
    die "token: $file is not a symmetric (kty oct) JWK\n"
        unless ($jwk->{kty} // '') eq 'oct' && defined $jwk->{k};
    return { kid => $jwk->{kid}, secret => b64url_decode($jwk->{k}) };
}

sub _roles {
    my ($r) = @_;
    return [] unless defined $r;
    return [@$r] if ref $r eq 'ARRAY';
    return [grep { length } split /\s*,\s*/, $r];
}

sub mint_token {
    my (%o) = @_;
    my $now = time;
    my $alg = $o{alg} // 'HS256';
    die "token: alg must be HS256 or none\n" unless $alg eq 'HS256' || $alg eq 'none';

    my $key = load_key($o{key_file});
    my %header = (alg => $alg, typ => 'JWT');
    $header{kid} = $o{kid} // $key->{kid} if $alg ne 'none' && defined($o{kid} // $key->{kid});

    my %claims = (
        sub     => $o{sub} // 'alice',
        account => $o{account} // 'acme',
        roles   => _roles($o{roles} // ['userbulk.admin']),
        iss     => $o{iss} // ISSUER,
        aud     => $o{aud} // AUDIENCE,
        iat     => $now + ($o{iat_in} // 0),
        nbf     => $now + ($o{nbf_in} // 0),
        exp     => $now + ($o{exp_in} // 3600),
    );
    %claims = (%claims, %{ $o{claims} }) if $o{claims};
    delete @claims{ @{ $o{omit} } } if $o{omit};

    my $json = JSON::PP->new->canonical;
    my $input = b64url($json->encode(\%header)) . '.' . b64url($json->encode(\%claims));
    return "$input." if $alg eq 'none';

    my $secret = $key->{secret};
    # A key of the same length that is certainly not the configured one.
    $secret = join '', map { chr(ord($_) ^ 0x5a) } split //, $secret if $o{wrong_key};
    return "$input." . b64url(hmac_sha256($input, $secret));
}

1;
