//! What a test needs before it can create a Lambda function in moto: an IAM execution role and a
//! ZIP deployment package.
//!
//! ```no_run
//! use aws_sdk_lambda::primitives::Blob;
//! use aws_sdk_lambda::types::{FunctionCode, Runtime};
//! use lamina_local::moto::{MotoServer, stored_zip};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let moto = MotoServer::start().await?;
//! moto.disable_lambda_docker().await?;
//! let role = moto.create_iam_role("lambda-role").await?;
//! let code = stored_zip("index.py", b"def handler(event, context):\n    return event\n");
//! aws_sdk_lambda::Client::new(moto.sdk_config())
//!     .create_function()
//!     .function_name("echo")
//!     .runtime(Runtime::Python312)
//!     .role(role)
//!     .handler("index.handler")
//!     .code(FunctionCode::builder().zip_file(Blob::new(code)).build())
//!     .send()
//!     .await?;
//! # Ok(())
//! # }
//! ```

use hyper::Method;

use super::{MotoError, MotoServer};
use crate::loopback_http;

/// The trust policy of roles made by [`MotoServer::create_iam_role`]: Lambda may assume them.
const LAMBDA_TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

impl MotoServer {
    /// Creates an IAM role that Lambda may assume and returns its ARN, for `CreateFunction`, which
    /// moto refuses unless the role exists.
    ///
    /// The workspace has no IAM SDK, so this sends the query-protocol `CreateRole` request itself.
    /// moto does not check signatures; it picks the service from the `Authorization` header's
    /// credential scope, so the request carries a well-formed header with a dummy signature.
    ///
    /// # Errors
    /// [`MotoError::Service`] when moto cannot be reached, answers anything but 200 (moto's answer is
    /// in the message, for example when the role already exists), or answers without an ARN.
    pub async fn create_iam_role(&self, name: &str) -> Result<String, MotoError> {
        const OPERATION: &str = "iam:CreateRole";
        let body = format!(
            "Action=CreateRole&Version=2010-05-08&RoleName={}&AssumeRolePolicyDocument={}",
            form_encode(name),
            form_encode(LAMBDA_TRUST_POLICY)
        );
        let headers = [
            ("content-type", "application/x-www-form-urlencoded"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, \
                 SignedHeaders=host, Signature=00",
            ),
        ];
        let url = format!("{}/", self.endpoint_url());
        let response = loopback_http::send_with_headers(Method::POST, &url, &headers, body.into())
            .await
            .map_err(|detail| MotoError::Service {
                operation: OPERATION,
                detail,
            })?;
        let answer = String::from_utf8_lossy(&response.body);
        if response.status != hyper::StatusCode::OK {
            return Err(MotoError::Service {
                operation: OPERATION,
                detail: format!("HTTP {}: {answer}", response.status),
            });
        }
        answer
            .split_once("<Arn>")
            .and_then(|(_, rest)| rest.split_once("</Arn>"))
            .map(|(arn, _)| arn.to_owned())
            .ok_or_else(|| MotoError::Service {
                operation: OPERATION,
                detail: format!("no <Arn> in the answer: {answer}"),
            })
    }
}

/// Percent-encodes `value` for an `application/x-www-form-urlencoded` body.
fn form_encode(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Builds a ZIP archive holding one file, `file_name` with `content`, stored without compression:
/// the deployment package Lambda's `CreateFunction` takes as `ZipFile`.
///
/// The file is a regular file with mode `0644`, dated 1980-01-01, so the same input always gives
/// the same bytes.
///
/// ZIP64 is not written: a `content` of 4 GiB or more, or a `file_name` of 64 KiB or more, gives an
/// archive that no reader accepts. Lambda takes at most 50 MB inline, far below either limit.
///
/// ```
/// let zip = lamina_local::moto::stored_zip("index.py", b"def handler(event, context): pass\n");
/// assert!(zip.starts_with(b"PK\x03\x04"));
/// ```
#[must_use]
pub fn stored_zip(file_name: &str, content: &[u8]) -> Vec<u8> {
    // Saturating instead of failing: past these limits the archive would need ZIP64 (see above).
    let size = u32::try_from(content.len())
        .unwrap_or(u32::MAX)
        .to_le_bytes();
    let name_len = u16::try_from(file_name.len())
        .unwrap_or(u16::MAX)
        .to_le_bytes();
    let crc = crc32(content).to_le_bytes();
    // The fields the local header and the central directory entry share, from "version needed" to
    // "extra field length": version 2.0, no flags, method 0 (stored), time 00:00, date 1980-01-01.
    let mut shared = Vec::with_capacity(26);
    shared.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
    shared.extend_from_slice(&crc);
    shared.extend_from_slice(&size);
    shared.extend_from_slice(&size);
    shared.extend_from_slice(&name_len);
    shared.extend_from_slice(&[0, 0]);

    let mut zip = Vec::with_capacity(content.len() + 2 * file_name.len() + 100);
    zip.extend_from_slice(b"PK\x03\x04");
    zip.extend_from_slice(&shared);
    zip.extend_from_slice(file_name.as_bytes());
    zip.extend_from_slice(content);

    let central_offset = u32::try_from(zip.len()).unwrap_or(u32::MAX);
    let central_start = zip.len();
    zip.extend_from_slice(b"PK\x01\x02");
    zip.extend_from_slice(&[20, 3]); // made by: version 2.0, Unix (so the mode below counts)
    zip.extend_from_slice(&shared);
    zip.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // comment length, disk, internal attributes
    zip.extend_from_slice(&(0o100_644_u32 << 16).to_le_bytes()); // external: regular file, 0644
    zip.extend_from_slice(&[0, 0, 0, 0]); // the local header is at offset 0
    zip.extend_from_slice(file_name.as_bytes());
    let central_size = u32::try_from(zip.len() - central_start).unwrap_or(u32::MAX);

    zip.extend_from_slice(b"PK\x05\x06");
    zip.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]); // disk numbers, entries here, entries in all
    zip.extend_from_slice(&central_size.to_le_bytes());
    zip.extend_from_slice(&central_offset.to_le_bytes());
    zip.extend_from_slice(&[0, 0]); // comment length
    zip
}

