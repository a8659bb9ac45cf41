//! The log filter every `dlg` binary installs. Logs carry structure only (kinds, ids, sizes,
//! timings), never content, at any level: our own events are written that way, and the
//! libraries that log whole messages at debug or trace are held back whatever level is asked
//! for — the MCP library (every request and response, with the plaintext a client sent) is
//! silenced, and the HTTP and TLS layers under the AWS SDK (raw bodies, such as a KMS data key)
//! log no more than warnings.

use tracing_subscriber::EnvFilter;

/// Targets held back, with the most they may log.
const HELD_BACK: &[(&str, &str)] = &[
    ("rmcp", "off"),
    ("hyper", "warn"),
    ("hyper_util", "warn"),
    ("h2", "warn"),
    ("rustls", "warn"),
    ("aws_smithy_http_client", "warn"),
];

/// The filter `var` asks for (or `default`), with the held-back targets capped.
pub fn filter(var: &str, default: &str) -> EnvFilter {
    let mut filter = EnvFilter::try_from_env(var).unwrap_or_else(|_| EnvFilter::new(default));
    for (target, most) in HELD_BACK {
        if let Ok(directive) = format!("{target}={most}").parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}
