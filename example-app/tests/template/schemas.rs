//! The API Gateway models are the schema files, in JSON Schema draft 4.

use crate::{NEW_GROUP_SCHEMA, NEW_IMAGE_SCHEMA, at, template, to_json};

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
