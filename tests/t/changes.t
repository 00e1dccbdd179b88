# The change feed (issue 16, item 3): GET /users/changes where
# UserBulkChangeFeed is On (vhost userbulk_feed of t/conf/extra.conf.in).
#
# - Off by default: 404 on the default location.
# - A change: user id, userName, request id, trace id, actor, time, the
#   fields before and after; pages and cursors; since=latest.
# - Tenancy: another account's changes never appear; a cursor of another
#   account's feed is a 400 that reveals nothing. An invalid cursor or
#   limit: 400 in PUT /users' error form.
# - Two clients poll the feed while 8 writers send PUT /users and the POST,
#   some of them rolled back (dry runs, atomic requests that fail, POSTs
#   naming an unknown user): each
#   client sees every committed change exactly once, none that rolled back,
#   and each user's changes in the order they were made (every change's
#   "before" is the previous one's "after").
# - Retention: a cursor before what prune_audit deleted is 410 Gone.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use File::Temp qw(tempdir);
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(sleep time);
use UserBulk::Test qw(:all);

my $JSON = JSON::PP->new->canonical;
my $TRUE = JSON::PP::true;
my $FALSE = JSON::PP::false;
my $FEED = '/users/changes';
my $WRITERS = 8;
my $REQUESTS = $ENV{UB_CHANGES_REQUESTS} // 16;

my %USERS = (    # userName => [id, email]
    'alice.acme' => [ '20000000-0000-4000-8000-000000000001', 'alice@acme.example' ],
    'bob.acme'   => [ '20000000-0000-4000-8000-000000000002', 'bob@acme.example' ],
    'carol.acme' => [ '20000000-0000-4000-8000-000000000003', 'carol@acme.example' ],
    'dave.acme'  => [ '20000000-0000-4000-8000-000000000004', 'dave@acme.example' ],
    'erin.acme'  => [ '20000000-0000-4000-8000-000000000005', 'erin@acme.example' ],
);
my @NAMES = sort keys %USERS;

