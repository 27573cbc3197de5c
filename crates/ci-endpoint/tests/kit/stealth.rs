//! Stealth mode (`stealth = true`): every request that has not been verified gets the answer of a
//! path that does not exist, byte for byte, and no sooner than a path that does not exist does
//! (the timing probe below); a verified caller still gets the full answers.

use std::time::{Duration, Instant};

use axum::{Json, Router, body::Body, http::Request, routing::post};
use ci_endpoint::server::{Deployment, Policy, STEALTH_FLOOR};
use ci_endpoint::{Endpoint, RequestBody, VerifiedJson};
use ci_fixtures::{Answer, MockIssuer, send, static_verifier};
use serde_json::{Map, Value, json};

const NAME: &str = "test/hidden";
const PATH: &str = "/api/~/ci/test/hidden";
const AUDIENCE: &str = "https://ci.test/api/~/ci/test/hidden";
const BODY: &str = r#"{"flags":{"a":true}}"#;

#[derive(serde::Deserialize)]
struct Flags {
    flags: Map<String, Value>,
}

impl RequestBody for Flags {}

async fn hidden(VerifiedJson { body, .. }: VerifiedJson<Flags>) -> Json<Value> {
    Json(json!({ "count": body.flags.len() }))
}

fn app(issuer: &MockIssuer, stealth: bool) -> Router {
    let mut toml = String::new();
    if stealth {
        toml.push_str("stealth = true\n");
    }
    toml.push_str(&issuer.policy_toml(NAME, AUDIENCE));
    let policy = Policy::from_toml_str(&toml).expect("policy");
    let deployment = Deployment {
        environment: Some("preview".to_owned()),
        ..Deployment::default()
    };
    let endpoint = Endpoint::new(NAME, post(hidden));
    ci_endpoint::server::app(policy, deployment, static_verifier(issuer), vec![endpoint])
        .expect("app")
}

fn request(method: &str, path: &str, token: Option<&str>, body: &str) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(token) = token {
        builder = builder.header(ci_endpoint::TOKEN_HEADER, token);
    }
    builder.body(Body::from(body.to_owned())).expect("request")
}

/// The probes a scanner would send, each with a name. The first is the reference: a path that
/// does not exist.
fn unverified_probes(issuer: &MockIssuer) -> Vec<(&'static str, Request<Body>)> {
    let other_repository = issuer
        .token(AUDIENCE)
        .claim("repository", "someone/else")
        .build();
    vec![
        (
            "unknown path",
            request("GET", "/api/~/ci/no/such/endpoint", None, ""),
        ),
        (
            "unknown path, POST",
            request("POST", "/api/~/ci/nothing", None, BODY),
        ),
        ("no token", request("POST", PATH, None, BODY)),
        ("blank token", request("POST", PATH, Some(" "), BODY)),
        ("garbage token", request("POST", PATH, Some("a.b.c"), BODY)),
        (
            "foreign signature",
            request(
                "POST",
                PATH,
                Some(&issuer.token(AUDIENCE).sign_with_foreign_key().build()),
                BODY,
            ),
        ),
        (
            "another audience",
            request(
                "POST",
                PATH,
                Some(&issuer.token("https://ci.test/other").build()),
                BODY,
            ),
        ),
        (
            "expired",
            request(
                "POST",
                PATH,
                Some(&issuer.token(AUDIENCE).expired().build()),
                BODY,
            ),
        ),
        (
            "another repository",
            request("POST", PATH, Some(&other_repository), BODY),
        ),
        ("wrong method", request("GET", PATH, None, "")),
        ("health", request("GET", "/api/~/ci/health", None, "")),
        (
            "health, encoded ~",
            request("GET", "/api/%7E/ci/health", None, ""),
        ),
        (
            "health, refused token",
            request("GET", "/api/~/ci/health", Some(&other_repository), ""),
        ),
    ]
}

fn same_answer(reference: &Answer, answer: &Answer) -> bool {
    answer.status == reference.status
        && answer.headers == reference.headers
        && answer.body == reference.body
}

