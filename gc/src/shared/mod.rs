//! The shared heap: one heap for every process, collected stop-the-world by all workers in
//! parallel. It is the baseline the per-process heaps are measured against, built the way a
//! modern shared-heap runtime builds it (OCaml 5, the JVM's parallel collector):
//!
//! - **allocation**: each worker (scheduler thread) owns a [`Tlab`], a thread-local
//!   allocation buffer carved from the nursery by one atomic add; allocating is a bump of the
//!   TLAB's top. A full nursery never makes an allocation fail inside a brand: the TLAB is
//!   refilled from an overflow chunk and a collection is requested for the next safepoint;
//! - **messages by reference**: a send stores the message's word in an in-flight table (a
//!   root) and the receiver moves it into its message queue; nothing is copied;
//! - **collection**: a *minor* collection copies every live nursery object into the old
//!   generation (promote-all, as OCaml's minor GC); a *major* collection copies every live
//!   object into fresh old chunks. Both run on every worker at once, with work stealing over
//!   the grey objects and a compare-and-swap installing each forwarding pointer;
//! - **safepoints**: a collection requested by one worker waits until every worker has
//!   stopped at [`SharedHeap::safepoint`] (the runtime calls it between two process slices,
//!   so every process is at an await point); the pause reported runs from the request to
//!   the restart, and the part spent waiting for the last worker is reported on its own;
//! - **process exit frees nothing**: a dead process's data is garbage like any other and is
//!   reclaimed by the next collection that reaches it — the contrast with the per-process
//!   heap's O(1) free at exit.
//!
//! Roots are the root tables and message queues of every [`Mutator`] (one per process) and
//! the in-flight messages. Terms are immutable, so an old object never points at a young
//! one: a minor collection needs no remembered set.
//!
//! # Invariants
//! 1. Heap words are read or written only by an operation that holds `&mut Tlab` of this
//!    heap ([`Mutator::enter`], [`Mutator::send`], [`Mutator::deliver`],
//!    [`Mutator::deliver_fragment`]; a TLAB of another heap is refused) or from inside a
//!    stop (collections, [`SharedHeap::verify`]). A stop starts only when every registered
//!    TLAB has been handed to [`SharedHeap::safepoint`], and a `Tlab` never leaves the thread
//!    that registered it, so no brand is open and no root moves while objects move. A
//!    thread without a TLAB can register one for as long as it needs it
//!    ([`SharedHeap::tlab`]): registering waits for a running collection to end.
//! 2. No old object points at a young object (nursery, overflow chunk or adopted fragment).
//! 3. Every refc-binary handle on the heap is listed once: in a TLAB's or the heap's young
//!    list while young, in the old list once promoted; each owns one reference.
//! 4. Outside a collection, every area the verifier walks is a gap-free sequence of objects:
//!    the unused tails of retired TLABs and PLABs are covered by fillers.

mod collector;
mod mutator;
mod safepoint;
mod space;
mod tlab;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use mutator::{Mutator, SharedMessage};
pub use tlab::Tlab;

use crate::event::{GcEvent, GcEventSink, GcReason};
use crate::verify::VerifyError;
use space::Spaces;

/// Words of nursery per worker: 256 Ki words (2 MiB), OCaml 5's default minor heap size
/// (`s=256k` words per domain, OCaml manual, "OCAMLRUNPARAM").
pub const DEFAULT_NURSERY_WORDS_PER_WORKER: usize = 256 * 1024;
/// Words a TLAB takes from the nursery at a time (16 KiB).
pub const DEFAULT_TLAB_WORDS: usize = 2048;
/// The old generation may grow to this many words before the first major collection (8 MiB).
pub const DEFAULT_MIN_OLD_WORDS: usize = 1 << 20;
/// A major collection runs once the old generation holds this many times the live words of
/// the last major collection (100% space overhead, the order of OCaml's `space_overhead`).
pub const DEFAULT_MAJOR_GROWTH: f64 = 2.0;
/// Words of off-heap binary bytes referenced from the nursery before a collection is
/// requested: the per-process `min_bin_vheap_size` (46422 words) per worker.
pub const DEFAULT_VHEAP_WORDS_PER_WORKER: usize = crate::sizes::DEFAULT_MIN_BIN_VHEAP_SIZE;

