//! dlg-projector: the read side of the dialogue ledger.
//!
//! The storage ports and adapters it runs over are `dlg-store`'s; this crate links only its
//! DynamoDB adapter, so the Lambda carries no SQLite.
//!
//! - [`projection`]: the fold runner that keeps a dialogue's graph items equal to the fold of its
//!   commits, whatever order and how many times commits are delivered. The same code runs
//!   in-process after an append, in the Lambda, and under the local stream runner.
//! - [`stream`]: the DynamoDB Streams contract: decoding records, the batch handler with its
//!   partial batch response.
//! - [`runner`]: the local stream runner that polls DynamoDB Local's stream and feeds the handler.
//! - [`logging`]: the log filter of every binary (no content in logs, at any level).
//!
//! **Architecture Invariant:** the projector holds no decryption key: sealed content is copied
//! from commits into graph items, never opened.

#![forbid(unsafe_code)]

pub mod logging;
pub mod projection;
pub mod runner;
pub mod stream;
