#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer: start local servers that are installed but down,
# or stop with one line saying how to get them.
set -u

read -r PGHOST PGPORT < <(python3 -c '
import os, urllib.parse
u = urllib.parse.urlparse(os.environ.get("DATABASE_URL") or "postgres://127.0.0.1:5432/tack")
print(u.hostname or "127.0.0.1", u.port or 5432)')
REDIS_HOST=127.0.0.1
REDIS_PORT=6379

answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for() {
  for _ in $(seq 1 60); do answers "$1" "$2" && return 0; sleep 0.5; done
  return 1
}

if ! answers "$PGHOST" "$PGPORT"; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "PostgreSQL is down; starting the local cluster."
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
    wait_for "$PGHOST" "$PGPORT" || { echo "PostgreSQL did not start on $PGHOST:$PGPORT." >&2; exit 1; }
  else
    echo "PostgreSQL is not reachable on $PGHOST:$PGPORT and not installed here: run 'docker compose up -d db redis' or set DATABASE_URL." >&2
    exit 1
  fi
fi

if ! answers "$REDIS_HOST" "$REDIS_PORT"; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "Redis is down; starting a local server."
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
    wait_for "$REDIS_HOST" "$REDIS_PORT" || { echo "Redis did not start on $REDIS_HOST:$REDIS_PORT." >&2; exit 1; }
  else
    echo "Redis is not reachable on $REDIS_HOST:$REDIS_PORT and not installed here: run 'docker compose up -d db redis'." >&2
    exit 1
  fi
fi
