//! A per-process heap: a young generation, an old generation, heap fragments, roots and the
//! list of off-heap binaries it references.
//!
//! Memory layout, as on the BEAM:
//! - the **young generation** is one block; allocation bumps `young_top`. Words below
//!   `high_water` survived one collection already ("mature") and are promoted by the next
//!   minor collection;
//! - the **old generation** is one block, created by the first minor collection that has
//!   mature data to promote, sized one step of the growth table above the young heap;
//! - **fragments** hold young data that did not fit the young block: overflow chunks (an
//!   allocation inside [`Heap::enter`] never moves anything, so a full young block overflows
//!   into a new chunk, as ERTS's heap fragments) and attached message fragments.
//!
//! The heap also holds the owning process's **message queue**: messages delivered to the
//! process (attached fragments) that it has not yet consumed. They are roots, like the root
//! table, and are read and removed inside a brand ([`Mu::message`], [`Mu::take_message`]).
//!
//! # Invariants
//! 1. No old-generation object points into the young generation or a fragment. Terms are
//!    immutable, so an object can only point at objects older than itself; the minor
//!    collector promotes mature objects together with everything they reach.
//! 2. No [`Term`] is alive across a collection: terms exist only inside `enter`, which holds
//!    `&mut Heap`, and collection needs `&mut Heap` too.
//! 3. Every refc-binary handle on the heap is listed in exactly one MSO list: `mso_old` if it
//!    lies in the old generation, `mso_young` otherwise. Each handle owns one reference.
//! 4. Every occupied area (young `[0, young_top)`, old `[0, old_top)`, each fragment's
//!    `[0, used)`) is a gap-free sequence of well-formed objects.
//! 5. Outside a brand, `bump` starts where the area it points into ends (`young_top`, or the
//!    chunk's `used`): whatever reads the heap then sees every allocated word.
//! 6. A heap of a message area (the hybrid heap, `area` set) points only at its own objects
//!    and at objects of its area; after each of its collections, every word of its young
//!    block below the high-water mark or of its old generation that points into the area is
//!    in its remembered set (`AreaLink`). A heap without an area never points outside itself
//!    (except at off-heap binaries).

use std::cell::Cell;
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::Arc;

use crate::area::{next_heap_id, Area, AreaKind, Bump};
use crate::binary::release_handles;
use crate::block::Block;
use crate::event::GcEventSink;
use crate::fragment::{Fragment, Owned};
use crate::hybrid::{AreaLink, AreaMessage};
use crate::mutator::Mu;
use crate::options::{ConfigError, HeapOptions};
use crate::root::RootTable;
use crate::sizes::next_heap_size;
use crate::term::Pid;

/// A process heap. `Send` (a process moves between schedulers), not `Sync`.
///
/// ```
/// use heaplab_gc::{Collect, Heap, View};
///
/// let mut heap = Heap::default();
/// let root = heap.enter(|h| {
///     let list = h.list((1..=3).map(|i| h.int(i)));
///     h.root(h.tuple(&[h.atom_named("ok"), list]))
/// });
/// heap.collect(Collect::Major).unwrap();
/// heap.verify().unwrap();
/// heap.enter(|h| {
///     let t = h.get(&root);
///     assert_eq!(t.to_string(), "{ok,[1,2,3]}");
/// });
/// ```
pub struct Heap {
    pub(crate) id: u64,
    pub(crate) opts: HeapOptions,

    pub(crate) young: Option<Block>,
    pub(crate) young_top: usize,
    pub(crate) high_water: usize,
    /// Words of the young block to allocate next (a growth-table entry).
    pub(crate) young_size: usize,

    pub(crate) old: Option<Block>,
    pub(crate) old_top: usize,

    pub(crate) fragments: Vec<Area>,
    pub(crate) fragment_words: usize,

    /// Where allocation goes next: the young block's free words, or an overflow chunk's.
    /// Inside a brand its top runs ahead of `young_top` (or the chunk's `used`); leaving the
    /// brand writes it back (`sync_bump`), so outside one they agree (Invariant 5).
    pub(crate) bump: Bump,
    pub(crate) bump_in: BumpIn,