#[tokio::test]
async fn unverified_requests_get_the_unknown_paths_answer_byte_for_byte() {
    let issuer = MockIssuer::start().await;
    let app = app(&issuer, true);
    let probes = unverified_probes(&issuer);
    let mut answers = Vec::new();
    for (name, probe) in probes {
        answers.push((name, send(&app, probe).await));
    }
    let reference = &answers[0].1;
    assert_eq!(reference.status, 404);
    assert_eq!(reference.body, "Not Found");
    assert_eq!(reference.headers["cache-control"], "no-store");
    for (name, answer) in &answers {
        assert!(
            same_answer(reference, answer),
            "{name}: {answer:?} differs from {reference:?}"
        );
    }

    // Without stealth the same probes are told apart (the test would catch a switch that does nothing).
    let open = app_without_stealth(&issuer);
    let mut told_apart = 0;
    for (_, probe) in unverified_probes(&issuer).into_iter().skip(1) {
        if !same_answer(reference, &send(&open, probe).await) {
            told_apart += 1;
        }
    }
    assert!(
        told_apart >= 9,
        "only {told_apart} probes differ without stealth"
    );
}

fn app_without_stealth(issuer: &MockIssuer) -> Router {
    app(issuer, false)
}

#[tokio::test]
async fn verified_callers_still_get_full_answers() {
    let issuer = MockIssuer::start().await;
    let app = app(&issuer, true);
    let token = || issuer.token(AUDIENCE).build();

    let answer = send(&app, request("POST", PATH, Some(&token()), BODY)).await;
    assert_eq!(
        (answer.status.as_u16(), answer.body.as_str()),
        (200, r#"{"count":1}"#)
    );
    let answer = send(&app, request("POST", PATH, Some(&token()), "not json")).await;
    assert_eq!(
        (answer.status.as_u16(), answer.body.as_str()),
        (400, r#"{"error":"bad_request"}"#)
    );
    let big = format!(r#"{{"flags":{{"a":"{}"}}}}"#, "x".repeat(70 * 1024));
    let answer = send(&app, request("POST", PATH, Some(&token()), &big)).await;
    assert_eq!(answer.status, 413);

    let answer = send(&app, request("GET", "/api/~/ci/health", Some(&token()), "")).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let health = answer.json();
    assert_eq!(health["endpoints"][0]["name"], NAME);
    assert_eq!(health["endpoints"][0]["audience"], AUDIENCE);
}

#[tokio::test]
async fn the_policy_switch_is_off_by_default_and_must_be_a_boolean() {
    let issuer = MockIssuer::start().await;
    let open = app_without_stealth(&issuer);
    let answer = send(&open, request("POST", PATH, None, BODY)).await;
    assert_eq!(answer.status, 401);
    let bad = format!("stealth = \"yes\"\n{}", issuer.policy_toml(NAME, AUDIENCE));
    let error = Policy::from_toml_str(&bad).expect_err("a string is not a switch");
    assert!(error.to_string().contains("stealth"), "{error}");
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// A scanner's timing probe: each kind of unverified request, sent in turns so that whatever
/// load the machine is under falls on every kind alike. Two checks that load cannot break:
/// no answer comes before the floor (load only ever adds time, so an early exit shows as a
/// minimum below it), and each kind's median is within half the floor of the unknown path's.
#[tokio::test]
async fn no_refusal_answers_measurably_sooner_or_later_than_an_unknown_path() {
    const ROUNDS: usize = 12;
    let issuer = MockIssuer::start().await;
    let app = app(&issuer, true);
    let kinds = unverified_probes(&issuer).len();
    let mut samples = vec![Vec::with_capacity(ROUNDS); kinds];
    let mut names = Vec::new();
    for _ in 0..ROUNDS {
        names.clear();
        for (i, (name, probe)) in unverified_probes(&issuer).into_iter().enumerate() {
            let started = Instant::now();
            let answer = send(&app, probe).await;
            samples[i].push(started.elapsed());
            assert_eq!(answer.status, 404, "{name}");
            names.push(name);
        }
    }
    let mut verified = Vec::new();
    for _ in 0..ROUNDS {
        let token = issuer.token(AUDIENCE).build();
        let started = Instant::now();
        let answer = send(&app, request("POST", PATH, Some(&token), BODY)).await;
        verified.push(started.elapsed());
        assert_eq!(answer.status, 200);
    }

    let reference = median(&mut samples[0].clone());
    for (name, kind) in names.iter().zip(&mut samples) {
        let fastest = *kind.iter().min().unwrap();
        assert!(
            fastest >= STEALTH_FLOOR,
            "{name}: answered in {fastest:?}, before the floor"
        );
        let middle = median(kind);
        let gap = middle.abs_diff(reference);
        assert!(
            gap <= STEALTH_FLOOR / 2,
            "{name}: median {middle:?} vs the unknown path's {reference:?}"
        );
    }
    let fastest_verified = *verified.iter().min().unwrap();
    assert!(
        fastest_verified < STEALTH_FLOOR,
        "a verified call is not padded: {fastest_verified:?}"
    );
}
