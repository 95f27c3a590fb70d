//! Minor and major (fullsweep) collection of a per-process heap, after erl_gc.c.
//!
//! # Protocol
//! 1. **Choose.** A requested major collection, `fullsweep_after` minor collections since the
//!    last major one, or an old generation without room for the mature data makes this a
//!    major collection; otherwise it is minor. The first minor collection with mature data
//!    creates the old generation, one growth step above the young heap.
//! 2. **Allocate to-space.** A fresh young block: the current size, or, when fragments made
//!    the young data overflow it, the table size that holds 4/3 of that data (a minor
//!    collection cannot copy more, and a heap sized so stays under the 3/4 growth threshold
//!    of step 7 even if everything survives). A major collection sizes it the same way for
//!    everything in use.
//! 3. **Evacuate the roots.** Each root slot is rewritten to the copy of its object. A minor
//!    collection leaves old objects in place (they never point at young ones, heap
//!    Invariant 1), promotes mature objects (young block below the high-water mark) to the
//!    old generation and copies the rest to to-space. A major collection copies everything.
//! 4. **Scan.** Cheney: to-space (and the promoted part of the old generation) is scanned
//!    left to right; each field still pointing at from-space is evacuated. When both scan
//!    pointers reach their tops, every reachable object has been copied exactly once: a
//!    copied object's header (or a cons cell's car) holds a forwarding pointer.
//! 5. **Sweep the MSO lists.** A handle whose header was forwarded is alive at its new
//!    address (listed old or young by where it now is); any other handle is garbage, and its
//!    reference to the off-heap binary is dropped — the last drop frees the bytes.
//! 6. **Release from-space** (old young block, fragments; after a major one, the old
//!    generation too) and set the high-water mark to the top: all survivors are mature.
//! 7. **Resize** the young heap to the live data (grow above 75% full, shrink below 25% for
//!    large heaps) and adjust the vheap budget; then check `max_heap_size`.

use std::time::{Duration, Instant};

use crate::binary;
use crate::block::Block;
use crate::event::{GcEvent, GcKind, GcReason};
use crate::heap::{release_handles, Heap};
use crate::layout::*;
use crate::object::{for_each_field, object_size};
use crate::sizes::{next_heap_size, step_above};

/// Fragment-list capacity a collection keeps (entries); above it the list is freed.
const FRAGMENT_LIST_KEPT: usize = 64;
/// What collection to run.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Collect {
    /// Whatever the heap needs: minor unless protocol step 1 forces a major one.
    Auto,
    /// A minor collection when possible (a major one when step 1 forces it).
    Minor,
    /// A major (fullsweep) collection, as `erlang:garbage_collect/0`.
    Major,
}

/// The result of a collection.
#[derive(Clone, Debug)]
pub struct GcOutcome {
    /// What happened (also sent to the event sink).
    pub event: GcEvent,
    /// Reductions to charge the process: live words after the collection / 10, the BEAM's
    /// charge (erl_gc.c `garbage_collect`), so a process that collects often yields sooner.
    pub reductions: u64,
}

/// A collection that leaves the heap larger than `max_heap_size`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeapError {
    /// The heap after collection (young + old generation) exceeds the limit. The heap itself
    /// is intact; the owner is expected to be killed, as the BEAM kills the process.
    MaxHeapSize {
        /// The limit, in words.
        limit: usize,
        /// The heap's size after collection, in words.
        size: usize,
    },
}

impl std::fmt::Display for HeapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeapError::MaxHeapSize { limit, size } => {
                write!(f, "heap of {size} words exceeds max_heap_size {limit} words")
            }
        }
    }
}

impl std::error::Error for HeapError {}

/// Where a from-space object goes.
#[derive(Copy, Clone)]
enum Mode {
    /// Minor: objects in `[old_start, old_end)` stay; young objects below `mature_end` go to
    /// the old generation, all others to to-space.
    Minor { young_start: usize, mature_end: usize, old_start: usize, old_end: usize },
    /// Major: everything goes to to-space.
    Major,
}

