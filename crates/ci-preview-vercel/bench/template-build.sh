#!/usr/bin/env bash
# Cold release build of the template's function project (templates/vercel/, what Vercel builds on
# every uncached preview), as a project of its own against this checkout, each configuration in a
# fresh target dir, back to back in one run, with `cargo build --timings` reports kept.
#
# Usage: crates/ci-preview-vercel/bench/template-build.sh [OUT_DIR]
#   "before" is the template on the default crypto backend (aws-lc: its `ring` features switched to
#   `aws-lc`), what it built until the backend became a feature; "after" is the template as
#   committed (ring). CONFIGS="after" builds only one; BEFORE_ENV="CARGO_PROFILE_RELEASE_LTO=thin
#   CARGO_PROFILE_RELEASE_CODEGEN_UNITS=4" adds the release profile the template had before that.
# For each: wall time, user and system CPU time (GNU time), the load average around it, the
# binary's size, and the five longest units of the timings report. On a shared machine compare
# CPU time; on an idle 2-core machine the wall time is about max(CPU / 2, the longest chain).
# Needs the crates downloaded (it builds --offline): run `cargo fetch` in the project once.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
OUT=${1:-$(mktemp -d)}
CONFIGS=${CONFIGS:-before after}
BEFORE_ENV=${BEFORE_ENV:-}
mkdir -p "$OUT"
command -v cmake >/dev/null && echo "note: cmake is on PATH; the build must not need it (Vercel's image has none)"

project() { # NAME: a copy of the template, the toolkit from this checkout (as the project test does)
  local dir=$OUT/project-$1
  rm -rf "$dir"
  cp -r "$REPO/templates/vercel" "$dir"
  sed -i -E 's|^([a-z-]+) = \{ git = "https://github.com/OWNER/ci-in-preview", tag = "[^"]*"|\1 = { path = "'"$REPO"'/crates/\1"|' \
    "$dir/Cargo.toml"
  if [ "$1" = before ]; then
    sed -i -E 's|features = \["ring"\]|features = ["aws-lc"]|' "$dir/Cargo.toml"
  fi
  echo "$dir"
}

build() { # NAME ENV...
  local name=$1; shift
  local dir target load start end
  dir=$(project "$name")
  target=$OUT/target-$name
  rm -rf "$target"
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  start=$(date +%s.%N)
  (cd "$dir" && env "$@" CARGO_TARGET_DIR="$target" \
    /usr/bin/time -f 'cpu %U %S' -o "$OUT/$name.time" \
    cargo build --release --offline --bin ci-in-preview --timings >"$OUT/$name.log" 2>&1) \
    || { tail -20 "$OUT/$name.log"; exit 1; }
  end=$(date +%s.%N)
  cp "$target"/cargo-timings/cargo-timing.html "$OUT/$name-timing.html" 2>/dev/null || true
  read -r _ user sys < <(tail -1 "$OUT/$name.time")
  printf '%-7s wall %6.1f s  cpu user %6.1f s + sys %5.1f s  load before %s, after %s  binary %s bytes\n' \
    "$name" "$(echo "$end - $start" | bc)" "$user" "$sys" "$load" "$(cut -d' ' -f1-3 /proc/loadavg)" \
    "$(stat -c %s "$target/release/ci-in-preview")"
  (cd "$dir" && cargo tree --offline -e normal,build --prefix none -p ci-in-preview-function \
    | grep -E '^(aws-lc-sys|ring|cmake) ' | sort -u | sed 's/^/        builds: /') || true
  command -v python3 >/dev/null && python3 - "$OUT/$name-timing.html" <<'EOF' || true
import json, re, sys
text = open(sys.argv[1]).read()
units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", text, re.S).group(1))
units.sort(key=lambda u: -u["duration"])
print("        longest units: " + ", ".join(
    f"{u['name']}{' (' + u['target'].strip() + ')' if u['target'].strip() else ''} {u['duration']:.1f} s"
    for u in units[:5]))
EOF
}

echo "cores: $(nproc); cold release builds of the template's function, fresh target dirs"
for config in $CONFIGS; do
  if [ "$config" = before ]; then
    # shellcheck disable=SC2086
    build before $BEFORE_ENV
  else
    build "$config"
  fi
done
echo "timings: $OUT/*-timing.html"
