#!/usr/bin/env bash
# Runs the installed `ci-preview` client for `action.yml`: `smoke`, `call`, or nothing (`install`).
#
# Why a script and not `run:` lines in action.yml: every input arrives here as an environment
# variable (`CI_PREVIEW_INPUT_*`), never as `${{ }}` pasted into shell text, so no input can become
# shell code (zizmor's template-injection audit). Secrets travel only in the environment: the
# bypass as DEPLOYMENT_PROTECTION_BYPASS, the API token as GITHUB_TOKEN; none is put on a command
# line, where `ps` and debug logs could see it. The client's own variables (CI_PREVIEW_PROTECTION,
# CI_PREVIEW_AUDIENCE, ...) are exported only when the input is set, so an empty input means the
# client's documented default, never an empty value.
#
# Inputs: CI_PREVIEW_BIN (the client, from install.sh) and CI_PREVIEW_INPUT_<NAME> for each input
# of action.yml. Outputs ($GITHUB_OUTPUT): `preview-url`, and `cookie-length` when there is a
# cookie, written by `ci-preview smoke` itself; for `call` this script writes `preview-url`,
# `answer` (the endpoint's JSON answer, masked in the log by the client) and `cookie-length`.
# Exit status: the client's (0 ok, 1 check failed, 2 configuration), or 2 for a bad input here.
set -euo pipefail

die() {
    echo "::error title=ci-in-preview action::$*" >&2
    exit 2
}

client=${CI_PREVIEW_BIN:?CI_PREVIEW_BIN must name the installed ci-preview}
command=${CI_PREVIEW_INPUT_COMMAND:-smoke}

# Inputs that are lists may be written comma- or newline-separated; the client reads commas.
as_list() { tr '\n' ',' <<<"$1" | sed -e 's/,,*/,/g' -e 's/^,//' -e 's/,$//'; }

export_if_set() {
    local name=$1 value=$2
    if [[ -n $value ]]; then
        export "$name=$value"
    else
        unset "$name"
    fi
}
export_if_set DEPLOYMENT_PROTECTION_BYPASS "${CI_PREVIEW_INPUT_BYPASS:-}"
export_if_set CI_PREVIEW_PROTECTION "${CI_PREVIEW_INPUT_PROTECTION:-}"
export_if_set CI_PREVIEW_PROTECTION_AUDIENCE "${CI_PREVIEW_INPUT_PROTECTION_AUDIENCE:-}"
export_if_set CI_PREVIEW_AUDIENCE "${CI_PREVIEW_INPUT_AUDIENCE:-}"
export_if_set CI_PREVIEW_ALLOW_HOSTS "$(as_list "${CI_PREVIEW_INPUT_ALLOW_HOST:-}")"
export_if_set CI_PREVIEW_DEPLOYMENT_CREATOR "$(as_list "${CI_PREVIEW_INPUT_DEPLOYMENT_CREATOR:-}")"
export_if_set CI_PREVIEW_VERCEL_PROJECT "${CI_PREVIEW_INPUT_VERCEL_PROJECT:-}"
export_if_set CI_PREVIEW_VERCEL_SCOPE "${CI_PREVIEW_INPUT_VERCEL_SCOPE:-}"
export_if_set PREVIEW_URL "${CI_PREVIEW_INPUT_PREVIEW_URL:-}"

case $command in
    install)
        exit 0
        ;;
    smoke)
        [[ -z ${CI_PREVIEW_INPUT_ENDPOINT:-} ]] ||
            die "command \`smoke\` always calls flags/encrypt-override; for another endpoint use command: call"
        args=(smoke)
        [[ -z ${CI_PREVIEW_INPUT_ENVIRONMENT:-} ]] || args+=(--environment "$CI_PREVIEW_INPUT_ENVIRONMENT")
        [[ -z ${CI_PREVIEW_INPUT_COMMENT_AUTHOR:-} ]] || args+=(--comment-author "$CI_PREVIEW_INPUT_COMMENT_AUTHOR")
        [[ -z ${CI_PREVIEW_INPUT_TIMEOUT:-} ]] || args+=(--timeout "$CI_PREVIEW_INPUT_TIMEOUT")
        # The client writes preview-url and cookie-length to $GITHUB_OUTPUT and the summary itself.
        exec "$client" "${args[@]}"
        ;;
    call) ;;
    *)
        die "command must be smoke, call or install, not \`$command\`"
        ;;
esac

endpoint=${CI_PREVIEW_INPUT_ENDPOINT:-}
[[ -n $endpoint ]] || die "command \`call\` needs the endpoint input (e.g. auth/encrypt-session)"
# A URL given here is trusted as given (the client sends tokens to it), so it must come from the
# workflow: a smoke step's preview-url output (already checked against the allowed hosts) or the
# team's own value. This action never feeds a discovered URL in here unchecked.
[[ -n ${PREVIEW_URL:-} ]] ||
    die "command \`call\` needs preview-url: the preview-url output of a smoke step of this action, or your own"
data=${CI_PREVIEW_INPUT_DATA:-}
[[ -n $data ]] || data='{}'
answer=$("$client" call "$endpoint" --data "$data")

if [[ -n ${GITHUB_OUTPUT:-} ]]; then
    # A random delimiter: the answer is the preview's text and must not be able to end the value
    # early and write outputs of its own.
    delimiter=ci_preview_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    {
        echo "preview-url=$PREVIEW_URL"
        echo "answer<<$delimiter"
        echo "$answer"
        echo "$delimiter"
    } >>"$GITHUB_OUTPUT"
    if command -v jq >/dev/null; then
        length=$(jq -r 'if (.cookie | type) == "string" then .cookie | length else empty end' <<<"$answer" 2>/dev/null || true)
        if [[ $length =~ ^[0-9]+$ ]]; then
            echo "cookie-length=$length" >>"$GITHUB_OUTPUT"
        fi
    fi
fi
echo "ci-in-preview: $endpoint answered 200 (the answer is in the step output \`answer\`, masked in the log)" >&2
