//! spawn: the cost of a process, in time and memory.
//!
//! A root process spawns N processes that each wait in `receive` for one message, then sends
//! each a message so they all exit. This is what makes "a process per connection / per
//! request" affordable on the BEAM: spawning is cheap and an idle process is small.
//!
//! # Protocol
//! The Erlang, Java and Go versions (peers/erlang/heaplab_spawn.erl,
//! peers/java/HeaplabSpawn.java, peers/go/spawn.go) follow the same steps.
//! 1. Start the runtime; allocate and fill the vector that will hold the N pids (so its
//!    pages are resident before the baseline); read the resident set size (`VmRSS`) and the
//!    bytes held in heap blocks.
//! 2. The root process spawns the N processes in a loop, yielding when its reductions are
//!    spent as any process does (each spawn costs reductions), so the spawned processes run
//!    up to their `receive` meanwhile, as on the BEAM. The loop is timed:
//!    `spawn_ns_per_process`.
//! 3. The root waits until every spawned process has run up to its `receive`; then the
//!    resident set size and the heap block bytes are read again: `bytes_per_process` (RSS
//!    growth / N) and `heap_words_per_process` (growth of heap blocks / N, in words).
//! 4. A second root process sends each process a message; the clock runs from before it
//!    starts until no process is left: `exit_ns_per_process`.
//! 5. The runtime stays up, idle, until a scheduler has given the memory of the exited
//!    processes back after the last one exited (runtime `trim.rs`; at most [`TRIM_WAIT`],
//!    and only when N is at least the runtime's `TRIM_AFTER_EXITS`): `rss_after_exit_bytes`
//!    against `rss_before_bytes` (step 1) shows what a burst leaves resident; `trims` and
//!    `trim_ms` what giving it back cost.
//!
//! # Invariants
//! 1. The memory figures cover only what the N processes hold: the pid vector is resident
//!    before the baseline and freed after the last reading, and nothing else grows with N.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use heaplab_gc::{block_stats, Pid};
use heaplab_runtime::SpawnError;

use super::runtime;
use crate::failure::Failure;
use crate::machine::resident_bytes;
use crate::params::{ParamKind, ParamSpec};
use crate::workload::{ratio, Builtin, Measurements, RunContext, Threads};

/// The spawn workload.
pub const WORKLOAD: Builtin = Builtin {
    name: "spawn",
    summary: "spawn N idle processes waiting for a message, then stop them: time and memory per process",
    params: PARAMS,
    threads: Threads::Schedulers,
    run,
    memory: Some(memory),
};

/// A lower bound of a run's memory: a few hundred bytes per idle process (about 850 bytes
/// measured; see README).
fn memory(params: &crate::params::Params) -> u64 {
    params.integer("processes") * 512
}

const PARAMS: &[ParamSpec] = &[ParamSpec {
    name: "processes",
    default: "1000000",
    // 50 million of heaplab's processes (under 1 KB each) fill a 48 GB machine.
    kind: ParamKind::Integer { min: 1, max: 50_000_000 },
    description: "idle processes spawned",
}];

const BYTES_PER_WORD: f64 = 8.0;

/// How often the driver thread looks whether every process has exited (Protocol step 4).
const EXIT_POLL: Duration = Duration::from_micros(50);

/// How long Protocol step 5 waits for the runtime to give memory back.
const TRIM_WAIT: Duration = Duration::from_secs(2);

