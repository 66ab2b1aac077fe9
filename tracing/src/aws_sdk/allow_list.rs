//! Which request and response members of an AWS call are recorded, per operation: the
//! JSON-bodied operations of DynamoDB and SQS from the Python X-Ray SDK's
//! `ext/resources/aws_para_whitelist.json`, with its snake_case names and its count/keys
//! descriptors. (Lambda's, SNS's and S3's fields come from the URI and headers; see
//! `request_fields` and `response_fields`.)

/// How a member's value is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Take {
    /// The value as it is (a string, number, boolean, array or object).
    Value,
    /// The keys of an object, as an array of strings (`get_keys`).
    Keys,
    /// The number of elements of an array, or of members of an object (`get_count`).
    Count,
}

/// One allow-listed member of a JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Param {
    /// The member's name in the body (`TableName`).
    pub(super) wire: &'static str,
    /// The `aws` field it becomes (`table_name`).
    pub(super) field: &'static str,
    /// How it is recorded.
    pub(super) take: Take,
}

const fn value(wire: &'static str, field: &'static str) -> Param {
    Param {
        wire,
        field,
        take: Take::Value,
    }
}

const fn keys(wire: &'static str, field: &'static str) -> Param {
    Param {
        wire,
        field,
        take: Take::Keys,
    }
}

const fn count(wire: &'static str, field: &'static str) -> Param {
    Param {
        wire,
        field,
        take: Take::Count,
    }
}

/// The allow-listed members of one operation's request and response bodies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Operation {
    /// Read from the serialized request body, besides the service-wide ones.
    pub(super) request: &'static [Param],
    /// Read from a successful response's body.
    pub(super) response: &'static [Param],
}

/// Recorded on every DynamoDB operation that has them.
pub(super) const DYNAMODB_ALWAYS: &[Param] = &[
    value("TableName", "table_name"),
    keys("RequestItems", "table_names"),
];

/// Recorded on every SQS operation that has it.
pub(super) const SQS_ALWAYS: &[Param] = &[value("QueueUrl", "queue_url")];

const CONSUMED: &[Param] = &[value("ConsumedCapacity", "consumed_capacity")];
const CONSUMED_AND_METRICS: &[Param] = &[
    value("ConsumedCapacity", "consumed_capacity"),
    value("ItemCollectionMetrics", "item_collection_metrics"),
];

