#!/usr/bin/env bash
# Installs the `ci-preview` client for the action's own ref: the released static binary when a
# release exists for that ref (verified before it is ever run), else a build from the action's
# source. `action.yml` runs it as its first step; it runs the same way locally, and
# `xtask/tests/install.rs` drives it against a fake release on 127.0.0.1.
#
# Why two checks on a download: `SHA256SUMS` comes from the same release as the binary, so it
# only catches a truncated or mixed-up download. Authenticity comes from something the download
# cannot supply: GitHub's build provenance attestation, checked by `gh attestation verify` against
# this repository's release workflow and the exact commit the action was pinned to. A binary that
# fails either check is refused (exit 1), never replaced by a source build: a tampered release is
# an incident to look at, not a reason to carry on.
#
# Inputs (environment variables; every one optional):
#   CI_PREVIEW_CLIENT             path of an already built `ci-preview`: used as is, nothing else runs
#   CI_PREVIEW_ACTION_REPOSITORY  owner/name the action came from [default: from GITHUB_ACTION_PATH]
#   CI_PREVIEW_ACTION_REF         the ref it was pinned to: a tag or a 40-hex commit
#                                 [default: from GITHUB_ACTION_PATH]; empty means a local action
#   CI_PREVIEW_ACTION_PATH        the action's source tree, for the source build
#                                 [default: GITHUB_ACTION_PATH, else this script's parent folder]
#   CI_PREVIEW_FROM_SOURCE        `auto` builds from source when no released binary fits, `never`
#                                 refuses instead [default: auto]
#   CI_PREVIEW_RELEASE_URL        base of the release downloads; http only to 127.0.0.1/localhost
#                                 [default: $GITHUB_SERVER_URL/<repository>/releases/download]
#   CI_PREVIEW_INSTALL_DIR        where the client goes [default: $RUNNER_TEMP/ci-preview-client]
#   RUNNER_OS, RUNNER_ARCH        the platform, as the runner names it [default: uname -s, uname -m]
#   GH_TOKEN                      for `gh` (tags lookup, attestation verify); the action passes
#                                 the job's token
# Needs bash, curl, sha256sum and, for a download, the GitHub CLI (`gh`, on every GitHub-hosted
# runner); a source build needs cargo.
#
# Results: `client-path=<path>` and `client-source=release|source|given` in $GITHUB_OUTPUT, the
# client's folder appended to $GITHUB_PATH (so later steps can run `ci-preview` directly), and
# `ci-preview client ready: <path> (<how>)` on stderr.
# Exit status: 0 ready; 1 a download failed its verification or the build failed; 2 a
# configuration error (the message names the fix).
set -euo pipefail

# The platforms the release workflow builds (.github/workflows/release.yml).
readonly RELEASED_PLATFORMS="linux-x86_64 linux-aarch64"
readonly SIGNER_WORKFLOW_PATH=".github/workflows/release.yml"

log() { echo "ci-preview install: $*" >&2; }
die() {
    local status=$1
    shift
    # `::error::` is a workflow command in Actions and readable text anywhere else.
    echo "::error title=ci-preview install::$*" >&2
    exit "$status"
}

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
action_path=${CI_PREVIEW_ACTION_PATH:-${GITHUB_ACTION_PATH:-$(dirname "$script_dir")}}
install_dir=${CI_PREVIEW_INSTALL_DIR:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/ci-preview-client}
from_source=${CI_PREVIEW_FROM_SOURCE:-auto}
case $from_source in
    auto | never) ;;
    *) die 2 "from-source must be \`auto\` or \`never\`, not \`$from_source\`" ;;
esac

ready() {
    local client=$1 how=$2 source=$3 version
    version=$("$client" --version 2>&1) || die 1 "$client does not run: $version"
    if [[ -n ${GITHUB_OUTPUT:-} ]]; then
        {
            echo "client-path=$client"
            echo "client-source=$source"
        } >>"$GITHUB_OUTPUT"
    fi
    if [[ -n ${GITHUB_PATH:-} ]]; then
        dirname "$client" >>"$GITHUB_PATH"
    fi
    log "ready: $client ($version, $how)"
    echo "ci-preview client ready: $client ($how)" >&2
    exit 0
}

