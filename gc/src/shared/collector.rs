//! The parallel stop-the-world collector of the shared heap.
//!
//! Every stopped worker runs [`Collection::work`]: it claims batches of root sources
//! (process states, in-flight tables) and evacuates their words, then drains its grey deque
//! and steals from the others until every worker is idle. Copying is speculative: a worker
//! copies an object into its PLAB (a private piece of an old chunk) and installs the
//! forwarding pointer with one compare-and-swap; a loser gives its copy back to its PLAB.
//! With one worker there is no race, and a plain store installs it.
//!
//! Grey objects go on a worker-local stack, which costs no synchronization; a worker moves
//! the older half of that stack to its public deque, where others can steal it, when its
//! deque is empty and some worker is idle (checked every [`SHARE_EVERY`] objects).
//!
//! Forwarding, one word each so a CAS installs it: a copied boxed object's header becomes a
//! boxed pointer to the copy; a copied cons cell's car becomes the copy's raw address
//! (primary tag `00`, which no car holds).
//!
//! # Invariants
//! 1. Only the first word of a from-space object is ever written during a collection, and
//!    only by a successful CAS (or by the only worker); every other access to it is a read.
//! 2. A grey object is a copy whose fields still hold from-space words; exactly one worker
//!    (the one that popped or stole it) rewrites them.
//! 3. When every worker is idle, every deque and local stack is empty: a worker only pushes
//!    while not idle, and goes idle only with both empty.
//! 4. Minor collections treat old words as already evacuated (old never points young,
//!    module Invariant 2).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use crossbeam_deque::{Steal, Stealer, Worker};

use super::mutator::Source;
use super::space::OLD_CHUNK_WORDS;
use super::Inner;
use crate::event::{GcEvent, GcKind, GcReason};
use crate::heap::{release_handles, Area};
use crate::layout::*;
use crate::object::{object_size, refc_binary_of};

/// Words a worker takes from the old generation at a time.
const PLAB_WORDS: usize = 4096;
/// Root sources a worker claims at a time.
const ROOT_BATCH: usize = 32;
/// Grey objects a worker scans between two looks at whether others starve.
const SHARE_EVERY: u32 = 64;