fn run(context: &RunContext) -> Result<Measurements, Failure> {
    let n = context.params.integer("processes") as usize;
    let rt = runtime::start(context, n)?;

    // Protocol step 1 (Invariant 1).
    let mut pids = vec![Pid::new(0); n];
    let rss_before = resident_bytes();
    let blocks_before = block_stats().in_use_bytes;

    // Protocol steps 2 and 3.
    let ready = Arc::new(AtomicUsize::new(0));
    let spawned = rt
        .block_on(move |mut cx| async move {
            let start = Instant::now();
            for slot in pids.iter_mut() {
                let ready = Arc::clone(&ready);
                *slot = cx.spawn(move |mut cx| async move {
                    ready.fetch_add(1, Ordering::Release);
                    cx.receive(|_, _| Some(())).await;
                })?;
                cx.tick(0).await;
            }
            let spawn_time = start.elapsed();
            while ready.load(Ordering::Acquire) < pids.len() {
                cx.yield_now().await;
            }
            Ok::<_, SpawnError>((pids, spawn_time))
        })
        .map_err(|reason| runtime::process_failed("spawn", "spawning", reason))?;
    let (pids, spawn_time) = spawned.map_err(|e| Failure::run(format!("spawn: {e}")))?;
    let rss_alive = resident_bytes();
    let blocks_alive = block_stats().in_use_bytes;

    // Protocol step 4.
    let start = Instant::now();
    // The vector comes back, to be freed after the last reading (Invariant 1): freed earlier,
    // it would leave the reading after the burst below the baseline it is part of, and glibc
    // would raise its trim threshold to twice its size (it does after freeing any block it
    // mapped on its own), keeping that much resident at the top of every scheduler thread's
    // arena: the memory of the exits, which `malloc_trim` does not reach there.
    let pids = rt
        .block_on(move |mut cx| async move {
            for &pid in &pids {
                cx.send(pid, |h| h.nil());
                cx.tick(0).await;
            }
            pids
        })
        .map_err(|reason| runtime::process_failed("spawn", "stopping", reason))?;
    while rt.process_count() > 0 {
        std::thread::sleep(EXIT_POLL);
    }
    let exit_time = start.elapsed();
    // Protocol step 5: memory back after the burst.
    let settled = Instant::now();
    let trims = n as u64 >= heaplab_runtime::TRIM_AFTER_EXITS;
    // A trim made while processes were still exiting (the exits paused for the runtime's
    // settling time, as they can on a loaded machine) is not the one this step waits for.
    let trims_before = rt.stats().trims;
    while trims && rt.stats().trims == trims_before && settled.elapsed() < TRIM_WAIT {
        std::thread::sleep(EXIT_POLL);
    }
    let rss_after = resident_bytes();
    drop(pids);
    let stats = rt.shutdown();

    let mut measurements = Measurements::default();
    let n = n as f64;
    measurements.metric("spawn_ns_per_process", spawn_time.as_nanos() as f64 / n);
    measurements.metric("exit_ns_per_process", exit_time.as_nanos() as f64 / n);
    if let (Some(before), Some(alive)) = (rss_before, rss_alive) {
        measurements.metric("bytes_per_process", ratio(alive.saturating_sub(before) as f64, n));
    }
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        measurements.metric("rss_before_bytes", before as f64);
        measurements.metric("rss_after_exit_bytes", after as f64);
    }
    measurements.metric("trims", stats.trims as f64);
    measurements.metric("trim_ms", stats.trim_ns as f64 / 1e6);
    let heap_bytes = blocks_alive.saturating_sub(blocks_before) as f64;
    measurements.metric("heap_words_per_process", heap_bytes / BYTES_PER_WORD / n);
    Ok(measurements)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::gc_log::GcLog;
    use crate::params::Params;
    use crate::strategy::Strategy;

    #[test]
    fn a_small_run_reports_every_metric_and_leaves_no_process() {
        let context = RunContext {
            params: Params::from_assignments("spawn", PARAMS, &["processes=2000"]).unwrap(),
            strategy: Strategy::PerProcess,
            schedulers: 2,
            gc_log: Arc::new(GcLog::new()),
        };
        let measurements = run(&context).unwrap();
        assert!(measurements.metrics["spawn_ns_per_process"] > 0.0);
        assert!(measurements.metrics["exit_ns_per_process"] > 0.0);
        assert!(measurements.metrics["heap_words_per_process"] >= 0.0);
        if cfg!(target_os = "linux") {
            assert!(measurements.metrics["bytes_per_process"] >= 0.0);
        }
    }
}
