//! The message area: the memory every message of a hybrid runtime lives in, shared by the
//! private heaps registered with it.
//!
//! A message is built by a closure under a fresh brand into the free words of a **nursery
//! chunk** of the area (one chunk in use per shard of sending threads; a message that
//! outgrows them continues in blocks of its own, and a build that finds its shard's chunk
//! busy uses blocks of its own too), which become part of the nursery in O(1) under the
//! area's lock when the closure returns; the sender never copies the message again, and the
//! receiver's heap holds a pointer into the area. The area's collector promotes live nursery objects into the
//! **old generation** (see `collector`).
//!
//! # Invariants
//! 1. No object of the area points outside the area. A message's objects are allocated under
//!    a brand of their own, and a term of any other brand can only be copied in
//!    ([`Mu::copy`], or a sender's root through [`MessageArea::build_from`], which copies
//!    the root's private objects and links only what is already in this area), so every
//!    pointer of a message points into the message itself or at older objects of the area.
//! 2. Every heap that may hold a pointer into the area (in its roots, its message queue, its
//!    objects) is registered in `heaps` from its creation ([`MessageArea::heap`]) to its drop;
//!    the only other holders are the in-flight table and the brands of registered heaps.
//! 3. The state changes only under the area's lock, an in-flight table only under its
//!    shard's lock (taken after the area's when both are). Area objects move only inside
//!    [`MessageArea::collect`], which holds the area's lock, every shard's, and `&mut` of
//!    every registered heap, so no brand that can see an area object is open meanwhile.
//! 4. No old object points at a nursery object: by Invariant 1 a message's objects point
//!    only at each other or at objects older than the message, terms are immutable, and a
//!    minor collection promotes every live nursery object at once.
//! 5. Every refc-binary handle in the area is listed once, in `mso_young` while in the
//!    nursery and in `mso_old` once promoted; each owns one reference.
//! 6. A shard's cursor names a nursery chunk and its `top`: the chunk's words below `top`
//!    are whole adopted messages (its `used` is `top`), the words above are unused. Only
//!    the holder of the cursor writes above `top` (a build, which lends them to its message
//!    and advances `top` when the message is adopted); a collection takes every cursor
//!    before the state, and resets them when it frees the nursery.

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::area::{next_heap_id, Area, AreaKind};
use crate::binary::release_handles;
use crate::event::{GcEvent, GcEventSink};
use crate::fragment::Owned;
use crate::heap::Heap;
use crate::layout::is_pointer;
use crate::mutator::Mu;
use crate::options::{ConfigError, HeapOptions};
use crate::owned::OwnedTerm;
use crate::root::RootTable;
use crate::term::Term;
use crate::verify::VerifyError;

/// Nursery words before a collection of the area is due: 256 Ki words (2 MiB), the shared
/// heap's nursery per worker (OCaml 5's default minor heap, `s=256k` words).
pub const DEFAULT_AREA_NURSERY_WORDS: usize = 256 * 1024;
/// Old-generation words below which no major collection of the area runs (8 MiB), as the
/// shared heap's `DEFAULT_MIN_OLD_WORDS`.
pub const DEFAULT_AREA_MIN_OLD_WORDS: usize = 1 << 20;
/// A major collection runs once the old generation holds this many times the live words of
/// the last major one (100% space overhead), as the shared heap's `DEFAULT_MAJOR_GROWTH`.
pub const DEFAULT_AREA_MAJOR_GROWTH: f64 = 2.0;
/// Work units (words copied, words scanned, root words visited) an increment of the
/// incremental collector does before it yields: 8 Ki words, 64 KiB of copying or scanning.
/// ISMM 2004 bounded its increments by words too (or by a 1 ms slice); this budget keeps
/// an increment well under that on current hardware.
pub const DEFAULT_AREA_INCREMENT_WORDS: usize = 8 * 1024;

