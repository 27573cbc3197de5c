//! The smoke's `tokens/mint` and `proxy/clerk-testing-token` calls: their policy entries (the
//! strict posture the kit demands of them, and their `config` tables), the preview's variables
//! (an HS256 key, a fake Clerk key, the fake Clerk's test CA, the pull request and repository the
//! preview was built from, for `bind_deployment`), a fake Clerk behind an https front, and the
//! checks of what `ci-preview call` got back: a token that verifies with the key, and Clerk's
//! answer with the key nowhere in it.

use std::path::Path;

use ci_fixtures::{
    DEFAULT_PULL_REQUEST, DEFAULT_REPOSITORY, DEFAULT_REPOSITORY_ID, HttpsFront, policy_entry,
};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::ClientEnv;
use crate::flags::{Result, failed};
use crate::steps::Steps;

pub(super) const MINT: &str = "tokens/mint";
pub(super) const PROXY: &str = "proxy/clerk-testing-token";
const SUBJECT: &str = "smoke-user-1";
const POSTURE: &str = "single_use = true\nbind_deployment = true\n";

/// Clerk's testing-token API as the smoke plays it, over https with a test CA.
pub(super) struct FakeClerk {
    _api: MockServer,
    front: HttpsFront,
}

impl FakeClerk {
    /// Answers `POST /v1/testing_tokens` with a token, only with `Bearer {key}`.
    pub(super) async fn start(key: &str) -> FakeClerk {
        let api = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/testing_tokens"))
            .and(header("authorization", format!("Bearer {key}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"object": "testing_token", "token": "smoke-testing-token", "expires_at": 1}),
            ))
            .mount(&api)
            .await;
        let front = HttpsFront::start(*api.address()).await;
        FakeClerk { _api: api, front }
    }

    /// Both endpoints' sections of the smoke policy.
    pub(super) fn policy_entries(&self) -> String {
        let audience = |name: &str| format!("https://ci-in-preview.smoke/api/~/ci/{name}");
        let ids = format!("repository_ids = [{DEFAULT_REPOSITORY_ID:?}]\n");
        format!(
            "\n{}{POSTURE}{ids}[endpoints.{MINT:?}.config]\nsubjects = [{SUBJECT:?}]\n\
             claims = {{ aud = \"smoke-app\", run = \"{{run_id}}\" }}\ntoken_max_age = 300\n\
             \n{}{POSTURE}{ids}[endpoints.{PROXY:?}.config]\nurl = \"{}/v1/testing_tokens\"\n\
             method = \"POST\"\nheaders = {{ Authorization = \"Bearer ${{CLERK_SECRET_KEY}}\" }}\n",
            policy_entry(MINT, &audience(MINT)),
            policy_entry(PROXY, &audience(PROXY)),
            self.front.url(),
        )
    }

    /// The preview's variables for both endpoints; `ca_file` is where the CA is written.
    pub(super) fn env(
        &self,
        mint_key: &str,
        clerk_key: &str,
        ca_file: &Path,
    ) -> Result<Vec<(String, String)>> {
        std::fs::write(ca_file, self.front.ca_pem())
            .map_err(|e| failed(format!("{}: {e}", ca_file.display())))?;
        Ok([
            ("TOKENS_MINT_KEY", mint_key),
            ("TOKENS_MINT_ALGORITHM", "HS256"),
            ("CLERK_SECRET_KEY", clerk_key),
            (
                "CI_PREVIEW_UPSTREAM_CA_FILE",
                &ca_file.display().to_string(),
            ),
            (
                "VERCEL_GIT_PULL_REQUEST_ID",
                &DEFAULT_PULL_REQUEST.to_string(),
            ),
            ("CI_PREVIEW_REPOSITORY", DEFAULT_REPOSITORY),
            ("CI_PREVIEW_REPOSITORY_ID", DEFAULT_REPOSITORY_ID),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
    }
}

/// The `--data` of the mint call.
pub(super) fn mint_request() -> String {
    json!({ "subject": SUBJECT, "maxAge": 120 }).to_string()
}

/// A token for [`SUBJECT`] that verifies with `key` (HS256), for the audience the policy fixes.
pub(super) fn check_token(out: &str, key: &str) -> Result {
    let answer: Value = serde_json::from_str(out.trim())
        .map_err(|e| failed(format!("call printed no JSON ({e}): {out}")))?;
    let token = answer["token"].as_str().ok_or_else(|| failed("no token"))?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_audience(&["smoke-app"]);
    let decoding = jsonwebtoken::DecodingKey::from_secret(key.as_bytes())
        .map_err(|e| failed(format!("the key: {e}")))?;
    let claims = jsonwebtoken::decode::<Value>(token, &decoding, &validation)
        .map_err(|e| failed(format!("the minted token does not verify: {e}")))?
        .claims;
    if claims["sub"] != SUBJECT || claims["exp"] != answer["expires"] || !claims["jti"].is_string()
    {
        return Err(failed(format!("unexpected claims {claims}")));
    }
    Ok(())
}

/// Clerk's answer, passed back whole.
pub(super) fn check_testing_token(out: &str, clerk_key: &str) -> Result {
    let answer: Value = serde_json::from_str(out.trim())
        .map_err(|e| failed(format!("call printed no JSON ({e}): {out}")))?;
    if answer["token"] != "smoke-testing-token" || out.contains(clerk_key) {
        return Err(failed(format!("unexpected answer {answer}")));
    }
    Ok(())
}

/// The smoke steps: one `ci-preview call` of each endpoint on the preview at `url`.
pub(super) async fn calls(
    steps: &mut Steps,
    client: &ClientEnv<'_>,
    url: &str,
    mint_key: &str,
    clerk_key: &str,
) -> Result {
    steps
        .run_async("client: call tokens/mint, token verifies", async {
            let data = mint_request();
            let out = client
                .run(&["call", MINT, "--url", url, "--data", &data])
                .await?;
            check_token(&out, mint_key)
        })
        .await?;
    steps
        .run_async("client: call proxy/clerk-testing-token", async {
            let out = client
                .run(&["call", PROXY, "--url", url, "--data", "{}"])
                .await?;
            check_testing_token(&out, clerk_key)
        })
        .await?;
    Ok(())
}
