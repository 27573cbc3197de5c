//! The token side: the fixed key, its JWKS, the verifier, the policies, and token minting.

use std::sync::LazyLock;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ci_oidc::{EndpointPolicy, KeyStore, Verifier, WorkflowClaim};
use serde_json::json;

/// `iss` the verifier trusts.
pub const ISSUER: &str = "https://token.actions.githubusercontent.com";
/// `aud` of every policy.
pub const AUDIENCE: &str = "https://ci-in-preview.fuzz/api/~/ci/flags/encrypt-override";
/// The allowed repository (the `ci-fixtures` default).
pub const REPOSITORY: &str = "octo-org/octo-repo";
/// Its id.
pub const REPOSITORY_ID: &str = "123456789";
/// Its owner's id.
pub const OWNER_ID: &str = "987654321";
/// The allowed workflow, in policy-entry form.
pub const WORKFLOW: &str = "octo-org/octo-repo/.github/workflows/ci-in-preview-smoke.yaml";
/// A reusable workflow in another repository.
pub const SHARED_WORKFLOW: &str = "octo-org/shared/.github/workflows/preview.yml";
/// `kid` of the fixed key.
pub const KID: &str = "0f2c6f1e-fuzz-4c1b-9d55-5e1a8a7c3b10";
/// The corpus epoch, 2027-01-15T08:00:00Z: corpus tokens are issued 30 s before it, and the
/// cookie targets use it as their fixed clock. The verifier's `exp`/`nbf` checks read the
/// system clock, so JWT times are moved onto it by [`rebase`].
pub const NOW: i64 = 1_800_000_000;

/// How far from [`NOW`] a 10-digit number may be and still count as a time to rebase.
const REBASE_SPAN: i64 = 1_000_000;

/// `payload` with every 10-digit number within [`REBASE_SPAN`] of [`NOW`] moved by `now - NOW`,
/// every other byte unchanged. The verifier and the reference model both see the result, so a
/// corpus input keeps its meaning (issued 30 s ago, expiring in 270 s) whatever the date.
pub fn rebase(payload: &[u8], now: i64) -> Vec<u8> {
    let mut out = payload.to_vec();
    let mut i = 0;
    while i < out.len() {
        let len = out[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if len == 10
            && let Some(v) = std::str::from_utf8(&out[i..i + len])
                .ok()
                .and_then(|d| d.parse::<i64>().ok())
            && (v - NOW).abs() <= REBASE_SPAN
        {
            let moved = format!("{:010}", v - NOW + now);
            if moved.len() == 10 {
                out[i..i + 10].copy_from_slice(moved.as_bytes());
            }
        }
        i += len.max(1);
    }
    out
}

/// Runs `f` with the current second until the clock did not move during the run (the model
/// and the verifier must judge times at the same second). As `ci_fixtures::token::within_one_second`,
/// which this workspace does not build into the targets.
pub fn at_one_second<T>(mut f: impl FnMut(i64) -> T) -> T {
    loop {
        let before = ci_oidc::unix_now();
        let answer = f(before);
        if ci_oidc::unix_now() == before {
            return answer;
        }
    }
}

static PEM: &str = include_str!("../keys/fuzz-rsa2048.pem");

static KEY: LazyLock<KeyPair> = LazyLock::new(|| {
    let b64: String = PEM.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(b64).expect("fuzz key PEM");
    KeyPair::from_pkcs8(&der).expect("fuzz key PKCS#8")
});

/// The JWKS publishing the fixed key, shaped like GitHub's.
pub fn jwks_json() -> String {
    let public = KEY.public_key();
    json!({ "keys": [{
        "kty": "RSA", "alg": "RS256", "use": "sig", "kid": KID,
        "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
        "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
    }]})
    .to_string()
}

static VERIFIER: LazyLock<Verifier> = LazyLock::new(|| {
    let keys = KeyStore::from_jwks_json(jwks_json().as_bytes()).expect("fuzz JWKS");
    Verifier::new(ISSUER, keys)
});

/// A verifier over a static store holding only the fixed key.
pub fn verifier() -> &'static Verifier {
    &VERIFIER
}

static POLICIES: LazyLock<Vec<EndpointPolicy>> = LazyLock::new(|| {
    let base = EndpointPolicy {
        repository_owner_ids: vec![OWNER_ID.into()],
        ..EndpointPolicy::new(AUDIENCE, REPOSITORY, WORKFLOW)
    };
    let pinned = EndpointPolicy {
        repository_ids: vec![REPOSITORY_ID.into()],
        repository_owner_ids: vec![OWNER_ID.into()],
        events: Some(vec!["pull_request".into(), "push".into()]),
        ..base.clone()
    };
    let reusable = EndpointPolicy {
        workflow_claim: WorkflowClaim::JobWorkflowRef,
        // Another repository's reusable workflow names its ref (a bare entry is refused).
        workflows: vec![WORKFLOW.into(), format!("{SHARED_WORKFLOW}@refs/tags/v1")],
        ..pinned.clone()
    };
    // An entry naming its own ref: the reusable workflow is accepted at that exact ref only,
    // whatever the run's own ref and sha.
    let branch = EndpointPolicy {
        workflows: vec![format!("{SHARED_WORKFLOW}@refs/heads/main")],
        ..reusable.clone()
    };
    let all = vec![base, pinned, reusable, branch];
    for p in &all {
        p.validate().expect("fuzz policy");
    }
    all
});

/// The policies a target can pick from: defaults; ids and events pinned; `job_workflow_ref`;
/// `job_workflow_ref` pinned to a branch by the entry itself.
pub fn policies() -> &'static [EndpointPolicy] {
    &POLICIES
}

/// The RS256 header a GitHub token carries, with the fixed key's `kid`.
pub fn header_json() -> String {
    json!({ "typ": "JWT", "alg": "RS256", "x5t": "fuzz", "kid": KID }).to_string()
}

/// `header.payload.signature`, signed by the fixed key (~0.5 ms: an RSA-2048 private operation).
pub fn sign(header_json: &[u8], payload: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header_json),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mut sig = vec![0u8; KEY.public_modulus_len()];
    KEY.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .expect("RSA signing");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// The decoded payload of a compact JWS, if it has one.
pub fn payload_of(token: &str) -> Option<Vec<u8>> {
    let mut parts = token.split('.');
    let _header = parts.next()?;
    URL_SAFE_NO_PAD.decode(parts.next()?).ok()
}