/// A bump region being filled during the copy.
struct Space {
    base: *mut u64,
    top: usize,
    capacity: usize,
}

impl Space {
    #[inline]
    fn take(&mut self, words: usize) -> *mut u64 {
        assert!(self.top + words <= self.capacity, "to-space overflow: the size estimate is wrong");
        // SAFETY: within capacity (asserted).
        let p = unsafe { self.base.add(self.top) };
        self.top += words;
        p
    }
}

struct Evacuator {
    mode: Mode,
    young: Space,
    old: Space,
    words_copied: u64,
    words_promoted: u64,
}

impl Evacuator {
    /// Step 3/4: the to-space word for the from-space word `word`.
    ///
    /// # Safety
    /// `word` is an immediate, a pointer into the old generation (minor), or a pointer to a
    /// from-space object that is either well-formed or forwarded.
    #[inline]
    unsafe fn evacuate(&mut self, word: u64) -> u64 {
        if !is_pointer(word) {
            return word;
        }
        let addr = pointer_address(word);
        let promote = match self.mode {
            Mode::Minor { old_start, old_end, .. } if (old_start..old_end).contains(&addr) => return word,
            Mode::Minor { young_start, mature_end, .. } => (young_start..mature_end).contains(&addr),
            Mode::Major => false,
        };
        let src = addr as *mut u64;
        // SAFETY: `src` is a from-space object (caller): readable, and writable for the
        // forwarding mark; to-space has room for it (step 2 sizes it for all of from-space).
        unsafe {
            let first = *src;
            let tag = word & PRIMARY_MASK;
            if tag == TAG_LIST {
                if first == MOVED_CONS {
                    return *src.add(1);
                }
            } else if first & PRIMARY_MASK == TAG_BOXED {
                return first;
            }
            let size = object_size(src);
            let dst = if promote { self.old.take(size) } else { self.young.take(size) };
            // Objects are a few words: a word loop beats a call to memmove.
            for i in 0..size {
                *dst.add(i) = *src.add(i);
            }
            self.words_copied += size as u64;
            if promote {
                self.words_promoted += size as u64;
            }
            let moved = dst as u64 | tag;
            if tag == TAG_LIST {
                *src = MOVED_CONS;
                *src.add(1) = moved;
            } else {
                *src = moved;
            }
            moved
        }
    }

    /// Step 4: scans both spaces from the given starts until no unscanned object is left.
    fn scan(&mut self, mut young_scan: usize, mut old_scan: usize) {
        loop {
            if young_scan < self.young.top {
                // SAFETY: `young_scan` is the start of an object copied into to-space
                // (objects are gap-free); its fields hold from-space or old words.
                unsafe {
                    let obj = self.young.base.add(young_scan);
                    young_scan += for_each_field(obj, |f| *f = self.evacuate(*f));
                }
            } else if old_scan < self.old.top {
                // SAFETY: as above, for an object promoted into the old generation.
                unsafe {
                    let obj = self.old.base.add(old_scan);
                    old_scan += for_each_field(obj, |f| *f = self.evacuate(*f));
                }
            } else {
                break;
            }
        }
    }
}

