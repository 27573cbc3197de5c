#!/usr/bin/env bash
# Installs the `ci-preview` client for the action's own ref: the released static binary when a
# release exists for that ref (verified before it is ever run), else a build from the action's
# source. `action.yml` runs it as its first step; it runs the same way locally, and
# `xtask/tests/xtask/install.rs` drives it against a fake release on 127.0.0.1.
#
# Why two checks on a download: `SHA256SUMS` comes from the same release as the binary, so it
# only catches a truncated or mixed-up download. Authenticity comes from something the download
# cannot supply: GitHub's build provenance attestation, checked by `gh attestation verify` against
# this repository's release workflow and the exact commit the action was pinned to. A binary that
# fails either check is refused (exit 1), never replaced by a source build: a tampered release is
# an incident to look at, not a reason to carry on.
#
# Inputs (environment variables; every one optional):
#   CI_PREVIEW_CLIENT             path of an already built `ci-preview` (relative: to the working
#                                 directory): copied into the install folder, nothing else runs
#   CI_PREVIEW_ACTION_REPOSITORY  owner/name the action came from [default: from GITHUB_ACTION_PATH]
#   CI_PREVIEW_ACTION_REF         the ref it was pinned to: a tag or a 40-hex commit
#                                 [default: from GITHUB_ACTION_PATH]; empty means a local action
#   CI_PREVIEW_ACTION_PATH        the action's source tree, for the source build
#                                 [default: GITHUB_ACTION_PATH, else this script's parent folder]
#   CI_PREVIEW_FROM_SOURCE        `auto` builds from source when the ref has no release or the
#                                 platform no released binary, `never` refuses [default: auto]
#   CI_PREVIEW_RELEASE_URL        base of the release downloads; http only to 127.0.0.1/localhost
#                                 [default: $GITHUB_SERVER_URL/<repository>/releases/download]
#   CI_PREVIEW_INSTALL_DIR        where the client goes [default: $RUNNER_TEMP/ci-preview-client]
#   RUNNER_OS, RUNNER_ARCH        the platform, as the runner names it [default: uname -s, uname -m]
#   GH_TOKEN                      for `gh` (tags and release lookups, attestation verify); the
#                                 action passes the job's token
# Needs bash, curl, sha256sum and, for a download, the GitHub CLI (`gh` 2.68.0 or later, whose
# `attestation verify` has every flag used below; GitHub-hosted runners have it); a source build
# needs cargo.
#
# Which path runs:
#   - no release tag is or points at the ref (a branch, an unreleased commit), or no binary is
#     released for this platform: a source build (`auto`) or a refusal (`never`);
#   - a release exists at the pinned commit: its binary or nothing. A release without this
#     platform's binary or without SHA256SUMS is unfinished or tampered with, so it fails the
#     step instead of being replaced by a source build in a job that may mint tokens;
#   - the action's repository is not visible to the token (private or internal): a refusal that
#     says so, since neither the release nor its attestation can be read from another repository.
#
# Results: `client-path=<path>` and `client-source=release|source|given` in $GITHUB_OUTPUT; the
# client as `<install dir>/bin/ci-preview`, an absolute folder that holds nothing else, appended to
# $GITHUB_PATH (so later steps can run `ci-preview` directly, and nothing else comes onto PATH with
# it); and `ci-preview client ready: <path> (<how>)` on stderr.
# Exit status: 0 ready; 1 a download failed its verification, a release is incomplete, or the build
# failed; 2 a configuration error (the message names the fix).
set -euo pipefail

# The platforms the release workflow builds (.github/workflows/release.yml).
readonly RELEASED_PLATFORMS="linux-x86_64 linux-aarch64"
readonly SIGNER_WORKFLOW_PATH=".github/workflows/release.yml"
# The `gh attestation verify` flags used below; gh 2.68.0 or later has all of them (`--source-ref`
# and `--source-digest` came last, cli/cli#10308). A gh without one would fail the check as if
# the attestation were bad, so it is asked which flags it has first.
readonly VERIFY_FLAGS="--repo --signer-workflow --source-ref --source-digest --deny-self-hosted-runners"
readonly MIN_GH_VERSION=2.68.0

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

