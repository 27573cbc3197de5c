//! Both directions against the real Auth.js, without Node: `interop/authjs-vectors.json` holds
//! cookies `@auth/core`'s `encode` made (see `interop/README.md`). For each, the derived key and
//! `kid` match, our decoder returns the package's payload, and re-encoding that payload under the
//! token's own IV reproduces the package's token byte for byte.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::codec::{decode, encode_payload};
use crate::key::AuthSecret;

const VECTORS: &str = include_str!("../../interop/authjs-vectors.json");

struct Vector {
    secret: String,
    salt: String,
    key_hex: String,
    kid: String,
    session: Map<String, Value>,
    max_age: u64,
    token: String,
    payload: Map<String, Value>,
}

fn vectors() -> Vec<Vector> {
    let file: Value = serde_json::from_str(VECTORS).expect("vectors are JSON");
    let list = file["vectors"].as_array().expect("a vectors array");
    assert!(list.len() >= 30, "the vector file lost entries");
    list.iter()
        .map(|v| {
            let text = |k: &str| v[k].as_str().expect(k).to_owned();
            let object = |k: &str| v[k].as_object().expect(k).clone();
            Vector {
                secret: text("secret"),
                salt: text("salt"),
                key_hex: text("key_hex"),
                kid: text("kid"),
                session: object("session"),
                max_age: v["max_age"].as_u64().expect("max_age"),
                token: text("token"),
                payload: object("payload"),
            }
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn iat(v: &Vector) -> u64 {
    v.payload["iat"].as_u64().expect("iat")
}

#[test]
fn the_key_and_kid_are_derived_as_authjs_does() {
    for v in vectors() {
        let key = AuthSecret::parse(&v.secret)
            .expect("secret")
            .key_for(&v.salt);
        assert_eq!(hex(key.bytes()), v.key_hex, "key for salt {}", v.salt);
        assert_eq!(key.kid(), v.kid, "kid for salt {}", v.salt);
    }
}

#[test]
fn we_decode_what_authjs_encoded() {
    for v in vectors() {
        let key = AuthSecret::parse(&v.secret)
            .expect("secret")
            .key_for(&v.salt);
        let claims = decode(&key, &v.token, iat(&v)).expect("decodes");
        assert_eq!(claims, v.payload);
        // Auth.js added exactly iat, exp = iat + maxAge and a v4 jti to the session's claims.
        assert_eq!(claims["exp"].as_u64(), Some(iat(&v) + v.max_age));
        let jti = claims["jti"].as_str().expect("jti");
        assert_eq!((jti.len(), &jti[14..15]), (36, "4"), "{jti}");
        let mut without_added = claims.clone();
        for added in ["iat", "exp", "jti"] {
            without_added.remove(added);
        }
        let mut session = v.session.clone();
        for added in ["iat", "exp", "jti"] {
            session.remove(added);
        }
        assert_eq!(without_added, session);
    }
}

#[test]
fn we_encode_byte_for_byte_what_authjs_encoded() {
    for v in vectors() {
        let key = AuthSecret::parse(&v.secret)
            .expect("secret")
            .key_for(&v.salt);
        let iv_b64 = v.token.split('.').nth(2).expect("iv part");
        let iv: [u8; 16] = URL_SAFE_NO_PAD
            .decode(iv_b64)
            .expect("iv")
            .try_into()
            .expect("16 bytes");
        assert_eq!(encode_payload(&key, &v.payload, iv), v.token);
    }
}

#[test]
fn the_other_cookie_name_does_not_decrypt() {
    for v in vectors() {
        let other = if v.salt.starts_with("__Secure-") {
            "authjs.session-token"
        } else {
            "__Secure-authjs.session-token"
        };
        let key = AuthSecret::parse(&v.secret).expect("secret").key_for(other);
        assert!(decode(&key, &v.token, iat(&v)).is_err());
    }
}
