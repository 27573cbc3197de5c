//! The cookie's claims behind AES-GCM: arbitrary plaintext sealed with the right secret, so the
//! post-decryption parser and the SDK's claim checks see fuzzed input instead of tag failures.
//! Input: one byte choosing the protected header, 12 bytes of IV, then the plaintext.
//!
//! With the SDK's own header the result must equal the reference model exactly (the overrides,
//! or a refusal); with the other headers, anything decrypted must still be what the model
//! would return, so no header variant can smuggle a refused claims set through.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use encrypt_override::decrypt_overrides_detailed;
use fuzz_support::cookie::{HEADER_B64, seal, secret};
use fuzz_support::jwt::NOW;
use fuzz_support::reference;
use libfuzzer_sys::fuzz_target;

/// Protected headers to try: the SDK's (index 0, as its exact segment), then variants jose
/// accepts or refuses.
const HEADERS: &[&str] = &[
    "",
    r#"{"enc":"A256GCM","alg":"dir"}"#,
    r#"{"alg":"dir","enc":"A256GCM","iss":"ci"}"#,
    r#"{"alg":"dir","enc":"A256GCM","sub":7}"#,
    r#"{"alg":"dir","enc":"A256GCM","aud":["ci"]}"#,
    r#"{"alg":"dir","enc":"A256GCM","crit":[]}"#,
    r#"{"alg":"dir","enc":"A256GCM","zip":"DEF"}"#,
    r#"{"alg":"A256KW","enc":"A256GCM"}"#,
    r#"{"alg":"dir","enc":"A128CBC-HS256"}"#,
    r#"{"alg":"dir"}"#,
    r#"["dir","A256GCM"]"#,
];

fuzz_target!(|data: &[u8]| {
    if data.len() < 13 {
        return;
    }
    let (selector, rest) = (usize::from(data[0]) % HEADERS.len(), &data[1..]);
    let (iv, plaintext) = rest.split_at(12);
    let iv: [u8; 12] = iv.try_into().expect("12 bytes");
    let header_b64 = match selector {
        0 => HEADER_B64.to_owned(),
        i => URL_SAFE_NO_PAD.encode(HEADERS[i]),
    };
    let token = seal(&header_b64, iv, plaintext);
    let result = decrypt_overrides_detailed(&token, secret(), NOW).ok();
    let model = reference::cookie_overrides(plaintext, NOW);
    if selector <= 1 {
        assert_eq!(result, model, "decrypt disagrees with the reference model");
    } else if let Some(value) = result {
        assert_eq!(
            Some(value),
            model,
            "a header variant changed the decrypted overrides"
        );
    }
});
