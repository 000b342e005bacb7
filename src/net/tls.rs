//! TLS set-up shared by every client stet runs (fetching, alerts, witnesses, S3): rustls with
//! the ring crypto provider, installed once per process. Never opens a connection itself.

/// rustls needs one process-wide crypto provider; ring builds quickly and is well proven.
/// Safe to call any number of times.
pub fn install_crypto_provider() {
    // Fails only when a provider is already installed, which is what we want anyway.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
