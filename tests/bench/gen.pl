#!/usr/bin/env perl
# Writes the request bodies of `make bench` (tests/bench/bench.sh), and one
# list file per connection and scenario naming the bodies it sends in order.
#
#   gen.pl OUT_DIR IDS_FILE
#
# IDS_FILE holds "N<TAB>uuid" of the generated acme users (u<N>.acme, from
# src/sql/seed.sql) that the POST scenarios target.
#
# Users are taken in slices of 1000 consecutive numbers: slice k is
# u(1000k+1).acme ... u(1000k+1000).acme. Every scenario has slices of its
# own, so one scenario never finds the values another one wrote:
#
#   put1      slice 0; bodies a and b alternate, so every request changes
#             every valid record (names, phone; department of one record in
#             4, roles of one in 10)
#   floor     the same users as put1, with the same fields but names of its
#             own (so that a PUT after a floor run changes every record), and
#             no failing record (an unknown department would abort the
#             UPDATE); the UPDATE leaves roles alone
#   put4d-C   client C of 4 on slice 1+C (disjoint)
#   put4o-C   client C of 4 on slice 5 (the same users for all four), in an
#             order of its own (ascending, descending, two shuffles), with
#             values of its own
#   unch      slice 6, one body, sent again and again (unchanged after the
#             first)
#   post1     slice 10: userRoleIds and isTwoFactorEnabled toggled
#   post4d-C  slice 11+C; post4o-C all on slice 15, orders and time zones of
#             their own
#   small-C   10-record PUTs of client C on u(50001+10C) ... for the memory
#             run, with a put4d body every 200th request
#
# In every PUT body 1 record in 100 fails on purpose: n % 200 == 50 names an
# unknown department, n % 200 == 150 has an email without '@'.
use strict;
use warnings;

my ($out, $ids_file) = @ARGV;
die "usage: gen.pl OUT_DIR IDS_FILE\n" unless defined $ids_file;
-d $out or mkdir $out or die "$out: $!\n";

my %id;
open my $ih, '<', $ids_file or die "$ids_file: $!\n";
while (<$ih>) {
    chomp;
    my ($n, $uuid) = split /\t/;
    $id{$n} = $uuid if defined $uuid;
}
close $ih;

my $REVIEWER = '10000000-0000-4000-8000-000000000002';
my $VIEWER   = '10000000-0000-4000-8000-000000000003';
my @TZ       = ('UTC', 'Europe/Paris', 'America/New_York', 'Asia/Tokyo');

