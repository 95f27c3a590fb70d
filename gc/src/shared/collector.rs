//! The parallel stop-the-world collector of the shared heap, on the evacuation core
//! (`evacuate`) every collector shares.
//!
//! Every stopped worker runs [`Collection::work`]: it claims batches of root sources
//! (process states, in-flight tables) and evacuates their words, then scans the copies until
//! every worker is idle. Each worker copies into its own PLAB (a private piece of an old
//! chunk) and scans it Cheney-style, from its scan pointer to its top; a PLAB that fills up
//! is retired and its unscanned words become a *grey range* that this worker scans later,
//! or another steals. A worker offers half of its grey ranges on its work-stealing deque when
//! some worker is idle (and retires a PLAB early to have one to offer), checked every
//! [`SHARE_EVERY`] scanned words. Forwarding marks go in with one compare-and-swap; a loser
//! gives its copy back. With one worker there is no race, and a plain store installs them.
//!
//! # Invariants
//! 1. The evacuation core's Invariant 1: only the first word of a from-space object is ever
//!    written during a collection, only to install its forwarding mark.
//! 2. A grey range holds whole copies, not yet scanned, and is scanned by exactly one worker
//!    (the one that retired it, or the one that stole it); it is offered to others only once
//!    its copies are written.
//! 3. When every worker is idle, every deque, grey stack and PLAB is scanned out: a worker
//!    only pushes while not idle, and goes idle only with nothing left.
//! 4. Minor collections treat old words as already evacuated (old never points young,
//!    module Invariant 2).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use crossbeam_deque::{Steal, Stealer, Worker};

use super::mutator::RootSource;
use super::space::OLD_CHUNK_WORDS;
use super::Inner;
use crate::area::Area;
use crate::binary::release_handles;
use crate::evacuate::{evacuate_root, scan_range, scan_region_for, Region, Route, Tracer};
use crate::event::{GcEvent, GcKind, GcReason};
use crate::layout::*;

/// Words a worker takes from the old generation at a time.
const PLAB_WORDS: usize = 4096;
/// Root sources a worker claims at a time.
const ROOT_BATCH: usize = 32;
/// Words a worker scans between two looks at whether others starve.
const SHARE_EVERY: usize = 4096;
/// A PLAB with at least this many unscanned words is worth retiring early to feed a
/// starving worker.
const SPLIT_AT: usize = 256;

/// A grey range: `[start, end)` addresses of copies not yet scanned.
type Grey = (usize, usize);

pub(crate) struct Collection {
    kind: GcKind,
    reason: GcReason,
    requested_at: Instant,
    stopped_at: Instant,
    words_before: usize,
    /// Sorted old chunk ranges of a minor collection (Invariant 4).
    old_ranges: Vec<(usize, usize)>,
    /// The nursery's address range: a minor collection's most common young address needs
    /// no search of `old_ranges`.
    nursery: (usize, usize),
    /// The old generation being evacuated by a major collection, freed at the end.
    from_old: Mutex<Option<(Vec<Area>, Vec<usize>)>>,
    sources: Vec<RootSource>,
    cursor: AtomicUsize,
    deques: Vec<Mutex<Option<Worker<Grey>>>>,
    stealers: Vec<Stealer<Grey>>,
    idle: AtomicUsize,
    copied: AtomicU64,
    /// Words copied by the busiest worker.
    max_worker: AtomicU64,
    /// Filler words the workers wrote over the unused tails of their retired PLABs.
    padding: AtomicUsize,
}

