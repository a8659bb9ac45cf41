//! Reliability and security tests that try hard to break the ledger's promises.
//!
//! - `tamper`: a randomized campaign of mutations of stored ledgers on both backends (byte flips,
//!   deleted, duplicated, reordered and truncated commits, a commit replayed from another
//!   dialogue, sealed fields swapped between events, entities and dialogues by an attacker who
//!   recomputes the chain); `audit` must detect every one and name the right commit.
//! - `crash`: `kill -9` of a writer in the middle of an import (SQLite and DynamoDB Local) and of
//!   the stream runner in the middle of a batch, at random points; the retry lands every commit
//!   exactly once and the graph converges to the rebuild.
//! - `hostile`: random hostile strings in every content field, through every human-facing
//!   renderer: no control character, no forged line, no HTML, exact JSON.
//! - `memory`: oversize and endless requests on stdin and oversize MCP lines, refused in
//!   bounded memory (peak RSS measured).
//! - `load`: 32 writer processes over 8 dialogues against DynamoDB Local with the stream runner
//!   active; nothing lost or duplicated, and the projection catches up.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

mod bad_input;
mod cli;
mod crash;
mod hostile;
mod load;
mod memory;
mod tamper;

/// SplitMix64: a small, seeded, reproducible generator.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `range` (inclusive).
    pub fn within(&mut self, from: usize, to: usize) -> usize {
        from + (self.next_u64() % (to - from + 1) as u64) as usize
    }
}
