#!/usr/bin/env bash
# Cold release build of the template's function project (templates/vercel/, what Vercel builds on
# every uncached preview), as a project of its own against this checkout, each configuration in a
# fresh target dir, back to back in one run, with `cargo build --timings` reports kept.
#
# Usage: crates/ci-preview-vercel/bench/template-build.sh [OUT_DIR]
#   "before" is the template on the default crypto backend (aws-lc: its `ring` features switched to
#   `aws-lc`), what it built until the backend became a feature, at opt-level 3 (BEFORE_ENV,
#   default "CARGO_PROFILE_RELEASE_OPT_LEVEL=3"; add CARGO_PROFILE_RELEASE_LTO=thin
#   CARGO_PROFILE_RELEASE_CODEGEN_UNITS=4 for the profile before that); "opt1" is the template as
#   committed but at opt-level 1 (the crypto crates at 3 in both); "after" is the template as
#   committed (ring; no optimisation but for the crypto crates). CONFIGS="after" builds one;
#   CONFIGS="before opt1 after" all three.
# For each: wall time, user and system CPU time (GNU time), the load average around it, the
# binary's size, and the five longest units of the timings report. On a shared machine compare
# CPU time; on an idle 2-core machine the wall time is about max(CPU / 2, the longest chain).
# Then, when more than one configuration was built and node is on PATH, what the build buys at
# run time: each binary under the emulated Vercel host (first-request.py --functions), exec ->
# first verified 200 and the time per request after it, side by side against the last one built.
# Needs the crates downloaded (it builds --offline): run `cargo fetch` in the project once.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
OUT=${1:-$(mktemp -d)}
CONFIGS=${CONFIGS:-before after}
BEFORE_ENV=${BEFORE_ENV:-CARGO_PROFILE_RELEASE_OPT_LEVEL=3}
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
  case $config in
    # shellcheck disable=SC2086
    before) build before $BEFORE_ENV ;;
    opt1) build opt1 CARGO_PROFILE_RELEASE_OPT_LEVEL=1 ;;
    after) build after ;;
    *) echo "unknown configuration $config (before, opt1, after)" >&2; exit 2 ;;
  esac
done
echo "timings: $OUT/*-timing.html"

read -r -a built <<<"$CONFIGS"
if [ "${#built[@]}" -gt 1 ] && command -v node >/dev/null; then
  last=${built[-1]}
  node "$HERE/fixtures.mjs" "$OUT/fixtures" >/dev/null
  for config in "${built[@]:0:${#built[@]}-1}"; do
    printf '%s vs %s at run time: ' "$config" "$last"
    python3 "$HERE/first-request.py" --functions "$OUT/target-$config/release/ci-in-preview" \
      "$OUT/target-$last/release/ci-in-preview" "$OUT/fixtures" "${ROUNDS:-10}"
  done
fi
