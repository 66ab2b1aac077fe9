//! [`ParameterStoreSource`], the SSM Parameter Store adapter.

use aws_sdk_ssm::Client;
use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ssm::operation::get_parameter::GetParameterError;
use aws_sdk_ssm::types::Parameter;

use super::{BoxFuture, SecretKey, SecretSource, SecretValue, SourceError, VersionStage};

const SERVICE: &str = "ssm";

/// Reads parameters with `GetParameter` and, for path fetches, `GetParametersByPath` (recursive,
/// following `NextToken` through every page). `SecureString`s are decrypted unless turned off. The
/// version id is the parameter's version number. The function's role needs `ssm:GetParameter`,
/// `ssm:GetParametersByPath` and `kms:Decrypt` for `SecureString`s.
///
/// Version stages: [`VersionStage::Current`] reads the latest version, [`VersionStage::Label`]
/// reads `name:label` (a label or a version number), [`VersionStage::Previous`] reads the version
/// before the latest (two calls), and [`VersionStage::Pending`] is unsupported.
///
/// ```no_run
/// use lamina_middleware::secrets::{ParameterStoreSource, SecretCache};
///
/// // `client` is built once at init: `aws_sdk_ssm::Client::new(&sdk_config)`.
/// # async fn demo(client: aws_sdk_ssm::Client) -> Result<(), lamina_middleware::secrets::SecretError> {
/// let source = ParameterStoreSource::new(client).page_size(10);
/// let cache = SecretCache::new(source);
/// for (name, value) in cache.get_path("/udagram/prod").await?.iter() {
///     println!("{name} has version {:?}", value.version_id());
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ParameterStoreSource {
    client: Client,
    with_decryption: bool,
    page_size: Option<i32>,
}

impl ParameterStoreSource {
    /// An adapter over an SSM client that decrypts `SecureString`s.
    #[must_use]
    pub fn new(client: Client) -> Self {
        Self {
            client,
            with_decryption: true,
            page_size: None,
        }
    }

    /// Whether `SecureString`s are decrypted (default `true`); without it their ciphertext is read.
    #[must_use]
    pub fn with_decryption(mut self, decrypt: bool) -> Self {
        self.with_decryption = decrypt;
        self
    }

    /// `MaxResults` per `GetParametersByPath` page (1 to 10; the service's default is 10).
    #[must_use]
    pub fn page_size(mut self, page_size: i32) -> Self {
        self.page_size = Some(page_size.clamp(1, 10));
        self
    }

    /// The client in use.
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn get(&self, selector: &str) -> Result<Parameter, SourceError> {
        let output = self
            .client
            .get_parameter()
            .name(selector)
            .with_decryption(self.with_decryption)
            .send()
            .await
            .map_err(map_get_error)?;
        output.parameter.ok_or(SourceError::NotFound)
    }
}

fn to_value(parameter: Parameter) -> Result<(String, SecretValue), SourceError> {
    let version = parameter.version;
    let name = parameter.name.unwrap_or_default();
    let value = parameter.value.ok_or(SourceError::NotFound)?;
    Ok((
        name,
        SecretValue::text(value).with_version_id(version.to_string()),
    ))
}

impl SecretSource for ParameterStoreSource {
    fn fetch<'a>(&'a self, key: &'a SecretKey) -> BoxFuture<'a, Result<SecretValue, SourceError>> {
        Box::pin(async move {
            let name = key.name();
            let parameter = match key.stage() {
                VersionStage::Current => self.get(name).await?,
                VersionStage::Label(label) => self.get(&format!("{name}:{label}")).await?,
                VersionStage::Previous => {
                    let latest = self.get(name).await?.version;
                    if latest <= 1 {
                        return Err(SourceError::NotFound);
                    }
                    self.get(&format!("{name}:{}", latest - 1)).await?
                }
                VersionStage::Pending => {
                    return Err(SourceError::Unsupported {
                        operation: "a pending version in Parameter Store",
                    });
                }
            };
            to_value(parameter).map(|(_, value)| value)
        })
    }

    fn fetch_path<'a>(
        &'a self,
        path: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, SecretValue)>, SourceError>> {
        Box::pin(async move {
            let mut values = Vec::new();
            let mut next_token = None;
            let mut pages = 0_usize;
            loop {
                let output = self
                    .client
                    .get_parameters_by_path()
                    .path(path)
                    .recursive(true)
                    .with_decryption(self.with_decryption)
                    .set_max_results(self.page_size)
                    .set_next_token(next_token.take())
                    .send()
                    .await
                    .map_err(|error| backend(&error, error.code()))?;
                pages += 1;
                for parameter in output.parameters.unwrap_or_default() {
                    values.push(to_value(parameter)?);
                }
                match output.next_token {
                    Some(token) if !token.is_empty() => next_token = Some(token),
                    _ => break,
                }
            }
            tracing::debug!(
                path,
                pages,
                parameters = values.len(),
                "read parameters by path"
            );
            Ok(values)
        })
    }
}

fn map_get_error<R: std::fmt::Debug + 'static>(
    error: SdkError<GetParameterError, R>,
) -> SourceError {
    match error.as_service_error() {
        Some(
            GetParameterError::ParameterNotFound(_)
            | GetParameterError::ParameterVersionNotFound(_),
        ) => SourceError::NotFound,
        _ => backend(&error, error.code()),
    }
}

fn backend<E: std::error::Error + 'static>(error: &E, code: Option<&str>) -> SourceError {
    SourceError::Backend {
        service: SERVICE,
        code: code.map(str::to_owned),
        message: DisplayErrorContext(error).to_string(),
    }
}
