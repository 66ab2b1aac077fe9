//! [`GroupStore`] on the groups table: conditional creates, consistent reads by id, and the
//! newest-first listing through `GroupsByTimeIndex`.

use std::collections::HashMap;

use super::{
    DynamoDbGroups, GROUPS_BY_TIME_INDEX,
    item::{GROUPS_LISTING, group_from_item, group_to_item, s},
    paging::query_up_to,
    put_new,
};
use crate::{
    aws::error::unavailable,
    domain::{Group, Page, PageRequest},
    page_key::{PageKey, checked_limit, into_page},
    ports::{BoxFuture, GroupStore, PortError},
};

impl GroupStore for DynamoDbGroups {
    fn create_group<'a>(&'a self, group: &'a Group) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            let item = group_to_item(group)?;
            if put_new(&self.client, &self.table, item, "PutItem groups").await? {
                Ok(())
            } else {
                Err(PortError::AlreadyExists(group.id.clone()))
            }
        })
    }

    fn get_group<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Group>, PortError>> {
        Box::pin(async move {
            let output = self
                .client
                .get_item()
                .table_name(&*self.table)
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
                .table_name(&*self.table)
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