    pub(crate) roots: RootTable,
    /// Delivered, unconsumed messages, oldest first; roots of the collector.
    pub(crate) messages: VecDeque<u64>,
    pub(crate) mso_young: Vec<usize>,
    pub(crate) mso_old: Vec<usize>,
    /// Words of off-heap bytes referenced from young handles (the BEAM's `bin_vheap`).
    pub(crate) vheap_young: usize,
    /// Words of off-heap bytes referenced from old handles (`bin_old_vheap`).
    pub(crate) vheap_old: usize,
    /// Budget of `vheap_young` before a collection is due (`bin_vheap_sz`).
    pub(crate) vheap_limit: usize,
    /// Budget of `vheap_old` below which a minor collection may run (`bin_old_vheap_sz`).
    pub(crate) old_vheap_limit: usize,
    /// The last major collection left the young heap over 75% full: the next one grows it
    /// a step (erl_gc.c `F_HEAP_GROW`).
    pub(crate) heap_grow: bool,

    pub(crate) minor_since_major: u32,
    pub(crate) minor_count: u64,
    pub(crate) major_count: u64,

    /// The message area this heap receives messages from (hybrid heaps only), with the
    /// heap's remembered set of words pointing into it.
    pub(crate) area: Option<Box<AreaLink>>,
    pub(crate) sink: Option<Arc<dyn GcEventSink>>,
    pub(crate) pid: Option<Pid>,
    pub(crate) scheduler: Option<u32>,
    _not_sync: PhantomData<Cell<()>>,
}

/// What the bump region of a heap points into.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum BumpIn {
    /// Nothing yet: no young block.
    Nothing,
    /// The young block's free words.
    Young,
    /// The free words of overflow chunk `fragments[i]`.
    Chunk(usize),
}

// SAFETY: the heap owns every block it points into (its bump region lies in one of them):
// moving the heap to another thread moves that ownership, as for `Block` itself.
unsafe impl Send for Heap {}

/// A snapshot of a heap's sizes and counters. Sizes are in words.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct HeapStats {
    /// Capacity of the young block (allocated or, before the first allocation, planned).
    pub young_capacity: usize,
    /// Words used in the young block.
    pub young_used: usize,
    /// Of `young_used`, the mature words below the high-water mark.
    pub mature: usize,
    /// Capacity of the old block (0 when there is none).
    pub old_capacity: usize,
    /// Words used in the old block.
    pub old_used: usize,
    /// Words used in fragments (overflow chunks and attached messages).
    pub fragment_words: usize,
    /// Number of fragments.
    pub fragments: usize,
    /// Refc-binary handles on the heap.
    pub mso_len: usize,
    /// Words of off-heap bytes referenced from the young generation.
    pub vheap_young: usize,
    /// Words of off-heap bytes referenced from the old generation.
    pub vheap_old: usize,
    /// Budget of `vheap_young` before a collection.
    pub vheap_limit: usize,
    /// Budget of `vheap_old`: at or above it the next collection is a major one.
    pub old_vheap_limit: usize,
    /// Occupied root slots.
    pub roots: usize,
    /// Delivered messages not yet taken.
    pub messages: usize,
    /// Minor collections so far.
    pub minor_collections: u64,
    /// Major collections so far.
    pub major_collections: u64,
    /// Minor collections since the last major one.
    pub minor_since_major: u32,
}

impl HeapStats {
    /// Words of memory held in blocks (young + old capacity + fragment words).
    pub fn heap_words(&self) -> usize {
        self.young_capacity + self.old_capacity + self.fragment_words
    }

    /// Words in use (young + old + fragments); after a major collection, the live words.
    pub fn used_words(&self) -> usize {
        self.young_used + self.old_used + self.fragment_words
    }
}

/// Most messages a pristine heap's emptied queue may have room for ([`Heap::is_pristine`]):
/// a queue grown larger keeps memory a new heap would not hold.
pub const PRISTINE_QUEUE: usize = 8;

impl Default for Heap {
    fn default() -> Self {
        Heap::new(HeapOptions::default()).expect("default options are valid")
    }
}

impl Heap {
    /// A heap with validated options. The first young block is allocated lazily, on the first
    /// allocation, so an idle process costs no heap memory.
    pub fn new(opts: HeapOptions) -> Result<Heap, ConfigError> {
        opts.validate()?;
        Ok(Heap::with_valid(opts))
    }

    /// [`Heap::new`] in a box of its own, made in place: a process's heap is boxed, and
    /// making it aside and moving it in copied its 464 bytes on every process's first use.
    pub fn new_boxed(opts: HeapOptions) -> Result<Box<Heap>, ConfigError> {
        opts.validate()?;
        Ok(Box::new(Heap::with_valid(opts)))
    }

