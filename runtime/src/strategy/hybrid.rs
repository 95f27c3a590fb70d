//! The hybrid strategy (Johansson, Sagonas and Wilhelmsson, ISMM 2002): every process owns a
//! private [`Heap`] for its own data, and every message is built in the runtime's one
//! [`MessageArea`], so a send copies nothing the process has not kept privately, and a
//! delivery copies nothing at all. A process collects its own heap at its own await points,
//! leaving the messages it holds in the area; its heap is freed whole when it exits.
//! `docs/hybrid-heap.md` compares the design with the papers.
//!
//! The area is collected stop-the-world when its nursery is full: the process whose send
//! found it full takes the lock of every process's heap, in registry order, and collects the
//! area with all of them (the area refuses to run without every heap it has registered). A
//! process that touches its heap meanwhile waits on its lock, so the pause reported (a
//! `GcEvent` of kind `area-minor` or `area-major`) is what every such process waits; the part
//! spent taking the locks (a brand open elsewhere finishing) is its time to safepoint.
//!
//! With the incremental collector (`AreaOptions::collector`), the same protocol runs one
//! increment at a time (`area-increment` events): when the nursery is full a cycle starts,
//! and while it is open, every quarter budget of words sent brings the next increment, each
//! holding the locks for at most its budget of work (`MessageArea::collect_increment`).
//!
//! # Invariants
//! 1. Every process's heap is a heap of the runtime's area, held in an `Arc<Mutex<Heap>>`.
//!    The process locks it for each operation (a brand, a message, a delivery, a collection)
//!    and takes no other heap's lock meanwhile; the area's collector takes them all, in
//!    registry order, while holding `collecting` and the registry.
//! 2. The registry lists (weakly) every heap made. A heap registers with the area and joins
//!    the registry under the registry's lock, so a collection that holds the registry sees
//!    every live heap, except one being dropped (its `Weak` is dead, and its drop is about to
//!    unregister it from the area): the area then refuses, and the collector tries again.
//! 3. Lock order: `collecting`, registry, heap locks, the area's own lock. A process holds at
//!    most its heap's lock when it takes the area's (to build or deliver a message), and the
//!    registry's when it makes a heap, so no two threads wait for each other.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

use heaplab_gc::hybrid::{AreaCollector, AreaError, AreaOptions, MessageArea};
use heaplab_gc::{Collect, ConfigError, GcEventSink, Heap, HeapError, HeapOptions, HeapStats, Pid};

