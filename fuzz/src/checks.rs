//! Target bodies that regression tests replay as well, so a saved input is checked exactly as
//! the fuzzer checked it.

use ci_oidc::{EndpointPolicy, GitHubClaims, Rejection, SecretString};

use crate::jwt::{at_one_second, header_json, policies, rebase, sign, verifier};
use crate::{exec, reference};

/// `jwt_claims`: one byte choosing the policy, then the payload (its times rebased onto the
/// clock, see [`rebase`]), signed with the fixed key.
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
    let (payload, result, model) = signed_claims(payload, policy);
    let payload = payload.as_slice();
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

/// The verdicts of the verifier and of the model on `payload` rebased onto the current second
/// and signed with the fixed key; returns the rebased payload too.
pub fn signed_claims(
    payload: &[u8],
    policy: &EndpointPolicy,
) -> (Vec<u8>, Result<GitHubClaims, Rejection>, Result<(), String>) {
    at_one_second(|now| {
        let payload = rebase(payload, now);
        let token = SecretString::new(sign(header_json().as_bytes(), &payload));
        let result = exec::run(verifier().verify(&token, policy));
        let model = reference::token_allowed(&payload, policy, now);
        (payload, result, model)
    })
}
