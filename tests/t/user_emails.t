# One address, two writers at once (migration 023): the API's writers move
# their users' entries in user_emails themselves, a DBA's UPDATE through the
# row trigger of users; the key of user_emails must keep the address to
# one user whichever commits first. For each API writer (PUT /users, the
# POST, SCIM PATCH), with two fresh users A and B and a fresh address X:
#
# - the API writer gives X to A and is held at its commit; a DBA's UPDATE
#   giving X to B waits for it, then fails on user_emails_pkey;
# - the DBA gives X to B and holds its transaction open; the API writer
#   giving X to A waits for it, then answers that X is taken (decided
#   again on fresh data), and A keeps its address.
#
# Then, each time: X is B's or A's as said, and user_emails is users'.
# A writer is held open at its COMMIT by a session holding the account's
# row of audit_feed_clock (the change feed's commit-time trigger takes
# it), as in t/role_links.t.
use strict;
use warnings;

use FindBin ();
use lib "$FindBin::RealBin/../lib";
use Apache::Test qw(-withtestmore);
use UserBulk::Test qw(:all);
use UserBulk::Reliability qw(lock_session in_background wait_for_waiters hold_commits);

my $ACME = '00000000-0000-4000-8000-00000000000a';
my $SCIM = [ Accept => 'application/scim+json', 'Content-Type' => 'application/scim+json' ];

reset_demo();

my $USER_N = 0;
# A new user of acme, with an address of its own: [id, userName, address].
sub new_user {
    my $n = ++$USER_N;
    my $id = db_query("INSERT INTO userbulk.users (account_id, user_name, email)
                       VALUES ('$ACME', 'mails$n.acme', 'mails$n\@acme.example') RETURNING id");
    return [ $id, "mails$n.acme", "mails$n\@acme.example" ];
}
sub email_of { my ($u) = @_; return db_query("SELECT email FROM userbulk.users WHERE id = '$u->[0]'") }
sub holder {
    my ($addr) = @_;
    return db_query("SELECT u.user_name FROM userbulk.user_emails e
                       JOIN userbulk.users u ON u.account_id = e.account_id AND u.id = e.user_id
                      WHERE e.email_lower = lower('$addr')") // 'nobody';
}

sub dba_update { my ($u, $addr) = @_; return "UPDATE userbulk.users SET email = '$addr' WHERE id = '$u->[0]'" }

# The API writers: each gives user U the address ADDR and answers "given",
# "taken" (the address is another user's) or what else it got.
my %WRITER = (
    'PUT /users' => sub {
        my ($u, $addr) = @_;
        my $res = json_request(PUT => PUT_USERS, token(), [ { userName => $u->[1], email => $addr } ]);
        my $b = eval { $res->json } // {};
        my @codes = map { $_->{code} } map { @{ $_->{errors} // [] } } @{ $b->{failedResults} // [] };
        return $res->code == 200 && !@codes ? 'given'
             : $res->code == 400 && "@codes" eq 'email_taken' ? 'taken'
             : $res->code . " @codes";
    },
    'POST' => sub {
        my ($u, $addr) = @_;
        my $res = json_request(POST => ACCOUNT_UPDATE, token(), { userId => $u->[0], email => $addr },
                               [ 'Content-Type' => 'application/json-patch+json' ]);
        my $message = (eval { $res->json } // {})->{message} // '';
        return $res->code == 200 ? 'given'
             : $res->code == 400 && $message =~ /email/ ? 'taken'
             : $res->code . " $message";
    },
    'SCIM PATCH' => sub {
        my ($u, $addr) = @_;
        my $res = json_request(PATCH => "/scim/v2/Users/$u->[0]", token(),
            { schemas => [ 'urn:ietf:params:scim:api:messages:2.0:PatchOp' ],
              Operations => [ { op => 'replace', path => 'emails[type eq "work"].value', value => $addr } ] },
            $SCIM);
        my $type = (eval { $res->json } // {})->{scimType} // '';
        return $res->code == 200 ? 'given'
             : $res->code == 409 && $type eq 'uniqueness' ? 'taken'
             : $res->code . " $type";
    },
);

my $X_N = 0;
for my $writer (sort keys %WRITER) {
    # the API writer first, held at its commit: the DBA's UPDATE waits, then fails
    {
        my ($a, $b) = (new_user(), new_user());
        my $x = 'race' . ++$X_N . '@acme.example';
        my $clock = hold_commits($ACME);
        my $w = in_background(sub { $WRITER{$writer}->($a, $x) });
        ok wait_for_waiters(1), "$writer gives A a new address, held at its commit";
        my $d = in_background(sub { my $r = eval { db_query(dba_update($b, $x)); 'ok' }; $r // "error: $@" });
        ok wait_for_waiters(2), "... a DBA's UPDATE giving it to B waits for it";
        $clock->{release}->();
        is $w->(), 'given', '... the writer commits: A has it';
        like $d->(), qr/user_emails_pkey/, '... and the DBA\'s UPDATE fails on the key of user_emails';
        is holder($x) . ' ' . email_of($b), "$a->[1] $b->[2]", '... A holds it, B keeps its address';
        is user_emails_drift(), 0, '... user_emails is users\'';
    }
    # the DBA first, holding its transaction: the writer waits, then is told the address is taken
    {
        my ($a, $b) = (new_user(), new_user());
        my $x = 'race' . ++$X_N . '@acme.example';
        my $dba = lock_session(dba_update($b, $x));
        my $w = in_background(sub { $WRITER{$writer}->($a, $x) });
        ok wait_for_waiters(1), "a DBA gives B a new address, not committed: $writer giving it to A waits";
        $dba->{commit}->();
        is $w->(), 'taken', '... and, decided again once the DBA commits, answers that it is taken';
        is holder($x) . ' ' . email_of($a), "$b->[1] $a->[2]", '... B holds it, A keeps its address';
        is user_emails_drift(), 0, '... user_emails is users\'';
    }
}

done_testing();
