//! The `orders` table (hash key `id`, a string) that the SDK and end-to-end tests write to.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};

/// Creates `orders` through `dynamodb` (inside whatever span is current, so a traced caller sees
/// the `CreateTable` call as a subsegment).
pub async fn create_orders_table(dynamodb: &aws_sdk_dynamodb::Client) {
    dynamodb
        .create_table()
        .table_name("orders")
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
}
