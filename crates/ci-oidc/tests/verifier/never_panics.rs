//! Property tests: arbitrary input never panics the verifier, and no single-byte change to a
//! valid token is ever accepted.

use crate::common::{AUD, policy, setup};
use ci_oidc::SecretString;
use proptest::prelude::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_are_refused(input in "\\PC{0,300}", dots in "[A-Za-z0-9_.-]{0,300}") {
        let rt = runtime();
        rt.block_on(async {
            let (_issuer, verifier) = setup().await;
            for s in [input, dots] {
                prop_assert!(verifier.verify(&SecretString::new(s), &policy()).await.is_err());
            }
            Ok(())
        })?;
    }

    #[test]
    fn single_byte_mutations_are_refused(pos in any::<prop::sample::Index>(), byte in 0x21u8..0x7f) {
        let rt = runtime();
        rt.block_on(async {
            let (issuer, verifier) = setup().await;
            let token = issuer.token(AUD).build();
            let mut bytes = token.clone().into_bytes();
            let i = pos.index(bytes.len());
            prop_assume!(bytes[i] != byte);
            bytes[i] = byte;
            let mutated = String::from_utf8(bytes).unwrap();
            let result = verifier.verify(&SecretString::new(mutated), &policy()).await;
            prop_assert!(result.is_err(), "mutation at {} accepted", i);
            Ok(())
        })?;
    }
}
