//! Minor and major (fullsweep) collection of a per-process heap, after erl_gc.c.
//!
//! # Protocol
//! 1. **Choose** (erl_gc.c `garbage_collect`, `minor_collection`). A requested major
//!    collection or `fullsweep_after` minor collections since the last major one make this a
//!    major collection. Otherwise a minor one runs if it can: there is mature data and the
//!    old generation has room for it (the first minor collection with mature data creates
//!    the old generation, one growth step above the young data), and the off-heap binaries
//!    the old generation references are within their budget (`bin_old_vheap_sz`). If it
//!    cannot, the collection is a major one; a heap with no mature data and no old
//!    generation (a young process's first collection) therefore collects major, as the
//!    BEAM's does.
//! 2. **Check `max_heap_size`** before anything is copied, counting what the collection
//!    is about to allocate (`minor_collection` / `major_collection`): the young data, the
//!    unused young and old space, the old generation (to be created or existing) and the
//!    to-space. Above the limit the collection does not run; the owner is expected to be
//!    killed.
//! 3. **Allocate to-space** of `next_heap_size(young data)` words for a minor collection and
//!    `next_heap_size(young data + old data)` for a major one, one step more when the last
//!    major collection left the heap over 75% full (`F_HEAP_GROW`). Young data includes the
//!    fragments, so a heap whose allocations overflowed grows here, with no extra copy.
//! 4. **Evacuate the roots.** Each root slot is rewritten to the copy of its object. A minor
//!    collection leaves old objects in place (they never point at young ones, heap
//!    Invariant 1), promotes mature objects (young block below the high-water mark) to the
//!    old generation and copies the rest to to-space. A major collection copies everything.
//! 5. **Scan.** Cheney: to-space (and the promoted part of the old generation) is scanned
//!    left to right; each field still pointing at from-space is evacuated. When both scan
//!    pointers reach their tops, every reachable object has been copied exactly once: a
//!    copied object's header (or a cons cell's car) holds a forwarding pointer.
//! 6. **Sweep the MSO lists** (`sweep_off_heap`). A handle whose header was forwarded is
//!    alive at its new address (listed old or young by where it now is); any other handle
//!    is garbage, and its reference to the off-heap binary is dropped — the last drop frees
//!    the bytes. The binary budgets adapt to what survived (`next_vheap_size`).
//! 7. **Release from-space** (old young block, fragments; after a major one, the old
//!    generation too) and set the high-water mark to the top: all survivors are mature.
//! 8. **Resize.** After a minor collection a large, mostly empty young heap shrinks; after a
//!    major one a heap under 25% full shrinks and one over 75% full is marked to grow at the
//!    next major collection (`adjust_after_fullsweep`), never at once with a second copy.
//!
//! The reductions charged are the BEAM's `gc_cost`: a tenth of the words moved, plus a
//! hundredth of the words a resize moved.
//!
//! From step 3 to the end the heap is torn (forwarding marks, freed blocks): the whole
//! collection runs under an abort-on-unwind guard (see `unwind`), and block allocation never
//! panics (see `block`).

use std::time::{Duration, Instant};

use crate::binary;
use crate::binary::release_handles;
use crate::block::Block;
use crate::evacuate::{evacuate_root, scan_region, Region, Route, Tracer};
use crate::event::{GcEvent, GcKind, GcReason};
use crate::heap::Heap;
use crate::layout::*;
use crate::object::{for_each_field, handle_binary};
use crate::sizes::{next_heap_size, next_vheap_size, step_above, H_MIN_SIZE};
use crate::unwind::AbortOnUnwind;

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
    /// Reductions to charge the process: the BEAM's `gc_cost` (erl_gc.c), a tenth of the
    /// words the collection moved plus a hundredth of the words a resize moved, at least 1;
    /// so a process that collects often yields sooner.
    pub reductions: u64,
}

