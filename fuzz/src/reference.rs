//! Reference models the targets hold the real code to.
//!
//! Written from the contract (`CONTRACT.md` §4, the ci-oidc module docs), not from the code, and
//! deliberately simple: a target asserts that whatever the verifier accepts, the model accepts
//! too, and that the claims handed to the endpoint are the ones in the payload. A verifier that
//! accepted a token the model refuses would be a policy bypass, whatever the reason.
//!
//! Members the model does not know are skipped without being decoded, as RFC 7519 §4 has claims
//! that are not understood ignored: JSON allows what a Rust string cannot hold (an unpaired
//! surrogate escape, RFC 8259 §8.2) or an `f64` cannot (`1e400`), and a token carrying such a
//! member in a claim nobody reads is still the issuer's token (the first `jwt_claims` finding).

use ci_oidc::{DEFAULT_EVENTS, EndpointPolicy, GitHubClaims, WorkflowClaim};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::jwt::ISSUER;

const LEEWAY: i128 = 60;
const MAX_LIFETIME: i128 = 600;

/// GitHub's claims that must be strings when present (ids included: GitHub sends them quoted).
const STRING_CLAIMS: &[&str] = &[
    "jti",
    "sub",
    "environment",
    "ref",
    "sha",
    "repository",
    "repository_id",
    "repository_owner",
    "repository_owner_id",
    "repository_visibility",
    "actor",
    "actor_id",
    "workflow",
    "workflow_ref",
    "workflow_sha",
    "job_workflow_ref",
    "job_workflow_sha",
    "event_name",
    "head_ref",
    "base_ref",
    "ref_type",
    "ref_protected",
    "run_id",
    "run_number",
    "run_attempt",
    "runner_environment",
    "enterprise",
    "enterprise_id",
    "check_run_id",
];

macro_rules! known_claims {
    ($($field:ident: $name:literal),* $(,)?) => {
        /// The members the model reads, each as whatever JSON value it is.
        #[derive(Deserialize)]
        struct Known {
            $( #[serde(rename = $name)] $field: Option<Value>, )*
        }

        fn members(known: Known) -> Map<String, Value> {
            let mut map = Map::new();
            $( if let Some(v) = known.$field { map.insert($name.to_owned(), v); } )*
            map
        }
    };
}

known_claims! {
    iss: "iss", aud: "aud", exp: "exp", iat: "iat", nbf: "nbf", jti: "jti", sub: "sub",
    environment: "environment", git_ref: "ref", sha: "sha", repository: "repository",
    repository_id: "repository_id", repository_owner: "repository_owner",
    repository_owner_id: "repository_owner_id", repository_visibility: "repository_visibility",
    actor: "actor", actor_id: "actor_id", workflow: "workflow", workflow_ref: "workflow_ref",
    workflow_sha: "workflow_sha", job_workflow_ref: "job_workflow_ref",
    job_workflow_sha: "job_workflow_sha", event_name: "event_name", head_ref: "head_ref",
    base_ref: "base_ref", ref_type: "ref_type", ref_protected: "ref_protected", run_id: "run_id",
    run_number: "run_number", run_attempt: "run_attempt",
    runner_environment: "runner_environment", enterprise: "enterprise",
    enterprise_id: "enterprise_id", check_run_id: "check_run_id",
}

/// The payload's known members; `Err` when it is not a JSON object.
fn claims_of(payload: &[u8]) -> Result<Map<String, Value>, String> {
    if payload.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err("payload is not a JSON object".into());
    }
    serde_json::from_slice::<Known>(payload)
        .map(members)
        .map_err(|e| format!("payload: {e}"))
}

fn string<'a>(c: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    c.get(k).and_then(Value::as_str)
}

/// A NumericDate: a JSON number, fractions floored; absent and `null` are both "absent".
fn date(c: &Map<String, Value>, k: &str) -> Result<Option<i128>, String> {
    match c.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Some(i128::from(i))),
            (None, Some(f)) if f.is_finite() && f.abs() < 1e15 => Ok(Some(f.floor() as i128)),
            _ => Err(format!("{k}: out of range")),
        },
        Some(_) => Err(format!("{k}: not a number")),
    }
}

