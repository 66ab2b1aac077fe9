//! The tables' keys and indexes, as the adapters use them and the policies name them.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::Value;

use crate::{all_values, at, of_type, template, text, untag};

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
fn connections_expire_on_the_attribute_the_adapter_writes() {
    let template = template();
    let defined = of_type(&template, "AWS::DynamoDB::Table");
    let ttl = at(
        defined["ConnectionsTable"],
        &["Properties", "TimeToLiveSpecification"],
    );
    assert_eq!(
        text(ttl, &["AttributeName"]),
        udagram::aws::CONNECTION_TTL_ATTRIBUTE
    );
    assert_eq!(at(ttl, &["Enabled"]).as_bool(), Some(true));
}

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
