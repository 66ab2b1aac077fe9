//! One function per handler of the one binary, with what Globals give them and exactly the
//! variables each handler reads.

use std::collections::BTreeSet;

use serde_yaml::Value;

use crate::{
    HANDLERS, SEARCH_INDEX, at, functions_by_handler, sub_text, tagged, template, text, to_json,
    untag,
};

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
            "LAMINA_CORS_ALLOWED_ORIGINS" => crate::web_client::web_client_origin(),
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

/// The actions each handler's role is given beyond logging and tracing, as the AWS adapters use
/// them today. Widening a role is a deliberate change of this list.
const ACTIONS: [(&str, &[&str]); 6] = [
    (
        "api",
        &[
            "dynamodb:ConditionCheckItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "es:ESHttpGet",
            "es:ESHttpPost",
            "s3:PutObject",
        ],
    ),
    (
        "process-upload",
        &[
            "dynamodb:DeleteItem",
            "dynamodb:Query",
            "dynamodb:Scan",
            "dynamodb:UpdateItem",
            "execute-api:ManageConnections",
            "s3:GetObject",
            "s3:ListBucket",
            "s3:PutObject",
        ],
    ),
    (
        "index-stream",
        &[
            "es:ESHttpDelete",
            "es:ESHttpGet",
            "es:ESHttpHead",
            "es:ESHttpPost",
            "es:ESHttpPut",
        ],
    ),
    ("ws-connect", &["dynamodb:PutItem"]),
    ("ws-disconnect", &["dynamodb:DeleteItem"]),
    ("authorizer", &[]),
];

#[test]
fn each_role_has_only_the_actions_its_handler_uses_on_named_resources() {
    let template = template();
    let functions = functions_by_handler(&template);
    for (handler, want) in ACTIONS {
        let (name, function) = &functions[handler];
        let mut actions = BTreeSet::new();
        let policies = at(function, &["Properties"])
            .get("Policies")
            .and_then(Value::as_sequence)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for policy in policies {
            // Only explicit statements: a SAM policy template grants more than a handler uses.
            for statement in at(policy, &["Statement"]).as_sequence().unwrap() {
                assert_eq!(text(statement, &["Effect"]), "Allow", "{name}");
                let action = at(statement, &["Action"]);
                let listed = match action {
                    Value::Sequence(items) => items.iter().collect(),
                    single => vec![single],
                };
                for action in listed {
                    let action = action.as_str().unwrap();
                    assert!(!action.contains('*'), "{name}: {action}");
                    actions.insert(action.to_owned());
                }
                let resources = match at(statement, &["Resource"]) {
                    Value::Sequence(items) => items.iter().collect(),
                    single => vec![single],
                };
                for resource in resources {
                    assert_ne!(resource.as_str(), Some("*"), "{name}: a named resource");
                }
            }
        }
        let want: BTreeSet<String> = want.iter().map(|a| (*a).to_owned()).collect();
        assert_eq!(actions, want, "{name} ({handler})");
    }
}
