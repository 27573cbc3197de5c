//! The rejection suite: one row per attack or mistake, each with the rejection kind it must
//! produce. Every row also checks that the rejection maps to the contract's reason and never
//! carries the token or its signature.

use crate::common::{AUD, policy, setup, verify};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ci_fixtures::token::now;
use ci_fixtures::{
    Alg, DEFAULT_REPOSITORY_ID, DEFAULT_SHA, DEFAULT_WORKFLOW, MockIssuer, RsaScheme, TokenBuilder,
};
use ci_oidc::{EndpointPolicy, Reason, RejectionKind as K, WorkflowClaim};
use serde_json::json;

type Mint = Box<dyn Fn(&MockIssuer) -> String>;
type Tweak = fn(&mut EndpointPolicy);

struct Row {
    name: &'static str,
    mint: Mint,
    tweak: Tweak,
    kind: K,
}

fn row(name: &'static str, kind: K, mint: impl Fn(TokenBuilder) -> TokenBuilder + 'static) -> Row {
    Row {
        name,
        mint: Box::new(move |i: &MockIssuer| mint(i.token(AUD)).build()),
        tweak: |_| {},
        kind,
    }
}

fn raw(name: &'static str, kind: K, mint: impl Fn(&MockIssuer) -> String + 'static) -> Row {
    Row {
        name,
        mint: Box::new(mint),
        tweak: |_| {},
        kind,
    }
}

fn with_policy(mut r: Row, tweak: Tweak) -> Row {
    r.tweak = tweak;
    r
}

fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

/// Replaces the payload of a validly signed token (signature no longer matches).
fn swap_payload(token: &str, payload: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", parts[0], b64(payload), parts[2])
}

