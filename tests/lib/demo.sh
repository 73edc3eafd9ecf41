# Sourced by the scripts under tests/: starts `cloudcensus demo` (target/debug, built first)
# on a throwaway database and sets BASE (its URL) and TOKEN (a staff token).
#
#   start_demo WORK [POSTGRES_ADMIN_URL]
#
# WORK is a scratch directory the caller removes; with POSTGRES_ADMIN_URL the demo gets a
# fresh PostgreSQL database made beside that one. `stop_demo` stops the server and drops the
# database; call it from the caller's EXIT trap.
DEMO_PID=
DEMO_DB_NAME=
DEMO_PG_ADMIN_URL=

start_demo() {
  local work=$1 database_url
  DEMO_PG_ADMIN_URL=${2:-}
  cargo build -q --bin cloudcensus
  if [ -n "$DEMO_PG_ADMIN_URL" ]; then
    DEMO_DB_NAME="cc_demo_$(date +%s)_$$"
    psql "$DEMO_PG_ADMIN_URL" -qc "CREATE DATABASE $DEMO_DB_NAME"
    database_url="${DEMO_PG_ADMIN_URL%/*}/$DEMO_DB_NAME"
  else
    database_url="sqlite://$work/demo.db?mode=rwc"
  fi
  CLOUDCENSUS_BIND=127.0.0.1:0 CLOUDCENSUS_SYNC_CRON="0 0 0 1 1 *" RUST_LOG=warn \
    target/debug/cloudcensus demo --database-url "$database_url" >"$work/demo.out" 2>"$work/demo.err" &
  DEMO_PID=$!
  for _ in $(seq 1 600); do
    grep -q '^Staff token' "$work/demo.out" 2>/dev/null && break
    kill -0 "$DEMO_PID" 2>/dev/null || { cat "$work/demo.err"; echo "the demo server exited"; return 1; }
    sleep 0.2
  done
  BASE=$(sed -n 's/^cloudcensus demo is serving at \([^ ]*\).*/\1/p' "$work/demo.out")
  TOKEN=$(sed -n 's/^Staff token.*: \([0-9a-f]*\)$/\1/p' "$work/demo.out")
  [ -n "$BASE" ] && [ -n "$TOKEN" ] || { cat "$work/demo.out" "$work/demo.err"; echo "no demo server"; return 1; }
}

stop_demo() {
  [ -n "$DEMO_PID" ] && kill "$DEMO_PID" 2>/dev/null && wait "$DEMO_PID" 2>/dev/null
  [ -n "$DEMO_DB_NAME" ] && psql "$DEMO_PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DEMO_DB_NAME WITH (FORCE)" >/dev/null 2>&1
  DEMO_PID=
  DEMO_DB_NAME=
}
