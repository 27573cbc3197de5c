//! The soak's traffic: the kinds of request, the tokens they carry, one worker's loop, and the
//! tally of what came back.
//!
//! Tokens are minted ahead (RSA signing would otherwise be the load generator's bottleneck) and
//! replaced every two minutes so a long run never sends a token that expired on its own. Every
//! answer is checked against the contract byte for byte: a refusal with the right status but
//! another body counts as wrong, and a valid call only counts when its cookie decrypts to the
//! flags that were sent.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use ci_fixtures::keys::{FOREIGN_KEY, TestKey, shared_key};
use ci_fixtures::token::uuid;
use ci_fixtures::{Alg, TokenBuilder};
use encrypt_override::FlagsSecret;
use serde_json::{Value, json};

/// The audience of the soak policy's endpoint.
pub(super) const AUDIENCE: &str = "https://ci-in-preview.soak/api/~/ci/flags/encrypt-override";
/// The endpoint's path.
pub(super) const PATH: &str = "/api/~/ci/flags/encrypt-override";
/// Body of the oversize attack: past the 64 KiB limit.
const OVERSIZE: usize = 80 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Kind {
    Valid,
    /// A valid call with a token of the rotated-to key (once the server has shown it knows it).
    ValidRotated,
    WrongAudience,
    WrongRepository,
    Expired,
    ForeignKey,
    AlgNone,
    Hs256Confusion,
    UnknownKid,
    DisallowedEvent,
    /// An event outside the default allowlist (`issues`).
    UnlistedEvent,
    /// An empty `event_name`.
    EmptyEvent,
    /// The allowed repository name under another owner id (a re-registered name).
    ResurrectedOwner,
    NoToken,
    MalformedBody,
    OversizeBody,
    /// A valid token asking for a cookie that outlives the policy's `cookie_max_age`.
    MaxAgeTooLong,
}

