//! The incremental collection of the message area: a cycle of increments, each doing at
//! most a budget of work with every process stopped, the processes running between them
//! (after Sagonas and Wilhelmsson, ISMM 2004; `docs/hybrid-heap.md` says where it departs).
//!
//! # The cycle
//! The first increment turns the nursery (and, for a major cycle, the old generation) into
//! **from-space**; the area gets an empty nursery, where messages built during the cycle go.
//! Live from-space objects are copied into one **to-space** block sized for all of
//! from-space, which becomes an old-generation chunk when the cycle ends.
//!
//! It is a *replicating* copy: a from-space object is never written. Its copy's address goes
//! into a forwarding table beside from-space (one word per from-space word), not into the
//! object, so a process that still holds a from-space pointer between increments reads an
//! intact object, equal to its copy: terms are immutable. From-space is freed only by the
//! last increment, after every word that pointed into it was rewritten.
//!
//! Work (each unit a word): copying an object, scanning a to-space copy (Cheney), visiting
//! a heap or a root word. A cycle has two phases, each worked through increment by
//! increment while the budget lasts:
//! - **trace**: the grey copies, the in-flight table (resumable slot by slot), then every
//!   registered heap (those registered later too), one whole heap at a time (its root
//!   table, queue, remembered words and words allocated since its last collection, each
//!   rewritten to its copy), the grey copies after each. When nothing is left, every live
//!   from-space object has its copy (Invariant 5).
//! - **fix-up**: every heap registered when the trace ended is visited once more, one whole
//!   heap at a time, and its words rewritten: between its trace visit and the end of the
//!   trace it may have read from-space words out of grey copies. A heap visited here holds
//!   no from-space word and never gets one again (Invariant 7).
//!
//! When the fix-up is done, the increment **closes** the cycle: it sweeps the binary handles,
//! frees from-space and makes to-space an old-generation chunk. No root is visited there,
//! so no increment visits more than one heap's words beyond its budget.
//!
//! # Invariants (between increments)
//! 1. From-space objects are intact; nothing is allocated in from-space.
//! 2. A forwarding entry names a to-space copy equal to its original, each field the
//!    original's or the original's from-space target's copy.
//! 3. To-space copies below `scan` point at no from-space object (they were rewritten when
//!    scanned); no nursery object does either (Invariant 4).
//! 4. The barrier on sends (`MessageArea::adopt`, [`Cycle::barrier`]): a message built
//!    during a cycle has every field, and its word, rewritten to copies before it joins the
//!    nursery and the in-flight table. The table is traced before any heap (the work order
//!    above), so after its trace no in-flight word points into from-space.
//! 5. A heap visited by the trace reaches from-space afterwards only through objects it read
//!    after its visit: grey copies (scanned before the trace ends, Invariant 3); nursery
//!    objects and delivered words point at none (Invariant 4). A heap made after the cycle
//!    began may have taken delivery of a word whose slot the in-flight scan had not reached:
//!    the trace visits every heap registered before it ends. So when the trace ends, every
//!    from-space object reachable from anywhere has been copied, and the fix-up only
//!    rewrites words: the words it copies (`late_words`) are zero, and the tests check it.
//! 6. Every from-space handle is listed in `from_mso_*` and owns its reference; every
//!    to-space handle is listed in `to_mso` and owns a reference of its own, taken when it was
//!    copied. Closing releases every from-space handle.
//! 7. After the trace, no to-space, old or nursery object and no in-flight word points into
//!    from-space (Invariants 3-5), so a heap the fix-up visited reads none, and a heap
//!    registered after the trace starts without any: when the fix-up ends, nothing points
//!    into from-space and it can be freed. The verifier checks every visited heap.

use std::collections::HashSet;
use std::time::Instant;

use super::area::{AreaError, AreaInner, AreaOptions, AreaState, Cursor, MessageArea};
use crate::area::{Area, AreaKind};
use crate::binary::release_handles;
use crate::block::Block;
use crate::collect::Collect;
use crate::event::{GcEvent, GcKind, GcReason};
use crate::heap::Heap;
use crate::layout::*;
use crate::object::{for_each_field, object_size, refc_binary_of};
use crate::unwind::AbortOnUnwind;
use crate::verify::{Objects, VerifyError};

