#!/usr/bin/env bash
# make restore BACKUP=var/backups/<timestamp> [FORCE=1]: a backup of scripts/backup.sh back
# into DATABASE_URL and MEDIA_ROOT, then checked against its manifest (docs/deploy.md,
# "Backup, restore and export").
#
#   BACKUP        the backup's folder (or the first argument)
#   DATABASE_URL  the database to restore into: it must be empty (or not exist yet);
#                 FORCE=1 drops a non-empty one and creates it again
#   MEDIA_ROOT    where the uploads go (default var/media, as the settings)
#   VERIFY_ONLY   1: restore nothing, only check DATABASE_URL and MEDIA_ROOT against the manifest
#
# Exits 0 only when every table's row count and checksum, and every uploaded file's bytes,
# are those of the manifest; otherwise it lists what differs and exits 1.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/backup_common.sh
. "$ROOT/scripts/backup_common.sh"

BACKUP=${BACKUP:-${1:-}}
[ -n "$BACKUP" ] || die "Name the backup to restore: make restore BACKUP=var/backups/<timestamp>"
[ -d "$BACKUP" ] || die "$BACKUP is not a folder."
BACKUP=$(cd "$BACKUP" && pwd)
[ -f "$BACKUP/manifest.json" ] ||
  die "$BACKUP has no manifest.json: not a backup, or one that was interrupted before its end."
