//! Target bodies that regression tests replay as well, so a saved input is checked exactly as
//! the fuzzer checked it.

use ci_oidc::SecretString;

use crate::jwt::{NOW, header_json, policies, sign, verifier};
use crate::{exec, reference};

/// `jwt_claims`: one byte choosing the policy, then the payload, signed with the fixed key.
///
/// Two oracles: an accepted token must pass the reference model with the payload's own claims;
/// and for a canonical payload (one that serde_json writes back byte for byte, so no duplicate
/// keys or number spellings the model reads differently) the verifier and the model must agree
/// both ways, so over-strictness (valid tokens refused) is caught too.
pub fn jwt_claims(data: &[u8]) {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    let policies = policies();
    let policy = &policies[usize::from(selector) % policies.len()];
    let token = SecretString::new(sign(header_json().as_bytes(), payload));
    let result = exec::run(verifier().verify_at(&token, policy, NOW));
    let model = reference::token_allowed(payload, policy, NOW);
    match (&result, &model) {
        (Ok(claims), Ok(())) => {
            if let Err(why) = reference::claims_match(claims, payload) {
                panic!("verifier returned other claims than the payload's: {why}");
            }
        }
        (Ok(_), Err(why)) => panic!("verifier accepted what the reference model refuses: {why}"),
        (Err(rejection), Ok(())) if canonical(payload) => {
            panic!("verifier refused a token the reference model accepts: {rejection}")
        }
        _ => {}
    }
}

fn canonical(payload: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| serde_json::to_vec(&v).ok())
        .is_some_and(|written| written == payload)
}
