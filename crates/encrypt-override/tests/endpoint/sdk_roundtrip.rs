//! Live interop: cookies we encrypt are decrypted by the real Flags SDK (`flags@4.3.1`
//! `decryptOverrides`) through `interop/sdk-decrypt.mjs`.
//!
//! Needs Node and a folder where `npm install flags@4.3.1` was run, named by
//! `CI_PREVIEW_SDK_CHECK_DIR` (`.ci/run` sets it). Without it the test says it skipped, unless
//! `CI_PREVIEW_REQUIRE_SDK=1`, where a silent skip would hide a broken interop check.

use std::path::{Path, PathBuf};
use std::process::Command;

use encrypt_override::{FlagsSecret, default_exp, encrypt_overrides, now_unix};
use serde_json::{Map, Value, json};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/sdk-decrypt.mjs");

fn sdk_dir() -> Option<PathBuf> {
    match std::env::var_os("CI_PREVIEW_SDK_CHECK_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir)),
        None if std::env::var("CI_PREVIEW_REQUIRE_SDK").as_deref() == Ok("1") => panic!(
            "CI_PREVIEW_REQUIRE_SDK=1 but CI_PREVIEW_SDK_CHECK_DIR is not set: run \
             `D=$(mktemp -d) && npm install --prefix $D flags@4.3.1` and export \
             CI_PREVIEW_SDK_CHECK_DIR=$D"
        ),
        None => {
            eprintln!(
                "skipped: the Flags SDK round trip needs CI_PREVIEW_SDK_CHECK_DIR (a folder with \
                 `npm install flags@4.3.1`)"
            );
            None
        }
    }
}

/// What the real SDK makes of `token`: `Ok(overrides)` or `Err(stderr)` when it refuses.
fn sdk_decrypt(dir: &Path, secret: &str, token: &str) -> Result<Value, String> {
    assert!(
        Path::new(SCRIPT).exists(),
        "interop script missing: {SCRIPT}"
    );
    let out = Command::new("node")
        .arg(SCRIPT)
        .arg(token)
        .env("FLAGS_SECRET", secret)
        .env("FLAGS_SDK_DIR", dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node (needed for the SDK round trip): {e}"));
    if out.status.success() {
        let stdout = String::from_utf8(out.stdout).expect("utf-8 output");
        Ok(serde_json::from_str(stdout.trim()).expect("the script prints JSON"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn random_secret() -> FlagsSecret {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    FlagsSecret::from_bytes(bytes).unwrap()
}

fn flag_sets() -> Vec<Value> {
    vec![
        json!({}),
        json!({"ciInPreviewSmoke": true}),
        json!({"🚀launch": "🎉 party 👩‍👩‍👧‍👦", "機能フラグ": "有効", "ключ": null, "rtl_עברית": "שלום"}),
        json!({"nested": {"a": {"b": {"c": [1, "two", false, null, {"d": "e"}]}}}, "empty": {}, "list": []}),
        json!({"int": 42, "neg": -7, "float": 0.1, "big": 1e21, "maxSafe": 9_007_199_254_740_991_u64,
               "escapes": "quote \" backslash \\ newline \n tab \t nul \u{0} slash /"}),
        // The largest overrides the endpoint will hand out (2953 bytes of JSON).
        json!({"k": "x".repeat(2953 - 8)}),
    ]
}

#[test]
fn the_flags_sdk_decrypts_our_cookies() {
    let Some(dir) = sdk_dir() else { return };
    let secret = random_secret();
    let secret_text = secret.to_base64url();
    for flags in flag_sets() {
        let Value::Object(map) = &flags else {
            unreachable!()
        };
        let token = encrypt_overrides(map, &secret, default_exp(now_unix())).unwrap();
        let got = sdk_decrypt(&dir, &secret_text, &token)
            .unwrap_or_else(|e| panic!("the SDK refused our cookie for {flags}: {e}"));
        assert_eq!(got, flags);
    }
}

#[test]
fn the_flags_sdk_reads_a_standard_base64_secret_like_we_do() {
    let Some(dir) = sdk_dir() else { return };
    let secret = random_secret();
    // `openssl rand -base64 32` style: standard alphabet with padding, and a trailing newline.
    use base64::Engine as _;
    let standard = format!(
        "{}\n",
        base64::engine::general_purpose::STANDARD.encode(secret.expose_bytes())
    );
    let parsed = FlagsSecret::parse(&standard).unwrap();
    assert_eq!(parsed.expose_bytes(), secret.expose_bytes());
    let flags = json!({"variant": "b"});
    let Value::Object(map) = &flags else {
        unreachable!()
    };
    let token = encrypt_overrides(map, &parsed, default_exp(now_unix())).unwrap();
    assert_eq!(sdk_decrypt(&dir, &standard, &token).unwrap(), flags);
}

#[test]
fn the_flags_sdk_refuses_what_it_should() {
    let Some(dir) = sdk_dir() else { return };
    let secret = random_secret();
    let map: Map<String, Value> = Map::from_iter([("a".to_owned(), json!(true))]);
    let expired = encrypt_overrides(&map, &secret, now_unix() - 5).unwrap();
    assert!(
        sdk_decrypt(&dir, &secret.to_base64url(), &expired).is_err(),
        "expired token"
    );
    let fresh = encrypt_overrides(&map, &secret, default_exp(now_unix())).unwrap();
    let other = random_secret();
    assert!(
        sdk_decrypt(&dir, &other.to_base64url(), &fresh).is_err(),
        "wrong secret"
    );
}

#[tokio::test]
async fn the_flags_sdk_decrypts_a_cookie_the_endpoint_served() {
    let Some(dir) = sdk_dir() else { return };
    let app = crate::common::app_in(Some("preview"), Some(crate::common::SECRET)).await;
    let body =
        r#"{"flags":{"ciInPreviewSmoke":true,"variant":"b","🚀":{"n":[1,null]}},"maxAge":900}"#;
    let answer = app.post(Some(&app.good_token()), body).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let answer: Value = serde_json::from_str(&answer.body).unwrap();
    let cookie = answer["cookie"].as_str().unwrap();
    // As a browser would send it, in a Cookie header among others.
    let header = format!("theme=dark; vercel-flag-overrides={cookie}; other=1");
    let got = sdk_decrypt(&dir, crate::common::SECRET, &header).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got, serde_json::from_str::<Value>(body).unwrap()["flags"]);
}
