//! The codec against the vectors recorded from the real Flags SDK
//! (`interop/flags-sdk-vectors.json`, made by `interop/generate-vectors.mjs`; see
//! `interop/README.md` to regenerate them). A unit-test module rather than an integration
//! test because the fixed-IV vectors need the crate-private sealing hook.
//!
//! Where the SDK accepts something it never emits (other JWE algorithms, sloppy base64, no
//! `exp`), our decrypt is intentionally stricter; those ids are listed in `STRICTER_*` and the
//! tests assert the refusal, and that the listed ids still exist in the file.

use serde_json::{Map, Value};

use crate::codec::{
    COOKIE_NAME, DecryptError, FlagsSecret, MAX_TOKEN_LEN, PROTECTED_HEADER_B64, SecretError,
    decrypt_overrides, decrypt_overrides_detailed, seal_with_iv, token_len_for,
    token_len_for_claims,
};

/// Header variants jose accepts but only because of its default algorithm list.
const STRICTER_HEADERS: &[&str] = &["enc-A128CBC-HS256", "alg-A256KW", "alg-A256GCMKW"];
/// Claims variants the SDK accepts: a token without `exp` never expires, so we refuse it.
const STRICTER_CLAIMS: &[&str] = &["no-exp"];
/// Encodings only jose's Node build tolerates; the SDK emits canonical unpadded base64url.
const STRICTER_ENCODINGS: &[&str] = &[
    "padded-segments",
    "standard-alphabet",
    "trailing-char-ciphertext",
];
fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/interop/flags-sdk-vectors.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "the Flags SDK interop vectors are missing: {path}: {e}\n\
             (they are committed with the crate; `interop/README.md` says how to regenerate them)"
        )
    });
    serde_json::from_str(&text).expect("flags-sdk-vectors.json is valid JSON")
}

fn section<'a>(v: &'a Value, name: &str) -> &'a [Value] {
    v[name]
        .as_array()
        .unwrap_or_else(|| panic!("section {name} missing"))
        .as_slice()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {}", v["id"]))
}

fn generated_at(v: &Value) -> i64 {
    v["generated_at_epoch"]
        .as_i64()
        .expect("generated_at_epoch")
}

fn secret(v: &Value) -> FlagsSecret {
    FlagsSecret::parse(str_of(v, "secret")).expect("vector secret parses")
}