/// How the message area is collected.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum AreaCollector {
    /// Stop-the-world and generational (`area-minor`, `area-major` events): the ISMM 2002
    /// hybrid heap. The default: it is the system the 2002 figures describe, and it does the
    /// least work in all.
    #[default]
    StopTheWorld,
    /// Incremental (`area-increment` events): a cycle's copying is cut into increments of
    /// at most `increment_words` work units each (Sagonas and Wilhelmsson, ISMM 2004; see
    /// `docs/hybrid-heap.md`).
    Incremental,
}

impl AreaCollector {
    /// Both collectors.
    pub const ALL: [AreaCollector; 2] = [AreaCollector::StopTheWorld, AreaCollector::Incremental];

    /// The name the CLI uses: `stw` or `incremental`.
    pub fn name(self) -> &'static str {
        match self {
            AreaCollector::StopTheWorld => "stw",
            AreaCollector::Incremental => "incremental",
        }
    }

    /// The collector named `name` ([`AreaCollector::name`]).
    ///
    /// # Errors
    /// An unknown name; the message lists the known ones.
    pub fn from_name(name: &str) -> Result<AreaCollector, AreaConfigError> {
        AreaCollector::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| AreaConfigError::Collector(name.to_string()))
    }
}

/// Sizing policy of a message area. `Default` gives the documented defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct AreaOptions {
    /// Nursery words before a collection is due.
    pub nursery_words: usize,
    /// Words of off-heap binary bytes referenced from the nursery before a collection is
    /// due (the per-process `min_bin_vheap_size`, 46422 words).
    pub vheap_words: usize,
    /// Old-generation words below which no major collection runs.
    pub min_old_words: usize,
    /// Old generation / live words after the last major collection that triggers the next.
    pub major_growth: f64,
    /// Stop-the-world or incremental collection.
    pub collector: AreaCollector,
    /// Work units an increment of the incremental collector does (its pause bound, see
    /// [`MessageArea::collect_increment`]); unused by the stop-the-world collector.
    pub increment_words: usize,
}

impl Default for AreaOptions {
    fn default() -> Self {
        AreaOptions {
            nursery_words: DEFAULT_AREA_NURSERY_WORDS,
            vheap_words: crate::sizes::DEFAULT_MIN_BIN_VHEAP_SIZE,
            min_old_words: DEFAULT_AREA_MIN_OLD_WORDS,
            major_growth: DEFAULT_AREA_MAJOR_GROWTH,
            collector: AreaCollector::StopTheWorld,
            increment_words: DEFAULT_AREA_INCREMENT_WORDS,
        }
    }
}

/// Why a set of area options was refused.
#[derive(Clone, Debug, PartialEq)]
pub enum AreaConfigError {
    /// A size that must be at least one word was zero.
    Zero(&'static str),
    /// `major_growth` is not a number above 1.
    MajorGrowth(f64),
    /// An unknown collector name.
    Collector(String),
}

impl fmt::Display for AreaConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AreaConfigError::Zero(what) => write!(f, "message area {what} must be at least 1 word"),
            AreaConfigError::MajorGrowth(g) => write!(f, "message area major_growth {g} must be above 1"),
            AreaConfigError::Collector(name) => {
                let known: Vec<_> = AreaCollector::ALL.iter().map(|c| c.name()).collect();
                write!(f, "unknown message-area collector '{name}' (expected one of: {})", known.join(", "))
            }
        }
    }
}

impl std::error::Error for AreaConfigError {}

impl AreaOptions {
    /// Checks the options.
    ///
    /// # Errors
    /// The first problem found.
    pub fn validate(&self) -> Result<(), AreaConfigError> {
        if self.nursery_words == 0 {
            return Err(AreaConfigError::Zero("nursery_words"));
        }
        if self.vheap_words == 0 {
            return Err(AreaConfigError::Zero("vheap_words"));
        }
        if self.increment_words == 0 {
            return Err(AreaConfigError::Zero("increment_words"));
        }
        if !(self.major_growth > 1.0 && self.major_growth.is_finite()) {
            return Err(AreaConfigError::MajorGrowth(self.major_growth));
        }
        Ok(())
    }
}

