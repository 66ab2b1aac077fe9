//! The DynamoDB adapters through the port traits, against a real `moto_server` (one per test),
//! and (in `mocked`) their error mapping with `aws-smithy-mocks` where moto cannot fail.

use aws_sdk_dynamodb::types::{BillingMode, ProjectionType, StreamViewType};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use lamina_local::moto::MotoServer;

use super::*;
use crate::{
    domain::{Connection, Group, Image, ImageStatus, PageRequest},
    ports::{ConnectionStore, GroupStore, ImageCatalog, ImageStore},
};

fn tables() -> TableNames {
    TableNames {
        groups: "Groups-test".into(),
        images: "Images-test".into(),
        connections: "Connections-test".into(),
    }
}

/// The three adapters over one client, as the functions that have all three tables would be.
struct Stores {
    client: aws_sdk_dynamodb::Client,
    groups: DynamoDbGroups,
    images: DynamoDbImages<GroupsTable>,
    connections: DynamoDbConnections,
}

fn stores(client: aws_sdk_dynamodb::Client) -> Stores {
    let tables = tables();
    Stores {
        groups: DynamoDbGroups::new(client.clone(), tables.groups.clone()),
        images: DynamoDbImages::new(client.clone(), tables.images).with_groups_table(tables.groups),
        connections: DynamoDbConnections::new(client.clone(), tables.connections),
        client,
    }
}

async fn store() -> (MotoServer, Stores) {
    let moto = MotoServer::start().await.unwrap();
    let client = aws_sdk_dynamodb::Client::new(moto.sdk_config());
    create_tables(&client, &tables()).await.unwrap();
    (moto, stores(client))
}

