//! [`OpenSearchIndex`] against `lamina_local`'s OpenSearch stand-in,
//! which verifies every request's SigV4 signature.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use lamina_local::opensearch::OpenSearchServer;

use super::*;
use crate::domain::ImageStatus;

const INDEX: &str = "images";

fn config(secret: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDSEARCH",
            secret.to_owned(),
            Some("session-token".into()),
            None,
            "test",
        )))
        .build()
}

async fn fixture() -> (OpenSearchServer, OpenSearchIndex) {
    let server = OpenSearchServer::start_for(&config("search-secret"))
        .await
        .unwrap();
    let index =
        OpenSearchIndex::new(server.endpoint_url(), INDEX, &config("search-secret")).unwrap();
    index.ensure_index().await.unwrap();
    (server, index)
}

fn image(n: u32, title: &str, second: u32) -> Image {
    let id = format!("00000000-0000-4000-8000-{n:012}");
    Image {
        image_id: id.clone(),
        group_id: "00000000-0000-4000-8000-999999999999".into(),
        user_id: "alice".into(),
        title: title.into(),
        timestamp: format!("2026-01-01T00:{:02}:{:02}.000Z", second / 60, second % 60),
        status: ImageStatus::Ready,
        image_url: format!("https://bucket/{id}"),
        thumbnail_url: Some(format!("https://bucket/{id}.thumb.png")),
    }
}

async fn titles(index: &dyn ImageSearch, query: &str, limit: u32) -> Vec<String> {
    index
        .search(query, limit)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.title)
        .collect()
}