fn rows() -> Vec<Row> {
    let wf = DEFAULT_WORKFLOW;
    let pr_ref = "refs/pull/12/merge";
    vec![
        // --- algorithm and header ---
        row("alg none, empty signature", K::Algorithm, |t| {
            t.alg(Alg::None)
        }),
        row(
            "alg none header over an RS256 signature",
            K::Algorithm,
            |t| t.header("alg", "none"),
        ),
        row("HS256 keyed with the RSA public key", K::Algorithm, |t| {
            t.alg(Alg::Hs256PublicKey)
        }),
        row("HS256 with a guessed secret", K::Algorithm, |t| {
            t.alg(Alg::Hs256(b"secret".to_vec()))
        }),
        row("HS512 header", K::Algorithm, |t| t.header("alg", "HS512")),
        row("RS384", K::Algorithm, |t| t.alg(Alg::Rsa(RsaScheme::Rs384))),
        row("RS512", K::Algorithm, |t| t.alg(Alg::Rsa(RsaScheme::Rs512))),
        row("PS256", K::Algorithm, |t| t.alg(Alg::Rsa(RsaScheme::Ps256))),
        row("ES256 header", K::Algorithm, |t| t.header("alg", "ES256")),
        row("lower-case rs256", K::Algorithm, |t| {
            t.header("alg", "rs256")
        }),
        row("alg missing", K::Algorithm, |t| t.without_header("alg")),
        row("alg not a string", K::Malformed, |t| {
            t.header("alg", json!(["RS256"]))
        }),
        raw("jku pointing at the real JWKS", K::ForbiddenHeader, |i| {
            i.token(AUD).header("jku", i.jwks_url()).build()
        }),
        row("x5u", K::ForbiddenHeader, |t| {
            t.header("x5u", "https://evil.example/cert.pem")
        }),
        raw("embedded jwk of the signer", K::ForbiddenHeader, |i| {
            i.token(AUD).header("jwk", i.signing_key().jwk()).build()
        }),
        row("x5c", K::ForbiddenHeader, |t| {
            t.header("x5c", json!(["MIIB"]))
        }),
        row("crit", K::ForbiddenHeader, |t| {
            t.header("crit", json!(["exp"]))
        }),
        // jsonwebtoken accepts `crit: ["b64"]` with `b64: true`; GitHub never sends it.
        row(
            "crit b64 (accepted by jsonwebtoken)",
            K::ForbiddenHeader,
            |t| t.header("b64", true).header("crit", json!(["b64"])),
        ),
        row("kid missing", K::Malformed, |t| t.without_header("kid")),
        row("kid empty", K::Malformed, |t| t.kid("")),
        row("typ not JWT", K::Malformed, |t| t.header("typ", "at+jwt")),
        // --- keys and signature ---
        row("unknown kid", K::UnknownKey, |t| t.kid("no-such-key")),
        row(
            "signed by a foreign key under the real kid",
            K::Signature,
            |t| t.sign_with_foreign_key(),
        ),
        raw("payload swapped after signing", K::Signature, |i| {
            let good = i.token(AUD).build();
            let evil = i.token(AUD).claim("repository", "evil/repo").claims();
            swap_payload(&good, &serde_json::Value::Object(evil).to_string())
        }),
        raw("signature truncated", K::Signature, |i| {
            let t = i.token(AUD).build();
            let (head, sig) = t.rsplit_once('.').unwrap();
            let mut bytes = URL_SAFE_NO_PAD.decode(sig).unwrap();
            bytes.truncate(bytes.len() - 1);
            format!("{head}.{}", URL_SAFE_NO_PAD.encode(bytes))
        }),
        raw("signature of another token", K::Signature, |i| {
            let a = i.token(AUD).build();
            let b = i.token(AUD).push_to("main").build();
            format!(
                "{}.{}",
                a.rsplit_once('.').unwrap().0,
                b.rsplit_once('.').unwrap().1
            )
        }),
        // --- format ---
        raw("two segments", K::Malformed, |i| {
            i.token(AUD).build().rsplit_once('.').unwrap().0.to_owned()
        }),
        raw("four segments", K::Malformed, |i| {
            format!("{}.e30", i.token(AUD).build())
        }),
        raw("padded base64", K::Malformed, |i| {
            let t = i.token(AUD).build();
            let (head, sig) = t.rsplit_once('.').unwrap();
            format!("{head}.{sig}==")
        }),
        raw("standard-alphabet base64", K::Malformed, |i| {
            let t = i.token(AUD).build();
            let (head, sig) = t.rsplit_once('.').unwrap();
            format!("{head}.{}", sig.replace('-', "+").replace('_', "/") + "+/")
        }),
        raw("whitespace in token", K::Malformed, |i| {
            format!(" {}", i.token(AUD).build())
        }),
        raw("oversized token", K::Malformed, |i| {
            i.token(AUD).claim("pad", "x".repeat(20_000)).build()
        }),
        row("payload is an array", K::Malformed, |t| {
            t.raw_payload("[1,2,3]")
        }),
        row("payload is not JSON", K::Malformed, |t| {
            t.raw_payload("not json")
        }),
        raw("duplicate aud claim", K::Malformed, |i| {
            let p = format!(
                r#"{{"iss":"{}","aud":"{AUD}","aud":"https://other"}}"#,
                i.issuer_url()
            );
            i.token(AUD).raw_payload(&p).build()
        }),
        row("repository_id as a JSON number", K::Malformed, |t| {
            t.claim("repository_id", 123456789)
        }),
        // --- issuer and audience ---
        row("other issuer", K::Issuer, |t| {
            t.claim("iss", "https://token.actions.githubusercontent.com")
        }),
        raw("issuer with trailing slash", K::Issuer, |i| {
            i.token(AUD)
                .claim("iss", format!("{}/", i.issuer_url()))
                .build()
        }),
        row("iss missing", K::MissingClaim, |t| t.without("iss")),
        row("iss not a string", K::Malformed, |t| t.claim("iss", 1)),
        row("aud list containing ours", K::Audience, |t| {
            t.claim("aud", json!([AUD]))
        }),
        row("aud list of two", K::Audience, |t| {
            t.claim("aud", json!([AUD, "https://other"]))
        }),
        row("aud of another endpoint", K::Audience, |t| {
            t.claim("aud", "https://preview.example.com/api/~/ci/other")
        }),
        row("aud with different case", K::Audience, |t| {
            t.claim("aud", AUD.to_uppercase())
        }),
        row("aud missing", K::MissingClaim, |t| t.without("aud")),
        row("aud a number", K::Audience, |t| t.claim("aud", 1)),
        // --- times ---
        row("expired", K::Expired, |t| t.expired()),
        row("expired just beyond leeway", K::Expired, |t| {
            t.issued_at(now() - 300 - 62)
        }),
        row("exp missing", K::MissingClaim, |t| t.without("exp")),
        row("exp as a string", K::Malformed, |t| {
            t.claim("exp", (now() + 300).to_string())
        }),
        row("exp null", K::MissingClaim, |t| {
            t.claim("exp", serde_json::Value::Null)
        }),
        // The library's rules, checked here since the claims are parsed once (`registered.rs`).
        row("exp negative", K::Malformed, |t| t.claim("exp", -1)),
        row("exp a fraction in the past", K::Expired, |t| {
            t.claim("exp", now() as f64 - 61.5)
        }),
        row("exp an object", K::Malformed, |t| {
            t.claim("exp", json!({"n": 1}))
        }),
        row("nbf negative", K::Malformed, |t| t.claim("nbf", -5)),
        row("iat missing", K::MissingClaim, |t| t.without("iat")),
        row("iat as a string", K::Malformed, |t| {
            t.claim("iat", now().to_string())
        }),
        row("iat in the future", K::IssuedInFuture, |t| {
            t.issued_at(now() + 120)
        }),
        // jsonwebtoken leaves `nbf` unchecked by default; here it is on, and must be a number.
        row("nbf as a string", K::Malformed, |t| {
            t.claim("nbf", (now() - 10).to_string())
        }),
        row("nbf in the future", K::NotYetValid, |t| {
            t.claim("nbf", now() + 120)
        }),
        row("nbf as a string", K::Malformed, |t| t.claim("nbf", "0")),
        row("lifetime of a day", K::Lifetime, |t| {
            t.claim("exp", now() + 86_400)
        }),
        row("lifetime just over the maximum", K::Lifetime, |t| {
            let iat = now() - 10;
            t.claim("iat", iat)
                .claim("exp", iat + ci_oidc::MAX_LIFETIME_SECS + 1)
        }),
        row("exp before iat", K::Lifetime, |t| {
            t.claim("iat", now()).claim("exp", now() - 10)
        }),
        // --- repository (403 repo_mismatch) ---
        row("repository missing", K::Repository, |t| {
            t.without("repository")
        }),
        row("other repository", K::Repository, |t| {
            t.claim("repository", "evil-org/octo-repo")
        }),
        row("repository prefix", K::Repository, |t| {
            t.claim("repository", "octo-org/octo-repo-fork")
        }),
        row("repository with unicode look-alike", K::Repository, |t| {
            t.claim("repository", "octo-org/octo-rеpo")
        }),
        // --- id pins ---
        with_policy(
            row("repository_id mismatch", K::RepositoryId, |t| {
                t.claim("repository_id", "1")
            }),
            |p| p.repository_ids = vec![DEFAULT_REPOSITORY_ID.into()],
        ),
        with_policy(
            row("repository_id missing", K::RepositoryId, |t| {
                t.without("repository_id")
            }),
            |p| p.repository_ids = vec![DEFAULT_REPOSITORY_ID.into()],
        ),
        with_policy(
            row("repository_owner_id mismatch", K::RepositoryOwnerId, |t| t),
            |p| p.repository_owner_ids = vec!["1".into()],
        ),
        // --- workflow ---
        row("other workflow file", K::Workflow, |t| {
            t.workflow("octo-org/octo-repo/.github/workflows/other.yaml")
        }),
        row("suffix attack smoke.yaml-evil.yaml", K::Workflow, |t| {
            t.workflow(&format!("{DEFAULT_WORKFLOW}-evil.yaml"))
        }),
        row("workflow in another repository", K::Workflow, |t| {
            t.workflow("evil-org/octo-repo/.github/workflows/ci-in-preview-smoke.yaml")
        }),
        row(
            "workflow_ref at another ref than the token's",
            K::Workflow,
            move |t| t.claim("workflow_ref", format!("{wf}@refs/heads/main")),
        ),
        row(
            "workflow_ref at a ref that extends the token's",
            K::Workflow,
            move |t| t.claim("workflow_ref", format!("{wf}@{pr_ref}@x")),
        ),
        row("workflow_ref at the sha's prefix", K::Workflow, move |t| {
            t.claim("workflow_ref", format!("{wf}@{}", &DEFAULT_SHA[..7]))
        }),
        row("workflow_ref without ref", K::Workflow, move |t| {
            t.claim("workflow_ref", wf)
        }),
        row("workflow_ref missing", K::Workflow, |t| {
            t.without("workflow_ref")
        }),
        row("ref missing", K::Workflow, |t| t.without("ref")),
        row("sha missing", K::Workflow, |t| t.without("sha")),
        with_policy(
            row("'@' in a path does not split it", K::Workflow, |t| {
                t.workflow("octo-org/octo-repo/.github/workflows/a.yaml@b.yaml")
            }),
            |p| p.workflows = vec!["octo-org/octo-repo/.github/workflows/a.yaml".into()],
        ),
        with_policy(
            row(
                "job_workflow_ref names another reusable workflow",
                K::Workflow,
                |t| {
                    t.reusable(
                        "evil-org/x/.github/workflows/smoke.yml",
                        "refs/pull/12/merge",
                        DEFAULT_SHA,
                    )
                },
            ),
            |p| {
                p.workflow_claim = WorkflowClaim::JobWorkflowRef;
                p.workflows = vec!["octo-org/octo-repo/.github/workflows/smoke.yml".into()];
            },
        ),
        // --- events ---
        row("pull_request_target denied by default", K::Event, |t| {
            t.event("pull_request_target")
        }),
        row("workflow_run denied by default", K::Event, |t| {
            t.event("workflow_run")
        }),
        row("issue_comment denied by default", K::Event, |t| {
            t.event("issue_comment")
        }),
        row("event_name missing", K::Event, |t| t.without("event_name")),
        // The default is an allowlist (pull_request, push, workflow_dispatch), not a denylist.
        row("issues not in the default allowlist", K::Event, |t| {
            t.event("issues")
        }),
        row(
            "discussion_comment not in the default allowlist",
            K::Event,
            |t| t.event("discussion_comment"),
        ),
        row("schedule not in the default allowlist", K::Event, |t| {
            t.event("schedule")
        }),
        row("empty event_name", K::Event, |t| t.event("")),
        row(
            "another owner id (a re-registered owner name)",
            K::RepositoryOwnerId,
            |t| t.claim("repository_owner_id", "1"),
        ),
        with_policy(
            row(
                "reusable workflow at a commit the caller picks",
                K::Workflow,
                |t| {
                    t.reusable(
                        "octo-org/octo-repo/.github/workflows/smoke.yml",
                        "0123456789abcdef0123456789abcdef01234567",
                        "0123456789abcdef0123456789abcdef01234567",
                    )
                },
            ),
            |p| {
                p.workflow_claim = WorkflowClaim::JobWorkflowRef;
                p.workflows = vec!["octo-org/octo-repo/.github/workflows/smoke.yml".into()];
            },
        ),
        with_policy(row("event outside the allowlist", K::Event, |t| t), |p| {
            p.events = Some(vec!["push".into(), "workflow_dispatch".into()])
        }),
    ]
}

