//! exit: the cost of freeing a process heap does not depend on what the heap holds.
//!
//! Two heaps of the same size are built and dropped, as a process exit drops its heap: one
//! holding a single tuple, the other a list of small integers, one cons cell per two words
//! (a 64 MiB heap holds 4 million cons cells). Dropping a heap frees its blocks and walks its
//! MSO list; it never visits live objects, so both drops should take the same time
//! (`drop_ratio` near 1).
//!
//! Under `--heap shared` the "heap" is one process's data in a one-worker shared heap (see
//! [`crate::one_heap`]): the exit unregisters the process in O(1) but frees nothing, so the
//! report adds what the exit left behind (`bytes_held_after_exit`) and the major collection
//! that reclaimed it (`reclaim_gc_ns_one_object`, `reclaim_gc_ns_many_objects`).
//!
//! # Protocol
//! 1. Build the heap's content in one `enter` closure (the allocations overflow into heap
//!    fragments), with exactly `heap_mb` MiB of live words in both cases.
//! 2. Compact it with one major collection, so both heaps hold their data in one block sized
//!    by the same growth policy from the same live word count; record the heap's size.
//! 3. Release the root, then time the exit alone (`drop(heap)`; under `shared`, dropping the
//!    process's mutator, then, untimed by this step, the collection that reclaims its data).
//! 4. Repeat `repeats` times with fresh heaps, alternating which kind is built first so
//!    allocator state does not favour one; report the median and the minimum of each.
//!
//! # Invariants
//! 1. Both heaps hold the same number of live words; their sizes are measured and reported
//!    (`heap_bytes`, `heap_bytes_many_objects`), not assumed equal.

use heaplab_gc::Collect;

use crate::entries::Enter;
use crate::failure::Failure;
use crate::histogram::DurationHistogram;
use crate::one_heap::OneHeap;
use crate::params::{ParamKind, ParamSpec};
use crate::workload::{ratio, Builtin, Measurements, RunContext, Threads};

/// The exit workload.
pub const WORKLOAD: Builtin = Builtin {
    name: "exit",
    summary: "drop equal-size heaps holding one object vs millions; drop time should match",
    params: PARAMS,
    threads: Threads::CallingThread,
    run,
    memory: Some(memory),
};

/// A lower bound of a run's memory: each heap's content is built in fragments and then
/// compacted into a fresh block, so twice `heap_mb` is live at once.
fn memory(params: &crate::params::Params) -> u64 {
    2 * params.integer("heap_mb") * BYTES_PER_MIB
}

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "heap_mb",
        default: "64",
        kind: ParamKind::Integer { min: 1, max: 65_536 },
        description: "live data of each heap, in MiB",
    },
    ParamSpec {
        name: "repeats",
        default: "5",
        kind: ParamKind::Integer { min: 1, max: 10_000 },
        description: "heaps of each kind built and dropped",
    },
];

const BYTES_PER_WORD: u64 = 8;
const BYTES_PER_MIB: u64 = 1 << 20;

/// What a heap holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    /// One tuple filling the heap.
    OneObject,
    /// A list of small integers: one cons cell per two words.
    ManyObjects,
}

/// The drops of one kind of heap.
#[derive(Default)]
struct Drops {
    histogram: DurationHistogram,
    heap_bytes: u64,
    /// Shared heap only: the pauses of the collections that reclaimed the exited data.
    reclaim: DurationHistogram,
    /// Shared heap only: bytes in use right after the exit, and after the reclaiming collection.
    held_bytes: u64,
    after_reclaim_bytes: u64,
}