impl Collection {
    /// Sets up a collection with every worker stopped (safepoint Invariant 2); `None` when
    /// the stop was asked for a verification only.
    pub(crate) fn prepare(inner: &Inner, workers: usize, stopped_at: Instant) -> Option<Collection> {
        // Requests from here on are for the next stop.
        inner.requested.store(false, Ordering::Release);
        if !inner.collect_requested.swap(false, Ordering::AcqRel) {
            return None;
        }
        let (reason, requested_at) = inner
            .reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or((GcReason::Requested, stopped_at));
        let major_requested = inner.major_requested.swap(false, Ordering::AcqRel);
        if inner.verify.load(Ordering::Relaxed) {
            if let Err(e) = inner.verify_now() {
                panic!("shared heap verification failed before collection: {e}");
            }
        }
        let words_before = inner.spaces.used_words();
        let mut old = inner.spaces.lock_old();
        let (kind, reason) = if major_requested {
            (GcKind::Major, reason)
        } else if old.used >= old.next_major_at {
            (GcKind::Major, GcReason::OldFull)
        } else {
            (GcKind::Minor, reason)
        };
        let mut old_ranges = Vec::new();
        let mut from_old = None;
        // The kind is `Minor` or `Major` (the area kinds belong to the hybrid heap).
        if kind == GcKind::Minor {
            old_ranges =
                old.chunks.iter().map(|a| (a.block.addr(), a.block.addr() + a.block.words() * 8)).collect();
            old_ranges.sort_unstable();
        } else {
            from_old = Some((std::mem::take(&mut old.chunks), std::mem::take(&mut old.mso)));
            old.used = 0;
            old.padding = 0;
        }
        drop(old);
        let deques: Vec<Worker<Grey>> = (0..workers).map(|_| Worker::new_lifo()).collect();
        let stealers = deques.iter().map(Worker::stealer).collect();
        Some(Collection {
            kind,
            reason,
            requested_at,
            stopped_at,
            words_before,
            old_ranges,
            nursery: {
                let nursery = &inner.spaces.nursery;
                (nursery.addr(), nursery.addr() + nursery.words() * 8)
            },
            from_old: Mutex::new(from_old),
            sources: inner.mutators.sources(),
            cursor: AtomicUsize::new(0),
            deques: deques.into_iter().map(|d| Mutex::new(Some(d))).collect(),
            stealers,
            idle: AtomicUsize::new(0),
            copied: AtomicU64::new(0),
            max_worker: AtomicU64::new(0),
            padding: AtomicUsize::new(0),
        })
    }

    pub(crate) fn workers(&self) -> usize {
        self.deques.len()
    }

    /// One worker's share: roots, then copies to scan until all workers are idle.
    pub(crate) fn work(&self, inner: &Inner, worker: usize) {
        if self.workers() == 1 {
            self.work_as::<false>(inner, worker);
        } else {
            self.work_as::<true>(inner, worker);
        }
    }

    fn work_as<const PARALLEL: bool>(&self, inner: &Inner, worker: usize) {
        let deque = self.deques[worker]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .expect("one worker per deque");
        let mut copier = CopyWorker::<PARALLEL> {
            collection: self,
            inner,
            deque,
            plab: Region::empty(),
            grey: Vec::new(),
            copied: 0,
            last_old: Cell::new((0, 0)),
        };
        loop {
            let first = self.cursor.fetch_add(ROOT_BATCH, Ordering::Relaxed);
            if first >= self.sources.len() {
                break;
            }
            for source in &self.sources[first..(first + ROOT_BATCH).min(self.sources.len())] {
                // SAFETY: root words are terms of this heap; every worker is stopped.
                source.for_each_root_mut(|w| unsafe { evacuate_root(&mut copier, w) });
                copier.drain();
            }
        }
        loop {
            copier.drain();
            if let Some((start, end)) = self.steal(worker) {
                // SAFETY: a stolen grey range (Invariant 2).
                unsafe { scan_range(&mut copier, address_ptr(start), address_ptr(end)) };
                continue;
            }
            if self.wait_for_work() {
                continue;
            }
            break;
        }
        copier.finish();
    }

    fn steal(&self, me: usize) -> Option<Grey> {
        let n = self.stealers.len();
        for k in 1..n {
            let victim = &self.stealers[(me + k) % n];
            loop {
                match victim.steal() {
                    Steal::Success(obj) => return Some(obj),
                    Steal::Empty => break,
                    Steal::Retry => {}
                }
            }
        }
        None
    }

