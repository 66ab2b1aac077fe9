//! The SAM template (`template.yaml`) checked against what the code and the design fix, where
//! cfn-lint cannot look: cfn-lint knows CloudFormation, not that the `api` handler reads
//! `GROUPS_TABLE`, that the Images table's index is called `ImageIdIndex`, or that the API Gateway
//! models are the very schema files the api function validates with.
//!
//! The template is parsed with `serde_yaml`, which keeps CloudFormation's short forms (`!Ref`,
//! `!GetAtt`, `!Sub`, ...) as tagged values, so a reference is compared as a reference.

#![allow(clippy::unwrap_used)] // a test may unwrap: a failed unwrap is a failed test

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::Value;
use serde_yaml::value::{Tag, TaggedValue};

const TEMPLATE: &str = include_str!("../template.yaml");
const NEW_GROUP_SCHEMA: &str = include_str!("../schemas/new-group.json");
const NEW_IMAGE_SCHEMA: &str = include_str!("../schemas/new-image.json");

/// Each handler the `udagram-lambda` binary dispatches on (`_HANDLER`, the SAM `Handler`) and
/// exactly the environment variables it reads (optional ones included; `S3_FORCE_PATH_STYLE` is
/// for moto only and stays unset on AWS).
const HANDLERS: [(&str, &[&str]); 6] = [
    (
        "api",
        &[
            "GROUPS_TABLE",
            "IMAGES_TABLE",
            "IMAGES_BUCKET",
            "IMAGES_PUBLIC_URL",
            "SEARCH_ENDPOINT",
            "SEARCH_INDEX",
            "JWKS_URL",
            "JWT_ISSUER",
            "JWT_AUDIENCE",
        ],
    ),
    (
        "process-upload",
        &[
            "IMAGES_TABLE",
            "CONNECTIONS_TABLE",
            "IMAGES_BUCKET",
            "IMAGES_PUBLIC_URL",
            "SEARCH_ENDPOINT",
            "SEARCH_INDEX",
            "WEBSOCKET_ENDPOINT",
        ],
    ),
    ("index-stream", &["SEARCH_ENDPOINT", "SEARCH_INDEX"]),
    ("ws-connect", &["CONNECTIONS_TABLE"]),
    ("ws-disconnect", &["CONNECTIONS_TABLE"]),
    ("authorizer", &["JWKS_URL", "JWT_ISSUER", "JWT_AUDIENCE"]),
];

/// The search index every function and policy must agree on (the code's default).
const SEARCH_INDEX: &str = "images";

fn template() -> Value {
    serde_yaml::from_str(TEMPLATE).expect("template.yaml is YAML")
}

/// `value[key1][key2]...`, or a panic naming the missing path.
fn at<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(value, |v, key| {
        v.get(*key)
            .unwrap_or_else(|| panic!("template.yaml has no {}", path.join(".")))
    })
}

fn text<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    at(value, path)
        .as_str()
        .unwrap_or_else(|| panic!("{} is not a string", path.join(".")))
}

/// A CloudFormation short form, e.g. `tagged("Ref", "GroupsTable")` for `!Ref GroupsTable`.
fn tagged(tag: &str, value: impl Into<Value>) -> Value {
    Value::Tagged(Box::new(TaggedValue {
        tag: Tag::new(tag),
        value: value.into(),
    }))
}

/// The tag and content of a short form.
fn untag(value: &Value) -> Option<(&Tag, &Value)> {
    match value {
        Value::Tagged(tagged) => Some((&tagged.tag, &tagged.value)),
        _ => None,
    }
}

/// The string of a `!Sub "..."` (the one-argument form).
fn sub_text(value: &Value) -> &str {
    match untag(value) {
        Some((tag, Value::String(text))) if tag == "Sub" => text,
        _ => panic!("expected !Sub \"...\", found {value:?}"),
    }
}

fn resources(template: &Value) -> BTreeMap<String, &Value> {
    at(template, &["Resources"])
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(name, resource)| (name.as_str().unwrap().to_owned(), resource))
        .collect()
}

fn of_type<'a>(template: &'a Value, kind: &str) -> BTreeMap<String, &'a Value> {
    resources(template)
        .into_iter()
        .filter(|(_, resource)| resource.get("Type").and_then(Value::as_str) == Some(kind))
        .collect()
}

