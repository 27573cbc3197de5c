//! The OIDC token as the server receives it: arbitrary bytes in `x-github-oidc-token`, verified
//! against the fixed key set, each policy and the system clock. The verifier must never panic,
//! and anything it accepts must pass the reference model with the payload's own claims.
//!
//! Seeded with GitHub-shaped tokens signed by the fixed key (`examples/gen_seeds.rs`), so the
//! mutator starts from inputs that reach the signature and claims code, not just the splitter.
//! Their times are the corpus epoch's (`jwt::NOW`), so they now stop at the time checks; the
//! claims behind the signature are `jwt_claims`' job, which rebases times onto the clock.
#![no_main]

use ci_oidc::SecretString;
use fuzz_support::jwt::{at_one_second, payload_of, policies, verifier};
use fuzz_support::{exec, reference};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let secret = SecretString::new(token);
    for policy in policies() {
        let (result, now) = at_one_second(|now| (exec::run(verifier().verify(&secret, policy)), now));
        if let Ok(claims) = result {
            let payload = payload_of(token).expect("an accepted token has a payload");
            if let Err(why) = reference::token_allowed(&payload, policy, now) {
                panic!("verifier accepted what the reference model refuses: {why}");
            }
            if let Err(why) = reference::claims_match(&claims, &payload) {
                panic!("verifier returned other claims than the payload's: {why}");
            }
        }
    }
});