/// The allow-list of `operation` (`Scan`) of `service` (the SDK's service name, any case);
/// empty for operations and services without one.
pub(super) fn operation(service: &str, operation: &str) -> Operation {
    let (request, response): (&[Param], &[Param]) = if service.eq_ignore_ascii_case("dynamodb") {
        match operation {
            "BatchGetItem" => (&[], CONSUMED),
            "BatchWriteItem" | "DeleteItem" | "PutItem" | "UpdateItem" => {
                (&[], CONSUMED_AND_METRICS)
            }
            "CreateTable" => (
                const {
                    &[
                        value("GlobalSecondaryIndexes", "global_secondary_indexes"),
                        value("LocalSecondaryIndexes", "local_secondary_indexes"),
                        value("ProvisionedThroughput", "provisioned_throughput"),
                    ]
                },
                &[],
            ),
            "GetItem" => (
                const {
                    &[
                        value("ConsistentRead", "consistent_read"),
                        value("ProjectionExpression", "projection_expression"),
                    ]
                },
                CONSUMED,
            ),
            "ListTables" => (
                const {
                    &[
                        value("ExclusiveStartTableName", "exclusive_start_table_name"),
                        value("Limit", "limit"),
                    ]
                },
                const { &[count("TableNames", "table_count")] },
            ),
            // The Python list has `Count` and `ScannedCount` on Scan only; Query answers both too.
            "Query" => (
                const {
                    &[
                        value("AttributesToGet", "attributes_to_get"),
                        value("ConsistentRead", "consistent_read"),
                        value("IndexName", "index_name"),
                        value("Limit", "limit"),
                        value("ProjectionExpression", "projection_expression"),
                        value("ScanIndexForward", "scan_index_forward"),
                        value("Select", "select"),
                    ]
                },
                SCAN_RESPONSE,
            ),
            "Scan" => (
                const {
                    &[
                        value("AttributesToGet", "attributes_to_get"),
                        value("ConsistentRead", "consistent_read"),
                        value("IndexName", "index_name"),
                        value("Limit", "limit"),
                        value("ProjectionExpression", "projection_expression"),
                        value("Segment", "segment"),
                        value("Select", "select"),
                        value("TotalSegments", "total_segments"),
                    ]
                },
                SCAN_RESPONSE,
            ),
            "UpdateTable" => (
                const {
                    &[
                        value("AttributeDefinitions", "attribute_definitions"),
                        value(
                            "GlobalSecondaryIndexUpdates",
                            "global_secondary_index_updates",
                        ),
                        value("ProvisionedThroughput", "provisioned_throughput"),
                    ]
                },
                &[],
            ),
            _ => (&[], &[]),
        }
    } else if service.eq_ignore_ascii_case("sqs") {
        match operation {
            "AddPermission" => (const { &[value("Label", "label")] }, &[]),
            "ChangeMessageVisibility" => (
                const { &[value("VisibilityTimeout", "visibility_timeout")] },
                &[],
            ),
            "ChangeMessageVisibilityBatch" | "DeleteMessageBatch" => {
                (&[], const { &[value("Failed", "failed")] })
            }
            "CreateQueue" => (
                const {
                    &[
                        value("Attributes", "attributes"),
                        value("QueueName", "queue_name"),
                    ]
                },
                &[],
            ),
            "GetQueueAttributes" => (&[], const { &[value("Attributes", "attributes")] }),
            "GetQueueUrl" => (
                const {
                    &[
                        value("QueueName", "queue_name"),
                        value("QueueOwnerAWSAccountId", "queue_owner_aws_account_id"),
                    ]
                },
                const { &[value("QueueUrl", "queue_url")] },
            ),
            "ListDeadLetterSourceQueues" => (&[], const { &[value("QueueUrls", "queue_urls")] }),
            "ListQueues" => (
                const { &[value("QueueNamePrefix", "queue_name_prefix")] },
                const { &[count("QueueUrls", "queue_count")] },
            ),
            "ReceiveMessage" => (
                const {
                    &[
                        value("AttributeNames", "attribute_names"),
                        value("MaxNumberOfMessages", "max_number_of_messages"),
                        value("MessageAttributeNames", "message_attribute_names"),
                        value("VisibilityTimeout", "visibility_timeout"),
                        value("WaitTimeSeconds", "wait_time_seconds"),
                    ]
                },
                const { &[count("Messages", "message_count")] },
            ),
            "SendMessage" => (
                const {
                    &[
                        value("DelaySeconds", "delay_seconds"),
                        keys("MessageAttributes", "message_attribute_names"),
                    ]
                },
                const { &[value("MessageId", "message_id")] },
            ),
            "SendMessageBatch" => (
                const { &[count("Entries", "message_count")] },
                const {
                    &[
                        count("Failed", "failed_count"),
                        count("Successful", "successful_count"),
                    ]
                },
            ),
            "SetQueueAttributes" => (const { &[keys("Attributes", "attribute_names")] }, &[]),
            _ => (&[], &[]),
        }
    } else {
        (&[], &[])
    };
    Operation { request, response }
}

const SCAN_RESPONSE: &[Param] = &[
    value("ConsumedCapacity", "consumed_capacity"),
    value("Count", "count"),
    value("ScannedCount", "scanned_count"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_looked_up_by_service_and_name() {
        let scan = operation("DynamoDB", "Scan");
        assert!(scan.request.contains(&value("IndexName", "index_name")));
        assert!(
            scan.response
                .contains(&value("ScannedCount", "scanned_count"))
        );
        assert_eq!(
            operation("sqs", "SendMessageBatch").request,
            &[count("Entries", "message_count")]
        );
        assert_eq!(operation("SQS", "Unknown"), Operation::default());
        assert_eq!(operation("S3", "Scan"), Operation::default());
    }

    #[test]
    fn field_names_are_snake_case() {
        let services = [
            (
                "DynamoDB",
                &[
                    "BatchGetItem",
                    "BatchWriteItem",
                    "CreateTable",
                    "DeleteItem",
                    "GetItem",
                    "ListTables",
                    "PutItem",
                    "Query",
                    "Scan",
                    "UpdateItem",
                    "UpdateTable",
                ][..],
            ),
            (
                "SQS",
                &[
                    "AddPermission",
                    "ChangeMessageVisibility",
                    "ChangeMessageVisibilityBatch",
                    "CreateQueue",
                    "DeleteMessageBatch",
                    "GetQueueAttributes",
                    "GetQueueUrl",
                    "ListDeadLetterSourceQueues",
                    "ListQueues",
                    "ReceiveMessage",
                    "SendMessage",
                    "SendMessageBatch",
                    "SetQueueAttributes",
                ][..],
            ),
        ];
        for (service, operations) in services {
            for name in operations {
                let found = operation(service, name);
                assert_ne!(found, Operation::default(), "{service} {name}");
                for param in found.request.iter().chain(found.response) {
                    assert!(
                        param
                            .field
                            .bytes()
                            .all(|byte| byte.is_ascii_lowercase() || byte == b'_'),
                        "{param:?}"
                    );
                }
            }
        }
    }
}
