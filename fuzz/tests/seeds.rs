//! Keeps the seed corpora and the saved findings honest: the GitHub-shaped seeds must still be accepted with the fixed
//! key, their times rebased onto the clock (or the claims targets would quietly fuzz nothing but refusals), and the
//! reference models must agree with the real code on them.

use fuzz_support::checks::signed_claims;
use fuzz_support::jwt::{NOW, payload_of, policies};
use fuzz_support::{cookie, reference};

fn seed(target: &str, name: &str) -> Vec<u8> {
    let path = format!("{}/corpus/{target}/seed-{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn github_shaped_seeds_are_accepted() {
    // (seed, policies that must accept it): each policy has a seed that reaches its end.
    let cases: [(&str, &[usize]); 4] = [
        ("pull-request", &[0, 1, 2]),
        ("push-main", &[0, 1, 2]),
        ("reusable-by-sha", &[0, 1, 2]),
        ("reusable", &[0, 1, 3]),
    ];
    for (name, accepting) in cases {
        let token = String::from_utf8(seed("jwt_token", name)).unwrap();
        let payload = payload_of(&token).unwrap();
        for &i in accepting {
            let policy = &policies()[i];
            // Rebased onto the clock and signed again, as `jwt_claims` does.
            let (payload, claims, model) = signed_claims(&payload, policy);
            let claims = claims.unwrap_or_else(|r| panic!("{name}, policy {i}: {r}"));
            model.unwrap();
            reference::claims_match(&claims, &payload).unwrap();
        }
    }
}

#[test]
fn refused_seeds_are_refused_by_both() {
    for name in [
        "expired",
        "wrong-aud",
        "aud-list",
        "wrong-repo",
        "exp-string",
        "pr-target",
    ] {
        let token = String::from_utf8(seed("jwt_token", name)).unwrap();
        let payload = payload_of(&token).unwrap();
        let policy = &policies()[0];
        let (_, result, model) = signed_claims(&payload, policy);
        assert!(result.is_err(), "{name} accepted");
        assert!(model.is_err(), "{name}: model accepts");
    }
}

#[test]
fn cookie_seed_decrypts_to_the_model_value() {
    let input = seed("cookie_claims", "canonical-h0");
    let (iv, plaintext) = input[1..].split_at(12);
    let token = cookie::seal(cookie::HEADER_B64, iv.try_into().unwrap(), plaintext);
    let got = encrypt_override::decrypt_overrides(&token, cookie::secret(), NOW);
    assert!(got.is_some());
    assert_eq!(got, reference::cookie_overrides(plaintext, NOW));
}

/// Every saved finding (`regressions/TARGET/*`) passes its target's checks now.
#[test]
fn saved_findings_pass() {
    let dir = format!("{}/regressions/jwt_claims", env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let input = std::fs::read(entry.unwrap().path()).unwrap();
        fuzz_support::checks::jwt_claims(&input);
        seen += 1;
    }
    assert!(seen > 0, "no saved findings under {dir}");
}
