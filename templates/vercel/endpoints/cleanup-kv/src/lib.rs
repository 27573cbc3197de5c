//! `cleanup/kv`: deletes the calling run's test records from the app's Redis, so an e2e job can
//! clean up after itself without holding the Redis password.
//!
//! What may go is decided by the policy, never by the caller: the `patterns` of the endpoint's
//! `config` table, each templated from the verified token's claims (`e2e:{repository_id}:{run_id}:*`
//! deletes only the keys of the calling run of the calling repository). Keys are found with
//! `SCAN`, never `KEYS` (which blocks Redis), at most `max_deletions` per call (`"more": true`
//! says call again); the body `{}` deletes, `{"dryRun": true}` only reports. One log line
//! per call says what was done. The endpoint is destructive, so the kit serves it only with the
//! strict policy posture (`single_use`, `bind_deployment`, pinned workflow and repository).

use std::collections::HashSet;

use axum::{Json, routing::post};
use ci_endpoint::{
    BodyContext, CiError, Config, ConfigError, Endpoint, EndpointConfig, KvClient, RequestBody,
    Secret, VerifiedCaller, VerifiedJson, redis,
};
use serde::{Deserialize, Serialize};

/// The endpoint's name: its path under `/api/~/ci/` and the key of its policy entry.
pub const NAME: &str = "cleanup/kv";
/// The variable holding the Redis URL (`rediss://default:PASSWORD@HOST:PORT`).
pub const KV_URL_VAR: &str = "KV_URL";
/// The claims a pattern may name.
const PLACEHOLDERS: [&str; 4] = [
    "repository_id",
    "repository_owner_id",
    "run_id",
    "run_attempt",
];

/// `[endpoints."cleanup/kv".config]` in `ci-policy.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Redis glob patterns; each must name `{repository_id}` and `{run_id}`.
    pub patterns: Vec<String>,
    /// Keys deleted at most per call (1..=10000, default 1000).
    #[serde(default = "default_max_deletions")]
    pub max_deletions: usize,
}

fn default_max_deletions() -> usize {
    1000
}

impl EndpointConfig for Settings {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.patterns.is_empty() {
            return Err(ConfigError::new(
                "patterns",
                "name at least one key pattern",
            ));
        }
        for (i, pattern) in self.patterns.iter().enumerate() {
            let key = format!("patterns[{i}]");
            for name in placeholders(pattern) {
                if !PLACEHOLDERS.contains(&name) {
                    let known = PLACEHOLDERS.join("}, {");
                    let message = format!("unknown placeholder {{{name}}}; known: {{{known}}}");
                    return Err(ConfigError::new(key, message));
                }
            }
            if !pattern.contains("{repository_id}") || !pattern.contains("{run_id}") {
                let message = "must contain {repository_id} and {run_id}, so a run deletes only its own records";
                return Err(ConfigError::new(key, message));
            }
        }
        if !(1..=10_000).contains(&self.max_deletions) {
            return Err(ConfigError::new(
                "max_deletions",
                "must be between 1 and 10000",
            ));
        }
        Ok(())
    }
}

/// The names between braces in `pattern`.
fn placeholders(pattern: &str) -> impl Iterator<Item = &str> {
    pattern
        .split('{')
        .skip(1)
        .map(|rest| rest.split('}').next().unwrap_or(rest))
}

/// `{"dryRun": true}` reports without deleting; `{}` deletes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Request {
    #[serde(default)]
    dry_run: bool,
}

/// The patterns are filled from the caller's claims before its `single_use` token is spent: a
/// claim that cannot fill them refuses the request with the token still good.
impl RequestBody for Request {
    fn validate(&self, context: &BodyContext<'_>) -> Result<(), CiError> {
        let settings = context.config::<Settings>()?;
        filled_patterns(&settings, context.caller()).map(drop)
    }
}

fn filled_patterns(settings: &Settings, caller: &VerifiedCaller) -> Result<Vec<String>, CiError> {
    settings
        .patterns
        .iter()
        .map(|pattern| fill(pattern, caller))
        .collect()
}

/// What went (or, in a dry run, would go).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Outcome {
    dry_run: bool,
    deleted: usize,
    keys: Vec<String>,
    more: bool,
}

/// The endpoint: settings from the policy, the Redis URL from `KV_URL`.
pub fn endpoint() -> Endpoint {
    Endpoint::new(NAME, post(cleanup))
        .with_config::<Settings>()
        .with_secret(KV_URL_VAR, KvClient::parse)
        .destructive()
}

async fn cleanup(
    settings: Config<Settings>,
    kv: Secret<KvClient>,
    VerifiedJson {
        caller,
        body: request,
    }: VerifiedJson<Request>,
) -> Result<Json<Outcome>, CiError> {
    let patterns = filled_patterns(&settings, &caller)?; // validated already: the same answer
    let kv = kv.get()?;
    // Patterns may overlap: each is scanned up to the cap and a key counts once (`more` only when
    // a key beyond the cap exists). At most patterns x max_deletions keys are held.
    let (mut keys, mut seen, mut more) = (Vec::new(), HashSet::new(), false);
    for pattern in &patterns {
        let (found, truncated) = kv.scan(pattern, settings.max_deletions).await?;
        keys.extend(found.into_iter().filter(|k| seen.insert(k.clone())));
        more |= truncated;
    }
    if keys.len() > settings.max_deletions {
        keys.truncate(settings.max_deletions);
        more = true;
    }
    let deleted = match (request.dry_run, keys.is_empty()) {
        (false, false) => kv.query(redis::cmd("UNLINK").arg(&keys)).await?,
        _ => 0,
    };
    // The call's audit line (written by the kit) carries these and the caller's claims, from
    // which the patterns were filled.
    caller.summarize("dry_run", request.dry_run);
    caller.summarize("matched", keys.len());
    caller.summarize("deleted", deleted);
    caller.summarize("more", more);
    let dry_run = request.dry_run;
    Ok(Json(Outcome {
        dry_run,
        deleted,
        keys,
        more,
    }))
}

/// `pattern` with each placeholder replaced by the caller's claim. A claim that is missing or
/// holds anything but `[A-Za-z0-9_-]` would widen or break the pattern: refused (401).
fn fill(pattern: &str, caller: &VerifiedCaller) -> Result<String, CiError> {
    let claims = caller.claims();
    let mut filled = pattern.to_owned();
    for name in PLACEHOLDERS {
        let value = match name {
            "repository_id" => &claims.repository_id,
            "repository_owner_id" => &claims.repository_owner_id,
            "run_id" => &claims.run_id,
            _ => &claims.run_attempt,
        };
        let placeholder = format!("{{{name}}}");
        if !filled.contains(&placeholder) {
            continue;
        }
        let safe = |v: &&String| {
            !v.is_empty()
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        let Some(value) = value.as_ref().filter(safe) else {
            // The kit logs the refusal; the summary names the claim that could not fill it.
            caller.summarize("unusable_claim", name);
            return Err(CiError::Unauthorized);
        };
        filled = filled.replace(&placeholder, value);
    }
    Ok(filled)
}
