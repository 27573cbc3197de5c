//! The override-cookie decoder on arbitrary input: as a bare token with the fixed secret and
//! clock (`decrypt_overrides`), and as a cookie header or `name=value` pair through the
//! debugging helper (`decrypt`). Neither may panic, whatever the bytes.
#![no_main]

use encrypt_override::{decrypt, decrypt_overrides};
use fuzz_support::cookie::secret;
use fuzz_support::jwt::NOW;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let _ = decrypt_overrides(input, secret(), NOW);
    let _ = decrypt(input, secret());
});