[ -f "$BACKUP/database.dump" ] || die "$BACKUP has no database.dump."
DATABASE_URL=$(setting DATABASE_URL "sqlite:///$ROOT/var/prm.sqlite3")
MEDIA_ROOT=$(setting MEDIA_ROOT "$ROOT/var/media")
FORCE=${FORCE:-}
VERIFY_ONLY=${VERIFY_ONLY:-}
require_postgres "$DATABASE_URL"
DATABASE_URL=$(libpq_url "$DATABASE_URL")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The database's name, and the URL of the server's maintenance database (to drop or
# create it): the same URL with another database name, query options kept.
base=${DATABASE_URL%%\?*}
options=${DATABASE_URL#"$base"}
dbname=${base##*/}
dbname=$(printf '%b' "${dbname//%/\\x}")
[ -n "$dbname" ] || die "DATABASE_URL names no database."
maintenance_url="${base%/*}/${MAINTENANCE_DB:-postgres}$options"

# Row counts and checksums of DATABASE_URL against the manifest's; the uploads' bytes
# against media.sha256. Prints what differs and exits 1, or says that all matched.
verify() {
  echo "==> Checking the database against the manifest"
  local checksums differences summary failed=0
  checksums=$(psql_quiet -v manifest_file="$BACKUP/manifest.json" "$DATABASE_URL" <<'SQL'
\set manifest `cat :'manifest_file'`
SELECT CASE WHEN (:'manifest'::jsonb ->> 'checksums')::boolean THEN 1 ELSE 0 END;
SQL
  )
  { printf '%s\n' "$SESSION_SQL"; stats_sql "$checksums"; } | psql_quiet "$DATABASE_URL" >"$work/restored.json"
  differences=$(psql_quiet -v manifest_file="$BACKUP/manifest.json" \
    -v restored_file="$work/restored.json" "$DATABASE_URL" <<'SQL'
\set manifest `cat :'manifest_file'`
\set restored `cat :'restored_file'`
SELECT format('  %s: %s', coalesce(b.key, r.key), CASE
         WHEN r.key IS NULL THEN 'in the backup, missing here'
         WHEN b.key IS NULL THEN 'here, not in the backup'
         WHEN b.value -> 'rows' <> r.value -> 'rows' THEN
           format('%s rows in the backup, %s here', b.value ->> 'rows', r.value ->> 'rows')
         ELSE 'the same number of rows, with different contents (checksum)' END)
FROM jsonb_each(:'manifest'::jsonb -> 'tables') b
FULL JOIN jsonb_each(:'restored'::jsonb) r ON r.key = b.key
WHERE b.key IS NULL OR r.key IS NULL OR b.value -> 'rows' <> r.value -> 'rows'
   OR (b.value ->> 'checksum' IS NOT NULL
       AND b.value ->> 'checksum' IS DISTINCT FROM r.value ->> 'checksum')
ORDER BY coalesce(b.key, r.key);
SQL
  )
  summary=$(psql_quiet -v restored_file="$work/restored.json" "$DATABASE_URL" <<'SQL'
\set restored `cat :'restored_file'`
SELECT format('%s tables, %s rows', count(*), coalesce(sum((value ->> 'rows')::bigint), 0))
FROM jsonb_each(:'restored'::jsonb);
SQL
  )
  if [ -n "$differences" ]; then
    echo "Verification failed: these tables differ from the backup's manifest:" >&2
    echo "$differences" >&2
    failed=1
  elif [ "$checksums" = 1 ]; then
    echo "Database verified: $summary; row counts and checksums match the manifest."
  else
    echo "Database verified: $summary; row counts match the manifest (it has no checksums)."
  fi
  if [ -f "$BACKUP/media.sha256" ] && ! media_on_object_storage; then
    echo "==> Checking the uploads in $MEDIA_ROOT against media.sha256"
    if [ ! -d "$MEDIA_ROOT" ]; then
      echo "Verification failed: $MEDIA_ROOT does not exist." >&2
      failed=1
    elif ! (cd "$MEDIA_ROOT" && sha256sum --quiet --strict -c "$BACKUP/media.sha256" >"$work/media.check" 2>&1); then
      echo "Verification failed: these uploaded files differ from the backup:" >&2
      sed 's/^/  /' "$work/media.check" >&2
      failed=1
    else
      echo "Uploads verified: $(wc -l <"$BACKUP/media.sha256") files, the bytes of the backup."
    fi
  fi
  [ "$failed" = 0 ] || exit 1
}

if [ "$VERIFY_ONLY" = 1 ]; then
  verify
  exit 0
fi

created_at=$(sed -n 's/^  "created_at": "\(.*\)",$/\1/p' "$BACKUP/manifest.json")
echo "==> Restoring the backup of ${created_at:-an unknown date} into the database '$dbname'"
(cd "$BACKUP" && sha256sum --quiet --strict -c SHA256SUMS) ||
  die "The backup's files do not match its SHA256SUMS: it is damaged or incomplete. Nothing was restored."

if psql_quiet "$DATABASE_URL" -c "SELECT 1" >/dev/null 2>"$work/connect.err"; then
  tables=$(psql_quiet "$DATABASE_URL" <<'SQL'
SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND n.nspname NOT IN ('information_schema') AND n.nspname NOT LIKE 'pg\_%';
SQL
  )
  if [ "$tables" != 0 ]; then
    [ "$FORCE" = 1 ] ||
      die "The database '$dbname' is not empty ($tables tables, sequences or views): restore refused." \
        "Restore into a new database, or drop this one and create it again with FORCE=1 (everything in it is lost)."
    echo "==> FORCE=1: dropping the database '$dbname' and creating it again"
    psql_quiet -v db="$dbname" "$maintenance_url" <<'SQL'
DROP DATABASE :"db" WITH (FORCE);
CREATE DATABASE :"db" TEMPLATE template0;
SQL
  fi
else
  exists=$(psql_quiet -v db="$dbname" "$maintenance_url" <<'SQL' || true
SELECT count(*) FROM pg_database WHERE datname = :'db';
SQL
  )
  if [ "$exists" = 0 ]; then
    echo "==> Creating the database '$dbname'"
    psql_quiet -v db="$dbname" "$maintenance_url" <<'SQL'
CREATE DATABASE :"db" TEMPLATE template0;
SQL
  else
    cat "$work/connect.err" >&2
    die "Cannot connect to the database '$dbname' (above)."
  fi
fi

echo "==> Restoring the database (one transaction: on an error, nothing is kept)"
pg_restore --no-owner --no-privileges --exit-on-error --single-transaction \
  --dbname="$DATABASE_URL" "$BACKUP/database.dump"

if [ -f "$BACKUP/media.tar.gz" ]; then
  if media_on_object_storage; then
    echo "==> This site keeps uploads in object storage: media.tar.gz is not unpacked;" \
      "copy its files to the bucket if they are needed there."
  else
    echo "==> Unpacking the uploads into $MEDIA_ROOT"
    mkdir -p "$MEDIA_ROOT"
    tar -xzf "$BACKUP/media.tar.gz" -C "$MEDIA_ROOT" --no-same-owner
  fi
else
  echo "==> The backup holds no uploads: $(sed -n 's/^  "media": .*"reason": "\(.*\)".*$/\1/p' "$BACKUP/manifest.json")"
fi

verify
echo "Restored $BACKUP into '$dbname'."