/// Why [`MessageArea::collect`] refused to run. Nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AreaError {
    /// A heap given is not registered with this area.
    ForeignHeap {
        /// The heap's id.
        heap: u64,
    },
    /// Not every registered heap was given: one left out could hold area pointers the
    /// collection would leave dangling.
    Incomplete {
        /// Heaps given.
        given: usize,
        /// Heaps registered.
        registered: usize,
    },
}

impl fmt::Display for AreaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AreaError::ForeignHeap { heap } => {
                write!(f, "heap {heap} is not registered with this message area")
            }
            AreaError::Incomplete { given, registered } => write!(
                f,
                "a message-area collection needs every registered heap: {given} given, {registered} registered"
            ),
        }
    }
}

impl std::error::Error for AreaError {}

/// Sizes and counters of a message area (words).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct AreaStats {
    /// Words of messages built since the last collection.
    pub nursery_words: usize,
    /// Blocks the nursery is made of: chunks, and the blocks of messages built outside one.
    pub nursery_blocks: usize,
    /// Words in the old generation.
    pub old_words: usize,
    /// Old-generation words at which the next collection is a major one.
    pub next_major_at: usize,
    /// Refc-binary handles in the area.
    pub binary_handles: usize,
    /// Words of off-heap bytes referenced from the nursery.
    pub vheap_young: usize,
    /// Messages sent and not yet delivered.
    pub in_flight: usize,
    /// Registered heaps.
    pub heaps: usize,
    /// Minor collections so far.
    pub minor_collections: u64,
    /// Major collections so far (incremental major cycles included).
    pub major_collections: u64,
    /// Whether an incremental cycle is under way.
    pub cycle_open: bool,
    /// Incremental cycles completed so far.
    pub incremental_cycles: u64,
    /// Increments run so far.
    pub increments: u64,
    /// Words an incremental cycle's last increment copied because it found them only then
    /// (summed over cycles): zero unless a from-space object escaped the barriers (see
    /// `docs/hybrid-heap.md`); the tests check it.
    pub late_words: u64,
    /// Words the open cycle holds besides the nursery and the old generation: its
    /// from-space and its to-space copies.
    pub cycle_words: usize,
}

impl AreaStats {
    /// Words in use: nursery and old generation.
    pub fn used_words(&self) -> usize {
        self.nursery_words + self.old_words
    }
}

/// What the lock of an area guards (Invariant 3).
pub(crate) struct AreaState {
    /// Message memory adopted since the last collection.
    pub(crate) nursery: Vec<Area>,
    pub(crate) nursery_words: usize,
    /// Chunks of the old generation, each filled to `used`.
    pub(crate) old: Vec<Area>,
    pub(crate) old_words: usize,
    pub(crate) mso_young: Vec<usize>,
    pub(crate) mso_old: Vec<usize>,
    /// Words of off-heap bytes referenced from nursery handles.
    pub(crate) vheap_young: usize,
    /// Ids of the registered heaps (Invariant 2).
    pub(crate) heaps: HashSet<u64>,
    pub(crate) next_major_at: usize,
    pub(crate) minor_count: u64,
    pub(crate) major_count: u64,
    /// The incremental cycle under way, if any (see `incremental`).
    pub(crate) cycle: Option<Box<super::incremental::Cycle>>,
    pub(crate) cycles: u64,
    pub(crate) increments: u64,
    pub(crate) late_words: u64,
}

impl AreaState {
    /// Every occupied area: nursery (as young memory), the old generation, and an open
    /// cycle's from-space and to-space (see `incremental::Cycle::areas`).
    pub(crate) fn areas(&self) -> impl Iterator<Item = (AreaKind, *const u64, usize)> + '_ {
        let nursery = self.nursery.iter().map(|a| (AreaKind::Young, a.block.start() as *const u64, a.used));
        let old = self.old.iter().map(|a| (AreaKind::Old, a.block.start() as *const u64, a.used));
        nursery.chain(old).chain(self.cycle.iter().flat_map(|c| c.areas()))
    }
}

