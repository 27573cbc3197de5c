//! The claims behind the signature: arbitrary payload bytes, signed with the fixed key, so every
//! input gets past the RS256 check that shields the claims parser and the policy checks from
//! `jwt_token`'s mutations. Input: one byte choosing the policy, then the payload. The checks
//! are in `fuzz_support::checks::jwt_claims`, shared with the regression tests.
//!
//! Slow by nature (~0.5 ms of RSA signing per input); run it for time, not for a count.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzz_support::checks::jwt_claims(data));
