//! Signed, expiring local upload URLs: the embedded stand-in for S3 presigned PUTs.
//!
//! The signature is HMAC-SHA256 over `imageId\nexpires\ntype\nmax`, hex encoded; the query string
//! carries everything but the image id, which is the URL's path.
//!
//! ```
//! use udagram::upload_url::{sign, verify, UploadUrlError};
//!
//! let key = b"0123456789abcdef0123456789abcdef";
//! let id = "0b6f7c9e-3d1a-4f5e-9c2b-8a7d6e5f4c3b";
//! let query = sign(key, id, 1_000, "image/png", 1024);
//! let upload = verify(key, id, &query, 999).unwrap();
//! assert_eq!(upload.content_type, "image/png");
//! assert_eq!(upload.max_bytes, 1024);
//! assert_eq!(verify(key, id, &query, 1_001), Err(UploadUrlError::Expired));
//! ```

use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::Sha256;

use crate::form_encoding;

/// The longest query string [`verify`] reads; anything longer is malformed.
const MAX_QUERY_LEN: usize = 2048;

/// What a verified upload URL allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedUpload {
    /// The image the bytes belong to.
    pub image_id: String,
    /// When the URL stops working, in Unix seconds.
    pub expires_unix: u64,
    /// The content type the upload must declare.
    pub content_type: String,
    /// The most bytes the upload may carry.
    pub max_bytes: u64,
}

/// Why an upload URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UploadUrlError {
    /// The query string is not one this module makes (missing, repeated or unknown parameters,
    /// bad numbers or hex, control characters).
    #[error("malformed upload URL: {0}")]
    Malformed(&'static str),
    /// The signature does not match: the URL was altered or signed with another key.
    #[error("upload URL signature does not match")]
    BadSignature,
    /// The URL is genuine but its time is up.
    #[error("upload URL has expired")]
    Expired,
}

/// Signs an upload of `image_id` and returns the query string (without `?`):
/// `expires=…&type=…&max=…&sig=…`.
pub fn sign(
    key: &[u8],
    image_id: &str,
    expires_unix: u64,
    content_type: &str,
    max_bytes: u64,
) -> String {
    let sig = hex::encode(
        mac(key, image_id, expires_unix, content_type, max_bytes)
            .finalize()
            .into_bytes(),
    );
    format!(
        "expires={expires_unix}&type={}&max={max_bytes}&sig={sig}",
        utf8_percent_encode(content_type, QUERY_VALUE)
    )
}

/// Checks `query` (without `?`) for an upload of `image_id` at `now_unix`. The signature is
/// checked first, in constant time, so [`UploadUrlError::Expired`] is only said of genuine URLs.
pub fn verify(
    key: &[u8],
    image_id: &str,
    query: &str,
    now_unix: u64,
) -> Result<VerifiedUpload, UploadUrlError> {
    if query.len() > MAX_QUERY_LEN {
        return Err(UploadUrlError::Malformed("query too long"));
    }
    if !is_clean(image_id) {
        return Err(UploadUrlError::Malformed("image id has control characters"));
    }
    let (mut expires, mut kind, mut max, mut sig) = (None, None, None, None);
    for pair in query.split('&') {
        let (name, value) = pair
            .split_once('=')
            .ok_or(UploadUrlError::Malformed("parameter without a value"))?;
        let slot = match name {
            "expires" => &mut expires,
            "type" => &mut kind,
            "max" => &mut max,
            "sig" => &mut sig,
            _ => return Err(UploadUrlError::Malformed("unknown parameter")),
        };
        if slot.replace(value).is_some() {
            return Err(UploadUrlError::Malformed("repeated parameter"));
        }
    }
    let missing = UploadUrlError::Malformed("missing parameter");
    let expires_unix = parse_number(expires.ok_or(missing.clone())?)?;
    let max_bytes = parse_number(max.ok_or(missing.clone())?)?;
    let content_type = percent_decode(kind.ok_or(missing.clone())?)?;
    if content_type.is_empty() || !is_clean(&content_type) {
        return Err(UploadUrlError::Malformed("bad content type"));
    }
    let sig = hex_decode(sig.ok_or(missing)?)?;
    mac(key, image_id, expires_unix, &content_type, max_bytes)
        .verify_slice(&sig)
        .map_err(|_| UploadUrlError::BadSignature)?;
    if now_unix > expires_unix {
        return Err(UploadUrlError::Expired);
    }
    Ok(VerifiedUpload {
        image_id: image_id.to_owned(),
        expires_unix,
        content_type,
        max_bytes,
    })
}

fn mac(key: &[u8], image_id: &str, expires: u64, content_type: &str, max: u64) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this never fails; the fallback keeps library code free
    // of `expect` and still yields a MAC that matches nothing signed with the real key.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
    mac.update(format!("{image_id}\n{expires}\n{content_type}\n{max}").as_bytes());
    mac
}

/// No control characters: they would make the signed message ambiguous.
fn is_clean(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

fn parse_number(text: &str) -> Result<u64, UploadUrlError> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UploadUrlError::Malformed("not a number"));
    }
    text.parse()
        .map_err(|_| UploadUrlError::Malformed("not a number"))
}

