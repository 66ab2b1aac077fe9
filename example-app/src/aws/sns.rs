//! [`EventBus`] on SNS: each [`ImageUploaded`] is published to the uploads topic as its JSON.
//!
//! On AWS the bucket's notifications publish S3 events to the same topic; this adapter is for
//! code that announces an upload itself (tests, tools, a re-drive).

use std::sync::Arc;

use aws_sdk_sns::Client;

use super::error::unavailable;
use crate::{
    domain::ImageUploaded,
    ports::{BoxFuture, EventBus, PortError},
};

/// The SNS adapter for upload events. Clones share the client.
#[derive(Debug, Clone)]
pub struct SnsEventBus {
    client: Client,
    topic_arn: Arc<str>,
}

impl SnsEventBus {
    /// Publishes to `topic_arn` (the template's `UPLOADS_TOPIC_ARN`) through `client`.
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into().into(),
        }
    }
}

impl EventBus for SnsEventBus {
    /// The message is the event's JSON (`{"imageId": ..., "size": ...}`).
    fn publish<'a>(&'a self, event: &'a ImageUploaded) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            let message = serde_json::to_string(event)
                .map_err(|e| PortError::Invalid(format!("event: {e}")))?;
            self.client
                .publish()
                .topic_arn(&*self.topic_arn)
                .message(message)
                .send()
                .await
                .map_err(|e| unavailable("Publish", &e))?;
            Ok(())
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use lamina_local::moto::MotoServer;

    use super::*;

    /// The message that lands in a subscribed queue (raw delivery) is the event's JSON.
    #[tokio::test]
    async fn events_are_published_as_json_to_the_topic() {
        let moto = MotoServer::start().await.unwrap();
        let sns = Client::new(moto.sdk_config());
        let sqs = aws_sdk_sqs::Client::new(moto.sdk_config());
        let topic = sns.create_topic().name("uploads").send().await.unwrap();
        let topic_arn = topic.topic_arn().unwrap();
        let queue = sqs.create_queue().queue_name("q").send().await.unwrap();
        let queue_url = queue.queue_url().unwrap();
        let queue_arn = "arn:aws:sqs:us-east-1:123456789012:q";
        let subscription = sns
            .subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .attributes("RawMessageDelivery", "true")
            .send()
            .await
            .unwrap();
        assert!(subscription.subscription_arn().is_some());
        let bus = SnsEventBus::new(sns.clone(), topic_arn);
        let event = ImageUploaded {
            image_id: "0b6f7c9e-3d1a-4f5e-9c2b-8a7d6e5f4c3b".into(),
            size: 1234,
        };
        bus.publish(&event).await.unwrap();
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .wait_time_seconds(2)
            .send()
            .await
            .unwrap();
        let messages = received.messages();
        assert_eq!(messages.len(), 1);
        let body = messages[0].body().unwrap();
        assert_eq!(serde_json::from_str::<ImageUploaded>(body).unwrap(), event);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(body).unwrap(),
            serde_json::json!({"imageId": event.image_id, "size": 1234})
        );
        let missing = SnsEventBus::new(sns, "arn:aws:sns:us-east-1:123456789012:nope");
        let Err(PortError::Unavailable(message)) = missing.publish(&event).await else {
            panic!("a missing topic is Unavailable");
        };
        assert!(message.contains("Publish"), "{message}");
    }
}
