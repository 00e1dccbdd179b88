#!/usr/bin/env bash
# make deps: installs the Debian packages that building, running and testing
# mod_userbulk need, only those that are missing, and says which.
#
# Installing apache2, postgresql and pgbouncer would normally start their
# system services; this script never does: a policy-rc.d that denies service starts
# is put in place for the duration of the install (unless one exists), and
# any apache2/postgres daemon that appears anyway is stopped again.
set -euo pipefail

UB_PROG=deps.sh
# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PACKAGES=(
    # build
    make gcc libc6-dev pkg-config apache2-dev libjansson-dev check libpq-dev
    # run
    apache2 libaprutil1-dbd-pgsql libapache2-mod-oauth2 libapache2-mod-auth-openidc
    postgresql postgresql-contrib openssl curl
    # test (mod_perl2 is the only Debian source of Apache::Test; it pulls in
    # libwww-perl; JSON::PP, Digest::SHA and MIME::Base64 are core Perl;
    # pgbouncer for t/pgbouncer.t; pgTAP for tests/sql/, Debian 12's
    # PostgreSQL being 15)
    perl libapache2-mod-perl2 libwww-perl valgrind pgbouncer postgresql-15-pgtap
    # SCIM answers validated against RFC 7643 by SCIMMY (npm; tests/package.json,
    # make test-tools); npm: below, unless some nodejs already brings it
    nodejs
    # automatic failover (t/ha_auto.t, make test-ha): pg_auto_failover's
    # pg_autoctl and its monitor extension
    pg-auto-failover-cli postgresql-15-auto-failover
    # fuzzing (make fuzz, and a short run in make test): clang with
    # libFuzzer and the sanitizer runtimes; llvm for make fuzz-coverage.
    # make test-asan uses gcc's libasan/libubsan (libgcc-12-dev, with gcc).
    clang libclang-rt-14-dev llvm-14
    # packaging (make deb, t/deb.t): dpkg-buildpackage, debhelper, lintian;
    # dh_apache2 comes with apache2-dev
    dpkg-dev debhelper lintian
)

missing=()
for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    [[ $status == ii* ]] || missing+=("$p")
done
# Debian's npm package only when no npm is there: a nodejs from elsewhere
# (NodeSource) ships its own npm and conflicts with Debian's.
command -v npm >/dev/null || missing+=(npm)

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "deps: all present"
    exit 0
fi

echo "deps: installing ${missing[*]}"

SUDO=()
if ! ub_is_root; then
    command -v sudo >/dev/null || ub_die "not root and no sudo: install as root: apt-get install ${missing[*]}"
    SUDO=(sudo)
fi

# The system services' daemons (Debian's apache2 and postgresql clusters), to
# tell those the install starts from those that ran before.
daemon_pids() {
    local d cmd
    for d in /proc/[0-9]*; do
        cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
        case $cmd in
            "/usr/sbin/apache2 -k start"* | */postgres\ *config_file=/etc/postgresql/* | */pgbouncer\ */etc/pgbouncer/*)
                printf '%s\n' "${d#/proc/}"
                ;;
        esac
    done | sort
}
before=$(daemon_pids)

POLICY=/usr/sbin/policy-rc.d
own_policy=0
restore_policy() {
    if [[ $own_policy == 1 ]]; then
        "${SUDO[@]}" rm -f "$POLICY"
    fi
}
trap restore_policy EXIT
if [[ ! -e $POLICY ]]; then
    printf '#!/bin/sh\n# temporary, from mod_userbulk tools/deps.sh\nexit 101\n' |
        "${SUDO[@]}" tee "$POLICY" >/dev/null
    "${SUDO[@]}" chmod 755 "$POLICY"
    own_policy=1
fi

"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"

# Stop what the install started despite the policy (only daemons that were not
# running before, and only their main process, which takes its children along).
new=$(comm -13 <(printf '%s\n' "$before") <(daemon_pids))
for pid in $new; do
    ppid=$(awk '/^PPid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
    comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
    pcomm=$(cat "/proc/$ppid/comm" 2>/dev/null || true)
    [[ -n $comm && $pcomm != "$comm" ]] || continue
    echo "deps: stopping $comm (pid $pid) that the package installation started"
    "${SUDO[@]}" kill -TERM "$pid" 2>/dev/null || true
done

echo "deps: installed ${missing[*]}"
