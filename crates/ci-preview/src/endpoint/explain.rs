//! What an endpoint's refusal most likely means, in words that name the fix: the server answers
//! with a terse status and reason (it must not help an attacker), the job's author needs the cause.

use serde_json::Value;

use crate::env::{self, non_empty};
use crate::error::CliError;
use crate::health::snippet;

/// Turns a refusal into a message that names the likely fix.
pub(super) fn explain(endpoint: &str, audience: &str, status: u16, body: &[u8]) -> CliError {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let reason = json["reason"].as_str().unwrap_or_default();
    match status {
        401 => {
            let workflow = non_empty(env::GITHUB_WORKFLOW_REF);
            let entry = workflow
                .as_deref()
                .map(|w| w.split('@').next().unwrap_or(w));
            let event = non_empty(env::GITHUB_EVENT_NAME);
            CliError::check(format!("{endpoint} refused the token (HTTP 401 unauthorized)")).with_hint(format!(
                "The server logs which check failed. Likely causes:\n\
                 - audience mismatch: the token was minted for {audience:?}; the endpoint's `audience` in \
                 ci-policy.toml must be exactly that (drop --audience to use the one health reports);\n\
                 - workflow not allowlisted: add {:?} to the endpoint's `workflows` in ci-policy.toml \
                 (this run's workflow_ref: {});\n\
                 - event not allowed: this run's event is {} (pull_request_target, workflow_run and \
                 issue_comment need an explicit `events` entry);\n\
                 - a pinned repository_id/repository_owner_id that differs, or a runner clock over 60 s off.",
                entry.unwrap_or("OWNER/REPO/.github/workflows/FILE.yaml"),
                workflow.as_deref().unwrap_or("unknown"),
                event.as_deref().unwrap_or("unknown"),
            ))
        }
        403 if reason == "repo_mismatch" => CliError::check(format!(
            "{endpoint} refused this repository (HTTP 403 repo_mismatch): {} is not in the endpoint's \
             `repositories` in ci-policy.toml (runs from forks are refused by design)",
            non_empty(env::GITHUB_REPOSITORY).unwrap_or_else(|| "this repository".to_owned())
        )),
        403 => CliError::check(format!(
            "{endpoint} answered HTTP 403 forbidden: {}",
            snippet(body)
        )),
        404 => CliError::check(format!(
            "{endpoint} answered HTTP 404: this deployment does not serve it (production, where CI routes \
             answer 404, or a deployment built before the endpoint existed), or the preview may be in \
             stealth mode (`stealth = true` in its policy): it then answers 404 to every token it \
             does not accept, so check --audience and the policy's repositories and workflows as \
             for a 401 (the server's log names the reason)"
        )),
        413 => CliError::check(format!(
            "{endpoint} refused the body as too large (HTTP 413): send less data"
        )),
        400 if reason == "max_age_too_long" => CliError::check(format!(
            "{endpoint} refused the lifetime (HTTP 400 max_age_too_long): --expires-in is above the \
             endpoint's `cookie_max_age` in ci-policy.toml; ask for less"
        )),
        400 if reason == "cookie_too_large" => CliError::check(format!(
            "{endpoint} refused the request (HTTP 400 cookie_too_large): the overrides would make a cookie \
             over 4096 bytes, which browsers drop; send fewer or shorter flags"
        )),
        400 => CliError::check(format!(
            "{endpoint} refused the request body (HTTP 400: {}): it must be a JSON object with the fields \
             the endpoint expects",
            snippet(body)
        )),
        500 if json["error"] == "misconfigured" => CliError::check(format!(
            "{endpoint} is misconfigured on the preview (HTTP 500): its secret is not set in the deployment's \
             environment; set it for the preview environment and redeploy"
        )),
        _ => CliError::check(format!(
            "{endpoint} answered HTTP {status}: {}",
            snippet(body)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explanations_name_the_fix() {
        let err = explain(
            "flags/encrypt-override",
            "aud",
            401,
            br#"{"error":"unauthorized"}"#,
        );
        let text = err.to_string();
        assert!(
            text.contains("audience mismatch") && text.contains("\"aud\""),
            "{text}"
        );
        assert!(text.contains("workflows"), "{text}");
        let err = explain(
            "x",
            "aud",
            403,
            br#"{"error":"forbidden","reason":"repo_mismatch"}"#,
        );
        assert!(err.message.contains("repositories"), "{}", err.message);
        let err = explain("x", "aud", 404, b"Not Found");
        assert!(err.message.contains("production"), "{}", err.message);
        assert!(err.message.contains("stealth mode"), "{}", err.message);
        let err = explain("x", "aud", 500, br#"{"error":"misconfigured"}"#);
        assert!(err.message.contains("secret is not set"), "{}", err.message);
        let err = explain(
            "x",
            "aud",
            400,
            br#"{"error":"bad_request","reason":"max_age_too_long"}"#,
        );
        assert!(err.message.contains("cookie_max_age"), "{}", err.message);
    }
}
