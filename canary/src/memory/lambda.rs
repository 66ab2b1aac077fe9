//! [`InMemoryLambda`]: functions, published versions, aliases and hook functions.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Mutex,
};

use super::{faults::Faults, lock};
use crate::ports::{
    AliasState, AliasStore, AliasUpdate, BoxFuture, HookInvoker, HookResponse, PortError,
    validate_alias_update,
};

#[derive(Debug, Default)]
struct Function {
    versions: BTreeSet<u64>,
    /// Whether `$LATEST` changed since the last publish (a publish of unchanged code returns the
    /// latest version, as Lambda does).
    code_changed: bool,
    aliases: BTreeMap<String, AliasState>,
}

#[derive(Debug, Default)]
struct Inner {
    functions: BTreeMap<String, Function>,
    hooks: BTreeMap<String, HookResponse>,
    invocations: Vec<(String, Vec<u8>)>,
    faults: Faults,
    writes: u64,
    /// The number of successful alias writes still to go before one loses its answer, and the
    /// error that answers it instead.
    crash_after: Option<(u64, PortError)>,
}

/// Lambda in memory: implements [`AliasStore`] and [`HookInvoker`].
///
/// It enforces what Lambda does: a write's `RevisionId` must be the alias's current one (each
/// write makes a new random revision), [`validate_alias_update`] passes, and every version it
/// names exists. Method names for [`calls`](Self::calls) and [`fail_next`](Self::fail_next) are
/// the trait methods': `get_alias`, `update_alias`, `version_exists`, `publish_version`, `invoke`.
#[derive(Debug, Default)]
pub struct InMemoryLambda {
    inner: Mutex<Inner>,
}

fn new_revision() -> String {
    let bits: u128 = rand::random();
    format!("{bits:032x}")
}

fn version_number(version: &str) -> Option<u64> {
    version.parse().ok()
}

impl InMemoryLambda {
    /// No functions yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates `function` (with only `$LATEST`).
    pub fn add_function(&self, function: &str) {
        lock(&self.inner)
            .functions
            .entry(function.to_owned())
            .or_insert_with(|| Function {
                code_changed: true,
                ..Function::default()
            });
    }

    /// Publishes a new version of `function` whatever its code, returning its number.
    ///
    /// # Panics
    /// When the function does not exist (a test mistake).
    pub fn add_version(&self, function: &str) -> String {
        let mut inner = lock(&self.inner);
        let Some(entry) = inner.functions.get_mut(function) else {
            panic!("add_version: no function {function}");
        };
        let next = entry.versions.last().copied().unwrap_or(0) + 1;
        entry.versions.insert(next);
        entry.code_changed = false;
        next.to_string()
    }

    /// Marks `$LATEST` as changed, so that the next publish makes a new version.
    pub fn change_code(&self, function: &str) {
        if let Some(entry) = lock(&self.inner).functions.get_mut(function) {
            entry.code_changed = true;
        }
    }

    /// Creates (or replaces) `alias` pointing at `version`, without routing.
    ///
    /// # Panics
    /// When the function does not exist (a test mistake).
    pub fn add_alias(&self, function: &str, alias: &str, version: &str, description: &str) {
        let mut inner = lock(&self.inner);
        let Some(entry) = inner.functions.get_mut(function) else {
            panic!("add_alias: no function {function}");
        };
        entry.aliases.insert(
            alias.to_owned(),
            AliasState {
                function_version: version.to_owned(),
                routing: None,
                description: description.to_owned(),
                revision_id: new_revision(),
            },
        );
    }

    /// The alias as stored, without counting a call.
    pub fn alias(&self, function: &str, alias: &str) -> Option<AliasState> {
        lock(&self.inner)
            .functions
            .get(function)?
            .aliases
            .get(alias)
            .cloned()
    }