sub slice { my ($k, $size) = @_; $size //= 1000; return map { $k * $size + $_ } 1 .. $size }

sub write_file {
    my ($name, $text) = @_;
    open my $fh, '>', "$out/$name" or die "$out/$name: $!\n";
    print $fh $text;
    close $fh or die "$out/$name: $!\n";
    return "$out/$name";
}

sub list_file {
    my ($name, @files) = @_;
    return write_file("$name.list", join('', map { "$_\n" } @files));
}

# Deterministic shuffle (a small LCG), so every run sends the same bodies.
sub shuffled {
    my ($seed, @a) = @_;
    my $x = $seed;
    for (my $i = $#a; $i > 0; $i--) {
        $x = ($x * 1103515245 + 12345) % 2147483648;
        my $j = $x % ($i + 1);
        @a[$i, $j] = @a[$j, $i];
    }
    return @a;
}

sub json_str {
    my ($s) = @_;
    return 'null' unless defined $s;
    $s =~ s/(["\\])/\\$1/g;
    return qq{"$s"};
}

# One PUT /users record. $odd selects the second of the two alternating
# value sets; $tag makes the names differ between scenarios and clients.
sub put_record {
    my ($n, $tag, $odd, $valid_only) = @_;
    my $email = "u$n\@acme.example";
    my $dept  = ($odd && $n % 4 == 0) ? 'SALES' : 'ENG';
    if (!$valid_only) {
        $dept  = 'NOPE'              if $n % 200 == 50;
        $email = "u$n.acme.example"  if $n % 200 == 150;
    }
    my $roles = '[{"roleName":"Viewer"}'
              . (($odd && $n % 10 == 0) ? qq{,{"roleId":"$REVIEWER"}} : '') . ']';
    return '{"userName":' . json_str("u$n.acme")
         . ',"email":' . json_str($email)
         . ',"name":{"firstName":' . json_str("First$n-$tag")
         . ',"middleName":null,"lastName":' . json_str("Last$n-$tag") . '}'
         . ',"phoneNumber":' . json_str(sprintf('+1 555 %d%07d', $odd ? 2 : 1, $n))
         . ',"departmentId":' . json_str($dept)
         . ',"locationId":"LON","programAdminRoleId":null,"lockedOut":false'
         . ',"roles":' . $roles
         . ',"userAccess":{"AccessAutomation":false,"AccessCertification":false,'
         . '"AccessComplete":false,"AccessOperationalMatching":false}}';
}

# A PUT /users record that keeps the seeded values (src/sql/seed.sql) and
# asks for the address $email.
sub put_record_email {
    my ($n, $email) = @_;
    return '{"userName":' . json_str("u$n.acme") . ',"email":' . json_str($email)
         . ',"name":{"firstName":' . json_str("First$n") . ',"lastName":' . json_str("Last$n") . '}'
         . ',"roles":[{"roleName":"Viewer"}]}';
}

sub put_body {
    my ($users, $tag, $odd, $valid_only) = @_;
    return '[' . join(",\n", map { put_record($_, $tag, $odd, $valid_only) } @$users) . "]\n";
}

sub post_body {
    my ($users, $odd, $tz) = @_;
    my @ids = map { $id{$_} // die "gen.pl: no id for u$_.acme in $ids_file\n" } @$users;
    my $roles = $odd ? qq{["$VIEWER","$REVIEWER"]} : qq{["$VIEWER"]};
    return '{"userIds":[' . join(',', map { qq{"$_"} } @ids) . ']'
         . ',"userRoleIds":' . $roles
         . ',"isTwoFactorEnabled":' . ($odd ? 'false' : 'true')
         . (defined $tz ? qq{,"timezone":{"timezoneId":"$tz"}} : '')
         . "}\n";
}

# PUT, one client.
my @s0 = slice(0);
list_file('put1', map { write_file("put1-$_.json", put_body(\@s0, $_ ? 'b' : 'a', $_)) } 0, 1);
list_file('floor', map { write_file("floor-$_.json", put_body(\@s0, $_ ? 'y' : 'x', $_, 1)) } 0, 1);

# SCIM /Bulk, one client: the put1 users, 500 PUT and 500 PATCH operations
# (every user changes: bodies a and b alternate; a PUT also gives its user
# another address, so the final-state address check has work).
sub scim_bulk_body {
    my ($users, $tag) = @_;
    my @ops;
    for my $n (@$users) {
        my $uid = $id{$n} // die "gen.pl: no id for u$n.acme in $ids_file\n";
        if ($n % 2) {
            push @ops, '{"method":"PATCH","path":"/Users/' . $uid . '","data":{"schemas":'
                . '["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":['
                . '{"op":"replace","path":"name.givenName","value":' . json_str("Given$n-$tag") . '},'
                . '{"op":"replace","path":"phoneNumbers[type eq \\"work\\"].value","value":'
                . json_str(sprintf('+1 555 %d%07d', $tag eq 'a' ? 3 : 4, $n)) . '},'
                . '{"op":"replace","value":{"active":' . ($tag eq 'a' ? 'true' : 'false') . '}}]}}';
        }
        else {
            push @ops, '{"method":"PUT","path":"/Users/' . $uid . '","data":{"schemas":'
                . '["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":' . json_str("u$n.acme")
                . ',"name":{"givenName":' . json_str("Given$n-$tag") . ',"familyName":'
                . json_str("Family$n") . '},"emails":[{"value":' . json_str("u$n.scim-$tag\@acme.example")
                . ',"type":"work","primary":true}],"active":true}}';
        }
    }
    return '{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[' . "\n"
         . join(",\n", @ops) . "]}\n";
}
list_file('scim1', map { write_file("scim1-$_.json", scim_bulk_body(\@s0, $_ ? 'b' : 'a')) } 0, 1);
# GET /scim/v2/Users: no body
list_file('empty', write_file('empty.json', ''));

# PUT, four clients, disjoint and overlapping.
for my $c (0 .. 3) {
    my @s = slice(1 + $c);
    list_file("put4d-$c", map { write_file("put4d-$c-$_.json", put_body(\@s, $_ ? 'b' : 'a', $_)) } 0, 1);
    my @o = slice(5);
    @o = reverse @o if $c == 1;
    @o = shuffled($c, @o) if $c >= 2;
    list_file("put4o-$c", map { write_file("put4o-$c-$_.json", put_body(\@o, "o$c$_", $_)) } 0, 1);
}

# PUT, unchanged.
list_file('unch', write_file('unch.json', put_body([slice(6)], 'u', 1)));

# POST, one client, then four disjoint and four overlapping.
my @s10 = slice(10);
list_file('post1', map { write_file("post1-$_.json", post_body(\@s10, $_)) } 0, 1);
for my $c (0 .. 3) {
    my @s = slice(11 + $c);
    list_file("post4d-$c", map { write_file("post4d-$c-$_.json", post_body(\@s, $_)) } 0, 1);
    my @o = slice(15);
    @o = reverse @o if $c == 1;
    @o = shuffled($c, @o) if $c >= 2;
    list_file("post4o-$c", map { write_file("post4o-$c-$_.json", post_body(\@o, $_, $TZ[$c])) } 0, 1);
}

# The worst cases (issue 12), each against the typical request of its kind:
#   worst-chain  slice 7: record i asks for the address of the user of
#                record i+1, the last one for an address held outside the
#                batch (u9001, slice 9): every record fails email_taken, so
#                nothing changes and the same body can be sent again
#   worst-ring   slice 8: a ring of 1000 address swaps, then the ring back
#                (every record applies; the two bodies alternate)
#   worst-tiny   8 MB of [0,0,...] on PUT, {"keyword":"","x":[0,0,...]} on
#                the POST: refused, after reading at most what the limits
#                allow
#   worst-roles  PUT: 1000 records of 100 roles each, all distinct lists
#                (UB_BENCH_MAX_ROLES): about the most a request of 1000
#                records can name within the body's cap on JSON values;
#                POST: 1000 targets with the longest userRoleIds and
#                userRoles allowed (UB_BENCH_MAX_ROLE_IDS, UB_MAX_ROLES)
my $max_roles = $ENV{UB_BENCH_MAX_ROLES} // 100;
my $max_ids   = $ENV{UB_BENCH_MAX_ROLE_IDS} // 1000;
{
    my @c = slice(7);
    my @recs;
    for my $i (0 .. $#c) {
        my $to = $i < $#c ? "u$c[$i + 1]\@acme.example" : 'u9001@acme.example';
        push @recs, put_record_email($c[$i], $to);
    }
    list_file('worst-chain', write_file('worst-chain.json', '[' . join(",\n", @recs) . "]\n"));

    my @r = slice(8);
    my @fwd = map { put_record_email($r[$_], "u$r[($_ + 1) % @r]\@acme.example") } 0 .. $#r;
    my @back = map { put_record_email($r[$_], "u$r[$_]\@acme.example") } 0 .. $#r;
    list_file('worst-ring', write_file('worst-ring-0.json', '[' . join(",\n", @fwd) . "]\n"),
              write_file('worst-ring-1.json', '[' . join(",\n", @back) . "]\n"));

    my $zeros = join(',', ('0') x (4 * 1024 * 1024 - 16));
    list_file('worst-tiny-put', write_file('worst-tiny-put.json', "[$zeros]"));
    list_file('worst-tiny-post', write_file('worst-tiny-post.json', qq({"keyword":"","x":[$zeros]})));

    # Distinct lists: record k names Viewer and $max_roles - 1 unknown roles
    # of its own (each record fails unknown_role, after every name of every
    # list was looked up).
    my @w = slice(9);
    my @rr = map {
        my $n = $w[$_];
        my $roles = '[{"roleName":"Viewer"}'
                  . join('', map { qq(,{"roleName":"R$n-$_"}) } 1 .. $max_roles - 1) . ']';
        my $rec = put_record($n, 'w', 0, 1);
        $rec =~ s/"roles":\[[^\]]*\]/"roles":$roles/;
        $rec;
    } 0 .. $#w;
    list_file('worst-roles-put', write_file('worst-roles-put.json', '[' . join(",\n", @rr) . "]\n"));

    my @ids = map { $id{$_} // die "gen.pl: no id for u$_.acme in $ids_file\n" } slice(10);
    # Distinct ids, the same set in userRoles in the reverse order: every
    # id is compared and looked up (most name no role: refused, 400)
    my @role_ids = ($VIEWER, $REVIEWER,
                    map { sprintf('20000000-0000-4000-8000-%012d', $_) } 1 .. $max_ids - 2);
    list_file('worst-roles-post', write_file('worst-roles-post.json',
        '{"userIds":[' . join(',', map { qq{"$_"} } @ids) . ']'
        . ',"userRoleIds":[' . join(',', map { qq{"$_"} } @role_ids) . ']'
        . ',"userRoles":[' . join(',', map { qq{{"userRoleId":"$_"}} } reverse @role_ids) . ']}' . "\n"));
}

# The memory run: 10-record PUTs, and every 200th request one of 1000 (the
# client's put4d bodies), so that the big requests' memory is reused too.
for my $c (0 .. 3) {
    my @s = map { 50000 + 10 * $c + $_ } 1 .. 10;
    my @small = map { write_file("small-$c-$_.json", put_body(\@s, $_ ? 'b' : 'a', $_)) } 0, 1;
    my @list;
    for my $i (0 .. 397) {
        push @list, $small[$i % 2];
        push @list, "$out/put4d-$c-" . ($i == 198 ? 0 : 1) . '.json' if $i == 198 || $i == 397;
    }
    list_file("small-$c", @list);
}