fn flags(v: &Value) -> &Map<String, Value> {
    v["flags"].as_object().expect("flags is an object")
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// What the SDK returned for a vector: `Some(value)` or `None` for `undefined`.
fn sdk_outcome(result: &Value) -> Option<&Value> {
    match result["outcome"].as_str() {
        Some("value") => Some(&result["value"]),
        Some("undefined") => None,
        other => panic!("unexpected outcome {other:?}"),
    }
}

/// The IV and exp inside an SDK token, so we can re-seal it ourselves.
fn iv_of(token: &str) -> [u8; 12] {
    use base64::Engine as _;
    let seg = token.split('.').nth(2).unwrap();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(seg)
        .unwrap()
        .try_into()
        .unwrap()
}

#[test]
fn positive_vectors_decrypt_to_the_recorded_overrides() {
    let v = vectors();
    let now = generated_at(&v);
    let positive = section(&v, "positive");
    assert_eq!(positive.len(), 10);
    for p in positive {
        let id = str_of(p, "id");
        let key = secret(p);
        let want = sdk_outcome(&p["decryptOverrides_result"]).expect("positive");
        assert_eq!(want, &p["flags"], "{id}: SDK result equals input");
        let got = decrypt_overrides(str_of(p, "token"), &key, now);
        assert_eq!(got.as_ref(), Some(want), "{id}: default-exp token");
        // One second before its exp it is still good; at exp it is not (no clock tolerance).
        let exp = p["claims"]["exp"].as_i64().unwrap();
        assert!(
            decrypt_overrides(str_of(p, "token"), &key, exp - 1).is_some(),
            "{id}"
        );
        assert!(matches!(
            decrypt_overrides_detailed(str_of(p, "token"), &key, exp),
            Err(DecryptError::Expired { .. })
        ));
        let long = str_of(p, "token_long_lived");
        let want_long = sdk_outcome(&p["decryptOverrides_result_long_lived"]).expect("positive");
        assert_eq!(
            decrypt_overrides(long, &key, now).as_ref(),
            Some(want_long),
            "{id}: long"
        );
        assert_eq!(
            decrypt_overrides(long, &key, crate::codec::now_unix()).as_ref(),
            Some(want_long),
            "{id}: long-lived token with the real clock"
        );
        assert_eq!(
            p["token_length"].as_u64().unwrap() as usize,
            str_of(p, "token").len()
        );
        assert_eq!(
            token_len_for(flags(p), exp),
            str_of(p, "token").len(),
            "{id}: length formula"
        );
    }
}

#[test]
fn positive_vectors_reseal_byte_identically_with_their_iv() {
    let v = vectors();
    for p in section(&v, "positive") {
        let id = str_of(p, "id");
        let token = str_of(p, "token");
        let exp = p["claims"]["exp"].as_i64().unwrap();
        let ours = seal_with_iv(flags(p), &secret(p), exp, iv_of(token)).unwrap();
        assert_eq!(ours, token, "{id}: same claims bytes as JSON.stringify");
    }
}

#[test]
fn deterministic_vectors_encrypt_byte_identically() {
    let v = vectors();
    let det = section(&v, "deterministic");
    assert_eq!(det.len(), 4);
    for d in det {
        let id = str_of(d, "id");
        let key = secret(d);
        assert_eq!(
            key.expose_bytes().as_slice(),
            hex(str_of(d, "key_hex")),
            "{id}"
        );
        let iv: [u8; 12] = hex(str_of(d, "iv_hex")).try_into().unwrap();
        let plaintext: Value = serde_json::from_str(str_of(d, "plaintext_exact")).unwrap();
        let exp = plaintext["exp"].as_i64().unwrap();
        let token = seal_with_iv(flags(d), &key, exp, iv).unwrap();
        assert_eq!(token, str_of(d, "token"), "{id}");
        assert!(token.starts_with(&format!("{PROTECTED_HEADER_B64}..")));
        let want = sdk_outcome(&d["decryptOverrides_result"]).unwrap();
        assert_eq!(
            decrypt_overrides(&token, &key, generated_at(&v)).as_ref(),
            Some(want)
        );
    }
}

#[test]
fn negative_vectors_are_refused() {
    let v = vectors();
    let now = generated_at(&v);
    let negative = section(&v, "negative");
    assert_eq!(negative.len(), 25);
    for n in negative {
        let id = str_of(n, "id");
        if let Some(result) = n.get("encryptOverrides_result") {
            // encryptOverrides({a:1}, "too-short") throws: we cannot even build the key.
            assert_eq!(result["outcome"], "throws", "{id}");
            assert!(FlagsSecret::parse("too-short").is_err(), "{id}");
            continue;
        }
        let result = &n["decryptOverrides_result"];
        match result["outcome"].as_str().unwrap() {
            "throws" => {
                let err = FlagsSecret::parse(str_of(n, "secret")).expect_err(id);
                assert!(err.to_string().contains("FLAGS_SECRET"), "{id}: {err}");
            }
            "undefined" => match n["token"].as_str() {
                Some(token) => {
                    let got = decrypt_overrides_detailed(token, &secret(n), now);
                    assert!(got.is_err(), "{id}: must be refused, got {got:?}");
                }
                // A non-string token: Rust's types rule it out.
                None => assert_eq!(id, "non-string-token"),
            },
            other => panic!("{id}: unexpected outcome {other}"),
        }
    }
}

/// Runs a section of `{token, accepted, decryptOverrides_result}` variants with secret A.
fn check_variants(name: &str, stricter: &[&str]) -> usize {
    let v = vectors();
    let now = generated_at(&v);
    let key = FlagsSecret::parse(str_of(&v["secrets"]["A"], "secret")).unwrap();
    let variants = section(&v, name);
    for id in stricter {
        assert!(
            variants.iter().any(|x| x["id"] == *id),
            "{name}: {id} no longer in the file"
        );
    }
    for x in variants {
        let id = str_of(x, "id");
        let got = decrypt_overrides_detailed(str_of(x, "token"), &key, now);
        let sdk = sdk_outcome(&x["decryptOverrides_result"]);
        assert_eq!(
            x["accepted"].as_bool().unwrap(),
            sdk.is_some(),
            "{name}/{id}"
        );
        match sdk {
            None => assert!(
                got.is_err(),
                "{name}/{id}: the SDK refuses it, we accepted {got:?}"
            ),
            Some(_) if stricter.contains(&id) => {
                assert!(
                    got.is_err(),
                    "{name}/{id}: intentionally refused, got {got:?}"
                )
            }
            Some(want) => assert_eq!(got.as_ref(), Ok(want), "{name}/{id}"),
        }
    }
    variants.len()
}

#[test]
fn header_variants_match_the_sdk_except_other_algorithms() {
    assert_eq!(check_variants("header_variants", STRICTER_HEADERS), 18);
}

#[test]
fn claims_variants_match_the_sdk_except_a_missing_exp() {
    assert_eq!(check_variants("claims_variants", STRICTER_CLAIMS), 18);
}

#[test]
fn token_encoding_variants_refuse_non_canonical_base64() {
    assert_eq!(
        check_variants("token_encoding_variants", STRICTER_ENCODINGS),
        4
    );
}

#[test]
fn stricter_refusals_say_why() {
    let v = vectors();
    let now = generated_at(&v);
    let key = FlagsSecret::parse(str_of(&v["secrets"]["A"], "secret")).unwrap();
    let by_id = |section_name: &str, id: &str| -> String {
        let x = section(&v, section_name)
            .iter()
            .find(|x| x["id"] == id)
            .unwrap();
        str_of(x, "token").to_owned()
    };
    let err = |t: String| decrypt_overrides_detailed(&t, &key, now).unwrap_err();
    assert_eq!(
        err(by_id("header_variants", "alg-A256KW")),
        DecryptError::Header("alg must be \"dir\"")
    );
    assert_eq!(
        err(by_id("header_variants", "enc-A128CBC-HS256")),
        DecryptError::Header("enc must be \"A256GCM\"")
    );
    assert_eq!(
        err(by_id("claims_variants", "no-exp")),
        DecryptError::Claims("exp is missing")
    );
    assert!(matches!(
        err(by_id("token_encoding_variants", "padded-segments")),
        DecryptError::Encoding(_)
    ));
}

#[test]
fn secret_encodings_parse_as_the_sdk_does() {
    let v = vectors();
    let key_a = hex(str_of(&v["secrets"]["A"], "key_hex"));
    let token = str_of(&v, "secret_encoding_variants_token");
    let now = generated_at(&v);
    let variants = section(&v, "secret_encoding_variants");
    assert_eq!(variants.len(), 8);
    for s in variants {
        let id = str_of(s, "id");
        let node_len = s["node_buffer_decoded_length"].as_u64().unwrap() as usize;
        let parsed = FlagsSecret::parse(str_of(s, "secret"));
        match sdk_outcome_or_throw(&s["decryptOverrides_result"]) {
            Some(want) => {
                let key = parsed.unwrap_or_else(|e| panic!("{id}: {e}"));
                assert_eq!(key.expose_bytes().as_slice(), key_a, "{id}");
                assert_eq!(
                    decrypt_overrides(token, &key, now).as_ref(),
                    Some(want),
                    "{id}"
                );
            }
            None if id == "non-base64-garbage" => {
                // Documented difference: Node skips the garbage (0 bytes) and then fails the
                // length check; we say it is not base64 at all. Both refuse to start.
                assert_eq!(parsed.unwrap_err(), SecretError::NotBase64);
            }
            None => assert_eq!(
                parsed.unwrap_err(),
                SecretError::WrongLength { got: node_len },
                "{id}"
            ),
        }
    }
}

fn sdk_outcome_or_throw(result: &Value) -> Option<&Value> {
    if result["outcome"] == "throws" {
        None
    } else {
        sdk_outcome(result)
    }
}

#[test]
fn legacy_v3_tokens_are_refused_and_v4_tokens_accepted() {
    let v = vectors();
    let now = generated_at(&v);
    let key = FlagsSecret::parse(str_of(&v["secrets"]["A"], "secret")).unwrap();
    let legacy = section(&v, "legacy_v3_interop");
    let v3 = legacy
        .iter()
        .find(|x| x["id"] == "v3-encrypt-token")
        .unwrap();
    assert_eq!(
        decrypt_overrides_detailed(str_of(v3, "token"), &key, now),
        Err(DecryptError::Purpose)
    );
    let v4 = legacy
        .iter()
        .find(|x| x["id"] == "v4-token-into-v3-decrypt")
        .unwrap();
    assert!(decrypt_overrides(str_of(v4, "token"), &key, now).is_some());
}

#[test]
fn size_notes_hold() {
    let v = vectors();
    let notes = &v["size_notes"];
    assert_eq!(
        token_len_for_claims(r#"{"o":{},"pur":"overrides","exp":1826899289}"#.len()),
        139
    );
    assert_eq!(notes["empty_overrides_token_length"], 139);
    let max = notes["max_overrides_json_bytes_for_4096_cookie"]
        .as_u64()
        .unwrap() as usize;
    // {"k":"xxx…"} is 8 bytes of framing around the string.
    let fits: Map<String, Value> =
        serde_json::from_str(&format!(r#"{{"k":"{}"}}"#, "x".repeat(max - 8))).unwrap();
    let over: Map<String, Value> =
        serde_json::from_str(&format!(r#"{{"k":"{}"}}"#, "x".repeat(max - 7))).unwrap();
    let fits_len = token_len_for(&fits, 1_826_899_289);
    let over_len = token_len_for(&over, 1_826_899_289);
    assert!(fits_len <= MAX_TOKEN_LEN, "{fits_len}");
    assert!(over_len > MAX_TOKEN_LEN, "{over_len}");
    assert_eq!(COOKIE_NAME.len() + 1 + fits_len, 4095);
}
