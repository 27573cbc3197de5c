//! Regression tests from fuzzing (`fuzz/`, target `jwt_claims`).
//!
//! Finding 1 (2.0 M executions in): a signed payload whose *unknown* member held an unpaired
//! surrogate escape (`"check_re un_id":"31415926\ud800535"`) was accepted, while the fuzz
//! harness's reference model, which decoded the whole payload, refused it. JSON allows such
//! escapes (RFC 8259 §8.2) and claims that are not understood are ignored (RFC 7519 §4), so the
//! verifier was right and the model was fixed. These tests pin both halves: what no check reads
//! is skipped undecoded, and what a check reads must decode, or the token is malformed.

use std::sync::OnceLock;

use ci_fixtures::keys::{PRIMARY_KEY, jwks_json, shared_key};
use ci_fixtures::token::now;
use ci_fixtures::{DEFAULT_REPOSITORY, DEFAULT_WORKFLOW, TokenBuilder};
use ci_oidc::{
    EndpointPolicy, GitHubClaims, KeyStore, Rejection, RejectionKind, SecretString, Verifier,
};

const ISS: &str = "https://token.actions.githubusercontent.com";
const AUD: &str = "https://preview.example.com/api/~/ci/flags/encrypt-override";

/// The fixture's pull-request claims with `member` (raw JSON text) replacing claim `name`, or
/// added when the token has no such claim.
fn token_with(name: &str, member: &str) -> String {
    let builder = TokenBuilder::new(ISS, AUD, shared_key(PRIMARY_KEY)).issued_at(now() - 30);
    let mut claims = builder.claims();
    claims.remove(name);
    let json = serde_json::Value::Object(claims).to_string();
    let payload = format!("{},\"{name}\":{member}}}", &json[..json.len() - 1]);
    builder.raw_payload(&payload).build()
}

fn verify(token: String) -> Result<GitHubClaims, Rejection> {
    static V: OnceLock<Verifier> = OnceLock::new();
    let verifier = V.get_or_init(|| {
        let jwks = jwks_json(&[shared_key(PRIMARY_KEY)]);
        Verifier::new(
            ISS,
            KeyStore::from_jwks_json(jwks.as_bytes()).expect("JWKS"),
        )
    });
    let policy = EndpointPolicy::new(AUD, DEFAULT_REPOSITORY, DEFAULT_WORKFLOW);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(verifier.verify(&SecretString::new(token), &policy))
}

#[test]
fn members_no_check_reads_are_skipped_undecoded() {
    for member in [
        r#""31415926\ud800535""#,
        r#""\udc00""#,
        "1e400",
        r#"{"a":["\ud800"]}"#,
    ] {
        let claims = verify(token_with("check_re un_id", member))
            .unwrap_or_else(|r| panic!("unknown member {member} refused: {r}"));
        assert_eq!(claims.repository.as_deref(), Some(DEFAULT_REPOSITORY));
    }
}

#[test]
fn claims_a_check_reads_must_decode() {
    let cases = [
        ("repository", r#""octo-org/octo-repo\ud800""#),
        ("aud", r#""\ud800""#),
        ("workflow_ref", r#""\udfff""#),
        ("exp", "1e400"),
        ("iat", "-1e400"),
    ];
    for (name, member) in cases {
        let err = verify(token_with(name, member)).expect_err(name);
        assert_eq!(err.kind, RejectionKind::Malformed, "{name}: {err}");
    }
}

#[test]
fn the_unmodified_token_is_accepted() {
    let builder = TokenBuilder::new(ISS, AUD, shared_key(PRIMARY_KEY)).issued_at(now() - 30);
    verify(builder.build()).expect("baseline");
}
