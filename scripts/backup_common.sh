# Shared by scripts/backup.sh and scripts/restore.sh (sourced, not run).
# ROOT must be set to the project's folder before sourcing.

die() {
  echo "$*" >&2
  exit 1
}

# A setting as the site reads it: the environment first, then the .env file beside
# manage.py (prm/settings/base.py reads it the same way), then the site's default.
setting() {
  local name=$1 default=${2-}
  if [ -n "${!name+set}" ]; then
    printf '%s' "${!name}"
    return
  fi
  if [ -f "$ROOT/.env" ]; then
    local line
    line=$(grep -E "^[[:space:]]*(export[[:space:]]+)?${name}=" "$ROOT/.env" | tail -n 1 || true)
    if [ -n "$line" ]; then
      line=${line#*=}
      line=${line%\"}
      line=${line#\"}
      line=${line%\'}
      line=${line#\'}
      printf '%s' "$line"
      return
    fi
  fi
  printf '%s' "$default"
}

# Backups are of PostgreSQL: the SQLite file of `make run` is a trial database.
require_postgres() {
  local url=$1
  case "$url" in
    postgres://* | postgresql://* | pgsql://*) ;;
    sqlite:* | spatialite:*)
      die "DATABASE_URL is a SQLite file ($url): make backup and make restore work on PostgreSQL only." \
        "SQLite is the trial database of 'make run'; to keep it, stop the site and copy the file."
      ;;
    *) die "DATABASE_URL must be a PostgreSQL URL (postgres://user:password@host:5432/name), not: ${url%%://*}://…" ;;
  esac
  for tool in psql pg_dump pg_restore; do
    command -v "$tool" >/dev/null 2>&1 ||
      die "$tool is not installed: install PostgreSQL's client tools (apt-get install postgresql-client)."
  done
}

# django-environ accepts pgsql:// as well; libpq knows only postgres(ql)://.
libpq_url() {
  case "$1" in
    pgsql://*) printf 'postgres://%s' "${1#pgsql://}" ;;
    *) printf '%s' "$1" ;;
  esac
}

# Uploads kept in object storage rather than under MEDIA_ROOT: the bucket's own
# versioning or replication backs them up, not these scripts.
media_on_object_storage() {
  [ "$(setting MEDIA_STORAGE)" = "s3" ] || [ -n "$(setting AWS_STORAGE_BUCKET_NAME)" ]
}

psql_quiet() {
  psql -X -q -At -v ON_ERROR_STOP=1 "$@"
}

# Session settings under which a row's text is the same on every server and client, so a
# checksum taken at backup matches the one taken after a restore; no timeouts, since one
# backup's transaction lasts as long as pg_dump does.
SESSION_SQL="SET TimeZone TO 'UTC'; SET DateStyle TO 'ISO, YMD'; SET IntervalStyle TO 'postgres';
SET extra_float_digits TO 3; SET bytea_output TO 'hex'; SET statement_timeout TO 0;
SET idle_in_transaction_session_timeout TO 0;"

# One statement, one line of JSON: every table's row count and, with checksums on, a
# checksum of its rows: {"public.deals_deal": {"rows": 12, "checksum": "…"}, …}.
# The checksum is the md5 of the sum of the first 64 bits of each row's md5: one
# sequential scan per table, constant memory and no sort, and independent of the order
# in which rows are read (a restored table is the same set of rows, not the same layout).
stats_sql() {
  local checksum="NULL::text"
  if [ "$1" = 1 ]; then
    checksum="md5(coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint), 0)::text)"
  fi
  cat <<SQL
SELECT coalesce(json_object_agg(
         n.nspname || '.' || c.relname,
         json_build_object(
           'rows', (xpath('/row/n/text()', x))[1]::text::bigint,
           'checksum', (xpath('/row/c/text()', x))[1]::text)
         ORDER BY n.nspname, c.relname), '{}')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL query_to_xml(
  format(\$q\$SELECT count(*) AS n, $checksum AS c FROM %I.%I t\$q\$, n.nspname, c.relname),
  true, true, '') x
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('information_schema')
  AND n.nspname NOT LIKE 'pg\_%';
SQL
}
