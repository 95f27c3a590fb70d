//! Heap strategies: the boundary between the runtime and the memory model of its processes.
//!
//! The scheduler, the process API ([`Cx`](crate::Cx)) and the workloads see a strategy only
//! through two small traits, in the spirit of MMTk's plans:
//! - `HeapStrategy`, one per runtime: makes each process's heap, and says whether every
//!   scheduler must stop at a safepoint (and stops it there);
//! - `ProcessHeap`, one per process: runs a brand, makes a message out of a term,
//!   delivers a message, collects when asked.
//!
//! Three strategies exist, chosen with [`HeapKind`]: `per_process` (the BEAM's model),
//! `shared` (one heap, stop-the-world) and `hybrid` (private heaps and a shared message
//! area). `docs/adding-a-heap-strategy.md` walks through adding one.
//!
//! A process holds its heap as an `AnyHeap`: the per-process heap is called directly on
//! the calls a message hop makes (brand, message, delivery, mailbox length, collection
//! check), so the message builder inlines into them; every other call, and every other
//! strategy, goes through `ProcessHeap`.
//!
//! # Invariants
//! 1. A process body only reaches its heap through its `ProcessHeap`, inside `Cx`; a
//!    strategy may stop the world only between two slices of every scheduler
//!    (`HeapStrategy::safepoint`), when no brand is open anywhere.
//! 2. A [`Message`] carries its term out of the sender's brand in a form the receiver's
//!    `deliver` accepts: a copy, or a reference the strategy keeps rooted while in flight.

pub(crate) mod hybrid;
pub(crate) mod per_process;
pub(crate) mod shared;

use std::sync::Arc;

use heaplab_gc::hybrid::{AreaMessage, AreaOptions};
use heaplab_gc::shared::{SharedMessage, SharedOptions};
use heaplab_gc::{
    Collect, ConfigError, Fragment, GcEventSink, Heap, HeapError, HeapOptions, HeapStats, Mu, Pid, Term,
};

/// Which heap strategy a runtime uses; chosen when it is built.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum HeapKind {
    /// One private heap per process, collected on its own, freed whole at exit (default).
    #[default]
    PerProcess,
    /// One heap shared by every process, collected stop-the-world by all schedulers; memory
    /// is reclaimed by collection only (an exit frees nothing at once).
    Shared(SharedOptions),
    /// A private heap per process, as `PerProcess`, and one message area shared by all of
    /// them where every message is built (no copy on send or delivery), collected
    /// stop-the-world when its nursery is full.
    Hybrid(AreaOptions),
}

impl HeapKind {
    /// The shared heap with its default sizing.
    pub fn shared() -> HeapKind {
        HeapKind::Shared(SharedOptions::default())
    }

    /// The hybrid heap with its default sizing.
    pub fn hybrid() -> HeapKind {
        HeapKind::Hybrid(AreaOptions::default())
    }

    /// The `--heap` spelling: `per-process`, `shared` or `hybrid`.
    pub fn name(&self) -> &'static str {
        match self {
            HeapKind::PerProcess => "per-process",
            HeapKind::Shared(_) => "shared",
            HeapKind::Hybrid(_) => "hybrid",
        }
    }
}

/// A message on its way from one process to another (Invariant 2).
pub enum Message {
    /// Copied into a standalone fragment (per-process heaps, and senders outside the runtime).
    Copied(Fragment),
    /// A reference into the shared heap, rooted while in flight.
    Shared(SharedMessage),
    /// A message built in the hybrid heap's message area, rooted there while in flight.
    Area(AreaMessage),
}

impl Message {
    /// Words the sender copied (0 for a message sent by reference).
    pub fn copied_words(&self) -> usize {
        match self {
            Message::Copied(f) => f.words(),
            Message::Shared(_) | Message::Area(_) => 0,
        }
    }
}

impl From<Fragment> for Message {
    fn from(f: Fragment) -> Message {
        Message::Copied(f)
    }
}