pub(crate) struct AreaInner {
    pub(crate) id: u64,
    pub(crate) opts: AreaOptions,
    state: Mutex<AreaState>,
    /// Words of sent, undelivered messages, roots of the collector: one table per shard, a
    /// sending thread using its own (`shard_of_thread`), so that a delivery takes one lock
    /// nobody else is likely to hold, not the area's.
    pub(crate) in_flight: Box<[Mutex<RootTable>]>,
    /// One chunk cursor per shard (Invariant 6).
    pub(crate) cursors: Box<[Mutex<Cursor>]>,
    pub(crate) sink: Mutex<Option<Arc<dyn GcEventSink>>>,
    /// Run the verifier before and after every collection (on by default in debug builds).
    pub(crate) verify: AtomicBool,
}

/// In-flight shards of an area (and chunk cursors): more than the threads that usually send
/// at once.
const IN_FLIGHT_SHARDS: usize = 16;

/// Words of a nursery chunk messages are built in (64 KiB): a collection frees one block per
/// chunk, not one per message; sixteen shards' partly filled chunks hold at most 1 MiB.
pub(crate) const CHUNK_WORDS: usize = 8 * 1024;

/// A message is started in its shard's chunk only when the chunk has this many free words
/// left; otherwise a new chunk is started (the old one's tail stays unused).
pub(crate) const CHUNK_MIN_FREE: usize = 64;

/// Where a shard's next message is built: from word `top` of a nursery chunk (Invariant 6).
#[derive(Default)]
pub(crate) struct Cursor {
    /// The chunk: its index in the nursery, its first word's address, its words.
    pub(crate) chunk: Option<(usize, usize, usize)>,
    pub(crate) top: usize,
}

/// The in-flight shard this thread sends into.
pub(crate) fn shard_of_thread() -> usize {
    use std::sync::atomic::AtomicUsize;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % IN_FLIGHT_SHARDS;
    }
    SHARD.try_with(|s| *s).unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic never leaves the state torn: collections abort instead of unwinding.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl AreaInner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, AreaState> {
        lock(&self.state)
    }

    /// Sends `event` (a collection's or an increment's) to the area's event sink, if it has
    /// one.
    pub(crate) fn record(&self, event: &GcEvent) {
        if let Some(sink) = &*lock(&self.sink) {
            sink.record(event);
        }
    }

    /// Whether the nursery holds its budget of words or of off-heap binary bytes.
    pub(crate) fn nursery_full(&self, state: &AreaState) -> bool {
        state.nursery_words >= self.opts.nursery_words || state.vheap_young > self.opts.vheap_words
    }

    /// Locks every chunk cursor (before the state: lock order cursors, state, shards).
    pub(crate) fn lock_cursors(&self) -> Vec<MutexGuard<'_, Cursor>> {
        self.cursors.iter().map(lock).collect()
    }

    /// Locks every in-flight shard (after the state: lock order state, then shards).
    pub(crate) fn lock_in_flight(&self) -> Vec<MutexGuard<'_, RootTable>> {
        self.in_flight.iter().map(lock).collect()
    }

    /// Verifies the area whose state `state` is (locked by the caller); returns its objects.
    pub(crate) fn verify_locked(&self, state: &AreaState) -> Result<crate::verify::Objects, VerifyError> {
        let shards = self.lock_in_flight();
        let roots = shards.iter().flat_map(|t| t.live_slots());
        crate::verify::verify_area(state, roots)
    }
}

impl Drop for AreaInner {
    /// The last handle is gone: no heap is registered any more (each holds a handle), no
    /// message is in flight (each holds one too), so the area's binaries can be released.
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        release_handles(state.mso_young.drain(..).chain(state.mso_old.drain(..)));
        if let Some(cycle) = state.cycle.take() {
            cycle.release();
        }
    }
}

