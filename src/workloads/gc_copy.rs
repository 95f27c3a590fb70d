//! gc-copy: how fast the collector copies live data, next to a plain memcpy of the same
//! bytes measured in the same run.
//!
//! One heap holds `live_mb` MiB of churn-like entries, the state of a churn server: a list of
//! tuples `{I, V, [I, V]}` with small integers I and V. The workload then times `collections`
//! collections of that heap:
//!
//! - `kind=major`: each fullsweep copies every live word, so `copy_bytes_per_s` is the
//!   collector's copy throughput on lists and tuples.
//! - `kind=minor`: before each collection the first [`REWRITE_PERCENT`]% of the entries are
//!   rewritten (new tuples with V+1 and new cons cells for that prefix of the list, the rest
//!   of the list shared), as a churn request does; the minor collection copies that young
//!   data and leaves the old generation in place.
//!
//! Under `--heap shared` the same state lives in a one-worker shared heap (see
//! [`crate::one_heap`]): a major collection copies the whole old generation into fresh
//! chunks, a minor one promotes the nursery (the rewritten entries) to the old generation.
//!
//! # Protocol
//! 1. Build the state in batches of [`BUILD_BATCH`](crate::entries::BUILD_BATCH) entries, without collecting: allocation
//!    overflows into heap fragments.
//! 2. Warm up (not timed): one major collection compacts the fragments into one young
//!    block; for `kind=minor`, one minor collection then promotes everything to the old
//!    generation, so every timed minor collection sees only the rewritten data.
//! 3. Time each collection around the `collect` call; this is the `gc_pause_us` histogram
//!    and the GC time of `copy_bytes_per_s` (the words copied come from the collector). In
//!    debug builds the heap verifier runs inside `collect` and is timed with it; figures are
//!    meant to come from release builds.
//! 4. Copy the average bytes per collection between two preallocated buffers as many times
//!    as there were collections: `memcpy_bytes_per_s`.
//!
//! # Invariants
//! 1. `live_bytes` is measured from the heap after the warm-up, not computed from the
//!    entry count.
//! 2. The report's `gc` section counts every collection of the run, the warm-up ones
//!    included; the metrics and `gc_pause_us` count only the timed ones.

use std::hint::black_box;
use std::time::{Duration, Instant};

use heaplab_gc::{Collect, GcKind};

use crate::entries::{build_state, entries_for, rewrite_prefix, BYTES_PER_WORD};
use crate::failure::Failure;
use crate::histogram::DurationHistogram;
use crate::one_heap::OneHeap;
use crate::params::{ParamKind, ParamSpec};
use crate::workload::{ratio, Builtin, Measurements, RunContext, Threads};

/// The gc-copy workload.
pub const WORKLOAD: Builtin = Builtin {
    name: "gc-copy",
    summary: "collect one heap of live lists and tuples repeatedly; copy rate vs memcpy",
    params: PARAMS,
    threads: Threads::CallingThread,
    run,
    memory: Some(memory),
};

/// A lower bound of a run's memory: the state, and the copy a collection makes of it.
fn memory(params: &crate::params::Params) -> u64 {
    (2 * params.integer("live_mb")) << 20
}

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "collections",
        default: "20",
        kind: ParamKind::Integer { min: 1, max: 1_000_000 },
        description: "timed collections",
    },
    ParamSpec {
        name: "kind",
        default: "major",
        kind: ParamKind::OneOf(&["major", "minor"]),
        description: "collection to time; minor rewrites part of the state before each",
    },
    ParamSpec {
        name: "live_mb",
        default: "16",
        kind: ParamKind::Integer { min: 1, max: 65_536 },
        description: "live data on the heap, in MiB",
    },
];

/// Share of the entries rewritten before each timed minor collection: a churn-like update
/// rate that gives each minor collection a tenth of the live data to copy.
const REWRITE_PERCENT: u64 = 10;

const BYTES_PER_MIB: u64 = 1 << 20;