/// An increment is due once the nursery has taken at most this share of the increment
/// budget since the last one (the collector works at least four times as fast as processes
/// allocate), and less when the cycle's work needs it (see [`Cycle::pace`]).
const ALLOCATION_SHARE: usize = 4;

/// What one increment did, besides its event.
#[derive(Clone, Debug)]
pub struct AreaIncrement {
    /// The increment's event (kind `AreaIncrement`), also sent to the area's sink.
    pub event: GcEvent,
    /// Work units done: words copied, words scanned and root words visited.
    pub work: usize,
    /// Whether this increment started a cycle.
    pub started: bool,
    /// Whether it closed the cycle.
    pub closed: bool,
    /// Whether it ran without a budget: the nursery filled before the cycle could end, or a
    /// stop-the-world collection asked for the cycle to end.
    pub unbounded: bool,
}

/// An incremental cycle under way (module docs).
pub(crate) struct Cycle {
    major: bool,
    reason: GcReason,
    /// From-space: the nursery's areas at the start, then (major cycle) the old generation's.
    from: Vec<Area>,
    /// How many of `from` were the nursery.
    from_young: usize,
    /// `(start, end, index in from)` of each non-empty from-space area, sorted.
    ranges: Vec<(usize, usize, usize)>,
    /// Per from-space area, per word: the address of the copy of the object starting there,
    /// or 0.
    forward: Vec<Box<[usize]>>,
    from_mso_young: Vec<usize>,
    from_mso_old: Vec<usize>,
    to: Block,
    to_words: usize,
    /// Words of `to` below which every copy is scanned (Invariant 3), and its first free one.
    scan: usize,
    top: usize,
    to_mso: Vec<usize>,
    /// Heaps not visited yet by the current phase: at the start, those registered then; at
    /// the end of the trace, those registered then.
    pending: HashSet<u64>,
    /// Whether the trace is over and the fix-up under way.
    fixing: bool,
    /// Heaps the trace visited, and heaps the fix-up visited (Invariant 7, for the
    /// verifier).
    traced: HashSet<u64>,
    fixed: HashSet<u64>,
    /// Words copied since the trace ended (Invariant 5: none).
    late: usize,
    /// In-flight shard and slot the scan of the table has reached.
    in_flight_at: (usize, usize),
    /// The nursery's words at the end of the last increment.
    nursery_mark: usize,
    /// Nursery words between two increments ([`Cycle::pace`]).
    pace: usize,
    /// The cycle's work, estimated at its start ([`Cycle::pace`]), and the work done so far.
    estimate: usize,
    done: usize,
    /// Counters of the running increment.
    work: usize,
    copied: usize,
}

impl Cycle {
    /// Starts a cycle: the nursery (and for a major cycle the old generation) becomes
    /// from-space, the area gets an empty nursery. The caller resets the chunk cursors.
    fn start(state: &mut AreaState, heaps: &[&mut Heap], major: bool, reason: GcReason) -> Box<Cycle> {
        let mut from = std::mem::take(&mut state.nursery);
        let from_young = from.len();
        let from_mso_young = std::mem::take(&mut state.mso_young);
        let mut from_mso_old = Vec::new();
        if major {
            from.append(&mut state.old);
            from_mso_old = std::mem::take(&mut state.mso_old);
            state.old_words = 0;
        }
        state.nursery_words = 0;
        state.vheap_young = 0;
        let mut ranges: Vec<_> = from
            .iter()
            .enumerate()
            .filter(|(_, a)| a.used > 0)
            .map(|(i, a)| {
                let start = exposed_address(a.block.start());
                (start, start + a.used * 8, i)
            })
            .collect();
        ranges.sort_unstable();
        let forward = from.iter().map(|a| vec![0; a.used].into_boxed_slice()).collect();
        let to_words: usize = from.iter().map(|a| a.used).sum();
        // Every from-space word copied and scanned, every heap visited twice with its words;
        // twice that, as heaps' queues grow while the cycle runs.
        let roots: usize = heaps.iter().map(|h| 1 + h.area_words_estimate()).sum();
        let estimate = 2 * (2 * to_words + 2 * roots);
        Box::new(Cycle {
            major,
            reason,
            from,
            from_young,
            ranges,
            forward,
            from_mso_young,
            from_mso_old,
            // Filled a little at a time, over the cycle's increments.
            to: Block::new_filled_slowly(to_words.max(1)),
            to_words,
            scan: 0,
            top: 0,
            to_mso: Vec::new(),
            pending: state.heaps.clone(),
            in_flight_at: (0, 0),
            fixing: false,
            traced: HashSet::new(),
            fixed: HashSet::new(),
            late: 0,
            nursery_mark: 0,
            pace: 1,
            estimate,
            done: 0,
            work: 0,
            copied: 0,
        })
    }

