//! [`InMemoryRecords`]: the rollout records, one document per function and alias.

use std::{collections::BTreeMap, sync::Mutex};

use super::{faults::Faults, lock};
use crate::ports::{BoxFuture, PortError, RecordStore};

#[derive(Debug, Default)]
struct Inner {
    documents: BTreeMap<(String, String), String>,
    faults: Faults,
    writes: u64,
}

/// Records in memory: implements [`RecordStore`]. Method names for [`calls`](Self::calls) and
/// [`fail_next`](Self::fail_next): `put_record`, `get_record`, `list_records`.
#[derive(Debug, Default)]
pub struct InMemoryRecords {
    inner: Mutex<Inner>,
}

impl InMemoryRecords {
    /// No records yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stored document, without counting a call.
    pub fn document(&self, function: &str, alias: &str) -> Option<String> {
        lock(&self.inner)
            .documents
            .get(&(function.to_owned(), alias.to_owned()))
            .cloned()
    }

    /// Stores a document directly, without counting a call.
    pub fn insert(&self, function: &str, alias: &str, document: &str) {
        lock(&self.inner)
            .documents
            .insert((function.to_owned(), alias.to_owned()), document.to_owned());
    }

    /// How many times `method` was called (failed calls included).
    pub fn calls(&self, method: &str) -> u64 {
        lock(&self.inner).faults.calls(method)
    }

    /// How many documents were stored through [`RecordStore::put_record`].
    pub fn writes(&self) -> u64 {
        lock(&self.inner).writes
    }

    /// Makes the next `times` calls of `method` fail with `error`.
    pub fn fail_next(&self, method: &str, times: u32, error: PortError) {
        lock(&self.inner).faults.fail_next(method, times, error);
    }
}

impl RecordStore for InMemoryRecords {
    fn put_record<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
        document: &'a str,
    ) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            let mut inner = lock(&self.inner);
            inner.faults.enter("put_record")?;
            inner
                .documents
                .insert((function.to_owned(), alias.to_owned()), document.to_owned());
            inner.writes += 1;
            Ok(())
        })
    }

    fn get_record<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, PortError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            let mut inner = lock(&self.inner);
            inner.faults.enter("get_record")?;
            Ok(inner
                .documents
                .get(&(function.to_owned(), alias.to_owned()))
                .cloned())
        })
    }

    fn list_records(&self) -> BoxFuture<'_, Result<Vec<(String, String)>, PortError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            let mut inner = lock(&self.inner);
            inner.faults.enter("list_records")?;
            Ok(inner.documents.keys().cloned().collect())
        })
    }
}
