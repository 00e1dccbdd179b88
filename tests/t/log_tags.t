# Every log tag names one message, and the README's table of log tags
# (Troubleshooting) lists exactly the tags the code writes: an operator
# greps a tag and finds one meaning.
#
#   make test T=t/log_tags.t
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use File::Spec::Functions qw(catfile);

my $root = catfile($FindBin::RealBin, '..', '..');

# tag => { message => [places] }: the message is the literal's text after
# the tag, up to its first conversion (the variable part).
my %messages;
for my $file (glob(catfile($root, 'mod_userbulk*.c')), glob(catfile($root, 'src', '*.c'))) {
    open my $fh, '<', $file or die "$file: $!";
    while (my $line = <$fh>) {
        while ($line =~ /"(UB\d{4}) ([^"%]*)/g) {
            my ($tag, $text) = ($1, $2);
            $text =~ s/\s+$//;
            push @{ $messages{$tag}{$text} }, (File::Spec->abs2rel($file, $root)) . ":$.";
        }
    }
}
ok(keys %messages >= 20, 'the code writes tagged lines (' . scalar(keys %messages) . ' tags)');
for my $tag (sort keys %messages) {
    my @texts = sort keys %{ $messages{$tag} };
    is(scalar @texts, 1, "$tag names one message")
        or diag("$tag: " . join(' | ', map { "'$_' at @{ $messages{$tag}{$_} }" } @texts));
}

open my $rh, '<', catfile($root, 'README.md') or die "README.md: $!";
my %documented;
while (my $line = <$rh>) {
    $documented{$1}++ if $line =~ /^\| (UB\d{4}) \|/;
}
for my $tag (sort keys %messages) {
    is($documented{$tag}, 1, "$tag has one row in the README's table of log tags");
}
for my $tag (sort keys %documented) {
    ok($messages{$tag}, "$tag of the README's table is written by the code");
}

done_testing();
