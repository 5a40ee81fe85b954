#!/usr/bin/env bash
# `make run`: migrate, load demo data if the database is empty, and serve on 127.0.0.1:$PORT
# (default 8000).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export DJANGO_DEBUG="${DJANGO_DEBUG:-1}"
PORT="${PORT:-8000}"
case "$PORT" in
  ''|*[!0-9]*) echo "Tack: PORT must be a port number, not '$PORT'." >&2; exit 2 ;;
esac
# Links in emails and API answers point at this server unless configured otherwise.
export TACK_PUBLIC_BASE_URL="${TACK_PUBLIC_BASE_URL:-http://127.0.0.1:$PORT}"

if [ -z "${DATABASE_URL:-}" ]; then
  echo "Tack: no DATABASE_URL set — using the embedded SQLite database (db.sqlite3)."
  echo "      For PostgreSQL: DATABASE_URL=postgres://postgres@127.0.0.1:5432/tack make run"
fi

pids=()
cleanup() { for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

if [ -n "${REDIS_URL:-}" ] && $PY -c "import redis,sys; redis.Redis.from_url('$REDIS_URL', socket_connect_timeout=1).ping()" 2>/dev/null; then
  echo "Tack: Redis at $REDIS_URL answers — starting a Celery worker and beat."
  START_WORKERS=1
else
  if [ -n "${REDIS_URL:-}" ]; then
    echo "Tack: REDIS_URL is set but Redis does not answer — running tasks eagerly instead."
  else
    echo "Tack: no REDIS_URL set — Celery tasks run eagerly in the web process (no worker, no beat)."
  fi
  unset REDIS_URL
  START_WORKERS=0
fi

$PY manage.py migrate --noinput
if command -v msgfmt >/dev/null 2>&1; then
  $PY manage.py compilemessages --ignore=.venv -v 0
else
  echo "Tack: GNU gettext not found — using the compiled translations in locale/."
fi
$PY manage.py seed_demo --if-empty --customers "${DEMO_CUSTOMERS:-2000}"

if [ "$START_WORKERS" = 1 ]; then
  mkdir -p run
  .venv/bin/celery -A config worker --loglevel=INFO --concurrency=2 >run/worker.log 2>&1 &
  pids+=($!)
  .venv/bin/celery -A config beat --loglevel=INFO --schedule=run/celerybeat-schedule >run/beat.log 2>&1 &
  pids+=($!)
  echo "Tack: worker and beat logs are in run/."
fi

echo "Tack: serving on http://127.0.0.1:$PORT (admin: http://127.0.0.1:$PORT/admin/; another port: PORT=8001 make run)"
$PY manage.py runserver "127.0.0.1:$PORT"
