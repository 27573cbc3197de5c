//! The test CA and the preview host's certificate the emulated edge serves.
//!
//! A fresh CA per run, so nothing it signed outlives the run or is trusted anywhere else. The
//! client and the function trust it through `SSL_CERT_FILE` (rustls' platform verifier reads it on
//! Linux), the browser through `--ignore-certificate-errors-spki-list` naming the leaf's key, which
//! Chromium honours as a trusted certificate: the page is a secure context with no interstitial, so
//! `Secure` cookies behave as on a real preview.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::flags::{Result, failed};

/// The CA (PEM, for `SSL_CERT_FILE`) and the edge's TLS configuration.
pub(super) struct TestTls {
    /// Where the CA certificate is written.
    pub ca_file: PathBuf,
    /// Where the leaf certificate is written (the browser pins its key).
    pub leaf_file: PathBuf,
    pub server_config: Arc<rustls::ServerConfig>,
}

impl TestTls {
    /// A CA and a certificate for `host` signed by it, written to `dir`.
    pub(super) fn create(host: &str, dir: &Path) -> Result<TestTls> {
        let tls = |e: &dyn std::fmt::Display| failed(format!("test certificates: {e}"));
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(|e| tls(&e))?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "ci-in-preview e2e test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().map_err(|e| tls(&e))?;
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(|e| tls(&e))?;

        let leaf_key = KeyPair::generate().map_err(|e| tls(&e))?;
        let mut leaf_params = CertificateParams::new(vec![host.to_owned()]).map_err(|e| tls(&e))?;
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, host);
        let leaf = leaf_params.signed_by(&leaf_key, &ca).map_err(|e| tls(&e))?;

        let ca_file = dir.join("e2e-ca.pem");
        let leaf_file = dir.join("e2e-leaf.pem");
        std::fs::write(&ca_file, ca.pem()).map_err(|e| tls(&e))?;
        std::fs::write(&leaf_file, leaf.pem()).map_err(|e| tls(&e))?;

        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let chain = vec![leaf.der().clone(), CertificateDer::from(ca.der().to_vec())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls(&e))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| tls(&e))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TestTls {
            ca_file,
            leaf_file,
            server_config: Arc::new(config),
        })
    }
}
