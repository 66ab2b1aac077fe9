//! `SsmRecordStore` against moto through the real SSM SDK.

use lamina_canary::aws::SsmRecordStore;
use lamina_canary::ports::{PortError, RecordStore};
use lamina_local::moto::MotoServer;

#[tokio::test]
async fn puts_gets_overwrites_and_lists_with_paging() {
    let moto = MotoServer::start().await.unwrap();
    let client = aws_sdk_ssm::Client::new(moto.sdk_config());
    let store = SsmRecordStore::new(client.clone());

    assert_eq!(store.get_record("orders", "live").await.unwrap(), None);
    assert_eq!(
        store.list_records().await.unwrap(),
        Vec::<(String, String)>::new()
    );

    store
        .put_record("orders", "live", r#"{"id":"a"}"#)
        .await
        .unwrap();
    assert_eq!(
        store.get_record("orders", "live").await.unwrap().as_deref(),
        Some(r#"{"id":"a"}"#)
    );
    store
        .put_record("orders", "live", r#"{"id":"b"}"#)
        .await
        .unwrap();
    assert_eq!(
        store.get_record("orders", "live").await.unwrap().as_deref(),
        Some(r#"{"id":"b"}"#)
    );
    // Stored where the design says, as a plain String parameter.
    let parameter = client
        .get_parameter()
        .name("/lamina-canary/orders/live")
        .send()
        .await
        .unwrap();
    let parameter = parameter.parameter().unwrap();
    assert_eq!(parameter.value(), Some(r#"{"id":"b"}"#));
    assert_eq!(
        parameter.r#type(),
        Some(&aws_sdk_ssm::types::ParameterType::String)
    );
    assert_eq!(parameter.version(), 2);

    // More records than one GetParametersByPath page (10) holds.
    let mut expected = vec![("orders".to_owned(), "live".to_owned())];
    for i in 0..23 {
        let function = format!("fn-{i:02}");
        let alias = if i % 2 == 0 { "live" } else { "blue_green" };
        store.put_record(&function, alias, "{}").await.unwrap();
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
}

#[tokio::test]
async fn names_that_make_invalid_paths_and_oversized_records_are_refused() {
    let moto = MotoServer::start().await.unwrap();
    let store = SsmRecordStore::new(aws_sdk_ssm::Client::new(moto.sdk_config()));
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:orders";
    for (function, alias) in [
        (arn, "live"),
        ("orders", "7"),
        ("orders/x", "live"),
        ("", "live"),
    ] {
        let error = store.put_record(function, alias, "{}").await.unwrap_err();
        assert!(
            matches!(error, PortError::Rejected(_)),
            "{function} {alias}: {error}"
        );
        let error = store.get_record(function, alias).await.unwrap_err();
        assert!(
            matches!(error, PortError::Rejected(_)),
            "{function} {alias}: {error}"
        );
    }
    let error = store
        .put_record("orders", "live", &"x".repeat(4097))
        .await
        .unwrap_err();
    assert!(matches!(error, PortError::Rejected(_)), "{error}");
    assert_eq!(
        store.list_records().await.unwrap(),
        Vec::<(String, String)>::new()
    );
}
