# Role links under concurrent writers (issue 15, migration 015): the links
# of user_roles are checked by statement triggers instead of foreign keys.
# Each invariant the keys gave is attacked here with two sessions in a
# fixed order, one waiting on the other's locks:
#
# - no link to a role that goes: a writer links a role and holds its
#   transaction open while a DBA deletes the role (the delete waits, then
#   is refused); the DBA deletes the role first and holds, while a writer
#   links it (the writer waits, then fails, nothing written). Writers: PUT
#   /users, the POST, SCIM Groups PATCH, SCIM /Bulk creations (the default
#   role), a DBA's INSERT.
# - no link to a user that goes: a writer links a user while SCIM DELETE
#   removes it (the delete waits, then takes the new links with it); the
#   user is deleted first while a DBA's INSERT links it (the insert waits,
#   then fails).
# - no link across accounts: the POST, SCIM Groups PATCH and a DBA's INSERT
#   naming a user or role of another account.
# - deleting users or roles in REPEATABLE READ is refused.
#
# A writer is held open at its COMMIT by a session holding the account's
# row of audit_feed_clock (the change feed's commit-time trigger takes it),
# so it has written its links and taken its locks by then.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use JSON::PP ();
use UserBulk::Test qw(:all);
use UserBulk::Reliability qw(lock_session in_background wait_for_waiters hold_commits);

use constant USER_SCHEMA  => 'urn:ietf:params:scim:schemas:core:2.0:User';
use constant PATCH_SCHEMA => 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
use constant BULK_REQUEST => 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';

my $ACME   = '00000000-0000-4000-8000-00000000000a';
my $GLOBEX = '00000000-0000-4000-8000-00000000000b';
my $ALICE  = '20000000-0000-4000-8000-000000000001';
my $BOB    = '20000000-0000-4000-8000-000000000002';
my $GLOBEX_ROLE = '10000000-0000-4000-8000-000000000011';
my $SCIM = [ Accept => 'application/scim+json', 'Content-Type' => 'application/scim+json' ];

reset_demo();

# Links whose user or role is not there in the link's account.
sub dangling {
    return db_query(q{SELECT count(*) FROM userbulk.user_roles ur
                       WHERE NOT EXISTS (SELECT 1 FROM userbulk.users u
                                          WHERE u.id = ur.user_id AND u.account_id = ur.account_id)
                          OR NOT EXISTS (SELECT 1 FROM userbulk.roles r
                                          WHERE r.id = ur.role_id AND r.account_id = ur.account_id)});
}
sub links_of_role { my ($r) = @_; return db_query("SELECT count(*) FROM userbulk.user_roles WHERE role_id = '$r'") }
sub links_of_user { my ($u) = @_; return db_query("SELECT count(*) FROM userbulk.user_roles WHERE user_id = '$u'") }

