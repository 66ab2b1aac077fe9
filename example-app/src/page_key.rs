//! Pages, the same for both stores: page sizes, the page made from `limit + 1` fetched items,
//! and opaque page keys: base64url (no padding) of JSON of the last item's
//! `(listing, timestamp, id)`. The embedded store binds them as SQL parameters; the DynamoDB
//! store rebuilds the query's `ExclusiveStartKey` from them.
//!
//! Read back strictly: a key must decode, parse, name the same listing (the groups, or the
//! images of the same group), and carry an RFC 3339 timestamp (without `#`, the separator of
//! DynamoDB's `createdKey`) and a canonical UUID, else [`PortError::InvalidPageKey`]. A store never
//! sees a value the client made up in any other shape, so a forged key cannot turn into an SQL
//! fragment, a DynamoDB `ValidationException` (a 5xx-type error) or a read of another listing.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::domain::{MAX_PAGE_SIZE, Page, PageRequest};
use crate::ports::PortError;

/// Longer keys are refused before decoding.
const MAX_KEY_LEN: usize = 512;

/// Where a page stopped: the last item's `(timestamp, id)` in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageKey {
    /// The listing: `"groups"` or `"images:<groupId>"`.
    #[serde(rename = "l")]
    pub(crate) listing: String,
    /// The last item's timestamp.
    #[serde(rename = "t")]
    pub(crate) timestamp: String,
    /// The last item's id.
    #[serde(rename = "i")]
    pub(crate) id: String,
}

impl PageKey {
    /// Encodes the key for a client.
    pub(crate) fn encode(&self) -> String {
        // Serialising three strings cannot fail; an empty key would be refused when read back.
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// The table's `createdKey` of the item the key points at.
    pub(crate) fn created_key(&self) -> String {
        format!("{}#{}", self.timestamp, self.id)
    }

    /// Decodes and validates a key a client sent back for `listing`.
    pub(crate) fn decode(text: &str, listing: &str) -> Result<Self, PortError> {
        let invalid = |why: &str| PortError::InvalidPageKey(why.to_owned());
        if text.is_empty() || text.len() > MAX_KEY_LEN {
            return Err(invalid("wrong length"));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| invalid("not base64url"))?;
        let key: PageKey = serde_json::from_slice(&bytes).map_err(|_| invalid("not a page key"))?;
        if key.listing != listing {
            return Err(invalid("made for another listing"));
        }
        if OffsetDateTime::parse(&key.timestamp, &Rfc3339).is_err() || key.timestamp.contains('#') {
            return Err(invalid("bad timestamp"));
        }
        match uuid::Uuid::try_parse(&key.id) {
            Ok(id) if id.hyphenated().to_string() == key.id => Ok(key),
            _ => Err(invalid("bad id")),
        }
    }
}

/// Checks a page size: 1 to [`MAX_PAGE_SIZE`].
pub(crate) fn checked_limit(page: &PageRequest) -> Result<u32, PortError> {
    if (1..=MAX_PAGE_SIZE).contains(&page.limit) {
        Ok(page.limit)
    } else {
        Err(PortError::Invalid(format!(
            "page size {} is not between 1 and {MAX_PAGE_SIZE}",
            page.limit
        )))
    }
}

/// Turns `limit + 1` fetched items into a page, with a key made from the last item kept when
/// there are more (so the last page has no key).
pub(crate) fn into_page<T>(
    mut items: Vec<T>,
    limit: u32,
    key_of: impl Fn(&T) -> PageKey,
) -> Page<T> {
    let limit = limit as usize;
    let next_key = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|last| key_of(last).encode())
    } else {
        None
    };
    Page { items, next_key }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> PageKey {
        PageKey {
            listing: "images:0b6f7c9e-3d1a-4f5e-9c2b-8a7d6e5f4c3b".into(),
            timestamp: "2026-01-02T03:04:05.678Z".into(),
            id: "1c6f7c9e-3d1a-4f5e-9c2b-8a7d6e5f4c3b".into(),
        }
    }

    #[test]
    fn round_trip() {
        let text = key().encode();
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(PageKey::decode(&text, &key().listing).unwrap(), key());
        assert_eq!(
            key().created_key(),
            "2026-01-02T03:04:05.678Z#1c6f7c9e-3d1a-4f5e-9c2b-8a7d6e5f4c3b"
        );
    }

    #[test]
    fn forged_and_garbage_keys_are_invalid() {
        let json = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let (l, t, i) = (key().listing, key().timestamp, key().id);
        let cases = [
            String::new(),
            "!!!".into(),
            "a".repeat(MAX_KEY_LEN + 1),
            URL_SAFE_NO_PAD.encode("not json"),
            json(serde_json::json!({"l": l, "t": "x", "i": i})),
            json(serde_json::json!({"l": l, "t": t, "i": "1; DROP"})),
            json(serde_json::json!({"l": l, "t": t, "i": i.to_uppercase()})),
            json(serde_json::json!({"l": "groups", "t": t, "i": i})),
            json(serde_json::json!({"l": "images:other", "t": t, "i": i})),
            json(serde_json::json!({"l": l, "t": t})),
            json(serde_json::json!({"l": l, "t": t, "i": i, "x": 1})),
            json(serde_json::json!({"l": l, "t": {"S": t}, "i": i})),
            json(serde_json::json!({"l": l, "t": "x' OR 1=1 --", "i": i})),
            json(serde_json::json!({"l": l, "t": format!("{t}#x"), "i": i})),
            json(serde_json::json!([1, 2, 3])),
        ];
        for case in cases {
            assert!(
                matches!(
                    PageKey::decode(&case, &key().listing),
                    Err(PortError::InvalidPageKey(_))
                ),
                "{case}"
            );
        }
    }

    proptest! {
        #[test]
        fn decode_never_panics(text in ".{0,600}") {
            let _ = PageKey::decode(&text, "groups");
        }
    }
}
