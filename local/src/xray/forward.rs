//! Batch forwarding of accepted documents to `PutTraceSegments`, as the real daemon does.

use std::{sync::Arc, time::Duration};

use aws_sdk_xray::error::DisplayErrorContext;
use tokio::{sync::mpsc, task::JoinHandle};

use super::stats::Counters;

/// The daemon's batch size.
pub(crate) const MAX_BATCH: usize = 50;
/// Documents waiting for the forwarder beyond this many are dropped (and counted).
pub(crate) const QUEUE_CAPACITY: usize = 10_000;

/// Starts the forwarder; it flushes and stops once every sender is dropped.
pub(crate) fn spawn(
    config: aws_sdk_xray::Config,
    idle: Duration,
    counters: Arc<Counters>,
) -> (mpsc::Sender<String>, JoinHandle<()>) {
    let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
    let client = aws_sdk_xray::Client::from_conf(config);
    (sender, tokio::spawn(run(client, receiver, idle, counters)))
}

async fn run(
    client: aws_sdk_xray::Client,
    mut receiver: mpsc::Receiver<String>,
    idle: Duration,
    counters: Arc<Counters>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let next = if batch.is_empty() {
            receiver.recv().await
        } else {
            match tokio::time::timeout(idle, receiver.recv()).await {
                Ok(next) => next,
                Err(_idle) => {
                    flush(&client, &mut batch, &counters).await;
                    continue;
                }
            }
        };
        let Some(document) = next else { break };
        batch.push(document);
        if batch.len() >= MAX_BATCH {
            flush(&client, &mut batch, &counters).await;
        }
    }
    if !batch.is_empty() {
        flush(&client, &mut batch, &counters).await;
    }
}

async fn flush(client: &aws_sdk_xray::Client, batch: &mut Vec<String>, counters: &Counters) {
    let documents = std::mem::take(batch);
    let sent = documents.len() as u64;
    let result = client
        .put_trace_segments()
        .set_trace_segment_documents(Some(documents))
        .send()
        .await;
    match result {
        Ok(output) => {
            let unprocessed = output.unprocessed_trace_segments();
            for segment in unprocessed {
                tracing::warn!(
                    id = segment.id().unwrap_or("-"),
                    error_code = segment.error_code().unwrap_or("-"),
                    message = segment.message().unwrap_or("-"),
                    "PutTraceSegments did not process a segment document"
                );
            }
            let failed = (unprocessed.len() as u64).min(sent);
            Counters::add(&counters.forwarded, sent - failed);
            Counters::add(&counters.forward_failed, failed);
        }
        Err(error) => {
            tracing::warn!(documents = sent, error = %DisplayErrorContext(&error), "PutTraceSegments failed");
            Counters::add(&counters.forward_failed, sent);
        }
    }
}