    /// Edits the alias as a person would in the console: unconditionally, with a new revision.
    ///
    /// # Panics
    /// When the alias does not exist (a test mistake).
    pub fn edit_alias(&self, function: &str, alias: &str, update: AliasUpdate) {
        let mut inner = lock(&self.inner);
        let Some(state) = inner
            .functions
            .get_mut(function)
            .and_then(|entry| entry.aliases.get_mut(alias))
        else {
            panic!("edit_alias: no alias {function}:{alias}");
        };
        *state = AliasState {
            function_version: update.function_version,
            routing: update.routing,
            description: update.description,
            revision_id: new_revision(),
        };
    }

    /// Makes `function` a hook that answers `response` to every invocation.
    pub fn set_hook(&self, function: &str, response: HookResponse) {
        lock(&self.inner)
            .hooks
            .insert(function.to_owned(), response);
    }

    /// Every hook invocation so far: the function invoked and the payload sent.
    pub fn hook_invocations(&self) -> Vec<(String, Vec<u8>)> {
        lock(&self.inner).invocations.clone()
    }

    /// How many times `method` was called (failed calls included).
    pub fn calls(&self, method: &str) -> u64 {
        lock(&self.inner).faults.calls(method)
    }

    /// How many calls of any method were made.
    pub fn total_calls(&self) -> u64 {
        lock(&self.inner).faults.total()
    }

    /// Forgets the call counts (not the writes).
    pub fn reset_calls(&self) {
        lock(&self.inner).faults.reset_counts();
    }

    /// How many alias writes succeeded (including ones whose answer a crash lost).
    pub fn writes(&self) -> u64 {
        lock(&self.inner).writes
    }

    /// Makes the next `times` calls of `method` fail with `error`, before doing anything.
    pub fn fail_next(&self, method: &str, times: u32, error: PortError) {
        lock(&self.inner).faults.fail_next(method, times, error);
    }

    /// Makes the next successful alias write return [`PortError::Unavailable`] after applying
    /// it, the way a killed controller never learns that its write went through.
    pub fn crash_after_next_write(&self) {
        self.crash_after_writes(1);
    }

    /// Like [`crash_after_next_write`](Self::crash_after_next_write), for the `n`th successful
    /// write from now (1-based); 0 turns the switch off.
    pub fn crash_after_writes(&self, n: u64) {
        let error = PortError::Unavailable(
            "the connection dropped after the write was sent (simulated crash)".to_owned(),
        );
        lock(&self.inner).crash_after = (n > 0).then_some((n, error));
    }

    /// Applies the next successful alias write, then answers it with `412
    /// PreconditionFailedException` ([`PortError::Conflict`]): what the caller sees when the
    /// SDK retried an `UpdateAlias` whose first attempt AWS had applied (the retry carries a
    /// `RevisionId` that the first attempt moved).
    pub fn conflict_after_next_write(&self) {
        let error = PortError::Conflict(
            "PreconditionFailedException: the RevisionId moved (the retry of an applied write)"
                .to_owned(),
        );
        lock(&self.inner).crash_after = Some((1, error));
    }

    /// Deletes `function` with its versions and aliases, as `DeleteFunction` without a
    /// qualifier does.
    pub fn delete_function(&self, function: &str) {
        lock(&self.inner).functions.remove(function);
    }

    /// Deletes a published version, as `DeleteFunction` with a version qualifier does: refused
    /// ([`PortError::Conflict`]) while an alias points at it or routes to it, as Lambda refuses.
    pub fn delete_version(&self, function: &str, version: &str) -> Result<(), PortError> {
        let mut inner = lock(&self.inner);
        let entry = inner
            .functions
            .get_mut(function)
            .ok_or_else(|| PortError::NotFound(format!("function {function}")))?;
        let referenced = entry.aliases.values().any(|alias| {
            alias.function_version == version
                || alias
                    .routing
                    .as_ref()
                    .is_some_and(|routing| routing.version == version)
        });
        if referenced {
            return Err(PortError::Conflict(format!(
                "version {version} of {function} is referenced by an alias"
            )));
        }
        let number = version_number(version)
            .filter(|number| entry.versions.contains(number))
            .ok_or_else(|| PortError::NotFound(format!("version {version} of {function}")))?;
        entry.versions.remove(&number);
        Ok(())
    }

