//! A Lambda function in moto with two published versions and an alias on the first: what the
//! moto-backed tests roll out.

use aws_sdk_lambda::{
    Client,
    primitives::Blob,
    types::{FunctionCode, Runtime},
};
use lamina_local::moto::{MotoServer, stored_zip};

/// Creates function `name` (versions 1 and 2) and alias `live` on version 1 with
/// `alias_description`, and returns a Lambda client on moto. Lambda's Docker must be off.
pub async fn function_with_alias(moto: &MotoServer, name: &str, alias_description: &str) -> Client {
    let role = moto.create_iam_role(&format!("{name}-role")).await.unwrap();
    let lambda = Client::new(moto.sdk_config());
    let code = stored_zip(
        "index.py",
        b"def handler(event, context):\n    return event\n",
    );
    lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Python312)
        .role(role)
        .handler("index.handler")
        .code(FunctionCode::builder().zip_file(Blob::new(code)).build())
        .send()
        .await
        .unwrap();
    for (description, version) in [("first", "1"), ("second", "2")] {
        lambda
            .update_function_configuration()
            .function_name(name)
            .description(description)
            .send()
            .await
            .unwrap();
        let published = lambda
            .publish_version()
            .function_name(name)
            .send()
            .await
            .unwrap();
        assert_eq!(published.version(), Some(version));
    }
    lambda
        .create_alias()
        .function_name(name)
        .name("live")
        .function_version("1")
        .description(alias_description)
        .send()
        .await
        .unwrap();
    lambda
}
