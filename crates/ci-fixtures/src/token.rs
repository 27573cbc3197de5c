//! Minting GitHub-shaped OIDC tokens, honest or hostile.
//!
//! [`TokenBuilder`] starts from the exact claim set GitHub Actions puts in a `pull_request`
//! token (every documented claim, ids as strings, `exp - iat = 300`, `nbf = iat - 600`) and
//! lets a test change anything: set or remove any claim or header, switch the event, sign
//! with a foreign key, with another RSA scheme, with HS256 keyed by the public key (the
//! classic algorithm-confusion attack) or not at all (`alg: none`). Claims derived from
//! others (`workflow_ref`, `job_workflow_ref`, `sub`) follow `ref`, the event and the
//! workflow path unless a test overrides them.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::keys::{RsaScheme, TestKey, shared_key};
use crate::{
    DEFAULT_OWNER, DEFAULT_OWNER_ID, DEFAULT_REPOSITORY, DEFAULT_REPOSITORY_ID, DEFAULT_SHA,
    DEFAULT_WORKFLOW,
};

/// How the token is signed (independent of the `alg` header, which can be overridden).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alg {
    /// RS256 with the signing key (what GitHub does).
    Rs256,
    /// Another RSA scheme with the signing key; the header says RS384 / RS512 / PS256.
    Rsa(RsaScheme),
    /// HS256 keyed with the signing key's public key DER (algorithm confusion).
    Hs256PublicKey,
    /// HS256 with the given secret.
    Hs256(Vec<u8>),
    /// `alg: none` with an empty signature.
    None,
}

/// Builds one token; see the module docs.
#[derive(Debug, Clone)]
pub struct TokenBuilder {
    key: Arc<TestKey>,
    kid: Option<String>,
    alg: Alg,
    claims: Map<String, Value>,
    workflow_path: String,
    job_workflow: Option<(String, String, String)>,
    claim_overrides: Vec<(String, Option<Value>)>,
    header_overrides: Vec<(String, Option<Value>)>,
    raw_payload: Option<String>,
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Runs `f` with the current second, again until the clock did not move during the run, and
/// returns that run's answer. The verifier's time checks (`jsonwebtoken`'s `exp` and `nbf`) read
/// the system clock themselves, so a test that mints a token exactly at a leeway boundary and
/// verifies it sees the same second on both sides only this way.
pub fn within_one_second<T>(mut f: impl FnMut(i64) -> T) -> T {
    loop {
        let before = now();
        let answer = f(before);
        if now() == before {
            return answer;
        }
    }
}

impl TokenBuilder {
    /// A `pull_request` token of PR #12 on [`DEFAULT_REPOSITORY`] running [`DEFAULT_WORKFLOW`],
    /// issued now by `issuer` for `audience`, signed by `key`.
    pub fn new(issuer: &str, audience: &str, key: Arc<TestKey>) -> TokenBuilder {
        let iat = now();
        let claims = json!({
            "jti": uuid(),
            "sub": "",
            "aud": audience,
            "ref": "refs/pull/12/merge",
            "sha": DEFAULT_SHA,
            "repository": DEFAULT_REPOSITORY,
            "repository_owner": DEFAULT_OWNER,
            "repository_owner_id": DEFAULT_OWNER_ID,
            "run_id": "9876543210",
            "run_number": "42",
            "run_attempt": "1",
            "repository_visibility": "private",
            "repository_id": DEFAULT_REPOSITORY_ID,
            "actor_id": "1234567",
            "actor": "octocat",
            "workflow": "ci-in-preview smoke",
            "head_ref": "feature/preview-smoke",
            "base_ref": "main",
            "event_name": "pull_request",
            "ref_protected": "false",
            "ref_type": "branch",
            "workflow_ref": "",
            "workflow_sha": DEFAULT_SHA,
            "job_workflow_ref": "",
            "job_workflow_sha": DEFAULT_SHA,
            "runner_environment": "github-hosted",
            "enterprise": "octo-enterprise",
            "enterprise_id": "4242",
            "check_run_id": "31415926535",
            "iss": issuer,
            "nbf": iat - 600,
            "exp": iat + 300,
            "iat": iat,
        });
        let Value::Object(claims) = claims else {
            unreachable!("json! object")
        };
        TokenBuilder {
            key,
            kid: None,
            alg: Alg::Rs256,
            claims,
            workflow_path: DEFAULT_WORKFLOW.to_owned(),
            job_workflow: None,
            claim_overrides: Vec::new(),
            header_overrides: Vec::new(),
            raw_payload: None,
        }
    }

