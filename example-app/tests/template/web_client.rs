//! The web client on AWS: its files behind their own distribution, the config it reads naming
//! this stage's endpoints, and the API answering browsers of that origin only.

use serde_yaml::Value;

use super::{at, resources, sub_text, tagged, template, text, untag};

/// `!If [HasWebClientOrigin, !Ref WebClientOrigin, !Sub "https://${WebClientDistribution.DomainName}"]`:
/// the `WebClientOrigin` parameter when given, else the stack's own distribution.
pub(crate) fn web_client_origin() -> Value {
    tagged(
        "If",
        Value::Sequence(vec![
            Value::from("HasWebClientOrigin"),
            tagged("Ref", "WebClientOrigin"),
            tagged("Sub", "https://${WebClientDistribution.DomainName}"),
        ]),
    )
}

#[test]
fn the_client_is_served_with_spa_fallback_long_caching_and_a_policy() {
    let template = template();
    let resources = resources(&template);
    let config = at(
        resources["WebClientDistribution"],
        &["Properties", "DistributionConfig"],
    );
    assert_eq!(text(config, &["DefaultRootObject"]), "index.html");
    let fallbacks = at(config, &["CustomErrorResponses"]).as_sequence().unwrap();
    for code in [403, 404] {
        let fallback = fallbacks
            .iter()
            .find(|f| at(f, &["ErrorCode"]).as_u64() == Some(code))
            .unwrap_or_else(|| panic!("no fallback for {code}"));
        assert_eq!(text(fallback, &["ResponsePagePath"]), "/index.html");
        assert_eq!(at(fallback, &["ResponseCode"]).as_u64(), Some(200));
    }
    let assets = &at(config, &["CacheBehaviors"]).as_sequence().unwrap()[0];
    assert_eq!(text(assets, &["PathPattern"]), "/assets/*");
    // Managed "CachingOptimized" for hashed files, "CachingDisabled" for index.html and config.json.
    assert_eq!(
        text(assets, &["CachePolicyId"]),
        "658327ea-f89d-4fab-a63d-7e88639e58f6"
    );
    assert_eq!(
        text(config, &["DefaultCacheBehavior", "CachePolicyId"]),
        "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    );
    let headers = tagged("Ref", "WebClientHeaders");
    assert_eq!(at(assets, &["ResponseHeadersPolicyId"]), &headers);
    assert_eq!(
        at(config, &["DefaultCacheBehavior", "ResponseHeadersPolicyId"]),
        &headers
    );
    let policy = at(
        resources["WebClientHeaders"],
        &[
            "Properties",
            "ResponseHeadersPolicyConfig",
            "SecurityHeadersConfig",
            "ContentSecurityPolicy",
        ],
    );
    let (tag, parts) = untag(at(policy, &["ContentSecurityPolicy"])).unwrap();
    assert_eq!(tag, "Sub");
    let csp = parts.as_sequence().unwrap()[0].as_str().unwrap();
    for directive in [
        "script-src 'self';",
        "style-src 'self';",
        "frame-ancestors 'none';",
        "object-src 'none';",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
}

#[test]
fn the_config_output_names_every_field_the_client_reads() {
    let template = template();
    let output = sub_text(at(&template, &["Outputs", "WebClientConfig", "Value"]));
    // The output is a template of JSON: with its `${...}` filled in, it has the same fields, in the
    // same shape, as the config `udagram serve` answers, which the client is tested against.
    let mut filled = output.to_owned();
    while let Some(start) = filled.find("${") {
        let end = start + filled[start..].find('}').unwrap();
        filled.replace_range(start..=end, "x");
    }
    let written: serde_json::Value = serde_json::from_str(&filled)
        .unwrap_or_else(|error| panic!("WebClientConfig is not JSON ({error}): {output}"));
    let served = serde_json::to_value(udagram::serve::WebClientConfig {
        api_url: String::new(),
        web_socket_url: String::new(),
        oidc: udagram::serve::OidcClientConfig {
            authority: String::new(),
            client_id: String::new(),
            scope: String::new(),
            audience: Some(String::new()),
        },
    })
    .unwrap();
    let keys = |value: &serde_json::Value| -> Vec<String> {
        let mut keys = Vec::new();
        for (key, inner) in value.as_object().unwrap() {
            keys.push(key.clone());
            if let Some(inner) = inner.as_object() {
                keys.extend(inner.keys().map(|k| format!("{key}.{k}")));
            }
        }
        keys.sort();
        keys
    };
    assert_eq!(keys(&written), keys(&served));
    assert!(
        output.contains("${RestApi}") && output.contains("${WebSocketApi}"),
        "{output}"
    );
    assert!(
        output.contains("\"authority\": \"${JwtIssuer}\""),
        "{output}"
    );
    assert!(
        output.contains("\"clientId\": \"${OidcClientId}\""),
        "{output}"
    );
}

#[test]
fn the_api_and_the_uploads_answer_the_client_origin_only() {
    let template = template();
    let resources = resources(&template);
    let origin = web_client_origin();
    let rules = at(
        resources["ImagesBucket"],
        &["Properties", "CorsConfiguration", "CorsRules"],
    );
    assert_eq!(at(&rules[0], &["AllowedOrigins"])[0], origin);
    // The web client posts S3's upload form (the `upload` answer's `{url, fields}`), never a PUT.
    let methods: Vec<&str> = at(&rules[0], &["AllowedMethods"])
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(methods, ["POST"]);
    assert_eq!(rules.as_sequence().unwrap().len(), 1, "one CORS rule");
    let api = at(resources["RestApi"], &["Properties"]);
    let quoted = |value: &Value| {
        let (tag, parts) = untag(value).unwrap();
        assert_eq!(tag, "Sub");
        let parts = parts.as_sequence().unwrap();
        assert_eq!(parts[0].as_str(), Some("'${Origin}'"));
        assert_eq!(at(&parts[1], &["Origin"]), &origin);
    };
    quoted(at(api, &["Cors", "AllowOrigin"]));
    for response in ["BAD_REQUEST_BODY", "DEFAULT_4XX", "DEFAULT_5XX"] {
        quoted(at(
            api,
            &[
                "GatewayResponses",
                response,
                "ResponseParameters",
                "Headers",
                "Access-Control-Allow-Origin",
            ],
        ));
    }
    let text = super::TEMPLATE;
    assert!(
        !text.contains("\"'*'\""),
        "no hard-coded wildcard origin is left"
    );
}
