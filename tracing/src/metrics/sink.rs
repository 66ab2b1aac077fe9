//! Where documents go: stdout in Lambda (CloudWatch Logs extracts the metrics), any writer, or
//! memory in tests.

use std::fmt;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

/// Receives finished EMF documents.
pub trait MetricsSink: fmt::Debug + Send + Sync + 'static {
    /// Writes one document: a single line of JSON, given without its trailing newline.
    ///
    /// # Errors
    /// Any I/O error of the destination.
    fn write_document(&self, document: &str) -> io::Result<()>;
}

/// Writes each document to stdout as one line in a single write, so that lines from concurrent
/// writers do not interleave inside a document. Lambda sends stdout to CloudWatch Logs.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdoutSink;

impl MetricsSink for StdoutSink {
    fn write_document(&self, document: &str) -> io::Result<()> {
        let mut line = String::with_capacity(document.len() + 1);
        line.push_str(document);
        line.push('\n');
        let mut out = io::stdout().lock();
        out.write_all(line.as_bytes())?;
        out.flush()
    }
}

/// Writes each document as a line to any writer (a file, a socket, a buffer).
pub struct WriterSink<W> {
    writer: Mutex<W>,
}

impl<W: Write + Send + 'static> WriterSink<W> {
    /// Wraps `writer`.
    #[must_use]
    pub fn new(writer: W) -> Self {
        Self {
            writer: Mutex::new(writer),
        }
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.writer
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl<W> fmt::Debug for WriterSink<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriterSink").finish_non_exhaustive()
    }
}

impl<W: Write + Send + 'static> MetricsSink for WriterSink<W> {
    fn write_document(&self, document: &str) -> io::Result<()> {
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut line = Vec::with_capacity(document.len() + 1);
        line.extend_from_slice(document.as_bytes());
        line.push(b'\n');
        writer.write_all(&line)?;
        writer.flush()
    }
}

/// Keeps documents in memory; clones share them. For tests and for forwarding documents elsewhere.
#[derive(Debug, Clone, Default)]
pub struct MemorySink {
    documents: Arc<Mutex<Vec<String>>>,
}

impl MemorySink {
    /// An empty sink.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Every document written so far, oldest first.
    #[must_use]
    pub fn documents(&self) -> Vec<String> {
        self.documents
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Removes and returns every document written so far.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(
            &mut *self
                .documents
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

impl MetricsSink for MemorySink {
    fn write_document(&self, document: &str) -> io::Result<()> {
        self.documents
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(document.to_owned());
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn writer_sink_writes_one_line_per_document() {
        let sink = WriterSink::new(Vec::new());
        sink.write_document("{\"a\":1}").unwrap();
        sink.write_document("{}").unwrap();
        assert_eq!(sink.into_inner(), b"{\"a\":1}\n{}\n");
    }

    #[test]
    fn memory_sink_clones_share_documents() {
        let sink = MemorySink::new();
        sink.clone().write_document("x").unwrap();
        assert_eq!(sink.documents(), vec!["x"]);
        assert_eq!(sink.take(), vec!["x"]);
        assert!(sink.documents().is_empty());
    }
}
