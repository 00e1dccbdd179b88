#!/usr/bin/env bash
# make run: mod_userbulk on https://localhost:8080 with demo data.
#
#   tools/sandbox.sh             start (or reuse) PostgreSQL, run httpd in
#                                      the foreground; Ctrl-C stops both
#   tools/sandbox.sh seed N      add N generated users per demo account
#
# State lives in .run/: sandbox/ (PostgreSQL, kept between runs), tls/ (a
# self-signed certificate for localhost), httpd/ (config, logs).
#   UB_HTTPS_PORT   the https port (default 8080)
#   UB_SANDBOX_PG_PORT  the PostgreSQL port of a new cluster (default 55432,
#                   or a free one when that is taken)
#   UB_MODULE_SO    the module to load (default .build/mod_userbulk.so)
set -euo pipefail

UB_PROG=sandbox.sh
# shellcheck source=tools/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$UB_ROOT"

RUN=$UB_ROOT/.run
PG_DIR=$RUN/sandbox
HTTPD_DIR=$RUN/httpd
TLS_DIR=$RUN/tls
PORT=${UB_HTTPS_PORT:-8080}
PG=$UB_ROOT/tools/pg.sh
HTTPD=${APACHE_HTTPD:-/usr/sbin/apache2}
MODULE_SO=${UB_MODULE_SO:-$UB_ROOT/.build/mod_userbulk.so}

# A demo user of account acme (src/sql/demo.sql), for the printed curl line.
DEMO_USER=alice.acme
DEMO_EMAIL=alice@acme.example

# Starts the sandbox cluster (creating it on first use) with schema and demo
# data. Prints nothing on stdout.
ensure_db() {
    local port
    mkdir -p "$RUN"
    chmod 755 "$RUN"
    if "$PG" status "$PG_DIR"; then
        "$PG" start "$PG_DIR" ""    # already running: migrate only
    else
        port=$(cat "$PG_DIR/port" 2>/dev/null || echo "${UB_SANDBOX_PG_PORT:-55432}")
        if ub_port_busy "$port"; then
            port=$(ub_free_port)
            ub_say "PostgreSQL port taken, using $port"
        fi
        "$PG" start "$PG_DIR" "$port"
    fi
    if [[ ! -f $PG_DIR/demo-loaded ]]; then
        "$PG" demo "$PG_DIR"
        touch "$PG_DIR/demo-loaded"
    fi
}

ensure_cert() {
    mkdir -p "$TLS_DIR"
    if [[ -f $TLS_DIR/localhost.crt && -f $TLS_DIR/localhost.key ]] &&
        openssl x509 -checkend 86400 -noout -in "$TLS_DIR/localhost.crt" >/dev/null 2>&1; then
        return 0
    fi
    ub_say "generating a self-signed certificate for localhost in $TLS_DIR"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 825 \
        -subj /CN=localhost \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
        -addext "basicConstraints=critical,CA:FALSE" \
        -addext "keyUsage=critical,digitalSignature,keyEncipherment" \
        -addext "extendedKeyUsage=serverAuth" \
        -keyout "$TLS_DIR/localhost.key" -out "$TLS_DIR/localhost.crt" >/dev/null 2>&1 ||
        ub_die "openssl could not create the certificate"
    chmod 600 "$TLS_DIR/localhost.key"
}

write_config() {
    local user group
    if ub_is_root; then
        if id www-data >/dev/null 2>&1; then
            user=www-data group=www-data
        else
            user=nobody group=$(id -gn nobody)
        fi
    else
        user=$(id -un) group=$(id -gn)
    fi
    mkdir -p "$HTTPD_DIR/logs" "$HTTPD_DIR/run" "$HTTPD_DIR/htdocs"
    ub_make_traversable "$HTTPD_DIR"

    USERBULK_SO=$MODULE_SO RUN=$RUN PORT=$PORT USER=$user GROUP=$group \
    PG_SOCKET=$("$PG" socket "$PG_DIR") PG_PORT=$("$PG" port "$PG_DIR") \
    MODULES_DIR=$(apxs -q LIBEXECDIR 2>/dev/null || echo /usr/lib/apache2/modules) \
    TYPES=$([[ -f /etc/mime.types ]] && echo /etc/mime.types || echo /dev/null) \
    LISTEN_V6=$(if grep -q '^0\{31\}1 ' /proc/net/if_inet6 2>/dev/null; then
                    echo "Listen [::1]:$PORT https"
                else
                    echo "# no IPv6 loopback: not listening on [::1]"
                fi) \
        ub_render "$UB_ROOT/conf/sandbox.conf.in" "$HTTPD_DIR/httpd.conf" \
        USERBULK_SO RUN PORT USER GROUP PG_SOCKET PG_PORT MODULES_DIR TYPES LISTEN_V6
    DEMO_JWK=$(ub_demo_jwk) ub_render "$UB_ROOT/conf/demo-oauth2.conf.in" \
        "$HTTPD_DIR/demo-oauth2.conf" DEMO_JWK
}