/// A collection that would take the heap past `max_heap_size`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeapError {
    /// The heap during the collection (everything it holds plus the to-space it would
    /// allocate, as erl_gc.c counts it) would exceed the limit. The collection did not run
    /// and the heap is intact; the owner is expected to be killed, as the BEAM kills the
    /// process.
    MaxHeapSize {
        /// The limit, in words.
        limit: usize,
        /// The heap size the collection would have reached, in words.
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

/// Region of the young to-space.
const YOUNG: usize = 0;
/// Region of the old generation, where a minor collection promotes mature objects.
const OLD: usize = 1;

/// A minor collection as a [`Tracer`]: old objects stay, mature young objects go to the old
/// generation (region [`OLD`]), every other young object to to-space (region [`YOUNG`]).
/// With `HYBRID` (a heap with a message area) an address in none of the heap's own areas is
/// the area's: it stays, and the word holding it in a copy is recorded (`recorded`).
struct MinorTracer<const HYBRID: bool> {
    young: Region,
    old: Region,
    /// The old generation before this collection: `[old_start, old_start + old_bytes)`.
    old_start: usize,
    old_bytes: usize,
    /// The mature part of the young block: `[young_start, young_start + mature_bytes)`.
    young_start: usize,
    mature_bytes: usize,
    /// `HYBRID`: the used part of the young block, `[young_start, young_start + young_bytes)`,
    young_bytes: usize,
    /// and the fragments, sorted by address.
    fragments: OwnRanges,
    /// `HYBRID`: addresses of the words of copies that point into the message area.
    recorded: Vec<usize>,
}

impl<const HYBRID: bool> Tracer for MinorTracer<HYBRID> {
    const PARALLEL: bool = false;

    #[inline(always)]
    fn route(&self, address: usize) -> Route {
        if address.wrapping_sub(self.old_start) < self.old_bytes {
            Route::Stay
        } else if address.wrapping_sub(self.young_start) < self.mature_bytes {
            Route::To(OLD)
        } else if !HYBRID
            || address.wrapping_sub(self.young_start) < self.young_bytes
            || self.fragments.contains(address)
        {
            Route::To(YOUNG)
        } else {
            Route::External
        }
    }

    #[inline(always)]
    fn region(&mut self, index: usize) -> &mut Region {
        if index == OLD {
            &mut self.old
        } else {
            &mut self.young
        }
    }

    fn refill(&mut self, _: usize, _: usize) -> *mut u64 {
        to_space_overflow()
    }

    /// Nothing to count: the regions' tops say what was copied (no copy is ever given back).
    #[inline(always)]
    fn copied(&mut self, _: usize, _: usize) {}

    fn external(&mut self, slot: *mut u64) {
        self.recorded.push(exposed_address(slot));
    }
}

/// A major collection as a [`Tracer`]: everything reachable goes to to-space; with `HYBRID`,
/// an address outside the heap's own areas (`own`) is the message area's, as for
/// [`MinorTracer`].
struct MajorTracer<const HYBRID: bool> {
    to: Region,
    own: OwnRanges,
    recorded: Vec<usize>,
}

impl<const HYBRID: bool> Tracer for MajorTracer<HYBRID> {
    const PARALLEL: bool = false;

    #[inline(always)]
    fn route(&self, address: usize) -> Route {
        if !HYBRID || self.own.contains(address) {
            Route::To(YOUNG)
        } else {
            Route::External
        }
    }

    #[inline(always)]
    fn region(&mut self, _: usize) -> &mut Region {
        &mut self.to
    }

    fn refill(&mut self, _: usize, _: usize) -> *mut u64 {
        to_space_overflow()
    }

    /// Nothing to count: to-space's top says what was copied.
    #[inline(always)]
    fn copied(&mut self, _: usize, _: usize) {}

    fn external(&mut self, slot: *mut u64) {
        self.recorded.push(exposed_address(slot));
    }
}

/// Address ranges `[start, end)` sorted by start, none overlapping: the memory of a heap.
#[derive(Default)]
pub(crate) struct OwnRanges(Vec<(usize, usize)>);

impl OwnRanges {
    /// The ranges of `areas` (kind, start, used words), empty ones left out.
    pub(crate) fn of(areas: impl Iterator<Item = (crate::area::AreaKind, *const u64, usize)>) -> OwnRanges {
        let mut ranges: Vec<_> = areas
            .filter(|a| a.2 > 0)
            .map(|(_, start, used)| (start as usize, start as usize + used * 8))
            .collect();
        ranges.sort_unstable();
        OwnRanges(ranges)
    }

    /// Whether `address` lies in one of the ranges.
    #[inline]
    pub(crate) fn contains(&self, address: usize) -> bool {
        let i = self.0.partition_point(|&(start, _)| start <= address);
        i > 0 && address < self.0[i - 1].1
    }
}

/// Step 3 sized to-space for all of from-space: running out of it is a bug in that sizing
/// (the collection's abort-on-unwind guard ends the program).
#[cold]
fn to_space_overflow() -> ! {
    panic!("to-space overflow: the size estimate is wrong")
}

impl Heap {
    /// Runs a collection now. Must be called at a point where no term of this heap is alive
    /// (guaranteed by `&mut self`, heap Invariant 2).
    ///
    /// Returns the event and the reductions to charge, or [`HeapError::MaxHeapSize`] when the
    /// collection would take the heap past `max_heap_size` (then nothing ran).
    pub fn collect(&mut self, request: Collect) -> Result<GcOutcome, HeapError> {
        let start = Instant::now();
        self.roots.drain_released();
        let _torn = AbortOnUnwind::new("a per-process collection");
        self.check_verify("before collection");
        let young_data = self.young_top + self.fragment_words;
        let words_before = (young_data + self.old_top) as u64;

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
        if !major {
            // Step 2, for the minor collection this would be (erl_gc.c counts it before
            // knowing whether the minor collection can run).
            let old_words = match &self.old {
                Some(old) => old.words(),
                None if self.high_water > 0 => step_above(young_data),
                None => 0,
            };
            let size = young_data + self.young_free() + old_words + self.to_space_words(young_data);
            self.check_max_heap_size(size)?;
            if let Err(why) = self.minor_possible() {
                major = true;
                reason = why.unwrap_or(reason);
            }
        }
        if major {
            // Step 2 for a major collection.
            let old_free = self.old.as_ref().map_or(0, |o| o.words() - self.old_top);
            let size = young_data
                + self.old_top
                + old_free
                + self.young_free()
                + self.major_to_space_words(young_data + self.old_top);
            self.check_max_heap_size(size)?;
        }

        let hybrid = self.area.is_some();
        let (kind, swept, resized) = match (major, hybrid) {
            (true, false) => self.major::<false>(),
            (true, true) => self.major::<true>(),
            (false, false) => self.minor::<false>(),
            (false, true) => self.minor::<true>(),
        };
        self.reset_bump();
        self.sweep_vheaps(kind, swept.vheap_before);

        let words_after = self.used_words() as u64;
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
            words_copied: swept.words_copied,
            words_promoted: swept.words_promoted,
            binaries_freed: swept.binaries_freed,
            max_worker_words: swept.words_copied,
        };
        self.check_verify("after collection");
        if let Some(sink) = &self.sink {
            sink.record(&event);
        }
        Ok(GcOutcome { reductions: gc_cost(swept.words_copied, resized), event })
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

    fn check_max_heap_size(&self, size: usize) -> Result<(), HeapError> {
        match self.opts.max_heap_size {
            Some(limit) if size > limit => Err(HeapError::MaxHeapSize { limit, size }),
            _ => Ok(()),
        }
    }

    /// Capacity of the young block (planned, before the first allocation).
    fn young_words(&self) -> usize {
        self.young.as_ref().map_or(self.young_size, Block::words)
    }

    /// Unused words of the young block.
    fn young_free(&self) -> usize {
        self.young_words().saturating_sub(self.young_top)
    }

    /// Step 3: the to-space of a minor collection of `young_data` words.
    fn to_space_words(&self, young_data: usize) -> usize {
        next_heap_size(young_data).max(next_heap_size(self.opts.min_heap_size))
    }

    /// Step 3: the to-space of a major collection of `in_use` words (`F_HEAP_GROW`: one
    /// step more when the size is unchanged and the last major collection asked to grow).
    fn major_to_space_words(&self, in_use: usize) -> usize {
        let size = self.to_space_words(in_use);
        if size == self.young_words() && self.heap_grow {
            step_above(size)
        } else {
            size
        }
    }

    /// Step 1: whether a minor collection can run now; if not, the reason the major
    /// collection that runs instead reports (`None`: the trigger's own reason).
    fn minor_possible(&self) -> Result<(), Option<GcReason>> {
        if self.vheap_old >= self.old_vheap_limit {
            return Err(Some(GcReason::OldVheapFull));
        }
        match &self.old {
            // Nothing survived a collection yet: with no old generation either, erl_gc.c
            // goes straight to a fullsweep (there is nothing to promote).
            None if self.high_water == 0 => Err(None),
            Some(old) if self.high_water > old.words() - self.old_top => Err(Some(GcReason::OldFull)),
            _ => Ok(()),
        }
    }

    /// Steps 3-8 of a minor collection. Returns the kind, the sweep's counts and the words a
    /// resize moved.
    fn minor<const HYBRID: bool>(&mut self) -> (GcKind, Swept, usize) {
        let young_data = self.young_top + self.fragment_words;
        let current = self.young_words();
        if self.old.is_none() {
            // erl_gc.c sizes a new old generation one step above the young data ("seems to
            // reduce the number of fullsweeps"): room for this collection's survivors, which
            // the next minor collection promotes.
            self.old = Some(Block::new_filled_slowly(step_above(young_data)));
            self.old_top = 0;
        }
        // Step 3.
        let to_words = self.to_space_words(young_data);
        let to = Block::new(to_words);
        let (young_start, mature_bytes) = match &self.young {
            Some(b) => (b.addr(), self.high_water * 8),
            None => (0, 0),
        };
        let (old_base, old_words) = self.old.as_ref().map(|o| (o.start(), o.words())).expect("created above");
        let old_before = self.old_top;
        let mut tracer = MinorTracer::<HYBRID> {
            young: Region::new(to.start(), to_words),
            old: Region::after(old_base, old_before, old_words),
            old_start: old_base as usize,
            old_bytes: old_before * 8,
            young_start,
            mature_bytes,
            young_bytes: self.young_top * 8,
            fragments: if HYBRID { OwnRanges::of(self.fragment_areas()) } else { OwnRanges::default() },
            recorded: Vec::new(),
        };
        // Step 4.
        // SAFETY: root slots and queued messages hold terms of this heap (root Invariant 1).
        self.for_each_root_mut(|slot| unsafe { evacuate_root(&mut tracer, slot) });
        // Step 5: until neither to-space nor the promoted data has anything left to scan (on
        // a copy of the tracer nothing else can see, so that it stays in registers).
        let mut scanning = tracer;
        // SAFETY: both regions hold copies this tracer made above their scan pointers.
        while unsafe { scan_region(&mut scanning, YOUNG) | scan_region(&mut scanning, OLD) } {}
        let mut tracer = scanning;
        let young_top = tracer.young.top as usize;
        let old_top = tracer.old.top as usize;
        if HYBRID {
            // The remembered set: old slots stay (old objects did not move), those of the
            // promoted copies join them; the young ones are exactly this scan's.
            let link = self.area.as_mut().expect("a hybrid collection has an area");
            link.young.clear();
            for slot in tracer.recorded.drain(..) {
                if (old_base as usize..old_top).contains(&slot) {
                    link.old.push(slot);
                } else {
                    link.young.push(slot);
                }
            }
        }
        let words_promoted = ((old_top - old_base as usize) / 8 - old_before) as u64;
        let words_copied = ((young_top - to.addr()) / 8) as u64 + words_promoted;

        // Step 6.
        let vheap_before = self.vheap_young;
        let mut freed = 0;
        let mut young_handles = Vec::with_capacity(self.mso_young.len());
        let mut vheap_young = 0;
        let old_range = old_base as usize..old_top;
        for addr in std::mem::take(&mut self.mso_young) {
            // SAFETY: each entry is a handle in from-space, forwarded or dead; from-space is
            // not released yet (step 7 comes after).
            unsafe {
                let handle = address_ptr(addr);
                let first = *handle;
                let bin = handle_binary(handle);
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

        // Step 7.
        self.young_top = (young_top - to.addr()) / 8;
        self.high_water = self.young_top;
        self.old_top = (old_top - self.old.as_ref().map_or(0, Block::addr)) / 8;
        self.young = Some(to);
        self.release_fragment_list();
        self.fragment_words = 0;
        self.minor_count += 1;
        self.minor_since_major += 1;

        // Step 8. A BEAM process collects the moment its young heap is full; a heaplab
        // process only at its next await point, so the allocations of one brand may have
        // overflowed into fragments and to-space had to be sized for them. That burst is the
        // allocation erl_gc.c calls the collection's `need`: once satisfied it does not make
        // the heap bigger. Survivors that fit the heap's own size (at most 3/4 full, or it
        // would grow next time anyway) go back into a block of that size, a resize that
        // `gc_cost` charges as erl_gc.c charges `shrink_new_heap`.
        let size = to_words;
        let live = self.young_top;
        let old_words = self.old.as_ref().map_or(0, Block::words);
        let mut resized = 0;
        if live >= size {
            // Full to the last word: erl_gc.c grows the heap for the allocation that asked
            // for the collection (`need`); heaplab's next allocation needs a word at least.
            self.move_young(step_above(size));
            resized = live;
        } else if size > current && 4 * live <= 3 * current {
            self.move_young(current);
            resized = live;
        } else if size > 3000 && 4 * live < size && (size > 8000 || size > old_words) {
            // erl_gc.c `minor_collection`: shrink a young heap above 3000 words that is less
            // than a quarter full (and large next to the old generation) to three times its
            // live data, not below an eighth of the old generation nor the minimum heap size.
            let mut wanted = 3 * live;
            if wanted * 9 < old_words {
                wanted = wanted.max(old_words / 8);
            }
            let wanted = self.to_space_words(wanted);
            if wanted < size {
                self.move_young(wanted);
                resized = live;
            }
        }
        self.young_size = self.young_words();
        let swept = Swept { words_copied, words_promoted, binaries_freed: freed, vheap_before };
        (GcKind::Minor, swept, resized)
    }

    /// Steps 3-8 of a major collection.
    fn major<const HYBRID: bool>(&mut self) -> (GcKind, Swept, usize) {
        // Step 3: room for everything in use, with the growth a previous major collection
        // asked for; untouched pages of a large (mapped) block cost no memory, and step 8
        // gives back what the live data does not need.
        let in_use = self.young_top + self.old_top + self.fragment_words;
        let to_words = self.major_to_space_words(in_use);
        self.heap_grow = false;
        let to = Block::new(to_words);
        let mut tracer = MajorTracer::<HYBRID> {
            to: Region::new(to.start(), to_words),
            own: if HYBRID { OwnRanges::of(self.areas()) } else { OwnRanges::default() },
            recorded: Vec::new(),
        };
        // Step 4.
        // SAFETY: root slots and queued messages hold terms of this heap (root Invariant 1).
        self.for_each_root_mut(|slot| unsafe { evacuate_root(&mut tracer, slot) });
        // Step 5, on a copy of the tracer that nothing else can see, so that its regions
        // and counters stay in registers through the scan loop.
        let mut scanning = tracer;
        // SAFETY: to-space holds copies this tracer made above its scan pointer.
        unsafe { scan_region(&mut scanning, YOUNG) };
        let tracer = scanning;
        if HYBRID {
            // Every copy is in to-space, and every recorded slot with it.
            let link = self.area.as_mut().expect("a hybrid collection has an area");
            link.old.clear();
            link.young = tracer.recorded;
        }

        // Step 6: every handle, young or old, is forwarded into to-space or dead.
        let vheap_before = self.vheap_young;
        let mut survivors = Vec::with_capacity(self.mso_young.len() + self.mso_old.len());
        let mut dead = Vec::new();
        let mut vheap = 0;
        for addr in self.mso_young.drain(..).chain(self.mso_old.drain(..)) {
            // SAFETY: each entry is a handle in from-space (not yet released).
            unsafe {
                let first = *address_ptr(addr);
                if first & PRIMARY_MASK == TAG_BOXED {
                    let new = pointer_address(first);
                    let bin = handle_binary(address_ptr(new));
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

        // Step 7.
        self.young_top = (tracer.to.top as usize - to.addr()) / 8;
        self.high_water = self.young_top;
        self.young = Some(to);
        self.old = None;
        self.old_top = 0;
        self.release_fragment_list();
        self.fragment_words = 0;
        self.major_count += 1;
        self.minor_since_major = 0;

        // Step 8 (erl_gc.c `adjust_after_fullsweep`): over 75% full, grow at the next major
        // collection; under 25% full (and above the smallest heap), shrink to twice the live
        // data, not below the minimum heap size.
        let size = to_words;
        let live = self.young_top;
        let mut resized = 0;
        if live >= size {
            // Full to the last word: grow now, for the allocation to come (`need`).
            self.move_young(step_above(size));
            resized = live;
        } else if 3 * size < 4 * live {
            self.heap_grow = true;
        } else if 4 * live < size && size > H_MIN_SIZE {
            let wanted = self.to_space_words(2 * live);
            if wanted < size {
                self.move_young(wanted);
                resized = live;
            }
        }
        self.young_size = self.young_words();
        let swept = Swept {
            words_copied: self.young_top as u64,
            words_promoted: 0,
            binaries_freed: freed,
            vheap_before,
        };
        (GcKind::Major, swept, resized)
    }

    /// Step 7: the fragments are released; the list itself and the message queue give back
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

    /// Step 8: moves the young data into a new block of `words` words, fixing every pointer
    /// into it (erl_gc.c `shrink_new_heap` / `offset_heap`). Only young objects, roots and
    /// young handles can point into the young block (heap Invariant 1), and there are no
    /// fragments after a collection.
    fn move_young(&mut self, words: usize) {
        let live = self.young_top;
        assert!(live <= words, "moving the young heap into a block too small for it");
        let new_block = Block::new(words);
        let old_block = self.young.take().expect("young block present after collection");
        let from = old_block.addr();
        let to = new_block.addr();
        let range = from..from + live * 8;
        let fix = |w: u64| -> u64 {
            if is_pointer(w) && range.contains(&pointer_address(w)) {
                tagged(new_block.start().wrapping_byte_add(pointer_address(w) - from), w & PRIMARY_MASK)
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
                *addr = exposed_address(new_block.start().wrapping_byte_add(*addr - from));
            }
        }
        if let Some(link) = &mut self.area {
            // The remembered young slots are words of the young block: they move with it.
            for slot in &mut link.young {
                *slot = exposed_address(new_block.start().wrapping_byte_add(*slot - from));
            }
        }
        debug_assert_eq!(to, new_block.addr());
        self.young = Some(new_block);
    }

    /// Step 6, the budgets (erl_gc.c `sweep_off_heap`): the young budget follows the binaries
    /// that survived in the young generation; after a major collection the old generation's
    /// budget follows the young binary data there was before it (`MSO(p).overhead`).
    fn sweep_vheaps(&mut self, kind: GcKind, vheap_before: usize) {
        let min = self.opts.min_bin_vheap_size;
        if kind == GcKind::Major {
            self.old_vheap_limit = next_vheap_size(self.vheap_old + vheap_before, self.old_vheap_limit, min);
        }
        self.vheap_limit = next_vheap_size(self.vheap_young, self.vheap_limit, min);
    }
}

/// What a collection's copy and sweep did.
struct Swept {
    words_copied: u64,
    words_promoted: u64,
    binaries_freed: u64,
    /// Off-heap words referenced from the young generation before the collection.
    vheap_before: usize,
}

/// The reductions a collection costs (erl_gc.c `gc_cost`): a tenth of the words it moved
/// plus a hundredth of the words a resize moved, at least one.
fn gc_cost(moved: u64, resize_moved: usize) -> u64 {
    (moved / 10 + resize_moved as u64 / 100).max(1)
}
