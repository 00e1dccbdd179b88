package UserBulk::Raw;

# HTTP/1.1 over a plain socket, for the requests LWP will not send: chunked
# bodies, Expect: 100-continue, bodies sent slowly or abandoned half way,
# bodies too large to build in memory, a Content-Length the body never
# honours. And a keep-alive client fast enough for thousands of requests.
#
#   use UserBulk::Raw qw(raw_http http_head keepalive_client);
#
#   my $res = raw_http(
#       head    => http_head(PUT => '/users', token => $t, length => 10),
#       parts   => [ '[{"a":', '1}]' ],     # or a code ref: next piece, undef at the end
#       chunked => 1,                        # each piece sent as one chunk, then 0\r\n\r\n
#       pause   => 0.5,                      # seconds between pieces
#       abandon_after => 1,                  # close the socket after that many pieces
#       expect_continue => 1,                # wait for "100 Continue" before the body
#   );
#   $res->{status}, $res->{headers}{'content-type'}, $res->{body}, $res->{json},
#   $res->{interim} (statuses of 1xx answers), $res->{sent} (body bytes sent),
#   $res->{elapsed}, $res->{closed_early} (the server answered before the
#   whole body was sent), $res->{error} (no answer: why).
#
# Every wait is bounded (UserBulk::Raw::TIMEOUT seconds, 120 by default), so a
# server that hangs fails the test instead of hanging it.

use strict;
use warnings;

use Apache::TestRequest ();
use Errno qw(EAGAIN EINTR EWOULDBLOCK);
use Exporter 'import';
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use Time::HiRes qw(time sleep);

our @EXPORT_OK = qw(raw_http http_head server_host_port keepalive_client open_request read_response
                    client_port);

our $TIMEOUT = 120;

$SIG{PIPE} = 'IGNORE';

my $JSON = JSON::PP->new->utf8->allow_nonref;

sub server_host_port {
    my $hp = Apache::TestRequest::hostport();
    my ($host, $port) = $hp =~ /^(.*):(\d+)$/ or die "bad hostport $hp\n";
    $host = '127.0.0.1' if $host eq 'localhost';
    return ($host, $port);
}