fn uuid(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// Timestamps with milliseconds; `n` seconds after a fixed start.
fn at(n: u32) -> String {
    format!(
        "2026-01-01T{:02}:{:02}:{:02}.000Z",
        n / 3600,
        n / 60 % 60,
        n % 60
    )
}

fn group(n: u32, second: u32) -> Group {
    Group {
        id: uuid(n),
        user_id: "alice".into(),
        name: format!("group {n}"),
        description: "d".into(),
        timestamp: at(second),
    }
}

fn image(n: u32, group_id: &str, second: u32) -> Image {
    Image {
        image_id: uuid(1000 + n),
        group_id: group_id.into(),
        user_id: "bob".into(),
        title: format!("image {n}"),
        timestamp: at(second),
        status: ImageStatus::Pending,
        image_url: format!("https://example.com/{}", uuid(1000 + n)),
        thumbnail_url: None,
    }
}

async fn all_groups(store: &Stores, limit: u32) -> (Vec<Group>, Vec<usize>) {
    let (mut all, mut sizes) = (Vec::new(), Vec::new());
    let mut page = PageRequest {
        limit,
        next_key: None,
    };
    loop {
        let got = store.groups.list_groups(&page).await.unwrap();
        sizes.push(got.items.len());
        all.extend(got.items);
        match got.next_key {
            Some(key) => page.next_key = Some(key),
            None => return (all, sizes),
        }
    }
}

#[tokio::test]
async fn tables_follow_the_data_model_and_creating_them_twice_is_fine() {
    let (moto, _stores) = store().await;
    let client = aws_sdk_dynamodb::Client::new(moto.sdk_config());
    create_tables(&client, &tables()).await.unwrap();
    let describe = |name: String| {
        let client = client.clone();
        async move {
            client
                .describe_table()
                .table_name(name)
                .send()
                .await
                .unwrap()
                .table
                .unwrap()
        }
    };
    let groups = describe(tables().groups).await;
    let gsi = &groups.global_secondary_indexes()[0];
    assert_eq!(gsi.index_name(), Some(GROUPS_BY_TIME_INDEX));
    let keys: Vec<_> = gsi
        .key_schema()
        .iter()
        .map(|k| k.attribute_name())
        .collect();
    assert_eq!(keys, ["listing", "createdKey"]);
    assert_eq!(
        gsi.projection().unwrap().projection_type(),
        Some(&ProjectionType::All)
    );
    let images = describe(tables().images).await;
    let keys: Vec<_> = images
        .key_schema()
        .iter()
        .map(|k| k.attribute_name())
        .collect();
    assert_eq!(keys, ["groupId", "createdKey"]);
    assert_eq!(
        images.global_secondary_indexes()[0].index_name(),
        Some(IMAGE_ID_INDEX)
    );
    let stream = images.stream_specification().unwrap();
    assert!(stream.stream_enabled());
    assert_eq!(stream.stream_view_type(), Some(&StreamViewType::NewImage));
    for table in [&groups, &images, &describe(tables().connections).await] {
        assert_eq!(
            table.billing_mode_summary().and_then(|b| b.billing_mode()),
            Some(&BillingMode::PayPerRequest)
        );
    }
}

#[tokio::test]
async fn groups_are_created_once_and_stored_with_their_listing_keys() {
    let (moto, store) = store().await;
    let g = group(1, 10);
    store.groups.create_group(&g).await.unwrap();
    assert_eq!(
        store.groups.get_group(&g.id).await.unwrap(),
        Some(g.clone())
    );
    assert_eq!(store.groups.get_group(&uuid(2)).await.unwrap(), None);
    let mut again = g.clone();
    again.name = "other".into();
    assert_eq!(
        store.groups.create_group(&again).await,
        Err(PortError::AlreadyExists(g.id.clone()))
    );
    assert_eq!(
        store.groups.get_group(&g.id).await.unwrap(),
        Some(g.clone())
    );
    // The raw item: what the template's index and other readers rely on.
    let raw = aws_sdk_dynamodb::Client::new(moto.sdk_config())
        .get_item()
        .table_name(tables().groups)
        .key("id", item::s(&g.id))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(raw["listing"].as_s().unwrap(), "groups");
    assert_eq!(
        raw["createdKey"].as_s().unwrap(),
        &format!("{}#{}", g.timestamp, g.id)
    );
}

#[tokio::test]
async fn groups_page_newest_first_across_pages() {
    let (_moto, store) = store().await;
    // 45 groups stored out of order; groups 40..45 share one timestamp (ties go by id).
    let mut groups: Vec<Group> = (0..45).map(|n| group(n, n.min(40))).collect();
    for n in [7, 44, 0, 41, 13] {
        store.groups.create_group(&groups[n]).await.unwrap();
    }
    for (n, g) in groups.iter().enumerate() {
        if ![7, 44, 0, 41, 13].contains(&n) {
            store.groups.create_group(g).await.unwrap();
        }
    }
    groups.sort_by(|a, b| (&b.timestamp, &b.id).cmp(&(&a.timestamp, &a.id)));
    let (listed, sizes) = all_groups(&store, 20).await;
    assert_eq!(sizes, [20, 20, 5]);
    assert_eq!(listed, groups, "newest first, ties by id descending");
    let (listed, sizes) = all_groups(&store, 45).await;
    assert_eq!(
        (listed.len(), sizes),
        (45, vec![45]),
        "no key on an exact last page"
    );
    assert!(matches!(
        store
            .groups
            .list_groups(&PageRequest {
                limit: 0,
                next_key: None
            })
            .await,
        Err(PortError::Invalid(_))
    ));
    assert!(matches!(
        store
            .groups
            .list_groups(&PageRequest {
                limit: 101,
                next_key: None
            })
            .await,
        Err(PortError::Invalid(_))
    ));
}

#[tokio::test]
async fn forged_and_foreign_page_keys_are_invalid_page_keys() {
    let (_moto, store) = store().await;
    let g = group(1, 1);
    store.groups.create_group(&g).await.unwrap();
    let other = group(2, 2);
    store.groups.create_group(&other).await.unwrap();
    for n in 0..3 {
        store
            .images
            .create_image(&image(n, &g.id, n))
            .await
            .unwrap();
    }
    let images_key = store
        .images
        .list_images(
            &g.id,
            &PageRequest {
                limit: 1,
                next_key: None,
            },
        )
        .await
        .unwrap()
        .next_key
        .unwrap();
    let groups_key = store
        .groups
        .list_groups(&PageRequest {
            limit: 1,
            next_key: None,
        })
        .await
        .unwrap()
        .next_key
        .unwrap();
    let json = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let forged = [
        "garbage".to_owned(),
        "%%%".to_owned(),
        String::new(),
        json(serde_json::json!({"l": "groups", "t": at(1), "i": "x\"}"})),
        json(serde_json::json!({"l": "groups", "t": {"S": "x"}, "i": uuid(1)})),
        json(serde_json::json!({"id": {"S": uuid(1)}})),
    ];
    let page = |key: &str| PageRequest {
        limit: 5,
        next_key: Some(key.to_owned()),
    };
    for key in forged.iter().chain([&images_key]) {
        assert!(
            matches!(
                store.groups.list_groups(&page(key)).await,
                Err(PortError::InvalidPageKey(_))
            ),
            "groups with {key}"
        );
    }
    for key in forged.iter().chain([&groups_key]) {
        assert!(
            matches!(
                store.images.list_images(&g.id, &page(key)).await,
                Err(PortError::InvalidPageKey(_))
            ),
            "images with {key}"
        );
    }
    assert!(
        matches!(
            store
                .images
                .list_images(&other.id, &page(&images_key))
                .await,
            Err(PortError::InvalidPageKey(_))
        ),
        "a key of another group's listing"
    );
    // The real keys work, and continue where the page stopped.
    let rest = store
        .images
        .list_images(&g.id, &page(&images_key))
        .await
        .unwrap();
    let titles: Vec<_> = rest.items.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles, ["image 1", "image 0"]);
    let rest = store.groups.list_groups(&page(&groups_key)).await.unwrap();
    assert_eq!(rest.items, [g]);
}

