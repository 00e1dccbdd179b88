# Watching the module (issue 6): its counters in mod_status's
# /server-status (HTML and ?auto), shared by every child, and the
# per-request note for LogFormat's %{userbulk}n.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use UserBulk::Test qw(:all);

sub counters {
    my $res = raw_request(GET => '/server-status?auto');
    my %c;
    for (split /\n/, $res->content) {
        $c{$1} = $2 if /^UserBulk (.+?): (.*)$/;
    }
    return \%c;
}

my $before = counters();
ok exists $before->{'PUT /users 200'}, '?auto lists the module\'s counters' or diag explain $before;

# Many requests on fresh connections: they land on several children.
my $n = 12;
for (1 .. $n) {
    json_request(PUT => PUT_USERS, token(), [ { userName => 'erin.acme', email => 'erin@acme.example' },
                                             { userName => 'nobody', email => 'x@acme.example' } ]);
}
json_request(PUT => PUT_USERS, token(), 'not json');
json_request(PUT => PUT_USERS, undef, []);
json_request(POST => ACCOUNT_UPDATE, token(), { userId => '20000000-0000-4000-8000-000000000005', isSSOUser => JSON::PP::true() });

my $after = counters();
is $after->{'PUT /users 200'} - $before->{'PUT /users 200'}, $n, "$n PUT requests answered 200, counted across children";
is $after->{'PUT /users 400'} - $before->{'PUT /users 400'}, 1, 'one 400';
is $after->{'error body 401'} - $before->{'error body 401'}, 1, 'one 401 body';
is $after->{'POST /api/v1/account/users/update 200'} - $before->{'POST /api/v1/account/users/update 200'}, 1, 'one POST';
is $after->{RecordsApplied} - $before->{RecordsApplied}, $n + 1, 'records applied';
is $after->{RecordsFailed} - $before->{RecordsFailed}, $n, 'records failed';
ok $after->{DBCalls} - $before->{DBCalls} >= $n + 1, 'database statements counted';
ok $after->{DBMilliseconds} >= $before->{DBMilliseconds}, 'database time counted';

my $html = raw_request(GET => '/server-status');
like $html->content, qr{<h2>mod_userbulk</h2>}, 'the HTML page has the module\'s table';

# The request's note, as LogFormat %{userbulk}n writes it.
my $res = json_request(PUT => PUT_USERS, token(), [ { userName => 'erin.acme', email => 'erin@acme.example' } ]);
my $trace = $res->header('X-Trace-Id');
my $log = Apache::Test::vars('t_logs') . '/userbulk_access_log';
my $line;
for (1 .. 50) {     # the access log is written after the response
    open my $fh, '<', $log or die "$log: $!";
    ($line) = grep { /trace=\Q$trace\E .*endpoint=/ } <$fh>;
    last if $line;
    select undef, undef, undef, 0.1;
}
like $line // '', qr/trace=\Q$trace\E endpoint=put_users account=acme status=200 records=1 applied=1 failed=0 db_ms=\d+ ms=\d+/,
     'the access log line carries the note: trace, endpoint, counts, milliseconds';

done_testing();
