//! Every environment variable the client reads, named once.
//!
//! Flags take their defaults from these (`#[arg(env = env::PREVIEW_URL)]`), the few values read
//! directly (`GITHUB_ACTIONS`, `GITHUB_WORKFLOW_REF` for the 401 explanation) use them too, and
//! `--help` lists [`SET_BY_RUNNER`] and [`SET_BY_WORKFLOW`]. A test checks that every variable a
//! flag declares is in one of the two lists, so the help cannot miss one again.

/// `true` inside a GitHub Actions job.
pub(crate) const GITHUB_ACTIONS: &str = "GITHUB_ACTIONS";
/// The REST API base URL (GitHub Enterprise Server: `https://HOST/api/v3`).
pub(crate) const GITHUB_API_URL: &str = "GITHUB_API_URL";
/// `OWNER/NAME` of the repository the workflow runs in.
pub(crate) const GITHUB_REPOSITORY: &str = "GITHUB_REPOSITORY";
/// The repository owner's login.
pub(crate) const GITHUB_REPOSITORY_OWNER: &str = "GITHUB_REPOSITORY_OWNER";
/// The token for the GitHub API (the workflow passes `${{ github.token }}`).
pub(crate) const GITHUB_TOKEN: &str = "GITHUB_TOKEN";
/// The triggering event's payload file.
pub(crate) const GITHUB_EVENT_PATH: &str = "GITHUB_EVENT_PATH";
/// The triggering event's name.
pub(crate) const GITHUB_EVENT_NAME: &str = "GITHUB_EVENT_NAME";
/// The running workflow (`OWNER/REPO/.github/workflows/FILE@REF`): quoted when a token is refused.
pub(crate) const GITHUB_WORKFLOW_REF: &str = "GITHUB_WORKFLOW_REF";
/// The step outputs file.
pub(crate) const GITHUB_OUTPUT: &str = "GITHUB_OUTPUT";
/// The file later steps' environment is read from.
pub(crate) const GITHUB_ENV: &str = "GITHUB_ENV";
/// The step summary file (Markdown).
pub(crate) const GITHUB_STEP_SUMMARY: &str = "GITHUB_STEP_SUMMARY";
/// The runner's temporary folder.
pub(crate) const RUNNER_TEMP: &str = "RUNNER_TEMP";
/// `1` when the run has debug logging on (the runner then prints step outputs).
pub(crate) const RUNNER_DEBUG: &str = "RUNNER_DEBUG";
/// The runner's OIDC token service (set when the job has `id-token: write`).
pub(crate) const ACTIONS_ID_TOKEN_REQUEST_URL: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
/// The bearer for the token service.
pub(crate) const ACTIONS_ID_TOKEN_REQUEST_TOKEN: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";

