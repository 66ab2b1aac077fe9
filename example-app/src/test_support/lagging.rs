//! [`LaggingImages`]: a real image store seen through a read path that lags, as a DynamoDB
//! global secondary index does.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::domain::{Image, Page, PageRequest};
use crate::ports::{BoxFuture, ImageCatalog, ImageStore, PortError};

/// Wraps a real [`ImageStore`]: for `lag` reads of an image id after each write through the
/// wrapper, [`ImageStore::get_image`] answers what it answered before that write (nothing after a
/// create, the pending record after `mark_ready`). Writes and listings go straight through.
#[derive(Debug)]
pub(crate) struct LaggingImages<S> {
    inner: S,
    lag: u32,
    /// By image id: what reads still see, and for how many more reads.
    stale: Mutex<HashMap<String, (Option<Image>, u32)>>,
}

impl<S: ImageStore> LaggingImages<S> {
    pub(crate) fn new(inner: S, lag: u32) -> Self {
        Self {
            inner,
            lag,
            stale: Mutex::default(),
        }
    }

    /// How many reads of `image_id` will still see an older state.
    pub(crate) fn lagging_reads(&self, image_id: &str) -> u32 {
        self.stale
            .lock()
            .unwrap()
            .get(image_id)
            .map_or(0, |(_, left)| *left)
    }

    fn hide(&self, image_id: &str, seen: Option<Image>) {
        self.stale
            .lock()
            .unwrap()
            .insert(image_id.to_owned(), (seen, self.lag));
    }
}

impl<S: ImageCatalog> ImageCatalog for LaggingImages<S> {
    fn create_image<'a>(&'a self, image: &'a Image) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            self.inner.create_image(image).await?;
            self.hide(&image.image_id, None);
            Ok(())
        })
    }
}

impl<S: ImageStore> ImageStore for LaggingImages<S> {
    fn get_image<'a>(
        &'a self,
        image_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Image>, PortError>> {
        Box::pin(async move {
            let stale = {
                let mut stale = self.stale.lock().unwrap();
                match stale.get_mut(image_id) {
                    Some((seen, left)) if *left > 0 => {
                        *left -= 1;
                        Some(seen.clone())
                    }
                    _ => None,
                }
            };
            match stale {
                Some(seen) => Ok(seen),
                None => self.inner.get_image(image_id).await,
            }
        })
    }

    fn list_images<'a>(
        &'a self,
        group_id: &'a str,
        page: &'a PageRequest,
    ) -> BoxFuture<'a, Result<Page<Image>, PortError>> {
        self.inner.list_images(group_id, page)
    }

    fn mark_ready<'a>(
        &'a self,
        image: &'a Image,
        thumbnail_url: &'a str,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        Box::pin(async move {
            let before = self.inner.get_image(&image.image_id).await?;
            let changed = self.inner.mark_ready(image, thumbnail_url).await?;
            if changed {
                self.hide(&image.image_id, before);
            }
            Ok(changed)
        })
    }
}
