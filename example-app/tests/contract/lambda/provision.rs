//! Udagram's AWS resources on moto, as the SAM template declares them: the three tables (the
//! Images table with its `NEW_IMAGE` stream), the images bucket, the uploads topic, the bucket's
//! `ObjectCreated` notification to the topic, and, standing in for the `process-upload`
//! function's SNS subscription, an SQS queue subscribed to the topic that the pump drains; and
//! the search index.

use aws_config::SdkConfig;
use aws_sdk_s3::types::{Event, NotificationConfiguration, TopicConfiguration};
use aws_sdk_sqs::types::QueueAttributeName;
use udagram::aws::{OpenSearchIndex, TableNames, create_tables};

pub const BUCKET: &str = "udagram-images";
/// `SEARCH_INDEX`.
pub const SEARCH_INDEX: &str = "images";

/// What was made, by name and ARN.
#[derive(Debug, Clone)]
pub struct Resources {
    pub tables: TableNames,
    pub bucket: String,
    pub topic_arn: String,
    pub queue_url: String,
    pub subscription_arn: String,
    pub stream_arn: String,
}

pub async fn provision(config: &SdkConfig) -> Resources {
    let tables = TableNames {
        groups: "udagram-groups".into(),
        images: "udagram-images".into(),
        connections: "udagram-connections".into(),
    };
    let dynamodb = aws_sdk_dynamodb::Client::new(config);
    create_tables(&dynamodb, &tables).await.unwrap();
    let described = dynamodb
        .describe_table()
        .table_name(&tables.images)
        .send()
        .await
        .unwrap();
    let stream_arn = described
        .table()
        .and_then(|table| table.latest_stream_arn())
        .expect("the Images table has a stream")
        .to_owned();

    let s3 = aws_sdk_s3::Client::new(config);
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    // Reads go to IMAGES_PUBLIC_URL without credentials: on AWS through the template's CloudFront
    // distribution, here straight from the bucket, which a policy opens for reading as the
    // distribution's origin access would (moto refuses anonymous reads otherwise).
    let public_read = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "PublicRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{BUCKET}/*"),
        }],
    });
    s3.put_bucket_policy()
        .bucket(BUCKET)
        .policy(public_read.to_string())
        .send()
        .await
        .unwrap();

    let sns = aws_sdk_sns::Client::new(config);
    let topic_arn = sns
        .create_topic()
        .name("udagram-uploads")
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_owned();

    let sqs = aws_sdk_sqs::Client::new(config);
    let queue_url = sqs
        .create_queue()
        .queue_name("udagram-process-upload")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .and_then(|attributes| attributes.get(&QueueAttributeName::QueueArn))
        .unwrap()
        .clone();
    let subscription_arn = sns
        .subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .unwrap()
        .subscription_arn()
        .unwrap()
        .to_owned();

    s3.put_bucket_notification_configuration()
        .bucket(BUCKET)
        .notification_configuration(
            NotificationConfiguration::builder()
                .topic_configurations(
                    TopicConfiguration::builder()
                        .id("uploads")
                        .topic_arn(&topic_arn)
                        .events(Event::from("s3:ObjectCreated:*"))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();

    Resources {
        tables,
        bucket: BUCKET.to_owned(),
        topic_arn,
        queue_url,
        subscription_arn,
        stream_arn,
    }
}

/// Creates the search index with its mapping, as a deployment step must: until the index exists,
/// every `GET /images?q=` fails with OpenSearch's `index_not_found_exception` (a 500), and only
/// `index-stream`'s init (on the first stream record) would create it.
pub async fn create_search_index(config: &SdkConfig, endpoint: &str) {
    OpenSearchIndex::new(endpoint.to_owned(), SEARCH_INDEX.to_owned(), config)
        .unwrap()
        .ensure_index()
        .await
        .unwrap();
}
