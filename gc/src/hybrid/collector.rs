//! The stop-the-world generational collection of the message area.
//!
//! # Protocol
//! 1. **Check the heaps.** The caller hands over `&mut` of every heap registered with the
//!    area (checked against the registry under the area's lock, held to the end): no brand
//!    that can see an area object is open, and none can open (area Invariants 2 and 3). An
//!    incremental cycle under way (see `incremental`) is ended first.
//! 2. **Choose.** A requested major collection, or an old generation at its
//!    `next_major_at`, makes this a major collection: from-space is the nursery and the old
//!    generation. Otherwise it is a minor one: from-space is the nursery; old objects stay
//!    (none points into the nursery, area Invariant 4).
//! 3. **Allocate to-space**: one block of as many words as from-space holds, so the copy
//!    never runs out of room; after the collection it becomes an old-generation chunk.
//! 4. **Evacuate the roots**, rewriting each in place: the in-flight messages; and for each
//!    heap, its root table and message queue, its remembered words (link Invariant 1), and
//!    every word allocated since its last collection (link Invariant 2), walked object by
//!    object. A word pointing anywhere but into from-space is left alone: private objects
//!    never move here.
//! 5. **Scan** to-space, Cheney style, with the evacuation core of the other collectors.
//!    Area objects point only into the area (area Invariant 1), so the scan never leaves it.
//! 6. **Sweep the binary handles** of from-space: a forwarded one lives on in the old
//!    generation; any other one drops its reference.
//! 7. **Release from-space**, keep to-space as an old chunk, and after a major collection
//!    set the next one at `major_growth` times the live words.
//!
//! From step 3 to the end the area and the heaps' area words are torn (forwarding marks in
//! from-space): the whole collection runs under an abort-on-unwind guard (see `unwind`).

use std::time::{Duration, Instant};

use super::area::{AreaError, AreaInner, AreaState, MessageArea};
use crate::area::Area;
use crate::binary::release_handles;
use crate::block::Block;
use crate::collect::{Collect, OwnRanges};
use crate::evacuate::{evacuate_root, scan_region, Region, Route, Tracer};
use crate::event::{GcEvent, GcKind, GcReason};
use crate::heap::Heap;
use crate::layout::*;
use crate::object::for_each_field;
use crate::unwind::AbortOnUnwind;

/// The area's collection as a [`Tracer`]: from-space objects to to-space (region 0), every
/// other address (old area objects in a minor collection, private objects) stays.
struct AreaTracer {
    to: Region,
    from: OwnRanges,
}

impl Tracer for AreaTracer {
    const PARALLEL: bool = false;

    #[inline(always)]
    fn route(&self, address: usize) -> Route {
        if self.from.contains(address) {
            Route::To(0)
        } else {
            Route::Stay
        }
    }

    #[inline(always)]
    fn region(&mut self, _: usize) -> &mut Region {
        &mut self.to
    }

    fn refill(&mut self, _: usize, _: usize) -> *mut u64 {
        panic!("message-area to-space overflow: it holds all of from-space")
    }

    /// Nothing to count: to-space's top says what was copied.
    #[inline(always)]
    fn copied(&mut self, _: usize, _: usize) {}
}

