#!/usr/bin/env bash
# Cold release build of the template's function project (templates/vercel/, what Vercel builds on
# every uncached preview), as a project of its own against this checkout, each configuration in a
# fresh target dir, side by side in one run, with `cargo build --timings` reports kept.
#
# Usage: crates/ci-preview-vercel/bench/template-build.sh [OUT_DIR]
#   BEFORE="CARGO_PROFILE_RELEASE_LTO=thin CARGO_PROFILE_RELEASE_CODEGEN_UNITS=4" (the default) is
#   the release profile the template had before; "after" is the template as committed.
# Needs the crates downloaded (it builds --offline): run `cargo fetch` in the project once.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
OUT=${1:-$(mktemp -d)}
BEFORE=${BEFORE:-CARGO_PROFILE_RELEASE_LTO=thin CARGO_PROFILE_RELEASE_CODEGEN_UNITS=4}
PROJECT=$OUT/project
mkdir -p "$OUT"
rm -rf "$PROJECT"
cp -r "$REPO/templates/vercel" "$PROJECT"
# The toolkit from this checkout instead of the team's git tag (what the project test does too).
sed -i -E 's|^([a-z-]+) = \{ git = "https://github.com/OWNER/ci-in-preview", tag = "[^"]*"|\1 = { path = "'"$REPO"'/crates/\1"|' \
  "$PROJECT/Cargo.toml"
command -v cmake >/dev/null && echo "note: cmake is on PATH; the build must not need it (Vercel's image has none)"

build() { # NAME ENV...
  local name=$1; shift
  local target=$OUT/target-$name
  rm -rf "$target"
  local load start end
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  start=$(date +%s.%N)
  (cd "$PROJECT" && env "$@" CARGO_TARGET_DIR="$target" \
    cargo build --release --offline --bin ci-in-preview --timings >"$OUT/$name.log" 2>&1)
  end=$(date +%s.%N)
  cp "$target"/cargo-timings/cargo-timing.html "$OUT/$name-timing.html" 2>/dev/null || true
  printf '%-7s %6.1f s  load before %s, after %s  binary %s bytes\n' "$name" \
    "$(echo "$end - $start" | bc)" "$load" "$(cut -d' ' -f1-3 /proc/loadavg)" \
    "$(stat -c %s "$target/release/ci-in-preview")"
}

echo "cores: $(nproc); cold release builds of the template's function, fresh target dirs"
# shellcheck disable=SC2086
build before $BEFORE
build after
echo "timings: $OUT/before-timing.html, $OUT/after-timing.html"