/// The shared message area of a hybrid runtime. Cheap to clone (a handle). `Send + Sync`.
///
/// ```
/// use heaplab_gc::hybrid::{AreaOptions, MessageArea};
/// use heaplab_gc::{Collect, HeapOptions};
///
/// let area = MessageArea::new(AreaOptions::default()).unwrap();
/// let mut receiver = area.heap(HeapOptions::default()).unwrap();
/// // The message is built in the area: no copy on send, none on delivery.
/// let message = area.build(|h| h.tuple(&[h.atom_named("ping"), h.list((1..=3).map(|i| h.int(i)))]));
/// receiver.deliver_area(message);
/// // The receiver's own collection leaves the message where it is and remembers it.
/// let root = receiver.enter(|h| { let m = h.take_message(0).unwrap(); h.root(h.tuple(&[m])) });
/// receiver.collect(Collect::Major).unwrap();
/// // The area's collection moves the message and updates the receiver's word.
/// let event = area.collect(&mut [&mut receiver], Collect::Minor).unwrap();
/// assert_eq!(event.words_copied, 3 + 6);
/// receiver.verify().unwrap();
/// receiver.enter(|h| assert_eq!(h.get(&root).to_string(), "{{ping,[1,2,3]}}"));
/// ```
#[derive(Clone)]
pub struct MessageArea {
    pub(crate) inner: Arc<AreaInner>,
}

impl fmt::Debug for MessageArea {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageArea").field("id", &self.inner.id).field("stats", &self.stats()).finish()
    }
}

impl MessageArea {
    /// An empty message area.
    ///
    /// # Errors
    /// Invalid options.
    pub fn new(opts: AreaOptions) -> Result<MessageArea, AreaConfigError> {
        opts.validate()?;
        let state = AreaState {
            nursery: Vec::new(),
            nursery_words: 0,
            old: Vec::new(),
            old_words: 0,
            mso_young: Vec::new(),
            mso_old: Vec::new(),
            vheap_young: 0,
            heaps: HashSet::new(),
            next_major_at: opts.min_old_words,
            minor_count: 0,
            major_count: 0,
            cycle: None,
            cycles: 0,
            increments: 0,
            late_words: 0,
        };
        Ok(MessageArea {
            inner: Arc::new(AreaInner {
                id: next_heap_id(),
                opts,
                state: Mutex::new(state),
                in_flight: (0..IN_FLIGHT_SHARDS)
                    .map(|_| Mutex::new(RootTable::new(next_heap_id())))
                    .collect(),
                cursors: (0..IN_FLIGHT_SHARDS).map(|_| Mutex::new(Cursor::default())).collect(),
                sink: Mutex::new(None),
                verify: AtomicBool::new(cfg!(any(debug_assertions, feature = "verify"))),
            }),
        })
    }

    /// This area's unique id.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The options in force.
    pub fn options(&self) -> &AreaOptions {
        &self.inner.opts
    }

    /// A private heap registered with this area: it can receive the area's messages, and
    /// every collection of the area takes it (Invariant 2). Dropping it unregisters it.
    ///
    /// # Errors
    /// Invalid heap options.
    pub fn heap(&self, opts: HeapOptions) -> Result<Heap, ConfigError> {
        let mut heap = Heap::new(opts)?;
        self.register(&mut heap);
        Ok(heap)
    }

    /// [`MessageArea::heap`] in a box of its own.
    ///
    /// # Errors
    /// Invalid heap options.
    pub fn heap_boxed(&self, opts: HeapOptions) -> Result<Box<Heap>, ConfigError> {
        let mut heap = Heap::new_boxed(opts)?;
        self.register(&mut heap);
        Ok(heap)
    }

    fn register(&self, heap: &mut Heap) {
        self.inner.lock().heaps.insert(heap.id);
        heap.area = Some(Box::new(AreaLink { area: self.clone(), young: Vec::new(), old: Vec::new() }));
    }