/// Whether a token with this payload may call an endpoint with `policy` at `now`.
pub fn token_allowed(payload: &[u8], policy: &EndpointPolicy, now: i64) -> Result<(), String> {
    let c = claims_of(payload)?;
    for k in STRING_CLAIMS {
        if !matches!(c.get(*k), None | Some(Value::Null | Value::String(_))) {
            return Err(format!("{k}: not a string"));
        }
    }
    if string(&c, "iss") != Some(ISSUER) {
        return Err("iss".into());
    }
    if string(&c, "aud") != Some(policy.audience.as_str()) {
        return Err("aud".into());
    }
    let now = i128::from(now);
    // Times truncated toward the past; `exp` and `nbf` non-negative (as `jsonwebtoken` requires).
    let exp = date(&c, "exp")?.ok_or("exp missing")?;
    let nbf = date(&c, "nbf")?;
    if exp < 0 || nbf.is_some_and(|n| n < 0) {
        return Err("negative time".into());
    }
    if exp < now - LEEWAY || nbf.is_some_and(|n| n > now + LEEWAY) {
        return Err("time".into());
    }
    let iat = date(&c, "iat")?.ok_or("iat missing")?;
    if iat > now + LEEWAY {
        return Err("time".into());
    }
    if !(0..=MAX_LIFETIME).contains(&(exp - iat)) {
        return Err("lifetime".into());
    }
    let repo = string(&c, "repository").ok_or("repository missing")?;
    if !policy
        .repositories
        .iter()
        .any(|r| r.eq_ignore_ascii_case(repo))
    {
        return Err("repository".into());
    }
    for (claim, pins) in [
        ("repository_id", &policy.repository_ids),
        ("repository_owner_id", &policy.repository_owner_ids),
    ] {
        if !pins.is_empty() && !string(&c, claim).is_some_and(|v| pins.iter().any(|p| p == v)) {
            return Err(claim.into());
        }
    }
    let claim = match policy.workflow_claim {
        WorkflowClaim::WorkflowRef => "workflow_ref",
        WorkflowClaim::JobWorkflowRef => "job_workflow_ref",
    };
    let actual = string(&c, claim).ok_or("workflow claim missing")?;
    let git_ref = string(&c, "ref").ok_or("ref missing")?;
    let sha = string(&c, "sha").ok_or("sha missing")?;
    // With job_workflow_ref a bare entry takes only the calling repository's workflow at the
    // run's own ref; with workflow_ref, the run's ref or sha.
    let reusable = policy.workflow_claim == WorkflowClaim::JobWorkflowRef;
    let at = if reusable { vec![git_ref] } else { vec![git_ref, sha] };
    let pinned = policy.workflows.iter().any(|entry| {
        // An entry that names its ref matches that exact claim; a bare path takes the
        // token's own ref or sha.
        if entry.contains(".yml@") || entry.contains(".yaml@") {
            actual == entry
        } else {
            let own = entry
                .split_once("/.github/workflows/")
                .is_some_and(|(r, _)| r.eq_ignore_ascii_case(repo));
            (!reusable || own)
                && at
                    .iter()
                    .any(|r| !r.is_empty() && actual == format!("{entry}@{r}"))
        }
    });
    if !pinned {
        return Err("workflow".into());
    }
    let event = string(&c, "event_name").ok_or("event_name missing")?;
    let allowed = match &policy.events {
        Some(list) => list.iter().any(|e| e == event),
        None => DEFAULT_EVENTS.contains(&event),
    };
    if !allowed {
        return Err("event".into());
    }
    Ok(())
}

/// The claims the verifier returned are the payload's, field by field.
pub fn claims_match(claims: &GitHubClaims, payload: &[u8]) -> Result<(), String> {
    let c = claims_of(payload)?;
    let Ok(Value::Object(returned)) = serde_json::to_value(claims) else {
        return Err("claims do not serialise".into());
    };
    for (k, v) in &returned {
        let expected = match k.as_str() {
            // Times come back as whole seconds.
            "exp" | "iat" | "nbf" => date(&c, k)?.map(|d| Value::from(d as i64)),
            _ => c.get(k).cloned(),
        };
        if expected.as_ref() != Some(v) {
            return Err(format!("claim {k}: returned {v}, payload has {expected:?}"));
        }
    }
    Ok(())
}

/// What decrypting an override cookie must give for this plaintext (canonical header): the
/// `o` member, or `None` when the SDK's checks refuse it.
pub fn cookie_overrides(plaintext: &[u8], now: i64) -> Option<Value> {
    let Ok(Value::Object(mut c)) = serde_json::from_slice::<Value>(plaintext) else {
        return None;
    };
    let now = now as f64;
    let exp = c.get("exp")?.as_number()?.as_f64()?;
    if exp <= now {
        return None;
    }
    match c.get("nbf") {
        None => {}
        Some(Value::Number(n)) if n.as_f64()? <= now => {}
        Some(_) => return None,
    }
    if !matches!(c.get("iat"), None | Some(Value::Number(_))) {
        return None;
    }
    let purpose_ok = match c.get("pur") {
        Some(Value::String(p)) => p == "overrides",
        Some(Value::Array(ps)) => ps.iter().any(|p| p.as_str() == Some("overrides")),
        _ => false,
    };
    if !purpose_ok {
        return None;
    }
    c.remove("o")
}