/// The serverless functions by handler name.
fn functions_by_handler(template: &Value) -> BTreeMap<String, (String, &Value)> {
    let mut by_handler = BTreeMap::new();
    for (name, function) in of_type(template, "AWS::Serverless::Function") {
        let handler = text(function, &["Properties", "Handler"]).to_owned();
        let previous = by_handler.insert(handler.clone(), (name, function));
        assert!(previous.is_none(), "two functions have Handler {handler}");
    }
    by_handler
}

/// Every value in `value`, depth first (to find strings and short forms wherever they are).
fn walk<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    out.push(value);
    match value {
        Value::Sequence(items) => items.iter().for_each(|item| walk(item, out)),
        Value::Mapping(map) => map.values().for_each(|item| walk(item, out)),
        Value::Tagged(tagged) => walk(&tagged.value, out),
        _ => {}
    }
}

fn all_values(value: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    walk(value, &mut out);
    out
}

fn to_json(value: &Value) -> serde_json::Value {
    serde_yaml::from_value(value.clone()).expect("a plain YAML document converts to JSON")
}

#[test]
fn every_function_is_a_handler_of_the_one_binary() {
    let template = template();
    let functions = functions_by_handler(&template);
    let handlers: BTreeSet<&str> = functions.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = HANDLERS.iter().map(|(name, _)| *name).collect();
    assert_eq!(handlers, expected, "one function per handler, no other");

    for (handler, (name, function)) in functions {
        assert_eq!(
            text(function, &["Metadata", "BuildMethod"]),
            "rust-cargolambda",
            "{name} ({handler})"
        );
        assert_eq!(
            text(function, &["Metadata", "BuildProperties", "Binary"]),
            "udagram-lambda",
            "{name} ({handler}) is built from the one binary"
        );
        // Logs go to a group the stack creates before the function can run.
        let (tag, group) = untag(at(function, &["Properties", "LoggingConfig", "LogGroup"]))
            .unwrap_or_else(|| panic!("{name} logs to a group of the stack"));
        assert!(tag == "Ref", "{name}");
        assert_eq!(
            text(&template, &["Resources", group.as_str().unwrap(), "Type"]),
            "AWS::Logs::LogGroup",
            "{name}"
        );
        // Code, runtime, architecture and tracing come from Globals, for every function alike.
        for inherited in [
            "CodeUri",
            "Runtime",
            "Architectures",
            "Tracing",
            "AutoPublishAlias",
        ] {
            assert!(
                at(function, &["Properties"]).get(inherited).is_none(),
                "{name} overrides Globals' {inherited}"
            );
        }
    }
}

#[test]
fn globals_trace_every_function_on_the_chosen_architecture() {
    let template = template();
    let globals = at(&template, &["Globals", "Function"]);
    assert_eq!(text(globals, &["Tracing"]), "Active");
    assert_eq!(text(globals, &["Runtime"]), "provided.al2023");
    assert_eq!(text(globals, &["CodeUri"]), ".");
    assert_eq!(text(globals, &["AutoPublishAlias"]), "live");
    assert_eq!(
        at(globals, &["Architectures"]),
        &Value::Sequence(vec![tagged("Ref", "Architecture")])
    );
    let architecture = at(&template, &["Parameters", "Architecture"]);
    assert_eq!(text(architecture, &["Default"]), "arm64");
    assert_eq!(
        to_json(at(architecture, &["AllowedValues"])),
        serde_json::json!(["arm64", "x86_64"])
    );
}

