//! The signing key and its algorithm, read from the preview's environment at start-up.
//!
//! The algorithm is named, never guessed from the key: the app that verifies the tokens pins one,
//! and a key that does not fit it (an EC key for `RS256`, a PEM block for `HS256`, a public key
//! pasted where the private one belongs) stops start-up with a message that says what was found
//! and how to make the right one. Every key is tried once at start-up by signing a probe, so a key
//! the crypto library would refuse fails there and not on the first CI call.
//!
//! Accepted shapes: `HS256` takes the secret's text as its bytes (what Supabase, Hasura and most
//! `jose`/`jsonwebtoken` apps do), at least 32 of them (RFC 7518 §3.2); the others take a PEM
//! private key: PKCS#8 (`-----BEGIN PRIVATE KEY-----`, what `openssl genpkey` writes), or the
//! older PKCS#1 (`RSA PRIVATE KEY`) and SEC1 (`EC PRIVATE KEY`) forms. A PEM stored on one line
//! with literal `\n` (some secret stores flatten it) is accepted too.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use zeroize::Zeroizing;

/// The environment variable holding the signing key (`HS256` secret or PEM private key).
pub const KEY_VAR: &str = "TOKENS_MINT_KEY";
/// The environment variable naming the algorithm: `HS256`, `RS256`, `ES256` or `EdDSA`.
pub const ALGORITHM_VAR: &str = "TOKENS_MINT_ALGORITHM";

/// The shortest `HS256` secret accepted: the hash's size (RFC 7518 §3.2).
pub const MIN_HS256_SECRET_LEN: usize = 32;

/// The algorithms the endpoint signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MintAlgorithm {
    /// HMAC with SHA-256 and a shared secret.
    Hs256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, RSA key of 2048 bits or more.
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
}

impl MintAlgorithm {
    /// The JOSE name (`alg` header).
    pub fn as_str(self) -> &'static str {
        match self {
            MintAlgorithm::Hs256 => "HS256",
            MintAlgorithm::Rs256 => "RS256",
            MintAlgorithm::Es256 => "ES256",
            MintAlgorithm::EdDsa => "EdDSA",
        }
    }

    /// The algorithm [`ALGORITHM_VAR`] names in this process's environment; `None` when it is
    /// unset or names none (the key is then refused at start-up, saying so).
    pub fn from_env() -> Option<MintAlgorithm> {
        std::env::var(ALGORITHM_VAR).ok()?.parse().ok()
    }

    /// The start-up parser of [`KEY_VAR`] for `algorithm` (the kit takes a plain `fn`); without
    /// an algorithm, one that refuses any key: a key's algorithm is named, never guessed.
    pub fn key_parser(algorithm: Option<MintAlgorithm>) -> fn(&str) -> Result<MintKey, String> {
        match algorithm {
            Some(MintAlgorithm::Hs256) => |text| MintKey::parse(MintAlgorithm::Hs256, text),
            Some(MintAlgorithm::Rs256) => |text| MintKey::parse(MintAlgorithm::Rs256, text),
            Some(MintAlgorithm::Es256) => |text| MintKey::parse(MintAlgorithm::Es256, text),
            Some(MintAlgorithm::EdDsa) => |text| MintKey::parse(MintAlgorithm::EdDsa, text),
            None => MintKey::refuse_without_algorithm,
        }
    }

    fn jwt(self) -> Algorithm {
        match self {
            MintAlgorithm::Hs256 => Algorithm::HS256,
            MintAlgorithm::Rs256 => Algorithm::RS256,
            MintAlgorithm::Es256 => Algorithm::ES256,
            MintAlgorithm::EdDsa => Algorithm::EdDSA,
        }
    }
}

impl FromStr for MintAlgorithm {
    type Err = String;

    /// The JOSE names, exactly (`EdDSA` also as `EDDSA`); anything else names the choices.
    fn from_str(text: &str) -> Result<MintAlgorithm, String> {
        match text.trim() {
            "HS256" => Ok(MintAlgorithm::Hs256),
            "RS256" => Ok(MintAlgorithm::Rs256),
            "ES256" => Ok(MintAlgorithm::Es256),
            "EdDSA" | "EDDSA" => Ok(MintAlgorithm::EdDsa),
            other => Err(format!(
                "{other:?} is not an algorithm this endpoint signs with: use HS256, RS256, ES256 or EdDSA \
                 (the one the app that verifies the tokens expects)"
            )),
        }
    }
}

impl fmt::Display for MintAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed signing key. `Debug` names the algorithm only.
pub struct MintKey {
    algorithm: MintAlgorithm,
    key: EncodingKey,
}

impl fmt::Debug for MintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MintKey({}, [redacted])", self.algorithm)
    }
}

