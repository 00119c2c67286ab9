#!/usr/bin/env bash
# make backup: the PostgreSQL database, the uploaded files and a manifest to check a
# restore against, in one folder (docs/deploy.md, "Backup, restore and export").
#
#   DATABASE_URL       the database (PostgreSQL; connect directly, not through PgBouncer)
#   MEDIA_ROOT         the uploads folder (default var/media, as the settings)
#   BACKUP_DIR         where to write (default var/backups/<UTC timestamp>); must be new or empty
#   BACKUP_CHECKSUMS   1 (default): a checksum of every table's rows; 0: row counts only
#
# Writes database.dump (pg_dump's custom format), media.tar.gz and media.sha256 (unless
# uploads are in object storage), SHA256SUMS, and manifest.json last: a folder without a
# manifest is an interrupted backup. The dump, the row counts and the checksums are taken
# in one snapshot of the database, so the manifest describes exactly what was dumped.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/backup_common.sh
. "$ROOT/scripts/backup_common.sh"

DATABASE_URL=$(setting DATABASE_URL "sqlite:///$ROOT/var/prm.sqlite3")
MEDIA_ROOT=$(setting MEDIA_ROOT "$ROOT/var/media")
BACKUP_CHECKSUMS=${BACKUP_CHECKSUMS:-1}
require_postgres "$DATABASE_URL"
DATABASE_URL=$(libpq_url "$DATABASE_URL")
case "$BACKUP_CHECKSUMS" in 0 | 1) ;; *) die "BACKUP_CHECKSUMS is 1 or 0, not '$BACKUP_CHECKSUMS'." ;; esac

created_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
BACKUP_DIR=${BACKUP_DIR:-$ROOT/var/backups/$(date -u -d "$created_at" +%Y%m%dT%H%M%SZ)}
if [ -e "$BACKUP_DIR" ] && [ -n "$(ls -A "$BACKUP_DIR")" ]; then
  die "$BACKUP_DIR is not empty: a backup is written to a new folder."
fi
# The backup holds every partner's data: readable by its owner only.
umask 077
mkdir -p "$BACKUP_DIR"
BACKUP_DIR=$(cd "$BACKUP_DIR" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "==> Backing up the database into $BACKUP_DIR"
# One session holds a REPEATABLE READ transaction and exports its snapshot; pg_dump reads
# that snapshot, and the row counts and checksums are then taken in the transaction itself.
coproc SESSION { exec psql -X -q -At -v ON_ERROR_STOP=1 "$DATABASE_URL"; }
session_in=${SESSION[1]}
session_out=${SESSION[0]}
session_pid=$SESSION_PID
ask() {
  printf '%s\n' "$1" >&"$session_in"
  local answer
  IFS= read -r answer <&"$session_out" || die "The database session ended early (see the error above)."
  printf '%s' "$answer"
}
printf '%s\n' "$SESSION_SQL" >&"$session_in"
printf '%s\n' "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;" >&"$session_in"
snapshot=$(ask "SELECT pg_export_snapshot();")
server_version=$(ask "SHOW server_version;")

pg_dump --format=custom --no-owner --no-privileges --snapshot="$snapshot" \
  --file="$BACKUP_DIR/database.dump" "$DATABASE_URL"

if [ "$BACKUP_CHECKSUMS" = 1 ]; then
  echo "==> Counting and checksumming every table (BACKUP_CHECKSUMS=0 counts only)"
else
  echo "==> Counting every table's rows"
fi
ask "$(stats_sql "$BACKUP_CHECKSUMS")" >"$work/tables.json"
# Django's migration state: the last migration applied of each app.
ask "SELECT coalesce(json_object_agg(app, name ORDER BY app), '{}') FROM (
       SELECT DISTINCT ON (app) app, name FROM django_migrations ORDER BY app, name DESC) m;" \
  >"$work/migrations.json"
printf '%s\n' "COMMIT;" >&"$session_in"
exec {session_in}>&-
wait "$session_pid"

if media_on_object_storage; then
  echo "==> Uploads are in object storage: the bucket's versioning or replication backs them up; skipped here"
  media='{"included": false, "reason": "object storage: backed up by the bucket versioning or replication"}'
elif [ ! -d "$MEDIA_ROOT" ]; then
  echo "==> No uploads folder at $MEDIA_ROOT (MEDIA_ROOT): no uploads to archive" >&2
  media='{"included": false, "reason": "MEDIA_ROOT did not exist"}'