    /// A heap with options already validated.
    #[inline(always)]
    fn with_valid(opts: HeapOptions) -> Heap {
        let id = next_heap_id();
        Heap {
            id,
            young: None,
            young_top: 0,
            high_water: 0,
            young_size: next_heap_size(opts.min_heap_size),
            old: None,
            old_top: 0,
            fragments: Vec::new(),
            fragment_words: 0,
            bump: Bump::empty(),
            bump_in: BumpIn::Nothing,
            roots: RootTable::new(id),
            messages: VecDeque::new(),
            mso_young: Vec::new(),
            mso_old: Vec::new(),
            vheap_young: 0,
            vheap_old: 0,
            vheap_limit: opts.min_bin_vheap_size,
            old_vheap_limit: opts.min_bin_vheap_size,
            heap_grow: false,
            minor_since_major: 0,
            minor_count: 0,
            major_count: 0,
            area: None,
            sink: None,
            pid: None,
            scheduler: None,
            opts,
            _not_sync: PhantomData,
        }
    }

    /// This heap's unique id (roots carry it).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The options in force.
    pub fn options(&self) -> &HeapOptions {
        &self.opts
    }

    /// Sets `max_heap_size` (words, `None` = unlimited), as `process_flag(max_heap_size, _)`.
    pub fn set_max_heap_size(&mut self, max: Option<usize>) -> Result<(), ConfigError> {
        let opts = HeapOptions { max_heap_size: max, ..self.opts.clone() };
        opts.validate()?;
        self.opts = opts;
        Ok(())
    }

    /// Sets `fullsweep_after`, as `process_flag(fullsweep_after, _)`.
    pub fn set_fullsweep_after(&mut self, n: u32) {
        self.opts.fullsweep_after = n;
    }

    /// Sends every collection event to `sink`.
    pub fn set_event_sink(&mut self, sink: Arc<dyn GcEventSink>) {
        self.sink = Some(sink);
    }

    /// Names the owning process in events.
    pub fn set_pid(&mut self, pid: Option<Pid>) {
        self.pid = pid;
    }

    /// Names the scheduler in events of collections from now on.
    pub fn set_scheduler(&mut self, scheduler: Option<u32>) {
        self.scheduler = scheduler;
    }

