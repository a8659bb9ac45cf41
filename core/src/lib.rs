//! dlg-core: the pure heart of the dialogue ledger.
//!
//! The domain of docs/dialogue.md ([`ids`], [`model`]), commands and their validation ([`command`],
//! [`error`]), events ([`event`]), the commit format ([`commit`]), sealing and the key hierarchy
//! ([`seal`]), commit signatures ([`sign`]), the hash chain ([`chain`]), the projection fold ([`graph`]) and the queries people
//! and tools ask of it ([`query`]), and untrusted text made safe to show ([`text`]).
//!
//! **Architecture Invariant:** this crate performs no I/O, never reads the clock and never draws
//! randomness itself: times come in as arguments, random bytes through [`seal::Entropy`].

#![forbid(unsafe_code)]

pub mod append;
pub mod archive;
pub mod chain;
pub mod command;
pub mod commit;
pub mod error;
pub mod event;
pub mod export;
pub mod graph;
pub mod ids;
pub mod model;
pub mod progress;
pub mod query;
pub mod seal;
pub mod sign;
pub mod text;
// Test helpers (seeded entropy, an in-memory ledger, random dialogues), behind the `testing`
// feature so they are never part of a release build.
#[cfg(feature = "testing")]
pub mod testing;