# --- A client the caller already has (e.g. built in a job without id-token: write).
if [[ -n ${CI_PREVIEW_CLIENT:-} ]]; then
    client=$CI_PREVIEW_CLIENT
    [[ -f $client ]] || die 2 "client-path $client does not exist"
    # Artifacts lose the executable bit on the way between jobs.
    [[ -x $client ]] || chmod +x "$client"
    ready "$client" "given" given
fi

build_from_source() {
    local why=$1
    [[ $from_source == auto ]] || die 2 "$why; from-source is \`never\`: pin the action to a released tag's commit, or pass client-path"
    [[ -f $action_path/Cargo.toml ]] || die 2 "$why, and $action_path holds no Cargo.toml to build from"
    command -v cargo >/dev/null || die 2 "$why, and cargo is not installed: install Rust (https://rustup.rs) before this step, or pass client-path"
    log "$why: building ci-preview from source ($action_path)"
    if [[ -n ${ACTIONS_ID_TOKEN_REQUEST_URL:-} ]]; then
        # Build scripts and proc macros are dependency code; in a job that can mint OIDC tokens
        # they could mint one too. README "Use it in a workflow" shows the two-job form.
        echo "::warning title=ci-preview install::building from source in a job with id-token: write runs dependency code (build scripts) where it can mint OIDC tokens; build in a job without it and pass client-path" >&2
    fi
    local target=$install_dir/target
    # From inside the action's tree, so rustup reads the action's rust-toolchain.toml, not the
    # caller's.
    (cd "$action_path" && cargo build --release --locked -p ci-preview \
        --manifest-path "$action_path/Cargo.toml" --target-dir "$target" >&2) ||
        die 1 "cargo build -p ci-preview failed (output above)"
    mkdir -p "$install_dir/bin"
    cp "$target/release/ci-preview" "$install_dir/bin/ci-preview"
    ready "$install_dir/bin/ci-preview" "built from source" source
}

# --- The platform, in the release's asset names.
os=${RUNNER_OS:-$(uname -s)}
arch=${RUNNER_ARCH:-$(uname -m)}
# `tr`, not ${var,,}: macOS ships bash 3.2.
lower() { tr '[:upper:]' '[:lower:]' <<<"$1"; }
case $(lower "$os") in
    linux) os_name=linux ;;
    macos | darwin) os_name=macos ;;
    windows* | mingw* | msys* | cygwin*) os_name=windows ;;
    *) os_name=$(lower "$os") ;;
esac
case $(lower "$arch") in
    x64 | x86_64 | amd64) arch_name=x86_64 ;;
    arm64 | aarch64) arch_name=aarch64 ;;
    *) arch_name=$(lower "$arch") ;;
esac
platform=$os_name-$arch_name
if [[ " $RELEASED_PLATFORMS " != *" $platform "* ]]; then
    build_from_source "no released ci-preview binary for this platform: $os $arch ($platform); releases have ${RELEASED_PLATFORMS// /, }"
fi
asset=ci-preview-$platform

# --- Which release: the action's ref, as a tag or as the commit a tag points at.
repository=${CI_PREVIEW_ACTION_REPOSITORY:-}
ref=${CI_PREVIEW_ACTION_REF:-}
if [[ -z $repository || -z $ref ]] && [[ ${GITHUB_ACTION_PATH:-} =~ /_actions/([^/]+)/([^/]+)/([^/]+)$ ]]; then
    # The runner checks a remote action out under _actions/OWNER/NAME/REF; composite actions
    # do not always get github.action_ref (actions/runner#2473).
    repository=${repository:-${BASH_REMATCH[1]}/${BASH_REMATCH[2]}}
    ref=${ref:-${BASH_REMATCH[3]}}
fi
if [[ -z $ref ]]; then
    build_from_source "no action ref (a local \`uses: ./\` action has no release)"
