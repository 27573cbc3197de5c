#!/usr/bin/env bash
# Side-by-side load benchmark of ci-preview-server against the Node reference
# (bench/node-reference at the repository root), same token, keys, body and load; plus peak RSS
# and exec -> first verified 200. Heavy: run it on a quiet machine (nothing else compiling).
#
# Env: WORK=scratch folder (default /tmp/ci-preview-bench), RUNS/DURATION/CONNS as run-bench.sh,
#      ROUNDS=N to alternate the two sides N times (node, server, node, server, ...) and print each
#      round's ratio: on a shared machine only a ratio measured back to back means anything,
#      SKIP_NODE=1 to skip the reference run, SERVER_CPUS/WRK_CPUS to pin (see run-bench.sh),
#      RUST_LOG for the server (default warn: the reference logs nothing per request).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
REF=$REPO/bench/node-reference
WORK=${WORK:-/tmp/ci-preview-bench}
PORT=${PORT:-8787}

echo "== building the release binary"
(cd "$REPO" && cargo build --release -p ci-preview-server)
BIN=$REPO/target/release/ci-preview-server

echo "== preparing $WORK (copy of the reference, npm install, fixtures)"
mkdir -p "$WORK"
cp -r "$REF"/. "$WORK"/
(cd "$WORK" && { [ -d node_modules ] || npm install --no-audit --no-fund; })
(cd "$WORK" && { [ -f fixtures/meta.json ] || node make-fixtures.mjs; })
cp "$HERE/policy.toml" "$WORK/ci-bench-policy.toml"

export CI_PREVIEW_ENV=preview
FLAGS_SECRET=$(cat "$WORK/fixtures/flags-secret.txt")
export FLAGS_SECRET
export RUST_LOG=${RUST_LOG:-warn}
RUST_CMD="$BIN --listen 127.0.0.1:$PORT --policy $WORK/ci-bench-policy.toml"

# Peak RSS (VmHWM) of whatever listens on $PORT, sampled until it exits. Read-only.
watch_rss() {
  local out=$1 pid=""
  for _ in $(seq 1 100); do
    pid=$(ss -ltnpH "sport = :$PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)
    [ -n "$pid" ] && break
    sleep 0.1
  done
  [ -z "$pid" ] && { echo "rss: server not found" > "$out"; return; }
  local peak=0 kb
  while kb=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null) && [ -n "$kb" ]; do
    peak=$kb; sleep 0.5
  done
  echo "peak_rss_mb $(awk -v k="$peak" 'BEGIN {printf "%.1f", k/1024}')" > "$out"
}

run_side() {  # name, SERVER_CMD, GET_PATH (empty: the POST); the median req/s in $LAST_RPS
  local name=$1 cmd=$2 get_path=$3 rss out
  rss=$(mktemp)
  out=$(mktemp)
  echo "== $name (${get_path:-POST})"
  watch_rss "$rss" &
  local watcher=$!
  (cd "$WORK" && SERVER_CMD="$cmd" GET_PATH="$get_path" PORT=$PORT ./run-bench.sh) | tee "$out"
  wait "$watcher" || true
  echo "$name $(cat "$rss")"
  LAST_RPS=$(sed -n 's/^MEDIAN {"rps": \([0-9.]*\).*/\1/p' "$out")
  rm -f "$rss" "$out"
}

for round in $(seq 1 "${ROUNDS:-1}"); do
  if [ -z "${SKIP_NODE:-}" ]; then
    run_side node "node server.mjs" ""
    node_rps=$LAST_RPS
  fi
  run_side ci-preview-server "$RUST_CMD" ""
  if [ -z "${SKIP_NODE:-}" ]; then
    echo "ROUND $round server/node $(awk -v s="$LAST_RPS" -v n="$node_rps" 'BEGIN {printf "%.2f", s/n}')x ($LAST_RPS vs $node_rps req/s)"
  fi
done
run_side ci-preview-server "$RUST_CMD" /api/~/ci/health

echo "== exec -> first verified 200"
TOKEN=$(mktemp)
(cd "$WORK" && node mint-token.mjs > "$TOKEN")
python3 "$HERE/first-request.py" "$BIN" "$WORK/ci-bench-policy.toml" "$TOKEN" "$WORK/fixtures/flags-secret.txt" 20
rm -f "$TOKEN"