    /// Builds a message with `build` under a fresh brand, in memory that becomes part of the
    /// area's nursery when the closure returns (no copy). A term of any other heap is used in
    /// the message through `h.copy(term)`, which copies it into the message (Invariant 1).
    pub fn build(&self, build: impl for<'m> FnOnce(Mu<'m>) -> Term<'m>) -> AreaMessage {
        super::builder::build_message(self, None, build)
    }

    /// Builds a message with `build` as [`MessageArea::build`] does, for the process whose
    /// heap is `sender`: inside the closure, `h.get(&root)` with a root of `sender` gives the
    /// root's term in the message: its private objects copied into the message once, and
    /// the parts already in the area (received messages) linked, not copied. Other roots of
    /// `sender` cannot be changed from here (`h.set` panics), and its message queue is not
    /// visible (`h.message(i)` is `None`): the closure sees a heap of its own.
    ///
    /// # Panics
    /// If `sender` is not a heap of this area.
    pub fn build_from(
        &self,
        sender: &mut Heap,
        build: impl for<'m> FnOnce(Mu<'m>) -> Term<'m>,
    ) -> AreaMessage {
        let ours = sender.area.as_ref().is_some_and(|link| link.area.inner.id == self.inner.id);
        assert!(ours, "a message of message area {} was built from a heap outside it", self.inner.id);
        // `&mut Heap` keeps the sender, and so every area collection, out of the way until
        // the message is in the area: the builder may hold area pointers (Invariant 3).
        super::builder::build_message(self, Some(sender), build)
    }

    /// Takes a built message's memory into the nursery and its word into the in-flight
    /// table. `cursor` is the shard's chunk cursor (held by the caller) when the message's
    /// first words were lent from its chunk: the area of a lent block is counted into the
    /// chunk (Invariant 6), not kept.
    pub(crate) fn adopt(&self, owned: Owned, word: u64, cursor: Option<&mut Cursor>) -> AreaMessage {
        if owned.areas.is_empty() && owned.mso.is_empty() && !is_pointer(word) {
            return AreaMessage { inner: Arc::clone(&self.inner), immediate: Some(word), slot: None };
        }
        let mut state = self.inner.lock();
        // The barrier on sends: during a cycle, the message points at no from-space object
        // (see `incremental`).
        let word = match state.cycle.as_mut() {
            Some(cycle) => cycle.barrier(&owned.areas, word),
            None => word,
        };
        let mut cursor = cursor;
        for area in owned.areas {
            state.nursery_words += area.used;
            if area.block.is_lent() {
                let cursor = cursor.as_deref_mut().expect("a lent block comes with its cursor");
                let (index, _, _) = cursor.chunk.expect("a lent block lies in the cursor's chunk");
                cursor.top += area.used;
                state.nursery[index].used = cursor.top;
            } else {
                state.nursery.push(area);
            }
        }
        state.mso_young.extend(owned.mso);
        state.vheap_young += owned.vheap_words;
        if !is_pointer(word) {
            return AreaMessage { inner: Arc::clone(&self.inner), immediate: Some(word), slot: None };
        }
        // Rooted before the state is unlocked, so that no collection (which needs the state)
        // can miss the word.
        let shard = shard_of_thread();
        let slot = lock(&self.inner.in_flight[shard]).insert_slot(word);
        drop(state);
        AreaMessage { inner: Arc::clone(&self.inner), immediate: None, slot: Some((shard, slot)) }
    }

    /// Whether a collection of the area is due: the nursery holds its budget of words, or
    /// of off-heap binary bytes.
    pub fn needs_collection(&self) -> bool {
        self.inner.nursery_full(&self.inner.lock())
    }

    /// Whether an increment of the incremental collector is due: a cycle is under way and
    /// the nursery has taken the cycle's pace of words since the last increment (at most a
    /// quarter of an increment's budget, less when the cycle's work needs more increments to
    /// end before the nursery is full; or the nursery is full), or no cycle is and a
    /// collection is due ([`MessageArea::needs_collection`]).
    pub fn increment_due(&self) -> bool {
        let state = self.inner.lock();
        match &state.cycle {
            Some(cycle) => cycle.due(&state, &self.inner.opts),
            None => self.inner.nursery_full(&state),
        }
    }

    /// Current sizes and counters.
    pub fn stats(&self) -> AreaStats {
        let state = self.inner.lock();
        AreaStats {
            nursery_words: state.nursery_words,
            nursery_blocks: state.nursery.len(),
            old_words: state.old_words,
            next_major_at: state.next_major_at,
            binary_handles: state.mso_young.len() + state.mso_old.len(),
            vheap_young: state.vheap_young,
            in_flight: self.inner.in_flight.iter().map(|t| lock(t).live_count()).sum(),
            heaps: state.heaps.len(),
            minor_collections: state.minor_count,
            major_collections: state.major_count,
            cycle_open: state.cycle.is_some(),
            incremental_cycles: state.cycles,
            increments: state.increments,
            late_words: state.late_words,
            cycle_words: state.cycle.as_ref().map_or(0, |c| c.words()),
        }
    }

    /// Sends every collection event of the area to `sink`.
    pub fn set_event_sink(&self, sink: Arc<dyn GcEventSink>) {
        *lock(&self.inner.sink) = Some(sink);
    }

    /// Runs the verifier before and after every collection of the area (on by default in
    /// debug builds).
    pub fn set_verify(&self, on: bool) {
        self.inner.verify.store(on, Ordering::Relaxed);
    }

    /// Checks the area's invariants: every pointer of an area object lands on an object of
    /// the area (Invariant 1: none into a private heap), no old object points into the
    /// nursery (Invariant 4), and every binary handle is listed once (Invariant 5); during
    /// an incremental cycle, the cycle's invariants too (see `incremental`).
    pub fn verify(&self) -> Result<(), VerifyError> {
        self.inner.verify_locked(&self.inner.lock()).map(drop)
    }
}