impl Heap {
    /// Runs a collection now. Must be called at a point where no term of this heap is alive
    /// (guaranteed by `&mut self`, heap Invariant 2).
    ///
    /// Returns the event and the reductions to charge, or [`HeapError::MaxHeapSize`] when the
    /// heap after collection is above `max_heap_size` (the collection itself completed).
    pub fn collect(&mut self, request: Collect) -> Result<GcOutcome, HeapError> {
        let start = Instant::now();
        self.roots.drain_released();
        self.check_verify("before collection");
        let words_before = self.stats().used_words() as u64;

        // Step 1.
        let mut reason = match request {
            Collect::Major => GcReason::Requested,
            _ if self.vheap_young > self.vheap_limit => GcReason::VheapFull,
            Collect::Minor => GcReason::Requested,
            Collect::Auto => GcReason::HeapFull,
        };
        let mut major = request == Collect::Major;
        if !major && self.minor_since_major >= self.opts.fullsweep_after {
            major = true;
            reason = GcReason::FullsweepAfter;
        }
        if !major && self.high_water > 0 {
            if self.old.is_none() {
                let young_words = self.young.as_ref().map_or(self.young_size, Block::words);
                self.old = Some(Block::new(step_above(young_words.max(self.young_top))));
                self.old_top = 0;
            }
            let old_free = self.old.as_ref().map_or(0, Block::words) - self.old_top;
            if self.high_water > old_free {
                major = true;
                reason = GcReason::OldFull;
            }
        }

        let (kind, words_copied, words_promoted, binaries_freed) =
            if major { self.major() } else { self.minor() };
        self.resize_young(kind);
        self.adjust_vheap();

        let words_after = self.stats().used_words() as u64;
        let event = GcEvent {
            kind,
            reason,
            pid: self.pid,
            scheduler: self.scheduler,
            start,
            duration: start.elapsed(),
            time_to_safepoint: Duration::ZERO,
            words_before,
            words_after,
            words_copied,
            words_promoted,
            binaries_freed,
            max_worker_words: words_copied,
        };
        self.check_verify("after collection");
        if let Some(sink) = &self.sink {
            sink.record(&event);
        }
        if let Some(limit) = self.opts.max_heap_size {
            let stats = self.stats();
            let size = stats.young_capacity + stats.old_capacity;
            if size > limit {
                return Err(HeapError::MaxHeapSize { limit, size });
            }
        }
        Ok(GcOutcome { reductions: words_after / 10, event })
    }

    /// Collects if [`Heap::needs_gc`] says so.
    pub fn collect_if_needed(&mut self) -> Result<Option<GcOutcome>, HeapError> {
        if self.needs_gc() {
            self.collect(Collect::Auto).map(Some)
        } else {
            Ok(None)
        }
    }

    fn check_verify(&self, when: &str) {
        if cfg!(any(debug_assertions, feature = "verify")) {
            if let Err(e) = self.verify() {
                panic!("heap verification failed {when}: {e}");
            }
        }
    }

    /// Steps 2-6 of a minor collection. Returns (kind, copied, promoted, binaries freed).
    fn minor(&mut self) -> (GcKind, u64, u64, u64) {
        let current = self.young.as_ref().map_or(self.young_size, Block::words);
        // Step 2: all young data fits the current size unless fragments pushed it over.
        let young_data = self.young_top + self.fragment_words;
        // Sized so that even if everything survives the heap ends at most 3/4 full, so step 7
        // does not have to grow it (and copy everything a second time).
        let to_words = if young_data > current { next_heap_size(young_data * 4 / 3) } else { current };
        let to = Block::new(to_words);
        let (young_start, mature_end) = match &self.young {
            Some(b) => (b.addr(), b.addr() + self.high_water * 8),
            None => (0, 0),
        };
        let (old_base, old_words) = match &self.old {
            Some(b) => (b.start(), b.words()),
            None => (std::ptr::null_mut(), 0),
        };
        let old_before = self.old_top;
        let mut ev = Evacuator {
            mode: Mode::Minor {
                young_start,
                mature_end,
                old_start: old_base as usize,
                old_end: old_base as usize + old_before * 8,
            },
            young: Space { base: to.start(), top: 0, capacity: to_words },
            old: Space { base: old_base, top: old_before, capacity: old_words },
            words_copied: 0,
            words_promoted: 0,
        };
        // Step 3.
        // SAFETY: root slots and queued messages hold terms of this heap (root Invariant 1).
        self.for_each_root_mut(|slot| *slot = unsafe { ev.evacuate(*slot) });
        // Step 4.
        ev.scan(0, old_before);

        // Step 5.
        let mut freed = 0;
        let mut young_handles = Vec::with_capacity(self.mso_young.len());
        let mut vheap_young = 0;
        let old_range = old_base as usize..old_base as usize + ev.old.top * 8;
        for addr in std::mem::take(&mut self.mso_young) {
            // SAFETY: each entry is a handle in from-space, forwarded or dead; from-space is
            // not released yet (step 6 comes after).
            unsafe {
                let first = *(addr as *const u64);
                let bin = *(addr as *const u64).add(2) as *const binary::RefcHeader;
                if first & PRIMARY_MASK == TAG_BOXED {
                    let new = pointer_address(first);
                    let words = binary::len(bin).div_ceil(8);
                    if old_range.contains(&new) {
                        self.mso_old.push(new);
                        self.vheap_old += words;
                    } else {
                        young_handles.push(new);
                        vheap_young += words;
                    }
                } else {
                    freed += binary::decrement(bin) as u64;
                }
            }
        }
        self.mso_young = young_handles;
        self.vheap_young = vheap_young;

        // Step 6.
        self.young = Some(to);
        self.young_top = ev.young.top;
        self.high_water = ev.young.top;
        self.old_top = ev.old.top;
        self.release_fragment_list();
        self.open_chunk = None;
        self.fragment_words = 0;
        self.minor_count += 1;
        self.minor_since_major += 1;
        (GcKind::Minor, ev.words_copied, ev.words_promoted, freed)
    }