use super::{name_heap, AnyHeap, BrandFn, BuildFn, HeapStrategy, Message, ProcessHeap};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic inside a brand leaves the heap consistent (allocation never tears it, and a
    // collection aborts instead of unwinding): a poisoned lock is still good.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the strategy and its processes share.
struct Area {
    area: MessageArea,
    /// Every heap made, weakly (Invariant 2).
    heaps: Mutex<Vec<Weak<Mutex<Heap>>>>,
    /// Held by the one thread collecting the area (Invariant 3).
    collecting: Mutex<()>,
    sink: Option<Arc<dyn GcEventSink>>,
}

pub(crate) struct HybridStrategy {
    shared: Arc<Area>,
}

impl HybridStrategy {
    pub(crate) fn new(opts: AreaOptions, sink: Option<&Arc<dyn GcEventSink>>) -> HybridStrategy {
        let area = MessageArea::new(opts).expect("validated message-area options");
        HybridStrategy {
            shared: Arc::new(Area {
                area,
                heaps: Mutex::new(Vec::new()),
                collecting: Mutex::new(()),
                sink: sink.cloned(),
            }),
        }
    }
}

impl HeapStrategy for HybridStrategy {
    fn validate(&self, options: &HeapOptions) -> Result<(), ConfigError> {
        options.validate()
    }

    fn new_process(
        &self,
        pid: Pid,
        options: &HeapOptions,
        sink: Option<&Arc<dyn GcEventSink>>,
    ) -> Result<AnyHeap, ConfigError> {
        let mut heaps = lock(&self.shared.heaps);
        // Invariant 2: registered with the area and listed under the registry's lock.
        let mut heap = self.shared.area.heap(options.clone())?;
        name_heap(&mut heap, pid, sink);
        let cell = Arc::new(Mutex::new(heap));
        // Dead entries are dropped when the list would grow: the list stays within twice
        // the live processes.
        if heaps.len() == heaps.capacity() {
            heaps.retain(|w| w.strong_count() > 0);
        }
        heaps.push(Arc::downgrade(&cell));
        drop(heaps);
        Ok(AnyHeap::Dynamic(Box::new(Box::new(HybridProcess {
            heap: cell,
            shared: Arc::clone(&self.shared),
        }))))
    }

    /// The area's collection stops processes through their heap locks, not at safepoints.
    fn may_stop(&self) -> bool {
        false
    }
}

impl Area {
    /// Collects the area if its nursery is full, or runs an increment if one is due (module
    /// docs).
    fn collect_if_needed(&self) {
        if self.due() {
            self.collect(Collect::Auto);
        }
    }

    fn incremental(&self) -> bool {
        self.area.options().collector == AreaCollector::Incremental
    }

    fn due(&self) -> bool {
        if self.incremental() {
            self.area.increment_due()
        } else {
            self.area.needs_collection()
        }
    }

    /// Collects the area, or runs one increment, with every process's heap (Invariants 1-3).
    fn collect(&self, request: Collect) {
        let _one = lock(&self.collecting);
        // Another process may have collected it while this one waited.
        if request == Collect::Auto && !self.due() {
            return;
        }
        let requested = Instant::now();
        loop {
            let mut heaps = lock(&self.heaps);
            heaps.retain(|w| w.strong_count() > 0);
            let cells: Vec<Arc<Mutex<Heap>>> = heaps.iter().filter_map(Weak::upgrade).collect();
            let mut guards: Vec<MutexGuard<'_, Heap>> = cells.iter().map(|c| lock(c)).collect();
            let stopped = Instant::now();
            let mut refs: Vec<&mut Heap> = guards.iter_mut().map(|g| &mut **g).collect();
            let collected = if self.incremental() {
                self.area.collect_increment(&mut refs, request).map(|step| step.event)
            } else {
                self.area.collect(&mut refs, request)
            };
            match collected {
                Ok(mut event) => {
                    event.start = requested;
                    event.time_to_safepoint = stopped - requested;
                    event.duration = requested.elapsed();
                    drop(refs);
                    drop(guards);
                    drop(heaps);
                    if let Some(sink) = &self.sink {
                        sink.record(&event);
                    }
                    return;
                }
                // A heap whose process just exited has not unregistered yet (Invariant 2).
                Err(AreaError::Incomplete { .. }) => {
                    drop(refs);
                    drop(guards);
                    drop(heaps);
                    std::thread::yield_now();
                }
                Err(e @ AreaError::ForeignHeap { .. }) => {
                    unreachable!("every listed heap is the area's: {e}")
                }
            }
        }
    }
}

/// A process of the hybrid strategy: its private heap, shared with the area's collector.
struct HybridProcess {
    heap: Arc<Mutex<Heap>>,
    shared: Arc<Area>,
}

impl ProcessHeap for HybridProcess {
    fn enter(&mut self, f: BrandFn<'_>) -> u64 {
        let mut heap = lock(&self.heap);
        let before = heap.used_words();
        heap.enter(f);
        heap.used_words().saturating_sub(before) as u64
    }

    /// Builds the message in the area, the sender's roots read through its heap.
    fn message(&mut self, build: BuildFn<'_>) -> Message {
        let message = {
            let mut heap = lock(&self.heap);
            self.shared.area.build_from(&mut heap, build)
        };
        // The sender's lock is released: it may now take every heap's (Invariant 3).
        self.shared.collect_if_needed();
        Message::Area(message)
    }

    fn deliver(&mut self, message: Message) {
        let mut heap = lock(&self.heap);
        match message {
            Message::Area(m) => heap.deliver_area(m),
            Message::Copied(fragment) => heap.deliver(fragment),
            Message::Shared(_) => unreachable!("a hybrid runtime never sends through a shared heap"),
        }
    }

    fn message_count(&self) -> usize {
        lock(&self.heap).message_count()
    }

    fn needs_gc(&self) -> bool {
        lock(&self.heap).needs_gc()
    }

    fn collect(&mut self, request: Collect, scheduler: Option<u32>) -> Result<u64, HeapError> {
        let reductions = {
            let mut heap = lock(&self.heap);
            heap.set_scheduler(scheduler);
            heap.collect(request).map(|outcome| outcome.reductions)?
        };
        self.shared.collect_if_needed();
        Ok(reductions)
    }

    fn stats(&self) -> HeapStats {
        lock(&self.heap).stats()
    }

    fn set_max_heap_size(&mut self, words: Option<usize>) -> Result<(), ConfigError> {
        lock(&self.heap).set_max_heap_size(words)
    }

    fn set_fullsweep_after(&mut self, n: u32) {
        lock(&self.heap).set_fullsweep_after(n)
    }
}