/// A message built in the area, on its way to its receiver: its word waits in the area's
/// in-flight table (a root of the area's collector) until delivered with
/// [`Heap::deliver_area`]. Dropping it undelivered lets the next collection reclaim it.
/// `Send`.
pub struct AreaMessage {
    pub(crate) inner: Arc<AreaInner>,
    /// The word itself when it is an immediate: nothing to find or move.
    immediate: Option<u64>,
    /// Otherwise the in-flight shard and slot holding the word; `None` once delivered.
    slot: Option<(usize, u32)>,
}

impl fmt::Debug for AreaMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AreaMessage(area {}, slot {:?})", self.inner.id, self.slot)
    }
}

impl AreaMessage {
    /// The id of the area the message lives in.
    pub fn area_id(&self) -> u64 {
        self.inner.id
    }

    /// An owned copy of the message's term.
    pub fn to_owned_term(&self) -> OwnedTerm {
        if let Some(word) = self.immediate {
            // SAFETY: an immediate satisfies term Invariant 1 for any brand.
            return unsafe { Term::from_raw(word) }.to_owned_term();
        }
        let (shard, slot) = self.slot.expect("an undelivered message holds its slot");
        let _state = self.inner.lock();
        let word = lock(&self.inner.in_flight[shard]).slots[slot as usize];
        // SAFETY: the in-flight word is a term of the area, whose objects do not move while
        // its lock is held (Invariant 3); the brand ends with this call.
        unsafe { Term::from_raw(word) }.to_owned_term()
    }

    /// Frees the message's in-flight slot and returns its word, for its delivery.
    pub(crate) fn take(&mut self) -> Option<u64> {
        if let Some(word) = self.immediate.take() {
            return Some(word);
        }
        let (shard, slot) = self.slot.take()?;
        Some(lock(&self.inner.in_flight[shard]).take_slot(slot))
    }
}

