//! The kit names an endpoint that writes relies on: several secrets found by type (and a clear
//! error when a handler asks for one it never declared), typed settings from the policy entry
//! checked at start-up with the key named, the destructive mark's start-up refusal, `Redacted`,
//! and the key-value client against a real Redis.

use axum::{Json, routing::post};
use ci_endpoint::{
    CiError, Config, ConfigError, Endpoint, EndpointConfig, KvClient, Redacted, Secret,
    VerifiedCaller, redis,
};
use ci_fixtures::{Capture, MockIssuer, TestApp, redis::TestRedis};
use serde::Deserialize;
use serde_json::{Value, json};

const NAME: &str = "test/kit";

struct ApiKey(Redacted<String>);
struct Region(String);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    prefix: String,
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    10
}

impl EndpointConfig for Settings {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.limit == 0 {
            return Err(ConfigError::new("limit", "must be at least 1"));
        }
        Ok(())
    }
}

async fn handle(
    _caller: VerifiedCaller,
    key: Secret<ApiKey>,
    region: Secret<Region>,
    settings: Config<Settings>,
) -> Result<Json<Value>, CiError> {
    Ok(Json(json!({
        "key_len": key.get()?.0.len(),
        "region": region.get()?.0,
        "prefix": settings.prefix,
        "limit": settings.limit,
    })))
}

fn endpoint() -> Endpoint {
    Endpoint::new(NAME, post(handle))
        .with_secret("KIT_API_KEY", |t| Ok(ApiKey(Redacted::new(t.to_owned()))))
        .with_secret("KIT_REGION", |t| Ok(Region(t.trim().to_owned())))
        .with_config::<Settings>()
}

const CONFIG: &str = "\n[endpoints.\"test/kit\".config]\nprefix = \"e2e\"\n";

fn builder(policy: &str) -> ci_fixtures::TestAppBuilder {
    TestApp::builder(endpoint())
        .policy_keys(policy)
        .var("KIT_API_KEY", "hunter2-key")
        .var("KIT_REGION", "eu")
}

async fn start_error(builder: ci_fixtures::TestAppBuilder) -> String {
    let issuer = MockIssuer::start().await;
    builder
        .router_for(&issuer)
        .expect_err("start-up refused")
        .to_string()
}

#[tokio::test]
async fn several_secrets_and_typed_settings_reach_the_handler() {
    let app = builder(CONFIG).start().await;
    let answer = app.post(Some(&app.good_token()), "").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.json(),
        json!({ "key_len": 11, "region": "eu", "prefix": "e2e", "limit": 10 })
    );
}

#[tokio::test]
async fn settings_are_checked_at_start_up_naming_the_key() {
    let key = r#"invalid policy: endpoints."test/kit".config"#;
    let cases = [
        (String::new(), ": missing field `prefix`"),
        (CONFIG.replace("\"e2e\"", "3"), ".prefix: invalid type"),
        (format!("{CONFIG}limit = 0\n"), ".limit: must be at least 1"),
        (format!("{CONFIG}limt = 2\n"), "unknown field `limt`"),
    ];
    for (policy, expected) in cases {
        let error = start_error(builder(&policy)).await;
        assert!(
            error.starts_with(key) && error.contains(expected),
            "{policy:?}: {error}"
        );
    }
    // An endpoint without settings refuses a config table rather than ignore it.
    let plain = TestApp::builder(Endpoint::new(NAME, post(|| async { "ok" }))).policy_keys(CONFIG);
    assert!(start_error(plain).await.contains("takes no settings"));
}

