#!/usr/bin/env bash
# One side of a load comparison: starts a server, checks one real request, warms up, runs wrk
# RUNS times, prints each run's JSON line and the medians, stops the server (by its pid).
# Run it from a folder holding this reference, its node_modules and fixtures (make-fixtures.mjs);
# crates/ci-preview-server/bench/run.sh prepares one and calls this for each side.
#
# Env: SERVER_CMD (default `node server.mjs`; the server must listen on 127.0.0.1:$PORT)
#      PORT=8787 RUNS=5 THREADS=1 CONNS=16 DURATION=10s
#      GET_PATH=/path  load a GET of that path instead of the POST (the HTTP floor)
#      SERVER_CPUS / WRK_CPUS  taskset CPU lists to pin each side (optional)
set -euo pipefail
cd "$(dirname "$0")"
PORT=${PORT:-8787} RUNS=${RUNS:-5} THREADS=${THREADS:-1} CONNS=${CONNS:-16} DURATION=${DURATION:-10s}
SERVER_CMD=${SERVER_CMD:-node server.mjs}
export PORT GET_PATH=${GET_PATH:-}
on_cpus() { local cpus=$1; shift; if [ -n "$cpus" ]; then taskset -c "$cpus" "$@"; else "$@"; fi; }

log=$(mktemp)
# The subshell execs into the server, so `$server` is the server's own pid and the trap's kill
# reaches it (a backgrounded shell function would leave the server running, still listening).
# shellcheck disable=SC2086 # SERVER_CMD is a command line on purpose
(
  if [ -n "${SERVER_CPUS:-}" ]; then exec taskset -c "$SERVER_CPUS" $SERVER_CMD; fi
  exec $SERVER_CMD
) >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -f "$log"' EXIT
url="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do curl -s -o /dev/null "$url/" && break; sleep 0.1; done

TOKEN_FILE=$(mktemp)
export TOKEN_FILE
node mint-token.mjs >"$TOKEN_FILE"
# One real request first: a load run of refusals would measure nothing useful.
if ! curl -sf -X POST "$url/api/~/ci/flags/encrypt-override" -H 'content-type: application/json' \
  -H "x-github-oidc-token: $(cat "$TOKEN_FILE")" -d '{"flags":{"newCheckout":true}}' >/dev/null; then
  echo "the server refused a valid request; its output:" >&2
  cat "$log" >&2
  exit 1
fi

on_cpus "${WRK_CPUS:-}" wrk -t"$THREADS" -c"$CONNS" -d5s -s load.lua "$url" >/dev/null # warm-up
runs=$(mktemp)
for _ in $(seq 1 "$RUNS"); do
  on_cpus "${WRK_CPUS:-}" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s load.lua "$url" |
    sed -n 's/^JSON //p' | tee -a "$runs"
done
python3 - "$runs" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
medians = {k: round(statistics.median(r[k] for r in rows), 3) for k in ("rps", "p50_ms", "p99_ms")}
bad = sum(r["non2xx"] + r["errors"] for r in rows)
print("MEDIAN", json.dumps(medians), "non2xx_or_errors", bad)
PY
rm -f "$runs" "$TOKEN_FILE"