    /// Idles until some deque has work (true) or every worker is idle (false, Invariant 3).
    fn wait_for_work(&self) -> bool {
        self.idle.fetch_add(1, Ordering::AcqRel);
        let mut spins = 0u32;
        loop {
            if self.idle.load(Ordering::Acquire) == self.workers() {
                return false;
            }
            if self.stealers.iter().any(|s| !s.is_empty()) {
                self.idle.fetch_sub(1, Ordering::AcqRel);
                return true;
            }
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Completes the collection once every worker is done: sweeps the binary handles, frees
    /// from-space, resets the nursery and sizes the next major collection.
    pub(crate) fn finish(&self, inner: &Inner) -> GcEvent {
        let copied = self.copied.load(Ordering::Relaxed);
        let from_old = self.from_old.lock().unwrap_or_else(PoisonError::into_inner).take();

        let mut young = inner.spaces.lock_young();
        let young_mso = std::mem::take(&mut young.mso);
        let from_young = std::mem::take(&mut young.areas);
        young.words = 0;
        young.vheap = 0;
        drop(young);

        let (from_chunks, old_mso) = match from_old {
            Some((chunks, mso)) => (chunks, mso),
            None => (Vec::new(), Vec::new()),
        };
        // A handle whose object was forwarded lives on at the copy (in the old generation);
        // any other one died with its object: drop its reference.
        let mut new_handles = Vec::new();
        let mut dead = Vec::new();
        for addr in young_mso.iter().chain(&old_mso).copied() {
            // SAFETY: a listed handle's header is readable (heap Invariant 3); it is either
            // intact or a forwarding mark installed by this collection.
            let first = unsafe { *address_ptr(addr) };
            if first & PRIMARY_MASK == TAG_BOXED {
                new_handles.push(pointer_address(first));
            } else {
                dead.push(addr);
            }
        }
        let binaries_freed = release_handles(dead.into_iter());

        let mut old = inner.spaces.lock_old();
        old.mso.append(&mut new_handles);
        if self.kind == GcKind::Major {
            old.next_major_at =
                inner.opts.min_old_words.max((copied as f64 * inner.opts.major_growth) as usize);
        }
        old.padding += self.padding.load(Ordering::Relaxed);
        // The objects' words: padding is in use but belongs to no object, and a collection
        // that retired a few PLABs while promoting little would otherwise seem to grow.
        let old_used = old.used - old.padding;
        old.keep_spares(from_chunks);
        drop(old);
        inner.spaces.reset_nursery();
        drop(from_young);

        if self.kind == GcKind::Minor {
            inner.minor_count.fetch_add(1, Ordering::Relaxed);
        } else {
            inner.major_count.fetch_add(1, Ordering::Relaxed);
        }
        if inner.verify.load(Ordering::Relaxed) {
            if let Err(e) = inner.verify_now() {
                panic!("shared heap verification failed after collection: {e}");
            }
        }
        let end = Instant::now();
        GcEvent {
            kind: self.kind,
            reason: self.reason,
            pid: None,
            scheduler: None,
            start: self.requested_at,
            duration: end.saturating_duration_since(self.requested_at),
            time_to_safepoint: self.stopped_at.saturating_duration_since(self.requested_at),
            words_before: self.words_before as u64,
            words_after: old_used as u64,
            words_copied: copied,
            words_promoted: copied,
            binaries_freed,
            max_worker_words: self.max_worker.load(Ordering::Relaxed),
        }
    }

    /// The old chunk holding `addr`, if any.
    #[inline]
    fn old_range_of(&self, addr: usize) -> Option<(usize, usize)> {
        let i = self.old_ranges.partition_point(|&(start, _)| start <= addr);
        (i > 0 && addr < self.old_ranges[i - 1].1).then(|| self.old_ranges[i - 1])
    }
}

/// One worker's copying state: the collection as a [`Tracer`] that copies into this
/// worker's PLAB (region 0) and keeps the unscanned words of retired PLABs as grey ranges.
struct CopyWorker<'c, const PARALLEL: bool> {
    collection: &'c Collection,
    inner: &'c Inner,
    deque: Worker<Grey>,
    /// The PLAB copies land in, scanned from `scan` up.
    plab: Region,
    /// Grey ranges not yet offered to other workers.
    grey: Vec<Grey>,
    copied: u64,
    /// The old chunk the last old address found was in: the old data a young object points
    /// to clusters in few chunks (a rewritten list's untouched entries), so most lookups
    /// end here instead of in a binary search over every chunk.
    last_old: Cell<(usize, usize)>,
}

impl<const PARALLEL: bool> Tracer for CopyWorker<'_, PARALLEL> {
    const PARALLEL: bool = PARALLEL;

    #[inline(always)]
    fn route(&self, address: usize) -> Route {
        if self.collection.kind == GcKind::Minor && self.in_old(address) {
            Route::Stay
        } else {
            Route::To(0)
        }
    }

