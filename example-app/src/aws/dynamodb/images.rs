//! [`ImageStore`] on the images table: a group's images newest first on the table itself, an
//! image by id through `ImageIdIndex`, conditional creates and a conditional `mark_ready`.

use std::collections::HashMap;

use aws_sdk_dynamodb::{
    operation::{transact_write_items::TransactWriteItemsError, update_item::UpdateItemError},
    types::{ConditionCheck, Put, TransactWriteItem},
};

use super::{
    DynamoDbImages, GroupsTable, IMAGE_ID_INDEX,
    item::{Item, created_key, image_from_item, image_to_item, s, status_text},
    paging::query_up_to,
    written_unless_condition_failed,
};
use crate::{
    aws::error::unavailable,
    domain::{Image, ImageStatus, Page, PageRequest},
    page_key::{PageKey, checked_limit, into_page},
    ports::{BoxFuture, ImageCatalog, ImageStore, PortError},
};

fn listing(group_id: &str) -> String {
    format!("images:{group_id}")
}

fn invalid_request(error: impl std::fmt::Display) -> PortError {
    PortError::Invalid(format!("request: {error}"))
}

impl<G> DynamoDbImages<G> {
    /// The stored item of image `image_id`, found through `ImageIdIndex`.
    async fn image_item(&self, image_id: &str) -> Result<Option<Item>, PortError> {
        let query = self
            .client
            .query()
            .table_name(&*self.table)
            .index_name(IMAGE_ID_INDEX)
            .key_condition_expression("imageId = :id")
            .expression_attribute_values(":id", s(image_id));
        let items = query_up_to(query, 1, "Query ImageIdIndex").await?;
        Ok(items.into_iter().next())
    }

    /// Maps the cancellation of the create transaction: its first action checks the group, its
    /// second puts the image.
    fn create_image_error(
        &self,
        image: &Image,
        error: &aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError, impl std::fmt::Debug>,
    ) -> PortError {
        let failed = |index: usize| {
            error
                .as_service_error()
                .and_then(|e| match e {
                    TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                        cancelled.cancellation_reasons().get(index)
                    }
                    _ => None,
                })
                .and_then(|reason| reason.code())
                == Some("ConditionalCheckFailed")
        };
        if failed(0) {
            PortError::Invalid(format!("group {} does not exist", image.group_id))
        } else if failed(1) {
            PortError::AlreadyExists(image.image_id.clone())
        } else {
            unavailable("TransactWriteItems images", error)
        }
    }
}

impl ImageCatalog for DynamoDbImages<GroupsTable> {
    /// The image id must be new in the whole table: the conditional put only guards the
    /// item's own key, so the image-id index is read first. That read is eventually
    /// consistent; image ids are fresh UUIDs, so the window only matters to a caller that
    /// reuses ids on purpose.
    fn create_image<'a>(&'a self, image: &'a Image) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            if self.image_item(&image.image_id).await?.is_some() {
                return Err(PortError::AlreadyExists(image.image_id.clone()));
            }
            let group_exists = ConditionCheck::builder()
                .table_name(&*self.groups_table.0)
                .key("id", s(&image.group_id))
                .condition_expression("attribute_exists(id)")
                .build()
                .map_err(invalid_request)?;
            let put = Put::builder()
                .table_name(&*self.table)
                .set_item(Some(image_to_item(image)?))
                .condition_expression("attribute_not_exists(createdKey)")
                .build()
                .map_err(invalid_request)?;
            let result = self
                .client
                .transact_write_items()
                .transact_items(
                    TransactWriteItem::builder()
                        .condition_check(group_exists)
                        .build(),
                )
                .transact_items(TransactWriteItem::builder().put(put).build())
                .send()
                .await;
            match result {
                Ok(_) => Ok(()),
                Err(error) => Err(self.create_image_error(image, &error)),
            }
        })
    }
}

impl<G: Send + Sync + std::fmt::Debug> ImageStore for DynamoDbImages<G> {
    /// Through `ImageIdIndex`, whose reads are eventually consistent: a record is usually found
    /// within a moment of its creation, but not always before its upload lands, so the upload
    /// processor retries a miss (see [`crate::events`]). Only the index knows which key an
    /// image id has; everything after this read uses that key on the table itself.
    fn get_image<'a>(
        &'a self,
        image_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Image>, PortError>> {
        Box::pin(async move {
            self.image_item(image_id)
                .await?
                .as_ref()
                .map(image_from_item)
                .transpose()
        })
    }

    fn list_images<'a>(
        &'a self,
        group_id: &'a str,
        page: &'a PageRequest,
    ) -> BoxFuture<'a, Result<Page<Image>, PortError>> {
        Box::pin(async move {
            let limit = checked_limit(page)?;
            let listing = listing(group_id);
            let after = page
                .next_key
                .as_deref()
                .map(|key| PageKey::decode(key, &listing))
                .transpose()?;
            let query = self
                .client
                .query()
                .table_name(&*self.table)
                .key_condition_expression("groupId = :group")
                .expression_attribute_values(":group", s(group_id))
                .scan_index_forward(false)
                .consistent_read(true)
                .set_exclusive_start_key(after.map(|key| {
                    HashMap::from([
                        ("groupId".to_owned(), s(group_id)),
                        ("createdKey".to_owned(), s(key.created_key())),
                    ])
                }));
            let items = query_up_to(query, limit as usize + 1, "Query images").await?;
            let images = items
                .iter()
                .map(image_from_item)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(into_page(images, limit, |i: &Image| PageKey {
                listing: listing.clone(),
                timestamp: i.timestamp.clone(),
                id: i.image_id.clone(),
            }))
        })
    }

    /// `false` when the image is missing or no longer pending: the update is conditional on
    /// `status = pending`, so two deliveries of the same event change the item once. The item is
    /// addressed by its key on the table itself (`groupId`, `createdKey`), never found through
    /// `ImageIdIndex`: a lagging index must not turn a pending image into one that looks gone.
    fn mark_ready<'a>(
        &'a self,
        image: &'a Image,
        thumbnail_url: &'a str,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        Box::pin(async move {
            let result = self
                .client
                .update_item()
                .table_name(&*self.table)
                .key("groupId", s(&image.group_id))
                .key(
                    "createdKey",
                    s(created_key(&image.timestamp, &image.image_id)),
                )
                .update_expression("SET #status = :ready, thumbnailUrl = :thumbnail")
                .condition_expression("attribute_exists(createdKey) AND #status = :pending")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":ready", s(status_text(ImageStatus::Ready)))
                .expression_attribute_values(":pending", s(status_text(ImageStatus::Pending)))
                .expression_attribute_values(":thumbnail", s(thumbnail_url))
                .send()
                .await;
            written_unless_condition_failed(
                result,
                UpdateItemError::is_conditional_check_failed_exception,
                "UpdateItem images",
            )
        })
    }
}
