//! Tests of [`EmbeddedStore`] through the port traits.

use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::{
    domain::{Connection, Group, Image, ImageStatus, PageRequest},
    ports::{ConnectionStore, GroupStore, ImageCatalog, ImageSearch, ImageStore, SearchIndex},
};

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn at(n: u32) -> String {
    format!("2026-01-01T00:{:02}:{:02}.000Z", n / 60, n % 60)
}

fn group(n: u32) -> Group {
    Group {
        id: uuid(),
        user_id: "alice".into(),
        name: format!("group {n}"),
        description: "d".into(),
        timestamp: at(n),
    }
}

fn image(group_id: &str, n: u32, title: &str) -> Image {
    let image_id = uuid();
    Image {
        image_url: format!("http://x/files/{image_id}"),
        image_id,
        group_id: group_id.into(),
        user_id: "bob".into(),
        title: title.into(),
        timestamp: at(n),
        status: ImageStatus::Pending,
        thumbnail_url: None,
    }
}

fn page(limit: u32, next_key: Option<String>) -> PageRequest {
    PageRequest { limit, next_key }
}

fn store() -> (tempfile::TempDir, EmbeddedStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    (dir, store)
}

#[tokio::test]
async fn open_makes_the_data_directory_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested/data");
    drop(EmbeddedStore::open(&data).unwrap());
    assert!(database_path(&data).is_file());
    assert!(blobs_dir(&data).is_dir());
    let key = std::fs::read(signing_key_path(&data)).unwrap();
    assert_eq!(key.len(), SIGNING_KEY_LEN);
    assert_ne!(key, [0; SIGNING_KEY_LEN]);
    let mode = std::fs::metadata(signing_key_path(&data))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let store = EmbeddedStore::open(&data).unwrap();
    assert_eq!(
        std::fs::read(signing_key_path(&data)).unwrap(),
        key,
        "made once"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    drop(store);
    std::fs::write(signing_key_path(&data), b"short").unwrap();
    assert!(matches!(
        EmbeddedStore::open(&data),
        Err(PortError::Unavailable(_))
    ));
}

#[tokio::test]
async fn groups_create_get_and_conflict() {
    let (_dir, store) = store();
    let g = group(1);
    store.create_group(&g).await.unwrap();
    assert_eq!(store.get_group(&g.id).await.unwrap(), Some(g.clone()));
    assert_eq!(store.get_group(&uuid()).await.unwrap(), None);
    let again = Group {
        name: "other".into(),
        ..g.clone()
    };
    assert_eq!(
        store.create_group(&again).await,
        Err(PortError::AlreadyExists(g.id.clone()))
    );
    assert_eq!(store.get_group(&g.id).await.unwrap(), Some(g), "unchanged");
}