    #[inline(always)]
    fn region(&mut self, _: usize) -> &mut Region {
        &mut self.plab
    }

    /// Retires the PLAB (its unscanned words become a grey range, its free tail a filler)
    /// and copies into a new one; an object of more than a quarter PLAB gets a space of its
    /// own, scanned as a grey range of its own.
    fn refill(&mut self, _: usize, words: usize) -> *mut u64 {
        if words > PLAB_WORDS / 4 {
            let (p, _) = self.alloc_old(words, words);
            // Invariant 2: kept on this worker's own stack until the copy is written.
            self.grey.push((p as usize, p as usize + words * 8));
            return p;
        }
        self.retire_plab();
        let (p, given) = self.alloc_old(words, PLAB_WORDS.min(OLD_CHUNK_WORDS));
        self.plab = Region::new(p, given);
        self.plab.top = p.wrapping_add(words);
        p
    }

    #[inline(always)]
    fn copied(&mut self, _: usize, words: usize) {
        self.copied += words as u64;
    }
}

impl<const PARALLEL: bool> CopyWorker<'_, PARALLEL> {
    /// Scans until this worker has nothing left: its PLAB, then its grey ranges, then its
    /// deque; offering work to starving workers every [`SHARE_EVERY`] words.
    fn drain(&mut self) {
        loop {
            // SAFETY: the PLAB's `[scan, top)` holds this worker's unscanned copies.
            if unsafe { scan_region_for(self, 0, SHARE_EVERY) } {
                self.share_if_others_starve();
                continue;
            }
            let Some((start, end)) = self.grey.pop().or_else(|| self.deque.pop()) else { return };
            // SAFETY: a grey range of this worker (Invariant 2).
            unsafe { scan_range(self, address_ptr(start), address_ptr(end)) };
            self.share_if_others_starve();
        }
    }

    /// Offers half of the grey ranges, or the PLAB's unscanned words, to workers that have
    /// nothing to steal.
    fn share_if_others_starve(&mut self) {
        if !PARALLEL || !self.deque.is_empty() || self.collection.idle.load(Ordering::Relaxed) == 0 {
            return;
        }
        if self.grey.is_empty() && self.plab.unscanned() >= SPLIT_AT {
            self.retire_plab();
        }
        let half = self.grey.len().div_ceil(2);
        for range in self.grey.drain(..half) {
            self.deque.push(range);
        }
    }

    /// Hands the PLAB's unscanned words to the grey stack and covers its free tail, so the
    /// chunk stays walkable; the next copy takes a new PLAB.
    fn retire_plab(&mut self) {
        let Region { scan, top, end } = self.plab;
        if top > scan {
            self.grey.push((scan as usize, top as usize));
        }
        if end > top {
            let words = (end as usize - top as usize) / 8;
            // SAFETY: `[top, end)` is the unused part of this worker's PLAB.
            unsafe { write_filler(top, words) };
            self.collection.padding.fetch_add(words, Ordering::Relaxed);
        }
        self.plab = Region::empty();
    }

    /// `Old::alloc` under the old generation's lock; a chunk it had to make is populated
    /// after the lock is released.
    fn alloc_old(&self, words: usize, want: usize) -> (*mut u64, usize) {
        let (p, given, fresh) = self.inner.spaces.lock_old().alloc(words, want);
        if let Some(fresh) = fresh {
            fresh.populate();
        }
        (p, given)
    }

    /// Whether `addr` is in the old generation (Invariant 4), for a minor collection.
    #[inline(always)]
    fn in_old(&self, addr: usize) -> bool {
        let (start, end) = self.last_old.get();
        if addr.wrapping_sub(start) < end - start {
            return true;
        }
        let (young, young_end) = self.collection.nursery;
        if addr.wrapping_sub(young) < young_end - young {
            return false;
        }
        match self.collection.old_range_of(addr) {
            Some(range) => {
                self.last_old.set(range);
                true
            }
            None => false,
        }
    }

    fn finish(mut self) {
        self.retire_plab();
        debug_assert!(self.grey.is_empty(), "a worker finished with grey ranges");
        self.collection.copied.fetch_add(self.copied, Ordering::Relaxed);
        self.collection.max_worker.fetch_max(self.copied, Ordering::Relaxed);
    }
}
