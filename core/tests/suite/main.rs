//! dlg-core's integration tests, one binary:
//!
//! - `archive`: the archive parsers never panic on arbitrary text.
//! - `validation`: given/when/then for every validation code, id mapping, all-errors-at-once.
//! - `transitions`: every allowed and every refused status transition of every kind.
//! - `chain`: tampering (byte flips, deleted, swapped, truncated commits) found at the right commit.
//! - `fold`: property tests of the projection fold (all at once = one by one; replays change nothing).
//! - `golden`: the commit encoding pinned by a fixture.
//! - `queries`: graph queries over a small dialogue.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]
#![allow(
    dead_code,
    reason = "each module uses a different subset of the helpers"
)]

mod archive;
mod chain;
mod common;
mod fold;
mod golden;
mod queries;
mod transitions;
mod validation;