impl Drop for AreaMessage {
    /// An undelivered message stops being a root: the next collection reclaims its term.
    fn drop(&mut self) {
        if let Some((shard, slot)) = self.slot.take() {
            lock(&self.inner.in_flight[shard]).take_slot(slot);
        }
    }
}

/// A private heap's tie to its message area: the area, and the heap's remembered set (the
/// addresses of its words that point into the area, see `docs/hybrid-heap.md`).
///
/// # Invariants
/// 1. After each collection of the heap, every word of the young block below the
///    high-water mark that points into the area is listed in `young`, and every such word of
///    the old generation in `old`. `old` may also list words of old objects that died since
///    (they still point into the area; the next major collection drops them).
/// 2. Words allocated since the heap's last collection (young block from the high-water mark
///    to the top, fragments) are in neither list: the area's collector walks them.
pub(crate) struct AreaLink {
    pub(crate) area: MessageArea,
    pub(crate) young: Vec<usize>,
    pub(crate) old: Vec<usize>,
}

impl AreaLink {
    /// Unregisters the heap `heap` (it is being dropped): its area references stop being
    /// roots.
    pub(crate) fn unregister(&self, heap: u64) {
        self.area.inner.lock().heaps.remove(&heap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::Collect;
    use crate::layout::{object_ptr, pointer_address};

    /// A heap of `area` holding one received message inside a collected private tuple.
    fn heap_with_remembered_message(area: &MessageArea) -> (Heap, crate::root::Root) {
        let mut heap = area.heap(HeapOptions::default()).unwrap();
        heap.deliver_area(area.build(|h| h.tuple(&[h.int(1), h.int(2)])));
        let root = heap.enter(|h| {
            let m = h.take_message(0).unwrap();
            h.root(h.tuple(&[m]))
        });
        heap.collect(Collect::Major).unwrap();
        assert_eq!(heap.remembered_words(), 1);
        heap.verify().unwrap();
        (heap, root)
    }

    #[test]
    fn the_verifier_finds_an_area_word_missing_from_the_remembered_set() {
        let area = MessageArea::new(AreaOptions::default()).unwrap();
        let (mut heap, _root) = heap_with_remembered_message(&area);
        heap.area.as_mut().unwrap().young.clear();
        let err = heap.verify().unwrap_err();
        assert!(err.problem.contains("missing from the remembered set"), "{err}");
    }

    #[test]
    fn the_verifier_finds_a_remembered_word_that_is_no_area_pointer() {
        let area = MessageArea::new(AreaOptions::default()).unwrap();
        let (mut heap, root) = heap_with_remembered_message(&area);
        // The private tuple's header word: a word of the young block, but no area pointer.
        let header = heap.enter(|h| pointer_address(h.get(&root).raw()));
        heap.area.as_mut().unwrap().young.push(header);
        let err = heap.verify().unwrap_err();
        assert!(err.problem.contains("does not point into the area"), "{err}");
    }

    #[test]
    fn the_verifier_finds_an_area_object_pointing_into_a_private_heap() {
        let area = MessageArea::new(AreaOptions::default()).unwrap();
        let (mut heap, root) = heap_with_remembered_message(&area);
        let (private, message) = heap.enter(|h| {
            let t = h.get(&root);
            (t.raw(), t.as_tuple().unwrap()[0].raw())
        });
        // SAFETY: the message is a 2-tuple of the area that nothing reads meanwhile; its
        // first element is overwritten with a pointer to the private tuple, the very breach
        // the verifier must report.
        unsafe { object_ptr(message).add(1).write(private) };
        let err = area.verify().unwrap_err();
        assert!(err.problem.contains("to no object of this heap"), "{err}");
        // SAFETY: as above; the element is put back before anything else reads it.
        unsafe { object_ptr(message).add(1).write(Term::small(1).unwrap().raw()) };
        area.verify().unwrap();
    }
}