my $ROLE_N = 0;
# A new role of acme without links (optionally the default role).
sub new_role {
    my (%o) = @_;
    my $name = 'Links ' . ++$ROLE_N;
    my $id = db_query("INSERT INTO userbulk.roles (account_id, name, is_default)
                       VALUES ('$ACME', '$name', " . ($o{default} ? 'true' : 'false') . ") RETURNING id");
    return ($id, $name);
}
my $USER_N = 0;
sub new_user {
    my $n = ++$USER_N;
    my $id = db_query("INSERT INTO userbulk.users (account_id, user_name, email)
                       VALUES ('$ACME', 'links$n.acme', 'links$n\@acme.example') RETURNING id");
    return $id;
}

# SQL in its own session: 'ok' or psql's error.
sub sql_result { my ($sql) = @_; return sub { my $r = eval { db_query($sql); 'ok' }; $r // "error: $@" } }

# The writers: each links USER to ROLE (by id, ROLE_NAME by name) and
# answers its HTTP status or 'ok'.
my %LINKER = (
    'PUT /users' => sub {
        my ($user, $role, $role_name) = @_;
        my ($name, $email) = @{ (db_query("SELECT user_name, email FROM userbulk.users WHERE id = '$user'"))[0] };
        my $res = json_request(PUT => '/users', token(),
            [ { userName => $name, email => $email, name => { firstName => 'Link', lastName => 'Test' },
                roles => [ { roleName => $role_name } ], lockedOut => JSON::PP::false } ]);
        my $b = eval { $res->json } // {};
        return $res->code . (@{ $b->{failedResults} // [] } ? ' with failures' : '');
    },
    'POST' => sub {
        my ($user, $role) = @_;
        return json_request(POST => '/api/v1/account/users/update', token(),
                            { userIds => [ $user ], userRoleIds => [ $role ] })->code;
    },
    'SCIM Groups PATCH' => sub {
        my ($user, $role) = @_;
        return json_request(PATCH => "/scim/v2/Groups/$role", token(),
            { schemas => [ PATCH_SCHEMA ], Operations => [ { op => 'add', path => 'members', value => [ { value => $user } ] } ] },
            $SCIM)->code;
    },
    "a DBA's INSERT" => sub {
        my ($user, $role) = @_;
        return sql_result("INSERT INTO userbulk.user_roles (account_id, user_id, role_id) VALUES ('$ACME', '$user', '$role')")->();
    },
);

# --- a role deleted while a writer links it ---------------------------------------------------
for my $writer (sort keys %LINKER) {
    # the writer first: the DBA's delete waits for its commit, then is refused
    {
        my ($role, $name) = new_role();
        my $user = new_user();
        my $clock = hold_commits($ACME);
        my $hold = $writer eq "a DBA's INSERT"
            ? lock_session("INSERT INTO userbulk.user_roles (account_id, user_id, role_id) VALUES ('$ACME', '$user', '$role')")
            : undef;
        my $w = $hold ? undef : in_background(sub { $LINKER{$writer}->($user, $role, $name) });
        ok $hold || wait_for_waiters(1), "$writer links a role, held at its commit";
        my $d = in_background(sql_result("DELETE FROM userbulk.roles WHERE id = '$role'"));
        ok wait_for_waiters($hold ? 1 : 2), '... a delete of the role waits for it';
        $clock->{release}->();
        $hold->{commit}->() if $hold;
        my $wr = $w ? $w->() : 'ok';
        like $wr, qr/^(200|204|ok)$/, "... the writer commits ($wr)";
        like $d->(), qr/leaves links/, '... and the delete is refused: the role has links';
        is links_of_role($role), 1, '... the link is there';
        is dangling(), 0, '... and names a role that is there';
    }
    # the delete first: the writer waits for it, then writes no link
    {
        my ($role, $name) = new_role();
        my $user = new_user();
        my $del = lock_session("DELETE FROM userbulk.roles WHERE id = '$role'");
        my $w = in_background(sub { $LINKER{$writer}->($user, $role, $name) });
        ok wait_for_waiters(1), "a role deleted, not committed: $writer linking it waits";
        $del->{commit}->();
        my $wr = $w->();
        unlike $wr, qr/^(200|204|ok)$/, "... and fails once the delete commits ($wr)";
        is $wr, 400, '... the POST as an unknown role, decided again on fresh data' if $writer eq 'POST';
        is $wr, '400 with failures', '... PUT /users: the record fails (unknown role), decided again on fresh data'
            if $writer eq 'PUT /users';
        is links_of_role($role), 0, '... no link to the deleted role';
        is dangling(), 0, '... none dangling';
    }
}

# SCIM /Bulk creations take the account's default roles.
{
    # the creation first: deleting the default role waits, then is refused
    my ($role) = new_role(default => 1);
    my $clock = hold_commits($ACME);
    my $bulk = sub {
        my ($n) = @_;
        return sub {
            my $res = json_request(POST => '/scim/v2/Bulk', token(),
                { schemas => [ BULK_REQUEST ], Operations => [
                    { method => 'POST', path => '/Users', bulkId => 'a',
                      data => { schemas => [ USER_SCHEMA ], userName => "bulk$n.links",
                                emails => [ { value => "bulk$n\@links.example" } ] } } ] }, $SCIM);
            my $b = eval { $res->json } // {};
            return join ',', $res->code, map { $_->{status} } @{ $b->{Operations} // [] };
        };
    };
    my $w = in_background($bulk->(1));
    ok wait_for_waiters(1), 'SCIM /Bulk creates a user with the default roles, held at its commit';
    my $d = in_background(sql_result("DELETE FROM userbulk.roles WHERE id = '$role'"));
    ok wait_for_waiters(2), '... a delete of a default role waits for it';
    $clock->{release}->();
    is $w->(), '200,201', '... the creation commits';
    like $d->(), qr/leaves links/, '... and the delete is refused';
    is db_query("SELECT count(*) FROM userbulk.user_roles ur JOIN userbulk.users u ON u.id = ur.user_id
                  WHERE u.user_name = 'bulk1.links' AND ur.role_id = '$role'"), 1, '... the new user holds the role';
    is dangling(), 0, '... none dangling';
    db_query("UPDATE userbulk.roles SET is_default = false WHERE id = '$role'");

    # the delete first: the creation waits, then is decided again on fresh
    # data: the user is created with the default roles there are now
    ($role) = new_role(default => 1);
    my $del = lock_session("DELETE FROM userbulk.roles WHERE id = '$role'");
    $w = in_background($bulk->(2));
    ok wait_for_waiters(1), 'a default role deleted, not committed: a SCIM /Bulk creation waits';
    $del->{commit}->();
    my $wr = $w->();
    is $wr, '200,201', "... and, decided again once the delete commits, creates the user ($wr)";
    is links_of_role($role), 0, '... with no link to the deleted role';
    is db_query("SELECT count(*) FROM userbulk.users WHERE user_name = 'bulk2.links'"), 1, '... the user is there';
    is dangling(), 0, '... none dangling';
}

# --- a user deleted while a writer links it -------------------------------------------------------
for my $writer ('POST', 'SCIM Groups PATCH', "a DBA's INSERT") {
    # the writer first: SCIM DELETE waits, then takes the new links with the user
    my ($role, $name) = new_role();
    my $user = new_user();
    my $clock = hold_commits($ACME);
    my $hold = $writer eq "a DBA's INSERT"
        ? lock_session("INSERT INTO userbulk.user_roles (account_id, user_id, role_id) VALUES ('$ACME', '$user', '$role')")
        : undef;
    my $w = $hold ? undef : in_background(sub { $LINKER{$writer}->($user, $role, $name) });
    ok $hold || wait_for_waiters(1), "$writer links a user, held at its commit";
    my $d = in_background(sub { json_request(DELETE => "/scim/v2/Users/$user", token(), undef, $SCIM)->code });
    ok wait_for_waiters($hold ? 1 : 2), '... SCIM DELETE of the user waits for it';
    $clock->{release}->();
    $hold->{commit}->() if $hold;
    my $wr = $w ? $w->() : 'ok';
    like $wr, qr/^(200|204|ok)$/, "... the writer commits ($wr)";
    is $d->(), 204, '... then the user is deleted';
    is links_of_user($user), 0, '... with the link just written';
    is dangling(), 0, '... none dangling';
}
{
    # the delete first: a DBA's INSERT of a link waits, then fails
    my ($role) = new_role();
    my $user = new_user();
    my $del = lock_session("DELETE FROM userbulk.users WHERE id = '$user'");
    my $w = in_background(sql_result("INSERT INTO userbulk.user_roles (account_id, user_id, role_id)
                                      VALUES ('$ACME', '$user', '$role')"));
    ok wait_for_waiters(1), "a user deleted, not committed: a DBA's INSERT linking it waits";
    $del->{commit}->();
    like $w->(), qr/names a user that is not in its account/, '... and fails once the delete commits';
    is links_of_user($user), 0, '... no link to the deleted user';
    is dangling(), 0, '... none dangling';
}

# --- no link across accounts -----------------------------------------------------------------------
{
    my $before = db_query('SELECT count(*) FROM userbulk.user_roles');
    my $res = json_request(POST => '/api/v1/account/users/update', token(),
                           { userIds => [ $ALICE ], userRoleIds => [ $GLOBEX_ROLE ] });
    is $res->code, 400, 'the POST with a role of another account: 400';
    my $globex_user = db_query("SELECT id FROM userbulk.users WHERE account_id = '$GLOBEX' LIMIT 1");
    $res = json_request(PATCH => '/scim/v2/Groups/10000000-0000-4000-8000-000000000002', token(),
        { schemas => [ PATCH_SCHEMA ], Operations => [ { op => 'add', path => 'members', value => [ { value => $globex_user } ] } ] },
        $SCIM);
    like $res->code, qr/^4\d\d$/, 'SCIM Groups PATCH adding a user of another account: ' . $res->code;
    like sql_result("INSERT INTO userbulk.user_roles (account_id, user_id, role_id) VALUES ('$ACME', '$BOB', '$GLOBEX_ROLE')")->(),
         qr/names a role that is not in its account/, "a DBA's INSERT of a role of another account is refused";
    like sql_result("INSERT INTO userbulk.user_roles (account_id, user_id, role_id)
                     VALUES ('$GLOBEX', '$BOB', '$GLOBEX_ROLE')")->(),
         qr/names a user that is not in its account/, '... of a user of another account too';
    is db_query('SELECT count(*) FROM userbulk.user_roles'), $before, '... none written';
    is dangling(), 0, '... none dangling';
}

# --- deleting in REPEATABLE READ is refused ---------------------------------------------------------
{
    my $user = new_user();
    like sql_result("BEGIN ISOLATION LEVEL REPEATABLE READ; DELETE FROM userbulk.users WHERE id = '$user'; COMMIT")->(),
         qr/needs READ COMMITTED/, 'a user deleted in REPEATABLE READ: refused';
    my ($role) = new_role();
    like sql_result("BEGIN ISOLATION LEVEL SERIALIZABLE; DELETE FROM userbulk.roles WHERE id = '$role'; COMMIT")->(),
         qr/needs READ COMMITTED/, 'a role deleted in SERIALIZABLE: refused';
}

# --- users.role_ids (017) under concurrent writers ----------------------------------------------------
# Each user's role ids on its row must be its links at every commit. A
# writer of links locks the user's row before it counts them, so that a
# count that waited counts what the other committed. Attacked both ways:
# an API writer held at its commit while a DBA links or unlinks the same
# user, and a DBA's link held open while an API writer relinks the user.
sub role_ids_of { my ($u) = @_; return db_query("SELECT array_to_string(role_ids, ',') FROM userbulk.users WHERE id = '$u'") }
sub links_list {
    my ($u) = @_;
    return db_query("SELECT coalesce(string_agg(role_id::text, ',' ORDER BY role_id), '')
                       FROM userbulk.user_roles WHERE user_id = '$u'");
}
sub sorted_ids { return join ',', sort @_ }
for my $writer ('PUT /users', 'POST', 'SCIM Groups PATCH') {
    for my $dba ('INSERT', 'DELETE') {
        # the API writer first, held at its commit; the DBA's count waits
        my ($r1, $n1) = new_role();
        my ($r2) = new_role();
        my $user = new_user();
        db_query("INSERT INTO userbulk.user_roles (account_id, user_id, role_id) VALUES ('$ACME', '$user', '$r2')")
            if $dba eq 'DELETE';
        my $clock = hold_commits($ACME);
        my $w = in_background(sub { $LINKER{$writer}->($user, $r1, $n1) });
        ok wait_for_waiters(1), "role_ids: $writer relinks a user, held at its commit";
        my $d = in_background(sql_result($dba eq 'INSERT'
            ? "INSERT INTO userbulk.user_roles (account_id, user_id, role_id) VALUES ('$ACME', '$user', '$r2')"
            : "DELETE FROM userbulk.user_roles WHERE user_id = '$user' AND role_id = '$r2'"));
        ok wait_for_waiters(2), "... a DBA's $dba of another link of the user waits for it";
        $clock->{release}->();
        like $w->(), qr/^(200|204)$/, '... the writer commits';
        is $d->(), 'ok', "... then the DBA's $dba";
        # r2's link came (INSERT) or went (DELETE) after the writer gave
        # the user r1
        my $want = $dba eq 'INSERT' ? sorted_ids($r1, $r2) : $r1;
        is links_list($user), $want, '... the links: both writes';
        is role_ids_of($user), $want, '... and the user\'s role_ids: the same';
    }
    {
        # the DBA's link first, held open; the API writer waits, then
        # decides on what the DBA committed
        my ($r1, $n1) = new_role();
        my ($r2) = new_role();
        my $user = new_user();
        my $hold = lock_session("INSERT INTO userbulk.user_roles (account_id, user_id, role_id) VALUES ('$ACME', '$user', '$r2')");
        my $w = in_background(sub { $LINKER{$writer}->($user, $r1, $n1) });
        ok wait_for_waiters(1), "role_ids: a DBA's link held open; $writer relinking the user waits";
        $hold->{commit}->();
        like $w->(), qr/^(200|204)$/, '... and commits after it';
        my $want = $writer eq 'SCIM Groups PATCH' ? sorted_ids($r1, $r2) : $r1;
        is links_list($user), $want, "... the links: the writer's decision on the DBA's link";
        is role_ids_of($user), $want, '... and the user\'s role_ids: the same';
    }
}
is role_ids_drift(), 0, 'role_ids: after every race, no user\'s role_ids differs from its links';
is audit_chain_drift(), 0, 'after every race, every user\'s history is one chain from its row (018)';

reset_demo();
done_testing();
