//! Properties of the codec that the SDK vectors do not pin down: fresh IVs, exact length
//! prediction, secret hygiene in `Debug` and error text, and the debugging helper's input forms.

use serde_json::{Map, Value, json};

use crate::codec::{
    COOKIE_NAME, DecryptError, FlagsSecret, SecretError, cookie_len_for, decrypt,
    decrypt_overrides, decrypt_overrides_detailed, default_exp, encrypt_overrides, now_unix,
    token_len_for, write_claims,
};

const SECRET: &str = "03EPRElaZK-T_rqAOo8R4AU1eIOb2fnrH0kvGk91f-g";
const OTHER: &str = "VTyuAzjZyqe4-BQJqe4CjkmLoPP-TsCH8tMnmmgOyVc";

fn map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

fn samples() -> Vec<Map<String, Value>> {
    vec![
        map(json!({})),
        map(json!({"ciInPreviewSmoke": true})),
        map(json!({"a": 1, "b": "two", "c": null, "d": [1, {"e": false}], "f": 0.25})),
        map(json!({"🚀": "機能", "ключ": "значение", "esc": "\"\\\n\t\u{0}/"})),
        map(json!({"nested": {"deep": {"deeper": {"deepest": [[], {}]}}}})),
        map(json!({"x": "y".repeat(3000)})),
    ]
}

#[test]
fn round_trips_with_a_fresh_iv_each_time() {
    let key = FlagsSecret::parse(SECRET).unwrap();
    let now = now_unix();
    for flags in samples() {
        let a = encrypt_overrides(&flags, &key, default_exp(now)).unwrap();
        let b = encrypt_overrides(&flags, &key, default_exp(now)).unwrap();
        assert_ne!(a.split('.').nth(2), b.split('.').nth(2), "IVs must differ");
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c))
        );
        assert_eq!(
            decrypt_overrides(&a, &key, now),
            Some(Value::Object(flags.clone()))
        );
        assert_eq!(decrypt_overrides(&b, &key, now), Some(Value::Object(flags)));
    }
}

#[test]
fn predicted_length_is_exact() {
    let key = FlagsSecret::parse(SECRET).unwrap();
    for flags in samples() {
        for exp in [0, 9, 4_102_444_800, default_exp(now_unix())] {
            let token = encrypt_overrides(&flags, &key, exp).unwrap();
            assert_eq!(token_len_for(&flags, exp), token.len());
        }
        assert_eq!(
            cookie_len_for(&flags),
            encrypt_overrides(&flags, &key, default_exp(now_unix()))
                .unwrap()
                .len()
        );
    }
}

#[test]
fn claims_keep_order_and_raw_utf8() {
    let flags = map(json!({"zeta": 1, "alpha": "é🚀"}));
    let mut out = Vec::new();
    write_claims(&mut out, &flags, 1_826_899_289).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"{"o":{"zeta":1,"alpha":"é🚀"},"pur":"overrides","exp":1826899289}"#
    );
}

#[test]
fn default_lifetime_is_the_sdk_year() {
    assert_eq!(default_exp(1_795_341_689), 1_826_899_289);
}

#[test]
fn refuses_expired_wrong_key_and_tampering() {
    let key = FlagsSecret::parse(SECRET).unwrap();
    let other = FlagsSecret::parse(OTHER).unwrap();
    let flags = map(json!({"a": true}));
    let token = encrypt_overrides(&flags, &key, 1000).unwrap();
    assert!(decrypt_overrides(&token, &key, 999).is_some());
    assert_eq!(
        decrypt_overrides_detailed(&token, &key, 1000),
        Err(DecryptError::Expired {
            exp: 1000.0,
            now: 1000
        })
    );
    assert_eq!(
        decrypt_overrides_detailed(&token, &other, 999),
        Err(DecryptError::Decryption)
    );
    let mut tampered = token.clone().into_bytes();
    let i = tampered.len() - 30;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert!(decrypt_overrides(&tampered, &key, 999).is_none());
    assert_eq!(
        decrypt_overrides_detailed("a.b.c", &key, 0),
        Err(DecryptError::Shape)
    );
    assert_eq!(
        decrypt_overrides_detailed(&format!("{token}."), &key, 0),
        Err(DecryptError::Shape)
    );
}

#[test]
fn debugging_helper_takes_a_token_a_pair_or_a_cookie_header() {
    let key = FlagsSecret::parse(SECRET).unwrap();
    let flags = map(json!({"ciInPreviewSmoke": true}));
    let token = encrypt_overrides(&flags, &key, default_exp(now_unix())).unwrap();
    let want = Ok(Value::Object(flags));
    assert_eq!(decrypt(&format!("  {token}\n"), &key), want);
    assert_eq!(decrypt(&format!("{COOKIE_NAME}={token}"), &key), want);
    assert_eq!(
        decrypt(&format!("theme=dark; {COOKIE_NAME}={token}; x=1"), &key),
        want
    );
    assert_eq!(
        decrypt("theme=dark; other=1", &key),
        Err(DecryptError::NoCookie)
    );
}

#[test]
fn secret_accepts_the_sdk_spellings() {
    let canonical = FlagsSecret::parse(SECRET).unwrap();
    for spelling in [
        "03EPRElaZK+T/rqAOo8R4AU1eIOb2fnrH0kvGk91f+g=",
        "03EPRElaZK+T/rqAOo8R4AU1eIOb2fnrH0kvGk91f+g",
        "03EPRElaZK-T_rqAOo8R4AU1eIOb2fnrH0kvGk91f-g=",
        "\t 03EPRElaZK-T_rqAOo8R4AU1eIOb2fnrH0kvGk91f-g\r\n",
        // Non-zero trailing bits, as Node allows: the last character differs in unused bits.
        "03EPRElaZK-T_rqAOo8R4AU1eIOb2fnrH0kvGk91f-h",
    ] {
        let parsed = FlagsSecret::parse(spelling).unwrap();
        assert_eq!(
            parsed.expose_bytes(),
            canonical.expose_bytes(),
            "{spelling:?}"
        );
    }
    assert_eq!(&*canonical.to_base64url(), SECRET);
}

#[test]
fn secret_errors_explain_the_fix_and_never_echo_the_secret() {
    let cases = [
        ("", SecretError::Empty),
        ("   ", SecretError::Empty),
        ("not base64 at all!", SecretError::NotBase64),
        ("c2hvcnQ", SecretError::WrongLength { got: 5 }),
        (
            "d3710f44495a64af93feba803a8f11e0053578839bd9f9eb1f492f1a4f757fe8",
            SecretError::WrongLength { got: 48 },
        ),
    ];
    for (raw, want) in cases {
        let err = FlagsSecret::parse(raw).unwrap_err();
        assert_eq!(err, want, "{raw:?}");
        let msg = err.to_string();
        assert!(msg.contains("FLAGS_SECRET"), "{msg}");
        assert!(msg.contains("openssl rand -base64 32"), "{msg}");
        assert!(
            msg.contains("crypto.randomBytes(32).toString('base64url')"),
            "{msg}"
        );
        if !raw.trim().is_empty() {
            assert!(!msg.contains(raw.trim()), "{msg}");
        }
    }
}

#[test]
fn secret_debug_is_redacted() {
    let key = FlagsSecret::parse(SECRET).unwrap();
    let shown = format!("{key:?}");
    assert_eq!(shown, "FlagsSecret([redacted])");
    assert!(!shown.contains(SECRET));
}
