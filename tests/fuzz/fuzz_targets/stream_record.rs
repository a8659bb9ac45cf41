//! DynamoDB Streams events as the Lambda receives them: decoding a record yields a commit or a
//! reasoned error, and a decoded commit folds or is refused — never a panic.
#![no_main]

use aws_lambda_events::event::dynamodb::Event;
use dlg_core::graph::Graph;
use dlg_store::stream::{Record, decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<Event>(data) else {
        return;
    };
    for record in &event.records {
        if let Ok(Record::Commit(dialogue, row)) = decode(record) {
            let mut graph = Graph::new(dialogue);
            let _ = graph.apply(&row.bytes);
        }
    }
});