#[tokio::test]
async fn images_are_created_once_listed_per_group_newest_first_and_found_by_id() {
    let (_moto, store) = store().await;
    let (g, other) = (group(1, 1), group(2, 2));
    store.groups.create_group(&g).await.unwrap();
    store.groups.create_group(&other).await.unwrap();
    let mut mine: Vec<Image> = (0..25).map(|n| image(n, &g.id, (n * 7) % 25)).collect();
    for i in &mine {
        store.images.create_image(i).await.unwrap();
    }
    store
        .images
        .create_image(&image(99, &other.id, 50))
        .await
        .unwrap();
    assert_eq!(
        store.images.create_image(&mine[3]).await,
        Err(PortError::AlreadyExists(mine[3].image_id.clone()))
    );
    let mut same_id_later = mine[4].clone();
    same_id_later.timestamp = at(3000);
    assert_eq!(
        store.images.create_image(&same_id_later).await,
        Err(PortError::AlreadyExists(mine[4].image_id.clone())),
        "an image id is unique across the table, not only per key"
    );
    let orphan = image(100, &uuid(77), 1);
    assert!(matches!(
        store.images.create_image(&orphan).await,
        Err(PortError::Invalid(_))
    ));
    assert_eq!(
        store.images.get_image(&orphan.image_id).await.unwrap(),
        None
    );

    assert_eq!(
        store.images.get_image(&mine[5].image_id).await.unwrap(),
        Some(mine[5].clone())
    );
    mine.sort_by(|a, b| b.timestamp.cmp(&a.timestamp));
    let mut listed = Vec::new();
    let mut page = PageRequest {
        limit: 10,
        next_key: None,
    };
    let mut sizes = Vec::new();
    loop {
        let got = store.images.list_images(&g.id, &page).await.unwrap();
        sizes.push(got.items.len());
        listed.extend(got.items);
        match got.next_key {
            Some(key) => page.next_key = Some(key),
            None => break,
        }
    }
    assert_eq!(sizes, [10, 10, 5]);
    assert_eq!(listed, mine);
    let empty = store
        .images
        .list_images(&uuid(55), &PageRequest::default())
        .await
        .unwrap();
    assert_eq!((empty.items.len(), empty.next_key), (0, None));
}

