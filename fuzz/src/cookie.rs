//! The cookie side: a fixed `FLAGS_SECRET` and a sealer for arbitrary plaintexts.
//!
//! The codec only ever encrypts well-formed claims, so without a sealer of its own the fuzzer
//! could never get past AES-GCM's tag check to the claims parser. This one builds the compact
//! JWE by hand (the format of `CONTRACT.md` §5) around whatever bytes it is given.

use std::sync::LazyLock;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use encrypt_override::FlagsSecret;

/// The secret's 32 bytes (test material).
pub const SECRET_BYTES: [u8; 32] = *b"fuzz-flags-secret-32-bytes-long!";

/// The header segment the Flags SDK emits, `{"alg":"dir","enc":"A256GCM"}`.
pub const HEADER_B64: &str = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0";

static SECRET: LazyLock<FlagsSecret> = LazyLock::new(|| {
    FlagsSecret::parse(&URL_SAFE_NO_PAD.encode(SECRET_BYTES)).expect("fuzz FLAGS_SECRET")
});

/// The fixed secret, parsed as the server parses `FLAGS_SECRET`.
pub fn secret() -> &'static FlagsSecret {
    &SECRET
}

/// `header_b64..iv.ciphertext.tag`: `plaintext` sealed with the fixed secret, AAD = header segment.
pub fn seal(header_b64: &str, iv: [u8; 12], plaintext: &[u8]) -> String {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &SECRET_BYTES).expect("AES key"));
    let mut buf = plaintext.to_vec();
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(iv),
            Aad::from(header_b64.as_bytes()),
            &mut buf,
        )
        .expect("AES-GCM seal");
    format!(
        "{header_b64}..{}.{}.{}",
        URL_SAFE_NO_PAD.encode(iv),
        URL_SAFE_NO_PAD.encode(&buf),
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    )
}