    /// Runs `f` with an allocation handle under a fresh brand `'h`.
    ///
    /// Every term created inside is branded `'h` and cannot leave the closure (the result type
    /// `R` cannot name `'h`); keep values across calls with [`Mu::root`].
    pub fn enter<R>(&mut self, f: impl for<'h> FnOnce(Mu<'h>) -> R) -> R {
        /// Writes the bump region back when the brand ends, even by a panic (Invariant 5).
        struct Sync(NonNull<Heap>);
        impl Drop for Sync {
            fn drop(&mut self) {
                // SAFETY: the brand is over (the handle died with the closure), so this is the
                // only access to the heap `enter` borrowed.
                unsafe { self.0.as_mut().sync_bump() };
            }
        }
        let heap = NonNull::from(self);
        let _sync = Sync(heap);
        // SAFETY: the heap is exclusively borrowed for the whole call, the handle is confined
        // to this thread (`Mu` is !Send) and dies with the closure (see `Mu` invariants).
        let mu = unsafe { Mu::of_heap(heap) };
        f(mu)
    }

    /// Current sizes and counters.
    pub fn stats(&self) -> HeapStats {
        HeapStats {
            young_capacity: self.young.as_ref().map_or(self.young_size, Block::words),
            young_used: self.young_top,
            mature: self.high_water,
            old_capacity: self.old.as_ref().map_or(0, Block::words),
            old_used: self.old_top,
            fragment_words: self.fragment_words,
            fragments: self.fragments.len(),
            mso_len: self.mso_young.len() + self.mso_old.len(),
            vheap_young: self.vheap_young,
            vheap_old: self.vheap_old,
            vheap_limit: self.vheap_limit,
            old_vheap_limit: self.old_vheap_limit,
            roots: self.roots.live_count(),
            messages: self.messages.len(),
            minor_collections: self.minor_count,
            major_collections: self.major_count,
            minor_since_major: self.minor_since_major,
        }
    }

    /// Whether nothing is kept in this heap and nothing has changed it since it was made:
    /// nothing allocated, rooted or attached, no collection, and no message waiting (a few
    /// immediates may have come and gone: their queue keeps room for at most
    /// [`PRISTINE_QUEUE`]). Such a heap is interchangeable with a new one of the same
    /// options (and, for a heap of a message area, of the same area): only its id and pid
    /// tell them apart.
    pub fn is_pristine(&self) -> bool {
        self.young.is_none()
            && self.old.is_none()
            && self.fragments.is_empty()
            && self.mso_young.is_empty()
            && self.mso_old.is_empty()
            && self.messages.is_empty()
            && self.messages.capacity() <= PRISTINE_QUEUE
            && self.roots.is_untouched()
            && self.minor_count == 0
            && self.major_count == 0
    }

    /// Words in use: young + old generation + fragments (cheaper than [`Heap::stats`]).
    #[inline]
    pub fn used_words(&self) -> usize {
        self.young_top + self.old_top + self.fragment_words
    }

    /// Whether a collection is due: the young block and its fragments hold at least the young
    /// heap's size, or off-heap binaries exceed the vheap budget.
    pub fn needs_gc(&self) -> bool {
        let capacity = self.young.as_ref().map_or(self.young_size, Block::words);
        self.young_top + self.fragment_words >= capacity || self.vheap_young > self.vheap_limit
    }

    /// Delivers a message: attaches the fragment in O(1) and appends its term to the message
    /// queue. The fragment's memory counts toward the next collection like any young data.
    pub fn deliver(&mut self, fragment: Fragment) {
        let (parts, word) = fragment.into_parts();
        if let Some(owned) = parts {
            self.adopt(owned);
        }
        self.messages.push_back(word);
    }

    /// Number of delivered messages not yet taken.
    pub fn message_count(&self) -> usize {
        self.messages.len()
    }

    /// Delivers a message of this heap's message area: its word joins the message queue;
    /// nothing is copied or attached (the message stays in the area).
    ///
    /// # Panics
    /// If the heap has no message area, or the message was built in another area: this
    /// heap's collector would take the message's objects for its own.
    pub fn deliver_area(&mut self, mut message: AreaMessage) {
        let ours = self.area.as_ref().is_some_and(|link| link.area.inner.id == message.inner.id);
        assert!(ours, "a message of message area {} was delivered to a heap outside it", message.inner.id);
        let word = message.take().expect("an undelivered message holds its word");
        self.messages.push_back(word);
    }

    /// The id of the message area this heap belongs to, if any.
    pub fn area_id(&self) -> Option<u64> {
        self.area.as_ref().map(|link| link.area.id())
    }

    /// Words of this heap the remembered set lists as pointing into its message area
    /// (0 without an area).
    pub fn remembered_words(&self) -> usize {
        self.area.as_ref().map_or(0, |link| link.young.len() + link.old.len())
    }

    /// Every root of the collector: the root table and the message queue.
    pub(crate) fn for_each_root_mut(&mut self, mut f: impl FnMut(&mut u64)) {
        for slot in self.roots.live_slots_mut() {
            f(slot);
        }
        for word in self.messages.iter_mut() {
            f(word);
        }
    }

    /// Writes the bump region's top back to what it points into (Invariant 5).
    pub(crate) fn sync_bump(&mut self) {
        match self.bump_in {
            BumpIn::Nothing => {}
            BumpIn::Young => {
                let young = self.young.as_ref().expect("the bump is in the young block");
                self.young_top = (self.bump.top as usize - young.addr()) / 8;
            }
            BumpIn::Chunk(i) => {
                let area = &mut self.fragments[i];
                let used = (self.bump.top as usize - area.block.addr()) / 8;
                self.fragment_words += used - area.used;
                area.used = used;
            }
        }
    }

    /// Points the bump region at the young block's free words (after a collection, or when
    /// a heap is emptied); allocation then starts there again.
    pub(crate) fn reset_bump(&mut self) {
        match &self.young {
            Some(young) => {
                self.bump = Bump::after(young, self.young_top);
                self.bump_in = BumpIn::Young;
            }
            None => {
                self.bump = Bump::empty();
                self.bump_in = BumpIn::Nothing;
            }
        }
    }

    /// The allocation the bump region has no room for: the heap's first (its young block is
    /// created lazily), or one that needs a new overflow chunk. Allocation never moves
    /// anything: a full young block overflows into a fragment chunk; the words are
    /// uninitialised, and the caller writes them all before the next allocation
    /// (Invariant 4).
    #[cold]
    fn alloc_slow(&mut self, words: usize) -> *mut u64 {
        self.sync_bump();
        if self.young.is_none() {
            self.young = Some(Block::new(self.young_size));
            self.reset_bump();
            if let Some(p) = self.bump.take(words) {
                return p;
            }
        }
        // A new chunk at least as big as the young heap, and growing with the data already
        // in fragments, so a long run of allocations costs few chunks. Table sizes, so the
        // chunk comes from (and returns to) the block pool or the segment cache.
        let size = next_heap_size(words.max(self.young_size).max(self.fragment_words));
        let block = Block::new(size);
        self.bump = Bump::after(&block, 0);
        self.fragments.push(Area { block, used: 0 });
        self.bump_in = BumpIn::Chunk(self.fragments.len() - 1);
        self.bump.take(words).expect("a new chunk holds the allocation")
    }

    /// Records a refc-binary handle just written at `addr` in the young area (Invariant 3).
    pub(crate) fn note_young_handle(&mut self, addr: usize, bytes: usize) {
        self.mso_young.push(addr);
        self.vheap_young += bytes.div_ceil(8);
    }

    /// Adds an attached fragment's areas and handles to the young area.
    pub(crate) fn adopt(&mut self, owned: Owned) {
        for area in owned.areas {
            self.fragment_words += area.used;
            self.fragments.push(area);
        }
        self.mso_young.extend(owned.mso);
        self.vheap_young += owned.vheap_words;
    }

    /// Gives up every area and handle, leaving an empty heap; used to turn a builder heap into
    /// a message fragment without copying.
    pub(crate) fn take_all(&mut self) -> (Vec<Area>, Vec<usize>, usize) {
        let mut areas = std::mem::take(&mut self.fragments);
        if let Some(young) = self.young.take() {
            if self.young_top > 0 {
                areas.insert(0, Area { block: young, used: self.young_top });
            }
        }
        if let Some(old) = self.old.take() {
            if self.old_top > 0 {
                areas.push(Area { block: old, used: self.old_top });
            }
        }
        let mut mso = std::mem::take(&mut self.mso_young);
        mso.append(&mut self.mso_old);
        let vheap = self.vheap_young + self.vheap_old;
        self.young_top = 0;
        self.high_water = 0;
        self.old_top = 0;
        self.fragment_words = 0;
        self.vheap_young = 0;
        self.vheap_old = 0;
        self.reset_bump();
        (areas, mso, vheap)
    }

    /// The fragments' occupied areas.
    pub(crate) fn fragment_areas(&self) -> impl Iterator<Item = (AreaKind, *const u64, usize)> + '_ {
        self.fragments.iter().map(|a| (AreaKind::Fragment, a.block.start() as *const u64, a.used))
    }

    /// Every occupied area: young, old, then fragments.
    pub(crate) fn areas(&self) -> impl Iterator<Item = (AreaKind, *const u64, usize)> + '_ {
        let young = self.young.as_ref().map(|b| (AreaKind::Young, b.start() as *const u64, self.young_top));
        let old = self.old.as_ref().map(|b| (AreaKind::Old, b.start() as *const u64, self.old_top));
        young
            .into_iter()
            .chain(old)
            .chain(self.fragments.iter().map(|a| (AreaKind::Fragment, a.block.start() as *const u64, a.used)))
    }
}

impl crate::mutator::Space for Heap {
    fn alloc_slow(&mut self, words: usize) -> *mut u64 {
        Heap::alloc_slow(self, words)
    }

    fn note_young_handle(&mut self, addr: usize, bytes: usize) {
        Heap::note_young_handle(self, addr, bytes)
    }

    fn roots(&mut self) -> &mut RootTable {
        &mut self.roots
    }

    fn messages(&mut self) -> &mut VecDeque<u64> {
        &mut self.messages
    }

    fn adopt(&mut self, owned: Owned) {
        Heap::adopt(self, owned)
    }
}

impl Drop for Heap {
    /// Frees the blocks and releases the binaries in the MSO lists, never visiting the live
    /// objects: O(blocks + binary handles), whatever the heap holds.
    fn drop(&mut self) {
        release_handles(self.mso_young.drain(..).chain(self.mso_old.drain(..)));
        if let Some(link) = &self.area {
            // Its area references stop being roots of the area's collector.
            link.unregister(self.id);
        }
        // Blocks are returned to the pool or unmapped as the fields drop.
    }
}
