#!/usr/bin/env bash
# Creates or upgrades the mod_userbulk schema in an existing database.
#
#   src/sql/migrate.sh 'host=/tmp/ub-5432 dbname=userbulk user=userbulk'
#   make db DB='host=db1,db2 dbname=userbulk user=userbulk target_session_attrs=read-write'
#   /usr/share/userbulk/sql/migrate.sh CONNINFO       (as installed by make install)
#
# CONNINFO is a libpq connection string or URI. The role it connects as needs
# CREATE on the database the first time (it then owns the schema userbulk).
#
# Each file migrations/NNN_*.sql is applied once, in order, together with
# the row recording its version in userbulk.schema_version; functions.sql is
# then (re)applied. All of it is one transaction: a request served meanwhile
# sees the old tables with the old functions or the new with the new, never
# a mix, and a failure leaves the database as it was. Running it again
# changes nothing. It may run while httpd serves: a request waits for the
# transaction at most, and the sessions mod_dbd holds pick up the new
# functions by themselves.
#
# Safe to start on several nodes at once (a deployment that runs it
# everywhere): an advisory lock makes the runs take turns, and each
# migration is re-checked under it. A database at a version newer than this
# release knows is left alone (exit 3): running older functions over a newer
# schema could break it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
conninfo=${1:?usage: migrate.sh CONNINFO}
psql_q() { psql "$conninfo" -X -q -v ON_ERROR_STOP=1 "$@"; }

# One key for every run of this script against the same database.
LOCK="pg_advisory_xact_lock(hashtext('userbulk.migrate'))"

psql_q <<SQL
SET client_min_messages = warning;
BEGIN;
SELECT $LOCK \\g /dev/null
CREATE SCHEMA IF NOT EXISTS userbulk;
CREATE TABLE IF NOT EXISTS userbulk.schema_version (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
COMMIT;
SQL

latest=0
for file in "$here"/migrations/[0-9][0-9][0-9]_*.sql; do
    name=$(basename "$file" .sql)
    latest=$((10#${name%%_*}))
done
current=$(psql_q -At -c 'SELECT coalesce(max(version), 0) FROM userbulk.schema_version')
if (( current > latest )); then
    echo "migrate: the database is at schema version $current, newer than this release's $latest: nothing done" >&2
    exit 3
fi

# Under the lock, each migration applied only if no other run did it
# meanwhile.
{
    echo 'SET client_min_messages = warning;'
    echo 'BEGIN;'
    echo "SELECT $LOCK \\g /dev/null"
    for file in "$here"/migrations/[0-9][0-9][0-9]_*.sql; do
        name=$(basename "$file" .sql)
        version=$((10#${name%%_*}))
        if (( version <= current )); then
            continue
        fi
        echo "SELECT NOT EXISTS (SELECT 1 FROM userbulk.schema_version WHERE version = $version) AS todo \\gset"
        echo '\if :todo'
        echo "\\echo migrate: applying $name"
        echo "\\i '$file'"
        echo "INSERT INTO userbulk.schema_version (version, name) VALUES ($version, '$name');"
        echo '\endif'
    done
    echo "\\i '$here/functions.sql'"
    echo 'COMMIT;'
} | psql_q
echo "migrate: schema at version $(psql_q -At -c 'SELECT max(version) FROM userbulk.schema_version')"
