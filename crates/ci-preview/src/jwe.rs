//! Shape check for the flag-override cookie: a compact JWE the Flags SDK can decrypt.
//!
//! The client cannot decrypt it (the secret stays on the preview, which is the point), but it can
//! check everything visible: five base64url segments, a protected header of `alg: dir` and
//! `enc: A256GCM` with no `zip`/`crit`, an empty key segment, a 12-byte IV, a 16-byte tag and a
//! size a browser keeps. Messages never include the cookie itself.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// Browsers keep about 4096 bytes of name plus value per cookie.
pub(crate) const MAX_COOKIE_BYTES: usize = 4096;

pub(crate) fn check(cookie: &str) -> Result<(), String> {
    if cookie.is_empty() {
        return Err("the cookie is empty".to_owned());
    }
    if cookie.len() > MAX_COOKIE_BYTES {
        return Err(format!(
            "the cookie is {} bytes, over the {MAX_COOKIE_BYTES} browsers keep",
            cookie.len()
        ));
    }
    if !cookie
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err("the cookie has characters outside base64url and '.'".to_owned());
    }
    let segments: Vec<&str> = cookie.split('.').collect();
    let [header, key, iv, ciphertext, tag] = segments[..] else {
        return Err(format!(
            "the cookie has {} segments; a compact JWE has 5",
            segments.len()
        ));
    };
    let header_json = decode("protected header", header)?;
    let header: Value = serde_json::from_slice(&header_json)
        .map_err(|_| "the protected header is not JSON".to_owned())?;
    let (alg, enc) = (header["alg"].as_str(), header["enc"].as_str());
    if alg != Some("dir") || enc != Some("A256GCM") {
        return Err(format!(
            "the protected header says alg {} / enc {}; expected dir / A256GCM",
            alg.unwrap_or("(none)"),
            enc.unwrap_or("(none)")
        ));
    }
    if header.get("zip").is_some() || header.get("crit").is_some() {
        return Err("the protected header has zip or crit, which the Flags SDK rejects".to_owned());
    }
    if !key.is_empty() {
        return Err("the encrypted-key segment must be empty with alg dir".to_owned());
    }
    let iv_len = decode("IV", iv)?.len();
    if iv_len != 12 {
        return Err(format!("the IV is {iv_len} bytes; A256GCM uses 12"));
    }
    if decode("ciphertext", ciphertext)?.is_empty() {
        return Err("the ciphertext is empty".to_owned());
    }
    let tag_len = decode("tag", tag)?.len();
    if tag_len != 16 {
        return Err(format!("the tag is {tag_len} bytes; A256GCM uses 16"));
    }
    Ok(())
}

fn decode(what: &str, segment: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| format!("the {what} segment is not unpadded base64url"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0";

    fn token(header: &str, key: &str, iv_len: usize, tag_len: usize) -> String {
        let b = |n: usize| URL_SAFE_NO_PAD.encode(vec![7u8; n]);
        format!("{header}.{key}.{}.{}.{}", b(iv_len), b(40), b(tag_len))
    }

    #[test]
    fn accepts_the_flags_sdk_shape() {
        assert_eq!(check(&token(HEADER, "", 12, 16)), Ok(()));
    }

    #[test]
    fn rejects_everything_else() {
        let other_alg = URL_SAFE_NO_PAD.encode(br#"{"alg":"A256KW","enc":"A256GCM"}"#);
        let zipped = URL_SAFE_NO_PAD.encode(br#"{"alg":"dir","enc":"A256GCM","zip":"DEF"}"#);
        let cases = [
            (String::new(), "empty"),
            ("a.b.c".to_owned(), "5"),
            (token(&other_alg, "", 12, 16), "A256KW"),
            (token(&zipped, "", 12, 16), "zip"),
            (token(HEADER, "abcd", 12, 16), "encrypted-key"),
            (token(HEADER, "", 16, 16), "IV"),
            (token(HEADER, "", 12, 8), "tag"),
            (format!("{}=", token(HEADER, "", 12, 16)), "base64url"),
            ("x".repeat(5000), "4096"),
        ];
        for (cookie, expected) in cases {
            let err = check(&cookie).unwrap_err();
            assert!(err.contains(expected), "{err} should mention {expected}");
        }
    }
}
