//! Verify throughput beside the raw aws-lc-rs RSA-2048 verification of the same token.
//!
//! The goal is `Verifier::verify` at ≥ 0.8× the raw rate: everything the verifier does
//! besides the one RSA operation (base64, header and claims JSON, every policy check, the key
//! lookup) must stay small next to it. `raw_parsed_key` is the floor (key parsed once, as the
//! key store does); `raw_unparsed_key` re-parses the key per call, as generic JWT libraries do.
//! The ratio is printed at the end from criterion's estimates.

use std::hint::black_box;

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ci_fixtures::keys::{PRIMARY_KEY, jwks_json, shared_key};
use ci_fixtures::{DEFAULT_REPOSITORY, DEFAULT_WORKFLOW, TokenBuilder};
use ci_oidc::{EndpointPolicy, KeyStore, SecretString, Verifier};
use criterion::{Criterion, Throughput};

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const AUD: &str = "https://preview.example.com/api/~/ci/flags/encrypt-override";
const GROUP: &str = "rs256_verify";

fn benches(c: &mut Criterion) {
    let key = shared_key(PRIMARY_KEY);
    let builder = TokenBuilder::new(ISSUER, AUD, key.clone());
    let now = builder.claims()["iat"].as_i64().expect("iat");
    let token = builder.build();
    let (signing_input, sig_b64) = token.rsplit_once('.').expect("compact JWS");
    let sig = URL_SAFE_NO_PAD.decode(sig_b64).expect("signature");

    let parsed: ParsedPublicKey = RsaPublicKeyComponents {
        n: key.modulus(),
        e: key.exponent(),
    }
    .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
    .expect("parsed key");
    let unparsed = UnparsedPublicKey::new(
        &signature::RSA_PKCS1_2048_8192_SHA256,
        key.public_key_der().to_vec(),
    );

    let keys = KeyStore::from_jwks_json(jwks_json(&[key.clone()]).as_bytes()).expect("key store");
    let verifier = Verifier::new(ISSUER, keys);
    let policy = EndpointPolicy::new(AUD, DEFAULT_REPOSITORY, DEFAULT_WORKFLOW);
    let secret = SecretString::new(token.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(verifier.verify_at(&secret, &policy, now))
        .expect("token verifies");

    let mut group = c.benchmark_group(GROUP);
    group.throughput(Throughput::Elements(1));
    group.bench_function("raw_parsed_key", |b| {
        b.iter(|| {
            parsed
                .verify_sig(black_box(signing_input.as_bytes()), black_box(&sig))
                .expect("raw verify")
        })
    });
    group.bench_function("raw_unparsed_key", |b| {
        b.iter(|| {
            unparsed
                .verify(black_box(signing_input.as_bytes()), black_box(&sig))
                .expect("raw verify")
        })
    });
    group.bench_function("verifier_verify", |b| {
        b.iter(|| {
            rt.block_on(verifier.verify_at(black_box(&secret), black_box(&policy), now))
                .expect("verify")
        })
    });
    group.finish();
}

/// Mean time per iteration, in ns, from criterion's saved estimates.
fn mean_ns(bench: &str) -> Option<f64> {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let path = dir
        .join("criterion")
        .join(GROUP)
        .join(bench)
        .join("new/estimates.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
    if let (Some(raw), Some(unparsed), Some(ours)) = (
        mean_ns("raw_parsed_key"),
        mean_ns("raw_unparsed_key"),
        mean_ns("verifier_verify"),
    ) {
        let rate = |ns: f64| 1e9 / ns;
        println!(
            "\nraw parsed key: {:.0}/s ({raw:.0} ns) | raw unparsed key: {:.0}/s ({unparsed:.0} ns) | \
             Verifier::verify: {:.0}/s ({ours:.0} ns) | ratio verify/raw = {:.3} (goal >= 0.8)",
            rate(raw),
            rate(unparsed),
            rate(ours),
            raw / ours
        );
    }
}