impl MintKey {
    /// Parses `text` (the value of [`KEY_VAR`]) as a key for `algorithm` and signs a probe with
    /// it. The error says what is wrong and how to make a good key; it never contains the key.
    pub fn parse(algorithm: MintAlgorithm, text: &str) -> Result<MintKey, String> {
        let key = match algorithm {
            MintAlgorithm::Hs256 => hs256(text)?,
            MintAlgorithm::Rs256 => rs256(&pem(text, algorithm)?)?,
            MintAlgorithm::Es256 => es256(&pem(text, algorithm)?)?,
            MintAlgorithm::EdDsa => eddsa(&pem(text, algorithm)?)?,
        };
        let key = MintKey { algorithm, key };
        key.sign(&serde_json::json!({ "probe": true }), None)
            .map_err(|_| format!("is not a usable {algorithm} signing key"))?;
        Ok(key)
    }

    fn refuse_without_algorithm(_: &str) -> Result<MintKey, String> {
        let found = std::env::var(ALGORITHM_VAR).unwrap_or_default();
        Err(format!(
            "is set but {ALGORITHM_VAR} is {}: name the algorithm the app verifies the tokens \
             with: HS256, RS256, ES256 or EdDSA",
            if found.trim().is_empty() {
                "not".to_owned()
            } else {
                format!("{:?}, not one of them", found.trim())
            }
        ))
    }

    /// The algorithm the key signs with.
    pub fn algorithm(&self) -> MintAlgorithm {
        self.algorithm
    }

    /// Signs `claims` as a compact JWS (`typ: JWT`, `kid` when given).
    pub fn sign(&self, claims: &serde_json::Value, kid: Option<&str>) -> Result<String, String> {
        let mut header = Header::new(self.algorithm.jwt());
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &self.key).map_err(|e| e.to_string())
    }
}

fn hs256(text: &str) -> Result<EncodingKey, String> {
    let secret = text.trim();
    if secret.starts_with("-----BEGIN") {
        return Err(
            "holds a PEM block but the algorithm is HS256: set TOKENS_MINT_ALGORITHM to \
             RS256, ES256 or EdDSA for a private key, or give the HS256 secret itself"
                .to_owned(),
        );
    }
    if secret.len() < MIN_HS256_SECRET_LEN {
        return Err(format!(
            "is {} bytes long; an HS256 secret needs at least {MIN_HS256_SECRET_LEN}: use the \
             app's own JWT secret, or generate one with `openssl rand -base64 48`",
            secret.len()
        ));
    }
    EncodingKey::from_secret(secret.as_bytes()).map_err(|e| e.to_string())
}

/// A PEM block: its label and DER contents.
struct Pem {
    label: String,
    der: Zeroizing<Vec<u8>>,
}

fn pem(text: &str, algorithm: MintAlgorithm) -> Result<Pem, String> {
    let how = match algorithm {
        MintAlgorithm::Rs256 => "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048",
        MintAlgorithm::Es256 => "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256",
        _ => "openssl genpkey -algorithm ED25519",
    };
    let text = Zeroizing::new(text.trim().replace("\\n", "\n"));
    let not_pem = || format!("is not a PEM private key for {algorithm}: make one with `{how}`");
    let rest = text.strip_prefix("-----BEGIN ").ok_or_else(not_pem)?;
    let (label, body) = rest.split_once("-----").ok_or_else(not_pem)?;
    let end = format!("-----END {label}-----");
    let body = body.strip_suffix(end.as_str()).ok_or_else(not_pem)?;
    if label.contains("PUBLIC KEY") || label == "CERTIFICATE" {
        return Err(format!(
            "holds a {label}, which only verifies: the endpoint needs the private key ({how})"
        ));
    }
    let b64: Zeroizing<String> = Zeroizing::new(body.split_whitespace().collect());
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|_| not_pem())?;
    Ok(Pem {
        label: label.to_owned(),
        der: Zeroizing::new(der),
    })
}

fn wrong_kind(pem: &Pem, algorithm: MintAlgorithm) -> String {
    format!(
        "holds a {} that is not a {algorithm} key; check TOKENS_MINT_ALGORITHM against the key",
        pem.label
    )
}

fn rs256(pem: &Pem) -> Result<EncodingKey, String> {
    // jsonwebtoken signs RSA from PKCS#1: unwrap a PKCS#8 document to the RSAPrivateKey inside.
    let pkcs1 = match pem.label.as_str() {
        "RSA PRIVATE KEY" => pem.der.to_vec(),
        "PRIVATE KEY" => {
            RsaKeyPair::from_pkcs8(&pem.der).map_err(|_| wrong_kind(pem, MintAlgorithm::Rs256))?;
            pkcs8_private_key(&pem.der).ok_or_else(|| wrong_kind(pem, MintAlgorithm::Rs256))?
        }
        _ => return Err(wrong_kind(pem, MintAlgorithm::Rs256)),
    };
    let pair = RsaKeyPair::from_der(&pkcs1).map_err(|e| {
        format!("is not an RSA private key of 2048 to 8192 bits ({e}); make one with `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`")
    })?;
    drop(pair);
    let key = EncodingKey::from_rsa_der(&pkcs1);
    drop(Zeroizing::new(pkcs1));
    Ok(key)
}

