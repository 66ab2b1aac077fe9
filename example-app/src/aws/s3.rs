//! [`BlobStore`] on S3: one object per key in the images bucket, presigned POST forms for uploads.
//!
//! Keys and content types are checked by the domain's rules, as the embedded store checks them
//! ([`validate_key`], [`validate_content_type`]), so no request reaches S3 with `..`, `/`, an
//! empty key or a type that is not an image's. An upload is a browser form POST whose policy
//! ([`crate::post_policy`]) S3 enforces: the exact key, the exact `Content-Type`, 1 to
//! `max_bytes` bytes, an expiry. The upload processor still checks the stored object's size and
//! type, for whatever reaches the bucket another way.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_s3::{Client, presigning::PresigningConfig, primitives::ByteStream};
use bytes::Bytes;

use super::error::unavailable;
use crate::{
    ports::{BlobStore, BoxFuture, PortError, UploadForm, validate_content_type, validate_key},
    post_policy::{self, SigningIdentity, UploadPolicy},
};

/// The longest an upload form lasts: the longest a SigV4 signature does.
const MAX_FORM_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// The content type stored objects without one are read back as.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// The S3 adapter for image bytes. Clones share the client.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: Client,
    credentials: Option<SharedCredentialsProvider>,
    bucket: Arc<str>,
    public_url: Arc<str>,
}

impl S3BlobStore {
    /// An adapter for `bucket` over `client` (built by the caller; with moto use
    /// `force_path_style(true)`), signing upload forms with `credentials` (the `SdkConfig`'s: the
    /// S3 client does not hand its own out). Read URLs are `public_url` + `/` + key (a trailing
    /// `/` of `public_url` is ignored): the bucket's public URL on AWS, `<moto>/<bucket>` in tests.
    pub fn new(
        client: Client,
        credentials: Option<SharedCredentialsProvider>,
        bucket: impl Into<String>,
        public_url: impl Into<String>,
    ) -> Self {
        let public_url: String = public_url.into();
        Self {
            client,
            credentials,
            bucket: bucket.into().into(),
            public_url: public_url.trim_end_matches('/').into(),
        }
    }

    /// The bucket this store writes to.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The URL forms post to, as the SDK's endpoint rules address the bucket (virtual-hosted
    /// `https://BUCKET.s3.REGION.amazonaws.com/`, or `ENDPOINT/BUCKET` with path-style addressing,
    /// as on moto): a presigned request for `key` (made locally, never sent) without the key.
    async fn bucket_url(&self, key: &str) -> Result<String, PortError> {
        let presigning = PresigningConfig::expires_in(Duration::from_secs(60))
            .map_err(|e| PortError::Invalid(format!("presigning: {e}")))?;
        let request = self
            .client
            .get_object()
            .bucket(&*self.bucket)
            .key(key)
            .presigned(presigning)
            .await
            .map_err(|e| unavailable("resolving the bucket's URL", &e))?;
        let uri = request.uri();
        let without_query = uri.split_once('?').map_or(uri, |(path, _)| path);
        let bucket_url = without_query.strip_suffix(key).ok_or_else(|| {
            PortError::Unavailable(format!("unexpected object URL {without_query}"))
        })?;
        // Virtual-hosted: the host's root `/`; path-style: `ENDPOINT/BUCKET`, as boto3 posts.
        let after_scheme = bucket_url
            .split_once("://")
            .map_or(bucket_url, |(_, rest)| rest);
        let is_root = after_scheme.find('/') == Some(after_scheme.len() - 1);
        Ok(if is_root {
            bucket_url.to_owned()
        } else {
            bucket_url.trim_end_matches('/').to_owned()
        })
    }
}

impl BlobStore for S3BlobStore {
    /// One `PutObject`: S3 replaces an object atomically.
    fn put_blob<'a>(
        &'a self,
        key: &'a str,
        bytes: Bytes,
        content_type: &'a str,
    ) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            validate_key(key)?;
            validate_content_type(content_type)?;
            self.client
                .put_object()
                .bucket(&*self.bucket)
                .key(key)
                .content_type(content_type)
                .body(ByteStream::from(bytes))
                .send()
                .await
                .map_err(|e| unavailable("PutObject", &e))?;
            Ok(())
        })
    }

    fn get_blob<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<(Bytes, String)>, PortError>> {
        Box::pin(async move {
            validate_key(key)?;
            let output = match self
                .client
                .get_object()
                .bucket(&*self.bucket)
                .key(key)
                .send()
                .await
            {
                Ok(output) => output,
                Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                    return Ok(None);
                }
                Err(error) => return Err(unavailable("GetObject", &error)),
            };
            let content_type = output
                .content_type()
                .unwrap_or(DEFAULT_CONTENT_TYPE)
                .to_owned();
            let bytes = output
                .body
                .collect()
                .await
                .map_err(|e| PortError::Unavailable(format!("GetObject: reading the body: {e}")))?
                .into_bytes();
            Ok(Some((bytes, content_type)))
        })
    }

    /// A presigned POST form to the bucket's URL, signed with the client's current
    /// credentials (a Lambda role's temporary ones carry their session token in the form).
    fn upload_form<'a>(
        &'a self,
        key: &'a str,
        content_type: &'a str,
        max_bytes: u64,
        expires_in: Duration,
    ) -> BoxFuture<'a, Result<UploadForm, PortError>> {
        Box::pin(async move {
            validate_key(key)?;
            validate_content_type(content_type)?;
            if expires_in.is_zero() || expires_in > MAX_FORM_LIFETIME {
                return Err(PortError::Invalid(
                    "an upload form lasts from 1 second to 7 days".into(),
                ));
            }
            let config = self.client.config();
            let region = config
                .region()
                .ok_or_else(|| PortError::Unavailable("the S3 client has no region".into()))?
                .to_string();
            let credentials = self
                .credentials
                .as_ref()
                .ok_or_else(|| PortError::Unavailable("no credentials to sign uploads".into()))?
                .provide_credentials()
                .await
                .map_err(|e| PortError::Unavailable(format!("loading credentials: {e}")))?;
            let url = self.bucket_url(key).await?;
            let now = SystemTime::now();
            let policy = UploadPolicy {
                bucket: self.bucket.to_string(),
                key: key.to_owned(),
                content_type: content_type.to_owned(),
                max_bytes,
                expires_at: now + expires_in,
            };
            let identity = SigningIdentity {
                access_key_id: credentials.access_key_id(),
                secret_access_key: credentials.secret_access_key(),
                session_token: credentials.session_token(),
                region: &region,
            };
            let post = post_policy::presign(&url, &policy, &identity, now);
            Ok(UploadForm {
                url: post.url,
                fields: post.fields,
                content_type: content_type.to_owned(),
                max_bytes,
                expires_in,
            })
        })
    }

    fn read_url(&self, key: &str) -> String {
        format!("{}/{key}", self.public_url)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests;
