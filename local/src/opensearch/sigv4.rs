//! Verifying a request's SigV4 signature the way the AWS front end of a search domain does:
//! recompute it with `aws-sigv4` from what arrived (method, path, query, the signed headers,
//! the body's hash, `x-amz-date`) and the configured secret, and compare.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::{
    http_request::{PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign},
    sign::v4,
};
use aws_smithy_runtime_api::client::identity::Identity;
use http::HeaderMap;
use time::{PrimitiveDateTime, format_description::FormatItem, macros::format_description};

/// How far `x-amz-date` may be from the server's clock, as on AWS.
pub(crate) const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const AMZ_DATE: &[FormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

/// Who may call, and where: the scope a valid signature names.
#[derive(Debug, Clone)]
pub(crate) struct Verifier {
    pub(crate) credentials: Credentials,
    pub(crate) region: String,
    pub(crate) service: String,
}

/// Why a request was refused (the text goes into the 403's `message`; it never holds the
/// secret or the expected signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal(pub(crate) String);

fn refuse(why: impl Into<String>) -> Refusal {
    Refusal(why.into())
}

struct Authorization<'a> {
    access_key: &'a str,
    scope_date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, Refusal> {
    let rest = value
        .strip_prefix(ALGORITHM)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or_else(|| refuse("Authorization is not AWS4-HMAC-SHA256"))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (name, value) = part
            .trim()
            .split_once('=')
            .ok_or_else(|| refuse("malformed Authorization header"))?;
        match name {
            "Credential" => credential = Some(value),
            "SignedHeaders" => signed = Some(value),
            "Signature" => signature = Some(value),
            _ => return Err(refuse("malformed Authorization header")),
        }
    }
    let missing = || refuse("Authorization needs Credential, SignedHeaders and Signature");
    let scope: Vec<&str> = credential.ok_or_else(missing)?.split('/').collect();
    let [access_key, scope_date, region, service, "aws4_request"] = scope[..] else {
        return Err(refuse("malformed credential scope"));
    };
    Ok(Authorization {
        access_key,
        scope_date,
        region,
        service,
        signed_headers: signed.ok_or_else(missing)?.split(';').collect(),
        signature: signature.ok_or_else(missing)?,
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, Refusal> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| refuse(format!("missing or non-text header {name}")))
}

/// Compares without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Verifier {
    /// Checks the request's signature at time `now`; `path_and_query` exactly as it arrived.
    pub(crate) fn verify(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), Refusal> {
        let auth = parse_authorization(header(headers, "authorization")?)?;
        if !same(auth.access_key, self.credentials.access_key_id()) {
            return Err(refuse(
                "The security token included in the request is invalid.",
            ));
        }
        if auth.region != self.region || auth.service != self.service {
            return Err(refuse(format!(
                "Credential should be scoped to region {} and service {}",
                self.region, self.service
            )));
        }
        let date_text = header(headers, "x-amz-date")?;
        let date = PrimitiveDateTime::parse(date_text, AMZ_DATE)
            .map_err(|_| refuse("x-amz-date is not a basic ISO 8601 time"))?
            .assume_utc();
        let signed_at = SystemTime::from(date);
        let skew = match now.duration_since(signed_at) {
            Ok(age) => age,
            Err(ahead) => ahead.duration(),
        };
        if skew > MAX_CLOCK_SKEW {
            return Err(refuse("Signature expired: x-amz-date is too far from now"));
        }
        if !date_text.starts_with(auth.scope_date) || auth.scope_date.len() != 8 {
            return Err(refuse("the credential scope's date is not x-amz-date's"));
        }
        for required in ["host", "x-amz-date"] {
            if !auth.signed_headers.contains(&required) {
                return Err(refuse(format!("{required} must be signed")));
            }
        }
        // The signer adds x-amz-date, the session token and the body hash itself; every other
        // signed header is handed over as it arrived.
        let added_by_signer = ["x-amz-date", "x-amz-security-token", "x-amz-content-sha256"];
        let mut signed_values = Vec::new();
        for name in &auth.signed_headers {
            if !added_by_signer.contains(name) {
                signed_values.push((*name, header(headers, name)?));
            }
        }
        if auth.signed_headers.contains(&"x-amz-security-token")
            != self.credentials.session_token().is_some()
            || self
                .credentials
                .session_token()
                .is_some_and(|token| header(headers, "x-amz-security-token").ok() != Some(token))
        {
            return Err(refuse(
                "The security token included in the request is invalid.",
            ));
        }
        let mut settings = SigningSettings::default();
        if auth.signed_headers.contains(&"x-amz-content-sha256") {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        let host = header(headers, "host")?;
        let uri = format!("http://{host}{path_and_query}");
        let identity: Identity = self.credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(signed_at)
            .settings(settings)
            .build()
            .map_err(|_| refuse("cannot build signing parameters"))?
            .into();
        let request = SignableRequest::new(
            method,
            uri,
            signed_values.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|_| refuse("the request cannot be signed"))?;
        let expected = sign(request, &params)
            .map_err(|_| refuse("the request cannot be signed"))?
            .signature()
            .to_owned();
        if same(&expected, auth.signature) {
            Ok(())
        } else {
            Err(refuse(
                "The request signature we calculated does not match the signature you provided.",
            ))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use http::HeaderValue;
    use proptest::prelude::*;

    use super::*;

    fn verifier() -> Verifier {
        Verifier {
            credentials: Credentials::new("AKID", "secret", None, None, "test"),
            region: "us-east-1".into(),
            service: "es".into(),
        }
    }

    proptest! {
        /// Whatever arrives in the headers, the verifier refuses it without panicking (a
        /// random value cannot carry the right signature).
        #[test]
        fn arbitrary_authorization_headers_are_refused(
            authorization in "(AWS4-HMAC-SHA256 )?(Credential=AKID/[0-9]{8}/us-east-1/es/aws4_request, )?(SignedHeaders=[a-z;-]{0,40}, )?(Signature=[0-9a-f]{0,64})?[ -~]{0,20}",
            date in "[0-9T Z]{0,20}",
        ) {
            let mut headers = HeaderMap::new();
            headers.insert("host", HeaderValue::from_static("127.0.0.1:1"));
            if let Ok(value) = HeaderValue::from_str(&authorization) {
                headers.insert("authorization", value);
            }
            if let Ok(value) = HeaderValue::from_str(&date) {
                headers.insert("x-amz-date", value);
            }
            let result = verifier().verify("GET", "/x/_search", &headers, b"", SystemTime::now());
            prop_assert!(result.is_err());
        }
    }
}
