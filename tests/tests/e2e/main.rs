//! End-to-end tests of the built `dlg` binary on the embedded SQLite store, one binary:
//!
//! - `requests`: the JSON requests the tests send, as agent tooling would.
//! - `commands`: every command on its happy path, for people (text) and tools (`--json`).
//! - `errors`: bad input of every kind gets a clear error, the right exit code, and stores nothing.
//! - `tampering`: audit finds edits made directly in the SQLite file, at the right commit.
//! - `forgery`: format 2 against a keyless attacker: forged, rewritten, rolled-back, deleted.
//! - `concurrency`: two processes appending to one dialogue lose and duplicate nothing.
//! - `confidentiality`: content never reaches the SQLite files in clear.
//! - `dynamodb`: every command with `--store dynamodb` against DynamoDB Local.
//! - `kms`: the AWS KMS master key provider (a local KMS-compatible server), on both stores.
//! - `legacy`: a format 1 ledger of the old SQLite layout, read, verified and continued in format 2.
//! - `import`: importing archives of existing dialogues (the sample fixture and synthetic ones).
//! - `independent`: the Python verifier written from docs/format.md alone checks vectors and a live ledger.
//! - `mcp`: `dlg mcp` driven by the official Python MCP SDK.
//! - `mcp_wire`: `dlg mcp` against a hostile raw JSON-RPC client: every unusable line answered,
//!   no content in its trace log.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly on purpose"
)]

mod commands;
mod concurrency;
mod confidentiality;
mod dynamodb;
mod errors;
mod forgery;
mod import;
mod independent;
mod kms;
mod legacy;
mod mcp;
mod mcp_wire;
mod requests;
mod tampering;