fn es256(pem: &Pem) -> Result<EncodingKey, String> {
    if !matches!(pem.label.as_str(), "PRIVATE KEY" | "EC PRIVATE KEY") {
        return Err(wrong_kind(pem, MintAlgorithm::Es256));
    }
    let pair =
        EcdsaKeyPair::from_private_key_der(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &pem.der)
            .map_err(|_| {
            format!(
                "{} (ES256 needs a P-256 key)",
                wrong_kind(pem, MintAlgorithm::Es256)
            )
        })?;
    let pkcs8 = pair
        .to_pkcs8v1()
        .map_err(|_| wrong_kind(pem, MintAlgorithm::Es256))?;
    Ok(EncodingKey::from_ec_der(pkcs8.as_ref()))
}

fn eddsa(pem: &Pem) -> Result<EncodingKey, String> {
    if pem.label != "PRIVATE KEY" {
        return Err(wrong_kind(pem, MintAlgorithm::EdDsa));
    }
    Ed25519KeyPair::from_pkcs8(&pem.der).map_err(|_| wrong_kind(pem, MintAlgorithm::EdDsa))?;
    Ok(EncodingKey::from_ed_der(&pem.der))
}

/// The `privateKey` OCTET STRING of a PKCS#8 `PrivateKeyInfo` (RFC 5208):
/// `SEQUENCE { INTEGER version, SEQUENCE algorithm, OCTET STRING privateKey, … }`.
fn pkcs8_private_key(der: &[u8]) -> Option<Vec<u8>> {
    let (tag, info, _) = der_element(der)?;
    if tag != 0x30 {
        return None;
    }
    let (0x02, _, rest) = der_element(info)? else {
        return None;
    };
    let (0x30, _, rest) = der_element(rest)? else {
        return None;
    };
    let (0x04, key, _) = der_element(rest)? else {
        return None;
    };
    Some(key.to_vec())
}

/// One DER element: its tag, contents and what follows it (definite lengths up to 4 bytes).
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[count..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names() {
        for (text, alg) in [
            ("HS256", MintAlgorithm::Hs256),
            ("RS256", MintAlgorithm::Rs256),
            (" ES256\n", MintAlgorithm::Es256),
            ("EdDSA", MintAlgorithm::EdDsa),
        ] {
            assert_eq!(text.parse::<MintAlgorithm>(), Ok(alg));
        }
        for bad in ["hs256", "none", "RS512", "PS256", ""] {
            let error = bad.parse::<MintAlgorithm>().unwrap_err();
            assert!(error.contains("HS256, RS256, ES256 or EdDSA"), "{error}");
        }
    }

    #[test]
    fn hs256_secrets_are_long_and_not_pem() {
        let short = MintKey::parse(MintAlgorithm::Hs256, "too-short").unwrap_err();
        assert!(
            short.contains("9 bytes") && short.contains("openssl rand"),
            "{short}"
        );
        let pem = MintKey::parse(
            MintAlgorithm::Hs256,
            "-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----",
        )
        .unwrap_err();
        assert!(pem.contains("PEM block"), "{pem}");
        let key = MintKey::parse(MintAlgorithm::Hs256, &"s".repeat(32)).expect("32 bytes");
        assert_eq!(key.algorithm(), MintAlgorithm::Hs256);
        assert_eq!(format!("{key:?}"), "MintKey(HS256, [redacted])");
    }

    #[test]
    fn pem_errors_never_hold_the_key() {
        let garbage =
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LW1hdGVyaWFs\n-----END PRIVATE KEY-----";
        for alg in [
            MintAlgorithm::Rs256,
            MintAlgorithm::Es256,
            MintAlgorithm::EdDsa,
        ] {
            let error = MintKey::parse(alg, garbage).unwrap_err();
            assert!(!error.contains("c2VjcmV0"), "{error}");
            let error = MintKey::parse(alg, "not a pem").unwrap_err();
            assert!(error.contains("openssl genpkey"), "{error}");
        }
        let public = "-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----";
        let error = MintKey::parse(MintAlgorithm::Rs256, public).unwrap_err();
        assert!(error.contains("only verifies"), "{error}");
    }

    #[test]
    fn der_walk_refuses_truncation() {
        assert_eq!(der_element(&[0x30, 0x03, 1, 2]), None);
        assert_eq!(
            der_element(&[0x04, 0x81, 0x01, 9]),
            Some((0x04, &[9u8][..], &[][..]))
        );
        assert_eq!(pkcs8_private_key(&[0x30, 0x00]), None);
    }
}
