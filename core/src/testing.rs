//! Helpers for tests in every crate: a deterministic entropy source. Never use it to seal real
//! data: its output is predictable from the seed.

use crate::seal::Entropy;

/// Entropy from blake3's extendable output keyed by a seed: repeatable across runs, so tests and
/// golden fixtures are reproducible.
#[derive(Debug)]
pub struct TestEntropy {
    reader: blake3::OutputReader,
}

impl TestEntropy {
    /// A stream determined by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut hasher = blake3::Hasher::new_derive_key("dlg test entropy v1");
        hasher.update(&seed.to_le_bytes());
        Self {
            reader: hasher.finalize_xof(),
        }
    }
}

impl Entropy for TestEntropy {
    fn fill(&mut self, dest: &mut [u8]) {
        self.reader.fill(dest);
    }
}

use crate::append::{AppendContext, PrepareError, Receipt, prepare};
use crate::chain::Hash;
use crate::command::{Command, CreateDialogue, decide_create};
use crate::commit::{CommitHeader, EncodedCommit, FORMAT_VERSION, seal_commit};
use crate::graph::{ApplyOutcome, Graph};
use crate::ids::DialogueId;
use crate::seal::SecretKey;

/// An in-memory ledger of one dialogue for tests: commits appended through the real
/// decide → seal → encode path and folded into the graph.
#[derive(Debug)]
pub struct MemoryLedger {
    /// The stored commits, in order.
    pub commits: Vec<EncodedCommit>,
    /// The graph folded from them.
    pub graph: Graph,
    /// The dialogue's data key (version 1).
    pub key: SecretKey,
    /// Entropy for nonces.
    pub entropy: TestEntropy,
    clock: u32,
}

impl MemoryLedger {
    /// Creates a dialogue with `create` under `dialogue`.
    pub fn create(
        dialogue: &str,
        create: &CreateDialogue,
        seed: u64,
    ) -> Result<Self, PrepareError> {
        let dialogue = DialogueId::parse(dialogue)
            .map_err(|e| PrepareError::Commit(crate::commit::CommitError::Header(e.to_string())))?;
        let mut entropy = TestEntropy::new(seed);
        let key = SecretKey::generate(&mut entropy);
        let mut ledger = Self {
            commits: Vec::new(),
            graph: Graph::new(dialogue),
            key,
            entropy,
            clock: 0,
        };
        let decision = decide_create(&ledger.graph, create)?;
        let header = ledger.header(None);
        let encoded = seal_commit(
            header,
            decision.events,
            &ledger.graph.head_hash(),
            &ledger.key,
            &mut ledger.entropy,
        )?;
        ledger.store(encoded);
        Ok(ledger)
    }

    fn next_time(&mut self) -> String {
        self.clock += 1;
        format!(
            "2026-03-12T20:{:02}:{:02}Z",
            (self.clock / 60) % 60,
            self.clock % 60
        )
    }

    fn header(&mut self, idempotency_key: Option<&str>) -> CommitHeader {
        CommitHeader {
            format: FORMAT_VERSION,
            dialogue: self.graph.dialogue.clone(),
            commit: self.graph.checkpoint.commit + 1,
            first_seq: self.graph.checkpoint.next_seq,
            actor: "test-judge".to_owned(),
            time: self.next_time(),
            idempotency_key: idempotency_key.map(str::to_owned),
            request: None,
            key_version: 1,
        }
    }

    fn store(&mut self, encoded: EncodedCommit) -> Receipt {
        match self.graph.apply(&encoded.bytes) {
            Ok(ApplyOutcome::Applied(_)) => {}
            other => panic!("a freshly built commit must apply, got {other:?}"),
        }
        let receipt = Receipt::of(&encoded.commit, &encoded.hash);
        self.commits.push(encoded);
        receipt
    }

    /// Runs a command; on success the commit is stored and folded.
    pub fn run(&mut self, command: &Command) -> Result<Receipt, PrepareError> {
        let time = self.next_time();
        let context = AppendContext {
            actor: "test-judge",
            time: &time,
            idempotency_key: None,
            key: &self.key,
            key_version: 1,
        };
        let encoded = prepare(&self.graph, command, &context, &mut self.entropy)?;
        Ok(self.store(encoded))
    }

    /// The stored bytes of every commit.
    pub fn bytes(&self) -> Vec<&[u8]> {
        self.commits.iter().map(|c| c.bytes.as_slice()).collect()
    }

    /// The recorded hash of every commit.
    pub fn hashes(&self) -> Vec<Hash> {
        self.commits.iter().map(|c| c.hash).collect()
    }
}