/// The preview URL, when the workflow already knows it (`--url`).
pub(crate) const PREVIEW_URL: &str = "PREVIEW_URL";
/// Vercel's "Protection Bypass for Automation" secret (`--protection-bypass`).
pub(crate) const DEPLOYMENT_PROTECTION_BYPASS: &str = "DEPLOYMENT_PROTECTION_BYPASS";
/// Vercel's own name for the bypass secret.
pub(crate) const VERCEL_AUTOMATION_BYPASS_SECRET: &str = "VERCEL_AUTOMATION_BYPASS_SECRET";
/// `--audience`: the endpoint audience to mint for.
pub(crate) const CI_PREVIEW_AUDIENCE: &str = "CI_PREVIEW_AUDIENCE";
/// `--vercel-project`: the Vercel project whose preview hosts are allowed by default.
pub(crate) const CI_PREVIEW_VERCEL_PROJECT: &str = "CI_PREVIEW_VERCEL_PROJECT";
/// `--vercel-scope`: that project's team or account slug.
pub(crate) const CI_PREVIEW_VERCEL_SCOPE: &str = "CI_PREVIEW_VERCEL_SCOPE";
/// `--idempotent`: retry the endpoint also after failures it may have acted on.
pub(crate) const CI_PREVIEW_IDEMPOTENT: &str = "CI_PREVIEW_IDEMPOTENT";
/// `--protection`: how to pass Deployment Protection.
pub(crate) const CI_PREVIEW_PROTECTION: &str = "CI_PREVIEW_PROTECTION";
/// `--protection-audience`: the Trusted Sources rule's audience.
pub(crate) const CI_PREVIEW_PROTECTION_AUDIENCE: &str = "CI_PREVIEW_PROTECTION_AUDIENCE";
/// `--deployment-creator`: whose deployments count (comma-separated).
pub(crate) const CI_PREVIEW_DEPLOYMENT_CREATOR: &str = "CI_PREVIEW_DEPLOYMENT_CREATOR";
/// `--allow-host`: extra preview hosts (comma-separated).
pub(crate) const CI_PREVIEW_ALLOW_HOSTS: &str = "CI_PREVIEW_ALLOW_HOSTS";
/// `policy check --policy`: the policy file's path in the repository.
pub(crate) const CI_PREVIEW_POLICY_PATH: &str = "CI_PREVIEW_POLICY_PATH";
/// `open-state --state`: the sealed state (the browser-state workflow's `state` output).
pub(crate) const CI_PREVIEW_STATE: &str = "CI_PREVIEW_STATE";
/// `open-state --key`: its key (the `state-key` output, passed through `secrets:`).
pub(crate) const CI_PREVIEW_STATE_KEY: &str = "CI_PREVIEW_STATE_KEY";
/// The app's Flags SDK secret, read only by `storage-state --local` (environment, else `.env.local`).
pub(crate) const FLAGS_SECRET: &str = "FLAGS_SECRET";
/// The app's Auth.js secret, read only by `storage-state --local` (environment, else `.env.local`).
pub(crate) const AUTH_SECRET: &str = "AUTH_SECRET";

/// What the Actions runner sets in every job (or, for the token service, in jobs allowed to mint).
pub(crate) const SET_BY_RUNNER: &[&str] = &[
    GITHUB_ACTIONS,
    GITHUB_API_URL,
    GITHUB_REPOSITORY,
    GITHUB_REPOSITORY_OWNER,
    GITHUB_EVENT_PATH,
    GITHUB_EVENT_NAME,
    GITHUB_WORKFLOW_REF,
    GITHUB_OUTPUT,
    GITHUB_ENV,
    GITHUB_STEP_SUMMARY,
    RUNNER_TEMP,
    RUNNER_DEBUG,
    ACTIONS_ID_TOKEN_REQUEST_URL,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN,
];

/// What a workflow sets itself (`env:` on the step).
pub(crate) const SET_BY_WORKFLOW: &[&str] = &[
    GITHUB_TOKEN,
    PREVIEW_URL,
    DEPLOYMENT_PROTECTION_BYPASS,
    VERCEL_AUTOMATION_BYPASS_SECRET,
    CI_PREVIEW_AUDIENCE,
    CI_PREVIEW_IDEMPOTENT,
    CI_PREVIEW_PROTECTION,
    CI_PREVIEW_PROTECTION_AUDIENCE,
    CI_PREVIEW_DEPLOYMENT_CREATOR,
    CI_PREVIEW_ALLOW_HOSTS,
    CI_PREVIEW_VERCEL_PROJECT,
    CI_PREVIEW_VERCEL_SCOPE,
    CI_PREVIEW_POLICY_PATH,
    CI_PREVIEW_STATE,
    CI_PREVIEW_STATE_KEY,
];

/// A required setting given by flag or variable (`name`), trimmed; unset or blank is an error
/// naming the variable and `fix`.
pub(crate) fn required<'a>(
    value: Option<&'a str>,
    name: &str,
    fix: &str,
) -> crate::error::Result<&'a str> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| crate::error::CliError::missing_var(name, fix))
}

/// A variable's value, `None` when unset or empty (the runner leaves some set but blank).
pub(crate) fn non_empty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