    /// Steps 2-6 of a major collection.
    fn major(&mut self) -> (GcKind, u64, u64, u64) {
        // Step 2: room for everything in use; untouched pages of a large (mapped) block cost
        // no memory, and step 7 gives the excess back.
        let in_use = self.young_top + self.old_top + self.fragment_words;
        let current = self.young.as_ref().map_or(self.young_size, Block::words);
        let to_words = next_heap_size((in_use * 4 / 3).max(current));
        let to = Block::new(to_words);
        let mut ev = Evacuator {
            mode: Mode::Major,
            young: Space { base: to.start(), top: 0, capacity: to_words },
            old: Space { base: std::ptr::null_mut(), top: 0, capacity: 0 },
            words_copied: 0,
            words_promoted: 0,
        };
        // SAFETY: root slots and queued messages hold terms of this heap (root Invariant 1).
        self.for_each_root_mut(|slot| *slot = unsafe { ev.evacuate(*slot) });
        ev.scan(0, 0);

        // Step 5: every handle, young or old, is forwarded into to-space or dead.
        let mut survivors = Vec::with_capacity(self.mso_young.len() + self.mso_old.len());
        let mut dead = Vec::new();
        let mut vheap = 0;
        for addr in self.mso_young.drain(..).chain(self.mso_old.drain(..)) {
            // SAFETY: each entry is a handle in from-space (not yet released).
            unsafe {
                let first = *(addr as *const u64);
                if first & PRIMARY_MASK == TAG_BOXED {
                    let new = pointer_address(first);
                    let bin = *(new as *const u64).add(2) as *const binary::RefcHeader;
                    vheap += binary::len(bin).div_ceil(8);
                    survivors.push(new);
                } else {
                    dead.push(addr);
                }
            }
        }
        let freed = release_handles(dead.into_iter());
        self.mso_young = survivors;
        self.vheap_young = vheap;
        self.vheap_old = 0;

        // Step 6.
        self.young = Some(to);
        self.young_top = ev.young.top;
        self.high_water = ev.young.top;
        self.old = None;
        self.old_top = 0;
        self.release_fragment_list();
        self.open_chunk = None;
        self.fragment_words = 0;
        self.major_count += 1;
        self.minor_since_major = 0;
        (GcKind::Major, ev.words_copied, 0, freed)
    }