# The request line and headers. Options: token, content_type (default
# application/json; undef leaves it out: pass content_type => undef),
# length (Content-Length), chunked, expect_continue, headers (array ref of
# name => value pairs), connection (default close).
sub http_head {
    my ($method, $path, %o) = @_;
    my ($host, $port) = server_host_port();
    my @h = ("$method $path HTTP/1.1", "Host: localhost:$port");
    push @h, "Authorization: Bearer $o{token}" if defined $o{token};
    my $ct = exists $o{content_type} ? $o{content_type} : 'application/json';
    push @h, "Content-Type: $ct" if defined $ct;
    push @h, "Content-Length: $o{length}" if defined $o{length};
    push @h, 'Transfer-Encoding: chunked' if $o{chunked};
    push @h, 'Expect: 100-continue' if $o{expect_continue};
    push @h, 'Accept: application/json';
    my @extra = @{ $o{headers} // [] };
    while (my ($k, $v) = splice @extra, 0, 2) { push @h, "$k: $v" }
    push @h, 'Connection: ' . ($o{connection} // 'close');
    return join("\r\n", @h) . "\r\n\r\n";
}

sub _connect {
    my ($host, $port) = server_host_port();
    my $sock = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port,
                                      Proto => 'tcp', Timeout => 10)
        or die "cannot connect to $host:$port: $!\n";
    $sock->autoflush(1);
    binmode $sock;
    return $sock;
}

# Parses one response out of $$buf when it is complete; returns the hash
# (and removes it from the buffer) or undef when more bytes are needed. At
# EOF ($eof), a body without Content-Length ends there.
sub _parse_response {
    my ($buf, $eof) = @_;
    my $end = index($$buf, "\r\n\r\n");
    return undef if $end < 0;
    my $head = substr($$buf, 0, $end);
    my ($line, @lines) = split /\r\n/, $head;
    my ($status) = $line =~ m{^HTTP/\d\.\d (\d{3})} or die "not an HTTP response: $line\n";
    my %h;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $h{ lc $k } = exists $h{ lc $k } ? "$h{lc $k}, $v" : $v;
    }
    my $start = $end + 4;
    if ($status =~ /^1/) {
        my $res = { status => $status, headers => \%h, body => '' };
        substr($$buf, 0, $start) = '';
        return $res;
    }
    my $body;
    if (defined $h{'content-length'}) {
        return undef if length($$buf) - $start < $h{'content-length'};
        $body = substr($$buf, $start, $h{'content-length'});
        substr($$buf, 0, $start + $h{'content-length'}) = '';
    }
    elsif (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        my $pos = $start;
        $body = '';
        while (1) {
            my $nl = index($$buf, "\r\n", $pos);
            return undef if $nl < 0;
            my ($size) = substr($$buf, $pos, $nl - $pos) =~ /^([0-9a-fA-F]+)/;
            $size = hex($size // 0);
            if ($size == 0) {
                my $trailer_end = index($$buf, "\r\n\r\n", $nl);
                return undef if $trailer_end < 0;
                substr($$buf, 0, $trailer_end + 4) = '';
                last;
            }
            return undef if length($$buf) < $nl + 2 + $size + 2;
            $body .= substr($$buf, $nl + 2, $size);
            $pos = $nl + 2 + $size + 2;
        }
    }
    else {
        return undef unless $eof;
        $body = substr($$buf, $start);
        $$buf = '';
    }
    my $json = eval { $JSON->decode($body) };
    return { status => $status, headers => \%h, body => $body, json => $json };
}

# Reads from the socket into $$buf; returns the number of bytes read, 0 at
# EOF, undef when nothing is there (non-blocking) or on a reset.
sub _read_some {
    my ($sock, $buf) = @_;
    my $n = sysread($sock, my $chunk, 1 << 16);
    if (!defined $n) {
        return undef if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
        return 0;    # reset: as good as EOF
    }
    $$buf .= $chunk;
    return $n;
}

sub raw_http {
    my (%o) = @_;
    my $t0 = time;
    my $deadline = $t0 + ($o{timeout} // $TIMEOUT);
    my $sock = _connect();
    my $sel = IO::Select->new($sock);
    my $in = '';
    my $eof = 0;
    my %res = (interim => [], sent => 0);
    my $final;

    my $pump = sub {    # reads what is there; returns true when a final answer arrived
        my ($wait) = @_;
        while (!$final && !$eof) {
            last unless $sel->can_read($wait);
            my $n = _read_some($sock, \$in);
            last if !defined $n;
            $eof = 1 if $n == 0;
            while (my $r = _parse_response(\$in, $eof)) {
                if ($r->{status} =~ /^1/) { push @{ $res{interim} }, $r->{status}; next }
                $final = $r;
                last;
            }
            $wait = 0;
        }
        return $final;
    };

    my $write = sub {    # writes all of $data unless the server answers or goes away first
        my ($data) = @_;
        my $off = 0;
        while ($off < length $data) {
            return 0 if $final || $eof;
            return 0 if time > $deadline;
            my (undef, $w) = IO::Select->select($sel, $sel, undef, 1);
            if ($w && @$w) {
                my $n = syswrite($sock, $data, length($data) - $off, $off);
                if (!defined $n) {
                    next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                    $res{write_error} = "$!";
                    return 0;
                }
                $off += $n;
            }
            $pump->(0);
        }
        return 1;
    };

    $sock->blocking(0);
    $write->($o{head}) or goto DONE;

    if ($o{expect_continue}) {
        # The body only after "100 Continue" (or a final answer without it).
        while (!@{ $res{interim} } && !$final && !$eof && time < $deadline) {
            $pump->(0.5);
        }
        goto DONE if $final || $eof;
    }

    my $parts = $o{parts} // [];
    my $next = ref $parts eq 'CODE' ? $parts : do { my @p = @$parts; sub { shift @p } };
    my $count = 0;
    while (defined(my $piece = $next->())) {
        if ($count && $o{pause}) {
            my $until = time + $o{pause};
            while (time < $until && !$final) { $pump->($until - time) }
        }
        last if $final || $eof;
        my $data = $o{chunked} ? sprintf("%x\r\n", length $piece) . $piece . "\r\n" : $piece;
        $write->($data) or last;
        $res{sent} += length $piece;
        $count++;
        if (defined $o{abandon_after} && $count >= $o{abandon_after}) {
            $res{abandoned} = 1;
            last;
        }
    }
    if ($res{abandoned}) {
        # The client goes away in the middle of its body.
        close $sock;
        $res{elapsed} = time - $t0;
        return \%res;
    }
    $res{closed_early} = ($final || $eof) ? 1 : 0;
    $write->("0\r\n\r\n") if $o{chunked} && !$final && !$eof;

  DONE:
    while (!$final && !$eof && time < $deadline) {
        $pump->(1);
    }
    $final //= _parse_response(\$in, 1) if length $in;
    close $sock;
    $res{elapsed} = time - $t0;
    if ($final) {
        %res = (%res, %$final);
    }
    else {
        $res{error} = $eof ? 'connection closed without an answer' : 'timed out';
    }
    return \%res;
}

# A request left in flight, for the fault tests: sends the head and the body
# (or the first $o{send_only} bytes of it) and returns the socket.
#   my $sock = open_request($head . $body);
#   ... kill something ...
#   my $res = read_response($sock, 30);   # the answer, or {eof => 1} / {timeout => 1}
sub open_request {
    my ($bytes) = @_;
    my $sock = _connect();
    my $off = 0;
    while ($off < length $bytes) {
        my $n = syswrite($sock, $bytes, length($bytes) - $off, $off);
        die "open_request: write failed: $!\n" unless defined $n;
        $off += $n;
    }
    return $sock;
}

sub client_port { my ($sock) = @_; return $sock->sockport }

sub read_response {
    my ($sock, $timeout) = @_;
    my $sel = IO::Select->new($sock);
    my $deadline = time + ($timeout // $TIMEOUT);
    my ($in, $eof) = ('', 0);
    while (time < $deadline) {
        last unless $sel->can_read($deadline - time);
        my $n = sysread($sock, my $chunk, 1 << 16);
        $eof = 1 if !$n;
        $in .= $chunk if $n;
        my $res = _parse_response(\$in, $eof);
        return $res if $res && $res->{status} !~ /^1/;
        return { eof => 1, partial => $in } if $eof;
    }
    return { timeout => 1, partial => $in };
}

# A persistent connection for many small requests in a row (reconnects
# when the server closes it, e.g. after MaxKeepAliveRequests).
#   my $c = keepalive_client();
#   my $res = $c->(PUT => '/users', $token, $json_text);   # {status, headers, body, json}
sub keepalive_client {
    my $sock;
    my $in = '';
    return sub {
        my ($method, $path, $token, $body, %o) = @_;
        for my $attempt (1, 2) {
            $sock ||= do { my $s = _connect(); $in = ''; $s };
            my $head = http_head($method, $path, token => $token,
                                 length => length($body // ''), connection => 'keep-alive',
                                 %o);
            my $ok = defined syswrite($sock, $head . ($body // ''));
            my ($res, $eof);
            my $deadline = time + $TIMEOUT;
            while ($ok && !$res && time < $deadline) {
                my $n = sysread($sock, my $chunk, 1 << 16);
                if (!$n) { $eof = 1 }
                else     { $in .= $chunk }
                $res = _parse_response(\$in, $eof);
                last if $eof;
            }
            if ($res) {
                if (($res->{headers}{connection} // '') =~ /close/i) {
                    close $sock;
                    undef $sock;
                }
                return $res;
            }
            close $sock if $sock;
            undef $sock;
            # The server closed an idle kept-alive connection: send again
            # on a fresh one, once.
            die "keepalive_client: no answer ($method $path)\n" if $attempt == 2;
        }
    };
}

1;
