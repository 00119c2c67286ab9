#!/usr/bin/env bash
# Make sure PostgreSQL, PgBouncer and Redis answer on 127.0.0.1 for the test suite: start
# them if they are installed and down; say clearly what is missing otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
bouncer_up() { pg_isready -h 127.0.0.1 -p 6432 -q 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    echo "Starting PostgreSQL ${version}..."
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
  pg_up || { echo "PostgreSQL is not running on 127.0.0.1:5432 and could not be started." \
                  "Install it (apt-get install postgresql) or set TEST_DATABASE_URL." >&2; exit 1; }
fi

if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "Starting Redis..."
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    for _ in $(seq 1 30); do redis_up && break; sleep 1; done
  fi
  redis_up || { echo "Redis is not running on 127.0.0.1:6379 and could not be started." \
                     "Install it (apt-get install redis-server)." >&2; exit 1; }
fi
# PgBouncer in transaction mode on 6432 (deploy/pgbouncer/pgbouncer.ini); it refuses to run
# as root, so it runs as postgres. Without it, tests/test_pgbouncer.py says it is skipped.
if ! bouncer_up && command -v pgbouncer >/dev/null 2>&1; then
  echo "Starting PgBouncer..."
  mkdir -p /tmp/prm-pgbouncer
  if [ "$(id -u)" = 0 ]; then
    chown postgres /tmp/prm-pgbouncer
    pgbouncer -d -u postgres deploy/pgbouncer/pgbouncer.ini || true
  else
    pgbouncer -d deploy/pgbouncer/pgbouncer.ini || true
  fi
  for _ in $(seq 1 30); do bouncer_up && break; sleep 1; done
fi
if bouncer_up; then
  echo "PostgreSQL, PgBouncer and Redis are up."
else
  echo "PostgreSQL and Redis are up; PgBouncer is not installed or did not start" \
       "(apt-get install pgbouncer): its tests will be skipped."
fi