/// The CRC-32 (IEEE) of `data`, which ZIP stores for every file; bitwise, as packages are small.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0_u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::process::Command;

    use super::{crc32, form_encode, stored_zip};

    /// Reads `zip` back with Python's `zipfile`, which checks the CRC on read; returns what it saw.
    fn python_reads(zip: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("package.zip");
        std::fs::write(&path, zip).unwrap();
        let script = "import sys, zipfile\n\
            z = zipfile.ZipFile(sys.argv[1])\n\
            assert z.testzip() is None\n\
            for i in z.infolist():\n\
            \x20   print(repr((i.filename, i.compress_type, i.file_size, oct(i.external_attr >> 16), \
            i.date_time, z.read(i))))\n";
        let output = Command::new("python3")
            .args(["-c", script])
            .arg(&path)
            .output()
            .unwrap_or_else(|error| panic!("python3 is not available ({error}); install Python 3"));
        assert!(
            output.status.success(),
            "zipfile refused the archive: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    #[test]
    fn python_zipfile_reads_back_the_one_stored_file() {
        let cases: [(&str, &[u8], &str); 3] = [
            (
                "index.py",
                b"def handler(event, context):\n    return event\n",
                "('index.py', 0, 46, '0o100644', (1980, 1, 1, 0, 0, 0), \
                 b'def handler(event, context):\\n    return event\\n')\n",
            ),
            (
                "empty.txt",
                b"",
                "('empty.txt', 0, 0, '0o100644', (1980, 1, 1, 0, 0, 0), b'')\n",
            ),
            (
                "lib/bin.dat",
                &[0, 0xFF, b'P', b'K', 3, 4],
                "('lib/bin.dat', 0, 6, '0o100644', (1980, 1, 1, 0, 0, 0), b'\\x00\\xffPK\\x03\\x04')\n",
            ),
        ];
        for (name, content, expected) in cases {
            assert_eq!(python_reads(&stored_zip(name, content)), expected, "{name}");
        }
    }

    #[test]
    fn the_layout_is_one_entry_without_compression() {
        let zip = stored_zip("a.py", b"hello");
        // local header (30) + name + content, central entry (46) + name, end record (22)
        assert_eq!(zip.len(), 30 + 4 + 5 + 46 + 4 + 22);
        assert_eq!(&zip[..4], b"PK\x03\x04");
        assert_eq!(&zip[8..10], &[0, 0], "method: stored");
        assert_eq!(&zip[14..18], &0x3610_A686_u32.to_le_bytes(), "crc32");
        assert_eq!(&zip[34..39], b"hello");
        assert_eq!(&zip[39..43], b"PK\x01\x02");
        let end = &zip[zip.len() - 22..];
        assert_eq!(&end[..4], b"PK\x05\x06");
        assert_eq!(&end[10..12], &[1, 0], "one entry");
        assert_eq!(
            &end[12..16],
            &50_u32.to_le_bytes(),
            "central directory size"
        );
        assert_eq!(
            &end[16..20],
            &39_u32.to_le_bytes(),
            "central directory offset"
        );
        assert_eq!(stored_zip("a.py", b"hello"), zip, "deterministic");
    }

    #[test]
    fn crc32_matches_the_standard_check_values() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b"hello"), 0x3610_A686);
    }

    #[test]
    fn form_encoding_keeps_only_unreserved_bytes() {
        let cases = [
            ("lambda-role", "lambda-role"),
            ("a_b.c~d", "a_b.c~d"),
            ("a+b=c,d@e", "a%2Bb%3Dc%2Cd%40e"),
            (r#"{"a": 1}"#, "%7B%22a%22%3A%201%7D"),
        ];
        for (raw, encoded) in cases {
            assert_eq!(form_encode(raw), encoded);
        }
    }
}
