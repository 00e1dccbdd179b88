#!/usr/bin/env bash
# Creates or upgrades the mod_userbulk schema in an existing database.
#
#   src/sql/migrate.sh [--api-role NAME] [--admin ADMIN_CONNINFO [--owner NAME]] CONNINFO
#   src/sql/migrate.sh 'host=/tmp/ub-5432 dbname=userbulk user=userbulk'
#   make db DB='host=db1,db2 dbname=userbulk user=userbulk target_session_attrs=read-write'
#   /usr/share/userbulk/sql/migrate.sh CONNINFO       (as installed by make install)
#
# CONNINFO is a libpq connection string or URI. The role it connects as needs
# CREATE on the database the first time (it then owns the schema userbulk).
#
# Two roles: the owner (the role CONNINFO connects as) owns the schema and
# everything in it; the API role (--api-role, default userbulk_api), the
# one httpd connects as, may only call the API's functions
# (privileges.sql, applied last on every run). The API role must exist:
# it is created (LOGIN, no password) when missing if the owner may create
# roles, else the run stops with exit status 4 and says how to create it.
# --admin ADMIN_CONNINFO: a connection as a role that may create roles
# (e.g. 'host=/var/run/postgresql dbname=postgres user=postgres'); the owner
# (--owner, default userbulk) and the API role are created through it
# first, when missing, LOGIN and without a password (authentication is
# pg_hba.conf's business, passwords the site's), and the owner is granted
# CREATE on CONNINFO's database (which must exist) if it lacks it.
#
# Each file migrations/NNN_*.sql is applied once, in order, together with
# the row recording its version in userbulk.schema_version; the functions
# (functions/*.sql, in the order of $functions below: common.sql first,
# which the others build on) and privileges.sql are then (re)applied. All
# of it is one transaction: a request served meanwhile sees the old tables with the old functions or
# the new with the new, never a mix, and a failure leaves the database as
# it was. Running it again changes nothing. It may run while httpd serves:
# a request waits for the transaction at most, and the sessions mod_dbd
# holds pick up the new functions by themselves.
#
# Safe to start on several nodes at once (a deployment that runs it
# everywhere): an advisory lock makes the runs take turns, and each
# migration is re-checked under it. A database at a version newer than this
# release knows is left alone (exit 3): running older functions over a newer
# schema could break it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The files of functions/, in the order they are applied: each may use what
# the ones before it create. Every one must be there (a partial install
# would otherwise leave an endpoint on older functions).
functions=(common put_users account_update read_users audit changes scim_users scim_write scim_groups revert)
for f in "${functions[@]}"; do
    if [[ ! -f $here/functions/$f.sql ]]; then
        echo "migrate: $here/functions/$f.sql is missing" >&2
        exit 2
    fi
done
usage() {
    echo "usage: migrate.sh [--api-role NAME] [--admin ADMIN_CONNINFO [--owner NAME]] CONNINFO" >&2
    exit 2
}
api_role=userbulk_api
owner=userbulk
admin=
while (( $# > 1 )); do
    case $1 in
        --api-role) api_role=${2:-}; shift 2 || usage ;;
        --admin) admin=${2:-}; shift 2 || usage ;;
        --owner) owner=${2:-}; shift 2 || usage ;;
        *) usage ;;
    esac
done
(( $# == 1 )) && [[ $1 != -* ]] || usage
conninfo=$1
[[ -n $api_role && -n $owner ]] || usage
psql_q() { psql "$conninfo" -X -q -v ON_ERROR_STOP=1 "$@"; }

# The roles are the cluster's, not the database's: made here, not in a
# migration. (psql quotes :"name" as an identifier.)
if [[ -n $admin ]]; then
    psql "$admin" -X -q -v ON_ERROR_STOP=1 -v owner="$owner" -v api="$api_role" <<'SQL'
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner') AS todo \gset
\if :todo
\echo migrate: creating role :owner
CREATE ROLE :"owner" LOGIN;
\endif
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'api') AS todo \gset
\if :todo
\echo migrate: creating role :api
CREATE ROLE :"api" LOGIN;
\endif
SQL
    # The owner creates the schema the first time: it needs CREATE on the
    # database (found through CONNINFO, now that the owner exists).
    db=$(psql_q -At -c 'SELECT current_database()')
    psql "$admin" -X -q -v ON_ERROR_STOP=1 -v owner="$owner" -v db="$db" <<'SQL'
SELECT NOT has_database_privilege(:'owner', :'db', 'CREATE') AS todo \gset
\if :todo
\echo migrate: granting CREATE on database :db to :owner
GRANT CREATE ON DATABASE :"db" TO :"owner";
\endif
SQL
fi
role_state=$(psql_q -At -v api="$api_role" <<'SQL'
SELECT CASE
         WHEN r.oid IS NULL AND (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user)
           THEN 'create'
         WHEN r.oid IS NULL THEN 'missing'
         WHEN pg_has_role(r.rolname, current_user, 'MEMBER') THEN 'owner'
         ELSE 'ok' END
  FROM (SELECT 1) one LEFT JOIN pg_roles r ON r.rolname = :'api';
SQL
)
case $role_state in
    create)
        echo "migrate: creating role $api_role"
        psql_q -v api="$api_role" <<<'CREATE ROLE :"api" LOGIN;' ;;
    missing)
        echo "migrate: the API role $api_role does not exist; as a superuser: CREATE ROLE \"$api_role\" LOGIN; (or run with --admin)" >&2
        exit 4 ;;
    owner)
        echo "migrate: the API role $api_role is the schema's owner or one of its members: it would keep every right; name another (--api-role)" >&2
        exit 4 ;;
esac

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
    # The roles that may call the API's functions now (a migration may
    # drop them, functions/ then creates them afresh, without grants):
    # privileges.sql grants them again, besides --api-role.
    echo "CREATE TEMP TABLE ub_granted ON COMMIT DROP AS
          SELECT DISTINCT pg_get_userbyid(a.grantee)::text AS role
            FROM pg_proc p CROSS JOIN LATERAL aclexplode(p.proacl) a
           WHERE p.pronamespace = to_regnamespace('userbulk')
             AND p.proname IN ('put_users', 'account_update', 'get_users')
             AND a.privilege_type = 'EXECUTE' AND a.grantee NOT IN (0, p.proowner);"
    for f in "${functions[@]}"; do
        echo "\\i '$here/functions/$f.sql'"
    done
    echo "\\i '$here/privileges.sql'"
    echo 'COMMIT;'
} | psql_q -v api_role="$api_role"
echo "migrate: schema at version $(psql_q -At -c 'SELECT max(version) FROM userbulk.schema_version')"
