//! Live interop with the real Auth.js: sessions we encode are decoded by `@auth/core`'s `decode`,
//! and sessions the package encodes are read by our `decode`, through `interop/authjs-check.mjs`.
//!
//! Needs Node and a folder where `npm install @auth/core@0.41.3` ran, named by
//! `CI_PREVIEW_AUTHJS_CHECK_DIR` (`.ci/run` sets it). Without it the test says it skipped, unless
//! `CI_PREVIEW_REQUIRE_AUTHJS=1`, where a silent skip would hide a broken interop check.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use encrypt_session::{AuthSecret, COOKIE_NAME, SECURE_COOKIE_NAME, decode, encode};
use serde_json::{Map, Value, json};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/authjs-check.mjs");
const SECRET: &str = "q2Gd4vNfT0hF0m2Y1nTxyQ8y7Wl0a1r0l2YwZWQK9y5f";

fn authjs_dir() -> Option<PathBuf> {
    match std::env::var_os("CI_PREVIEW_AUTHJS_CHECK_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir)),
        None if std::env::var("CI_PREVIEW_REQUIRE_AUTHJS").as_deref() == Ok("1") => panic!(
            "CI_PREVIEW_REQUIRE_AUTHJS=1 but CI_PREVIEW_AUTHJS_CHECK_DIR is not set: run \
             `D=$(mktemp -d) && npm install --prefix $D @auth/core@0.41.3` and export \
             CI_PREVIEW_AUTHJS_CHECK_DIR=$D"
        ),
        None => {
            eprintln!(
                "skipped: the Auth.js round trip needs CI_PREVIEW_AUTHJS_CHECK_DIR (a folder with \
                 `npm install @auth/core@0.41.3`)"
            );
            None
        }
    }
}

/// Runs the script; `Ok(stdout)` or `Err(stderr)` when the package refuses.
fn authjs(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("node")
        .arg(SCRIPT)
        .args(args)
        .env("AUTHJS_DIR", dir)
        .env("AUTH_SECRET", SECRET)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node (needed for the Auth.js round trip): {e}"));
    if out.status.success() {
        Ok(String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

fn sessions() -> Vec<Map<String, Value>> {
    [
        json!({}),
        json!({"name": "CI Test User", "email": "ci@example.com", "sub": "user-123"}),
        json!({"name": "Ünïcødé 用户 🚀", "roles": ["admin"], "nested": {"a": [1, 2.5, null, true]}}),
        json!({"big": "x".repeat(2500)}),
    ]
    .into_iter()
    .map(|v| v.as_object().expect("object").clone())
    .collect()
}

#[test]
fn authjs_decodes_our_sessions_and_we_decode_its() {
    let Some(dir) = authjs_dir() else { return };
    let secret = AuthSecret::parse(SECRET).expect("secret");
    for name in [COOKIE_NAME, SECURE_COOKIE_NAME] {
        let key = secret.key_for(name);
        for session in sessions() {
            // Ours, read by Auth.js.
            let token = encode(&key, &session, now(), 300).expect("encode");
            let theirs: Value = serde_json::from_str(
                &authjs(&dir, &["decode", name, &token]).expect("Auth.js decodes"),
            )
            .expect("JSON");
            assert_eq!(
                theirs,
                Value::Object(decode(&key, &token, now()).expect("ours"))
            );
            // Auth.js's, read by us.
            let claims = serde_json::to_string(&session).expect("json");
            let token = authjs(&dir, &["encode", name, &claims, "300"]).expect("Auth.js encodes");
            let ours = decode(&key, &token, now()).expect("we decode Auth.js's cookie");
            for (claim, value) in &session {
                assert_eq!(ours.get(claim), Some(value), "{claim}");
            }
            assert_eq!(
                ours["exp"].as_u64(),
                Some(ours["iat"].as_u64().expect("iat") + 300)
            );
        }
    }
}

#[test]
fn authjs_refuses_our_cookie_under_the_other_name() {
    let Some(dir) = authjs_dir() else { return };
    let key = AuthSecret::parse(SECRET)
        .expect("secret")
        .key_for(COOKIE_NAME);
    let token = encode(&key, &Map::new(), now(), 300).expect("encode");
    let refused = authjs(&dir, &["decode", SECURE_COOKIE_NAME, &token])
        .expect_err("a cookie sealed for one name must not open under the other");
    assert!(refused.contains("Auth.js refused"), "{refused}");
    let expired = encode(&key, &Map::new(), now() - 400, 300).expect("encode");
    authjs(&dir, &["decode", COOKIE_NAME, &expired])
        .expect_err("Auth.js refuses an expired session");
}