# The folder that goes on PATH: absolute, and holding only the client, so that no other file of a
# workspace or download folder becomes a command for the job's later steps.
[[ $install_dir == /* ]] || install_dir=$PWD/$install_dir
bin_dir=$install_dir/bin
client=$bin_dir/ci-preview

# Puts the file $1 at $client (executable: artifacts lose the bit on the way between jobs).
place() {
    local source=$1 other
    mkdir -p "$bin_dir"
    other=$(find "$bin_dir" -mindepth 1 -maxdepth 1 ! -name ci-preview -print -quit)
    [[ -z $other ]] || die 2 "$bin_dir goes on PATH, so it may hold only ci-preview, but it holds $other: set another install folder (CI_PREVIEW_INSTALL_DIR)"
    [[ $source -ef $client ]] || install -m 0755 "$source" "$client"
}

ready() {
    local how=$1 source=$2 version
    version=$("$client" --version 2>&1) || die 1 "$client does not run: $version"
    if [[ -n ${GITHUB_OUTPUT:-} ]]; then
        {
            echo "client-path=$client"
            echo "client-source=$source"
        } >>"$GITHUB_OUTPUT"
    fi
    if [[ -n ${GITHUB_PATH:-} ]]; then
        echo "$bin_dir" >>"$GITHUB_PATH"
    fi
    log "ready: $client ($version, $how)"
    echo "ci-preview client ready: $client ($how)" >&2
    exit 0
}

# --- A client the caller already has (e.g. built in a job without id-token: write).
if [[ -n ${CI_PREVIEW_CLIENT:-} ]]; then
    given=$CI_PREVIEW_CLIENT
    # Relative to the step's working directory (the workspace, in a workflow).
    [[ $given == /* ]] || given=$PWD/$given
    [[ -f $given ]] || die 2 "client-path $CI_PREVIEW_CLIENT does not exist (looked for $given)"
    place "$given"
    ready "given" given
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
    place "$target/release/ci-preview"
    ready "built from source" source
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
if [[ -z $repository || -z $ref ]] && [[ ${GITHUB_ACTION_PATH:-} =~ /_actions/([^/]+)/([^/]+)/([^/]+)(/action/install)?$ ]]; then
    # The runner checks a remote action out under _actions/OWNER/NAME/REF (the install-only
    # action under its action/install folder); composite actions
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

work=$(mktemp -d "${TMPDIR:-/tmp}/ci-preview-download.XXXXXX")
trap 'rm -rf "$work"' EXIT

# `gh api ARGS…` with its answer in $work/api.out. On failure $api_status is the HTTP status gh
# reported (404, …), or empty when no answer came; gh's own message is never printed, since it
# carries text from the network.
api() {
    api_status=""
    gh api "$@" >"$work/api.out" 2>"$work/api.err" && return 0
    api_status=$(grep -oE '\(HTTP [0-9]{3}\)' "$work/api.err" | grep -oE '[0-9]{3}' | tail -n 1 || true)
    return 1
}

# Stops on a failed API call about the action's repository, naming the cause where one is known.
cannot_read() {
    local what=$1
    case $api_status in
        404)
            # GitHub answers 404, not 403, for a repository the token may not see.
            die 2 "cannot $what $repository: it is not visible to this job's token (HTTP 404), so the action's repository is private or internal (or was renamed or deleted). A job's token reads only its own repository, so a private action's release can be neither found, nor downloaded, nor checked against its attestation. Take the action from a public repository of your own, or build the client in a job without id-token: write and pass client-path (README: \"Your own copy of the action\")"
            ;;
        "")
            if [[ -z ${GH_TOKEN:-${GITHUB_TOKEN:-}} ]]; then
                die 2 "cannot $what $repository: gh got no answer and has no token (set GH_TOKEN; the action passes its github-token input)"
            fi
            die 1 "cannot $what $repository: no answer from the GitHub API"
            ;;
        *) die 1 "cannot $what $repository: the GitHub API answered HTTP $api_status" ;;
    esac
}

# One API call lists every tag with the commit it points at (annotated tags dereferenced).
api --paginate "repos/$repository/tags?per_page=100" --jq '.[] | "\(.name) \(.commit.sha)"' ||
    cannot_read "list the tags of"
tags=$(<"$work/api.out")
# The commit first (the ref itself, or the commit of the tag so named), then every tag at that
# commit: a floating tag such as `v1` has no release of its own, but `v1.4.2` at the same commit has.
commit=""
while read -r name sha; do
    if [[ $name == "$ref" || $sha == "$ref" ]]; then
        commit=$sha
        break
    fi
done <<<"$tags"
[[ -z $commit || $commit =~ ^[0-9a-f]{40}$ ]] || die 1 "the GitHub API gave \`$ref\` a commit that is not 40 hex digits"
candidates=()
if [[ -n $commit ]]; then
    while read -r name sha; do
        [[ $sha != "$commit" || ! $name =~ ^[A-Za-z0-9_.-]+$ ]] || candidates+=("$name")
    done <<<"$tags"
fi
if [[ ${#candidates[@]} -eq 0 ]]; then
    build_from_source "no release tag of $repository is or points at \`$ref\`"
fi

# --- The release at that commit. Which files it has comes from the API: a download URL answers
# 404 alike for "no release" and "no such file", and only the first may fall back to a source build.
tag="" releases=() incomplete=()
for candidate in "${candidates[@]}"; do
    if ! api "repos/$repository/releases/tags/$candidate" --jq '.assets[].name'; then
        [[ $api_status == 404 ]] || cannot_read "look up release $candidate of"
        continue
    fi
    releases+=("$candidate")
    missing=()
    for file in "$asset" SHA256SUMS; do
        grep -qxF -- "$file" "$work/api.out" || missing+=("$file")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        tag=$candidate
        break
    fi
    what=$(printf ' and no %s' "${missing[@]}")
    incomplete+=("release $candidate has ${what# and }")
done
if [[ ${#releases[@]} -eq 0 ]]; then
    build_from_source "no release of $repository at $commit (tags there: ${candidates[*]})"
fi
if [[ -z $tag ]]; then
    why=$(printf '%s; ' "${incomplete[@]}")
    die 1 "${why%; }: the commit the action is pinned to has a release, and it is incomplete or was tampered with. Refusing to build from source in its place (dependency code in a job that may mint tokens): publish the release again (release.yml for that tag), or pass client-path"
fi

# --- gh must be able to check the attestation as asked, or a missing flag would read as a bad
# attestation.
verify_help=$(gh attestation verify --help 2>&1) || true
missing=()
for flag in $VERIFY_FLAGS; do
    pattern="(^|[^-[:alnum:]])$flag([^-[:alnum:]]|\$)"
    [[ $verify_help =~ $pattern ]] || missing+=("$flag")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    gh_version=$(gh --version 2>/dev/null | sed -n '1s/^gh version \([0-9][0-9A-Za-z.-]*\).*/\1/p' || true)
    die 2 "gh ${gh_version:-(version unknown)} cannot check the build provenance of the release: its \`gh attestation verify\` lacks ${missing[*]}. Install gh $MIN_GH_VERSION or later before this step (https://cli.github.com; GitHub-hosted runners have it), or pass client-path"
fi

# --- Download the binary and the checksums.
base=${CI_PREVIEW_RELEASE_URL:-${GITHUB_SERVER_URL:-https://github.com}/$repository/releases/download}
base=${base%/}
if [[ $base != https://* && ! $base =~ ^http://(127\.0\.0\.1|localhost)(:[0-9]+)?(/|$) ]]; then
    die 2 "release URL $base must be https (plain http only to 127.0.0.1 or localhost)"
fi

# Prints the HTTP status; 000 when the request never got an answer.
fetch() {
    curl --silent --show-error --location --retry 3 --retry-connrefused --proto '=https,http' \
        --proto-redir '=https' --output "$2" --write-out '%{http_code}' "$1" || true
}
for file in "$asset" SHA256SUMS; do
    status=$(fetch "$base/$tag/$file" "$work/$file")
    [[ $status == 200 ]] || die 1 "downloading $base/$tag/$file failed (HTTP $status)"
done

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

place "$work/$asset"
ready "release $tag, checksum and attestation verified" release
