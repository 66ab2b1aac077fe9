//! `SsmRecordStore` against moto through the real SSM SDK.

use lamina_canary::aws::SsmRecordStore;
use lamina_canary::ports::{PortError, RecordStore};
use lamina_local::moto::MotoServer;

const A: &str = "00000000000a";
const B: &str = "00000000000b";

#[tokio::test]
async fn creates_never_overwrites_gets_by_id_and_lists_with_paging() {
    let moto = MotoServer::start().await.unwrap();
    let client = aws_sdk_ssm::Client::new(moto.sdk_config());
    let store = SsmRecordStore::new(client.clone());

    assert_eq!(store.get_record("orders", "live", A).await.unwrap(), None);
    assert_eq!(
        store.list_records().await.unwrap(),
        Vec::<(String, String)>::new()
    );

    store
        .create_record("orders", "live", A, r#"{"id":"a"}"#)
        .await
        .unwrap();
    // A second record under the same id is refused, and the first one stays.
    let error = store
        .create_record("orders", "live", A, r#"{"id":"other"}"#)
        .await
        .unwrap_err();
    assert!(matches!(error, PortError::Conflict(_)), "{error}");
    assert_eq!(
        store
            .get_record("orders", "live", A)
            .await
            .unwrap()
            .as_deref(),
        Some(r#"{"id":"a"}"#)
    );
    store
        .create_record("orders", "live", B, r#"{"id":"b"}"#)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_record("orders", "live", B)
            .await
            .unwrap()
            .as_deref(),
        Some(r#"{"id":"b"}"#)
    );
    // Both are the alias's history.
    let mut history = store.history("orders", "live").await.unwrap();
    history.sort();
    assert_eq!(
        history,
        [
            (A.to_owned(), r#"{"id":"a"}"#.to_owned()),
            (B.to_owned(), r#"{"id":"b"}"#.to_owned())
        ]
    );
    // Stored where the design says, as a plain String parameter written once.
    let parameter = client
        .get_parameter()
        .name(format!("/lamina-canary/orders/live/{A}"))
        .send()
        .await
        .unwrap();
    let parameter = parameter.parameter().unwrap();
    assert_eq!(parameter.value(), Some(r#"{"id":"a"}"#));
    assert_eq!(
        parameter.r#type(),
        Some(&aws_sdk_ssm::types::ParameterType::String)
    );
    assert_eq!(parameter.version(), 1);

    // More records than one GetParametersByPath page (10) holds.
    let mut expected = vec![("orders".to_owned(), "live".to_owned())];
    for i in 0..23 {
        let function = format!("fn-{i:02}");
        let alias = if i % 2 == 0 { "live" } else { "blue_green" };
        store
            .create_record(&function, alias, A, "{}")
            .await
            .unwrap();
        expected.push((function, alias.to_owned()));
    }
    // Parameters under the prefix that are not records are skipped.
    client
        .put_parameter()
        .name("/lamina-canary/settings")
        .value("x")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    expected.sort();
    assert_eq!(store.list_records().await.unwrap(), expected);

    // Deleting an alias's records leaves the others.
    store.delete_records("orders", "live").await.unwrap();
    assert_eq!(store.history("orders", "live").await.unwrap(), []);
    assert_eq!(store.list_records().await.unwrap(), expected[..23]);
}

#[tokio::test]
async fn names_that_make_invalid_paths_and_oversized_records_are_refused() {
    let moto = MotoServer::start().await.unwrap();
    let store = SsmRecordStore::new(aws_sdk_ssm::Client::new(moto.sdk_config()));
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:orders";
    for (function, alias, id) in [
        (arn, "live", A),
        ("orders", "7", A),
        ("orders/x", "live", A),
        ("", "live", A),
        ("orders", "live", "a/b"),
        ("orders", "live", "NOT-AN-ID"),
    ] {
        let error = store
            .create_record(function, alias, id, "{}")
            .await
            .unwrap_err();
        assert!(
            matches!(error, PortError::Rejected(_)),
            "{function} {alias} {id}: {error}"
        );
        let error = store.get_record(function, alias, id).await.unwrap_err();
        assert!(
            matches!(error, PortError::Rejected(_)),
            "{function} {alias} {id}: {error}"
        );
    }
    let error = store
        .create_record("orders", "live", A, &"x".repeat(4097))
        .await
        .unwrap_err();
    assert!(matches!(error, PortError::Rejected(_)), "{error}");
    assert_eq!(
        store.list_records().await.unwrap(),
        Vec::<(String, String)>::new()
    );
}
