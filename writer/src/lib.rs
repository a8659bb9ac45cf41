//! dlg-writer: the append path and the `dlg` command line of the dialogue ledger.
//!
//! - [`store`]: the storage ports and adapters, from `dlg-projector` (re-exported).
//! - [`keys`]: the local master key file, OS entropy, key rings.
//! - [`ledger`]: the append path, idempotency, conflict retry, and the in-process projector.
//! - [`audit`]: replay and verification.
//! - [`import`]: importing archives of existing dialogues.
//! - [`mcp`]: the dialogue tools as an MCP server (`dlg mcp`).
//! - [`cli`], [`render`], [`demo`]: the command line for people and tools.
//!
//! **Architecture Invariant:** only [`store`] adapters know SQL (or, later, DynamoDB attribute values).

#![forbid(unsafe_code)]

pub mod audit;
pub mod cli;
pub mod demo;
pub mod import;
pub mod keys;
pub mod ledger;
pub mod mcp;
pub mod render;
pub use dlg_projector::store;
