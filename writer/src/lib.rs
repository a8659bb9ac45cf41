//! dlg-writer: the append path and the `dlg` command line of the dialogue ledger.
//!
//! - [`keys`]: the local master and signing key files, the KMS provider and signer, OS entropy,
//!   key rings.
//! - [`checkpoint`]: signed checkpoints (C2SP signed notes); [`heads`]: the writer's
//!   high-water marks outside the store.
//! - [`ledger`]: the append path, idempotency, conflict retry, and the in-process projector.
//! - [`audit`]: replay and verification.
//! - [`import`]: importing archives of existing dialogues.
//! - [`mcp`]: the dialogue tools as an MCP server (`dlg mcp`).
//! - [`cli`], [`render`], [`demo`]: the command line for people and tools; [`files`]: reading
//!   user-named files safely (regular files only, bounded).
//!
//! The stores it writes are `dlg-store`'s (both adapters); the projector it runs in-process is
//! `dlg-projector`'s.

#![forbid(unsafe_code)]

pub mod audit;
pub mod checkpoint;
pub mod cli;
pub mod context;
pub mod demo;
pub mod draft;
pub mod files;
pub mod heads;
pub mod import;
pub mod keys;
pub mod ledger;
pub mod mcp;
pub mod read;
pub mod render;
pub mod report;
