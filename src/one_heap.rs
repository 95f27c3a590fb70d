//! One heap of either strategy, driven from the calling thread, for the workloads that
//! measure a single heap rather than a runtime (`gc-copy`, `exit`).
//!
//! Under `per-process` it is a private [`Heap`]; under `hybrid` a private heap of a message
//! area (the workloads send no messages, so the area stays empty). Under `shared` it is a [`SharedHeap`] with
//! one worker: the calling thread holds its only TLAB and one mutator (the "process"), and a
//! collection is a request followed by this thread's own safepoint, so the collector runs
//! on this thread alone, as a private heap's does.
//!
//! # Invariants
//! 1. Every collection of a [`OneHeap`] goes to the run's GC log (the sink is attached at
//!    creation), so the report's `gc` totals count them.
//! 2. A shared [`OneHeap`] drops its mutator before its TLAB and its TLAB before its heap
//!    (field order), as a process exits before its scheduler stops.

use std::time::{Duration, Instant};

use heaplab_gc::hybrid::{AreaOptions, MessageArea};
use heaplab_gc::shared::{Mutator, SharedHeap, SharedOptions, Tlab};
use heaplab_gc::{Collect, GcEvent, Heap, HeapOptions, Mu};

use crate::entries::Enter;
use crate::failure::Failure;
use crate::strategy::Strategy;
use crate::workload::RunContext;

/// A heap of the run's strategy.
pub enum OneHeap {
    /// A private heap.
    Private(Box<Heap>),
    /// A one-worker shared heap with its one process.
    Shared(SharedSolo),
}

/// A shared heap, its only TLAB and its only mutator (Invariant 2: field order).
pub struct SharedSolo {
    mutator: Mutator,
    tlab: Tlab,
    heap: SharedHeap,
}

/// What a process exit cost and left behind.
#[derive(Debug, Clone, Copy)]
pub struct Exit {
    /// The exit itself: dropping the private heap, or unregistering the shared-heap process.
    pub drop: Duration,
    /// Under `shared`: the words still in use right after the exit, and the collection that
    /// then reclaimed them (its duration and the words in use after it).
    pub reclaim: Option<Reclaim>,
}

/// The collection that reclaims an exited process's data on a shared heap.
#[derive(Debug, Clone, Copy)]
pub struct Reclaim {
    /// Words in use after the exit, before the collection.
    pub words_held: usize,
    /// The collection's pause.
    pub pause: Duration,
    /// Words in use after the collection.
    pub words_after: usize,
}

impl OneHeap {
    /// A fresh heap of `context`'s strategy, reporting to its GC log (Invariant 1).
    ///
    /// # Errors
    /// A usage failure for a strategy that has no heap in this process (`beam` and the other
    /// peers).
    pub fn new(context: &RunContext) -> Result<OneHeap, Failure> {
        match context.strategy {
            Strategy::PerProcess => Ok(OneHeap::Private(Box::new(context.new_heap()))),
            // A process's own heap under the hybrid heap: a private heap of a message area
            // (which this single heap never receives from).
            Strategy::Hybrid => {
                let area = MessageArea::new(AreaOptions::default())
                    .map_err(|e| Failure::run(format!("cannot create the message area: {e}")))?;
                let mut heap = area
                    .heap_boxed(HeapOptions::default())
                    .map_err(|e| Failure::run(format!("cannot create a hybrid heap: {e}")))?;
                heap.set_event_sink(context.gc_log.clone());
                Ok(OneHeap::Private(heap))
            }
            Strategy::Shared => {
                let heap = SharedHeap::new(SharedOptions::default(), 1)
                    .map_err(|e| Failure::run(format!("cannot create the shared heap: {e}")))?;
                heap.set_event_sink(context.gc_log.clone());
                let tlab = heap.tlab();
                let mutator = heap.mutator();
                Ok(OneHeap::Shared(SharedSolo { mutator, tlab, heap }))
            }
            other => Err(Failure::usage(format!("heap '{other}' has no heap in this process"))),
        }
    }

    /// Collects now; returns the collection's event.
    ///
    /// # Errors
    /// A run failure if the collection fails (a private heap past its `max_heap_size`).
    pub fn collect(&mut self, request: Collect) -> Result<GcEvent, Failure> {
        match self {
            OneHeap::Private(heap) => heap
                .collect(request)
                .map(|outcome| outcome.event)
                .map_err(|error| Failure::run(format!("collection failed: {error}"))),
            OneHeap::Shared(solo) => Ok(solo.collect(request)),
        }
    }

