//! dlg-projector: the DynamoDB Streams projector (the Lambda `bootstrap`) and the graph-store
//! adapters. It will run `dlg_core::graph::Graph::apply`, the same fold the writer uses; nothing
//! is implemented here yet.