/// A closure run under a brand, as the object-safe traits take it.
pub(crate) type BrandFn<'a> = &'a mut dyn for<'h> FnMut(Mu<'h>);
/// A closure building a message under a brand.
pub(crate) type BuildFn<'a> = &'a mut dyn for<'h> FnMut(Mu<'h>) -> Term<'h>;

/// One runtime's heap strategy.
pub(crate) trait HeapStrategy: Send + Sync {
    /// Checks heap options for a process of this strategy.
    fn validate(&self, options: &HeapOptions) -> Result<(), ConfigError>;
    /// The heap of a new process, with options [`HeapStrategy::validate`] accepted.
    fn new_process(
        &self,
        pid: Pid,
        options: &HeapOptions,
        sink: Option<&Arc<dyn GcEventSink>>,
    ) -> Result<AnyHeap, ConfigError>;
    /// Called on each scheduler thread before its first slice. Nothing by default.
    fn scheduler_started(&self, _index: usize) {}
    /// Called on each scheduler thread after its last slice. Nothing by default.
    fn scheduler_stopped(&self, _index: usize) {}
    /// Whether schedulers must stop at their next safepoint (cheap: polled per slice).
    /// Never, by default: a strategy that stops the world overrides it and `safepoint`.
    fn stop_requested(&self) -> bool {
        false
    }
    /// Whether [`HeapStrategy::stop_requested`] can ever be true: if not, the runtime reads
    /// this once and never polls (the poll is a dynamic call on every slice and receive).
    /// `true` by default, so that a strategy overriding `stop_requested` is always polled;
    /// one that never stops says `false`.
    fn may_stop(&self) -> bool {
        true
    }
    /// Stops this scheduler, between two slices, for whatever the strategy needs done with
    /// every scheduler stopped (Invariant 1). Returns when it may run processes again.
    /// Returns at once by default.
    fn safepoint(&self, _index: usize) {}
}

/// Names a new process's heap: tags it with the pid (so that its `GcEvent`s name their
/// process) and attaches the runtime's GC sink.
pub(crate) fn name_heap(heap: &mut Heap, pid: Pid, sink: Option<&Arc<dyn GcEventSink>>) {
    heap.set_pid(Some(pid));
    if let Some(sink) = sink {
        heap.set_event_sink(Arc::clone(sink));
    }
}

