//! TLS to the sources' servers (LDAP, PostgreSQL): rustls with ring, the one TLS
//! stack of the program, trusting the CA file a configuration gives.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// The certificates of a PEM CA file; `Err` says what is wrong with the file.
pub fn roots_from(ca: &Path) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca)
        .map_err(|e| format!("cannot read the CA file {}: {e}", ca.display()))?;
    for c in certs {
        let c = c.map_err(|e| format!("invalid certificate in {}: {e}", ca.display()))?;
        roots
            .add(c)
            .map_err(|e| format!("unusable certificate in {}: {e}", ca.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("no certificate in the CA file {}", ca.display()));
    }
    Ok(roots)
}

/// A client configuration trusting `roots`.
pub fn client(roots: rustls::RootCertStore) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
