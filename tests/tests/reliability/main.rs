//! Reliability and security tests that try hard to break the ledger's promises.
//!
//! - `tamper`: a randomized campaign of mutations of stored ledgers on both backends (byte flips,
//!   deleted, duplicated, reordered and truncated commits, a commit replayed from another
//!   dialogue, sealed fields swapped between events, entities and dialogues by an attacker who
//!   recomputes the chain); `audit` must detect every one and name the right commit.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

mod tamper;