/// Sizing policy of a shared heap. `Default` gives the documented defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct SharedOptions {
    /// Nursery words per worker; the nursery holds `workers` times this.
    pub nursery_words_per_worker: usize,
    /// Words a TLAB takes at a time; objects above a quarter of it get their own space.
    pub tlab_words: usize,
    /// Old-generation words below which no major collection runs.
    pub min_old_words: usize,
    /// Old generation / live words after the last major collection that triggers the next.
    pub major_growth: f64,
    /// Off-heap binary words referenced from the nursery, per worker, before a collection.
    pub vheap_words_per_worker: usize,
}

impl Default for SharedOptions {
    fn default() -> Self {
        SharedOptions {
            nursery_words_per_worker: DEFAULT_NURSERY_WORDS_PER_WORKER,
            tlab_words: DEFAULT_TLAB_WORDS,
            min_old_words: DEFAULT_MIN_OLD_WORDS,
            major_growth: DEFAULT_MAJOR_GROWTH,
            vheap_words_per_worker: DEFAULT_VHEAP_WORDS_PER_WORKER,
        }
    }
}

/// Why a set of shared-heap options was refused.
#[derive(Clone, Debug, PartialEq)]
pub enum SharedConfigError {
    /// The TLAB is smaller than 64 words or larger than the nursery of one worker.
    TlabSize {
        /// TLAB words given.
        tlab: usize,
        /// Nursery words per worker given.
        nursery: usize,
    },
    /// `major_growth` is not a number above 1.
    MajorGrowth(f64),
    /// No workers, or zero vheap budget.
    Zero(&'static str),
}

impl fmt::Display for SharedConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SharedConfigError::TlabSize { tlab, nursery } => write!(
                f,
                "shared heap TLAB of {tlab} words must be at least 64 words and at most the nursery per worker ({nursery} words)"
            ),
            SharedConfigError::MajorGrowth(g) => write!(f, "shared heap major_growth {g} must be above 1"),
            SharedConfigError::Zero(what) => write!(f, "shared heap {what} must be at least 1"),
        }
    }
}

impl std::error::Error for SharedConfigError {}

impl SharedOptions {
    /// Checks the options for `workers` workers.
    ///
    /// # Errors
    /// The first problem found.
    pub fn validate(&self, workers: usize) -> Result<(), SharedConfigError> {
        if workers == 0 {
            return Err(SharedConfigError::Zero("worker count"));
        }
        if self.vheap_words_per_worker == 0 {
            return Err(SharedConfigError::Zero("vheap_words_per_worker"));
        }
        if self.tlab_words < 64 || self.tlab_words > self.nursery_words_per_worker {
            return Err(SharedConfigError::TlabSize {
                tlab: self.tlab_words,
                nursery: self.nursery_words_per_worker,
            });
        }
        if !(self.major_growth > 1.0 && self.major_growth.is_finite()) {
            return Err(SharedConfigError::MajorGrowth(self.major_growth));
        }
        Ok(())
    }
}

/// Which collection a request asks for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Want {
    Minor,
    Major,
}

/// Sizes and counters of a shared heap (words).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SharedStats {
    /// Nursery capacity.
    pub nursery_capacity: usize,
    /// Nursery words handed out to TLABs (or large objects) since the last collection.
    pub nursery_used: usize,
    /// Young words outside the nursery: overflow chunks and adopted fragments.
    pub overflow_words: usize,
    /// Words in the old generation.
    pub old_used: usize,
    /// Capacity of the old generation's chunks.
    pub old_capacity: usize,
    /// Old-generation words at which the next major collection runs.
    pub next_major_at: usize,
    /// Registered mutators (processes).
    pub mutators: usize,
    /// In-flight messages.
    pub in_flight: usize,
    /// Minor collections so far.
    pub minor_collections: u64,
    /// Major collections so far.
    pub major_collections: u64,
}

impl SharedStats {
    /// Words in use: nursery, overflow and old generation.
    pub fn used_words(&self) -> usize {
        self.nursery_used + self.overflow_words + self.old_used
    }

    /// Words the heap holds: the nursery's and old chunks' capacity, and the overflow.
    pub fn heap_words(&self) -> usize {
        self.nursery_capacity + self.overflow_words + self.old_capacity
    }
}