    /// Step 6: the fragments are released; the list itself and the message queue give back
    /// capacity a burst left behind (ERTS frees its fragment list and queue cells too), so a
    /// process that once took a flood of messages does not keep their bookkeeping for good.
    fn release_fragment_list(&mut self) {
        // A small list keeps its capacity: a process receiving a steady stream of messages
        // would otherwise regrow it from nothing after every collection.
        if self.fragments.capacity() > FRAGMENT_LIST_KEPT {
            self.fragments = Vec::new();
        } else {
            self.fragments.clear();
        }
        let queued = self.messages.len();
        if self.messages.capacity() > 64 && queued < self.messages.capacity() / 4 {
            self.messages.shrink_to(queued * 2);
        }
    }

    /// Step 7: the young heap size the live data calls for.
    ///
    /// After a minor collection (erl_gc.c `minor_collection`): shrink heaps above 3000 words
    /// that are less than a quarter full to three times the live data (not below an eighth of
    /// the old generation); grow a heap more than three quarters full one step past the live
    /// data. After a major one (`adjust_after_fullsweep`): grow one step when more than
    /// three quarters full; shrink to twice the live data when less than a quarter full.
    fn resize_young(&mut self, kind: GcKind) {
        let Some(young) = &self.young else { return };
        let size = young.words();
        let live = self.young_top;
        let min = next_heap_size(self.opts.min_heap_size);
        let wanted = match kind {
            _ if 4 * live > 3 * size => step_above(live.max(size)),
            GcKind::Minor => {
                let old_words = self.old.as_ref().map_or(0, Block::words);
                if size > 3000 && 4 * live < size && (size > 8000 || size > old_words) {
                    let mut wanted = 3 * live;
                    if wanted * 9 < old_words {
                        wanted = wanted.max(old_words / 8);
                    }
                    next_heap_size(wanted).max(min)
                } else {
                    size
                }
            }
            GcKind::Major if 4 * live < size && size > min => next_heap_size(2 * live).max(min),
            GcKind::Major => size,
        };
        self.young_size = wanted;
        if wanted != size {
            self.move_young(wanted);
        }
    }

    /// Moves the young data into a block of `words` words, fixing every pointer into it
    /// (erl_gc.c `offset_heap`). Only young objects, roots and young handles can point into
    /// the young block (heap Invariant 1), and there are no fragments after a collection.
    fn move_young(&mut self, words: usize) {
        let old_block = self.young.take().expect("young block present after collection");
        let live = self.young_top;
        assert!(live <= words, "moving the young heap into a block too small for it");
        let new_block = Block::new(words);
        let from = old_block.addr();
        let to = new_block.addr();
        let range = from..from + live * 8;
        let fix = |w: u64| -> u64 {
            if is_pointer(w) && range.contains(&pointer_address(w)) {
                (w as i64).wrapping_add(to as i64 - from as i64) as u64
            } else {
                w
            }
        };
        // SAFETY: both blocks hold at least `live` words, and the young area is gap-free
        // (heap Invariant 4), so the walk visits object starts only.
        unsafe {
            std::ptr::copy_nonoverlapping(old_block.start(), new_block.start(), live);
            let mut at = 0;
            while at < live {
                at += for_each_field(new_block.start().add(at), |f| *f = fix(*f));
            }
        }
        self.for_each_root_mut(|slot| *slot = fix(*slot));
        for addr in &mut self.mso_young {
            if range.contains(addr) {
                *addr = *addr - from + to;
            }
        }
        self.young = Some(new_block);
    }

    /// Adjusts the vheap budget to the binaries that survived (erl_gc.c `next_vheap_size`):
    /// double past the live binary words when exceeded, decay by a quarter when under half
    /// used, never below `min_bin_vheap_size`.
    fn adjust_vheap(&mut self) {
        let live = self.vheap_young;
        let limit = self.vheap_limit;
        let next = if live > limit {
            next_heap_size(2 * live)
        } else if live < limit / 2 {
            limit / 4 * 3
        } else {
            limit
        };
        self.vheap_limit = next.max(self.opts.min_bin_vheap_size);
    }
}
