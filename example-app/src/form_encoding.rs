//! Decoding `application/x-www-form-urlencoded` components (`+` is a space, `%XX` a byte) with
//! the `percent-encoding` crate, strictly: a broken escape is an error, not kept as text (the
//! crate's own decoder passes `%zz` through, which would let two spellings mean one value).

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

/// Decodes `text`; `None` for a `%` not followed by two hex digits, or bytes that are not UTF-8.
pub(crate) fn decode(text: &str) -> Option<String> {
    let broken_escape = text.split('%').skip(1).any(|rest| {
        !rest
            .as_bytes()
            .get(..2)
            .is_some_and(|pair| pair.iter().all(u8::is_ascii_hexdigit))
    });
    if broken_escape {
        return None;
    }
    // `+` first: an encoded plus (`%2B`) has no `+` in it, so it stays a plus.
    let spaced: Cow<'_, str> = if text.contains('+') {
        Cow::Owned(text.replace('+', " "))
    } else {
        Cow::Borrowed(text)
    };
    percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_form_data_and_refuses_broken_escapes() {
        let cases = [
            ("Happy+Face.jpg", Some("Happy Face.jpg")),
            ("Happy%20Face%28x%29.jpg", Some("Happy Face(x).jpg")),
            ("%E2%82%AC", Some("€")),
            ("a%2Bb", Some("a+b")),
            ("image%2Fpng", Some("image/png")),
            ("plain", Some("plain")),
            ("", Some("")),
            ("%2", None),
            ("%zz", None),
            ("%+1", None),
            ("%FF", None),
            ("trailing%", None),
            ("%é1", None),
        ];
        for (text, expected) in cases {
            assert_eq!(decode(text).as_deref(), expected, "{text:?}");
        }
    }
}
