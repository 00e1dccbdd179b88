# Issue 12: a request commits only once its answer is known, so that a
# 503 ("nothing was changed") is always true; and a database error is
# logged (and shown in /server-status) without PostgreSQL's DETAIL, which
# quotes data that may be another tenant's.
#
# To make the store's answer fail after its statement ran, the test
# renames one of the directory's SQL functions and installs in its place a
# shim of the same signature that calls the real one and spoils its
# answer; to make COMMIT itself fail, a deferred constraint trigger on the
# audit table. Everything is put back at the end (END block), also when a
# test dies.
#
#   make all && tests/tools/run-tests.sh t/commit.t
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use JSON::PP ();
use UserBulk::Test qw(:all);

my $RUN = sprintf '%x%x', time, $$;
my $ERIN = '20000000-0000-4000-8000-000000000005';
my %shimmed;        # function name => 1 while its shim is installed
my $trigger = 0;
our $mark;         # the error log's end before the scenario

UserBulk::Test::reset_demo();

# ---- the shims ------------------------------------------------------------

# Replaces userbulk.FN by a function of the same signature whose body is
# BODY, where %CALL% stands for a call of the real function (renamed
# FN_real) with the same arguments.
sub shim {
    my ($fn, $returns, $body) = @_;
    my $args = db_query("SELECT pg_get_function_identity_arguments('userbulk.$fn'::regproc)");
    my $n = scalar(my @each = split /,/, $args);
    my $call = "userbulk.${fn}_real(" . join(', ', map { "\$$_" } 1 .. $n) . ')';
    $body =~ s/%CALL%/$call/g;
    db_query("ALTER FUNCTION userbulk.$fn($args) RENAME TO ${fn}_real;
              CREATE FUNCTION userbulk.$fn($args) RETURNS $returns LANGUAGE plpgsql AS \$shim\$ $body \$shim\$");
    $shimmed{$fn} = 1;
}

sub unshim {
    my ($fn) = @_;
    return unless delete $shimmed{$fn};
    my $args = db_query("SELECT pg_get_function_identity_arguments('userbulk.${fn}_real'::regproc)");
    db_query("DROP FUNCTION userbulk.$fn($args); ALTER FUNCTION userbulk.${fn}_real($args) RENAME TO $fn");
}

sub drop_trigger {
    return unless $trigger;
    $trigger = 0;
    db_query('DROP TRIGGER test_refuse_at_commit ON userbulk.audit_request;
              DROP FUNCTION userbulk.test_refuse_at_commit()');
}

END {
    my $rc = $?;
    eval { unshim($_) for keys %shimmed; drop_trigger(); 1 } or warn "restoring the directory's functions: $@";
    $? = $rc;
}

# ---- what a user checks ---------------------------------------------------

sub erin { return db_query("SELECT version || ' ' || coalesce(first_name, '') || ' ' || is_sso_user
                              FROM userbulk.users WHERE id = '$ERIN'") }
sub audit_rows {
    my ($actor) = @_;
    return db_query("SELECT (SELECT count(*) FROM userbulk.audit_request WHERE actor = '$actor')
                          + (SELECT count(*) FROM userbulk.audit WHERE actor = '$actor')");
}

sub put_erin {
    my ($actor) = @_;
    return json_request(PUT => PUT_USERS, token(sub => $actor),
                        [ { userName => 'erin.acme', email => 'erin@acme.example',
                            name => { firstName => $actor } } ]);
}

# A POST that changes the user: its isSSOUser flipped.
sub post_erin {
    my ($actor) = @_;
    my $sso = db_query("SELECT is_sso_user FROM userbulk.users WHERE id = '$ERIN'") eq 'f';
    return json_request(POST => ACCOUNT_UPDATE, token(sub => $actor),
                        { userIds => [ $ERIN ], isSSOUser => $sso ? JSON::PP::true : JSON::PP::false },
                        [ 'Content-Type' => 'application/json-patch+json' ]);
}

# A request whose answer failed: 503 JSON, the log tag, and nothing of it
# in the directory.
sub refused_whole {
    my ($label, $res, $actor, $before, $tag) = @_;
    is $res->code, 503, "$label: 503" or diag $res->content;
    my $j = $res->json // {};
    ok(($j->{code} // '') eq 'unavailable' || ($j->{errorType} // '') eq 'Unavailable',
       "$label: the body says unavailable") or diag $res->content;
    is erin(), $before, "$label: the user is unchanged in the directory (as the 503 says)";
    is audit_rows($actor), 0, "$label: no audit row";
    my $trace = $res->header('X-Trace-Id') // '?';
    ok scalar(grep { /\Q$tag\E/ && /\Q$trace\E/ } error_log_lines($mark)), "$label: $tag in the error log with the trace id";
}

# The next request (no fault) is served and committed: no pooled
# connection was left inside a transaction.
sub serves_again {
    my ($label) = @_;
    my $actor = "After-$label-$RUN";
    my $res = put_erin($actor);
    is $res->code, 200, "$label: the next request is served" or diag $res->content;
    like erin(), qr/ \Q$actor\E /, "$label: and committed";
}

# ---- (a) the answer fails after the statement ran ----------------------------

{
    local $mark = error_log_mark();
    shim('put_users', 'SETOF userbulk.put_result',
         q{BEGIN RETURN QUERY SELECT * FROM %CALL%;
                 RETURN NEXT ROW(99999, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::userbulk.put_result; END});
    my $actor = "Unknown-$RUN";
    my $before = erin();
    refused_whole('PUT, an answer for an unknown record', put_erin($actor), $actor, $before, 'UB0205');
    unshim('put_users');
    serves_again('unknown-record');
}

{
    local $mark = error_log_mark();
    shim('put_users', 'SETOF userbulk.put_result',
         q{BEGIN RETURN QUERY SELECT idx, user_id, version, 'email', NULL::text, NULL::text,
                                     NULL::jsonb, NULL::jsonb FROM %CALL%; END});
    my $actor = "Errors-$RUN";
    my $before = erin();
    refused_whole('PUT, unreadable errors', put_erin($actor), $actor, $before, 'UB0202');
    unshim('put_users');
    serves_again('unreadable-errors');
}

{
    local $mark = error_log_mark();
    shim('put_users', 'SETOF userbulk.put_result',
         q{BEGIN RETURN QUERY SELECT idx, user_id, version, field, code, message,
                                     '{"email": "x"}'::jsonb, NULL::jsonb FROM %CALL%; END});
    my $actor = "Half-$RUN";
    my $before = erin();
    refused_whole('PUT, half a change (before without after)', put_erin($actor), $actor, $before, 'UB0722');
    unshim('put_users');
    serves_again('half-change');
}

{
    local $mark = error_log_mark();
    shim('account_update', 'SETOF userbulk.account_update_row',
         q{DECLARE r userbulk.account_update_row;
           BEGIN RETURN QUERY SELECT * FROM %CALL%; RETURN NEXT r; END});
    my $actor = "Empty-$RUN";
    my $before = erin();
    refused_whole('POST, an empty row after the users', post_erin($actor), $actor, $before, 'UB0203');
    unshim('account_update');
    serves_again('empty-row');
}

{
    local $mark = error_log_mark();
    shim('account_update', 'SETOF userbulk.account_update_row',
         q{BEGIN PERFORM count(*) FROM %CALL%; END});
    my $actor = "NoData-$RUN";
    my $before = erin();
    refused_whole('POST, no rows at all', post_erin($actor), $actor, $before, 'UB0212');
    unshim('account_update');
    serves_again('no-data');
}

# The answers are read by column name and by row kind (README: How the
# module talks to PostgreSQL): a column missing, or a kind the module does
# not know, is not answered.
# A prepared statement whose function changed its columns fails as it is
# (SQLSTATE 0A000, UB0201): the columns are looked for when the statement
# is prepared again, on a new session. httpd's sessions are ended, so that
# the next request reconnects (UB0204) and prepares against the shim.
sub end_api_sessions {
    db_query_on(admin_conninfo('userbulk'),
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'userbulk_api'");
}

{
    local $mark = error_log_mark();
    shim('put_users', 'TABLE (idx integer, user_id uuid, version bigint, field text, code text)',
         q{BEGIN RETURN QUERY SELECT c.idx, c.user_id, c.version, c.field, c.code FROM %CALL% c; END});
    end_api_sessions();
    my $actor = "NoColumn-$RUN";
    my $before = erin();
    refused_whole('PUT, an answer without its message column', put_erin($actor), $actor, $before, 'UB0520');
    unshim('put_users');
    end_api_sessions();
    serves_again('no-column');
}

{
    local $mark = error_log_mark();
    shim('account_update', 'SETOF userbulk.account_update_row',
         q{DECLARE r userbulk.account_update_row;
           BEGIN FOR r IN SELECT * FROM %CALL% LOOP
                     IF r.kind = 'user' THEN r.kind := 'person'; END IF;
                     RETURN NEXT r;
                 END LOOP; END});
    my $actor = "Kind-$RUN";
    my $before = erin();
    refused_whole('POST, a row of an unknown kind', post_erin($actor), $actor, $before, 'UB0521');
    unshim('account_update');
    serves_again('unknown-kind');
}

# ---- (b) COMMIT refused (a deferred constraint) --------------------------------

{
    local $mark = error_log_mark();
    db_query(q{CREATE FUNCTION userbulk.test_refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN
                   IF NEW.actor LIKE 'Deferred-%' THEN
                       RAISE EXCEPTION 'refused at commit' USING ERRCODE = '23514';
                   END IF;
                   -- the session ends during COMMIT: its answer never comes
                   IF NEW.actor LIKE 'Lost-%' THEN
                       PERFORM pg_terminate_backend(pg_backend_pid());
                       PERFORM pg_sleep(5);
                   END IF;
                   RETURN NULL;
               END $$;
               CREATE CONSTRAINT TRIGGER test_refuse_at_commit AFTER INSERT ON userbulk.audit_request
                   DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION userbulk.test_refuse_at_commit()});
    $trigger = 1;
    my $actor = "Deferred-put-$RUN";
    my $before = erin();
    refused_whole('PUT, COMMIT refused', put_erin($actor), $actor, $before, 'UB0209');
    $actor = "Deferred-post-$RUN";
    my $res = post_erin($actor);
    refused_whole('POST, COMMIT refused (its rows were already rendered)', $res, $actor, $before, 'UB0209');
    unlike $res->content, qr/"data"\s*:\s*\[/, 'POST, COMMIT refused: no user data in the answer';

    # ---- (b2) COMMIT's answer lost: the request may have been applied ----
    # (here it was not: the session ended before its commit record; the
    # module cannot tell, and its answer does not claim either)
    for my $case ([ 'PUT', \&put_erin ], [ 'POST', \&post_erin ]) {
        my ($what, $send) = @$case;
        $actor = "Lost-\L$what\E-$RUN";
        $res = $send->($actor);
        is $res->code, 503, "$what, the answer to COMMIT lost: 503" or diag $res->content;
        like $res->content, qr/may have been applied/, "$what: ... saying the request may have been applied, not that nothing changed";
        unlike $res->content, qr/nothing was changed/i, "$what: ... and not that nothing was changed";
        my $trace = $res->header('X-Trace-Id') // '?';
        ok scalar(grep { /UB0223/ && /\Q$trace\E/ } error_log_lines($mark)), "$what: UB0223 in the error log with the trace id";
    }
    is json_request(PUT => PUT_USERS, token(sub => "Lost-code-$RUN"),
                    [ { userName => 'erin.acme', email => 'erin@acme.example',
                        name => { firstName => "Lost-code-$RUN" } } ])->json->{code},
       'commit_unknown', 'PUT: the code is commit_unknown';
    drop_trigger();
    serves_again('commit-refused');
}

# ---- (c) what is logged of a database error ----------------------------------------

sub last_error {
    my $res = raw_request(GET => '/server-status?auto');
    my ($line) = $res->content =~ /^UserBulk LastError: (.*)$/m;
    return $line // '';
}

{
    local $mark = error_log_mark();
    shim('put_users', 'SETOF userbulk.put_result',
         q{BEGIN RAISE EXCEPTION 'boom'
                 USING DETAIL = 'Key (email_lower)=(secret@other.example) already exists',
                       HINT = 'hint of secret@other.example'; END});
    my $actor = "Detail-$RUN";
    my $before = erin();
    my $res = put_erin($actor);
    refused_whole('PUT, the statement raised with a DETAIL', $res, $actor, $before, 'UB0201');
    my $trace = $res->header('X-Trace-Id') // '?';
    my @lines = grep { /\Q$trace\E/ } error_log_lines($mark);
    ok scalar(grep { /UB0201.*SQLSTATE P0001: boom/ } @lines),
       'the error log has the SQLSTATE and the primary message' or diag join "\n", @lines;
    my @leaks = grep { /secret\@other\.example|DETAIL|HINT|CONTEXT|LOCATION/ } error_log_lines($mark);
    ok !@leaks, 'the error log has no DETAIL, HINT or CONTEXT, and not the data they quote'
        or diag join "\n", @leaks;
    my $last = last_error();
    like $last, qr/SQLSTATE P0001: boom.*\Q$trace\E/, '/server-status LastError: the SQLSTATE and the primary message';
    unlike $last, qr/secret\@other\.example|DETAIL/, '/server-status LastError: not the DETAIL';
    unshim('put_users');
    serves_again('detail');
}

UserBulk::Test::reset_demo();
done_testing();
