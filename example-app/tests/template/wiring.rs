//! How events reach the handlers: routes, the upload topic, the stream, the WebSocket API, and
//! the computed names that stand in for references.

use std::collections::BTreeMap;

use serde_yaml::Value;

use crate::{
    SEARCH_INDEX, all_values, at, functions_by_handler, of_type, resources, sub_text, tagged,
    template, text, to_json, untag,
};

#[test]
fn the_api_function_serves_the_rest_routes_and_validates_post_bodies() {
    let template = template();
    let (_, api) = &functions_by_handler(&template)["api"];
    let mut routes = BTreeMap::new();
    for (name, event) in at(api, &["Properties", "Events"]).as_mapping().unwrap() {
        assert_eq!(text(event, &["Type"]), "Api", "{name:?}");
        let properties = at(event, &["Properties"]);
        assert_eq!(at(properties, &["RestApiId"]), &tagged("Ref", "RestApi"));
        let route = format!(
            "{} {}",
            text(properties, &["Method"]).to_uppercase(),
            text(properties, &["Path"])
        );
        let model = properties.get("RequestModel").map(|model| {
            assert_eq!(at(model, &["Required"]), &Value::Bool(true), "{route}");
            assert_eq!(at(model, &["ValidateBody"]), &Value::Bool(true), "{route}");
            text(model, &["Model"]).to_owned()
        });
        assert!(routes.insert(route, model).is_none());
    }
    let want: BTreeMap<String, Option<String>> = [
        ("GET /health", None),
        ("GET /groups", None),
        ("POST /groups", Some("NewGroup")),
        ("GET /groups/{groupId}", None),
        ("GET /groups/{groupId}/images", None),
        ("POST /groups/{groupId}/images", Some("NewImage")),
        ("GET /images", None),
        ("GET /images/{imageId}", None),
    ]
    .into_iter()
    .map(|(route, model)| (route.to_owned(), model.map(str::to_owned)))
    .collect();
    assert_eq!(routes, want);

    // The canary: CodeDeploy shifts the alias and rolls back on alarms that exist.
    let preference = at(api, &["Properties", "DeploymentPreference"]);
    assert!(text(preference, &["Type"]).starts_with("Canary"));
    let alarms = at(preference, &["Alarms"]).as_sequence().unwrap();
    assert!(!alarms.is_empty());
    let defined = of_type(&template, "AWS::CloudWatch::Alarm");
    for alarm in alarms {
        let (tag, name) = untag(alarm).unwrap();
        assert!(tag == "Ref" && defined.contains_key(name.as_str().unwrap()));
    }
}

#[test]
fn uploads_flow_from_the_bucket_through_the_topic_to_process_upload() {
    let template = template();
    let bucket = at(&template, &["Resources", "ImagesBucket"]);
    let topic = tagged("Ref", "UploadsTopic");
    let notification = &at(
        bucket,
        &[
            "Properties",
            "NotificationConfiguration",
            "TopicConfigurations",
        ],
    )[0];
    assert_eq!(at(notification, &["Topic"]), &topic);
    assert_eq!(text(notification, &["Event"]), "s3:ObjectCreated:*");

    // S3 checks the topic policy when the notification is created: the bucket waits for it, and
    // the policy names the bucket by the same computed name (a reference would be a cycle).
    assert_eq!(text(bucket, &["DependsOn"]), "UploadsTopicPolicy");
    let statement = &at(
        &template,
        &[
            "Resources",
            "UploadsTopicPolicy",
            "Properties",
            "PolicyDocument",
            "Statement",
        ],
    )[0];
    assert_eq!(
        text(statement, &["Principal", "Service"]),
        "s3.amazonaws.com"
    );
    let (tag, source_arn) =
        untag(at(statement, &["Condition", "ArnEquals", "aws:SourceArn"])).unwrap();
    assert!(tag == "Sub");
    assert_eq!(
        source_arn[0].as_str(),
        Some("arn:${AWS::Partition}:s3:::${BucketName}")
    );
    assert_eq!(
        at(&source_arn[1], &["BucketName"]),
        at(bucket, &["Properties", "BucketName"]),
        "the topic policy names another bucket than ImagesBucket"
    );
    assert_eq!(
        at(
            statement,
            &["Condition", "StringEquals", "aws:SourceAccount"]
        ),
        &tagged("Ref", "AWS::AccountId")
    );

    let (_, processor) = &functions_by_handler(&template)["process-upload"];
    let events = at(processor, &["Properties", "Events"])
        .as_mapping()
        .unwrap();
    assert_eq!(events.len(), 1);
    let (_, event) = events.iter().next().unwrap();
    assert_eq!(text(event, &["Type"]), "SNS");
    assert_eq!(at(event, &["Properties", "Topic"]), &topic);
}