impl Kind {
    /// Attacks the mixed workers send between valid calls (the unknown-kid flood has its own).
    pub(super) const MIXED_ATTACKS: [Kind; 14] = [
        Kind::WrongAudience,
        Kind::WrongRepository,
        Kind::Expired,
        Kind::ForeignKey,
        Kind::AlgNone,
        Kind::Hs256Confusion,
        Kind::DisallowedEvent,
        Kind::UnlistedEvent,
        Kind::EmptyEvent,
        Kind::ResurrectedOwner,
        Kind::NoToken,
        Kind::MalformedBody,
        Kind::OversizeBody,
        Kind::MaxAgeTooLong,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Valid => "valid",
            Kind::ValidRotated => "valid, rotated key",
            Kind::WrongAudience => "wrong audience",
            Kind::WrongRepository => "wrong repository",
            Kind::Expired => "expired",
            Kind::ForeignKey => "foreign key",
            Kind::AlgNone => "alg none",
            Kind::Hs256Confusion => "HS256 confusion",
            Kind::UnknownKid => "unknown kid flood",
            Kind::DisallowedEvent => "pull_request_target",
            Kind::UnlistedEvent => "issues event (not allowlisted)",
            Kind::EmptyEvent => "empty event_name",
            Kind::ResurrectedOwner => "other owner id",
            Kind::NoToken => "no token",
            Kind::MalformedBody => "malformed body",
            Kind::OversizeBody => "oversize body",
            Kind::MaxAgeTooLong => "maxAge over the cap",
        }
    }

    /// The contract's answer: status and exact body.
    pub(super) fn expected(self) -> (u16, &'static str) {
        match self {
            Kind::Valid | Kind::ValidRotated => (200, ""),
            Kind::WrongRepository => (403, r#"{"error":"forbidden","reason":"repo_mismatch"}"#),
            Kind::MalformedBody => (400, r#"{"error":"bad_request"}"#),
            Kind::OversizeBody => (413, r#"{"error":"payload_too_large"}"#),
            Kind::MaxAgeTooLong => (
                400,
                r#"{"error":"bad_request","reason":"max_age_too_long"}"#,
            ),
            _ => (401, r#"{"error":"unauthorized"}"#),
        }
    }
}

/// Pre-minted tokens of one generation.
pub(super) struct Tokens {
    valid_old: Vec<String>,
    valid_new: Vec<String>,
    attacks: BTreeMap<Kind, Vec<String>>,
}

/// Mints a generation: valid tokens by the issuer's first key and by the key it will rotate to,
/// and each attack's tokens. Blocking (RSA signing).
pub(super) fn mint(issuer: &str, old: &Arc<TestKey>, new: &Arc<TestKey>) -> Tokens {
    let t = |key: &Arc<TestKey>| TokenBuilder::new(issuer, AUDIENCE, Arc::clone(key));
    let many = |n: usize, f: &dyn Fn() -> TokenBuilder| (0..n).map(|_| f().build()).collect();
    let mut attacks = BTreeMap::new();
    let kinds: [(Kind, &dyn Fn() -> TokenBuilder); 11] = [
        (Kind::WrongAudience, &|| {
            t(old).claim("aud", "https://elsewhere.example/api")
        }),
        (Kind::WrongRepository, &|| {
            t(old).claim("repository", "evil-org/octo-repo")
        }),
        (Kind::Expired, &|| t(old).expired()),
        (Kind::ForeignKey, &|| {
            t(old).sign_with(shared_key(FOREIGN_KEY))
        }),
        (Kind::AlgNone, &|| t(old).alg(Alg::None)),
        (Kind::Hs256Confusion, &|| t(old).alg(Alg::Hs256PublicKey)),
        (Kind::UnknownKid, &|| {
            t(old).kid(&format!("soak-{}", uuid()))
        }),
        (Kind::DisallowedEvent, &|| {
            t(old).event("pull_request_target")
        }),
        (Kind::UnlistedEvent, &|| t(old).event("issues")),
        (Kind::EmptyEvent, &|| t(old).event("")),
        (Kind::ResurrectedOwner, &|| {
            t(old).claim("repository_owner_id", "1")
        }),
    ];
    for (kind, f) in kinds {
        let n = if kind == Kind::UnknownKid { 128 } else { 8 };
        attacks.insert(kind, many(n, f));
    }
    Tokens {
        valid_old: many(32, &|| t(old)),
        valid_new: many(32, &|| t(new)),
        attacks,
    }
}

/// What the workers share: the current tokens, the secret to check cookies with, and whether the
/// server has shown it knows the rotated key (valid calls then use it too).
pub(super) struct Shared {
    pub tokens: RwLock<Arc<Tokens>>,
    pub secret: FlagsSecret,
    pub new_key_live: AtomicBool,
    pub client: reqwest::Client,
    pub url: String,
}

impl Shared {
    fn tokens(&self) -> Arc<Tokens> {
        Arc::clone(&self.tokens.read().unwrap_or_else(|p| p.into_inner()))
    }
}

/// How one kind fared.
#[derive(Debug, Default, Clone)]
pub(super) struct Count {
    pub expected: u64,
    /// Answers with another status or body, by status (200 for an attack = accepted).
    pub wrong: BTreeMap<u16, u64>,
    /// No answer (connection error, timeout).
    pub errors: u64,
    pub first_problem: Option<String>,
}

impl Count {
    pub(super) fn total(&self) -> u64 {
        self.expected + self.wrong.values().sum::<u64>() + self.errors
    }

    pub(super) fn merge(&mut self, other: &Count) {
        self.expected += other.expected;
        for (status, n) in &other.wrong {
            *self.wrong.entry(*status).or_default() += n;
        }
        self.errors += other.errors;
        if self.first_problem.is_none() {
            self.first_problem.clone_from(&other.first_problem);
        }
    }
}

pub(super) type Tally = BTreeMap<Kind, Count>;

/// Sends `schedule` round-robin until `deadline`; returns what came back.
pub(super) async fn worker(
    shared: Arc<Shared>,
    schedule: Vec<Kind>,
    id: usize,
    deadline: Instant,
) -> Tally {
    let mut tally = Tally::new();
    let mut i = id;
    while Instant::now() < deadline {
        let (kind, outcome) = send(&shared, schedule[i % schedule.len()], i).await;
        let count = tally.entry(kind).or_default();
        match outcome {
            Ok(()) => count.expected += 1,
            Err(Problem::Answer(status, detail)) => {
                *count.wrong.entry(status).or_default() += 1;
                count.first_problem.get_or_insert(detail);
            }
            Err(Problem::NoAnswer(detail)) => {
                count.errors += 1;
                count.first_problem.get_or_insert(detail);
            }
        }
        i += 1;
    }
    tally
}

pub(super) enum Problem {
    Answer(u16, String),
    NoAnswer(String),
}

/// One request of `kind`; `Ok` when the answer is exactly the contract's. Once the rotated key
/// is live every other valid call uses it, and is reported as [`Kind::ValidRotated`].
pub(super) async fn send(shared: &Shared, kind: Kind, i: usize) -> (Kind, Result<(), Problem>) {
    let kind = match kind {
        Kind::Valid if shared.new_key_live.load(Ordering::Relaxed) && i % 2 == 1 => {
            Kind::ValidRotated
        }
        other => other,
    };
    (kind, exchange(shared, kind, i).await)
}

async fn exchange(shared: &Shared, kind: Kind, i: usize) -> Result<(), Problem> {
    let tokens = shared.tokens();
    let pick = |list: &[String]| list[i % list.len()].clone();
    let valid = || match kind {
        Kind::ValidRotated => pick(&tokens.valid_new),
        _ => pick(&tokens.valid_old),
    };
    let flags = json!({ "soak": true, "call": i });
    let (token, body) = match kind {
        Kind::Valid | Kind::ValidRotated => (
            Some(valid()),
            json!({ "flags": flags }).to_string().into_bytes(),
        ),
        Kind::NoToken => (None, br#"{"flags":{"a":true}}"#.to_vec()),
        Kind::MalformedBody => (Some(valid()), br#"{"flags":{"a":tru"#.to_vec()),
        Kind::OversizeBody => (Some(valid()), vec![b' '; OVERSIZE]),
        Kind::MaxAgeTooLong => (
            Some(valid()),
            br#"{"flags":{"a":true},"maxAge":31557600}"#.to_vec(),
        ),
        attack => (
            Some(pick(&tokens.attacks[&attack])),
            br#"{"flags":{"a":true}}"#.to_vec(),
        ),
    };
    let mut request = shared
        .client
        .post(format!("{}{PATH}", shared.url))
        .header("content-type", "application/json")
        .body(body);
    if let Some(token) = token {
        request = request.header("x-github-oidc-token", token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| Problem::NoAnswer(format!("{}: {}", kind.name(), causes(&e))))?;
    let status = response.status().as_u16();
    let text = response
        .text()
        .await
        .map_err(|e| Problem::NoAnswer(format!("{}: reading the answer: {e}", kind.name())))?;
    let (mut want_status, mut want_body) = kind.expected();
    // While the unknown-kid refetch cools down, an unknown kid is "retry later" (503): it might
    // be a key the issuer has just published. Still a refusal.
    if kind == Kind::UnknownKid && status == 503 {
        (want_status, want_body) = (503, r#"{"error":"unavailable"}"#);
    }
    if status != want_status {
        return Err(Problem::Answer(
            status,
            format!("{}: {status} {text}", kind.name()),
        ));
    }
    if !matches!(kind, Kind::Valid | Kind::ValidRotated) {
        return if text == want_body {
            Ok(())
        } else {
            Err(Problem::Answer(
                status,
                format!("{}: body {text}", kind.name()),
            ))
        };
    }
    let cookie = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("cookie").and_then(Value::as_str).map(str::to_owned));
    match cookie.map(|c| encrypt_override::decrypt(&c, &shared.secret)) {
        Some(Ok(decrypted)) if decrypted == flags => Ok(()),
        _ => Err(Problem::Answer(
            status,
            "valid: the cookie does not decrypt to the flags sent".into(),
        )),
    }
}

/// An error with its sources: reqwest's own text stops at "error sending request".
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// After the rotation: presents a token signed by the new key every 100 ms until the server
/// accepts one, then lets the valid workers use the new key too. Returns when that happened and
/// how many probes were refused before.
pub(super) async fn probe_new_key(
    shared: Arc<Shared>,
    deadline: Instant,
) -> (Option<Instant>, u64) {
    let mut refused = 0;
    let mut i = 0usize;
    while Instant::now() < deadline {
        let tokens = shared.tokens();
        let token = tokens.valid_new[i % tokens.valid_new.len()].clone();
        i += 1;
        let answer = shared
            .client
            .post(format!("{}{PATH}", shared.url))
            .header("content-type", "application/json")
            .header("x-github-oidc-token", token)
            .body(r#"{"flags":{"probe":true}}"#)
            .send()
            .await;
        if answer.is_ok_and(|r| r.status().is_success()) {
            shared.new_key_live.store(true, Ordering::Relaxed);
            return (Some(Instant::now()), refused);
        }
        refused += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (None, refused)
}
