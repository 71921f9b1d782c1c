//! Fuzzing on stable Rust: seeded, mutation-based, over a committed corpus.
//!
//! `cargo xtask fuzz <target>` drives [`Runner`]: for each iteration the [`Mutator`] makes one
//! input from the target's corpus (`fuzz/corpus/<target>/`) and the [`Target`] feeds it to the
//! code under test under three watches — a panic (caught, recorded, the run goes on), a hang
//! past [`DEFAULT_DEADLINE`] and live memory past [`DEFAULT_ALLOC_CAP_BYTES`] (both recorded
//! by a watchdog thread, which then ends the process: the stuck thread cannot be recovered).
//! Failing inputs are written to `fuzz/crashes/<target>/<hash>`; fixed ones are committed under
//! `fuzz/regressions/<target>/` and replayed by this crate's test. The same target, seed and
//! iteration count give the same inputs in the same order.

#[allow(unsafe_code)]
mod alloc;
pub mod corpus;
pub mod mutate;
pub mod runner;
pub mod targets;

use std::path::PathBuf;

pub use corpus::{load_corpus, message_corpus};
pub use mutate::{MAX_INPUT_BYTES, Mutator};
pub use runner::{
    DEFAULT_ALLOC_CAP_BYTES, DEFAULT_DEADLINE, Failure, FailureKind, RunOptions, RunReport, Runner, input_hash,
};
pub use targets::{ALL_TARGETS, Target};

/// Why a fuzz run could not start or record its findings.
#[derive(Debug, thiserror::Error)]
pub enum FuzzError {
    #[error(
        "unknown fuzz target `{0}` (targets: message-primary, message-secondary, scenario, node-config, master-file, all)"
    )]
    UnknownTarget(String),
    #[error("cannot read corpus {path}: {error}")]
    Corpus { path: PathBuf, error: std::io::ErrorKind },
    #[error("corpus {path} has no files")]
    EmptyCorpus { path: PathBuf },
    #[error("corpus file {path} is {len} bytes; the limit is {limit}")]
    CorpusFileTooLarge { path: PathBuf, len: usize, limit: usize },
    #[error("cannot prepare scratch directory {path}: {error}")]
    Scratch { path: PathBuf, error: std::io::ErrorKind },
    #[error("cannot write failing input to {path}: {error}")]
    WriteCrash { path: PathBuf, error: std::io::ErrorKind },
    #[error("cannot start the watchdog thread: {0}")]
    Watchdog(std::io::ErrorKind),
}
