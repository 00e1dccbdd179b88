#!/usr/bin/env perl
# Prints a JWT signed with the demo key (conf/demo-key.jwk), for make token,
# make run and by hand:
#
#   tools/token.pl --account acme --roles userbulk.admin --sub alice
#   tools/token.pl --exp-in -60          # expired a minute ago
#   tools/token.pl --nbf-in 3600         # not valid for another hour
#   tools/token.pl --alg none            # unsigned
#   tools/token.pl --wrong-key           # bad signature
#   tools/token.pl --iss https://evil.example --aud other
#
# Core Perl only; the work is done by tests/lib/UserBulk/Token.pm, which the
# .t files use as a library.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../tests/lib";
use Getopt::Long qw(GetOptions);
use UserBulk::Token qw(mint_token);

my %o;
GetOptions(
    'account=s'  => \$o{account},
    'roles=s'    => \$o{roles},
    'sub=s'      => \$o{sub},
    'iss=s'      => \$o{iss},
    'aud=s'      => \$o{aud},
    'exp-in=i'   => \$o{exp_in},
    'nbf-in=i'   => \$o{nbf_in},
    'iat-in=i'   => \$o{iat_in},
    'alg=s'      => \$o{alg},
    'kid=s'      => \$o{kid},
    'key-file=s' => \$o{key_file},
    'wrong-key'  => \$o{wrong_key},
    'help|h'     => sub {
        open my $fh, '<', __FILE__ or die;
        while (<$fh>) { last unless /^#/; next if /^#!/; s/^# ?//; print }
        exit 0;
    },
) or die "usage: $0 [--account A] [--roles a,b] [--sub S] [--exp-in N] [--nbf-in N]"
       . " [--iss I] [--aud A] [--alg HS256|none] [--key-file F] [--wrong-key]\n";

# --roles '' means a token without any role.
$o{roles} = [] if defined $o{roles} && $o{roles} eq '';
delete @o{ grep { !defined $o{$_} } keys %o };

print mint_token(%o), "\n";
