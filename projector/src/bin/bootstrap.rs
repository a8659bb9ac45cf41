//! The projector Lambda: DynamoDB Streams events of the events table in, graph items out, and a
//! partial batch response. Configured by the environment (set by infra/template.yaml):
//! `DLG_EVENTS_TABLE`, `DLG_GRAPH_TABLE`, `AWS_REGION`, and `DLG_DYNAMODB_ENDPOINT` for DynamoDB
//! Local. It holds no key: sealed content is copied, never opened, and its
//! store handle has no keys table. Logs are JSON lines
//! (`RUST_LOG` sets the level, default `info`).

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use dlg_store::dynamodb::{DynamoProjection, ProjectionConfig};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(dlg_projector::logging::filter("RUST_LOG", "info"))
        .with_current_span(false)
        .with_target(false)
        .init();
    let config = config_from_env()?;
    // One client for the life of the process: created during init, not per invocation.
    let store = DynamoProjection::connect(config).await;
    let store = &store;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        // Boxed: the handler's future is deep, and the runtime nests it further.
        let handled = Box::pin(dlg_projector::stream::handle(store, &event.payload));
        Ok::<DynamoDbEventResponse, Error>(handled.await)
    }))
    .await
}

fn config_from_env() -> Result<ProjectionConfig, Error> {
    let required = |name: &str| {
        std::env::var(name).map_err(|_| {
            format!("the projector needs {name} in its environment (infra/template.yaml sets it)")
        })
    };
    Ok(ProjectionConfig {
        endpoint: std::env::var("DLG_DYNAMODB_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty()),
        region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned()),
        events_table: required("DLG_EVENTS_TABLE")?,
        graph_table: required("DLG_GRAPH_TABLE")?,
    })
}
