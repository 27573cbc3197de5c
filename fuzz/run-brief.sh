#!/usr/bin/env bash
# The short fuzzing pass CI runs: every target for FUZZ_SECONDS (default 20) seconds, starting
# from the committed corpus, exit status non-zero on the first crash, hang or oracle failure.
#
# The committed corpus (fuzz/corpus/TARGET) is read, never written: new inputs go to a scratch
# directory, so a CI run leaves the tree clean. A failure leaves the input in
# fuzz/artifacts/TARGET/ and prints it in base64; turn it into a regression test in the owning
# crate (see fuzz/README.md) before fixing.
#
# Needs the nightly toolchain (libFuzzer instrumentation); installs cargo-fuzz when missing.
# Usage: fuzz/run-brief.sh [TARGET...]     FUZZ_SECONDS=60 fuzz/run-brief.sh jwt_token
set -euo pipefail

cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-20}"

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

# One instrumented build for every target (the slow part: ~12 min from clean on 2 cores).
cargo +nightly fuzz build

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

status=0
for target in "${targets[@]}"; do
    echo "==> fuzz $target for ${seconds}s"
    mkdir -p "$scratch/$target"
    log="$scratch/$target.log"
    if cargo +nightly fuzz run "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -dict=fuzz/dict/json.dict \
        -print_final_stats=1 >"$log" 2>&1; then
        grep -E '^(stat::number_of_executed_units|Done )' "$log" || true
    else
        status=1
        echo "!! $target failed:"
        grep -vE '^#[0-9]+\s' "$log" | tail -40
        for artifact in fuzz/artifacts/"$target"/*; do
            [ -f "$artifact" ] || continue
            echo "   input $artifact (base64): $(base64 -w0 "$artifact")"
        done
    fi
done
exit "$status"