/// One process's heap, as the process API uses it.
pub(crate) trait ProcessHeap: Send {
    /// Runs `f` under a fresh brand; returns the words allocated meanwhile.
    fn enter(&mut self, f: BrandFn<'_>) -> u64;
    /// Makes the term `build` returns into a message.
    fn message(&mut self, build: BuildFn<'_>) -> Message;
    /// Appends an arrived message to the message queue.
    fn deliver(&mut self, message: Message);
    /// Delivered messages not yet taken.
    fn message_count(&self) -> usize;
    /// Whether the process should collect at its next await point.
    fn needs_gc(&self) -> bool;
    /// Whether a collection was asked for and has not happened yet (a strategy that
    /// collects at safepoints); a private heap collects at once and never has one pending.
    fn collection_pending(&self) -> bool {
        false
    }
    /// Collects (or asks for a collection); returns the reductions to charge.
    fn collect(&mut self, request: Collect, scheduler: Option<u32>) -> Result<u64, HeapError>;
    /// Sizes and counters.
    fn stats(&self) -> HeapStats;
    /// `process_flag(max_heap_size, _)`.
    fn set_max_heap_size(&mut self, words: Option<usize>) -> Result<(), ConfigError>;
    /// `process_flag(fullsweep_after, _)`.
    fn set_fullsweep_after(&mut self, n: u32);
}

/// One process's heap as its [`Cx`](crate::Cx) holds it (module docs).
pub(crate) enum AnyHeap {
    /// A per-process heap, called directly on a message hop's calls.
    Private(Box<Heap>),
    /// Any other strategy's process heap. Boxed once more, so that this enum is two words
    /// and a context's heap slot (this, or the options of a heap not made yet) stays two
    /// words too: a wide pointer here cost every idle process 16 bytes.
    Dynamic(Box<Box<dyn ProcessHeap>>),
}

impl AnyHeap {
    /// The heap behind the strategy boundary, for the calls off a message hop's path.
    pub(crate) fn as_dyn(&mut self) -> &mut dyn ProcessHeap {
        match self {
            AnyHeap::Private(heap) => heap.as_mut(),
            AnyHeap::Dynamic(heap) => heap.as_mut().as_mut(),
        }
    }

    /// As [`AnyHeap::as_dyn`], shared.
    pub(crate) fn as_dyn_ref(&self) -> &dyn ProcessHeap {
        match self {
            AnyHeap::Private(heap) => heap.as_ref(),
            AnyHeap::Dynamic(heap) => heap.as_ref().as_ref(),
        }
    }

    /// Runs `f` under a fresh brand; returns its result and the words allocated meanwhile
    /// ([`ProcessHeap::enter`]).
    #[inline(always)]
    pub(crate) fn enter<R>(&mut self, f: impl for<'h> FnOnce(Mu<'h>) -> R) -> (R, u64) {
        match self {
            AnyHeap::Private(heap) => per_process::enter(heap, f),
            AnyHeap::Dynamic(heap) => {
                let mut f = Some(f);
                let mut out = None;
                let words =
                    heap.enter(&mut |h| out = Some((f.take().expect("a brand runs its closure once"))(h)));
                (out.expect("the heap ran the closure"), words)
            }
        }
    }

    /// Runs `f` under a fresh brand, `f` taken as a trait object (a receive's matcher step):
    /// one copy of it serves both arms, with the matcher inlined into it. A generic `f`
    /// compiled once per arm had the matcher called out of line from both, and made a
    /// shared-heap hop 8% slower for a per-process hop 1% faster.
    #[inline(always)]
    pub(crate) fn enter_dyn(&mut self, f: BrandFn<'_>) {
        match self {
            AnyHeap::Private(heap) => heap.enter(f),
            AnyHeap::Dynamic(heap) => {
                heap.enter(f);
            }
        }
    }

    /// [`ProcessHeap::message`].
    #[inline(always)]
    pub(crate) fn message(&mut self, build: impl for<'h> FnOnce(Mu<'h>) -> Term<'h>) -> Message {
        match self {
            AnyHeap::Private(heap) => per_process::message(heap, build),
            AnyHeap::Dynamic(heap) => {
                let mut build = Some(build);
                heap.message(&mut |h| (build.take().expect("a message is built once"))(h))
            }
        }
    }

    /// [`ProcessHeap::deliver`].
    #[inline(always)]
    pub(crate) fn deliver(&mut self, message: Message) {
        match self {
            AnyHeap::Private(heap) => ProcessHeap::deliver(heap.as_mut(), message),
            AnyHeap::Dynamic(heap) => heap.deliver(message),
        }
    }

    /// [`ProcessHeap::message_count`].
    #[inline(always)]
    pub(crate) fn message_count(&self) -> usize {
        match self {
            AnyHeap::Private(heap) => heap.message_count(),
            AnyHeap::Dynamic(heap) => heap.message_count(),
        }
    }

    /// [`ProcessHeap::needs_gc`].
    #[inline(always)]
    pub(crate) fn needs_gc(&self) -> bool {
        match self {
            AnyHeap::Private(heap) => heap.needs_gc(),
            AnyHeap::Dynamic(heap) => heap.needs_gc(),
        }
    }
}

/// The strategy object for `kind`.
pub(crate) fn build(
    kind: &HeapKind,
    schedulers: usize,
    sink: Option<&Arc<dyn GcEventSink>>,
) -> Box<dyn HeapStrategy> {
    match kind {
        HeapKind::PerProcess => Box::new(per_process::PerProcess),
        HeapKind::Shared(opts) => Box::new(shared::SharedStrategy::new(opts.clone(), schedulers, sink)),
        HeapKind::Hybrid(opts) => Box::new(hybrid::HybridStrategy::new(opts.clone(), sink)),
    }
}
