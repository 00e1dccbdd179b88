# shellcheck shell=bash
# Shared helpers of the scripts in tools/, tests/tools/ and tests/bench/. Source it; do not run it.
#
# Sets UB_ROOT to the project root, derived from this file's location, so
# every script works from any directory and on any clone.

UB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
export UB_ROOT

ub_say() { printf '%s\n' "$*" >&2; }
ub_die() { printf '%s: error: %s\n' "${UB_PROG:-userbulk}" "$*" >&2; exit 1; }

ub_is_root() { [[ $(id -u) -eq 0 ]]; }

# A TCP port on 127.0.0.1 that nothing listens on right now.
ub_free_port() {
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0,
                                      Proto => "tcp", Listen => 1) or die "$!\n";
        print $s->sockport, "\n";'
}

# True when something accepts TCP connections on 127.0.0.1:PORT.
ub_port_busy() {
    perl -MIO::Socket::INET -e '
        exit(IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $ARGV[0],
                                   Proto => "tcp", Timeout => 1) ? 0 : 1)' "$1"
}

# True when the process PID exists, is not a zombie, and its command name is
# NAME.
ub_pid_is() {
    local pid=$1 name=$2 comm state
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    state=$(awk '/^State:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || return 1
    [[ $comm == "$name" && $state != Z ]]
}

# Stops the httpd whose pid file is FILE, if it is still running (a run that
# died leaves it up). Waits for it to go, then removes the pid file.
ub_kill_httpd_pidfile() {
    local file=$1 pid i
    [[ -f $file ]] || return 0
    pid=$(head -n1 "$file" 2>/dev/null || true)
    if ub_pid_is "$pid" apache2 || ub_pid_is "$pid" httpd; then
        ub_say "stopping leftover httpd (pid $pid, $file)"
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            ub_pid_is "$pid" apache2 || ub_pid_is "$pid" httpd || break
            sleep 0.1
        done
        if ub_pid_is "$pid" apache2 || ub_pid_is "$pid" httpd; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$file"
}

# Makes DIR and each of its parents searchable by other users (o+x), so that
# the postgres and httpd users can reach files below it. Says what it changes.
ub_make_traversable() {
    local d
    d=$(cd "$1" && pwd -P)
    while [[ $d != / ]]; do
        if [[ ! $(stat -c %A "$d") =~ ^d........[xt]$ ]]; then
            ub_say "making $d searchable by other users (chmod o+x) so postgres/httpd can reach it"
            chmod o+x "$d"
        fi
        d=$(dirname "$d")
    done
}

# Replaces @NAME@ in a template with the value of environment variable NAME
# (only for the names given), writing OUT. Values may hold any character.
ub_render() {
    local in=$1 out=$2
    shift 2
    perl -e '
        my ($in, $out, @names) = @ARGV;
        open my $i, "<", $in or die "$in: $!\n";
        my $t = do { local $/; <$i> };
        for my $n (@names) {
            defined $ENV{$n} or die "render: \$$n is not set\n";
            $t =~ s/\@\Q$n\E\@/$ENV{$n}/g;
        }
        die "render: $in: unreplaced placeholder $1\n" if $t =~ /(\@[A-Z][A-Z0-9_]*\@)/;
        open my $o, ">", "$out.tmp" or die "$out: $!\n";
        print $o $t;
        close $o or die "$out: $!\n";
        rename "$out.tmp", $out or die "$out: $!\n";' "$in" "$out" "$@"
}

# The demo JWK on one line, for @DEMO_JWK@.
ub_demo_jwk() {
    tr -d '\n' <"$UB_ROOT/conf/demo-key.jwk"
}