    /// Sets claim `name` (applied last, after derived claims).
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claim_overrides
            .push((name.to_owned(), Some(value.into())));
        self
    }

    /// Removes claim `name`.
    pub fn without(mut self, name: &str) -> Self {
        self.claim_overrides.push((name.to_owned(), None));
        self
    }

    /// Sets header parameter `name` (applied last; `header("alg", "none")` etc.).
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header_overrides
            .push((name.to_owned(), Some(value.into())));
        self
    }

    /// Removes header parameter `name`.
    pub fn without_header(mut self, name: &str) -> Self {
        self.header_overrides.push((name.to_owned(), None));
        self
    }

    /// Sets `kid` in the header (the signature still comes from the signing key).
    pub fn kid(mut self, kid: &str) -> Self {
        self.kid = Some(kid.to_owned());
        self
    }

    /// Sets `event_name` (other claims unchanged).
    pub fn event(mut self, name: &str) -> Self {
        self.claims.insert("event_name".into(), name.into());
        self
    }

    /// A `push` to `branch`: `ref`, `head_ref`/`base_ref` empty, `ref_protected` true for `main`.
    pub fn push_to(mut self, branch: &str) -> Self {
        let c = &mut self.claims;
        c.insert("event_name".into(), "push".into());
        c.insert("ref".into(), format!("refs/heads/{branch}").into());
        c.insert("ref_type".into(), "branch".into());
        c.insert("head_ref".into(), "".into());
        c.insert("base_ref".into(), "".into());
        c.insert(
            "ref_protected".into(),
            (branch == "main").to_string().into(),
        );
        self
    }

    /// A `workflow_dispatch` run on `branch`.
    pub fn dispatch_on(self, branch: &str) -> Self {
        self.push_to(branch).event("workflow_dispatch")
    }

    /// The top-level workflow path (`owner/repo/.github/workflows/file.yaml`, no ref).
    pub fn workflow(mut self, path: &str) -> Self {
        self.workflow_path = path.to_owned();
        self
    }

    /// The job runs reusable workflow `path` at `git_ref` (commit `sha`).
    pub fn reusable(mut self, path: &str, git_ref: &str, sha: &str) -> Self {
        self.job_workflow = Some((path.to_owned(), git_ref.to_owned(), sha.to_owned()));
        self
    }

    /// Sets the job's deployment `environment` (and the `sub` form GitHub uses for it).
    pub fn environment(mut self, name: &str) -> Self {
        self.claims.insert("environment".into(), name.into());
        self
    }

    /// `iat = at`, `nbf = at - 600`, `exp = at + 300`.
    pub fn issued_at(mut self, at: i64) -> Self {
        self.claims.insert("iat".into(), at.into());
        self.claims.insert("nbf".into(), (at - 600).into());
        self.claims.insert("exp".into(), (at + 300).into());
        self
    }

    /// Issued 1000 s ago: expired by 700 s, well beyond any leeway.
    pub fn expired(self) -> Self {
        self.issued_at(now() - 1000)
    }

    /// How to sign.
    pub fn alg(mut self, alg: Alg) -> Self {
        self.alg = alg;
        self
    }

    /// Signs with the pool's foreign key while keeping the published `kid`.
    pub fn sign_with_foreign_key(self) -> Self {
        self.sign_with(shared_key(crate::keys::FOREIGN_KEY))
    }

    /// Signs with `key`; the header `kid` stays the original key's unless set with [`Self::kid`].
    pub fn sign_with(mut self, key: Arc<TestKey>) -> Self {
        let kid = self.kid.take().unwrap_or_else(|| self.key.kid().to_owned());
        self.kid = Some(kid);
        self.key = key;
        self
    }

    /// Uses `payload` verbatim as the JSON payload (duplicate keys, arrays, garbage).
    pub fn raw_payload(mut self, payload: &str) -> Self {
        self.raw_payload = Some(payload.to_owned());
        self
    }

    /// The claims as they will be signed.
    pub fn claims(&self) -> Map<String, Value> {
        let mut c = self.claims.clone();
        let s = |c: &Map<String, Value>, k: &str| {
            c.get(k).and_then(Value::as_str).unwrap_or("").to_owned()
        };
        let git_ref = s(&c, "ref");
        let repo = s(&c, "repository");
        c.insert(
            "workflow_ref".into(),
            format!("{}@{git_ref}", self.workflow_path).into(),
        );
        match &self.job_workflow {
            Some((path, jref, jsha)) => {
                c.insert("job_workflow_ref".into(), format!("{path}@{jref}").into());
                c.insert("job_workflow_sha".into(), jsha.clone().into());
            }
            None => {
                c.insert(
                    "job_workflow_ref".into(),
                    format!("{}@{git_ref}", self.workflow_path).into(),
                );
            }
        }
        let sub = match (
            c.get("environment").and_then(Value::as_str),
            s(&c, "event_name").as_str(),
        ) {
            (Some(env), _) => format!("repo:{repo}:environment:{env}"),
            (None, "pull_request") => format!("repo:{repo}:pull_request"),
            (None, _) => format!("repo:{repo}:ref:{git_ref}"),
        };
        c.insert("sub".into(), sub.into());
        for (k, v) in &self.claim_overrides {
            match v {
                Some(v) => c.insert(k.clone(), v.clone()),
                None => c.remove(k),
            };
        }
        c
    }

    /// The compact JWS.
    pub fn build(&self) -> String {
        let alg_name = match &self.alg {
            Alg::Rs256 => "RS256",
            Alg::Rsa(RsaScheme::Rs256) => "RS256",
            Alg::Rsa(RsaScheme::Rs384) => "RS384",
            Alg::Rsa(RsaScheme::Rs512) => "RS512",
            Alg::Rsa(RsaScheme::Ps256) => "PS256",
            Alg::Hs256PublicKey | Alg::Hs256(_) => "HS256",
            Alg::None => "none",
        };
        let mut header = Map::new();
        header.insert("alg".into(), alg_name.into());
        header.insert(
            "kid".into(),
            self.kid
                .clone()
                .unwrap_or_else(|| self.key.kid().to_owned())
                .into(),
        );
        header.insert("typ".into(), "JWT".into());
        header.insert(
            "x5t".into(),
            URL_SAFE_NO_PAD.encode(&self.key.modulus()[..20]).into(),
        );
        for (k, v) in &self.header_overrides {
            match v {
                Some(v) => header.insert(k.clone(), v.clone()),
                None => header.remove(k),
            };
        }
        let payload = match &self.raw_payload {
            Some(raw) => raw.clone(),
            None => Value::Object(self.claims()).to_string(),
        };
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(Value::Object(header).to_string()),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = match &self.alg {
            Alg::Rs256 => self.key.sign(RsaScheme::Rs256, signing_input.as_bytes()),
            Alg::Rsa(scheme) => self.key.sign(*scheme, signing_input.as_bytes()),
            Alg::Hs256PublicKey => hmac(self.key.public_key_der(), signing_input.as_bytes()),
            Alg::Hs256(secret) => hmac(secret, signing_input.as_bytes()),
            Alg::None => Vec::new(),
        };
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

fn hmac(secret: &[u8], message: &[u8]) -> Vec<u8> {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    aws_lc_rs::hmac::sign(&key, message).as_ref().to_vec()
}

/// A random UUID-shaped string, like GitHub's `jti`.
pub fn uuid() -> String {
    use aws_lc_rs::rand::SecureRandom as _;
    let mut b = [0u8; 16];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut b)
        .expect("system random");
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
