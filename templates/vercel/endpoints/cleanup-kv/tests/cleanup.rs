//! `cleanup/kv` behind the real guard chain (`ci_fixtures::TestApp`) against a real Redis
//! (`ci_fixtures::redis::TestRedis`: `CI_PREVIEW_TEST_REDIS_URL`, else a `redis-server` of the
//! test's own, else skipped unless `CI_PREVIEW_REQUIRE_REDIS=1`).

use ci_endpoint::{KvClient, redis, server::Deployment};
use ci_fixtures::{
    DEFAULT_PULL_REQUEST, DEFAULT_REPOSITORY, DEFAULT_REPOSITORY_ID, TestApp, redis::TestRedis,
};
use serde_json::{Value, json};

/// The strict posture the kit demands of a destructive endpoint, and the endpoint's settings.
const POLICY: &str = "single_use = true\nbind_deployment = true\nrepository_ids = [\"123456789\"]\n\
    \n[endpoints.\"cleanup/kv\".config]\npatterns = [\"e2e:{repository_id}:{run_id}:*\"]\nmax_deletions = 3\n";

/// A preview of the pull request the mock issuer's tokens come from.
fn preview() -> Deployment {
    let pr = DEFAULT_PULL_REQUEST.to_string();
    Deployment::from_lookup(|name| match name {
        "VERCEL_ENV" => Some("preview".to_owned()),
        "VERCEL_GIT_PULL_REQUEST_ID" => Some(pr.clone()),
        "CI_PREVIEW_REPOSITORY" => Some(DEFAULT_REPOSITORY.to_owned()),
        "CI_PREVIEW_REPOSITORY_ID" => Some(DEFAULT_REPOSITORY_ID.to_owned()),
        _ => None,
    })
}

async fn app(redis: &TestRedis, policy: &str) -> TestApp {
    TestApp::builder(cleanup_kv::endpoint())
        .deployment(preview())
        .policy_keys(policy)
        .var(cleanup_kv::KV_URL_VAR, redis.url())
        .start()
        .await
}

async fn seed(kv: &KvClient, keys: &[String]) {
    for key in keys {
        let _: () = kv.query(redis::cmd("SET").arg(key).arg(1)).await.unwrap();
    }
}

async fn exists(kv: &KvClient, key: &str) -> bool {
    kv.query::<u32>(redis::cmd("EXISTS").arg(key))
        .await
        .unwrap()
        == 1
}

#[tokio::test]
async fn deletes_only_the_calling_runs_keys_in_capped_batches_and_dry_runs() {
    let Some(redis) = TestRedis::get("cleanup_kv") else {
        return;
    };
    let app = app(&redis, POLICY).await;
    let kv = KvClient::parse(&redis.url()).unwrap();
    let run_id = (std::process::id() as u64 * 1000 + 7).to_string();
    let mine: Vec<String> = (0..5)
        .map(|i| format!("e2e:{DEFAULT_REPOSITORY_ID}:{run_id}:user{i}"))
        .collect();
    let other_run = format!("e2e:{DEFAULT_REPOSITORY_ID}:{run_id}0:user");
    let other_repo = format!("e2e:1{DEFAULT_REPOSITORY_ID}:{run_id}:user");
    seed(&kv, &mine).await;
    seed(&kv, &[other_run.clone(), other_repo.clone()]).await;
    let call = |body: Value| {
        let token = app.token().claim("run_id", run_id.as_str()).build();
        let app = &app;
        async move { app.post(Some(&token), body.to_string()).await }
    };

    let dry = call(json!({ "dryRun": true })).await;
    assert_eq!(dry.status, 200, "{}", dry.body);
    let dry = dry.json();
    assert_eq!(
        (
            dry["dryRun"].clone(),
            dry["deleted"].clone(),
            dry["more"].clone()
        ),
        (json!(true), json!(0), json!(true))
    );
    assert_eq!(
        dry["keys"].as_array().unwrap().len(),
        3,
        "capped at max_deletions"
    );
    for key in &mine {
        assert!(exists(&kv, key).await, "a dry run deletes nothing: {key}");
    }

    let first = call(json!({})).await.json();
    assert_eq!(
        (first["deleted"].clone(), first["more"].clone()),
        (json!(3), json!(true))
    );
    let second = call(json!({})).await.json();
    assert_eq!(
        (second["deleted"].clone(), second["more"].clone()),
        (json!(2), json!(false))
    );
    for key in &mine {
        assert!(!exists(&kv, key).await, "{key} deleted");
    }
    assert!(
        exists(&kv, &other_run).await && exists(&kv, &other_repo).await,
        "other runs' keys stay"
    );
    let _: u32 = kv
        .query(redis::cmd("DEL").arg(&other_run).arg(&other_repo))
        .await
        .unwrap();
}

/// Overlapping patterns list and count each key once.
#[tokio::test]
async fn overlapping_patterns_count_a_key_once() {
    let Some(redis) = TestRedis::get("cleanup_kv_overlap") else {
        return;
    };
    let policy = POLICY.replace(
        "patterns = [\"e2e:{repository_id}:{run_id}:*\"]",
        "patterns = [\"e2e:{repository_id}:{run_id}:*\", \"e2e:{repository_id}:{run_id}:u*\"]",
    );
    let app = app(&redis, &policy).await;
    let kv = KvClient::parse(&redis.url()).unwrap();
    let run_id = (std::process::id() as u64 * 1000 + 8).to_string();
    let mine: Vec<String> = (0..2)
        .map(|i| format!("e2e:{DEFAULT_REPOSITORY_ID}:{run_id}:u{i}"))
        .collect();
    seed(&kv, &mine).await;
    let token = app.token().claim("run_id", run_id.as_str()).build();
    let outcome = app.post(Some(&token), "{}".to_owned()).await.json();
    assert_eq!(outcome["keys"].as_array().unwrap().len(), 2, "{outcome}");
    assert_eq!(
        (outcome["deleted"].clone(), outcome["more"].clone()),
        (json!(2), json!(false))
    );
}

#[tokio::test]
async fn refuses_to_start_without_the_strict_posture_or_with_bad_settings() {
    let Some(redis) = TestRedis::get("cleanup_kv_startup") else {
        return;
    };
    let issuer = ci_fixtures::MockIssuer::start().await;
    let start = |policy: &str| {
        TestApp::builder(cleanup_kv::endpoint())
            .deployment(preview())
            .policy_keys(policy)
            .var(cleanup_kv::KV_URL_VAR, redis.url())
            .router_for(&issuer)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let loose = POLICY.replace("single_use = true\n", "");
    assert!(
        start(&loose).contains("single_use = true"),
        "{}",
        start(&loose)
    );
    let caller_pattern = POLICY.replace("e2e:{repository_id}:{run_id}:*", "e2e:*");
    assert!(
        start(&caller_pattern)
            .contains(r#"endpoints."cleanup/kv".config.patterns[0]: must contain"#)
    );
    let zero = POLICY.replace("max_deletions = 3", "max_deletions = 0");
    assert!(start(&zero).contains("config.max_deletions"));
    let typo = POLICY.replace("max_deletions = 3", "max_deletion = 3");
    assert!(start(&typo).contains("max_deletion"), "{}", start(&typo));
}