#[test]
fn each_function_gets_exactly_the_variables_its_handler_reads() {
    let template = template();
    let functions = functions_by_handler(&template);
    let search_endpoint = tagged("Sub", "https://${SearchDomain.DomainEndpoint}");
    let public_url = tagged("Sub", "https://${ImagesDistribution.DomainName}");
    let wiring = |variable: &str| -> Option<Value> {
        Some(match variable {
            "GROUPS_TABLE" => tagged("Ref", "GroupsTable"),
            "IMAGES_TABLE" => tagged("Ref", "ImagesTable"),
            "CONNECTIONS_TABLE" => tagged("Ref", "ConnectionsTable"),
            "IMAGES_BUCKET" => tagged("Ref", "ImagesBucket"),
            "IMAGES_PUBLIC_URL" => public_url.clone(),
            "SEARCH_ENDPOINT" => search_endpoint.clone(),
            "SEARCH_INDEX" => Value::from(SEARCH_INDEX),
            "JWKS_URL" => tagged("Ref", "JwksUrl"),
            "JWT_ISSUER" => tagged("Ref", "JwtIssuer"),
            "JWT_AUDIENCE" => tagged("Ref", "JwtAudience"),
            _ => return None,
        })
    };
    assert!(
        at(&template, &["Globals", "Function"])
            .get("Environment")
            .is_none(),
        "no variable for every function: each gets its own"
    );
    for (handler, reads) in HANDLERS {
        let (name, function) = &functions[handler];
        let variables = at(function, &["Properties", "Environment", "Variables"])
            .as_mapping()
            .unwrap();
        let got: BTreeSet<&str> = variables.keys().map(|k| k.as_str().unwrap()).collect();
        let want: BTreeSet<&str> = reads.iter().copied().collect();
        assert_eq!(got, want, "{name} ({handler})");
        for (variable, value) in variables {
            let variable = variable.as_str().unwrap();
            match wiring(variable) {
                Some(expected) => assert_eq!(value, &expected, "{name}: {variable}"),
                None => {
                    assert_eq!(variable, "WEBSOCKET_ENDPOINT");
                    let url = sub_text(value);
                    assert!(
                        url.starts_with("https://${WebSocketApi}.execute-api.")
                            && url.ends_with("/${WebSocketStage}"),
                        "{name}: WEBSOCKET_ENDPOINT is the stage's management URL: {url}"
                    );
                }
            }
        }
    }
}

/// (attribute, key type) pairs of a `KeySchema`.
fn key_schema(value: &Value) -> Key {
    value
        .as_sequence()
        .unwrap()
        .iter()
        .map(|key| {
            (
                text(key, &["AttributeName"]).to_owned(),
                text(key, &["KeyType"]).to_owned(),
            )
        })
        .collect()
}

fn keys(pairs: KeyPairs) -> Key {
    pairs
        .iter()
        .map(|(a, k)| ((*a).to_owned(), (*k).to_owned()))
        .collect()
}

/// (attribute, `HASH` or `RANGE`) pairs, as in a `KeySchema`.
type KeyPairs = &'static [(&'static str, &'static str)];
/// A key schema read from the template.
type Key = Vec<(String, String)>;

/// A table as the design fixes it.
struct TableSpec {
    name: &'static str,
    key: KeyPairs,
    indexes: &'static [(&'static str, KeyPairs)],
}

const TABLES: [TableSpec; 3] = [
    TableSpec {
        name: "GroupsTable",
        key: &[("id", "HASH")],
        indexes: &[(
            "GroupsByTimeIndex",
            &[("listing", "HASH"), ("createdKey", "RANGE")],
        )],
    },
    TableSpec {
        name: "ImagesTable",
        key: &[("groupId", "HASH"), ("createdKey", "RANGE")],
        indexes: &[("ImageIdIndex", &[("imageId", "HASH")])],
    },
    TableSpec {
        name: "ConnectionsTable",
        key: &[("id", "HASH")],
        indexes: &[],
    },
];

