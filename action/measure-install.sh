#!/usr/bin/env bash
# Measures `action/install.sh` from start to "client ready" with a released binary: download from
# a fake release on 127.0.0.1, SHA256SUMS check, install, `--version`. The README's figure beside
# the cold `cargo build --release -p ci-preview` it replaces comes from here.
#
# What it cannot measure here (no GitHub on this machine): the `gh api` tags lookup and
# `gh attestation verify`, which are stood in for by a stub that answers at once; on a runner each
# is one HTTPS round trip to the GitHub API plus, for the attestation, a signature check.
#
# Usage: action/measure-install.sh [BINARY] [RUNS]
#   BINARY  the client to serve as the release asset [default: target/release/ci-preview]
#   RUNS    how many installs to time [default: 10]
# Needs bash 5, curl, sha256sum, bc, python3 (the HTTP server).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
binary=${1:-$repo_root/target/release/ci-preview}
runs=${2:-10}
[[ -x $binary ]] || {
    echo "measure-install: $binary is not an executable; build it first (cargo build --release -p ci-preview)" >&2
    exit 2
}

work=$(mktemp -d)
server_pid=""
cleanup() {
    [[ -z $server_pid ]] || kill "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

tag=v0.0.0-measure
commit=$(printf '%040d' 0)
asset=ci-preview-linux-$(uname -m | sed -e 's/^arm64$/aarch64/' -e 's/^amd64$/x86_64/')
mkdir -p "$work/release/$tag" "$work/bin"
cp "$binary" "$work/release/$tag/$asset"
(cd "$work/release/$tag" && sha256sum "$asset" >SHA256SUMS)
# The stub answers the tags lookup, the release's file list, and `attestation verify --help` with
# the flags the script asks for; the verification itself passes.
cat >"$work/bin/gh" <<STUB
#!/bin/sh
case "\$1 \$2" in
  "api repos/"*/releases/tags/*) printf '%s\\n' "$asset" SHA256SUMS ;;
  "api "*) echo "$tag $commit" ;;
  "attestation verify") echo "--repo --signer-workflow --source-ref --source-digest --deny-self-hosted-runners" ;;
esac
STUB
chmod +x "$work/bin/gh"

# A static file server on an ephemeral loopback port; it prints the port once it listens.
python3 -u -c '
import functools, http.server, sys
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
handler = functools.partial(Quiet, directory=sys.argv[1])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
print(server.server_address[1], flush=True)
server.serve_forever()
' "$work/release" >"$work/port" &
server_pid=$!
for _ in $(seq 50); do [[ -s $work/port ]] && break; sleep 0.1; done
port=$(head -1 "$work/port")
[[ -n $port ]] || { echo "measure-install: the HTTP server did not start" >&2; exit 2; }

times=()
for i in $(seq "$runs"); do
    start=$EPOCHREALTIME
    PATH="$work/bin:$PATH" RUNNER_OS=Linux RUNNER_ARCH=$(uname -m) \
        CI_PREVIEW_ACTION_REPOSITORY=owner/ci-in-preview CI_PREVIEW_ACTION_REF=$commit \
        CI_PREVIEW_RELEASE_URL=http://127.0.0.1:$port CI_PREVIEW_INSTALL_DIR=$work/install-$i \
        GITHUB_OUTPUT=/dev/null GITHUB_PATH=/dev/null \
        bash "$repo_root/action/install.sh" 2>"$work/install.log" || {
        cat "$work/install.log" >&2
        echo "measure-install: install.sh failed (its output above)" >&2
        exit 1
    }
    end=$EPOCHREALTIME
    times+=("$(echo "($end - $start) * 1000" | bc -l)")
done
size=$(stat -c %s "$binary")
printf '%s\n' "${times[@]}" | sort -n | awk -v n="$runs" -v size="$size" '
    { t[NR] = $1 }
    END {
        median = (n % 2) ? t[(n + 1) / 2] : (t[n / 2] + t[n / 2 + 1]) / 2
        printf "install.sh, job start -> client ready (%d runs, %.1f MB binary): median %.0f ms, min %.0f ms, max %.0f ms\n",
            n, size / 1e6, median, t[1], t[n]
    }'
