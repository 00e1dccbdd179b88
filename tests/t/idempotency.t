# Idempotency-Key on PUT /users (issue 12): a key names one request, body
# and options together. The same key with another ?atomic, ?dryRun or
# Prefer: tx=rollback is another request (422, nothing changed), a dry run
# replayed answers the same dry-run answer, and expired keys go away in
# bounded batches as keyed requests come, while a live key still replays.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use UserBulk::Test qw(:all);

my @batch = (
    { userName => 'bob.acme', email => 'bob@acme.example', name => { firstName => 'Robert' } },
    { userName => 'carol.acme', email => 'carol@acme.example', name => { firstName => 'Caroline' } },
);
my @bad = (@batch, { userName => 'nobody.acme', email => 'nobody@acme.example' });

sub put {
    my ($query, $body, $key, @headers) = @_;
    return json_request(PUT => PUT_USERS . $query, token(), $body,
                        [ 'Idempotency-Key' => $key, @headers ]);
}

sub bob { return db_query("SELECT coalesce(first_name, '') || ' v' || version FROM userbulk.users WHERE user_name = 'bob.acme'") }

sub reused {
    my ($res, $name) = @_;
    is $res->code, 422, "$name: 422";
    is $res->json->{code}, 'idempotency_key_reused', "$name: idempotency_key_reused";
    like $res->json->{message}, qr/options/, "$name: the message says the options may differ";
}

# --- atomic on, then off -----------------------------------------------------------
reset_demo();
{
    my $before = bob();
    my $first = put('?atomic=true', \@bad, 'atomic-1');
    is $first->code, 400, 'atomic with a failing record: 400, nothing applied';
    reused(put('', \@bad, 'atomic-1'), 'the same key and body without atomic');
    is bob(), $before, 'bob was not changed by the replay';
    my $again = put('?atomic=true', \@bad, 'atomic-1');
    is $again->code, 400, 'the same key with atomic again: the first answer';
    is $again->content, $first->content, 'word for word';
    my $new = put('', \@bad, 'atomic-2');
    is $new->code, 200, 'a new key without atomic applies';
    is bob(), 'Robert v2', 'bob changed';
}

# --- atomic off, then on -----------------------------------------------------------
reset_demo();
{
    my $first = put('', \@bad, 'plain-1');
    is $first->code, 200, 'not atomic: the valid records apply';
    reused(put('?atomic=true', \@bad, 'plain-1'), 'the same key and body with atomic');
    reused(put('?atomic=1', \@bad, 'plain-1'), 'atomic=1');
    is put('?atomic=false', \@bad, 'plain-1')->content, $first->content,
       'atomic=false is the request without atomic: the first answer';
    is bob(), 'Robert v2', 'applied once';
}

# --- dry runs ----------------------------------------------------------------------
for my $how ([ 'dryRun=true', '?dryRun=true', [], 'dry-query' ],
             [ 'Prefer: tx=rollback', '', [ Prefer => 'tx=rollback' ], 'dry-prefer' ]) {
    my ($name, $query, $headers, $key) = @$how;
    reset_demo();
    my $before = bob();
    my $dry = put($query, \@batch, $key, @$headers);
    is $dry->code, 200, "$name with a key: answered";
    is bob(), $before, "$name: nothing changed";
    db_query("UPDATE userbulk.users SET first_name = 'Bobby', version = version + 1 WHERE user_name = 'bob.acme'");
    my $replay = put($query, \@batch, $key, @$headers);
    is $replay->code, 200, "$name replayed with the same key";
    is $replay->content, $dry->content, "$name replayed: the same dry-run answer, word for word";
    reused(put('', \@batch, $key), "$name, then the real run with the same key");
    is bob(), 'Bobby v2', "$name: the real run with the dry run's key changed nothing";
}
reset_demo();
{
    is put('?dryRun=true', \@batch, 'dry-both')->code, 200, 'a dry run by the query';
    my $res = put('', \@batch, 'dry-both', Prefer => 'tx=rollback');
    is $res->code, 200, 'Prefer: tx=rollback is the same option as dryRun=true: replayed';
    is $res->header('Preference-Applied'), 'tx=rollback', 'still with Preference-Applied';

    is put('', \@batch, 'real-first')->code, 200, 'a real run with a key';
    reused(put('?dryRun=true', \@batch, 'real-first'), 'then a dry run with the same key');
    reused(put('', [ $batch[0] ], 'real-first'), 'then another body with the same key');
}

# --- expired keys are pruned in bounded batches --------------------------------------
reset_demo();
{
    my $admin = admin_conninfo('userbulk');
    my $expired = "SELECT count(*) FROM userbulk.idempotency WHERE created_at < now() - interval '24 hours'";
    db_query('DELETE FROM userbulk.idempotency');
    my $live = put('', \@batch, 'live-1');
    is $live->code, 200, 'a live key';
    db_query_on($admin, "INSERT INTO userbulk.idempotency (account, actor, key, body_hash, results, created_at)
                         SELECT 'acme', 'old.actor', 'old-' || i, 'x', '[]', now() - interval '25 hours' - i * interval '1 second'
                           FROM generate_series(1, 1000) i");
    is db_query_on($admin, $expired), 1000, '1000 expired keys';
    my @left;
    for my $n (1 .. 3) {
        is put('', [ $batch[1] ], "prune-$n")->code, 200, "keyed request $n";
        push @left, scalar db_query_on($admin, $expired);
    }
    cmp_ok $left[0], '<', 1000, 'the first keyed request deleted expired keys';
    cmp_ok $left[0], '>=', 1000 - 100, 'at most 100 of them: bounded';
    cmp_ok $left[1], '<', $left[0], 'the next request deleted more';
    cmp_ok $left[2], '<', $left[1], 'and the next';
    is db_query_on($admin, "SELECT count(*) FROM userbulk.idempotency WHERE key = 'live-1'"), 1, 'the live key stays';
    db_query("UPDATE userbulk.users SET first_name = 'Bobby', version = version + 1 WHERE user_name = 'bob.acme'");
    my $replay = put('', \@batch, 'live-1');
    is $replay->content, $live->content, 'and still replays its first answer';
    is bob(), 'Bobby v3', 'without applying again';
    my $n = 0;
    $n++ while $n < 20 && db_query_on($admin, $expired) > 0 && put('', [ $batch[1] ], "drain-$n")->code == 200;
    is db_query_on($admin, $expired), 0, "keyed requests keep pruning until none is left ($n more)";
}

done_testing();