fi
[[ $repository =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || die 2 "action repository \`$repository\` is not owner/name"
[[ $ref =~ ^[A-Za-z0-9_./-]+$ ]] || die 2 "action ref \`$ref\` is not a tag or commit name"
command -v gh >/dev/null || build_from_source "the GitHub CLI (gh) is not installed, so a download could not be verified"

# One API call lists every tag with the commit it points at (annotated tags dereferenced).
tags=$(gh api --paginate "repos/$repository/tags?per_page=100" --jq '.[] | "\(.name) \(.commit.sha)"') ||
    die 1 "cannot list the tags of $repository (GitHub API); is GH_TOKEN set?"
# The commit first (the ref itself, or the commit of the tag so named), then every tag at that
# commit: a floating tag such as `v1` has no release of its own, but `v1.4.2` at the same commit has.
commit=""
while read -r name sha; do
    if [[ $name == "$ref" || $sha == "$ref" ]]; then
        commit=$sha
        break
    fi
done <<<"$tags"
candidates=()
if [[ -n $commit ]]; then
    while read -r name sha; do
        [[ $sha != "$commit" ]] || candidates+=("$name")
    done <<<"$tags"
fi
if [[ ${#candidates[@]} -eq 0 ]]; then
    build_from_source "no release tag of $repository is or points at \`$ref\`"
fi

# --- Download the binary and the checksums.
base=${CI_PREVIEW_RELEASE_URL:-${GITHUB_SERVER_URL:-https://github.com}/$repository/releases/download}
base=${base%/}
if [[ $base != https://* && ! $base =~ ^http://(127\.0\.0\.1|localhost)(:[0-9]+)?(/|$) ]]; then
    die 2 "release URL $base must be https (plain http only to 127.0.0.1 or localhost)"
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/ci-preview-download.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Prints the HTTP status; 000 when the request never got an answer.
fetch() {
    curl --silent --show-error --location --retry 3 --retry-connrefused --proto '=https,http' \
        --proto-redir '=https' --output "$2" --write-out '%{http_code}' "$1" || true
}
tag="" missing=()
for candidate in "${candidates[@]}"; do
    [[ $candidate =~ ^[A-Za-z0-9_.-]+$ ]] || continue
    status=$(fetch "$base/$candidate/$asset" "$work/$asset")
    case $status in
        200) tag=$candidate && break ;;
        404) missing+=("release $candidate has no asset $asset") ;;
        *) die 1 "downloading $base/$candidate/$asset failed (HTTP $status)" ;;
    esac
done
if [[ -z $tag ]]; then
    why="no usable tag at $commit"
    [[ ${#missing[@]} -eq 0 ]] || why=$(printf '%s; ' "${missing[@]}")
    build_from_source "${why%; }"
fi
status=$(fetch "$base/$tag/SHA256SUMS" "$work/SHA256SUMS")
case $status in
    200) ;;
    404) build_from_source "release $tag has no asset SHA256SUMS" ;;
    *) die 1 "downloading $base/$tag/SHA256SUMS failed (HTTP $status)" ;;
esac

# --- Verify: the checksum line for this asset, then the provenance attestation.
expected=$(awk -v f="$asset" '$2 == f || $2 == "*" f { print $1; exit }' "$work/SHA256SUMS")
[[ -n $expected ]] || die 1 "SHA256SUMS of release $tag has no line for $asset: refusing the download"
actual=$(sha256sum "$work/$asset" | awk '{ print $1 }')
if [[ $actual != "$expected" ]]; then
    die 1 "checksum mismatch for $asset of release $tag: SHA256SUMS says $expected, the download is $actual; refusing it"
fi
log "verifying the build provenance of $asset (release workflow of $repository, commit $commit)"
gh attestation verify "$work/$asset" \
    --repo "$repository" \
    --signer-workflow "$repository/$SIGNER_WORKFLOW_PATH" \
    --source-ref "refs/tags/$tag" \
    --source-digest "$commit" \
    --deny-self-hosted-runners >&2 ||
    die 1 "the build provenance attestation of $asset (release $tag) does not verify: refusing the download"

mkdir -p "$install_dir/bin"
install -m 0755 "$work/$asset" "$install_dir/bin/ci-preview"
ready "$install_dir/bin/ci-preview" "release $tag, checksum and attestation verified" release
