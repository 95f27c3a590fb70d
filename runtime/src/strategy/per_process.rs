//! The per-process strategy: every process owns a [`Heap`]; a send copies the message into
//! a fragment the receiver attaches in O(1); a process collects its own heap at its own
//! await points; its heap is freed whole when it exits. No safepoint is ever needed.
//!
//! # Invariants
//! 1. A `Heap` is touched only by its process (through `Cx`), so no lock is taken.

use std::sync::Arc;

use heaplab_gc::{Collect, ConfigError, GcEventSink, Heap, HeapError, HeapOptions, HeapStats, Mu, Pid, Term};

use super::{name_heap, AnyHeap, BrandFn, BuildFn, HeapStrategy, Message, ProcessHeap};

pub(crate) struct PerProcess;

impl HeapStrategy for PerProcess {
    fn validate(&self, options: &HeapOptions) -> Result<(), ConfigError> {
        options.validate()
    }

    fn new_process(
        &self,
        pid: Pid,
        options: &HeapOptions,
        sink: Option<&Arc<dyn GcEventSink>>,
    ) -> Result<AnyHeap, ConfigError> {
        let mut heap = Heap::new_boxed(options.clone())?;
        name_heap(&mut heap, pid, sink);
        Ok(AnyHeap::Private(heap))
    }

    fn may_stop(&self) -> bool {
        false
    }
}

/// Runs `f` under a fresh brand of `heap`; returns its result and the words allocated.
#[inline]
pub(crate) fn enter<R>(heap: &mut Heap, f: impl for<'h> FnOnce(Mu<'h>) -> R) -> (R, u64) {
    let before = heap.used_words();
    let r = heap.enter(f);
    (r, heap.used_words().saturating_sub(before) as u64)
}

/// The term `build` makes on `heap`, copied into a message fragment.
#[inline]
pub(crate) fn message(heap: &mut Heap, build: impl for<'h> FnOnce(Mu<'h>) -> Term<'h>) -> Message {
    Message::Copied(heap.enter(|h| {
        let t = build(h);
        h.to_fragment(t)
    }))
}

impl ProcessHeap for Heap {
    fn enter(&mut self, f: BrandFn<'_>) -> u64 {
        enter(self, f).1
    }

    fn message(&mut self, build: BuildFn<'_>) -> Message {
        message(self, build)
    }

    #[inline]
    fn deliver(&mut self, message: Message) {
        match message {
            Message::Copied(fragment) => Heap::deliver(self, fragment),
            Message::Shared(_) | Message::Area(_) => {
                unreachable!("a per-process runtime never sends by reference")
            }
        }
    }

    fn message_count(&self) -> usize {
        Heap::message_count(self)
    }

    fn needs_gc(&self) -> bool {
        Heap::needs_gc(self)
    }

    fn collect(&mut self, request: Collect, scheduler: Option<u32>) -> Result<u64, HeapError> {
        self.set_scheduler(scheduler);
        Heap::collect(self, request).map(|outcome| outcome.reductions)
    }

    fn stats(&self) -> HeapStats {
        Heap::stats(self)
    }

    fn set_max_heap_size(&mut self, words: Option<usize>) -> Result<(), ConfigError> {
        Heap::set_max_heap_size(self, words)
    }

    fn set_fullsweep_after(&mut self, n: u32) {
        Heap::set_fullsweep_after(self, n)
    }
}
