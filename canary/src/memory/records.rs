//! [`InMemoryRecords`]: the rollout records, one document per rollout, create-only.

use std::{collections::BTreeMap, sync::Mutex};

use super::{faults::Faults, lock};
use crate::ports::{BoxFuture, PortError, RecordStore};

/// A record's key: function, alias, rollout id.
type Key = (String, String, String);

#[derive(Debug, Default)]
struct Inner {
    documents: BTreeMap<Key, String>,
    outcomes: BTreeMap<Key, String>,
    faults: Faults,
    writes: u64,
}

fn key(function: &str, alias: &str, id: &str) -> Key {
    (function.to_owned(), alias.to_owned(), id.to_owned())
}

/// Records in memory: implements [`RecordStore`], refusing to replace a record as SSM's
/// `PutParameter` with `Overwrite=false` does. Method names for [`calls`](Self::calls) and
/// [`fail_next`](Self::fail_next): `create_record`, `get_record`, `create_outcome`, `get_outcome`,
/// `history`, `list_records`, `delete_records`.
#[derive(Debug, Default)]
pub struct InMemoryRecords {
    inner: Mutex<Inner>,
}

impl InMemoryRecords {
    /// No records yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stored record of rollout `id`, without counting a call.
    pub fn document(&self, function: &str, alias: &str, id: &str) -> Option<String> {
        lock(&self.inner)
            .documents
            .get(&key(function, alias, id))
            .cloned()
    }

    /// The stored outcome of rollout `id`, without counting a call.
    pub fn outcome(&self, function: &str, alias: &str, id: &str) -> Option<String> {
        lock(&self.inner)
            .outcomes
            .get(&key(function, alias, id))
            .cloned()
    }

    /// The ids of the records stored for `function`'s `alias`, without counting a call.
    pub fn ids(&self, function: &str, alias: &str) -> Vec<String> {
        lock(&self.inner)
            .documents
            .keys()
            .filter(|(f, a, _)| f == function && a == alias)
            .map(|(_, _, id)| id.clone())
            .collect()
    }

    /// Stores a document directly (replacing any), without counting a call.
    pub fn insert(&self, function: &str, alias: &str, id: &str, document: &str) {
        lock(&self.inner)
            .documents
            .insert(key(function, alias, id), document.to_owned());
    }

    /// How many times `method` was called (failed calls included).
    pub fn calls(&self, method: &str) -> u64 {
        lock(&self.inner).faults.calls(method)
    }

    /// How many documents were stored through [`RecordStore::create_record`].
    pub fn writes(&self) -> u64 {
        lock(&self.inner).writes
    }

    /// Makes the next `times` calls of `method` fail with `error`.
    pub fn fail_next(&self, method: &str, times: u32, error: PortError) {
        lock(&self.inner).faults.fail_next(method, times, error);
    }
}

impl RecordStore for InMemoryRecords {
    fn create_record<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
        id: &'a str,
        document: &'a str,
    ) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            let mut inner = lock(&self.inner);
            inner.faults.enter("create_record")?;
            let key = key(function, alias, id);
            if inner.documents.contains_key(&key) {
                return Err(PortError::Conflict(format!(
                    "the record of rollout {id} on {function}:{alias} already exists"
                )));
            }
            inner.documents.insert(key, document.to_owned());
            inner.writes += 1;
            Ok(())
        })
    }

    fn get_record<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, PortError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            let mut inner = lock(&self.inner);
            inner.faults.enter("get_record")?;
            Ok(inner.documents.get(&key(function, alias, id)).cloned())
        })
    }

    fn create_outcome<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
        id: &'a str,
        document: &'a str,
    ) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            let mut inner = lock(&self.inner);
            inner.faults.enter("create_outcome")?;
            let key = key(function, alias, id);
            if inner.outcomes.contains_key(&key) {
                return Err(PortError::Conflict(format!(
                    "the outcome of rollout {id} on {function}:{alias} already exists"
                )));
            }
            inner.outcomes.insert(key, document.to_owned());
            Ok(())
        })
    }

    fn get_outcome<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, PortError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            let mut inner = lock(&self.inner);
            inner.faults.enter("get_outcome")?;
            Ok(inner.outcomes.get(&key(function, alias, id)).cloned())
        })
    }

    fn history<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, String)>, PortError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            let mut inner = lock(&self.inner);
            inner.faults.enter("history")?;
            Ok(inner
                .documents
                .iter()
                .filter(|((f, a, _), _)| f == function && a == alias)
                .map(|((_, _, id), document)| (id.clone(), document.clone()))
                .collect())
        })
    }

    fn list_records(&self) -> BoxFuture<'_, Result<Vec<(String, String)>, PortError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            let mut inner = lock(&self.inner);
            inner.faults.enter("list_records")?;
            let mut keys: Vec<(String, String)> = inner
                .documents
                .keys()
                .map(|(function, alias, _)| (function.clone(), alias.clone()))
                .collect();
            keys.dedup();
            Ok(keys)
        })
    }

    fn delete_records<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
    ) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            let mut inner = lock(&self.inner);
            inner.faults.enter("delete_records")?;
            inner
                .documents
                .retain(|(f, a, _), _| !(f == function && a == alias));
            inner
                .outcomes
                .retain(|(f, a, _), _| !(f == function && a == alias));
            Ok(())
        })
    }
}
