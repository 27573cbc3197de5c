//! The Trusted Sources rule of the emulated edge: a GitHub OIDC token in
//! `x-vercel-trusted-oidc-idp-token` passes when the mock issuer's key signed it (RS256) for the
//! rule's issuer and exactly its audience, and it has not expired. Checked on every request.

use std::sync::Arc;

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::unix_now;
use crate::MockIssuer;
use crate::keys::TestKey;

/// One project's rule: which issuer, which audience, which key.
#[derive(Debug)]
pub(super) struct Rule {
    issuer: String,
    audience: String,
    key: Arc<TestKey>,
}

impl Rule {
    pub(super) fn new(issuer: &MockIssuer, audience: &str) -> Rule {
        Rule {
            issuer: issuer.issuer_url(),
            audience: audience.to_owned(),
            key: issuer.signing_key(),
        }
    }

    /// `Ok` when the rule accepts `token`, else why not.
    pub(super) fn check(&self, token: &str) -> Result<(), String> {
        let rule = self;
        let mut parts = token.split('.');
        let (Some(head), Some(body), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("not a JWT".to_owned());
        };
        let decode = |s: &str| {
            URL_SAFE_NO_PAD
                .decode(s)
                .map_err(|_| "bad base64".to_owned())
        };
        let header: Value = serde_json::from_slice(&decode(head)?).map_err(|_| "bad header")?;
        if header["alg"] != "RS256" {
            return Err("not RS256".to_owned());
        }
        let key = RsaPublicKeyComponents {
            n: rule.key.modulus(),
            e: rule.key.exponent(),
        };
        key.verify(
            &RSA_PKCS1_2048_8192_SHA256,
            format!("{head}.{body}").as_bytes(),
            &decode(sig)?,
        )
        .map_err(|_| "bad signature".to_owned())?;
        let claims: Value = serde_json::from_slice(&decode(body)?).map_err(|_| "bad claims")?;
        if claims["iss"] != rule.issuer.as_str() {
            return Err("wrong issuer".to_owned());
        }
        if claims["aud"] != rule.audience.as_str() {
            return Err(format!("wrong audience {}", claims["aud"]));
        }
        if claims["exp"].as_u64().is_none_or(|exp| exp <= unix_now()) {
            return Err("expired".to_owned());
        }
        Ok(())
    }
}
