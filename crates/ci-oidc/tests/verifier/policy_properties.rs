//! Property tests of the policy as a whole: a claim set that differs from an accepted one in any
//! policy-relevant way is refused, and one that differs only where no check looks is accepted.
//!
//! Tokens are signed with the fixture key and verified against a static store at a fixed clock,
//! so every case reaches the claim and policy checks rather than stopping at the signature. Four
//! scenarios cover the ways a workflow is pinned: a pull request matched at its `ref` with ids and
//! events pinned; a workflow matched at its `sha` under the default event rule; a reusable
//! workflow called by commit under `workflow_claim = "job_workflow_ref"`; a reusable workflow
//! pinned to a branch by the policy entry itself. What is "relevant" differs between them (in the
//! second and fourth, `ref` can be anything), and the tests say so explicitly.

use std::sync::OnceLock;

use ci_fixtures::keys::{PRIMARY_KEY, jwks_json, shared_key};
use ci_fixtures::token::within_one_second;
use ci_fixtures::{
    DEFAULT_OWNER_ID, DEFAULT_REPOSITORY, DEFAULT_REPOSITORY_ID, DEFAULT_SHA, DEFAULT_WORKFLOW,
    TokenBuilder,
};
use ci_oidc::{
    DEFAULT_EVENTS, EndpointPolicy, GitHubClaims, KeyStore, LEEWAY_SECS, MAX_LIFETIME_SECS,
    Rejection, RejectionKind, SecretString, Verifier, WorkflowClaim,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const ISS: &str = "https://token.actions.githubusercontent.com";
const AUD: &str = "https://preview.example.com/api/~/ci/flags/encrypt-override";
thread_local! {
    /// The second a case runs in, set by [`at_one_second`]: the verifier reads the system clock
    /// itself, so every time in a case is minted relative to the second it is verified in.
    static CLOCK: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
}

/// The current case's second.
fn clock() -> i64 {
    CLOCK.with(std::cell::Cell::get)
}

/// Builds and verifies within one second of the system clock (see `within_one_second`).
fn at_one_second<T>(mut case: impl FnMut() -> T) -> T {
    within_one_second(|now| {
        CLOCK.with(|c| c.set(now));
        case()
    })
}

const SHARED: &str = "octo-org/shared/.github/workflows/preview.yml";
const SHARED_SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// Claims every scenario requires.
#[rustfmt::skip]
const REQUIRED: &[&str] = &["iss", "aud", "exp", "iat", "repository", "ref", "sha", "event_name"];

/// Claims no check reads in any scenario (GitHub's informational claims).
#[rustfmt::skip]
const INERT: &[&str] = &[
    "jti", "sub", "environment", "repository_owner", "repository_visibility", "actor", "actor_id",
    "workflow", "workflow_sha", "head_ref", "base_ref", "ref_type", "ref_protected", "run_id",
    "run_number", "run_attempt", "runner_environment", "enterprise", "enterprise_id",
    "check_run_id",
];

#[derive(Debug, Clone, Copy)]
enum Scenario {
    /// `workflow_ref` at `ref`; ids pinned; events `pull_request`, `push`.
    PullRequest,
    /// `workflow_ref` at `sha`; nothing pinned; default event rule.
    AtSha,
    /// `job_workflow_ref` of a reusable workflow called by commit; ids pinned; events `push`.
    Reusable,
    /// A pull request calling a reusable workflow at `main`; the entry names `@refs/heads/main`.
    BranchPinned,
}

impl Scenario {
    fn builder(self) -> TokenBuilder {
        let b = TokenBuilder::new(ISS, AUD, shared_key(PRIMARY_KEY)).issued_at(clock() - 30);
        match self {
            Scenario::PullRequest => b,
            Scenario::AtSha => b.claim("workflow_ref", format!("{DEFAULT_WORKFLOW}@{DEFAULT_SHA}")),
            Scenario::Reusable => b.push_to("main").reusable(SHARED, SHARED_SHA, SHARED_SHA),
            Scenario::BranchPinned => b.reusable(SHARED, "refs/heads/main", SHARED_SHA),
        }
    }

    fn policy(self) -> EndpointPolicy {
        let mut p = EndpointPolicy::new(AUD, DEFAULT_REPOSITORY, DEFAULT_WORKFLOW);
        // Every valid policy pins the owner's id; two scenarios pin the repository's id too.
        p.repository_owner_ids = vec![DEFAULT_OWNER_ID.into()];
        if matches!(self, Scenario::PullRequest | Scenario::Reusable) {
            p.repository_ids = vec![DEFAULT_REPOSITORY_ID.into()];
        }
        match self {
            Scenario::PullRequest => p.events = Some(vec!["pull_request".into(), "push".into()]),
            Scenario::AtSha => {}
            Scenario::Reusable => {
                p.events = Some(vec!["push".into()]);
                p.workflow_claim = WorkflowClaim::JobWorkflowRef;
                // Another repository's workflow must name its ref: here the commit it is called by.
                p.workflows = vec![format!("{SHARED}@{SHARED_SHA}")];
            }
            Scenario::BranchPinned => {
                p.workflow_claim = WorkflowClaim::JobWorkflowRef;
                p.workflows = vec![format!("{SHARED}@refs/heads/main")];
            }
        }
        p.validate().expect("scenario policy");
        p
    }

    /// String claims whose value the policy compares (besides `repository`, `event_name`).
    fn compared(self) -> &'static [&'static str] {
        match self {
            Scenario::PullRequest => &[
                "repository_id",
                "repository_owner_id",
                "workflow_ref",
                "ref",
                "aud",
                "iss",
            ],
            Scenario::AtSha => &["repository_owner_id", "workflow_ref", "sha", "aud", "iss"],
            Scenario::Reusable => &[
                "repository_id",
                "repository_owner_id",
                "job_workflow_ref",
                "aud",
                "iss",
            ],
            Scenario::BranchPinned => &["repository_owner_id", "job_workflow_ref", "aud", "iss"],
        }
    }

    /// Claims that must be present (removal is refused).
    fn required(self) -> Vec<&'static str> {
        let mut r = REQUIRED.to_vec();
        match self {
            Scenario::PullRequest => {
                r.extend(["repository_id", "repository_owner_id", "workflow_ref"])
            }
            Scenario::AtSha => r.extend(["repository_owner_id", "workflow_ref"]),
            Scenario::Reusable => {
                r.extend(["repository_id", "repository_owner_id", "job_workflow_ref"])
            }
            Scenario::BranchPinned => r.extend(["repository_owner_id", "job_workflow_ref"]),
        }
        r
    }

    /// String claims whose value no check of this scenario reads.
    fn inert(self) -> Vec<&'static str> {
        let mut r = INERT.to_vec();
        match self {
            Scenario::PullRequest => r.extend(["sha", "job_workflow_ref", "job_workflow_sha"]),
            Scenario::AtSha => r.extend([
                "ref",
                "repository_id",
                "job_workflow_ref",
                "job_workflow_sha",
            ]),
            Scenario::Reusable => r.extend(["workflow_ref", "ref", "sha", "job_workflow_sha"]),
            Scenario::BranchPinned => r.extend([
                "workflow_ref",
                "ref",
                "sha",
                "job_workflow_sha",
                "repository_id",
            ]),
        }
        r
    }

    fn event_allowed(self, event: &str) -> bool {
        match self.policy().events {
            Some(list) => list.iter().any(|e| e == event),
            None => DEFAULT_EVENTS.contains(&event),
        }
    }
}

