//! The SAM template (`template.yaml`) checked against what the code and the design fix, where
//! cfn-lint cannot look: cfn-lint knows CloudFormation, not that the `api` handler reads
//! `GROUPS_TABLE`, that the Images table's index is called `ImageIdIndex`, or that the API Gateway
//! models are the very schema files the api function validates with.
//!
//! The template is parsed with `serde_yaml`, which keeps CloudFormation's short forms (`!Ref`,
//! `!GetAtt`, `!Sub`, ...) as tagged values, so a reference is compared as a reference.

#![allow(clippy::unwrap_used)] // a test may unwrap: a failed unwrap is a failed test

mod functions;
mod schemas;
mod tables;
mod web_client;
mod wiring;

use std::collections::BTreeMap;

use serde_yaml::Value;
use serde_yaml::value::{Tag, TaggedValue};

const TEMPLATE: &str = include_str!("../../template.yaml");
const NEW_GROUP_SCHEMA: &str = include_str!("../../schemas/new-group.json");
const NEW_IMAGE_SCHEMA: &str = include_str!("../../schemas/new-image.json");

/// Each handler the `udagram-lambda` binary dispatches on (`_HANDLER`, the SAM `Handler`) and
/// exactly the environment variables it reads (optional ones included; `S3_FORCE_PATH_STYLE` is
/// for moto only and stays unset on AWS): the readers of `udagram::lambda::config`, one per row.
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
            "LAMINA_CORS_ALLOWED_ORIGINS",
        ],
    ),
    (
        "process-upload",
        &[
            "IMAGES_TABLE",
            "CONNECTIONS_TABLE",
            "IMAGES_BUCKET",
            "IMAGES_PUBLIC_URL",
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
