//! Live interop with the real Auth.js: sessions we encode are decoded by `@auth/core`'s `decode`,
//! and sessions the package encodes are read by our `decode`, through `interop/authjs-check.mjs`.
//! (`tests/endpoint.rs` has the same check on cookies the endpoint itself issued.)
//!
//! Needs Node and a folder where `npm install @auth/core@0.41.3` ran, named by
//! `CI_PREVIEW_AUTHJS_CHECK_DIR` (`.ci/run` sets it). Without it the test says it skipped, unless
//! `CI_PREVIEW_REQUIRE_AUTHJS=1`, where a silent skip would hide a broken interop check.

use crate::common::{SECRET, authjs, authjs_dir, now};
use encrypt_session::{AuthSecret, COOKIE_NAME, SECURE_COOKIE_NAME, decode, encode};
use serde_json::{Map, Value, json};

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