/// The characters a content type keeps in the query: RFC 3986's unreserved ones.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn hex_decode(text: &str) -> Result<Vec<u8>, UploadUrlError> {
    if text.len() != 64 {
        return Err(UploadUrlError::Malformed("signature is not 64 hex digits"));
    }
    hex::decode(text).map_err(|_| UploadUrlError::Malformed("signature is not hex"))
}

fn percent_decode(text: &str) -> Result<String, UploadUrlError> {
    form_encoding::decode(text).ok_or(UploadUrlError::Malformed("bad percent encoding"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: &[u8] = b"k3y-k3y-k3y-k3y-k3y-k3y-k3y-k3y!";
    const ID: &str = "0b6f7c9e-3d1a-4f5e-9c2b-8a7d6e5f4c3b";

    fn query() -> String {
        sign(KEY, ID, 2_000, "image/jpeg", 10_485_760)
    }

    #[test]
    fn round_trip() {
        let q = query();
        assert!(
            q.starts_with("expires=2000&type=image%2Fjpeg&max=10485760&sig="),
            "{q}"
        );
        let got = verify(KEY, ID, &q, 2_000).unwrap();
        assert_eq!(
            got,
            VerifiedUpload {
                image_id: ID.into(),
                expires_unix: 2_000,
                content_type: "image/jpeg".into(),
                max_bytes: 10_485_760,
            }
        );
        // A lower-case escape is the same query.
        let lower = q.replace("%2F", "%2f");
        assert!(verify(KEY, ID, &lower, 0).is_ok());
    }

    #[test]
    fn expired() {
        assert_eq!(
            verify(KEY, ID, &query(), 2_001),
            Err(UploadUrlError::Expired)
        );
    }

    #[test]
    fn altered_parts_are_bad_signatures() {
        let q = query();
        let cases = [
            (ID.replace('0', "1"), q.clone()),
            (ID.to_owned(), q.replace("image%2Fjpeg", "image%2Fpng")),
            (ID.to_owned(), q.replace("max=10485760", "max=10485761")),
            (ID.to_owned(), q.replace("expires=2000", "expires=9999")),
            (ID.to_owned(), {
                let (head, sig) = q.split_at(q.len() - 1);
                format!("{head}{}", if sig == "0" { "1" } else { "0" })
            }),
        ];
        for (id, q) in cases {
            assert_eq!(
                verify(KEY, &id, &q, 0),
                Err(UploadUrlError::BadSignature),
                "{id} {q}"
            );
        }
        assert_eq!(
            verify(b"another key", ID, &q, 0),
            Err(UploadUrlError::BadSignature)
        );
    }

    #[test]
    fn malformed_queries() {
        let q = query();
        let sig = q.rsplit_once("sig=").unwrap().1.to_owned();
        let cases = [
            String::new(),
            "expires=2000".into(),
            format!("{q}&extra=1"),
            format!("{q}&sig={sig}"),
            q.replace("expires=2000", "expires=-1"),
            q.replace("expires=2000", "expires=99999999999999999999999"),
            q.replace("max=10485760", "max="),
            q.replace("max=10485760", "max"),
            q.replace(&sig, &sig[..10]),
            q.replace(&sig, &"zz".repeat(32)),
            q.replace("image%2Fjpeg", "image%ZZjpeg"),
            q.replace("image%2Fjpeg", "image%2"),
            q.replace("image%2Fjpeg", "image%0Ajpeg"),
            q.replace("image%2Fjpeg", "%FF%FE"),
            q.replace("image%2Fjpeg", ""),
            "a".repeat(MAX_QUERY_LEN + 1),
        ];
        for case in cases {
            assert!(
                matches!(verify(KEY, ID, &case, 0), Err(UploadUrlError::Malformed(_))),
                "{case}"
            );
        }
        assert!(matches!(
            verify(KEY, "a\nb", &q, 0),
            Err(UploadUrlError::Malformed(_))
        ));
    }

    #[test]
    fn odd_content_types_round_trip() {
        for kind in ["image/svg+xml", "text/plain; charset=utf-8", "a&b=c", "ünï"] {
            let q = sign(KEY, ID, 5, kind, 1);
            assert_eq!(verify(KEY, ID, &q, 5).unwrap().content_type, kind);
        }
    }

    proptest! {
        #[test]
        fn verify_never_panics(query in ".{0,300}", id in ".{0,40}", now in any::<u64>()) {
            let _ = verify(KEY, &id, &query, now);
        }

        #[test]
        fn verify_never_panics_on_near_misses(
            expires in "[0-9%+a-z-]{0,25}",
            kind in "[%0-9A-Fa-z/+]{0,20}",
            max in "[0-9]{0,25}",
            sig in "[0-9a-fA-F%]{0,70}",
        ) {
            let q = format!("expires={expires}&type={kind}&max={max}&sig={sig}");
            let _ = verify(KEY, ID, &q, 0);
        }

        #[test]
        fn sign_verify_round_trips(expires in any::<u64>(), max in any::<u64>(), kind in "[ -~]{1,40}") {
            let q = sign(KEY, ID, expires, &kind, max);
            let got = verify(KEY, ID, &q, expires).unwrap();
            prop_assert_eq!(got.content_type, kind);
            prop_assert_eq!(got.max_bytes, max);
        }
    }
}
