//! [`BlobStore`] on S3: one object per key in the images bucket, presigned PUTs for uploads.
//!
//! Keys and content types are checked by the domain's rules, as the embedded store checks them
//! ([`validate_key`], [`validate_content_type`]), so no request reaches S3 with `..`, `/`, an
//! empty key or a type that is not an image's. An upload URL is a presigned `PutObject` with the
//! content type among the signed headers: S3 refuses a PUT that declares another type. A
//! presigned PUT cannot cap the size, so `max_bytes` is advisory here and the upload processor
//! enforces it from the object's size.

use std::{sync::Arc, time::Duration};

use aws_sdk_s3::{Client, presigning::PresigningConfig, primitives::ByteStream};
use bytes::Bytes;

use super::error::unavailable;
use crate::ports::{
    BlobStore, BoxFuture, PortError, UploadUrl, validate_content_type, validate_key,
};

/// The content type stored objects without one are read back as.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// The S3 adapter for image bytes. Clones share the client.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: Client,
    bucket: Arc<str>,
    public_url: Arc<str>,
}

impl S3BlobStore {
    /// An adapter for `bucket` over `client` (built by the caller; with moto use
    /// `force_path_style(true)`). Read URLs are `public_url` + `/` + key (a trailing `/` of
    /// `public_url` is ignored): the bucket's public URL on AWS, `<moto>/<bucket>` in tests.
    pub fn new(client: Client, bucket: impl Into<String>, public_url: impl Into<String>) -> Self {
        let public_url: String = public_url.into();
        Self {
            client,
            bucket: bucket.into().into(),
            public_url: public_url.trim_end_matches('/').into(),
        }
    }

    /// The bucket this store writes to.
    pub fn bucket(&self) -> &str {
        &self.bucket
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

    /// A presigned `PutObject` URL, valid `expires_in` (at most 7 days, S3's limit), with
    /// `content_type` signed.
    fn upload_url<'a>(
        &'a self,
        key: &'a str,
        content_type: &'a str,
        max_bytes: u64,
        expires_in: Duration,
    ) -> BoxFuture<'a, Result<UploadUrl, PortError>> {
        Box::pin(async move {
            validate_key(key)?;
            validate_content_type(content_type)?;
            let presigning = PresigningConfig::expires_in(expires_in)
                .map_err(|e| PortError::Invalid(format!("upload URL expiry: {e}")))?;
            let request = self
                .client
                .put_object()
                .bucket(&*self.bucket)
                .key(key)
                .content_type(content_type)
                .presigned(presigning)
                .await
                .map_err(|e| unavailable("presigning PutObject", &e))?;
            Ok(UploadUrl {
                url: request.uri().to_owned(),
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