fn run(context: &RunContext) -> Result<Measurements, Failure> {
    let words = context.params.integer("heap_mb") * BYTES_PER_MIB / BYTES_PER_WORD;
    let repeats = context.params.integer("repeats");
    let (mut one, mut many) = (Drops::default(), Drops::default());
    // Protocol step 4.
    for repeat in 0..repeats {
        let order = if repeat % 2 == 0 {
            [Content::OneObject, Content::ManyObjects]
        } else {
            [Content::ManyObjects, Content::OneObject]
        };
        for content in order {
            let drops = if content == Content::OneObject { &mut one } else { &mut many };
            let heap = build(context, content, words)?;
            drops.heap_bytes = heap.heap_words() as u64 * BYTES_PER_WORD;
            // Protocol step 3.
            let exit = heap.exit();
            drops.histogram.record(exit.drop);
            if let Some(reclaim) = exit.reclaim {
                drops.reclaim.record(reclaim.pause);
                drops.held_bytes = reclaim.words_held as u64 * BYTES_PER_WORD;
                drops.after_reclaim_bytes = reclaim.words_after as u64 * BYTES_PER_WORD;
            }
        }
    }

    let mut measurements = Measurements::default();
    measurements.metric("heap_bytes", one.heap_bytes as f64);
    measurements.metric("heap_bytes_many_objects", many.heap_bytes as f64);
    measurements.metric("many_objects_count", (words / 2) as f64);
    let (one_median, many_median) = (median(one.histogram.raw_ns()), median(many.histogram.raw_ns()));
    measurements.metric("drop_ns_one_object", one_median);
    measurements.metric("drop_ns_one_object_min", minimum(one.histogram.raw_ns()));
    measurements.metric("drop_ns_many_objects", many_median);
    measurements.metric("drop_ns_many_objects_min", minimum(many.histogram.raw_ns()));
    measurements.metric("drop_ratio", ratio(many_median, one_median));
    if !many.reclaim.is_empty() {
        measurements.metric("bytes_held_after_exit", many.held_bytes as f64);
        measurements.metric("bytes_after_reclaim", many.after_reclaim_bytes as f64);
        measurements.metric("reclaim_gc_ns_one_object", median(one.reclaim.raw_ns()));
        measurements.metric("reclaim_gc_ns_many_objects", median(many.reclaim.raw_ns()));
        measurements.histogram("reclaim_gc_one_object_us", one.reclaim);
        measurements.histogram("reclaim_gc_many_objects_us", many.reclaim);
    }
    measurements.histogram("drop_one_object_us", one.histogram);
    measurements.histogram("drop_many_objects_us", many.histogram);
    Ok(measurements)
}

/// Protocol steps 1 and 2: a compacted heap holding `words` live words of `content`.
fn build(context: &RunContext, content: Content, words: u64) -> Result<OneHeap, Failure> {
    let mut heap = OneHeap::new(context)?;
    let root = heap.enter(|h| {
        let term = match content {
            // Header plus `words - 1` elements.
            Content::OneObject => h.tuple(&vec![h.nil(); words as usize - 1]),
            Content::ManyObjects => h.list((0..words / 2).map(|i| h.int(i as i64))),
        };
        h.root(term)
    });
    heap.collect(Collect::Major).map_err(|failure| Failure::run(format!("exit: {failure}")))?;
    drop(root);
    Ok(heap)
}

/// The median of `values` (the mean of the two middle ones for an even count); 0 if empty.
fn median(values: &[u64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2] as f64,
        n => (sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0,
    }
}

fn minimum(values: &[u64]) -> f64 {
    values.iter().min().map_or(0.0, |value| *value as f64)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::gc_log::GcLog;
    use crate::params::Params;
    use crate::strategy::Strategy;

    #[test]
    fn medians_and_minimums() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[5, 1, 3]), 3.0);
        assert_eq!(median(&[4, 1, 3, 2]), 2.5);
        assert_eq!(minimum(&[4, 1, 3]), 1.0);
    }

    #[test]
    fn both_heaps_hold_the_same_live_words() {
        let context = RunContext {
            params: Params::from_assignments::<&str>("exit", PARAMS, &[]).unwrap(),
            strategy: Strategy::PerProcess,
            schedulers: 1,
            gc_log: Arc::new(GcLog::new()),
        };
        let words = 4096;
        let one = build(&context, Content::OneObject, words).unwrap();
        let many = build(&context, Content::ManyObjects, words).unwrap();
        assert_eq!(one.used_words() as u64, words);
        assert_eq!(many.used_words() as u64, words);
        assert_eq!(one.heap_words(), many.heap_words());
    }

    #[test]
    fn a_small_run_reports_every_metric() {
        let context = RunContext {
            params: Params::from_assignments("exit", PARAMS, &["heap_mb=1", "repeats=2"]).unwrap(),
            strategy: Strategy::PerProcess,
            schedulers: 1,
            gc_log: Arc::new(GcLog::new()),
        };
        let measurements = run(&context).unwrap();
        for name in [
            "heap_bytes",
            "heap_bytes_many_objects",
            "drop_ns_one_object",
            "drop_ns_many_objects",
            "drop_ratio",
        ] {
            assert!(measurements.metrics[name] > 0.0, "{name}");
        }
        assert_eq!(measurements.histograms["drop_one_object_us"].len(), 2);
        assert_eq!(context.gc_log.take().len(), 4, "one compaction per heap built");
    }
}