/// State shared by the handles of one shared heap.
pub(crate) struct Inner {
    pub(crate) id: u64,
    pub(crate) opts: SharedOptions,
    pub(crate) workers: usize,
    pub(crate) spaces: Spaces,
    pub(crate) mutators: mutator::Mutators,
    pub(crate) safepoint: safepoint::Safepoint,
    /// Every worker must stop at its next safepoint: a collection or a verification waits.
    pub(crate) requested: AtomicBool,
    /// A collection is wanted at the next stop.
    pub(crate) collect_requested: AtomicBool,
    /// Wants a major collection (set with `collect_requested`, or decided at the stop).
    pub(crate) major_requested: AtomicBool,
    /// A verification is wanted at the next stop ([`SharedHeap::verify`]).
    pub(crate) verify_requested: AtomicBool,
    /// Verifications run so far at a stop, and the last one's result.
    pub(crate) verified: Mutex<(u64, Result<(), VerifyError>)>,
    /// Why the pending collection was requested.
    pub(crate) reason: Mutex<Option<(GcReason, Instant)>>,
    pub(crate) minor_count: AtomicU64,
    pub(crate) major_count: AtomicU64,
    pub(crate) verify: AtomicBool,
    pub(crate) sink: Mutex<Option<Arc<dyn GcEventSink>>>,
}

/// One heap shared by all processes of a runtime. Cheap to clone (a handle).
///
/// ```
/// use heaplab_gc::shared::{SharedHeap, SharedOptions};
///
/// let heap = SharedHeap::new(SharedOptions::default(), 1).unwrap();
/// let mut tlab = heap.tlab();
/// let mut process = heap.mutator();
/// let root = process.enter(&mut tlab, |h| h.root(h.list((1..=3).map(|i| h.int(i)))));
/// // A collection at a safepoint every TLAB has reached (here the only one).
/// heap.request_major();
/// let event = heap.safepoint(&mut tlab).expect("this worker led the collection");
/// assert_eq!(event.words_copied, 6);
/// process.enter(&mut tlab, |h| assert_eq!(h.get(&root).to_string(), "[1,2,3]"));
/// ```
#[derive(Clone)]
pub struct SharedHeap {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for SharedHeap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedHeap").field("id", &self.inner.id).field("stats", &self.stats()).finish()
    }
}

impl SharedHeap {
    /// A shared heap for `workers` allocating threads (its nursery is sized for them).
    ///
    /// # Errors
    /// Invalid options.
    pub fn new(opts: SharedOptions, workers: usize) -> Result<SharedHeap, SharedConfigError> {
        opts.validate(workers)?;
        let id = crate::area::next_heap_id();
        let spaces = Spaces::new(&opts, workers);
        Ok(SharedHeap {
            inner: Arc::new(Inner {
                id,
                workers,
                spaces,
                mutators: mutator::Mutators::default(),
                safepoint: safepoint::Safepoint::default(),
                requested: AtomicBool::new(false),
                collect_requested: AtomicBool::new(false),
                major_requested: AtomicBool::new(false),
                verify_requested: AtomicBool::new(false),
                verified: Mutex::new((0, Ok(()))),
                reason: Mutex::new(None),
                minor_count: AtomicU64::new(0),
                major_count: AtomicU64::new(0),
                verify: AtomicBool::new(cfg!(any(debug_assertions, feature = "verify"))),
                sink: Mutex::new(None),
                opts,
            }),
        })
    }

    /// The options in force.
    pub fn options(&self) -> &SharedOptions {
        &self.inner.opts
    }

    /// A new allocation buffer for one worker thread. Every TLAB takes part in every
    /// collection: its holder must call [`SharedHeap::safepoint`] when one is requested, or
    /// drop it.
    pub fn tlab(&self) -> Tlab {
        Tlab::register(Arc::clone(&self.inner))
    }

    /// A new mutator (one process's roots and messages).
    pub fn mutator(&self) -> Mutator {
        Mutator::register(Arc::clone(&self.inner))
    }

    /// Whether every worker must stop at its next [`SharedHeap::safepoint`]: a collection
    /// or a verification waits for them.
    #[inline]
    pub fn stop_requested(&self) -> bool {
        self.inner.requested.load(Ordering::Acquire)
    }

    /// Whether a collection waits for the next safepoint.
    #[inline]
    pub fn collection_requested(&self) -> bool {
        self.inner.collect_requested.load(Ordering::Acquire)
    }

    /// Asks for a minor collection at the next safepoint.
    pub fn request_minor(&self) {
        self.inner.request(Want::Minor, GcReason::Requested);
    }