fn scenario() -> impl Strategy<Value = Scenario> {
    prop_oneof![
        Just(Scenario::PullRequest),
        Just(Scenario::AtSha),
        Just(Scenario::Reusable),
        Just(Scenario::BranchPinned)
    ]
}

fn verifier() -> &'static Verifier {
    static V: OnceLock<Verifier> = OnceLock::new();
    V.get_or_init(|| {
        let keys = KeyStore::from_jwks_json(jwks_json(&[shared_key(PRIMARY_KEY)]).as_bytes())
            .expect("fixture JWKS");
        Verifier::new(ISS, keys)
    })
}

fn verify(token: &TokenBuilder, policy: &EndpointPolicy) -> Result<GitHubClaims, Rejection> {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let rt = RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    });
    let token = SecretString::new(token.build());
    rt.block_on(verifier().verify(&token, policy))
}

/// One change to a claim set. `pick` chooses a claim from a scenario's list, `text` supplies
/// a value, `n` a magnitude; how they combine is decided against the scenario's base claims.
#[derive(Debug, Clone)]
struct Change {
    kind: u8,
    pick: prop::sample::Index,
    text: String,
    n: i64,
}

fn change() -> impl Strategy<Value = Change> {
    (
        any::<u8>(),
        any::<prop::sample::Index>(),
        ".{0,24}",
        1i64..1_000_000,
    )
        .prop_map(|(kind, pick, text, n)| Change {
            kind,
            pick,
            text,
            n,
        })
}

/// `text`, made different from `original` (ASCII-case-insensitively when `fold_case`). The
/// claim's name is part of every derived value, so two changes in one case (say `ref` and
/// `workflow_ref`) can never line up into a consistent, legitimately different token.
fn differ(text: &str, original: &str, claim: &str, fold_case: bool) -> String {
    let candidate = match text.len() % 3 {
        // Near misses: an extension or a prefix must not pass where the exact value does.
        0 => format!("{original}{text}~{claim}"),
        1 => format!("{text}{original}"),
        _ => text.to_owned(),
    };
    let same = if fold_case {
        candidate.eq_ignore_ascii_case(original)
    } else {
        candidate == original
    };
    if same {
        format!("{original}~{claim}")
    } else {
        candidate
    }
}

