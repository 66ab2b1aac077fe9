//! Turning cached bytes into typed values, and joining concurrent reads.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

use base64::Engine as _;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::{Secret, SecretError, SecretKey, SecretValue};

pub(crate) fn decode_base64(
    key: &SecretKey,
    value: &SecretValue,
) -> Result<Secret<Bytes>, SecretError> {
    let trimmed = value.expose_bytes().trim_ascii();
    base64::engine::general_purpose::STANDARD
        .decode(trimmed)
        .map(|bytes| Secret::new(Bytes::from(bytes)))
        .map_err(|error| SecretError::Decode {
            key: key.clone(),
            expected: "base64".to_owned(),
            // The decoder's own message quotes the offending byte; keep only where it is.
            reason: match error {
                base64::DecodeError::InvalidByte(offset, _) => {
                    format!("invalid byte at offset {offset}")
                }
                base64::DecodeError::InvalidLength(length) => format!("invalid length {length}"),
                base64::DecodeError::InvalidLastSymbol(offset, _) => {
                    format!("invalid last symbol at offset {offset}")
                }
                base64::DecodeError::InvalidPadding => "invalid padding".to_owned(),
            },
        })
}

pub(crate) fn decode_string(
    key: &SecretKey,
    value: &SecretValue,
) -> Result<Secret<String>, SecretError> {
    match std::str::from_utf8(value.expose_bytes()) {
        Ok(text) => Ok(Secret::new(text.to_owned())),
        Err(error) => Err(SecretError::Decode {
            key: key.clone(),
            expected: "UTF-8 text".to_owned(),
            reason: format!("invalid byte at offset {}", error.valid_up_to()),
        }),
    }
}

pub(crate) fn decode_json<T: DeserializeOwned>(
    key: &SecretKey,
    value: &SecretValue,
) -> Result<Secret<T>, SecretError> {
    serde_json::from_slice(value.expose_bytes())
        .map(Secret::new)
        .map_err(|error| SecretError::json(key, std::any::type_name::<T>(), &error))
}

/// Polls every future on the current task until all are done; outputs keep their order.
pub(crate) async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
