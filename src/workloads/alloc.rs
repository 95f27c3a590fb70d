//! alloc: one process allocating short-lived data in a loop — the mutator's allocation path
//! and the young collections it causes, with nothing else running.
//!
//! Each round builds a list of [`ITEMS`] tuples `{I, R}` (500 words) that dies at once, and
//! every [`KEEP_EVERY`] rounds replaces one element of a rooted live list of `live_words`
//! words, so collections always find some live data and some old-to-young traffic. Under
//! `per-process` the process bumps into its private young block and collects it alone;
//! under `shared` it bumps into its scheduler's TLAB and every nursery fill stops the world
//! (here, the other scheduler idles and joins the collection).
//!
//! # Protocol
//! 1. A process builds the live list (`live_words` words), then passes a safepoint.
//! 2. The clock starts; the process runs `megawords` million words' worth of rounds, each
//!    followed by a safepoint (`Cx::tick`), where its collections happen.
//! 3. The clock stops; `ns_per_word` is the time over the words allocated (from the heap's
//!    own count), `words_per_s` its inverse.

use std::time::Instant;

use super::runtime;
use crate::failure::Failure;
use crate::params::{ParamKind, ParamSpec};
use crate::workload::{ratio, Builtin, Measurements, RunContext, Threads};

/// The alloc workload.
pub const WORKLOAD: Builtin = Builtin {
    name: "alloc",
    summary: "one process allocates short-lived lists and tuples in a loop: allocation and young GC",
    params: PARAMS,
    threads: Threads::Schedulers,
    run,
    memory: None,
};

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "live_words",
        default: "100000",
        kind: ParamKind::Integer { min: 2, max: 1 << 32 },
        description: "words of the rooted list kept live throughout",
    },
    ParamSpec {
        name: "megawords",
        default: "200",
        kind: ParamKind::Integer { min: 1, max: 1_000_000 },
        description: "millions of words allocated in the timed loop",
    },
];

/// Tuples per round: a round allocates `ITEMS * (3 + 2)` words.
const ITEMS: i64 = 100;
/// Words one round allocates: each tuple is a header and two fields, each cons cell two.
const WORDS_PER_ROUND: u64 = ITEMS as u64 * 5;
/// Rounds between two updates of the live list.
const KEEP_EVERY: u64 = 16;

fn run(context: &RunContext) -> Result<Measurements, Failure> {
    let live_cells = (context.params.integer("live_words") / 2) as i64;
    let words = context.params.integer("megawords") * 1_000_000;
    let rounds = words.div_ceil(WORDS_PER_ROUND);
    let rt = runtime::start(context, 1)?;
    let (elapsed, allocated) = rt
        .block_on(move |mut cx| async move {
            // Protocol step 1.
            let live = cx.with(|h| h.root(h.list((0..live_cells).map(|i| h.int(i)))));
            cx.tick(0).await;
            // Protocol step 2.
            let start = Instant::now();
            for round in 0..rounds {
                cx.with(|h| {
                    let items: Vec<_> =
                        (0..ITEMS).map(|i| h.tuple(&[h.int(i), h.int(round as i64)])).collect();
                    h.list(items);
                    if round % KEEP_EVERY == 0 {
                        // Replace the head of the live list: one new cons cell in the young
                        // generation pointing into the old.
                        if let Some((_, tail)) = h.get(&live).as_cons() {
                            let head = h.int(round as i64);
                            h.set(&live, h.cons(head, tail));
                        }
                    }
                });
                cx.tick(0).await;
            }
            (start.elapsed(), rounds * WORDS_PER_ROUND)
        })
        .map_err(|reason| runtime::process_failed("alloc", "allocating", reason))?;
    rt.shutdown();

    let mut measurements = Measurements::default();
    let ns = elapsed.as_nanos() as f64;
    measurements.metric("words_allocated", allocated as f64);
    measurements.metric("ns_per_word", ratio(ns, allocated as f64));
    measurements.metric("words_per_s", ratio(allocated as f64, elapsed.as_secs_f64()));
    Ok(measurements)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::gc_log::GcLog;
    use crate::params::Params;
    use crate::strategy::Strategy;

    /// Under both heaps the loop allocates what it says and the young generation is
    /// collected along the way (the live list survives: the run would fail otherwise).
    #[test]
    fn the_loop_allocates_and_collects_under_both_heaps() {
        for strategy in [Strategy::PerProcess, Strategy::Shared] {
            let gc_log = Arc::new(GcLog::new());
            let context = RunContext {
                params: Params::from_assignments("alloc", PARAMS, &["megawords=3", "live_words=2000"])
                    .unwrap(),
                strategy,
                schedulers: 2,
                gc_log: gc_log.clone(),
            };
            let measurements = run(&context).unwrap();
            assert_eq!(measurements.metrics["words_allocated"], (3_000_000u64.div_ceil(500) * 500) as f64);
            assert!(measurements.metrics["ns_per_word"] > 0.0);
            let records = gc_log.take();
            assert!(
                records.iter().filter(|r| r.kind == "minor").count() >= 1,
                "{strategy}: no minor collection"
            );
        }
    }
}
