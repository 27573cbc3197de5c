//! Set-up shared by this crate's tests: a key of every algorithm (private PEM for the endpoint,
//! public PEM for the verifier), the endpoint in the kit's test app, and the Node half of the
//! live `jose` check.

#![allow(dead_code)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use base64::Engine as _;
use ci_fixtures::TestApp;
use serde_json::Value;
use tokens_mint::{KEY_VAR, MintAlgorithm};

/// The HS256 secret of these tests (48 bytes, like a Supabase JWT secret).
pub(crate) const HS256_SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters-long";

/// The policy entry's `config` table of these tests.
pub(crate) const CONFIG: &str = r#"
[endpoints."tokens/mint".config]
subjects = ["user-1", "user-2"]
caller_claims = ["name", "app_metadata"]
token_max_age = 900
kid = "test-key-1"
claims = { iss = "https://app.test/auth/v1", aud = "authenticated", role = "authenticated", email = "{subject}@e2e.test", ci = { repository_id = "{repository_id}", run = "{run_id}" } }
"#;

/// One signing key: what the endpoint is given and what a verifier needs.
pub(crate) struct TestKey {
    pub algorithm: MintAlgorithm,
    pub private: String,
    /// The HS256 secret, or the SPKI public key as PEM.
    pub public: String,
}

pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// A fresh key of every algorithm the endpoint signs with.
pub(crate) fn keys() -> Vec<TestKey> {
    let rsa = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("rsa");
    let rsa_private = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&rsa).expect("pkcs8");
    let rsa_public = rsa.public_key().as_der().expect("spki");
    let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("ec");
    let ec_public = ec.public_key().as_der().expect("spki");
    let ed = Ed25519KeyPair::generate().expect("ed25519");
    let ed_public = ed.public_key().as_der().expect("spki");
    vec![
        TestKey {
            algorithm: MintAlgorithm::Hs256,
            private: HS256_SECRET.to_owned(),
            public: HS256_SECRET.to_owned(),
        },
        TestKey {
            algorithm: MintAlgorithm::Rs256,
            private: pem("PRIVATE KEY", rsa_private.as_ref()),
            public: pem("PUBLIC KEY", rsa_public.as_ref()),
        },
        TestKey {
            algorithm: MintAlgorithm::Es256,
            private: pem("PRIVATE KEY", ec.to_pkcs8v1().expect("pkcs8").as_ref()),
            public: pem("PUBLIC KEY", ec_public.as_ref()),
        },
        TestKey {
            algorithm: MintAlgorithm::EdDsa,
            private: pem("PRIVATE KEY", ed.to_pkcs8v1().expect("pkcs8").as_ref()),
            public: pem("PUBLIC KEY", ed_public.as_ref()),
        },
    ]
}

/// The endpoint with [`CONFIG`], signing with `key` (`None`: the deployment has no key).
pub(crate) async fn app(algorithm: MintAlgorithm, key: Option<&str>) -> TestApp {
    app_in("preview", algorithm, key).await
}

pub(crate) async fn app_in(
    environment: &str,
    algorithm: MintAlgorithm,
    key: Option<&str>,
) -> TestApp {
    let mut builder = TestApp::builder(tokens_mint::endpoint_with(Some(algorithm)))
        .strict()
        .policy_keys(CONFIG)
        .environment(Some(environment));
    if let Some(key) = key {
        builder = builder.var(KEY_VAR, key);
    }
    builder.start().await
}

/// The folder with `jose` installed, or `None` (skip) unless the check is required.
pub(crate) fn jose_dir() -> Option<PathBuf> {
    match std::env::var_os("CI_PREVIEW_JOSE_CHECK_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir)),
        None if std::env::var("CI_PREVIEW_REQUIRE_JOSE").as_deref() == Ok("1") => panic!(
            "CI_PREVIEW_REQUIRE_JOSE=1 but CI_PREVIEW_JOSE_CHECK_DIR is not set: run \
             `D=$(mktemp -d) && npm install --prefix $D jose@6.2.19` and export \
             CI_PREVIEW_JOSE_CHECK_DIR=$D"
        ),
        None => {
            eprintln!(
                "skipped: the jose interop check needs CI_PREVIEW_JOSE_CHECK_DIR (a folder with \
                 `npm install jose@6.2.19`)"
            );
            None
        }
    }
}

/// Runs `interop/jose-verify.mjs` on `cases` (`[{alg, key, token}]`); one result per case.
pub(crate) fn jose_verify(dir: &std::path::Path, cases: &Value) -> Vec<Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/jose-verify.mjs");
    let mut child = Command::new("node")
        .arg(script)
        .env("JOSE_DIR", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node (needed for the jose check): {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(cases.to_string().as_bytes())
        .expect("write cases");
    let out = child.wait_with_output().expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON results")
}