#[tokio::test]
async fn groups_page_newest_first() {
    let (_dir, store) = store();
    let mut groups: Vec<Group> = (0..7).map(group).collect();
    // Two with the same timestamp: the id breaks the tie, and neither is skipped.
    groups[6].timestamp = groups[5].timestamp.clone();
    for g in &groups {
        store.create_group(g).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut key = None;
    let mut sizes = Vec::new();
    loop {
        let p = store.list_groups(&page(3, key)).await.unwrap();
        sizes.push(p.items.len());
        seen.extend(p.items);
        key = p.next_key;
        if key.is_none() {
            break;
        }
    }
    assert_eq!(sizes, [3, 3, 1]);
    let mut want = groups.clone();
    want.sort_by(|a, b| (&b.timestamp, &b.id).cmp(&(&a.timestamp, &a.id)));
    assert_eq!(seen, want);

    let all = store.list_groups(&page(100, None)).await.unwrap();
    assert_eq!((all.items.len(), all.next_key), (7, None));
    let exact = store.list_groups(&page(7, None)).await.unwrap();
    assert_eq!(exact.next_key, None, "no key when nothing follows");
    for bad in [0, 101] {
        assert!(matches!(
            store.list_groups(&page(bad, None)).await,
            Err(PortError::Invalid(_))
        ));
    }
}

#[tokio::test]
async fn forged_page_keys_are_invalid_never_sql() {
    let (_dir, store) = store();
    let g = group(1);
    store.create_group(&g).await.unwrap();
    store.create_group(&group(2)).await.unwrap();
    let groups_key = store
        .list_groups(&page(1, None))
        .await
        .unwrap()
        .next_key
        .unwrap();
    for bad in ["' OR 1=1 --", "garbage", "", "eyJ9", "%00", "\u{0}"] {
        let got = store.list_groups(&page(5, Some(bad.into()))).await;
        assert!(
            matches!(got, Err(PortError::InvalidPageKey(_))),
            "{bad}: {got:?}"
        );
    }
    // A groups key is not an images key, and one group's key is not another's.
    store.create_image(&image(&g.id, 1, "a")).await.unwrap();
    store.create_image(&image(&g.id, 2, "b")).await.unwrap();
    let images_key = store
        .list_images(&g.id, &page(1, None))
        .await
        .unwrap()
        .next_key
        .unwrap();
    assert!(matches!(
        store.list_images(&g.id, &page(1, Some(groups_key))).await,
        Err(PortError::InvalidPageKey(_))
    ));
    assert!(matches!(
        store
            .list_images(&uuid(), &page(1, Some(images_key.clone())))
            .await,
        Err(PortError::InvalidPageKey(_))
    ));
    assert_eq!(
        store
            .list_images(&g.id, &page(1, Some(images_key)))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

#[tokio::test]
async fn images_create_get_list_and_mark_ready() {
    let (_dir, store) = store();
    let (g, other) = (group(1), group(2));
    store.create_group(&g).await.unwrap();
    store.create_group(&other).await.unwrap();
    let images: Vec<Image> = (0..5).map(|n| image(&g.id, n, &format!("t{n}"))).collect();
    for i in &images {
        store.create_image(i).await.unwrap();
    }
    store
        .create_image(&image(&other.id, 9, "elsewhere"))
        .await
        .unwrap();
    assert_eq!(
        store.create_image(&images[0]).await,
        Err(PortError::AlreadyExists(images[0].image_id.clone()))
    );
    assert!(matches!(
        store.create_image(&image(&uuid(), 1, "orphan")).await,
        Err(PortError::Invalid(_))
    ));
    assert_eq!(
        store.get_image(&images[2].image_id).await.unwrap(),
        Some(images[2].clone())
    );
    assert_eq!(store.get_image(&uuid()).await.unwrap(), None);

    let first = store.list_images(&g.id, &page(2, None)).await.unwrap();
    let ids = |items: &[Image]| items.iter().map(|i| i.title.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&first.items), ["t4", "t3"]);
    let second = store
        .list_images(&g.id, &page(10, first.next_key))
        .await
        .unwrap();
    assert_eq!(
        (ids(&second.items), second.next_key),
        (vec!["t2".into(), "t1".into(), "t0".into()], None)
    );
    assert!(
        store
            .list_images(&uuid(), &page(10, None))
            .await
            .unwrap()
            .items
            .is_empty()
    );

    let id = &images[1].image_id;
    assert!(
        store
            .mark_ready(&images[1], "http://x/files/thumb")
            .await
            .unwrap()
    );
    assert!(
        !store
            .mark_ready(&images[1], "http://x/other")
            .await
            .unwrap(),
        "idempotent"
    );
    let unknown = Image {
        image_id: uuid(),
        ..images[1].clone()
    };
    assert!(!store.mark_ready(&unknown, "u").await.unwrap());
    let ready = store.get_image(id).await.unwrap().unwrap();
    assert_eq!(ready.status, ImageStatus::Ready);
    assert_eq!(ready.thumbnail_url.as_deref(), Some("http://x/files/thumb"));
}

#[tokio::test]
async fn connections_are_idempotent() {
    let (_dir, store) = store();
    let c = Connection {
        id: "c1".into(),
        timestamp: at(1),
        expires_at: Some(1_900_000_000),
    };
    store.add_connection(&c).await.unwrap();
    store.add_connection(&c).await.unwrap();
    store
        .add_connection(&Connection {
            id: "c2".into(),
            timestamp: at(2),
            expires_at: None,
        })
        .await
        .unwrap();
    let listed = store.list_connections().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0], c, "the token's expiry is kept");
    store.remove_connection("c1").await.unwrap();
    store.remove_connection("c1").await.unwrap();
    let left = store.list_connections().await.unwrap();
    assert_eq!(
        left.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["c2"]
    );
}

