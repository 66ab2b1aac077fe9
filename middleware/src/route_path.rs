//! The path a route is matched against: the API's own path, without the stage `lambda_http` puts
//! in front of a REST API's.
//!
//! `lambda_http` builds a REST API (payload 1.0) request's URI as `/{stage}{path}` (`/prod/hello`
//! for the resource path `/hello` on stage `prod`) unless the event's path already starts with
//! `/{stage}/` or `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set. Routes are written as API Gateway
//! knows them (`/hello`), so every layer of this crate that matches paths ([`Router`], the
//! `skip_path` family of `JwtAuthLayer`) matches this path instead of the URI's. HTTP API
//! (payload 2.0), function URL, ALB and local requests are matched as they come. The request
//! itself, its URI included, is never changed.
//!
//! [`Router`]: crate::errors::Router

use lambda_http::RequestExt as _;
use lambda_http::request::RequestContext;

/// The request's path without the REST API stage that `lambda_http` added: unchanged unless the
/// request came from a REST API event whose path did not already start with the stage.
pub(crate) fn route_path<B>(request: &http::Request<B>) -> &str {
    let path = request.uri().path();
    let Some(RequestContext::ApiGatewayV1(context)) = request.request_context_ref() else {
        return path;
    };
    let Some(stage) = context.stage.as_deref().filter(|stage| !stage.is_empty()) else {
        return path;
    };
    let Some(rest) = path
        .strip_prefix('/')
        .and_then(|path| path.strip_prefix(stage))
        .filter(|rest| rest.starts_with('/'))
    else {
        return path;
    };
    // The event's own path started with the stage: `lambda_http` added nothing.
    let event_path = request.raw_http_path();
    let added = !event_path
        .strip_prefix('/')
        .and_then(|path| path.strip_prefix(stage))
        .is_some_and(|rest| rest.starts_with('/'));
    if added { rest } else { path }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::request::LambdaRequest;

    /// A request as `lambda_http` builds it from a REST API event for `path` on stage `dev`.
    fn rest_api(path: &str) -> http::Request<lambda_http::Body> {
        let event = serde_json::json!({
            "resource": "/{proxy+}",
            "path": path,
            "httpMethod": "GET",
            "headers": {"Host": "abc.execute-api.us-east-1.amazonaws.com"},
            "multiValueHeaders": {"Host": ["abc.execute-api.us-east-1.amazonaws.com"]},
            "queryStringParameters": {"limit": "5"},
            "multiValueQueryStringParameters": {"limit": ["5"]},
            "pathParameters": null,
            "stageVariables": null,
            "requestContext": {
                "accountId": "123456789012", "resourceId": "r1", "stage": "dev",
                "requestId": "id", "identity": {}, "resourcePath": "/{proxy+}",
                "httpMethod": "GET", "apiId": "abc", "path": format!("/dev{path}"),
            },
            "body": null,
            "isBase64Encoded": false,
        });
        let event: LambdaRequest = serde_json::from_value(event).unwrap_or_else(|e| panic!("{e}"));
        lambda_http::Request::from(event)
    }

    #[test]
    fn the_rest_api_stage_is_left_out() {
        for (event_path, uri_path, route) in [
            ("/hello", "/dev/hello", "/hello"),
            ("/", "/dev/", "/"),
            (
                "/groups/1/images",
                "/dev/groups/1/images",
                "/groups/1/images",
            ),
            ("/develop", "/dev/develop", "/develop"),
            // The API's own path starts with the stage: nothing was added, nothing is removed.
            ("/dev/hello", "/dev/hello", "/dev/hello"),
        ] {
            let request = rest_api(event_path);
            assert_eq!(request.uri().path(), uri_path, "{event_path}");
            assert_eq!(route_path(&request), route, "{event_path}");
        }
    }

    #[test]
    fn other_requests_are_matched_as_they_come() {
        let local = http::Request::get("/dev/hello")
            .body(())
            .unwrap_or_default();
        assert_eq!(route_path(&local), "/dev/hello");
    }
}