    /// Sets the nursery words allowed before the next increment, so that the cycle ends
    /// before the nursery is full again (Baker's pacing: collection in step with
    /// allocation): the work left (the estimate made at the start, less the work done, at
    /// least one budget) takes so many increments, and the nursery's room is shared among
    /// them. At most a quarter of the budget ([`ALLOCATION_SHARE`]), at least one word.
    fn pace(&mut self, opts: &AreaOptions, nursery_words: usize) {
        let left = self.estimate.saturating_sub(self.done).max(opts.increment_words);
        let increments = left.div_ceil(opts.increment_words);
        let room = opts.nursery_words.saturating_sub(nursery_words);
        self.pace = (room / (increments + 1)).clamp(1, (opts.increment_words / ALLOCATION_SHARE).max(1));
    }

    /// Words held by the cycle: from-space and the copies made so far.
    pub(crate) fn words(&self) -> usize {
        self.to_words + self.top
    }

    /// Whether the next increment is due (see [`MessageArea::increment_due`]).
    pub(crate) fn due(&self, state: &AreaState, opts: &AreaOptions) -> bool {
        state.nursery_words >= self.nursery_mark + self.pace
            || state.nursery_words >= opts.nursery_words
            || state.vheap_young > opts.vheap_words
    }

    /// The cycle's memory for the verifier: from-space (nursery part young, old part old),
    /// and to-space's copies (young: grey copies point into from-space).
    pub(crate) fn areas(&self) -> impl Iterator<Item = (AreaKind, *const u64, usize)> + '_ {
        let from = self.from.iter().enumerate().map(|(i, a)| {
            let kind = if i < self.from_young { AreaKind::Young } else { AreaKind::Old };
            (kind, a.block.start() as *const u64, a.used)
        });
        from.chain(std::iter::once((AreaKind::Young, self.to.start() as *const u64, self.top)))
    }

    /// The area's binary-handle lists with the cycle's (young: nursery, from-space nursery
    /// and to-space handles; old: the old generation's, or from-space's in a major cycle).
    pub(crate) fn mso_lists(&self, state: &AreaState) -> (Vec<usize>, Vec<usize>) {
        let young = state.mso_young.iter().chain(&self.from_mso_young).chain(&self.to_mso).copied();
        let old = state.mso_old.iter().chain(&self.from_mso_old).copied();
        (young.collect(), old.collect())
    }

    /// The from-space area and word index of `address`, if it lies in from-space.
    fn locate(&self, address: usize) -> Option<(usize, usize)> {
        let i = self.ranges.partition_point(|r| r.0 <= address);
        let (start, end, area) = *self.ranges.get(i.checked_sub(1)?)?;
        (address < end).then(|| (area, (address - start) / 8))
    }

    /// The word that replaces the term word `word`: the copy of its from-space object (made
    /// now if it is the first visit), or `word` itself.
    fn forward(&mut self, word: u64) -> u64 {
        if !is_pointer(word) {
            return word;
        }
        let Some((area, index)) = self.locate(pointer_address(word)) else {
            return word;
        };
        let tag = word & PRIMARY_MASK;
        let to = self.forward[area][index];
        if to != 0 {
            return to as u64 | tag;
        }
        let src = object_ptr(word);
        // SAFETY: a term word of the area pointing into from-space points at the start of
        // an intact object (Invariant 1; area Invariant 1).
        let size = unsafe { object_size(src) };
        assert!(
            self.top + size <= self.to_words,
            "message-area to-space overflow: it holds all of from-space"
        );
        // SAFETY: `[top, top + size)` is free to-space (checked above); the source is an
        // intact from-space object of `size` words, disjoint from to-space.
        let dst = unsafe {
            let dst = self.to.start().add(self.top);
            std::ptr::copy_nonoverlapping(src, dst, size);
            dst
        };
        // SAFETY: `dst` is the copy just made, a well-formed object.
        if let Some(bin) = unsafe { refc_binary_of(dst) } {
            // SAFETY: the original handle owns a reference (Invariant 6), so the binary is
            // live; the copy takes a reference of its own.
            unsafe { crate::binary::increment(bin) };
            self.to_mso.push(exposed_address(dst));
        }
        self.top += size;
        self.work += size;
        self.copied += size;
        if self.fixing {
            self.late += size;
        }
        self.forward[area][index] = exposed_address(dst);
        tagged(dst, tag)
    }

    /// The barrier on sends (Invariant 4): every field of the message's objects in `areas`
    /// rewritten to copies; returns `word`, the message, rewritten too.
    pub(crate) fn barrier(&mut self, areas: &[Area], word: u64) -> u64 {
        for area in areas {
            let mut at = 0;
            while at < area.used {
                // SAFETY: a built message's areas are gap-free runs of whole objects (heap
                // Invariant 4), its own: no other thread sees them before its adoption.
                at += unsafe { self.scan_object(area.block.start().add(at)) };
            }
        }
        self.forward(word)
    }

    /// Rewrites every term field of the object at `obj` to its copy; returns its size.
    ///
    /// # Safety
    /// `obj` is a well-formed object of to-space or of the nursery, which nothing else
    /// reads or writes meanwhile.
    unsafe fn scan_object(&mut self, obj: *mut u64) -> usize {
        // SAFETY: as the caller guarantees.
        unsafe {
            for_each_field(obj, |field| {
                let word = *field;
                let new = self.forward(word);
                if new != word {
                    *field = new;
                }
            })
        }
    }

    /// Works through the phases (module docs) until `budget` work units are done; returns
    /// whether nothing is left (the cycle can close).
    fn trace(
        &mut self,
        inner: &AreaInner,
        state: &AreaState,
        heaps: &mut [&mut Heap],
        budget: usize,
    ) -> bool {
        loop {
            if self.work >= budget {
                return false;
            }
            if self.scan < self.top {
                // SAFETY: `scan` is an object boundary below `top`: a copy of this cycle.
                let size = unsafe { self.scan_object(self.to.start().add(self.scan)) };
                self.scan += size;
                self.work += size;
                continue;
            }
            if !self.fixing && self.scan_in_flight(inner, budget) {
                continue;
            }
            if self.visit_heaps(heaps, budget) {
                continue;
            }
            // Heaps registered since the phase began are visited by it too.
            let visited = if self.fixing { &self.fixed } else { &self.traced };
            self.pending = state.heaps.difference(visited).copied().collect();
            if !self.pending.is_empty() {
                continue;
            }
            if self.fixing {
                return true;
            }
            // The trace is over (Invariant 5): the fix-up visits every heap registered now.
            self.fixing = true;
            self.pending = state.heaps.clone();
        }
    }

    /// Visits pending heaps, one whole heap at a time, while the budget lasts, rewriting
    /// each one's area words; returns whether there was any.
    fn visit_heaps(&mut self, heaps: &mut [&mut Heap], budget: usize) -> bool {
        if self.pending.is_empty() {
            return false;
        }
        for heap in heaps.iter_mut() {
            if self.work >= budget {
                return true;
            }
            if self.pending.remove(&heap.id) {
                // A heap's visit is a unit even when it holds no area word.
                self.work += 1;
                heap.for_each_area_root(|slot| {
                    self.work += 1;
                    *slot = self.forward(*slot);
                });
                if self.fixing {
                    self.fixed.insert(heap.id);
                } else {
                    self.traced.insert(heap.id);
                }
            }
        }
        // Every heap given was looked at; the ones left were dropped meanwhile.
        self.pending.clear();
        true
    }

    /// Gives back the references of every handle the cycle holds (the area is dropped).
    pub(crate) fn release(mut self) {
        let handles =
            self.from_mso_young.drain(..).chain(self.from_mso_old.drain(..)).chain(self.to_mso.drain(..));
        release_handles(handles);
    }

    /// Rewrites in-flight words from where the last call stopped while the budget lasts;
    /// returns whether there was any left.
    fn scan_in_flight(&mut self, inner: &AreaInner, budget: usize) -> bool {
        let mut any = false;
        while self.in_flight_at.0 < inner.in_flight.len() {
            let (shard, from) = self.in_flight_at;
            let mut table = inner.in_flight[shard].lock().unwrap_or_else(|e| e.into_inner());
            let mut at = from;
            while at < table.slots.len() && self.work < budget {
                let word = table.slots[at];
                table.slots[at] = self.forward(word);
                self.work += 1;
                at += 1;
                any = true;
            }
            if at < table.slots.len() {
                self.in_flight_at = (shard, at);
                return true;
            }
            self.in_flight_at = (shard + 1, 0);
        }
        any
    }

    /// Closes the cycle (module docs): handles swept, from-space freed, to-space made an old
    /// chunk. Returns the binaries freed, and the increment's work and words copied.
    fn close(mut self, inner: &AreaInner, state: &mut AreaState) -> (u64, usize, usize) {
        state.late_words += self.late as u64;
        // Invariant 6: every from-space handle gives its reference back; the copies keep
        // theirs.
        let freed = release_handles(self.from_mso_young.drain(..).chain(self.from_mso_old.drain(..)));
        state.mso_old.append(&mut self.to_mso);
        drop(std::mem::take(&mut self.from));
        if self.top > 0 {
            state.old.push(Area { block: self.to, used: self.top });
            state.old_words += self.top;
        }
        if self.major {
            state.major_count += 1;
            state.next_major_at =
                inner.opts.min_old_words.max((state.old_words as f64 * inner.opts.major_growth) as usize);
        } else {
            state.minor_count += 1;
        }
        state.cycles += 1;
        (freed, self.work, self.copied)
    }

    /// Checks the cycle's invariants 2, 3 and (after the trace) 7 for in-flight words, and
    /// that the forwarding table and to-space hold the same objects, against the area's
    /// `objects`.
    pub(crate) fn verify(
        &self,
        state: &AreaState,
        objects: &Objects,
        in_flight: &[u64],
    ) -> Result<(), VerifyError> {
        let fail = |problem: String, address: usize| Err(VerifyError { problem, address });
        let to_start = exposed_address(self.to.start());
        let to_end = to_start + self.top * 8;
        let mut entries = 0;
        for (area, table) in self.forward.iter().enumerate() {
            let base = exposed_address(self.from[area].block.start());
            for (index, &to) in table.iter().enumerate().filter(|(_, &to)| to != 0) {
                entries += 1;
                let from = base + index * 8;
                let (Some(&(cons, _)), Some(&(copy_cons, _))) = (objects.get(&from), objects.get(&to)) else {
                    return fail("forwarding entry off an object start".into(), from);
                };
                if !(to_start..to_end).contains(&to) || cons != copy_cons {
                    return fail(
                        format!("forwarding entry to {to:#x}, no copy of its kind in to-space"),
                        from,
                    );
                }
                // SAFETY: both are object starts found by the verifier's walk, of one kind.
                let size = unsafe { object_size(address_ptr(from)) };
                for i in 0..size {
                    // SAFETY: inside both objects, the copy having the original's header.
                    let (a, b) = unsafe { (*address_ptr(from).add(i), *address_ptr(to).add(i)) };
                    if a != b && (!is_pointer(a) || self.lookup(a) != Some(b)) {
                        return fail(format!("copy at {to:#x} differs from its original in word {i}"), from);
                    }
                }
            }
        }
        let mut at = 0;
        let mut copies = 0;
        while at < self.top {
            // SAFETY: the verifier's walk found to-space a gap-free run of objects.
            let obj = unsafe { self.to.start().add(at) };
            let mut result = Ok(());
            // SAFETY: as above; the walk only reads.
            let size = unsafe {
                for_each_field(obj, |field| {
                    if at < self.scan && result.is_ok() && self.points_into_from(*field) {
                        result = fail("scanned to-space copy points into from-space".into(), field as usize);
                    }
                })
            };
            result?;
            at += size;
            copies += 1;
        }
        if copies != entries {
            return fail(format!("{entries} forwarding entries for {copies} to-space copies"), to_start);
        }
        for area in &state.nursery {
            let mut at = 0;
            while at < area.used {
                // SAFETY: the nursery is a gap-free run of objects (verified); the walk only
                // reads.
                let obj = unsafe { area.block.start().add(at) };
                let mut result = Ok(());
                // SAFETY: as above.
                at += unsafe {
                    for_each_field(obj, |field| {
                        if result.is_ok() && self.points_into_from(*field) {
                            result = fail("nursery message points into from-space".into(), field as usize);
                        }
                    })
                };
                result?;
            }
        }
        if self.fixing {
            if let Some(word) = in_flight.iter().find(|&&w| self.points_into_from(w)) {
                return fail(format!("in-flight word {word:#x} points into from-space after the trace"), 0);
            }
        }
        Ok(())
    }

    /// Checks Invariant 7 for `heaps`: one the fix-up visited holds no from-space word.
    pub(crate) fn check_heaps(&self, heaps: &mut [&mut Heap]) -> Result<(), VerifyError> {
        for heap in heaps.iter_mut().filter(|h| self.fixed.contains(&h.id)) {
            let mut found = None;
            heap.for_each_area_root(|slot| {
                if found.is_none() && self.points_into_from(*slot) {
                    found = Some(exposed_address(slot as *const u64));
                }
            });
            if let Some(address) = found {
                let problem = format!("heap {} holds a from-space word after its fix-up visit", heap.id);
                return Err(VerifyError { problem, address });
            }
        }
        Ok(())
    }

    fn points_into_from(&self, word: u64) -> bool {
        is_pointer(word) && self.locate(pointer_address(word)).is_some()
    }

    /// The copy `word`'s from-space object has, if any (no copy is made).
    fn lookup(&self, word: u64) -> Option<u64> {
        let (area, index) = self.locate(pointer_address(word))?;
        let to = self.forward[area][index];
        (to != 0).then_some(to as u64 | (word & PRIMARY_MASK))
    }
}

