//! Verify throughput beside the raw aws-lc-rs RSA-2048 verification of the same token.
//!
//! `raw_parsed_key` is the floor (key parsed once); `raw_unparsed_key` re-parses the key per
//! call, as `jsonwebtoken` does with a JWK's components. `Verifier::verify` adds to the latter
//! the library's header and claims parsing, the checks around it and the policy checks; the
//! ratio to the raw rate is printed at the end, from criterion's estimates and interleaved.
//! The token is minted at start-up and stays valid for the run (GitHub's 300 s lifetime).

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

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

fn benches(c: &mut Criterion) -> (f64, f64, f64) {
    let key = shared_key(PRIMARY_KEY);
    let builder = TokenBuilder::new(ISSUER, AUD, key.clone());
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

    let keys = KeyStore::from_jwks_json(jwks_json(std::slice::from_ref(&key)).as_bytes())
        .expect("key store");
    let verifier = Verifier::new(ISSUER, keys);
    let policy = EndpointPolicy::new(AUD, DEFAULT_REPOSITORY, DEFAULT_WORKFLOW);
    let secret = SecretString::new(token.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(verifier.verify(&secret, &policy))
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
    // Polled once with a no-op waker: with the key cached, verification never waits, and a
    // server runs it inside a task it already has. The block_on variant adds the cost of
    // entering a runtime per call, which belongs to the benchmark, not the verifier.
    group.bench_function("verifier_verify", |b| {
        b.iter(|| poll_verify(&verifier, &secret, &policy))
    });
    group.bench_function("verifier_verify_block_on", |b| {
        b.iter(|| {
            rt.block_on(verifier.verify(black_box(&secret), black_box(&policy)))
                .expect("verify")
        })
    });
    group.finish();

    interleaved_ratio(
        || {
            parsed
                .verify_sig(black_box(signing_input.as_bytes()), black_box(&sig))
                .expect("raw verify")
        },
        || poll_verify(&verifier, &secret, &policy),
    )
}

fn poll_verify(verifier: &Verifier, secret: &SecretString, policy: &EndpointPolicy) {
    let mut cx = Context::from_waker(Waker::noop());
    let fut = pin!(verifier.verify(black_box(secret), black_box(policy)));
    match fut.poll(&mut cx) {
        Poll::Ready(result) => {
            black_box(result.expect("verify"));
        }
        Poll::Pending => panic!("verification with a cached key must not wait"),
    }
}

/// CPU time of this thread in ns (Linux `schedstat`), so time spent descheduled on a busy
/// machine does not count; falls back to wall-clock time elsewhere.
fn cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// On a shared, loaded machine the speed drifts between criterion's sequential runs, so the
/// ratio is also measured interleaved: rounds of `BATCH` raw verifies then `BATCH` verifier
/// calls, timed in thread CPU time, the median of the per-round ratios reported.
fn interleaved_ratio(raw: impl Fn(), ours: impl Fn()) -> (f64, f64, f64) {
    const ROUNDS: usize = 61;
    const BATCH: u32 = 2000;
    let time = |f: &dyn Fn()| {
        let (cpu, wall) = (cpu_ns(), Instant::now());
        for _ in 0..BATCH {
            f();
        }
        let ns = match (cpu, cpu_ns()) {
            (Some(a), Some(b)) => (b - a) as f64,
            _ => wall.elapsed().as_nanos() as f64,
        };
        ns / f64::from(BATCH)
    };
    let mut rounds: Vec<(f64, f64)> = (0..ROUNDS).map(|_| (time(&raw), time(&ours))).collect();
    rounds.sort_by(|a, b| (a.0 / a.1).total_cmp(&(b.0 / b.1)));
    let (r, o) = rounds[ROUNDS / 2];
    (r, o, r / o)
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
    let (raw_ns, ours_ns, ratio) = benches(&mut c);
    c.final_summary();
    let rate = |ns: f64| 1e9 / ns;
    if let (Some(raw), Some(ours)) = (mean_ns("raw_parsed_key"), mean_ns("verifier_verify")) {
        println!(
            "\ncriterion means: raw aws-lc-rs verify {:.0}/s ({raw:.0} ns), Verifier::verify {:.0}/s \
             ({ours:.0} ns), ratio {:.3}",
            rate(raw),
            rate(ours),
            raw / ours
        );
    }
    println!(
        "interleaved median: raw aws-lc-rs verify {:.0}/s ({raw_ns:.0} ns), Verifier::verify {:.0}/s \
         ({ours_ns:.0} ns), ratio verify/raw = {ratio:.3}",
        rate(raw_ns),
        rate(ours_ns),
    );
}
