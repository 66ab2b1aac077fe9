//! Query strings and path parameters: decoding, page requests, UUID ids.

use std::collections::BTreeMap;

use http::Request;
use lamina_middleware::errors::{ApiError, PathParams};

use crate::domain::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageRequest};

/// The longest query string read; longer ones are a client mistake (400).
const MAX_QUERY_BYTES: usize = 4096;

/// Decodes an `application/x-www-form-urlencoded` query into a map. A repeated key, a query over
/// 4 KiB or an escape that is not UTF-8 is a 400.
pub(crate) fn parse_query(query: Option<&str>) -> Result<BTreeMap<String, String>, ApiError> {
    let query = query.unwrap_or_default();
    if query.len() > MAX_QUERY_BYTES {
        return Err(ApiError::bad_request("the query string is too long"));
    }
    let mut params = BTreeMap::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(key)?;
        let value = decode(value)?;
        if params.contains_key(&key) {
            return Err(ApiError::bad_request(format!(
                "query parameter {key} is repeated"
            )));
        }
        params.insert(key, value);
    }
    Ok(params)
}

/// Percent-decodes one component, `+` meaning a space.
fn decode(input: &str) -> Result<String, ApiError> {
    let bad = || ApiError::bad_request("the query string is not valid percent-encoded UTF-8");
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        match byte {
            b'%' => {
                let hex = bytes
                    .get(index + 1..index + 3)
                    .and_then(|pair| std::str::from_utf8(pair).ok())
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                    .ok_or_else(bad)?;
                out.push(hex);
                index += 3;
            }
            b'+' => {
                out.push(b' ');
                index += 1;
            }
            other => {
                out.push(other);
                index += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// `limit` (1 to [`MAX_PAGE_SIZE`], default [`DEFAULT_PAGE_SIZE`]) from the query.
pub(crate) fn limit(params: &BTreeMap<String, String>) -> Result<u32, ApiError> {
    match params.get("limit") {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|limit| (1..=MAX_PAGE_SIZE).contains(limit))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "limit must be an integer from 1 to {MAX_PAGE_SIZE}"
                ))
            }),
    }
}

/// `limit` and `nextKey` from the request's query.
pub(crate) fn page_request<B>(req: &Request<B>) -> Result<PageRequest, ApiError> {
    let params = parse_query(req.uri().query())?;
    let next_key = match params.get("nextKey") {
        Some(key) if key.is_empty() || key.len() > 1024 => {
            return Err(ApiError::bad_request("nextKey is not a valid page key"));
        }
        other => other.cloned(),
    };
    Ok(PageRequest {
        limit: limit(&params)?,
        next_key,
    })
}

/// The path parameter `name`, which must be a UUID (400 otherwise), in its canonical lower-case
/// hyphenated form.
pub(crate) fn uuid_param<B>(req: &Request<B>, name: &str) -> Result<String, ApiError> {
    let value = req
        .extensions()
        .get::<PathParams>()
        .and_then(|params| params.get(name))
        .unwrap_or_default();
    uuid::Uuid::try_parse(value)
        .ok()
        .filter(|_| value.len() == 36)
        .map(|id| id.to_string())
        .ok_or_else(|| ApiError::bad_request(format!("{name} must be a UUID")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    type Case<'a> = (&'a str, Option<&'a [(&'a str, &'a str)]>);

    #[test]
    fn query_table() {
        let cases: [Case<'_>; 8] = [
            ("", Some(&[])),
            ("limit=5", Some(&[("limit", "5")])),
            (
                "q=red+fox&limit=2",
                Some(&[("q", "red fox"), ("limit", "2")]),
            ),
            ("q=%C3%A9t%C3%A9", Some(&[("q", "été")])),
            ("q=%22a%22", Some(&[("q", "\"a\"")])),
            ("flag", Some(&[("flag", "")])),
            ("q=%zz", None),
            ("a=1&a=2", None),
        ];
        for (query, expected) in cases {
            let got = parse_query(Some(query)).ok();
            let expected = expected.map(|pairs| {
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect::<BTreeMap<_, _>>()
            });
            assert_eq!(got, expected, "{query}");
        }
        assert!(parse_query(Some(&"a".repeat(5000))).is_err());
        assert!(parse_query(Some("q=%ff")).is_err());
    }

    #[test]
    fn limit_table() {
        for (query, expected) in [
            ("", Some(DEFAULT_PAGE_SIZE)),
            ("limit=1", Some(1)),
            ("limit=100", Some(100)),
            ("limit=0", None),
            ("limit=101", None),
            ("limit=-1", None),
            ("limit=abc", None),
            ("limit=", None),
        ] {
            let params = parse_query(Some(query)).unwrap_or_default();
            assert_eq!(limit(&params).ok(), expected, "{query}");
        }
    }
}