pub(crate) struct Collection {
    kind: GcKind,
    reason: GcReason,
    requested_at: Instant,
    stopped_at: Instant,
    words_before: usize,
    /// Sorted old chunk ranges of a minor collection (Invariant 4).
    old_ranges: Vec<(usize, usize)>,
    /// The old generation being evacuated by a major collection, freed at the end.
    from_old: Mutex<Option<(Vec<Area>, Vec<usize>)>>,
    sources: Vec<Source>,
    cursor: AtomicUsize,
    deques: Vec<Mutex<Option<Worker<usize>>>>,
    stealers: Vec<Stealer<usize>>,
    idle: AtomicUsize,
    copied: AtomicU64,
    /// Words copied by the busiest worker.
    max_worker: AtomicU64,
    /// Handles of the copies (the new old MSO entries).
    handles: Mutex<Vec<usize>>,
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
        match kind {
            GcKind::Minor => {
                old_ranges = old
                    .chunks
                    .iter()
                    .map(|a| (a.block.addr(), a.block.addr() + a.block.words() * 8))
                    .collect();
                old_ranges.sort_unstable();
            }
            GcKind::Major => {
                from_old = Some((std::mem::take(&mut old.chunks), std::mem::take(&mut old.mso)));
                old.used = 0;
            }
        }
        drop(old);
        let deques: Vec<Worker<usize>> = (0..workers).map(|_| Worker::new_lifo()).collect();
        let stealers = deques.iter().map(Worker::stealer).collect();
        Some(Collection {
            kind,
            reason,
            requested_at,
            stopped_at,
            words_before,
            old_ranges,
            from_old: Mutex::new(from_old),
            sources: inner.registry.sources(),
            cursor: AtomicUsize::new(0),
            deques: deques.into_iter().map(|d| Mutex::new(Some(d))).collect(),
            stealers,
            idle: AtomicUsize::new(0),
            copied: AtomicU64::new(0),
            max_worker: AtomicU64::new(0),
            handles: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn workers(&self) -> usize {
        self.deques.len()
    }

    /// One worker's share: roots, then grey objects until all workers are idle.
    pub(crate) fn work(&self, inner: &Inner, worker: usize) {
        let deque = self.deques[worker]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .expect("one worker per deque");
        let mut evac = Evacuator {
            collection: self,
            inner,
            deque,
            local: Vec::new(),
            until_share: SHARE_EVERY,
            single: self.workers() == 1,
            plab: (0, 0),
            copied: 0,
            handles: Vec::new(),
        };
        loop {
            let first = self.cursor.fetch_add(ROOT_BATCH, Ordering::Relaxed);
            if first >= self.sources.len() {
                break;
            }
            for source in &self.sources[first..(first + ROOT_BATCH).min(self.sources.len())] {
                // SAFETY: root words are terms of this heap; every worker is stopped.
                source.for_each_root_mut(|w| *w = unsafe { evac.evacuate(*w) });
                evac.drain();
            }
        }
        loop {
            evac.drain();
            if let Some(obj) = self.steal(worker) {
                // SAFETY: a stolen grey object (Invariant 2).
                unsafe { evac.scan(obj) };
                continue;
            }
            if self.wait_for_work() {
                continue;
            }
            break;
        }
        evac.finish();
    }

    fn steal(&self, me: usize) -> Option<usize> {
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
        let mut new_handles =
            std::mem::take(&mut *self.handles.lock().unwrap_or_else(PoisonError::into_inner));
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
        // A handle whose object was not forwarded died with it: drop its reference.
        let dead = young_mso.iter().chain(&old_mso).copied().filter(|&addr| {
            // SAFETY: a listed handle's header is readable (heap Invariant 3); it is either
            // intact or a forwarding pointer installed by this collection.
            unsafe { *address_ptr(addr) & PRIMARY_MASK != TAG_BOXED }
        });
        let binaries_freed = release_handles(dead);

        let mut old = inner.spaces.lock_old();
        old.mso.append(&mut new_handles);
        if self.kind == GcKind::Major {
            old.next_major_at =
                inner.opts.min_old_words.max((copied as f64 * inner.opts.major_growth) as usize);
        }
        let old_used = old.used;
        drop(old);
        inner.spaces.reset_nursery();
        drop(from_young);
        drop(from_chunks);

        match self.kind {
            GcKind::Minor => inner.minor_count.fetch_add(1, Ordering::Relaxed),
            GcKind::Major => inner.major_count.fetch_add(1, Ordering::Relaxed),
        };
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

    #[inline]
    fn in_old(&self, addr: usize) -> bool {
        let i = self.old_ranges.partition_point(|&(start, _)| start <= addr);
        i > 0 && addr < self.old_ranges[i - 1].1
    }
}

/// One worker's copying state.
struct Evacuator<'c> {
    collection: &'c Collection,
    inner: &'c Inner,
    deque: Worker<usize>,
    /// Grey objects not yet offered to other workers.
    local: Vec<usize>,
    /// Objects to scan before the next look at starving workers.
    until_share: u32,
    /// The only worker: forwarding needs no CAS.
    single: bool,
    /// The PLAB: `[top, end)` addresses in an old chunk.
    plab: (usize, usize),
    copied: u64,
    handles: Vec<usize>,
}

impl Evacuator<'_> {
    /// The to-space word for `word`: copies its object on first sight.
    ///
    /// # Safety
    /// `word` is an immediate or points at an object of this heap, intact or forwarded.
    #[inline]
    unsafe fn evacuate(&mut self, word: u64) -> u64 {
        if !is_pointer(word) {
            return word;
        }
        let addr = pointer_address(word);
        if self.collection.kind == GcKind::Minor && self.collection.in_old(addr) {
            return word;
        }
        let tag = word & PRIMARY_MASK;
        let src = address_ptr(addr);
        // SAFETY: `src` is a from-space object; its first word is only accessed atomically
        // during the collection (Invariant 1).
        let first_cell = unsafe { std::sync::atomic::AtomicU64::from_ptr(src) };
        let first = first_cell.load(Ordering::Acquire);
        if let Some(moved) = forwarded(tag, first) {
            return moved;
        }
        let size = if tag == TAG_LIST {
            2
        } else {
            // SAFETY: an intact boxed object: `first` is its header.
            unsafe { object_size(&first) }
        };
        let dst = self.alloc(size);
        // SAFETY: `dst` holds `size` words of this worker's PLAB; the source's words other
        // than the first are never written during the collection (Invariant 1).
        unsafe {
            *dst = first;
            if size == 2 {
                // A cons cell, the commonest object: no call for one word.
                *dst.add(1) = *src.add(1);
            } else {
                std::ptr::copy_nonoverlapping(src.add(1), dst.add(1), size - 1);
            }
        }
        let forward = if tag == TAG_LIST { tagged(dst, TAG_HEADER) } else { tagged(dst, TAG_BOXED) };
        if self.single {
            first_cell.store(forward, Ordering::Relaxed);
            self.copied += size as u64;
            // SAFETY: `dst` is the intact copy just made.
            unsafe { self.note_copy(dst, tag) };
            return tagged(dst, tag);
        }
        match first_cell.compare_exchange(first, forward, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                self.copied += size as u64;
                let new = tagged(dst, tag);
                // SAFETY: `dst` is the intact copy just made.
                unsafe { self.note_copy(dst, tag) };
                new
            }
            Err(winner) => {
                self.give_back(dst, size);
                forwarded(tag, winner).expect("a lost race leaves a forwarding word")
            }
        }
    }