impl MessageArea {
    /// Collects the message area (see the module's protocol) with `heaps`, which must be
    /// every heap registered with it; returns the collection's event (kind `AreaMinor` or
    /// `AreaMajor`), also sent to the area's event sink.
    ///
    /// `Collect::Major` asks for a major collection; `Minor` and `Auto` run a minor one
    /// unless the old generation is due for a major one.
    ///
    /// # Errors
    /// A heap not registered with this area, or a registered heap left out (then nothing
    /// ran).
    pub fn collect(&self, heaps: &mut [&mut Heap], request: Collect) -> Result<GcEvent, AreaError> {
        let start = Instant::now();
        let inner = &*self.inner;
        // Area Invariant 6: no build is writing into a nursery chunk meanwhile.
        let mut cursors = inner.lock_cursors();
        let mut state = inner.lock();
        // Step 1.
        super::incremental::check_heaps(inner, &state, heaps)?;
        // An incremental cycle under way ends first, in one unbounded increment (its own
        // event), so that this collection starts from a nursery and an old generation.
        if state.cycle.is_some() {
            let ended = super::incremental::increment(
                inner,
                &mut state,
                &mut cursors,
                heaps,
                Collect::Auto,
                usize::MAX,
                Instant::now(),
            );
            inner.record(&ended.event);
        }
        let _torn = AbortOnUnwind::new("a message-area collection");
        let verify = inner.verify.load(std::sync::atomic::Ordering::Relaxed);
        if verify {
            check_all(inner, &state, heaps, "before");
        }
        let words_before = (state.nursery_words + state.old_words) as u64;

        // Step 2.
        let (kind, reason) = if request == Collect::Major {
            (GcKind::AreaMajor, GcReason::Requested)
        } else if state.old_words >= state.next_major_at {
            (GcKind::AreaMajor, GcReason::OldFull)
        } else if request == Collect::Minor {
            (GcKind::AreaMinor, GcReason::Requested)
        } else if state.vheap_young > inner.opts.vheap_words {
            (GcKind::AreaMinor, GcReason::VheapFull)
        } else {
            (GcKind::AreaMinor, GcReason::HeapFull)
        };
        let major = kind == GcKind::AreaMajor;
        let from_nursery = std::mem::take(&mut state.nursery);
        let from_old = if major { std::mem::take(&mut state.old) } else { Vec::new() };
        let from_words: usize = from_nursery.iter().chain(&from_old).map(|a| a.used).sum();

        // Step 3.
        let to = Block::new(from_words);
        let mut tracer = AreaTracer {
            to: Region::new(to.start(), from_words),
            from: OwnRanges::of(
                from_nursery
                    .iter()
                    .chain(&from_old)
                    .map(|a| (crate::area::AreaKind::Young, a.block.start() as *const u64, a.used)),
            ),
        };

        // Step 4.
        let mut in_flight = inner.lock_in_flight();
        for slot in in_flight.iter_mut().flat_map(|t| t.live_slots_mut()) {
            // SAFETY: in-flight words are terms of the area (area Invariant 2).
            unsafe { evacuate_root(&mut tracer, slot) };
        }
        drop(in_flight);
        for heap in heaps.iter_mut() {
            heap.for_each_area_root(|slot| {
                // SAFETY: every word handed out is a term of the heap or of its area (link
                // Invariants 1 and 2), readable and writable: the heap is ours (`&mut`).
                unsafe { evacuate_root(&mut tracer, slot) }
            });
        }

        // Step 5.
        // SAFETY: to-space holds copies this tracer made above its scan pointer.
        unsafe { scan_region(&mut tracer, 0) };
        let copied = (tracer.to.top as usize - to.start() as usize) / 8;

        // Step 6.
        let mut survivors = Vec::new();
        let mut dead = Vec::new();
        let from_mso = std::mem::take(&mut state.mso_young).into_iter().chain(if major {
            std::mem::take(&mut state.mso_old)
        } else {
            Vec::new()
        });
        for addr in from_mso {
            // SAFETY: a listed handle is in from-space (area Invariant 5), not yet released;
            // its header is intact or a forwarding mark of this collection.
            let first = unsafe { *address_ptr(addr) };
            if first & PRIMARY_MASK == TAG_BOXED {
                survivors.push(pointer_address(first));
            } else {
                dead.push(addr);
            }
        }
        let binaries_freed = release_handles(dead.into_iter());
        state.mso_old.append(&mut survivors);
        state.vheap_young = 0;

        // Step 7.
        drop(from_nursery);
        drop(from_old);
        for cursor in cursors.iter_mut() {
            **cursor = Default::default();
        }
        state.nursery_words = 0;
        if major {
            state.old_words = 0;
        }
        if copied > 0 {
            state.old.push(Area { block: to, used: copied });
            state.old_words += copied;
        }
        if major {
            state.major_count += 1;
            state.next_major_at =
                inner.opts.min_old_words.max((state.old_words as f64 * inner.opts.major_growth) as usize);
        } else {
            state.minor_count += 1;
        }
        if verify {
            check_all(inner, &state, heaps, "after");
        }
        let event =
            area_event(kind, reason, start, words_before, state.old_words as u64, copied, binaries_freed);
        drop(state);
        drop(cursors);
        inner.record(&event);
        Ok(event)
    }
}

/// The event of a collection or an increment of the message area: every process stopped,
/// no pid, no scheduler; what it copied was promoted (into the old generation or to-space).
pub(crate) fn area_event(
    kind: GcKind,
    reason: GcReason,
    start: Instant,
    words_before: u64,
    words_after: u64,
    copied: usize,
    binaries_freed: u64,
) -> GcEvent {
    GcEvent {
        kind,
        reason,
        pid: None,
        scheduler: None,
        start,
        duration: start.elapsed(),
        time_to_safepoint: Duration::ZERO,
        words_before,
        words_after,
        words_copied: copied as u64,
        words_promoted: copied as u64,
        binaries_freed,
        max_worker_words: copied as u64,
    }
}

/// Verifies the area and every heap against it; panics naming the problem.
pub(crate) fn check_all(inner: &AreaInner, state: &AreaState, heaps: &mut [&mut Heap], when: &str) {
    let objects = match inner.verify_locked(state) {
        Ok(objects) => objects,
        Err(e) => panic!("message-area verification failed {when} collection: {e}"),
    };
    for heap in heaps.iter() {
        if let Err(e) = heap.verify_with_area(Some(&objects)) {
            panic!("heap verification failed {when} a message-area collection: {e}");
        }
    }
    if let Some(Err(e)) = state.cycle.as_ref().map(|cycle| cycle.check_heaps(heaps)) {
        panic!("heap verification failed {when} a message-area increment: {e}");
    }
}

impl Heap {
    /// About how many words [`Heap::for_each_area_root`] visits, without visiting them.
    pub(crate) fn area_words_estimate(&self) -> usize {
        let link = self.area.as_ref().map_or(0, |link| link.young.len() + link.old.len());
        let young = self.young_top.saturating_sub(self.high_water);
        self.roots.live_count() + self.messages.len() + link + young + self.fragment_words
    }

    /// Calls `f` on every word of this heap that may point into its message area (protocol
    /// step 4): root slots and queued messages, remembered words, and every term word
    /// allocated since the last collection.
    pub(crate) fn for_each_area_root(&mut self, mut f: impl FnMut(&mut u64)) {
        self.for_each_root_mut(&mut f);
        let link = self.area.as_ref().expect("a heap of a message area");
        for &slot in link.young.iter().chain(&link.old) {
            // SAFETY: a remembered word is a word of this heap's young block or old
            // generation (link Invariant 1), which the heap owns and `&mut self` lends us.
            f(unsafe { &mut *address_ptr(slot) });
        }
        let young = self.young.as_ref().map(|b| (b.start(), self.high_water, self.young_top));
        let fragments = self.fragments.iter().map(|a| (a.block.start(), 0, a.used));
        for (base, from, to) in young.into_iter().chain(fragments) {
            let mut at = from;
            while at < to {
                // SAFETY: `[from, to)` is a gap-free run of whole objects (heap Invariant 4;
                // the high-water mark is an object boundary, the top of a collection's copy).
                at += unsafe { for_each_field(base.add(at), |field| f(&mut *field)) };
            }
        }
    }
}
