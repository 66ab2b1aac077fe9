//! Reading a page: a query run until it has one item more than the page holds, and that
//! extra item turned into "there is a next page".

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;

use super::item::Item;
use crate::{aws::error::unavailable, ports::PortError};

/// Runs `query` (already holding its key condition, order and start key) until it has `want`
/// items or the partition ends: one response may hold fewer than `Limit` items (1 MB pages).
pub(super) async fn query_up_to(
    query: QueryFluentBuilder,
    want: usize,
    operation: &str,
) -> Result<Vec<Item>, PortError> {
    let mut items = Vec::with_capacity(want);
    let mut next = query;
    loop {
        let left = i32::try_from(want - items.len()).unwrap_or(i32::MAX);
        let output = next
            .clone()
            .limit(left)
            .send()
            .await
            .map_err(|e| unavailable(operation, &e))?;
        items.extend(output.items.unwrap_or_default());
        match output.last_evaluated_key {
            Some(last) if items.len() < want => {
                next = next.set_exclusive_start_key(Some(last));
            }
            _ => return Ok(items),
        }
    }
}