sub feed {
    my ($query, $t) = @_;
    return json_request(GET => $FEED . (defined $query ? "?$query" : ''), $t // token());
}

# Every change from the cursor on, page by page: (changes, last cursor).
sub drain {
    my ($cursor, $limit, $t) = @_;
    my @all;
    for (1 .. 10000) {
        my $res = feed("since=$cursor" . ($limit ? "&limit=$limit" : ''), $t);
        die 'feed answered ' . $res->code . ': ' . $res->content . "\n" unless $res->code == 200;
        my $b = $res->json;
        push @all, @{ $b->{changes} };
        $cursor = $b->{next};
        last unless $b->{more};
    }
    return (\@all, $cursor);
}

reset_demo();

# --- off by default -------------------------------------------------------------
{
    my $res = feed();
    is $res->code, 404, 'GET /users/changes where UserBulkChangeFeed is off: 404';
    is $res->json->{code}, 'not_found', '... in the API\'s form';
}
Apache::TestRequest::module('userbulk_feed');
{
    my $res = json_request(PUT => $FEED, token(), []);
    is $res->code, 405, 'PUT /users/changes: 405';
    is $res->header('Allow'), 'GET', '... Allow: GET';
}

# --- one change ------------------------------------------------------------------
my $start = feed('since=latest');
is $start->code, 200, 'since=latest: 200';
is_deeply $start->json->{changes}, [], '... no changes, only the cursor';
my $L0 = $start->json->{next};
ok $L0, "... cursor $L0";

my $put = json_request(PUT => PUT_USERS, token(sub => 'feed-writer'),
                       [ { userName => 'bob.acme', email => 'bob@acme.example',
                           name => { firstName => 'Robert', lastName => 'Builder' } } ]);
is $put->code, 200, 'a PUT of bob';
{
    my $res = feed("since=$L0");
    is $res->code, 200, 'the feed after it: 200';
    my $b = $res->json;
    is scalar @{ $b->{changes} }, 1, '... one change';
    my $c = $b->{changes}[0];
    is $c->{userId}, $USERS{'bob.acme'}[0], '... the user id';
    is $c->{userName}, 'bob.acme', '... the userName';
    is $c->{traceId}, $put->header('X-Trace-Id'), '... the trace id of the PUT';
    like $c->{requestId}, qr/^\d+$/, '... the request id (the audit trail\'s)';
    is $c->{actor}, 'feed-writer', '... the actor';
    is $c->{endpoint}, 'PUT /users', '... the endpoint';
    is $c->{op}, 'updated', '... an update';
    like $c->{at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, '... the time';
    is $c->{after}{firstName}, 'Robert', '... the fields after';
    ok exists $c->{before}{firstName} && $c->{before}{firstName} ne 'Robert', '... and before';
    is $b->{more}, $FALSE, '... no more';
    my $again = feed("since=$b->{next}");
    is_deeply $again->json->{changes}, [], 'polling from its next cursor: nothing new';
    is $again->json->{next}, $b->{next}, '... the same cursor';
}

# --- pages -------------------------------------------------------------------------
my $L1 = feed('since=latest')->json->{next};
{
    my $res = json_request(PUT => PUT_USERS, token(),
                           [ map { { userName => $_, email => $USERS{$_}[1], name => { firstName => "Page-$_" } } } @NAMES ]);
    is $res->code, 200, 'a PUT of 5 users';
    my ($one) = drain($L1);
    is scalar @$one, 5, 'one page: the 5 changes';
    my ($twos) = drain($L1, 2);
    is_deeply [ map { "$_->{requestId}/$_->{userId}" } @$twos ], [ map { "$_->{requestId}/$_->{userId}" } @$one ],
              'pages of 2 (2, 2, 1): the same changes in the same order';
    my $p = feed("since=$L1&limit=2")->json;
    is $p->{more}, $TRUE, 'a page that is not the last says more';
    isnt $p->{next}, $L1, '... with a cursor inside the request';
}

# --- tenancy and refusals ---------------------------------------------------------
{
    my $globex = token(account => 'globex');
    my ($theirs) = drain(feed('since=latest', $globex)->json->{next} =~ s/\.\d+$/.0/r, 0, $globex);
    my %acme = map { $_->[0] => 1 } values %USERS;
    is scalar(grep { $acme{ $_->{userId} } } @$theirs), 0, "another account's feed has none of acme's changes";
    my $res = feed("since=$L0", $globex);
    is $res->code, 400, "a cursor of acme's feed with globex's token: 400";
    is $res->json->{code}, 'invalid_cursor', '... invalid_cursor';
    unlike $res->content, qr/acme|20000000-/, '... revealing nothing of acme';
    $res = feed('since=garbage');
    is $res->code, 400, 'an invalid cursor: 400';
    is $res->json->{code}, 'invalid_cursor', '... invalid_cursor';
    ok exists $res->json->{failedResults}, "... in PUT /users' error form";
    is feed('since=latest&limit=0')->code, 400, 'limit=0: 400';
    is feed('since=latest&limit=1001')->code, 400, 'limit=1001: 400';
    is feed('since=%zz')->code, 400, 'a malformed query: 400';
}

# --- two readers, eight writers ------------------------------------------------------
my $dir = tempdir(CLEANUP => 1);
my $LC = feed('since=latest')->json->{next};

sub writer {
    my ($w) = @_;
    srand(2000 + $w);
    Apache::TestRequest::module('default');
    my $t = token(sub => "writer-$w");
    my @log;
    for my $r (1 .. $REQUESTS) {
        my $tag = "w${w}r$r";
        my @who = (sort { rand() <=> 0.5 } @NAMES)[0 .. int rand 5];
        my $kind = $r % 4;
        my $res;
        if ($kind == 0) {    # the POST
            # one in three names a user of no account: refused whole
            my @ids = map { $USERS{$_}[0] } @who;
            push @ids, '20000000-0000-4000-8000-0000000000ff' if rand() < 0.3;
            $res = json_request(POST => ACCOUNT_UPDATE, $t, { userIds => \@ids, employeeCode => $tag });
            push @log, { trace => $res->header('X-Trace-Id'), status => $res->code,
                         committed => $res->code == 200 ? 1 : 0 };
            next;
        }
        my @records = map { { userName => $_, email => $USERS{$_}[1], name => { firstName => "F-$tag", lastName => "L-$tag" } } } @who;
        my $query = '';
        my $commits = 1;
        if ($kind == 1) {    # a dry run
            $query = '?dryRun=true';
            $commits = 0;
        }
        elsif ($kind == 2 && rand() < 0.5) {    # atomic, one record fails: nothing applied
            $query = '?atomic=true';
            push @records, { userName => "nobody-$tag", email => "nobody-$tag\@acme.example" };
            $commits = 0;
        }
        $res = json_request(PUT => PUT_USERS . $query, $t, \@records);
        push @log, { trace => $res->header('X-Trace-Id'), status => $res->code,
                     committed => $commits && $res->code == 200 ? 1 : 0 };
    }
    return \@log;
}

sub reader {
    my ($n) = @_;
    Apache::TestRequest::module('userbulk_feed');
    my ($cursor, @seen, $polls) = ($LC);
    while (1) {
        my $last = -e "$dir/done";
        my ($got, $next) = drain($cursor, $n == 1 ? 7 : 0);    # one reads in small pages
        push @seen, @$got;
        $cursor = $next;
        $polls++;
        last if $last;
        sleep 0.02;
    }
    return { seen => \@seen, polls => $polls };
}

my $go = "$dir/go";
my (@writers, @readers);
for my $role ((map { [ writer => $_ ] } 1 .. $WRITERS), (map { [ reader => $_ ] } 1 .. 2)) {
    my ($kind, $n) = @$role;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        my $until = time + 60;
        sleep 0.01 until -e $go || time > $until;
        my $out = eval { $kind eq 'writer' ? writer($n) : reader($n) } // { error => "$kind died: $@" };
        open my $fh, '>', "$dir/$kind-$n.json" or POSIX::_exit(1);
        print $fh $JSON->encode($out);
        close $fh;
        POSIX::_exit(0);
    }
    push @{ $kind eq 'writer' ? \@writers : \@readers }, $pid;
}
open my $gofh, '>', $go or die;
close $gofh;
waitpid $_, 0 for @writers;
open my $donefh, '>', "$dir/done" or die;
close $donefh;
waitpid $_, 0 for @readers;

sub slurp { my ($f) = @_; open my $fh, '<', $f or die "$f: $!\n"; return $JSON->decode(do { local $/; <$fh> }) }
my @log = map { @{ slurp("$dir/writer-$_.json") } } 1 .. $WRITERS;
is scalar(@log), $WRITERS * $REQUESTS, "$WRITERS writers sent $REQUESTS requests each";
my @committed = grep { $_->{committed} } @log;
my @rolled = grep { !$_->{committed} } @log;
ok @committed > 0 && @rolled > 0, scalar(@committed) . ' committed, ' . scalar(@rolled) . ' rolled back or refused';
my %committed_trace = map { $_->{trace} => 1 } @committed;
my %rolled_trace = map { $_->{trace} => 1 } @rolled;

# The truth: the audit trail of the committed requests.
my $in = join ',', map { "'$_'" } sort keys %committed_trace;
my @truth = map { "$_->[0]/$_->[1]" } db_query(
    "SELECT r.id, c.user_id FROM userbulk.audit_request r JOIN userbulk.audit_change c ON c.request_id = r.id
      WHERE r.trace_id IN ($in) ORDER BY r.id, c.user_id");
ok @truth > 0, scalar(@truth) . ' changes committed by the writers';

for my $n (1, 2) {
    my $r = slurp("$dir/reader-$n.json");
    ok !$r->{error}, "reader $n ran" or diag $r->{error};
    my @seen = @{ $r->{seen} // [] };
    my %count;
    $count{"$_->{requestId}/$_->{userId}"}++ for @seen;
    my @twice = grep { $count{$_} > 1 } sort keys %count;
    is scalar(@twice), 0, "reader $n (" . ($r->{polls} // 0) . ' polls): no change seen twice' or diag "@twice[0..2]";
    my %truth = map { $_ => 1 } @truth;
    my @missed = grep { !$count{$_} } @truth;
    is scalar(@missed), 0, "reader $n: every committed change seen" or diag "missed @missed[0..2]";
    my @foreign = grep { !$truth{"$_->{requestId}/$_->{userId}"} } @seen;
    is scalar(@foreign), 0, "reader $n: nothing else seen (no rolled-back request)"
        or diag join ' ', map { $_->{traceId} . ($rolled_trace{ $_->{traceId} } ? ' (rolled back)' : '') } @foreign[0..2];
    # Each user's changes in the order they were made.
    my (%last, @breaks);
    for my $c (@seen) {
        for my $k (sort keys %{ $c->{after} }) {
            my $b = $JSON->encode([ $c->{before}{$k} ]);
            push @breaks, "$c->{userName} $k" if exists $last{ $c->{userId} }{$k} && $last{ $c->{userId} }{$k} ne $b;
            $last{ $c->{userId} }{$k} = $JSON->encode([ $c->{after}{$k} ]);
        }
    }
    is scalar(@breaks), 0, "reader $n: each user's changes in order (every before is the previous after)"
        or diag "@breaks[0..2]";
}

# --- retention -----------------------------------------------------------------------
{
    # The request of the first PUT of this file, made old, pruned.
    db_query("UPDATE userbulk.audit_request SET at = now() - interval '1000 days'
               WHERE trace_id = '" . $put->header('X-Trace-Id') . "'");
    db_query("SELECT userbulk.prune_audit(now() - interval '900 days')");
    my $res = feed("since=$L0");
    is $res->code, 410, 'a cursor before what retention deleted: 410';
    is $res->json->{code}, 'cursor_expired', '... cursor_expired';
    like $res->json->{description}, qr/since=latest/, '... saying how to start again';
    is feed("since=$L1")->code, 200, 'a cursor after it: 200';
    is feed()->code, 200, 'no cursor: from the oldest change kept, 200';
}

done_testing();
