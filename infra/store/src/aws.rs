//! The AWS SDK configuration every client of the ledger shares (DynamoDB, DynamoDB Streams,
//! KMS): the HTTP client, region, endpoint, retries, timeouts and credentials.

use std::time::Duration;

use aws_config::Region;
use aws_sdk_dynamodb::config::Credentials;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// The configuration for one service in `region`, at `endpoint` when given (a local stand-in
/// such as DynamoDB Local or a KMS-compatible server): the SDK's HTTP client (hyper 1 and
/// rustls with ring; the SDK crates are built without a default client, so this is the only
/// one), retries with backoff (throttling, 5xx), timeouts so a dead endpoint fails in seconds,
/// and static local credentials against an endpoint URL when none are in the environment.
pub async fn sdk_config(region: &str, endpoint: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client())
        .region(Region::new(region.to_owned()))
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(4))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(10))
                .operation_timeout(Duration::from_secs(30))
                .build(),
        );
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            loader = loader.credentials_provider(Credentials::new(
                "local",
                "local",
                None,
                None,
                "dlg-local",
            ));
        }
    }
    loader.load().await
}

/// The HTTPS client of every AWS call (also used, through the loader, by the credential
/// providers).
fn http_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The innermost cause of an SDK error, which names what actually failed (connection refused,
/// an unresolvable host, ...), without the layers of wrappers above it.
pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}
