//! An in-memory destination for log lines, for tests.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tracing_subscriber::fmt::MakeWriter;

/// A shared in-memory buffer that [`LogLayer::with_writer`](super::LogLayer::with_writer) can
/// write to; clones share the same bytes.
#[derive(Debug, Clone, Default)]
pub struct LogBuffer {
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl LogBuffer {
    /// An empty buffer.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        self.bytes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Everything written so far, as text (invalid UTF-8 replaced).
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.lock()).into_owned()
    }

    /// The lines written so far, without their line breaks.
    pub fn lines(&self) -> Vec<String> {
        self.contents().lines().map(str::to_owned).collect()
    }

    /// Each line parsed as JSON; a line that is not valid JSON is returned as the error.
    ///
    /// # Errors
    ///
    /// The first line that does not parse.
    pub fn json_lines(&self) -> Result<Vec<serde_json::Value>, String> {
        self.lines()
            .into_iter()
            .map(|line| serde_json::from_str(&line).map_err(|_| line))
            .collect()
    }

    /// Forgets everything written so far.
    pub fn clear(&self) {
        self.lock().clear();
    }
}

/// The writer handed out by [`LogBuffer`] for one line.
#[derive(Debug)]
pub struct LogBufferWriter {
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl io::Write for LogBufferWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogBuffer {
    type Writer = LogBufferWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LogBufferWriter {
            bytes: Arc::clone(&self.bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn clones_share_lines() {
        let buffer = LogBuffer::new();
        let clone = buffer.clone();
        let mut writer = clone.make_writer();
        assert!(writer.write_all(b"{\"a\":1}\nnot json\n").is_ok());
        assert_eq!(buffer.lines(), ["{\"a\":1}", "not json"]);
        assert_eq!(buffer.json_lines(), Err("not json".to_owned()));
        buffer.clear();
        assert_eq!(buffer.contents(), "");
    }
}