    fn apply_update(
        &self,
        function: &str,
        alias: &str,
        update: &AliasUpdate,
        expected_revision: &str,
    ) -> Result<AliasState, PortError> {
        let mut inner = lock(&self.inner);
        inner.faults.enter("update_alias")?;
        validate_alias_update(update)?;
        let entry = inner
            .functions
            .get_mut(function)
            .ok_or_else(|| PortError::NotFound(format!("function {function}")))?;
        let exists = |version: &str| {
            version == "$LATEST"
                || version_number(version).is_some_and(|number| entry.versions.contains(&number))
        };
        for version in std::iter::once(&update.function_version)
            .chain(update.routing.as_ref().map(|routing| &routing.version))
        {
            if !exists(version) {
                return Err(PortError::Rejected(format!(
                    "version {version} of {function} does not exist"
                )));
            }
        }
        let state = entry
            .aliases
            .get_mut(alias)
            .ok_or_else(|| PortError::NotFound(format!("alias {function}:{alias}")))?;
        if state.revision_id != expected_revision {
            return Err(PortError::Conflict(format!(
                "alias {function}:{alias} is at revision {}, not {expected_revision}",
                state.revision_id
            )));
        }
        *state = AliasState {
            function_version: update.function_version.clone(),
            routing: update.routing.clone(),
            description: update.description.clone(),
            revision_id: new_revision(),
        };
        let written = state.clone();
        inner.writes += 1;
        if let Some((remaining, error)) = inner.crash_after.take() {
            if remaining <= 1 {
                return Err(error);
            }
            inner.crash_after = Some((remaining - 1, error));
        }
        Ok(written)
    }
}

impl AliasStore for InMemoryLambda {
    fn get_alias<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
    ) -> BoxFuture<'a, Result<AliasState, PortError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            let mut inner = lock(&self.inner);
            inner.faults.enter("get_alias")?;
            let entry = inner
                .functions
                .get(function)
                .ok_or_else(|| PortError::NotFound(format!("function {function}")))?;
            entry
                .aliases
                .get(alias)
                .cloned()
                .ok_or_else(|| PortError::NotFound(format!("alias {function}:{alias}")))
        })
    }

    fn update_alias<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
        update: &'a AliasUpdate,
        expected_revision: &'a str,
    ) -> BoxFuture<'a, Result<AliasState, PortError>> {
        Box::pin(async move {
            // Yielding first lets two controllers on one runtime interleave, as they would on AWS.
            tokio::task::yield_now().await;
            self.apply_update(function, alias, update, expected_revision)
        })
    }

    fn version_exists<'a>(
        &'a self,
        function: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            let mut inner = lock(&self.inner);
            inner.faults.enter("version_exists")?;
            let entry = inner
                .functions
                .get(function)
                .ok_or_else(|| PortError::NotFound(format!("function {function}")))?;
            Ok(version == "$LATEST"
                || version_number(version).is_some_and(|number| entry.versions.contains(&number)))
        })
    }

    fn publish_version<'a>(
        &'a self,
        function: &'a str,
    ) -> BoxFuture<'a, Result<String, PortError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            let mut inner = lock(&self.inner);
            inner.faults.enter("publish_version")?;
            let entry = inner
                .functions
                .get_mut(function)
                .ok_or_else(|| PortError::NotFound(format!("function {function}")))?;
            let latest = entry.versions.last().copied();
            let version = match latest {
                Some(latest) if !entry.code_changed => latest,
                _ => {
                    let next = latest.unwrap_or(0) + 1;
                    entry.versions.insert(next);
                    next
                }
            };
            entry.code_changed = false;
            Ok(version.to_string())
        })
    }
}