    /// Words in use; after a major collection, the live words (on a shared heap, plus the
    /// unused tails of the collector's PLABs).
    pub fn used_words(&self) -> usize {
        match self {
            OneHeap::Private(heap) => heap.stats().used_words(),
            OneHeap::Shared(solo) => solo.heap.stats().used_words(),
        }
    }

    /// Words the heap holds from the system (blocks and chunks, used or not).
    pub fn heap_words(&self) -> usize {
        match self {
            OneHeap::Private(heap) => heap.stats().heap_words(),
            OneHeap::Shared(solo) => solo.heap.stats().heap_words(),
        }
    }

    /// The process exits: a private heap is dropped whole; a shared-heap process is
    /// unregistered, which frees nothing, and the collection after it reclaims its data.
    pub fn exit(self) -> Exit {
        match self {
            OneHeap::Private(heap) => {
                let start = Instant::now();
                drop(heap);
                Exit { drop: start.elapsed(), reclaim: None }
            }
            OneHeap::Shared(SharedSolo { mutator, mut tlab, heap }) => {
                let start = Instant::now();
                drop(mutator);
                let drop = start.elapsed();
                let words_held = heap.stats().used_words();
                heap.request_major();
                let event =
                    heap.safepoint(&mut tlab).expect("the only worker runs the collection it requested");
                let reclaim =
                    Reclaim { words_held, pause: event.duration, words_after: heap.stats().used_words() };
                Exit { drop, reclaim: Some(reclaim) }
            }
        }
    }
}

impl Enter for OneHeap {
    fn enter<R>(&mut self, f: impl for<'h> FnOnce(Mu<'h>) -> R) -> R {
        match self {
            OneHeap::Private(heap) => heap.enter(f),
            OneHeap::Shared(solo) => solo.mutator.enter(&mut solo.tlab, f),
        }
    }
}

impl SharedSolo {
    fn collect(&mut self, request: Collect) -> GcEvent {
        match request {
            Collect::Minor | Collect::Auto => self.heap.request_minor(),
            Collect::Major => self.heap.request_major(),
        }
        self.heap.safepoint(&mut self.tlab).expect("the only worker runs the collection it requested")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::gc_log::GcLog;
    use crate::params::Params;

    fn context(strategy: Strategy) -> RunContext {
        RunContext {
            params: Params::from_assignments::<&str>("exit", &[], &[]).unwrap(),
            strategy,
            schedulers: 1,
            gc_log: Arc::new(GcLog::new()),
        }
    }

    /// The same data on either heap: the same live words after a major collection, and an
    /// exit that frees at once (private) or only at the next collection (shared).
    #[test]
    fn both_strategies_hold_the_same_live_words_and_differ_at_exit() {
        for strategy in [Strategy::PerProcess, Strategy::Shared] {
            let context = context(strategy);
            let mut heap = OneHeap::new(&context).unwrap();
            let root = heap.enter(|h| {
                let list = h.list((0..10_000).map(|i| h.int(i)));
                h.root(list)
            });
            let event = heap.collect(Collect::Major).unwrap();
            assert_eq!(event.words_copied, 20_000, "{strategy}");
            // A shared heap's old generation also counts the unused tail of the collector's
            // last PLAB (at most 4096 words).
            let used = heap.used_words();
            assert!((20_000..20_000 + 4096).contains(&used), "{strategy}: {used}");
            assert!(heap.heap_words() >= 20_000, "{strategy}");
            drop(root);
            let exit = heap.exit();
            match (strategy, exit.reclaim) {
                (Strategy::PerProcess, None) => {}
                (Strategy::Shared, Some(reclaim)) => {
                    assert_eq!(reclaim.words_held, used);
                    assert_eq!(reclaim.words_after, 0);
                }
                other => panic!("unexpected exit {other:?}"),
            }
            let events = context.gc_log.take().len();
            assert_eq!(events, if strategy == Strategy::Shared { 2 } else { 1 }, "{strategy}");
        }
    }

    #[test]
    fn the_beam_has_no_heap_here() {
        assert!(matches!(OneHeap::new(&context(Strategy::Beam)), Err(Failure::Usage(_))));
    }
}
