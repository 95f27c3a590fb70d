//! The shared strategy: every process allocates in one [`SharedHeap`] through the TLAB of
//! the scheduler it runs on; a send passes a reference; collections stop every scheduler.
//!
//! The safepoint protocol: a TLAB that finds the nursery full (or a process asking for a
//! collection) raises the heap's request flag; the running process yields at its next `Cx`
//! await point; its scheduler, between two slices, wakes every parked scheduler and stops
//! in [`SharedHeap::safepoint`]; every other scheduler stops there before its next slice;
//! the last to arrive starts the parallel collection. The pause each `GcEvent` reports runs
//! from the request to the restart, the time to safepoint included (and given separately).
//!
//! A process exit frees nothing: the process's mutator is unregistered, and what only it
//! reached is reclaimed by the next collection.
//!
//! A process's [`Cx`](crate::Cx) is `Send` (a process moves between schedulers), so a body
//! may hand it to a thread that is no scheduler of this runtime. Every heap operation stays
//! sound there: a thread without this heap's TLAB registers a temporary one for the
//! operation (joining the safepoint protocol, so no collection runs meanwhile) and drops it
//! after; it only waits for a running collection to end.
//!
//! # Invariants
//! 1. Each scheduler thread holds one TLAB of the runtime's heap from its first slice to
//!    its last (module `strategy` Invariant 1 then holds: a brand is open only inside a
//!    slice, and a collection starts only when every TLAB is at the safepoint).
//! 2. Every operation on heap words runs with a TLAB of this heap: the scheduler's own, or
//!    a temporary one on any other thread.

use std::cell::RefCell;
use std::sync::Arc;

use heaplab_gc::shared::{Mutator, SharedHeap, SharedOptions, Tlab};
use heaplab_gc::{Collect, ConfigError, GcEventSink, HeapError, HeapOptions, HeapStats, Pid};

use super::{AnyHeap, BrandFn, BuildFn, HeapStrategy, Message, ProcessHeap};

thread_local! {
    /// This scheduler thread's allocation buffer (Invariant 1).
    static TLAB: RefCell<Option<Tlab>> = const { RefCell::new(None) };
}

/// Runs `f` with a TLAB of `heap` (Invariant 2): this scheduler's, or, on a thread that has
/// none free (not a scheduler of this runtime, or one inside another process's brand), a
/// temporary one.
fn with_tlab<R>(heap: &SharedHeap, f: impl FnOnce(&mut Tlab) -> R) -> R {
    let mut f = Some(f);
    let own = TLAB.with(|t| match t.try_borrow_mut() {
        Ok(mut t) => match t.as_mut() {
            Some(tlab) if tlab.heap_id() == heap.id() => Some((f.take().expect("not run yet"))(tlab)),
            _ => None,
        },
        Err(_) => None,
    });
    match own {
        Some(r) => r,
        None => (f.take().expect("not run yet"))(&mut heap.tlab()),
    }
}

pub(crate) struct SharedStrategy {
    heap: SharedHeap,
}

impl SharedStrategy {
    pub(crate) fn new(
        opts: SharedOptions,
        schedulers: usize,
        sink: Option<&Arc<dyn GcEventSink>>,
    ) -> SharedStrategy {
        let heap = SharedHeap::new(opts, schedulers).expect("validated shared-heap options");
        if let Some(sink) = sink {
            heap.set_event_sink(Arc::clone(sink));
        }
        SharedStrategy { heap }
    }
}

impl HeapStrategy for SharedStrategy {
    fn validate(&self, options: &HeapOptions) -> Result<(), ConfigError> {
        options.validate()?;
        match options.max_heap_size {
            Some(_) => Err(ConfigError::MaxHeapSizeShared),
            None => Ok(()),
        }
    }

    fn new_process(
        &self,
        _pid: Pid,
        _options: &HeapOptions,
        _sink: Option<&Arc<dyn GcEventSink>>,
    ) -> Result<AnyHeap, ConfigError> {
        Ok(AnyHeap::Dynamic(Box::new(Box::new(SharedProcess {
            mutator: self.heap.mutator(),
            heap: self.heap.clone(),
        }))))
    }

    fn scheduler_started(&self, _index: usize) {
        TLAB.with(|t| *t.borrow_mut() = Some(self.heap.tlab()));
    }

    fn scheduler_stopped(&self, _index: usize) {
        // Dropping the TLAB retires it and lets collections proceed without this thread.
        let tlab = TLAB.with(|t| t.borrow_mut().take());
        drop(tlab);
    }

    #[inline]
    fn stop_requested(&self) -> bool {
        self.heap.stop_requested()
    }

    fn safepoint(&self, _index: usize) {
        // The scheduler's own TLAB, never a temporary one: the stop waits for it.
        TLAB.with(|t| {
            let mut t = t.borrow_mut();
            self.heap.safepoint(t.as_mut().expect("a scheduler holds its TLAB between slices"));
        });
    }
}

/// A process of the shared heap: its mutator (roots and messages).
struct SharedProcess {
    mutator: Mutator,
    heap: SharedHeap,
}

impl ProcessHeap for SharedProcess {
    #[inline]
    fn enter(&mut self, f: BrandFn<'_>) -> u64 {
        with_tlab(&self.heap, |tlab| {
            let before = tlab.allocated_words();
            self.mutator.enter(tlab, f);
            tlab.allocated_words() - before
        })
    }

    fn message(&mut self, build: BuildFn<'_>) -> Message {
        Message::Shared(with_tlab(&self.heap, |tlab| self.mutator.send(tlab, build)))
    }

    fn deliver(&mut self, message: Message) {
        match message {
            Message::Shared(m) => with_tlab(&self.heap, |tlab| self.mutator.deliver(tlab, m)),
            Message::Copied(fragment) => {
                with_tlab(&self.heap, |tlab| self.mutator.deliver_fragment(tlab, fragment))
            }
            Message::Area(_) => unreachable!("a shared-heap runtime has no message area"),
        }
    }

    fn message_count(&self) -> usize {
        self.mutator.message_count()
    }

    fn needs_gc(&self) -> bool {
        // Collections happen at safepoints, for everyone at once.
        false
    }

    fn collection_pending(&self) -> bool {
        self.heap.collection_requested()
    }

    fn collect(&mut self, request: Collect, _scheduler: Option<u32>) -> Result<u64, HeapError> {
        match request {
            Collect::Major => self.heap.request_major(),
            Collect::Minor => self.heap.request_minor(),
            Collect::Auto => {}
        }
        Ok(0)
    }

    /// The whole shared heap's sizes and counters, with this process's roots and messages.
    fn stats(&self) -> HeapStats {
        let s = self.heap.stats();
        HeapStats {
            young_capacity: s.nursery_capacity,
            young_used: s.nursery_used,
            old_capacity: s.old_capacity,
            old_used: s.old_used,
            fragment_words: s.overflow_words,
            roots: self.mutator.root_count(),
            messages: self.mutator.message_count(),
            minor_collections: s.minor_collections,
            major_collections: s.major_collections,
            ..HeapStats::default()
        }
    }

    fn set_max_heap_size(&mut self, words: Option<usize>) -> Result<(), ConfigError> {
        match words {
            Some(_) => Err(ConfigError::MaxHeapSizeShared),
            None => Ok(()),
        }
    }

    /// Ignored: the shared heap sizes its major collections by old-generation growth.
    fn set_fullsweep_after(&mut self, _n: u32) {}
}
