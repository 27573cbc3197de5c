//! How much a cookie costs to make and to check, so a change to the codec that slows the
//! endpoint's only real work shows up. Run: `cargo bench -p encrypt-override`.

use criterion::{Criterion, criterion_group, criterion_main};
use encrypt_override::{
    FlagsSecret, cookie_len_for, decrypt_overrides, default_exp, encrypt_overrides, now_unix,
};
use serde_json::{Map, Value, json};

fn flags(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn bench(c: &mut Criterion) {
    let secret = FlagsSecret::from_bytes([7; 32]).expect("key");
    let exp = default_exp(now_unix());
    let small = flags(json!({"ciInPreviewSmoke": true}));
    let large = flags(json!({"k": "x".repeat(2900)}));

    c.bench_function("encrypt/small", |b| {
        b.iter(|| encrypt_overrides(&small, &secret, exp))
    });
    c.bench_function("encrypt/near-4k-cookie", |b| {
        b.iter(|| encrypt_overrides(&large, &secret, exp))
    });
    c.bench_function("cookie_len_for/near-4k-cookie", |b| {
        b.iter(|| cookie_len_for(&large))
    });
    let token = encrypt_overrides(&small, &secret, exp).expect("token");
    let now = now_unix();
    c.bench_function("decrypt/small", |b| {
        b.iter(|| decrypt_overrides(&token, &secret, now))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
