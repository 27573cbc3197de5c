//! The codec's own rules: round trip, the length known before sealing, every refusal of the
//! decoder, and the secret's parsing.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::codec::{DecodeError, cookie_len, decode, encode, seal, session_payload};
use crate::key::{AuthSecret, COOKIE_NAME, SECURE_COOKIE_NAME, SecretError, SessionKey};

const SECRET: &str = "8Wj7GK6JxqTQ8ffQnIgHl8w7xC0ED6bW9EHqrrOfs3s=";
const NOW: u64 = 1_800_000_000;

fn key() -> SessionKey {
    AuthSecret::parse(SECRET)
        .expect("secret")
        .key_for(COOKIE_NAME)
}

fn claims(value: Value) -> Map<String, Value> {
    value.as_object().expect("object").clone()
}

#[test]
fn a_session_round_trips_with_the_claims_authjs_adds() {
    let token = encode(&key(), &claims(json!({"sub": "u1", "iat": 5})), NOW, 600).expect("encode");
    let decoded = decode(&key(), &token, NOW).expect("decode");
    let keys: Vec<&str> = decoded.keys().map(String::as_str).collect();
    // `iat` keeps the caller's position, as a JavaScript object would.
    assert_eq!(keys, ["sub", "iat", "exp", "jti"]);
    assert_eq!(
        (decoded["iat"].as_u64(), decoded["exp"].as_u64()),
        (Some(NOW), Some(NOW + 600))
    );
    let jti = decoded["jti"].as_str().expect("jti");
    let shape: Vec<usize> = jti.split('-').map(str::len).collect();
    assert_eq!(shape, [8, 4, 4, 4, 12]);
    assert!(
        jti.chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c))
    );
    assert_eq!(&jti[14..15], "4");
    assert!("89ab".contains(&jti[19..20]), "{jti}");
}

#[test]
fn each_cookie_gets_a_fresh_iv_and_jti() {
    let a = encode(&key(), &Map::new(), NOW, 60).expect("encode");
    let b = encode(&key(), &Map::new(), NOW, 60).expect("encode");
    assert_ne!(a.split('.').nth(2), b.split('.').nth(2));
    assert_ne!(
        decode(&key(), &a, NOW).unwrap()["jti"],
        decode(&key(), &b, NOW).unwrap()["jti"]
    );
}

#[test]
fn the_length_is_known_before_sealing() {
    for n in 0..100 {
        let session = claims(json!({"pad": "x".repeat(n * 7), "ü": "🚀"}));
        let payload = session_payload(&session, NOW, 3600).expect("payload");
        assert_eq!(
            cookie_len(&payload),
            seal(&key(), &payload).expect("seal").len(),
            "n={n}"
        );
    }
}

#[test]
fn times_follow_authjs_with_its_15_second_tolerance() {
    let token = encode(&key(), &Map::new(), NOW, 60).expect("encode");
    assert!(decode(&key(), &token, NOW + 60 + 14).is_ok());
    assert_eq!(
        decode(&key(), &token, NOW + 60 + 15),
        Err(DecodeError::Expired)
    );
    let early = claims(json!({"nbf": NOW + 16}));
    let token = encode(&key(), &early, NOW, 60).expect("encode");
    assert_eq!(decode(&key(), &token, NOW), Err(DecodeError::NotYetValid));
    let text_nbf = encode(&key(), &claims(json!({"nbf": "soon"})), NOW, 60).expect("encode");
    assert_eq!(decode(&key(), &text_nbf, NOW), Err(DecodeError::BadClaims));
}

#[test]
fn a_wrong_key_or_name_is_refused() {
    let token = encode(&key(), &Map::new(), NOW, 60).expect("encode");
    let secure = AuthSecret::parse(SECRET)
        .unwrap()
        .key_for(SECURE_COOKIE_NAME);
    assert_eq!(decode(&secure, &token, NOW), Err(DecodeError::WrongKey));
    let other = AuthSecret::parse(&"z".repeat(40))
        .unwrap()
        .key_for(COOKIE_NAME);
    assert_eq!(decode(&other, &token, NOW), Err(DecodeError::WrongKey));
}

fn with_header(header: &str, token: &str) -> String {
    let rest = token.split_once('.').expect("parts").1;
    format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header))
}

#[test]
fn headers_other_than_authjs_are_refused() {
    let token = encode(&key(), &Map::new(), NOW, 60).expect("encode");
    let kid = key().kid().to_owned();
    for (header, expected) in [
        (
            format!(r#"{{"alg":"A256KW","enc":"A256CBC-HS512","kid":"{kid}"}}"#),
            DecodeError::UnsupportedHeader,
        ),
        (
            format!(r#"{{"alg":"dir","enc":"A256GCM","kid":"{kid}"}}"#),
            DecodeError::UnsupportedHeader,
        ),
        (
            format!(r#"{{"alg":"dir","enc":"A256CBC-HS512","kid":"{kid}","zip":"DEF"}}"#),
            DecodeError::UnsupportedHeader,
        ),
        (
            format!(r#"{{"alg":"dir","enc":"A256CBC-HS512","kid":"{kid}","crit":["x"]}}"#),
            DecodeError::UnsupportedHeader,
        ),
        (
            r#"{"alg":"dir","enc":"A256CBC-HS512","kid":7}"#.to_owned(),
            DecodeError::WrongKey,
        ),
        // The header is authenticated: a kid-less header that decrypts with the key still fails the tag.
        (
            r#"{"alg":"dir","enc":"A256CBC-HS512"}"#.to_owned(),
            DecodeError::Tampered,
        ),
        ("not json".to_owned(), DecodeError::Malformed),
    ] {
        assert_eq!(
            decode(&key(), &with_header(&header, &token), NOW),
            Err(expected),
            "{header}"
        );
    }
}

#[test]
fn every_part_is_authenticated() {
    let token = encode(&key(), &claims(json!({"sub": "u1"})), NOW, 60).expect("encode");
    let parts: Vec<&str> = token.split('.').collect();
    for index in [2, 3, 4] {
        let mut bytes = URL_SAFE_NO_PAD.decode(parts[index]).expect("b64");
        bytes[0] ^= 1;
        let mut changed = parts.clone();
        let replaced = URL_SAFE_NO_PAD.encode(&bytes);
        changed[index] = &replaced;
        assert_eq!(
            decode(&key(), &changed.join("."), NOW),
            Err(DecodeError::Tampered),
            "part {index}"
        );
    }
    for bad in [
        "",
        "a.b.c.d",
        &format!("{}.x{}", parts[0], &token[parts[0].len() + 1..]),
        &format!("{token}."),
    ] {
        assert_eq!(
            decode(&key(), bad, NOW),
            Err(DecodeError::Malformed),
            "{bad}"
        );
    }
}

#[test]
fn weak_or_mangled_secrets_are_refused_with_the_fix() {
    assert_eq!(
        AuthSecret::parse("short").err(),
        Some(SecretError::TooShort { got: 5 })
    );
    let newline = format!("{SECRET}\n");
    assert_eq!(
        AuthSecret::parse(&newline).err(),
        Some(SecretError::ControlCharacter)
    );
    let message = SecretError::TooShort { got: 5 }.problem();
    assert!(message.contains("npx auth secret") && message.contains("openssl rand -base64 33"));
    let secret = AuthSecret::parse(SECRET).expect("secret");
    assert!(!format!("{secret:?}").contains(&SECRET[..8]));
    assert!(!format!("{:?}", secret.key_for(COOKIE_NAME)).contains("key:"));
}
