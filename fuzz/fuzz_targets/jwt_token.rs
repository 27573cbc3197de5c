//! The OIDC token as the server receives it: arbitrary bytes in `x-github-oidc-token`, verified
//! against the fixed key set, each policy and the fixed clock. The verifier must never panic,
//! and anything it accepts must pass the reference model with the payload's own claims.
//!
//! Seeded with GitHub-shaped tokens signed by the fixed key (`examples/gen_seeds.rs`), so the
//! mutator starts from inputs that reach the signature and claims code, not just the splitter.
#![no_main]

use ci_oidc::SecretString;
use fuzz_support::jwt::{NOW, payload_of, policies, verifier};
use fuzz_support::{exec, reference};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let secret = SecretString::new(token);
    for policy in policies() {
        let result = exec::run(verifier().verify_at(&secret, policy, NOW));
        if let Ok(claims) = result {
            let payload = payload_of(token).expect("an accepted token has a payload");
            if let Err(why) = reference::token_allowed(&payload, policy, NOW) {
                panic!("verifier accepted what the reference model refuses: {why}");
            }
            if let Err(why) = reference::claims_match(&claims, &payload) {
                panic!("verifier returned other claims than the payload's: {why}");
            }
        }
    }
});
