#!/usr/bin/env bash
# Regenerates authjs-vectors.json with the real Auth.js: installs the pinned @auth/core into a
# scratch folder (nothing is added to the repository) and runs generate-vectors.mjs.
# Needs Node 20+ and npm. Usage: crates/encrypt-session/interop/generate-vectors.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
npm install --prefix "$dir" --no-audit --no-fund --silent @auth/core@0.41.3
AUTHJS_DIR="$dir" node "$here/generate-vectors.mjs" "$here/authjs-vectors.json"
