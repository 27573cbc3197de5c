//! TLS for `rediss://` key-value stores (hosted Redis services require it).
//!
//! The server is verified against the Mozilla root set compiled into the binary
//! (`webpki-root-certs`), like the issuer's keys are fetched, so a `FROM scratch` image with no
//! CA store still works; a private CA (a self-hosted Redis, some managed services) is added with a
//! PEM file (`CI_PREVIEW_REDIS_CA_FILE` for the replay store). Verification is never turned off: the `#insecure` URL
//! fragment the client library knows is refused at connection time, as this build does not
//! enable the library's insecure mode.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use redis::TlsCertificates;

use super::KvError;

/// Whether `url` asks for TLS (`rediss://` or `valkeys://`).
pub(super) fn wants_tls(url: &str) -> bool {
    url::Url::parse(url.trim()).is_ok_and(|u| matches!(u.scheme(), "rediss" | "valkeys"))
}

/// The trust anchors for a TLS store: the embedded Mozilla roots plus `extra_ca_pem`, which
/// must hold at least one PEM certificate when given.
pub(super) fn certificates(extra_ca_pem: Option<&[u8]>) -> Result<TlsCertificates, KvError> {
    // The client library builds its TLS configuration with rustls' process-wide provider.
    ci_oidc::install_crypto_provider();
    let mut bundle = String::new();
    for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        push_pem(&mut bundle, der.as_ref());
    }
    let mut pem = bundle.into_bytes();
    if let Some(extra) = extra_ca_pem {
        let text = String::from_utf8_lossy(extra);
        if !text.contains("-----BEGIN CERTIFICATE-----") {
            return Err(KvError::Config(
                "the Redis CA file holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
                    .to_owned(),
            ));
        }
        pem.push(b'\n');
        pem.extend_from_slice(extra);
    }
    Ok(TlsCertificates {
        client_tls: None,
        root_cert: Some(pem),
    })
}

fn push_pem(out: &mut String, der: &[u8]) {
    out.push_str("-----BEGIN CERTIFICATE-----\n");
    let encoded = STANDARD.encode(der);
    for line in encoded.as_bytes().chunks(64) {
        // Base64 output is ASCII.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_is_asked_by_scheme() {
        assert!(wants_tls("rediss://h:6380/0"));
        assert!(wants_tls(" valkeys://h/"));
        assert!(!wants_tls("redis://h/"));
        assert!(!wants_tls("redis+unix:///run/redis.sock"));
        assert!(!wants_tls("not a url"));
    }

    #[test]
    fn bundle_holds_every_embedded_root_and_the_extra_ca() {
        let TlsCertificates { root_cert, .. } = certificates(None).unwrap();
        let pem = String::from_utf8(root_cert.unwrap()).unwrap();
        let count = pem.matches("-----BEGIN CERTIFICATE-----").count();
        assert_eq!(count, webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
        assert!(count > 100);

        let extra = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let TlsCertificates { root_cert, .. } = certificates(Some(extra)).unwrap();
        let pem = String::from_utf8(root_cert.unwrap()).unwrap();
        assert_eq!(
            pem.matches("-----BEGIN CERTIFICATE-----").count(),
            count + 1
        );

        assert!(matches!(
            certificates(Some(b"not pem")),
            Err(KvError::Config(_))
        ));
    }
}