#[test]
fn the_images_stream_feeds_index_stream_and_failures_are_kept() {
    let template = template();
    let (_, indexer) = &functions_by_handler(&template)["index-stream"];
    let events = at(indexer, &["Properties", "Events"]).as_mapping().unwrap();
    assert_eq!(events.len(), 1);
    let (_, event) = events.iter().next().unwrap();
    assert_eq!(text(event, &["Type"]), "DynamoDB");
    let properties = at(event, &["Properties"]);
    assert_eq!(
        at(properties, &["Stream"]),
        &tagged("GetAtt", "ImagesTable.StreamArn")
    );
    assert_eq!(
        at(properties, &["BisectBatchOnFunctionError"]),
        &Value::Bool(true)
    );
    // The handler answers batchItemFailures, which Lambda ignores without this.
    assert_eq!(
        to_json(at(properties, &["FunctionResponseTypes"])),
        serde_json::json!(["ReportBatchItemFailures"])
    );
    let destination = at(properties, &["DestinationConfig", "OnFailure"]);
    let (tag, queue) = untag(at(destination, &["Destination"])).unwrap();
    let queue = queue.as_str().unwrap().trim_end_matches(".Arn");
    assert!(tag == "GetAtt");
    assert_eq!(
        text(&template, &["Resources", queue, "Type"]),
        "AWS::SQS::Queue"
    );
}

#[test]
fn the_websocket_routes_reach_their_handlers_through_the_token_authorizer() {
    let template = template();
    let functions = functions_by_handler(&template);
    let resources = resources(&template);
    // `!Sub "...functions/${XFunction.Alias}/invocations"` -> the handler of XFunction.
    let handler_of_uri = |uri: &Value| -> String {
        let uri = sub_text(uri);
        let function = uri
            .split("${")
            .find_map(|part| part.split_once(".Alias}").map(|(name, _)| name))
            .unwrap_or_else(|| panic!("{uri} invokes no alias"));
        functions
            .iter()
            .find(|(_, (name, _))| name == function)
            .map(|(handler, _)| handler.clone())
            .unwrap_or_else(|| panic!("{uri}: no function {function}"))
    };
    let mut routes = BTreeMap::new();
    for (_, route) in of_type(&template, "AWS::ApiGatewayV2::Route") {
        let properties = at(route, &["Properties"]);
        let target = sub_text(at(properties, &["Target"]));
        let integration = target.trim_start_matches("integrations/${");
        let integration = integration.trim_end_matches('}');
        let uri = at(resources[integration], &["Properties", "IntegrationUri"]);
        let authorizer = properties.get("AuthorizerId").map(|id| {
            let (_, name) = untag(id).unwrap();
            let authorizer = at(resources[name.as_str().unwrap()], &["Properties"]);
            assert_eq!(text(authorizer, &["AuthorizerType"]), "REQUEST");
            assert_eq!(
                to_json(at(authorizer, &["IdentitySource"])),
                serde_json::json!(["route.request.querystring.token"])
            );
            handler_of_uri(at(authorizer, &["AuthorizerUri"]))
        });
        routes.insert(
            text(properties, &["RouteKey"]).to_owned(),
            (handler_of_uri(uri), authorizer),
        );
    }
    let want = BTreeMap::from([
        (
            "$connect".to_owned(),
            ("ws-connect".to_owned(), Some("authorizer".to_owned())),
        ),
        ("$disconnect".to_owned(), ("ws-disconnect".to_owned(), None)),
    ]);
    assert_eq!(routes, want);
    let api = at(&template, &["Resources", "WebSocketApi", "Properties"]);
    assert_eq!(text(api, &["ProtocolType"]), "WEBSOCKET");
}

#[test]
fn the_search_domain_is_named_the_same_everywhere() {
    let template = template();
    let domain = at(
        &template,
        &["Resources", "SearchDomain", "Properties", "DomainName"],
    );
    let mut named = 0;
    for value in all_values(&template) {
        let Some((tag, Value::Sequence(form))) = untag(value) else {
            continue;
        };
        let Some(name) = form.get(1).and_then(|vars| vars.get("DomainName")) else {
            continue;
        };
        assert!(tag == "Sub");
        assert_eq!(name, domain, "a policy names another domain");
        // Index-level resources use the index the functions are given.
        let arn = form[0].as_str().unwrap();
        let path = arn.split("domain/${DomainName}/").nth(1).unwrap();
        assert!(
            path == "*" || path == SEARCH_INDEX || path == format!("{SEARCH_INDEX}/*"),
            "{arn}"
        );
        named += 1;
    }
    assert!(
        named >= 3,
        "the domain's, the api's and index-stream's policies"
    );
}