impl MessageArea {
    /// Runs one increment of the incremental collector with `heaps`, which must be every
    /// heap registered with the area (as [`MessageArea::collect`]): starts a cycle if none is
    /// under way (a major one if `request` is `Collect::Major` or the old generation is due),
    /// does at most `increment_words` work units of it, and closes the cycle when nothing is
    /// left. The event (kind `AreaIncrement`) also goes to the area's sink.
    ///
    /// The bound: an increment stops taking new work once it has done `increment_words`
    /// units, so it does at most that plus its last unit (one object, or one heap's root
    /// words), plus, when it closes the cycle, one visit of every root word. It runs
    /// without a bound when the nursery filled before the cycle could end (the collector
    /// fell behind).
    ///
    /// # Errors
    /// A heap not registered with this area, or a registered heap left out (then nothing
    /// ran).
    pub fn collect_increment(
        &self,
        heaps: &mut [&mut Heap],
        request: Collect,
    ) -> Result<AreaIncrement, AreaError> {
        let start = Instant::now();
        let inner = &*self.inner;
        let mut cursors = inner.lock_cursors();
        let mut state = inner.lock();
        check_heaps(inner, &state, heaps)?;
        let unbounded = state.cycle.is_some() && inner.nursery_full(&state);
        let budget = if unbounded { usize::MAX } else { inner.opts.increment_words };
        let outcome = increment(inner, &mut state, &mut cursors, heaps, request, budget, start);
        drop(state);
        drop(cursors);
        inner.record(&outcome.event);
        Ok(AreaIncrement { unbounded, ..outcome })
    }
}