    /// Queues a copy with term fields for scanning, and lists a copied binary handle.
    ///
    /// # Safety
    /// `dst` is a copy made by this worker.
    unsafe fn note_copy(&mut self, dst: *mut u64, tag: u64) {
        if tag == TAG_LIST {
            self.local.push(dst as usize);
            return;
        }
        // SAFETY: the copy's header is intact.
        let header = unsafe { *dst };
        // SAFETY: as above.
        if unsafe { refc_binary_of(dst) }.is_some() {
            self.handles.push(dst as usize);
        } else if term_fields(header).next().is_some() {
            self.local.push(dst as usize);
        }
    }

    /// Rewrites the fields of a grey object.
    ///
    /// # Safety
    /// `obj` is a grey object this worker owns (Invariant 2).
    #[inline]
    unsafe fn scan(&mut self, obj: usize) {
        // SAFETY: a copy in to-space, readable and writable, owned by this worker; its
        // fields are from-space words or old words.
        unsafe {
            crate::object::for_each_field(address_ptr(obj), |f| *f = self.evacuate(*f));
        }
    }

    fn drain(&mut self) {
        loop {
            let Some(obj) = self.local.pop().or_else(|| self.deque.pop()) else { return };
            self.until_share -= 1;
            if self.until_share == 0 {
                self.until_share = SHARE_EVERY;
                self.share_if_others_starve();
            }
            // SAFETY: taken from this worker's stack or deque (Invariant 2).
            unsafe { self.scan(obj) };
        }
    }

    /// Offers the older half of the local stack to the other workers when they have
    /// nothing to steal.
    fn share_if_others_starve(&mut self) {
        if self.single || self.local.len() < 2 || !self.deque.is_empty() {
            return;
        }
        if self.collection.idle.load(Ordering::Relaxed) == 0 {
            return;
        }
        let half = self.local.len() / 2;
        for obj in self.local.drain(..half) {
            self.deque.push(obj);
        }
    }

    fn alloc(&mut self, size: usize) -> *mut u64 {
        let (top, end) = self.plab;
        if top + size * 8 <= end {
            self.plab.0 += size * 8;
            return address_ptr(top);
        }
        let mut old = self.inner.spaces.lock_old();
        if size > PLAB_WORDS / 4 {
            return old.alloc(size, size).0;
        }
        self.retire_plab();
        let (p, given) = old.alloc(size, PLAB_WORDS.min(OLD_CHUNK_WORDS));
        self.plab = (p as usize + size * 8, p as usize + given * 8);
        p
    }

    /// Returns a losing copy: the last PLAB allocation is undone; a large object's own
    /// space is covered with a filler.
    fn give_back(&mut self, dst: *mut u64, size: usize) {
        if self.plab.0 == dst as usize + size * 8 {
            self.plab.0 = dst as usize;
        } else {
            // SAFETY: the copy's words are ours and dead.
            unsafe { write_filler(dst, size) };
        }
    }

    fn retire_plab(&mut self) {
        let (top, end) = self.plab;
        if end > top {
            // SAFETY: `[top, end)` is the unused part of this worker's PLAB.
            unsafe { write_filler(address_ptr(top), (end - top) / 8) };
        }
        self.plab = (0, 0);
    }

    fn finish(mut self) {
        self.retire_plab();
        self.collection.copied.fetch_add(self.copied, Ordering::Relaxed);
        self.collection.max_worker.fetch_max(self.copied, Ordering::Relaxed);
        self.collection.handles.lock().unwrap_or_else(PoisonError::into_inner).append(&mut self.handles);
    }
}

/// The new location recorded in a from-space object's first word, if it was copied.
#[inline]
fn forwarded(tag: u64, first: u64) -> Option<u64> {
    if tag == TAG_LIST {
        (first & PRIMARY_MASK == TAG_HEADER).then_some(first | TAG_LIST)
    } else {
        (first & PRIMARY_MASK == TAG_BOXED).then_some(first)
    }
}
