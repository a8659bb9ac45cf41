//! The projector: the stream handler under random deliveries on both backends, the number of
//! DynamoDB requests behind graph reads, and the real `bootstrap` binary under a Lambda runtime.
//!
//! - `delivery`: random dialogues, random deliveries (reordered, duplicated, split into batches,
//!   failures injected and redelivered from the reported record) converge to the rebuild.
//! - `requests`: graph reads on DynamoDB Local, counted request by request.
//! - `lambda`: `bootstrap` under `cargo lambda watch`, invoked with events made of real DynamoDB
//!   Local stream records.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

mod delivery;
mod lambda;
mod requests;
