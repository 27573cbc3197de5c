//! The HTTP client that fetches the issuer's keys. It trusts the Mozilla root set compiled into
//! the binary (`webpki-root-certs`) rather than the system store, so a `FROM scratch` image with
//! no CA bundle can still reach `token.actions.githubusercontent.com`.

use std::time::Duration;

/// Bound on one discovery or JWKS request.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn jwks_client() -> Result<reqwest::Client, String> {
    let roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .filter_map(|der| reqwest::Certificate::from_der(der.as_ref()).ok());
    ci_oidc::install_crypto_provider();
    reqwest::Client::builder()
        .user_agent(concat!("ci-preview-server/", env!("CARGO_PKG_VERSION")))
        // Keys come only from the URLs in the reviewed policy, never from wherever a redirect points.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(FETCH_TIMEOUT)
        .timeout(FETCH_TIMEOUT)
        .tls_certs_only(roots)
        .build()
        .map_err(|e| format!("cannot build the HTTP client for the issuer's keys: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn client_builds_with_embedded_roots() {
        assert!(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() > 100);
        super::jwks_client().unwrap();
    }
}
