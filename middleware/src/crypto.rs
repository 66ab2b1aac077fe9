//! The crypto backend: aws-lc-rs (feature `aws-lc`, the default) or ring with RustCrypto (feature
//! `ring`). Everything in this crate that does TLS or checks a signature asks this module, so that
//! one choice holds for the AWS SDK's HTTP client, the JWKS fetches and JWT verification, and a
//! build with both features still picks one (aws-lc-rs) instead of failing at run time.

#[cfg(all(
    any(feature = "auth", feature = "init"),
    not(any(feature = "aws-lc", feature = "ring"))
))]
compile_error!(
    "lamina-middleware's `auth` and `init` features need a crypto backend: enable `aws-lc` (a default \
     feature) or `ring`"
);

/// The rustls crypto provider of the chosen backend, for HTTPS clients of a function's own (the JWKS
/// client uses it): with both backends in a build, rustls has no process default, and a
/// `ClientConfig` built without naming one panics.
#[cfg(feature = "auth")]
#[must_use]
pub fn rustls_provider() -> rustls::crypto::CryptoProvider {
    #[cfg(feature = "aws-lc")]
    {
        rustls::crypto::aws_lc_rs::default_provider()
    }
    #[cfg(not(feature = "aws-lc"))]
    {
        rustls::crypto::ring::default_provider()
    }
}

/// Makes sure `jsonwebtoken` has a process-wide crypto provider before anything signs or verifies.
///
/// With one backend compiled in, `jsonwebtoken` finds it by itself and this does nothing. With
/// both (aws-lc-rs asked for by one crate of the build, RustCrypto by another) it has none and
/// would panic on the first signature: this installs the one this crate uses. Call it before using
/// `jsonwebtoken` directly (to sign test tokens, say) in a build that may have both; the verifier
/// and the key parsers call it themselves. A provider installed earlier by anyone is kept.
#[cfg(feature = "auth")]
pub fn ensure_jwt_provider() {
    use jsonwebtoken::crypto::CryptoProvider;
    if CryptoProvider::try_get_default().is_some() {
        return;
    }
    #[cfg(feature = "aws-lc")]
    let provider = &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
    #[cfg(not(feature = "aws-lc"))]
    let provider = &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
    // Another thread may have installed one in between: theirs is kept, which is as good.
    let _ = provider.install_default();
}

#[cfg(all(test, feature = "auth"))]
mod tests {
    use super::*;

    #[test]
    fn jsonwebtoken_has_a_provider_afterwards() {
        ensure_jwt_provider();
        assert!(jsonwebtoken::crypto::CryptoProvider::try_get_default().is_some());
    }

    #[test]
    fn the_rustls_provider_offers_tls13() {
        let provider = rustls_provider();
        assert!(!provider.cipher_suites.is_empty());
        let config = rustls::ClientConfig::builder_with_provider(provider.into())
            .with_safe_default_protocol_versions();
        assert!(config.is_ok(), "{config:?}");
    }
}