#[tokio::test]
async fn images_are_indexed_searched_with_every_word_required_and_removed() {
    let (server, index) = fixture().await;
    index.ensure_index().await.unwrap();
    let mappings = server.mappings(INDEX).unwrap();
    assert_eq!(mappings["properties"]["title"]["type"], "text");
    assert_eq!(mappings["properties"]["timestamp"]["type"], "date");
    assert_eq!(mappings["properties"]["imageId"]["type"], "keyword");
    let images = [
        image(1, "A red cat", 1),
        image(2, "cat, cat and more CAT", 2),
        image(3, "Red cat on a red mat", 3),
        image(4, "Café de Flore", 4),
        image(5, "a title or two", 5),
        image(6, "dog", 6),
    ];
    for i in &images {
        index.index_image(i).await.unwrap();
    }
    assert_eq!(
        server.document(INDEX, &images[3].image_id),
        Some(serde_json::to_value(&images[3]).unwrap()),
        "the document is the image's serde form"
    );
    // Best first (term frequency), then newest first.
    assert_eq!(
        titles(&index, "cat", 10).await,
        ["cat, cat and more CAT", "Red cat on a red mat", "A red cat"]
    );
    assert_eq!(
        titles(&index, "RED cat", 10).await,
        ["Red cat on a red mat", "A red cat"],
        "every word is required"
    );
    assert_eq!(titles(&index, "red dog", 10).await, Vec::<String>::new());
    assert_eq!(titles(&index, "CAFÉ", 10).await, ["Café de Flore"]);
    assert_eq!(titles(&index, "cafe", 10).await, Vec::<String>::new());
    // Query syntax is text: `title:*` would match everything, `OR` would loosen the query.
    assert_eq!(
        titles(&index, r#"title:* OR ""#, 10).await,
        ["a title or two"]
    );
    assert_eq!(
        titles(&index, r#"" * : ( )"#, 10).await,
        Vec::<String>::new()
    );
    assert_eq!(titles(&index, "cat", 2).await.len(), 2);
    assert_eq!(titles(&index, "cat", 0).await.len(), 0);

    // Re-indexing replaces the document.
    let mut renamed = images[0].clone();
    renamed.title = "A blue cat".into();
    index.index_image(&renamed).await.unwrap();
    assert_eq!(
        titles(&index, "red cat", 10).await,
        ["Red cat on a red mat"]
    );

    index.remove_image(&images[2].image_id).await.unwrap();
    index.remove_image(&images[2].image_id).await.unwrap();
    assert_eq!(titles(&index, "red", 10).await, Vec::<String>::new());
    assert_eq!(server.document(INDEX, &images[2].image_id), None);
    assert_eq!(server.requests_refused(), 0);
}

#[tokio::test]
async fn searches_return_at_most_one_hundred() {
    let (_server, index) = fixture().await;
    for n in 0..105 {
        index
            .index_image(&image(n, &format!("bulk {n}"), n))
            .await
            .unwrap();
    }
    let found = index.search("bulk", 1000).await.unwrap();
    assert_eq!(found.len(), 100);
    assert_eq!(found[0].title, "bulk 104", "equal scores: newest first");
}

#[tokio::test]
async fn wrong_credentials_missing_indices_and_dead_endpoints_are_unavailable() {
    let (server, _index) = fixture().await;
    let wrong =
        OpenSearchIndex::new(server.endpoint_url(), INDEX, &config("not-the-secret")).unwrap();
    let Err(PortError::Unavailable(message)) = wrong.index_image(&image(1, "x", 1)).await else {
        panic!("a refused signature is Unavailable");
    };
    assert!(message.contains("403"), "{message}");
    assert!(!message.contains("not-the-secret"), "{message}");
    assert!(matches!(
        wrong.search("x", 10).await,
        Err(PortError::Unavailable(_))
    ));
    assert!(matches!(
        wrong.ensure_index().await,
        Err(PortError::Unavailable(_))
    ));
    assert_eq!(server.requests_refused(), 3);
    assert_eq!(server.document(INDEX, &image(1, "x", 1).image_id), None);

    let other =
        OpenSearchIndex::new(server.endpoint_url(), "other", &config("search-secret")).unwrap();
    // A missing index (a fresh deployment) has no hits, and is never created by a search.
    assert_eq!(other.search("x", 10).await.unwrap(), Vec::new());
    assert_eq!(server.mappings("other"), None);
    other
        .remove_image(&image(1, "x", 1).image_id)
        .await
        .unwrap();

    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let dead =
        OpenSearchIndex::new(format!("http://127.0.0.1:{port}"), INDEX, &config("s")).unwrap();
    assert!(matches!(
        dead.search("x", 10).await,
        Err(PortError::Unavailable(_))
    ));
}

#[test]
fn bad_endpoints_index_names_and_configurations_are_invalid() {
    let good = config("s");
    for endpoint in [
        "",
        "search.example.com",
        "ftp://x",
        "https://x/path",
        "http://",
    ] {
        assert!(
            matches!(
                OpenSearchIndex::new(endpoint, INDEX, &good),
                Err(PortError::Invalid(_))
            ),
            "{endpoint}"
        );
    }
    for name in ["", "Images", "_x", "a/b", "a b", "a?b"] {
        assert!(
            matches!(
                OpenSearchIndex::new("https://x", name, &good),
                Err(PortError::Invalid(_))
            ),
            "{name}"
        );
    }
    let bare = SdkConfig::builder().build();
    assert!(matches!(
        OpenSearchIndex::new("https://x", INDEX, &bare),
        Err(PortError::Invalid(_))
    ));
    let index =
        OpenSearchIndex::new("https://search-x.us-east-1.es.amazonaws.com/", INDEX, &good).unwrap();
    assert!(!format!("{index:?}").contains("AKIDSEARCH"));
}

#[tokio::test]
async fn document_ids_that_need_escaping_are_refused() {
    let (_server, index) = fixture().await;
    for id in ["", "..", "a/b", "a?b", "a b", "é"] {
        let mut bad = image(1, "x", 1);
        bad.image_id = id.into();
        assert!(matches!(
            index.index_image(&bad).await,
            Err(PortError::Invalid(_))
        ));
        assert!(matches!(
            index.remove_image(id).await,
            Err(PortError::Invalid(_))
        ));
    }
}
