//! [`SecretsManagerSource`], the AWS Secrets Manager adapter.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;

use super::{BoxFuture, SecretKey, SecretSource, SecretValue, SourceError};

const SERVICE: &str = "secretsmanager";

/// Reads secrets with Secrets Manager's `GetSecretValue`, at the key's `VersionStage`
/// (`AWSCURRENT`, `AWSPREVIOUS`, `AWSPENDING` or a custom label). `SecretString` becomes a text
/// value, `SecretBinary` a binary one; the `VersionId` is kept. The function's role needs
/// `secretsmanager:GetSecretValue` (and `kms:Decrypt` for a customer-managed key).
///
/// Path fetches are not supported (Secrets Manager has no hierarchy).
///
/// ```no_run
/// use lamina_middleware::secrets::{SecretCache, SecretsManagerSource};
///
/// // `client` is built once at init, from the shared SDK configuration:
/// // `aws_sdk_secretsmanager::Client::new(&sdk_config)`.
/// # fn demo(client: aws_sdk_secretsmanager::Client) {
/// let source = SecretsManagerSource::new(client);
/// let cache = SecretCache::new(source);
/// # let _ = cache;
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SecretsManagerSource {
    client: Client,
}

impl SecretsManagerSource {
    /// An adapter over a Secrets Manager client.
    #[must_use]
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// The client in use.
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }
}

impl SecretSource for SecretsManagerSource {
    fn fetch<'a>(&'a self, key: &'a SecretKey) -> BoxFuture<'a, Result<SecretValue, SourceError>> {
        Box::pin(async move {
            let output = self
                .client
                .get_secret_value()
                .secret_id(key.name())
                .version_stage(key.stage().as_label())
                .send()
                .await
                .map_err(map_error)?;
            let value = if let Some(text) = output.secret_string {
                SecretValue::text(text)
            } else if let Some(blob) = output.secret_binary {
                SecretValue::binary(blob.into_inner())
            } else {
                // AWS answers ResourceNotFoundException for a version without a value; some
                // emulators answer with an empty body instead. Either way there is nothing to read.
                return Err(SourceError::NotFound);
            };
            Ok(match output.version_id {
                Some(version_id) => value.with_version_id(version_id),
                None => value,
            })
        })
    }
}

fn map_error<R>(error: SdkError<GetSecretValueError, R>) -> SourceError
where
    R: std::fmt::Debug + 'static,
{
    if let Some(GetSecretValueError::ResourceNotFoundException(_)) = error.as_service_error() {
        return SourceError::NotFound;
    }
    SourceError::Backend {
        service: SERVICE,
        code: error.code().map(str::to_owned),
        message: DisplayErrorContext(&error).to_string(),
    }
}
