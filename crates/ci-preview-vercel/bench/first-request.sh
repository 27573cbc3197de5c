#!/usr/bin/env bash
# Exec -> first verified 200 of ci-preview-server and of the Vercel function (ci-preview-vercel,
# under an emulated Vercel host), release builds, static keys, side by side in one run.
# Usage: crates/ci-preview-vercel/bench/first-request.sh [ROUNDS]   (default 20; needs node, python3)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
(cd "$REPO" && cargo build --release --locked -p ci-preview-server -p ci-preview-vercel)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
node "$HERE/fixtures.mjs" "$WORK"
python3 "$HERE/first-request.py" "$TARGET/release/ci-preview-server" \
  "$TARGET/release/ci-preview-vercel" "$WORK" "${1:-20}"
