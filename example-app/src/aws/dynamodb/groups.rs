//! [`GroupStore`] on the groups table: conditional creates, consistent reads by id, and the
//! newest-first listing through `GroupsByTimeIndex`.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;

use super::{
    DynamoDbStore, GROUPS_BY_TIME_INDEX, checked_limit,
    item::{GROUPS_LISTING, Item, group_from_item, group_to_item, s},
};
use crate::{
    aws::{error::unavailable, page_key::PageKey},
    domain::{Group, Page, PageRequest},
    ports::{BoxFuture, GroupStore, PortError},
};

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

impl GroupStore for DynamoDbStore {
    fn create_group<'a>(&'a self, group: &'a Group) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            let result = self
                .client
                .put_item()
                .table_name(&self.tables.groups)
                .set_item(Some(group_to_item(group)))
                .condition_expression("attribute_not_exists(id)")
                .send()
                .await;
            match result {
                Ok(_) => Ok(()),
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    Err(PortError::AlreadyExists(group.id.clone()))
                }
                Err(error) => Err(unavailable("PutItem groups", &error)),
            }
        })
    }

    fn get_group<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Group>, PortError>> {
        Box::pin(async move {
            let output = self
                .client
                .get_item()
                .table_name(&self.tables.groups)
                .key("id", s(id))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| unavailable("GetItem groups", &e))?;
            output.item.as_ref().map(group_from_item).transpose()
        })
    }

    fn list_groups<'a>(
        &'a self,
        page: &'a PageRequest,
    ) -> BoxFuture<'a, Result<Page<Group>, PortError>> {
        Box::pin(async move {
            let limit = checked_limit(page)?;
            let after = page
                .next_key
                .as_deref()
                .map(|key| PageKey::decode(key, GROUPS_LISTING))
                .transpose()?;
            let query = self
                .client
                .query()
                .table_name(&self.tables.groups)
                .index_name(GROUPS_BY_TIME_INDEX)
                .key_condition_expression("#listing = :listing")
                .expression_attribute_names("#listing", "listing")
                .expression_attribute_values(":listing", s(GROUPS_LISTING))
                .scan_index_forward(false)
                .set_exclusive_start_key(after.map(|key| {
                    HashMap::from([
                        ("id".to_owned(), s(&key.id)),
                        ("listing".to_owned(), s(GROUPS_LISTING)),
                        ("createdKey".to_owned(), s(key.created_key())),
                    ])
                }));
            let items = query_up_to(query, limit as usize + 1, "Query groups").await?;
            let groups = items
                .iter()
                .map(group_from_item)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(into_page(groups, limit, |g: &Group| PageKey {
                listing: GROUPS_LISTING.to_owned(),
                timestamp: g.timestamp.clone(),
                id: g.id.clone(),
            }))
        })
    }
}
