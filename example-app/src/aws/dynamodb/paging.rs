//! Reading a page: a query run until it has one item more than the page holds, and that
//! extra item turned into "there is a next page".

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;

use super::item::Item;
use crate::{aws::error::unavailable, domain::Page, page_key::PageKey, ports::PortError};

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

/// Turns `limit + 1` fetched items into a page, with a key made from the last item kept when
/// there are more (so the last page has no key, as in the embedded store).
pub(super) fn into_page<T>(
    mut items: Vec<T>,
    limit: u32,
    key_of: impl Fn(&T) -> PageKey,
) -> Page<T> {
    let limit = limit as usize;
    let next_key = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|last| key_of(last).encode())
    } else {
        None
    };
    Page { items, next_key }
}