/// Protocol step 1 of both collectors: `heaps` are the area's, and all of them.
pub(crate) fn check_heaps(
    inner: &AreaInner,
    state: &AreaState,
    heaps: &[&mut Heap],
) -> Result<(), AreaError> {
    for heap in heaps.iter() {
        let ours = heap.area.as_ref().is_some_and(|link| link.area.inner.id == inner.id);
        if !ours || !state.heaps.contains(&heap.id) {
            return Err(AreaError::ForeignHeap { heap: heap.id });
        }
    }
    // `&mut` makes the heaps distinct, so equal counts mean every one is here.
    if heaps.len() != state.heaps.len() {
        return Err(AreaError::Incomplete { given: heaps.len(), registered: state.heaps.len() });
    }
    Ok(())
}

/// One increment under the caller's locks (see [`MessageArea::collect_increment`]); also
/// run by a stop-the-world collection, without a budget, to end a cycle under way.
pub(crate) fn increment(
    inner: &AreaInner,
    state: &mut AreaState,
    cursors: &mut [std::sync::MutexGuard<'_, Cursor>],
    heaps: &mut [&mut Heap],
    request: Collect,
    budget: usize,
    start: Instant,
) -> AreaIncrement {
    let _torn = AbortOnUnwind::new("a message-area increment");
    let verify = inner.verify.load(std::sync::atomic::Ordering::Relaxed);
    if verify {
        super::collector::check_all(inner, state, heaps, "before");
    }
    let words_before = used_words(state);
    let started = state.cycle.is_none();
    let mut cycle = match state.cycle.take() {
        Some(cycle) => cycle,
        None => {
            let (major, reason) = if request == Collect::Major {
                (true, GcReason::Requested)
            } else if state.old_words >= state.next_major_at {
                (true, GcReason::OldFull)
            } else if request == Collect::Minor {
                (false, GcReason::Requested)
            } else if state.vheap_young > inner.opts.vheap_words {
                (false, GcReason::VheapFull)
            } else {
                (false, GcReason::HeapFull)
            };
            // Area Invariant 6: the nursery the cursors name becomes from-space.
            for cursor in cursors.iter_mut() {
                **cursor = Cursor::default();
            }
            Cycle::start(state, heaps, major, reason)
        }
    };
    cycle.work = 0;
    cycle.copied = 0;
    cycle.pending.retain(|id| state.heaps.contains(id));
    let reason = cycle.reason;
    let (closed, work, copied, binaries_freed) = if cycle.trace(inner, state, heaps, budget) {
        if verify {
            // Invariant 7, checked before from-space goes.
            let what = "before the message area's cycle closes";
            cycle.check_heaps(heaps).unwrap_or_else(|e| panic!("heap verification failed {what}: {e}"));
        }
        let (freed, work, copied) = cycle.close(inner, state);
        (true, work, copied, freed)
    } else {
        cycle.nursery_mark = state.nursery_words;
        cycle.done += cycle.work;
        cycle.pace(&inner.opts, state.nursery_words);
        let counters = (cycle.work, cycle.copied);
        state.cycle = Some(cycle);
        (false, counters.0, counters.1, 0)
    };
    state.increments += 1;
    if verify {
        super::collector::check_all(inner, state, heaps, "after");
    }
    let after = used_words(state);
    let event = super::collector::area_event(
        GcKind::AreaIncrement,
        reason,
        start,
        words_before,
        after,
        copied,
        binaries_freed,
    );
    AreaIncrement { event, work, started, closed, unbounded: false }
}

/// Words the area holds: nursery, old generation and an open cycle's.
fn used_words(state: &AreaState) -> u64 {
    (state.nursery_words + state.old_words + state.cycle.as_ref().map_or(0, |c| c.words())) as u64
}