else
  echo "==> Archiving the uploads in $MEDIA_ROOT"
  # The database first, then the files: a file row in the dump has its file in the archive
  # (uploads are only ever added or removed, never changed in place).
  (cd "$MEDIA_ROOT" && find . -type f -print0 | LC_ALL=C sort -z) >"$work/media.list"
  rc=0
  tar -czf "$BACKUP_DIR/media.tar.gz" -C "$MEDIA_ROOT" --null -T "$work/media.list" || rc=$?
  # GNU tar exits 1 when a file changed while it was read (an upload in flight): a warning.
  [ "$rc" -le 1 ] || die "tar could not archive $MEDIA_ROOT (exit $rc)."
  (cd "$MEDIA_ROOT" && xargs -0 -r sha256sum --) <"$work/media.list" >"$BACKUP_DIR/media.sha256"
  files=$(tr -cd '\0' <"$work/media.list" | wc -c)
  media=$(printf '{"included": true, "file": "media.tar.gz", "bytes": %s, "files": %s, "sha256": "%s"}' \
    "$(stat -c %s "$BACKUP_DIR/media.tar.gz")" "$files" \
    "$(sha256sum "$BACKUP_DIR/media.tar.gz" | cut -d' ' -f1)")
fi
printf '%s' "$media" >"$work/media.json"

(cd "$BACKUP_DIR" && sha256sum database.dump $([ -f media.tar.gz ] && echo media.tar.gz) >SHA256SUMS)

# The code's version and commit, when the scripts run from a checkout (APP_VERSION and
# APP_COMMIT say them otherwise, e.g. in a container built without .git).
version=${APP_VERSION:-$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/pyproject.toml" 2>/dev/null | head -n 1 || true)}
commit=${APP_COMMIT:-$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || true)}
psql_quiet -v created_at="$created_at" -v version="$version" -v commit="$commit" \
  -v server_version="$server_version" -v pg_dump_version="$(pg_dump --version)" \
  -v dump_bytes="$(stat -c %s "$BACKUP_DIR/database.dump")" \
  -v dump_sha256="$(sha256sum "$BACKUP_DIR/database.dump" | cut -d' ' -f1)" \
  -v checksums="$BACKUP_CHECKSUMS" -v tables_file="$work/tables.json" \
  -v migrations_file="$work/migrations.json" -v media_file="$work/media.json" \
  "$DATABASE_URL" >"$work/manifest.json" <<'SQL'
\set tables `cat :'tables_file'`
\set migrations `cat :'migrations_file'`
\set media `cat :'media_file'`
-- Written by hand rather than by jsonb_pretty, to keep the keys in this order and one
-- table (and one app) a line.
SELECT format(
  E'{\n  "format": 1,\n  "created_at": %s,\n  "app": %s,\n  "database": %s,\n'
  || E'  "checksums": %s,\n  "checksum_method": %s,\n  "media": %s,\n'
  || E'  "migrations": {\n%s\n  },\n  "tables": {\n%s\n  }\n}',
  to_json(:'created_at'::text),
  json_build_object('version', nullif(:'version', ''), 'commit', nullif(:'commit', '')),
  json_build_object(
    'file', 'database.dump', 'bytes', :'dump_bytes'::bigint, 'sha256', :'dump_sha256',
    'server_version', :'server_version', 'pg_dump', :'pg_dump_version'),
  to_json(:'checksums'::int = 1),
  coalesce(to_json(CASE WHEN :'checksums'::int = 1 THEN
    'md5 of the sum of the first 64 bits of md5(row::text) over the rows, as text, '
    'with TimeZone UTC and DateStyle ISO' END), 'null'),
  :'media'::json,
  (SELECT coalesce(string_agg(format('    %s: %s', to_json(key), value), E',\n' ORDER BY key), '')
     FROM json_each(:'migrations'::json)),
  (SELECT coalesce(string_agg(format('    %s: %s', to_json(key), value), E',\n' ORDER BY key), '')
     FROM json_each(:'tables'::json)));
SQL
mv "$work/manifest.json" "$BACKUP_DIR/manifest.json"

tables=$(grep -c '{"rows" : ' "$BACKUP_DIR/manifest.json" || true)
echo "Backup written to $BACKUP_DIR: $tables tables, database.dump $(du -h "$BACKUP_DIR/database.dump" | cut -f1)$([ -f "$BACKUP_DIR/media.tar.gz" ] && echo ", media.tar.gz $(du -h "$BACKUP_DIR/media.tar.gz" | cut -f1)")"
