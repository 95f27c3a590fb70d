//! What the workloads that run on a heaplab runtime share: starting the runtime for a run.

use heaplab_runtime::{Runtime, DEFAULT_MAX_PROCESSES, MAX_TABLE_PROCESSES};

use crate::failure::Failure;
use crate::workload::RunContext;

/// Processes a workload may need besides the ones it counts (the root process of
/// `block_on`, one finishing while the next starts).
const SPARE_PROCESSES: usize = 64;

/// A runtime with the run's heap strategy and scheduler count, room for `processes` processes, and every
/// process heap's collections going to the run's GC log.
///
/// # Errors
/// A run failure if the runtime refuses the configuration.
pub(super) fn start(context: &RunContext, processes: usize) -> Result<Runtime, Failure> {
    let limit = processes.saturating_add(SPARE_PROCESSES).clamp(DEFAULT_MAX_PROCESSES, MAX_TABLE_PROCESSES);
    let heap_kind = context.strategy.heap_kind().ok_or_else(|| {
        Failure::usage(format!("heap '{}' does not run on the heaplab runtime", context.strategy))
    })?;
    Runtime::builder()
        .heap_kind(heap_kind)
        .schedulers(context.schedulers as usize)
        .max_processes(limit)
        .gc_sink(context.gc_log.clone())
        .build()
        .map_err(|e| Failure::run(format!("cannot start the runtime: {e}")))
}

/// A one-line failure for a process that ended without a result.
pub(super) fn process_failed(workload: &str, what: &str, reason: impl std::fmt::Display) -> Failure {
    Failure::run(format!("{workload}: the {what} process failed: {reason}"))
}
