//! [`EventBus`] in process: a bounded tokio channel whose receiver goes to whoever drains it
//! (the upload processor's background task in `serve`).

use tokio::sync::mpsc;

use crate::{
    domain::ImageUploaded,
    ports::{BoxFuture, EventBus, PortError},
};

/// How many events may wait before [`ChannelBus::publish`] waits for the consumer.
pub const DEFAULT_CAPACITY: usize = 1024;

/// The in-process event bus: clone it freely; every clone feeds the same receiver.
#[derive(Debug, Clone)]
pub struct ChannelBus {
    sender: mpsc::Sender<ImageUploaded>,
}

impl ChannelBus {
    /// A bus holding up to [`DEFAULT_CAPACITY`] unconsumed events, and its receiver.
    pub fn new() -> (ChannelBus, mpsc::Receiver<ImageUploaded>) {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// A bus holding up to `capacity` (at least 1) unconsumed events, and its receiver.
    pub fn with_capacity(capacity: usize) -> (ChannelBus, mpsc::Receiver<ImageUploaded>) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        (ChannelBus { sender }, receiver)
    }
}

impl EventBus for ChannelBus {
    /// Waits for room when the consumer is behind (back-pressure rather than loss);
    /// [`PortError::Unavailable`] once the receiver is dropped.
    fn publish<'a>(&'a self, event: &'a ImageUploaded) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            self.sender
                .send(event.clone())
                .await
                .map_err(|_| PortError::Unavailable("the event consumer has stopped".into()))
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_reach_the_receiver_in_order_until_it_is_dropped() {
        let (bus, mut rx) = ChannelBus::new();
        let event = |n| ImageUploaded {
            image_id: format!("id-{n}"),
            size: n,
        };
        bus.publish(&event(1)).await.unwrap();
        bus.clone().publish(&event(2)).await.unwrap();
        assert_eq!(rx.recv().await, Some(event(1)));
        assert_eq!(rx.recv().await, Some(event(2)));
        drop(rx);
        assert!(matches!(
            bus.publish(&event(3)).await,
            Err(PortError::Unavailable(_))
        ));
    }
}