cmd_seed() {
    local n=${1:-}
    [[ $n =~ ^[0-9]+$ ]] || ub_die "usage: sandbox.sh seed N"
    local was_running=0
    "$PG" status "$PG_DIR" && was_running=1
    ensure_db
    ub_say "seeding $n users per demo account"
    "$PG" seed "$PG_DIR" "$n"
    [[ $was_running == 1 ]] || "$PG" stop "$PG_DIR"
}

httpd_pid=
stop_all() {
    trap - EXIT INT TERM
    if [[ -n $httpd_pid ]] && kill -0 "$httpd_pid" 2>/dev/null; then
        kill -TERM "$httpd_pid" 2>/dev/null || true
        wait "$httpd_pid" 2>/dev/null || true
    fi
    ub_kill_httpd_pidfile "$HTTPD_DIR/httpd.pid"
    "$PG" stop "$PG_DIR" || true
    ub_say "sandbox stopped"
}

cmd_run() {
    [[ -f $MODULE_SO ]] || ub_die "$MODULE_SO is missing: run make all (or make run)"
    # The httpd of a sandbox that was killed (kill -9) still holds the port.
    ub_kill_httpd_pidfile "$HTTPD_DIR/httpd.pid"
    ub_port_busy "$PORT" &&
        ub_die "port $PORT is in use by another program; choose another: UB_HTTPS_PORT=8443 make run"

    trap stop_all EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    ensure_db
    ensure_cert
    write_config
    "$HTTPD" -f "$HTTPD_DIR/httpd.conf" -t >/dev/null 2>&1 ||
        { "$HTTPD" -f "$HTTPD_DIR/httpd.conf" -t; ub_die "the httpd configuration does not load"; }

    local token url
    token=$(perl "$UB_ROOT/tools/token.pl" --account acme --roles userbulk.admin --sub alice --exp-in 86400)
    url=https://localhost:$PORT
    cat <<EOF

mod_userbulk sandbox: $url
  PUT  $url/users
  POST $url/api/v1/account/users/update
  SCIM $url/scim/v2   (Users, Groups, Bulk: the IdP's base URL; README, SCIM)
  PostgreSQL: tools/pg.sh psql .run/sandbox   ($("$PG" conninfo "$PG_DIR"))
  logs: .run/httpd/logs/error_log, .run/httpd/logs/access_log

Token (account acme, role userbulk.admin, valid 24 h; make token ACCOUNT=globex for another):
$token

Try:
curl -k -X PUT $url/users -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '[{"userName":"$DEMO_USER","email":"$DEMO_EMAIL"}]'

Ctrl-C stops httpd and PostgreSQL.
EOF

    "$HTTPD" -f "$HTTPD_DIR/httpd.conf" -DFOREGROUND &
    httpd_pid=$!
    local rc=0
    wait "$httpd_pid" || rc=$?
    httpd_pid=
    if [[ $rc != 0 ]]; then
        ub_say "httpd exited with status $rc; last lines of .run/httpd/logs/error_log:"
        tail -n 20 "$HTTPD_DIR/logs/error_log" >&2 || true
    fi
    return "$rc"
}

case ${1:-run} in
    run) cmd_run ;;
    seed) shift; cmd_seed "$@" ;;
    *) ub_die "usage: sandbox.sh [run | seed N]" ;;
esac