fn run(context: &RunContext) -> Result<Measurements, Failure> {
    let params = &context.params;
    let collections = params.integer("collections");
    let minor = params.word("kind") == "minor";
    let live_bytes_wanted = params.integer("live_mb") * BYTES_PER_MIB;
    let entries = entries_for(live_bytes_wanted);

    // Protocol step 1.
    let mut heap = OneHeap::new(context)?;
    let state = build_state(&mut heap, entries);

    // Protocol step 2.
    collect(&mut heap, Collect::Major)?;
    if minor {
        collect(&mut heap, Collect::Minor)?;
    }
    let live_bytes = heap.used_words() as u64 * BYTES_PER_WORD;

    // Protocol step 3.
    let request = if minor { Collect::Minor } else { Collect::Major };
    let rewrite = entries * REWRITE_PERCENT / 100;
    let mut pauses = DurationHistogram::new();
    let mut gc_time = Duration::ZERO;
    let mut words_copied: u64 = 0;
    let mut other_kind: u64 = 0;
    for _ in 0..collections {
        if minor {
            rewrite_prefix(&mut heap, &state, rewrite);
        }
        let start = Instant::now();
        let outcome = collect(&mut heap, request)?;
        let pause = start.elapsed();
        pauses.record(pause);
        gc_time += pause;
        words_copied += outcome.words_copied;
        if (outcome.kind == GcKind::Minor) != minor {
            other_kind += 1;
        }
    }
    drop(state);

    // Protocol step 4.
    let bytes_per_collection = words_copied / collections * BYTES_PER_WORD;
    let memcpy_time = time_memcpy(bytes_per_collection, collections);
    let copied_bytes = (words_copied * BYTES_PER_WORD) as f64;
    let memcpy_bytes = (bytes_per_collection * collections) as f64;

    let copy_rate = ratio(copied_bytes, gc_time.as_secs_f64());
    let memcpy_rate = ratio(memcpy_bytes, memcpy_time.as_secs_f64());
    let mut measurements = Measurements::default();
    measurements.metric("live_bytes", live_bytes as f64);
    measurements.metric("copied_bytes_per_collection", copied_bytes / collections as f64);
    measurements.metric("copy_bytes_per_s", copy_rate);
    measurements.metric("memcpy_bytes_per_s", memcpy_rate);
    measurements.metric("copy_vs_memcpy", ratio(copy_rate, memcpy_rate));
    // A requested minor collection runs as a major one when the old generation is full
    // (collector protocol step 1); this counts them, so such runs are not misread.
    measurements.metric("collections_of_other_kind", other_kind as f64);
    measurements.histogram("gc_pause_us", pauses);
    Ok(measurements)
}

/// What the workload needs of one collection's event.
struct Collected {
    kind: GcKind,
    words_copied: u64,
}

fn collect(heap: &mut OneHeap, request: Collect) -> Result<Collected, Failure> {
    let event = heap.collect(request).map_err(|failure| Failure::run(format!("gc-copy: {failure}")))?;
    Ok(Collected { kind: event.kind, words_copied: event.words_copied })
}

/// Protocol step 4: the time of `times` copies of `bytes` bytes between two buffers.
fn time_memcpy(bytes: u64, times: u64) -> Duration {
    let words = (bytes / BYTES_PER_WORD) as usize;
    if words == 0 {
        return Duration::ZERO;
    }
    let source: Vec<u64> = (0..words as u64).collect();
    let mut target = vec![0u64; words];
    // One untimed copy faults in the target pages, as the warm-up collection did for the heap.
    target.copy_from_slice(&source);
    let start = Instant::now();
    for _ in 0..times {
        black_box(&mut target).copy_from_slice(black_box(&source));
    }
    let elapsed = start.elapsed();
    black_box(&target);
    elapsed
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::gc_log::GcLog;
    use crate::params::Params;
    use crate::strategy::Strategy;

    fn run_with(assignments: &[&str]) -> (Measurements, Arc<GcLog>) {
        let params = Params::from_assignments("gc-copy", PARAMS, assignments).unwrap();
        let gc_log = Arc::new(GcLog::new());
        let context =
            RunContext { params, strategy: Strategy::PerProcess, schedulers: 1, gc_log: gc_log.clone() };
        (run(&context).unwrap(), gc_log)
    }

    #[test]
    fn major_collections_copy_all_live_data() {
        let (measurements, log) = run_with(&["live_mb=1", "collections=2"]);
        let metrics = &measurements.metrics;
        assert!(metrics["live_bytes"] >= BYTES_PER_MIB as f64);
        assert_eq!(metrics["copied_bytes_per_collection"], metrics["live_bytes"]);
        assert!(metrics["copy_bytes_per_s"] > 0.0 && metrics["memcpy_bytes_per_s"] > 0.0);
        assert_eq!(metrics["collections_of_other_kind"], 0.0);
        assert_eq!(measurements.histograms["gc_pause_us"].len(), 2);
        assert_eq!(log.take().len(), 3, "warm-up plus two timed collections");
    }

    #[test]
    fn minor_collections_copy_the_rewritten_share() {
        let (measurements, _) = run_with(&["live_mb=1", "collections=3", "kind=minor"]);
        let metrics = &measurements.metrics;
        assert_eq!(metrics["collections_of_other_kind"], 0.0);
        let share = metrics["copied_bytes_per_collection"] / metrics["live_bytes"];
        assert!((0.05..0.2).contains(&share), "minor collections copied {share} of the live data");
    }
}
