#!/usr/bin/env bash
# Start the web server, a Celery worker and Celery beat with the embedded defaults
# (SQLite + filesystem broker unless DATABASE_URL / CELERY_BROKER_URL say otherwise).
# Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-prm.settings.local}
BIN=.venv/bin
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
mkdir -p var/log

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

$BIN/celery -A prm worker --loglevel=info --concurrency=2 >var/log/worker.log 2>&1 &
pids+=($!)
$BIN/celery -A prm beat --loglevel=info --pidfile= >var/log/beat.log 2>&1 &
pids+=($!)

cat <<MSG

  PRM is running at http://${HOST}:${PORT}/
  Admin: http://${HOST}:${PORT}/admin/   API docs: http://${HOST}:${PORT}/api/docs/
  Worker and beat logs: var/log/worker.log, var/log/beat.log
$(cat var/demo-logins.txt 2>/dev/null || true)

MSG

$BIN/gunicorn prm.wsgi:application --bind "${HOST}:${PORT}" --workers 2 --threads 4 \
  --access-logfile - --env DJANGO_SETTINGS_MODULE="$DJANGO_SETTINGS_MODULE" &
pids+=($!)
wait -n "${pids[@]}"