#[tokio::test]
async fn search_is_literal_ranked_limited_and_deduplicated() {
    let (_dir, store) = store();
    let g = group(1);
    store.create_group(&g).await.unwrap();
    let titles = [
        "cat",
        "cat cat sleeping",
        "dog",
        "Café crème in Zürich",
        "東京 の 猫",
        "quote \" and NEAR( OR - : * stuff",
        "tabby cat sleeping",
    ];
    let mut images = Vec::new();
    for (n, title) in titles.iter().enumerate() {
        let i = image(&g.id, n as u32, title);
        store.create_image(&i).await.unwrap();
        images.push(i);
    }
    let titles_of = |found: Vec<Image>| found.into_iter().map(|i| i.title).collect::<Vec<_>>();

    let cats = titles_of(store.search("cat", 10).await.unwrap());
    assert_eq!(cats.len(), 3);
    // Of two titles of the same length, the one that says "cat" twice is the better match.
    let rank = |title: &str| cats.iter().position(|t| t == title).unwrap();
    assert!(
        rank("cat cat sleeping") < rank("tabby cat sleeping"),
        "{cats:?}"
    );
    assert_eq!(
        store.search("cat", 2).await.unwrap().len(),
        2,
        "limit honoured"
    );
    assert!(store.search("cat", 0).await.unwrap().is_empty());
    assert_eq!(
        titles_of(store.search("tabby CAT", 10).await.unwrap()),
        ["tabby cat sleeping"]
    );
    assert_eq!(
        titles_of(store.search("cafe zurich", 10).await.unwrap()),
        [titles[3]]
    );
    assert_eq!(
        titles_of(store.search("東京", 10).await.unwrap()),
        [titles[4]]
    );

    // Query syntax in user text is searched literally or ignored, never an error.
    for query in [
        "\"",
        "*",
        "NEAR(",
        "OR",
        "-",
        ":",
        "cat OR dog",
        "NEAR(cat dog)",
        "title:cat",
        "-cat",
        "cat*",
        "\"cat",
        "(",
        ")",
        "AND",
        "NOT cat",
        "' OR 1=1 --",
        "^cat",
        "{cat}",
    ] {
        let got = store.search(query, 10).await;
        assert!(got.is_ok(), "{query}: {got:?}");
    }
    assert_eq!(
        titles_of(store.search("NEAR( OR stuff", 10).await.unwrap()),
        [titles[5]]
    );
    assert!(
        store.search("cat OR dog", 10).await.unwrap().is_empty(),
        "OR is a word here"
    );
    assert!(store.search("* \" -", 10).await.unwrap().is_empty());

    // Re-indexing (explicitly, and on mark_ready) never duplicates, and results are current.
    let tabby = &images[6];
    store.index_image(tabby).await.unwrap();
    store.index_image(tabby).await.unwrap();
    assert!(store.mark_ready(tabby, "t").await.unwrap());
    let found = store.search("tabby", 10).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].status, ImageStatus::Ready);
    assert!(matches!(
        store.index_image(&image(&g.id, 1, "x")).await,
        Err(PortError::Invalid(_))
    ));
}

#[tokio::test]
async fn writes_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let g = group(1);
    let i = image(&g.id, 1, "persistent title");
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store.create_group(&g).await.unwrap();
        store.create_image(&i).await.unwrap();
    }
    let store = EmbeddedStore::open(dir.path()).unwrap();
    assert_eq!(store.get_group(&g.id).await.unwrap(), Some(g));
    assert_eq!(store.search("persistent", 5).await.unwrap(), [i]);
}

#[tokio::test]
async fn concurrent_writers_all_land() {
    let (_dir, store) = store();
    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { store.create_group(&group(n)).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(
        store
            .list_groups(&page(100, None))
            .await
            .unwrap()
            .items
            .len(),
        40
    );
}

#[tokio::test]
async fn removed_images_leave_the_index_but_not_the_store() {
    let (_dir, store) = store();
    let g = group(1);
    store.create_group(&g).await.unwrap();
    let kept = image(&g.id, 1, "red kite");
    let removed = image(&g.id, 2, "red fox");
    for i in [&kept, &removed] {
        store.create_image(i).await.unwrap();
    }
    assert_eq!(store.search("red", 10).await.unwrap().len(), 2);
    store.remove_image(&removed.image_id).await.unwrap();
    store.remove_image(&removed.image_id).await.unwrap();
    store.remove_image(&uuid()).await.unwrap();
    let found = store.search("red", 10).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].image_id, kept.image_id);
    assert!(store.get_image(&removed.image_id).await.unwrap().is_some());
    store.index_image(&removed).await.unwrap();
    assert_eq!(
        store.search("red", 10).await.unwrap().len(),
        2,
        "re-indexed"
    );
}