fn expected_reason(kind: K) -> Reason {
    match kind {
        K::Repository => Reason::RepoMismatch,
        K::Workflow => Reason::WorkflowMismatch,
        K::RepositoryId | K::RepositoryOwnerId => Reason::IdMismatch,
        K::Event => Reason::EventNotAllowed,
        K::KeysUnavailable => Reason::KeysUnavailable,
        _ => Reason::InvalidToken,
    }
}

#[tokio::test]
async fn every_attack_is_rejected_with_its_kind() {
    let (issuer, verifier) = setup().await;
    let rows = rows();
    let mut failures = Vec::new();
    for r in &rows {
        let token = (r.mint)(&issuer);
        let mut p = policy();
        (r.tweak)(&mut p);
        p.validate()
            .unwrap_or_else(|e| panic!("{}: policy invalid: {e}", r.name));
        match verify(&verifier, &token, &p).await {
            Ok(_) => failures.push(format!("{}: accepted", r.name)),
            Err(rej) if rej.kind != r.kind => {
                failures.push(format!("{}: expected {:?}, got {rej}", r.name, r.kind));
            }
            Err(rej) => {
                assert_eq!(rej.reason(), expected_reason(r.kind), "{}", r.name);
                let shown = format!("{rej} {rej:?}");
                let sig = token.rsplit('.').next().unwrap_or("");
                assert!(!shown.contains(&token), "{}: token leaked", r.name);
                assert!(
                    sig.len() < 16 || !shown.contains(sig),
                    "{}: signature leaked",
                    r.name
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}