#[test]
fn tables_and_indexes_are_the_designs() {
    let template = template();
    let defined = of_type(&template, "AWS::DynamoDB::Table");
    assert_eq!(defined.len(), TABLES.len());
    for TableSpec { name, key, indexes } in TABLES {
        let properties = at(defined[name], &["Properties"]);
        assert_eq!(
            key_schema(at(properties, &["KeySchema"])),
            keys(key),
            "{name}"
        );
        let got: Vec<(String, Key, String)> = properties
            .get("GlobalSecondaryIndexes")
            .and_then(Value::as_sequence)
            .map(|gsis| {
                gsis.iter()
                    .map(|gsi| {
                        (
                            text(gsi, &["IndexName"]).to_owned(),
                            key_schema(at(gsi, &["KeySchema"])),
                            text(gsi, &["Projection", "ProjectionType"]).to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let want: Vec<_> = indexes
            .iter()
            .map(|(index, key)| ((*index).to_owned(), keys(key), "ALL".to_owned()))
            .collect();
        assert_eq!(got, want, "{name}'s indexes");
        // Every key attribute is a string, and only key attributes are declared.
        let declared: BTreeMap<&str, &str> = at(properties, &["AttributeDefinitions"])
            .as_sequence()
            .unwrap()
            .iter()
            .map(|a| (text(a, &["AttributeName"]), text(a, &["AttributeType"])))
            .collect();
        let key_attributes: BTreeSet<&str> = key
            .iter()
            .chain(indexes.iter().flat_map(|(_, k)| k.iter()))
            .map(|(a, _)| *a)
            .collect();
        assert_eq!(
            declared.keys().copied().collect::<BTreeSet<_>>(),
            key_attributes,
            "{name}"
        );
        assert!(declared.values().all(|t| *t == "S"), "{name}: {declared:?}");
        assert_eq!(text(properties, &["BillingMode"]), "PAY_PER_REQUEST");
        assert_eq!(
            at(
                properties,
                &[
                    "PointInTimeRecoverySpecification",
                    "PointInTimeRecoveryEnabled"
                ]
            ),
            &Value::Bool(true),
            "{name}"
        );
        let stream = properties
            .get("StreamSpecification")
            .map(|s| text(s, &["StreamViewType"]));
        let want_stream = (name == "ImagesTable").then_some("NEW_IMAGE");
        assert_eq!(stream, want_stream, "{name}'s stream");
    }

    // Policies name indexes by ARN (`${ImagesTable.Arn}/index/ImageIdIndex`): each must exist.
    for value in all_values(&template) {
        let Some((tag, Value::String(arn))) = untag(value) else {
            continue;
        };
        if tag != "Sub" {
            continue;
        }
        if let Some((table, index)) = arn
            .strip_prefix("${")
            .and_then(|rest| rest.split_once(".Arn}/index/"))
        {
            let gsis = TABLES
                .iter()
                .find(|spec| spec.name == table)
                .unwrap_or_else(|| panic!("{arn} names no table"))
                .indexes;
            assert!(
                gsis.iter().any(|(name, _)| *name == index),
                "{arn} names no index of {table}"
            );
        }
    }
}

/// Every keyword JSON Schema draft 4 defines (API Gateway's models speak draft 4 only).
const DRAFT4_KEYWORDS: [&str; 33] = [
    "$schema",
    "id",
    "$ref",
    "title",
    "description",
    "default",
    "type",
    "enum",
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "format",
    "items",
    "additionalItems",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxProperties",
    "minProperties",
    "required",
    "properties",
    "patternProperties",
    "additionalProperties",
    "dependencies",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
];

/// Panics on a keyword draft 4 does not know, anywhere in `schema` (`at` names the place).
fn assert_draft4(schema: &serde_json::Value, at: &str) {
    let object = schema
        .as_object()
        .unwrap_or_else(|| panic!("{at} is not a schema"));
    for (keyword, value) in object {
        let here = format!("{at}/{keyword}");
        assert!(
            DRAFT4_KEYWORDS.contains(&keyword.as_str()),
            "{here}: not a draft 4 keyword"
        );
        match keyword.as_str() {
            "properties" | "patternProperties" | "definitions" => {
                for (name, sub) in value.as_object().unwrap() {
                    assert_draft4(sub, &format!("{here}/{name}"));
                }
            }
            "not" => assert_draft4(value, &here),
            "items" | "additionalItems" | "additionalProperties" => match value {
                serde_json::Value::Bool(_) => {}
                serde_json::Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .for_each(|(i, sub)| assert_draft4(sub, &format!("{here}/{i}"))),
                sub => assert_draft4(sub, &here),
            },
            "allOf" | "anyOf" | "oneOf" => value
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .for_each(|(i, sub)| assert_draft4(sub, &format!("{here}/{i}"))),
            // Draft 6 turned these into numbers; draft 4 has them as booleans.
            "exclusiveMinimum" | "exclusiveMaximum" => {
                assert!(value.is_boolean(), "{here}: a boolean in draft 4");
            }
            _ => {}
        }
    }
}

#[test]
fn api_models_are_the_schema_files_in_draft_4() {
    let template = template();
    let models = at(&template, &["Resources", "RestApi", "Properties", "Models"]);
    for (model, file, source) in [
        ("NewGroup", "schemas/new-group.json", NEW_GROUP_SCHEMA),
        ("NewImage", "schemas/new-image.json", NEW_IMAGE_SCHEMA),
    ] {
        let schema: serde_json::Value = serde_json::from_str(source).unwrap();
        assert_eq!(
            schema["$schema"], "http://json-schema.org/draft-04/schema#",
            "{file} declares draft 4"
        );
        assert_draft4(&schema, file);
        assert_eq!(
            to_json(at(models, &[model])),
            schema,
            "the {model} model differs from {file}: copy the file into template.yaml"
        );
    }
    assert_eq!(models.as_mapping().unwrap().len(), 2, "no other model");
}

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