impl HookInvoker for InMemoryLambda {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: &'a [u8],
    ) -> BoxFuture<'a, Result<HookResponse, PortError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            let mut inner = lock(&self.inner);
            inner.faults.enter("invoke")?;
            inner
                .invocations
                .push((function.to_owned(), payload.to_vec()));
            let name = function.split(':').next().unwrap_or(function);
            inner
                .hooks
                .get(function)
                .or_else(|| inner.hooks.get(name))
                .cloned()
                .ok_or_else(|| PortError::NotFound(format!("function {function}")))
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::ports::VersionWeight;

    fn lambda() -> InMemoryLambda {
        let lambda = InMemoryLambda::new();
        lambda.add_function("f");
        lambda.add_version("f");
        lambda.add_version("f");
        lambda.add_alias("f", "live", "1", "");
        lambda
    }

    fn update(primary: &str, routed: Option<(&str, f64)>) -> AliasUpdate {
        AliasUpdate {
            function_version: primary.to_owned(),
            routing: routed.map(|(version, weight)| VersionWeight {
                version: version.to_owned(),
                weight,
            }),
            description: "d".to_owned(),
        }
    }

    #[tokio::test]
    async fn writes_need_the_current_revision_and_move_it() {
        let lambda = lambda();
        let read = lambda.get_alias("f", "live").await.unwrap();
        let written = lambda
            .update_alias(
                "f",
                "live",
                &update("1", Some(("2", 0.1))),
                &read.revision_id,
            )
            .await
            .unwrap();
        assert_ne!(written.revision_id, read.revision_id);
        let stale = lambda
            .update_alias("f", "live", &update("2", None), &read.revision_id)
            .await;
        assert!(matches!(stale, Err(PortError::Conflict(_))));
        assert_eq!(lambda.writes(), 1);
        assert_eq!(lambda.calls("update_alias"), 2);
    }

    #[tokio::test]
    async fn invalid_or_unknown_versions_are_rejected() {
        let lambda = lambda();
        let revision = lambda.alias("f", "live").unwrap().revision_id;
        for bad in [
            update("3", None),
            update("1", Some(("3", 0.1))),
            update("1", Some(("1", 0.1))),
            update("1", Some(("2", 1.5))),
            update("x", None),
        ] {
            let result = lambda.update_alias("f", "live", &bad, &revision).await;
            assert!(matches!(result, Err(PortError::Rejected(_))), "{bad:?}");
        }
        assert_eq!(lambda.writes(), 0);
    }

    #[tokio::test]
    async fn a_crash_applies_the_write_but_loses_the_answer() {
        let lambda = lambda();
        lambda.crash_after_next_write();
        let revision = lambda.alias("f", "live").unwrap().revision_id;
        let result = lambda
            .update_alias("f", "live", &update("2", None), &revision)
            .await;
        assert!(matches!(result, Err(PortError::Unavailable(_))));
        assert_eq!(lambda.alias("f", "live").unwrap().function_version, "2");
    }

    #[tokio::test]
    async fn injected_failures_come_first_and_run_out() {
        let lambda = lambda();
        lambda.fail_next("get_alias", 2, PortError::Unavailable("down".into()));
        assert!(lambda.get_alias("f", "live").await.is_err());
        assert!(lambda.get_alias("f", "live").await.is_err());
        assert!(lambda.get_alias("f", "live").await.is_ok());
        assert_eq!(lambda.calls("get_alias"), 3);
    }

    #[tokio::test]
    async fn publishing_unchanged_code_returns_the_latest_version() {
        let lambda = lambda();
        assert_eq!(lambda.publish_version("f").await.unwrap(), "2");
        lambda.change_code("f");
        assert_eq!(lambda.publish_version("f").await.unwrap(), "3");
        assert!(lambda.version_exists("f", "3").await.unwrap());
        assert!(!lambda.version_exists("f", "4").await.unwrap());
    }
}
