#!/usr/bin/env bash
# Creates or upgrades the mod_userbulk schema in an existing database.
#
#   src/sql/migrate.sh 'host=/tmp/ub-5432 dbname=userbulk user=userbulk'
#
# Each file migrations/NNN_*.sql is applied once, in order, in its own
# transaction together with the row recording its version; functions.sql is
# then (re)applied. Running it again changes nothing.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
conninfo=${1:?usage: migrate.sh CONNINFO}
psql_q() { psql "$conninfo" -X -q -v ON_ERROR_STOP=1 "$@"; }

psql_q <<'SQL'
SET client_min_messages = warning;
CREATE SCHEMA IF NOT EXISTS userbulk;
CREATE TABLE IF NOT EXISTS userbulk.schema_version (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
SQL

current=$(psql_q -At -c 'SELECT coalesce(max(version), 0) FROM userbulk.schema_version')
for file in "$here"/migrations/[0-9][0-9][0-9]_*.sql; do
    name=$(basename "$file" .sql)
    version=$((10#${name%%_*}))
    if (( version <= current )); then
        continue
    fi
    echo "migrate: applying $name"
    { echo 'SET client_min_messages = warning;'
      cat "$file"
      echo "INSERT INTO userbulk.schema_version (version, name) VALUES ($version, '$name');"
    } | psql_q -1
done
psql_q -1 -c 'SET client_min_messages = warning' -f "$here/functions.sql"
echo "migrate: schema at version $(psql_q -At -c 'SELECT max(version) FROM userbulk.schema_version')"