#[tokio::test]
async fn a_secret_type_the_endpoint_never_declared_is_a_clear_500() {
    async fn wrong(_caller: VerifiedCaller, key: Secret<String>) -> Result<String, CiError> {
        key.get().cloned()
    }
    let endpoint = Endpoint::new(NAME, post(wrong))
        .with_secret("KIT_API_KEY", |t| Ok(ApiKey(Redacted::new(t.to_owned()))));
    let app = TestApp::builder(endpoint)
        .var("KIT_API_KEY", "x")
        .start()
        .await;
    let (logs, _guard) = Capture::start();
    let answer = app.post(Some(&app.good_token()), "").await;
    ci_fixtures::assert_answer(&answer, 500, r#"{"error":"internal"}"#);
    let text = logs.text();
    assert!(text.contains("Secret<alloc::string::String>"), "{text}");
    assert!(
        text.contains("KIT_API_KEY as kit::writing::ApiKey"),
        "{text}"
    );
    assert!(
        !text.contains("is not configured"),
        "a type bug is not a missing secret: {text}"
    );

    let twice = Endpoint::new(NAME, post(wrong))
        .with_secret("A", |t| Ok(t.to_owned()))
        .with_secret("B", |t| Ok(t.to_owned()));
    let error = start_error(TestApp::builder(twice)).await;
    assert!(
        error.contains("two secrets of type alloc::string::String"),
        "{error}"
    );
}

#[tokio::test]
async fn destructive_endpoints_need_the_strict_posture() {
    let destructive = || Endpoint::new(NAME, post(|| async { "gone" })).destructive();
    let error = start_error(TestApp::builder(destructive())).await;
    for missing in [
        "single_use = true",
        "bind_deployment = true",
        "repository_ids",
    ] {
        assert!(error.contains(missing), "{error}");
    }
    let strict = "single_use = true\nbind_deployment = true\n";
    let pinned = format!("{strict}repository_ids = [\"123456789\"]\n");
    let issuer = MockIssuer::start().await;
    assert!(
        TestApp::builder(destructive())
            .policy_keys(&pinned)
            .router_for(&issuer)
            .is_ok()
    );
    // A workflow of another repository (a reusable one, pinned) is not an exact pin of this one.
    let foreign = format!(
        "[issuer]\nurl = {:?}\n\n[endpoints.\"{NAME}\"]\naudience = \"https://ci.test/k\"\n\
         repositories = [\"o/r\"]\nrepository_ids = [\"1\"]\nrepository_owner_ids = [\"2\"]\n\
         workflows = [\"other/repo/.github/workflows/x.yml@refs/heads/main\"]\n{strict}",
        issuer.issuer_url()
    );
    let error = ci_endpoint::server::app(
        ci_endpoint::server::Policy::from_toml_str(&foreign).unwrap(),
        ci_endpoint::server::Deployment::in_environment("preview"),
        ci_fixtures::static_verifier(&issuer),
        vec![destructive()],
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("other/repo/.github/workflows/x.yml"),
        "{error}"
    );
}

#[test]
fn redacted_hides_the_value_from_debug() {
    #[derive(Debug)]
    struct Keys {
        region: String,
        api_key: Redacted<String>,
    }
    let keys = Keys {
        region: "eu".into(),
        api_key: Redacted::new("hunter2".into()),
    };
    let shown = format!("{keys:?} {keys:#?}");
    assert!(
        !shown.contains("hunter2") && shown.contains("[redacted]"),
        "{shown}"
    );
    assert_eq!(
        (keys.region.as_str(), keys.api_key.as_str()),
        ("eu", "hunter2")
    );
}

#[tokio::test]
async fn kv_client_queries_and_scans_a_real_redis() {
    let Some(redis) = TestRedis::get("kv_client") else {
        return;
    };
    let kv = KvClient::parse(&redis.url()).unwrap();
    kv.ping().await.unwrap();
    let prefix = format!("kit-scan:{}:", ci_fixtures::token::uuid());
    for i in 0..25 {
        let _: () = kv
            .query(redis::cmd("SET").arg(format!("{prefix}{i}")).arg(i))
            .await
            .unwrap();
    }
    let (all, more) = kv.scan(&format!("{prefix}*"), 100).await.unwrap();
    assert_eq!((all.len(), more), (25, false));
    let (some, more) = kv.scan(&format!("{prefix}*"), 10).await.unwrap();
    assert_eq!((some.len(), more), (10, true));
    let (exact, more) = kv.scan(&format!("{prefix}*"), 25).await.unwrap();
    assert_eq!(
        (exact.len(), more),
        (25, false),
        "exactly the limit: nothing more"
    );
    let deleted: usize = kv.query(redis::cmd("DEL").arg(&all)).await.unwrap();
    assert_eq!(deleted, 25);
    assert!(format!("{kv:?}").contains("KvClient"));
}
