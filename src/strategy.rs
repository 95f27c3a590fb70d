//! Heap strategies: how a runtime lays out process memory. Every workload is meant to run
//! under each; this module names them and says which this build can run.
//!
//! # Invariants
//! 1. A strategy's name is its `--heap` spelling and the `heap` field of its reports.
//! 2. [`Strategy::available`] is true only for strategies this build implements; asking for
//!    another is a usage error before anything runs, never a silent substitution.

use std::fmt;

use clap::ValueEnum;

use crate::failure::Failure;

/// A heap strategy, as chosen with `--heap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
pub enum Strategy {
    /// One private heap per process, collected on its own; freed whole at exit.
    PerProcess,
    /// One heap for all processes, collected stop-the-world.
    Shared,
    /// Private heaps plus a shared message area.
    Hybrid,
    /// The real BEAM (`erl`), running the Erlang version of the workload.
    Beam,
    /// The JVM (`java`) with the Parallel collector, running the Java version.
    JvmParallel,
    /// The JVM with G1, its default collector.
    JvmG1,
    /// The JVM with ZGC, its concurrent low-pause collector.
    JvmZgc,
    /// Go (`go`), running the Go version: goroutines and channels.
    Go,
}

impl Strategy {
    /// Every strategy, in `--heap` listing order.
    pub const ALL: [Strategy; 8] = [
        Strategy::PerProcess,
        Strategy::Shared,
        Strategy::Hybrid,
        Strategy::Beam,
        Strategy::JvmParallel,
        Strategy::JvmG1,
        Strategy::JvmZgc,
        Strategy::Go,
    ];

    /// The `--heap` spelling (Invariant 1).
    pub fn name(self) -> &'static str {
        match self {
            Strategy::PerProcess => "per-process",
            Strategy::Shared => "shared",
            Strategy::Hybrid => "hybrid",
            Strategy::Beam => "beam",
            Strategy::JvmParallel => "jvm-parallel",
            Strategy::JvmG1 => "jvm-g1",
            Strategy::JvmZgc => "jvm-zgc",
            Strategy::Go => "go",
        }
    }

    /// Whether this build can run workloads under the strategy (Invariant 2). The peers
    /// (`beam`, `jvm-*`, `go`) run the workloads that have a version in their language,
    /// where their tools are installed (see [`crate::peer`]).
    pub fn available(self) -> bool {
        true
    }

    /// The runtime heap kind a heaplab strategy runs on: `None` for a peer (another
    /// program) and strategies this build lacks.
    pub fn heap_kind(self) -> Option<heaplab_runtime::HeapKind> {
        match self {
            Strategy::PerProcess => Some(heaplab_runtime::HeapKind::PerProcess),
            Strategy::Shared => Some(heaplab_runtime::HeapKind::shared()),
            Strategy::Hybrid => Some(heaplab_runtime::HeapKind::hybrid()),
            _ => None,
        }
    }

    /// `Ok` if available, else a usage failure naming the strategies that are.
    ///
    /// # Errors
    /// [`Failure::Usage`] when the strategy is not available.
    pub fn require_available(self) -> Result<Strategy, Failure> {
        if self.available() {
            return Ok(self);
        }
        let available: Vec<&str> = Strategy::ALL.iter().filter(|s| s.available()).map(|s| s.name()).collect();
        Err(Failure::usage(format!(
            "heap '{}' is not available yet; available: {}",
            self.name(),
            available.join(", ")
        )))
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_clap_spelling() {
        for strategy in Strategy::ALL {
            let parsed = Strategy::from_str(strategy.name(), false).unwrap();
            assert_eq!(parsed, strategy);
        }
    }

    #[test]
    fn every_heaplab_strategy_runs_on_the_runtime() {
        for strategy in [Strategy::PerProcess, Strategy::Shared, Strategy::Hybrid] {
            assert_eq!(strategy.require_available(), Ok(strategy));
            assert_eq!(strategy.heap_kind().map(|k| k.name()), Some(strategy.name()));
        }
        assert_eq!(Strategy::Beam.heap_kind(), None);
    }
}