#[tokio::test]
async fn mark_ready_changes_a_pending_image_once() {
    let (_moto, store) = store().await;
    let g = group(1, 1);
    store.groups.create_group(&g).await.unwrap();
    let i = image(1, &g.id, 5);
    store.images.create_image(&i).await.unwrap();
    assert!(store.images.mark_ready(&i, "https://t/1").await.unwrap());
    let ready = store.images.get_image(&i.image_id).await.unwrap().unwrap();
    assert_eq!(ready.status, ImageStatus::Ready);
    assert_eq!(ready.thumbnail_url.as_deref(), Some("https://t/1"));
    assert!(!store.images.mark_ready(&i, "https://t/2").await.unwrap());
    let still = store.images.get_image(&i.image_id).await.unwrap().unwrap();
    assert_eq!(still.thumbnail_url.as_deref(), Some("https://t/1"));
    let unknown = Image {
        image_id: uuid(404),
        ..i.clone()
    };
    assert!(
        !store
            .images
            .mark_ready(&unknown, "https://t/3")
            .await
            .unwrap()
    );
    // The listing shows the ready image too (the same item).
    let listed = store
        .images
        .list_images(&g.id, &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(listed.items, [still]);
}

/// `mark_ready` addresses the item by its key on the table: an image the image-id index does not
/// show (here: an item without `imageId`, which a sparse index leaves out, as a lagging one would)
/// is still marked, not taken for one that is gone.
#[tokio::test]
async fn mark_ready_does_not_need_the_image_id_index() {
    let (_moto, store) = store().await;
    let g = group(1, 1);
    store.groups.create_group(&g).await.unwrap();
    let i = image(1, &g.id, 5);
    store.images.create_image(&i).await.unwrap();
    let key = HashMap::from([
        ("groupId".to_owned(), AttributeValue::S(g.id.clone())),
        (
            "createdKey".to_owned(),
            AttributeValue::S(format!("{}#{}", i.timestamp, i.image_id)),
        ),
    ]);
    store
        .client
        .update_item()
        .table_name(&tables().images)
        .set_key(Some(key.clone()))
        .update_expression("REMOVE imageId")
        .send()
        .await
        .unwrap();
    assert_eq!(store.images.get_image(&i.image_id).await.unwrap(), None);

    assert!(store.images.mark_ready(&i, "https://t/1").await.unwrap());
    let item = store
        .client
        .get_item()
        .table_name(&tables().images)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let item = item.item().unwrap();
    assert_eq!(item["status"], AttributeValue::S("ready".into()));
    assert_eq!(
        item["thumbnailUrl"],
        AttributeValue::S("https://t/1".into())
    );
}

#[tokio::test]
async fn connections_are_idempotent_and_listed_across_scan_pages() {
    let (_moto, store) = store().await;
    let connection = |n: u32| Connection {
        id: format!("conn{n:03}="),
        timestamp: at(100 - n % 50),
        expires_at: n.is_multiple_of(2).then_some(1_900_000_000 + u64::from(n)),
    };
    for n in 0..60 {
        store
            .connections
            .add_connection(&connection(n))
            .await
            .unwrap();
    }
    let mut first = connection(3);
    first.timestamp = at(4000);
    store.connections.add_connection(&first).await.unwrap();
    let listed = store.connections.list_connections().await.unwrap();
    let mut want: Vec<Connection> = (0..60).map(connection).collect();
    want.sort_by(|a, b| (&a.timestamp, &a.id).cmp(&(&b.timestamp, &b.id)));
    assert_eq!(listed.len(), 60, "more than two scan pages");
    assert_eq!(listed, want, "a second add keeps the first record");
    store
        .connections
        .remove_connection(&connection(3).id)
        .await
        .unwrap();
    store
        .connections
        .remove_connection(&connection(3).id)
        .await
        .unwrap();
    store
        .connections
        .remove_connection("never-there")
        .await
        .unwrap();
    let listed = store.connections.list_connections().await.unwrap();
    assert_eq!(listed.len(), 59);
    assert!(listed.iter().all(|c| c.id != connection(3).id));
}

#[tokio::test]
async fn connections_expire_by_time_to_live_on_their_tokens_expiry() {
    let (_moto, store) = store().await;
    // create_tables twice: enabling the time to live again is not an error.
    create_tables(&store.client, &tables()).await.unwrap();
    let ttl = store
        .client
        .describe_time_to_live()
        .table_name(&tables().connections)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some(CONNECTION_TTL_ATTRIBUTE));
    assert_eq!(
        ttl.time_to_live_status(),
        Some(&aws_sdk_dynamodb::types::TimeToLiveStatus::Enabled)
    );
    let connection = Connection {
        id: "conn=".into(),
        timestamp: at(1),
        expires_at: Some(1_900_000_000),
    };
    store.connections.add_connection(&connection).await.unwrap();
    let item = store
        .client
        .get_item()
        .table_name(&tables().connections)
        .key("id", AttributeValue::S("conn=".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    // DynamoDB only expires items whose attribute is a Number of epoch seconds.
    assert_eq!(
        item.item().unwrap()[CONNECTION_TTL_ATTRIBUTE],
        AttributeValue::N("1900000000".into())
    );
}

mod mocked;