fn string_claim(base: &serde_json::Map<String, Value>, claim: &str) -> String {
    base.get(claim)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Applies a change the policy must refuse.
fn refused_change(s: Scenario, t: TokenBuilder, c: &Change) -> TokenBuilder {
    let base = s.builder().claims();
    let iat = clock() - 30;
    match c.kind % 8 {
        0 => {
            let claim = *c.pick.get(s.compared());
            let value = differ(&c.text, &string_claim(&base, claim), claim, false);
            t.claim(claim, value)
        }
        1 => t.claim(
            "repository",
            differ(&c.text, DEFAULT_REPOSITORY, "repository", true),
        ),
        2 => {
            let event = match s.policy().events {
                Some(_) => differ(&c.text, "push", "event_name", false),
                None => (*c.pick.get(&[
                    "pull_request_target",
                    "workflow_run",
                    "issue_comment",
                    "issues",
                    "discussion_comment",
                    "schedule",
                    "",
                ]))
                .to_owned(),
            };
            let event = if s.event_allowed(&event) {
                format!("{event}_x")
            } else {
                event
            };
            t.claim("event_name", event)
        }
        3 => t.without(c.pick.get::<&str>(&s.required())),
        // A required claim of the wrong JSON type: never coerced, never skipped.
        4 => {
            let claim = *c.pick.get(&s.required());
            let value = match (claim, c.n % 4) {
                ("exp" | "iat", _) => json!(string_claim(&base, claim)),
                ("aud", 0) => json!([AUD]),
                ("aud", _) => json!([AUD, c.text]),
                (_, 0) => json!(c.n),
                (_, 1) => json!([string_claim(&base, claim)]),
                (_, 2) => json!(true),
                _ => Value::Null,
            };
            t.claim(claim, value)
        }
        // Times beyond the leeway, on every side.
        5 => t.issued_at(clock() - (300 + LEEWAY_SECS) - c.n),
        6 => t.issued_at(clock() + LEEWAY_SECS + c.n),
        _ => match c.n % 3 {
            0 => t.claim("nbf", clock() + LEEWAY_SECS + c.n),
            1 => t.claim("exp", iat + MAX_LIFETIME_SECS + c.n),
            _ => t.claim("exp", json!((clock() + 270).to_string())),
        },
    }
}

/// Applies a change no check of the scenario may object to.
fn inert_change(s: Scenario, t: TokenBuilder, c: &Change) -> TokenBuilder {
    match c.kind % 6 {
        0 => t.claim(c.pick.get::<&str>(&s.inert()), c.text.clone()),
        1 => {
            let claim = *c.pick.get(&s.inert());
            if matches!(claim, "ref" | "sha") {
                t
            } else {
                t.without(claim)
            }
        }
        2 => t.claim(&format!("x_{}", c.n), json!({ "v": c.text, "n": c.n })),
        3 => {
            // Owner and name are compared without regard to ASCII case.
            let flipped: String = DEFAULT_REPOSITORY
                .chars()
                .enumerate()
                .map(|(i, ch)| {
                    if (c.n >> (i % 60)) & 1 == 1 {
                        ch.to_ascii_uppercase()
                    } else {
                        ch
                    }
                })
                .collect();
            t.claim("repository", flipped)
        }
        // Anywhere inside the leeway.
        4 => t.issued_at(clock() - (300 + LEEWAY_SECS) + c.n % (300 + 2 * LEEWAY_SECS + 1)),
        _ => match s.policy().events {
            Some(list) => t.claim("event_name", c.pick.get(&list).clone()),
            None if s.event_allowed(&c.text) => t.claim("event_name", c.text.clone()),
            None => t,
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_policy_relevant_difference_is_refused(
        s in scenario(),
        changes in prop::collection::vec(change(), 1..=3),
    ) {
        let (t, result) = at_one_second(|| {
            let mut t = s.builder();
            for c in &changes {
                t = refused_change(s, t, c);
            }
            let result = verify(&t, &s.policy());
            (t, result)
        });
        prop_assert!(result.is_err(), "accepted: {:?}", t.claims());
        // Refused by the claim checks, not by anything before them.
        let kind = result.unwrap_err().kind;
        prop_assert!(
            !matches!(kind, RejectionKind::Signature | RejectionKind::UnknownKey | RejectionKind::Algorithm),
            "refused for {:?}", kind
        );
    }

    #[test]
    fn differences_no_check_reads_are_accepted(
        s in scenario(),
        changes in prop::collection::vec(change(), 0..=4),
    ) {
        let (t, claims) = at_one_second(|| {
            let mut t = s.builder();
            for c in &changes {
                t = inert_change(s, t, c);
            }
            let claims = verify(&t, &s.policy());
            (t, claims)
        });
        prop_assert!(claims.is_ok(), "refused: {}", claims.unwrap_err());
        let claims = claims.unwrap();
        let sent = t.claims();
        prop_assert_eq!(claims.repository.as_deref(), sent.get("repository").and_then(Value::as_str));
        prop_assert_eq!(claims.event_name.as_deref(), sent.get("event_name").and_then(Value::as_str));
        prop_assert_eq!(Some(&json!(claims.exp)), sent.get("exp"));
    }
}

#[test]
fn every_scenario_base_is_accepted() {
    for s in [
        Scenario::PullRequest,
        Scenario::AtSha,
        Scenario::Reusable,
        Scenario::BranchPinned,
    ] {
        at_one_second(|| verify(&s.builder(), &s.policy()))
            .unwrap_or_else(|r| panic!("{s:?}: {r}"));
    }
}