    /// Asks for a major collection at the next safepoint (`erlang:garbage_collect/0`).
    pub fn request_major(&self) {
        self.inner.request(Want::Major, GcReason::Requested);
    }

    /// Stops this worker for a pending collection: retires `tlab`, waits for every other
    /// TLAB, collects in parallel with the other workers, and returns when the heap may be
    /// used again. Returns the event to the worker that finished the collection, `None` to
    /// the others and when no collection was pending.
    ///
    /// # Panics
    /// If `tlab` belongs to another heap.
    pub fn safepoint(&self, tlab: &mut Tlab) -> Option<GcEvent> {
        self.inner.check_tlab(tlab);
        safepoint::stop(&self.inner, tlab)
    }

    /// Sends every collection event to `sink`.
    pub fn set_event_sink(&self, sink: Arc<dyn GcEventSink>) {
        *self.inner.sink.lock().unwrap_or_else(|e| e.into_inner()) = Some(sink);
    }

    /// Runs the verifier before and after every collection (on by default in debug builds).
    pub fn set_verify(&self, on: bool) {
        self.inner.verify.store(on, Ordering::Relaxed);
    }

    /// Checks every invariant of the heap, with every worker stopped: like a collection,
    /// the verification runs at a stop that every registered TLAB joins, so the caller's
    /// worker stops here and every other worker must reach its own safepoint (or drop its
    /// TLAB) before this returns. A collection pending at that stop runs there too, after
    /// the verification. Collections verify the heap themselves when verification is on
    /// ([`SharedHeap::set_verify`]).
    ///
    /// # Panics
    /// If `tlab` belongs to another heap.
    pub fn verify(&self, tlab: &mut Tlab) -> Result<(), VerifyError> {
        let inner = &self.inner;
        inner.check_tlab(tlab);
        let before = inner.verified.lock().unwrap_or_else(|e| e.into_inner()).0;
        inner.verify_requested.store(true, Ordering::Release);
        inner.requested.store(true, Ordering::Release);
        loop {
            if inner.verify_requested.load(Ordering::Acquire) {
                inner.requested.store(true, Ordering::Release);
            }
            safepoint::stop(inner, tlab);
            let verified = inner.verified.lock().unwrap_or_else(|e| e.into_inner());
            if verified.0 > before {
                return verified.1.clone();
            }
        }
    }

    /// Current sizes and counters.
    pub fn stats(&self) -> SharedStats {
        let inner = &self.inner;
        let mut stats = inner.spaces.stats();
        stats.mutators = inner.mutators.len();
        stats.in_flight = inner.mutators.in_flight();
        stats.minor_collections = inner.minor_count.load(Ordering::Relaxed);
        stats.major_collections = inner.major_count.load(Ordering::Relaxed);
        stats
    }

    /// Number of workers the nursery is sized for.
    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    /// Unique id of this heap.
    pub fn id(&self) -> u64 {
        self.inner.id
    }
}

impl Inner {
    /// Records a request; the first one since the last collection sets the reason.
    pub(crate) fn request(&self, want: Want, reason: GcReason) {
        if want == Want::Major {
            self.major_requested.store(true, Ordering::Release);
        }
        let mut pending = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        if pending.is_none() {
            *pending = Some((reason, Instant::now()));
        }
        self.collect_requested.store(true, Ordering::Release);
        self.requested.store(true, Ordering::Release);
    }

    /// Refuses a TLAB of another heap: it would let a worker of that heap stand for one of
    /// this heap's at a stop, or use this heap while its own workers run.
    pub(crate) fn check_tlab(&self, tlab: &Tlab) {
        assert!(std::ptr::eq(&*tlab.inner, self), "a TLAB of another shared heap was used");
    }

    /// Runs a requested verification; only at a stop (safepoint Invariant 2).
    pub(crate) fn verify_if_requested(&self) {
        if self.verify_requested.swap(false, Ordering::AcqRel) {
            let result = self.verify_now();
            let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
            verified.0 += 1;
            verified.1 = result;
        }
    }

    /// The verifier over the whole heap; only at a stop (safepoint Invariant 2).
    pub(crate) fn verify_now(&self) -> Result<(), VerifyError> {
        let roots = self.mutators.root_words();
        self.spaces.verify(roots.into_iter())
    }

    pub(crate) fn record(&self, event: &GcEvent) {
        let sink = self.sink.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(sink) = sink {
            sink.record(event);
        }
    }
}
