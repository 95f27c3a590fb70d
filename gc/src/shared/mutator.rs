//! Processes of a shared heap: each [`Mutator`] holds one process's roots and message queue;
//! the [`Mutators`] lists them all, with the in-flight messages, as the collector's roots.
//!
//! # Invariants
//! 1. Every live `Mutator`'s state is in the mutators until the mutator drops; the collector
//!    locks each state while it rewrites its roots, so a state is only changed under its lock.
//! 2. A sent, undelivered message's word is in an in-flight root table until it is delivered
//!    (moved into the receiver's queue by a worker holding its TLAB, so never while a
//!    collection scans the roots) or the message is dropped.
//! 3. A [`Bound`] lives on the stack of [`Mutator::enter`] and points at a locked state and
//!    the caller's `&mut Tlab` for exactly the brand's lifetime.

use std::collections::VecDeque;
use std::fmt;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, MutexGuard};

use super::tlab::Tlab;
use super::{Inner, Want};
use crate::area::next_heap_id;
use crate::event::GcReason;
use crate::fragment::{Fragment, Owned};
use crate::layout::is_pointer;
use crate::mutator::{Mu, Space};
use crate::root::RootTable;
use crate::term::Term;

/// One process's roots and delivered messages.
pub(crate) struct ProcessRoots {
    pub(crate) roots: RootTable,
    pub(crate) messages: VecDeque<u64>,
}

impl ProcessRoots {
    /// Calls `f` on every root word (root slots, then messages).
    pub(crate) fn for_each_root_mut(&mut self, mut f: impl FnMut(&mut u64)) {
        self.roots.drain_released();
        for slot in self.roots.live_slots_mut() {
            f(slot);
        }
        for word in self.messages.iter_mut() {
            f(word);
        }
    }
}

pub(crate) type StateCell = Arc<Mutex<ProcessRoots>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every mutator and in-flight message of a heap.
#[derive(Default)]
pub(crate) struct Mutators {
    states: Mutex<Slots>,
    /// In-flight messages, one table per worker (by TLAB index) so sends rarely contend.
    in_flight: Mutex<Vec<Arc<Mutex<RootTable>>>>,
}

/// Registered states with a free list.
#[derive(Default)]
struct Slots {
    cells: Vec<Option<StateCell>>,
    free: Vec<usize>,
}

impl Mutators {
    fn add(&self, cell: StateCell) -> usize {
        let mut slots = lock(&self.states);
        match slots.free.pop() {
            Some(i) => {
                slots.cells[i] = Some(cell);
                i
            }
            None => {
                slots.cells.push(Some(cell));
                slots.cells.len() - 1
            }
        }
    }

    fn remove(&self, key: usize) {
        let mut slots = lock(&self.states);
        slots.cells[key] = None;
        slots.free.push(key);
    }

    pub(crate) fn len(&self) -> usize {
        let slots = lock(&self.states);
        slots.cells.len() - slots.free.len()
    }

    /// The in-flight table of worker `index`, created on first use.
    fn shard(&self, index: usize) -> Arc<Mutex<RootTable>> {
        let mut shards = lock(&self.in_flight);
        while shards.len() <= index {
            shards.push(Arc::new(Mutex::new(RootTable::new(next_heap_id()))));
        }
        Arc::clone(&shards[index])
    }

    pub(crate) fn in_flight(&self) -> usize {
        lock(&self.in_flight).iter().map(|s| lock(s).live_count()).sum()
    }

    /// Every root source, for a collection: each state and each in-flight table.
    pub(crate) fn sources(&self) -> Vec<RootSource> {
        let mut out: Vec<RootSource> =
            lock(&self.states).cells.iter().flatten().cloned().map(RootSource::ProcessRoots).collect();
        out.extend(lock(&self.in_flight).iter().cloned().map(RootSource::InFlight));
        out
    }

    /// Every root word (for the verifier).
    pub(crate) fn root_words(&self) -> Vec<u64> {
        let mut words = Vec::new();
        for source in self.sources() {
            source.for_each_root_mut(|w| words.push(*w));
        }
        words
    }
}

/// Where a collection finds roots.
pub(crate) enum RootSource {
    ProcessRoots(StateCell),
    InFlight(Arc<Mutex<RootTable>>),
}

impl RootSource {
    /// Calls `f` on every root word of this source, under its lock (Invariant 1).
    pub(crate) fn for_each_root_mut(&self, mut f: impl FnMut(&mut u64)) {
        match self {
            RootSource::ProcessRoots(cell) => lock(cell).for_each_root_mut(f),
            RootSource::InFlight(table) => {
                let mut table = lock(table);
                table.drain_released();
                for slot in table.live_slots_mut() {
                    f(slot);
                }
            }
        }
    }
}

/// One process's view of the shared heap: its roots and message queue. `Send`.
pub struct Mutator {
    inner: Arc<Inner>,
    state: StateCell,
    key: usize,
}

impl fmt::Debug for Mutator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mutator(heap {}, slot {})", self.inner.id, self.key)
    }
}

/// A message sent by reference: its word waits in an in-flight root table until delivered.
/// Dropping it undelivered lets the collector reclaim the term. `Send`.
pub struct SharedMessage {
    heap: u64,
    /// The word itself when it is an immediate: nothing for a collection to find or move.
    immediate: Option<u64>,
    /// Otherwise the in-flight shard and the slot holding the word; `None` once delivered.
    shard: Option<Arc<Mutex<RootTable>>>,
    slot: Option<u32>,
}

impl fmt::Debug for SharedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedMessage(heap {}, slot {:?})", self.heap, self.slot)
    }
}

impl SharedMessage {
    /// Frees the message's slot and returns its word.
    fn take(&mut self) -> Option<u64> {
        if let Some(word) = self.immediate.take() {
            return Some(word);
        }
        let slot = self.slot.take()?;
        Some(lock(self.shard.as_ref()?).take_slot(slot))
    }
}

impl Drop for SharedMessage {
    /// An undelivered message stops being a root: the next collection reclaims its term.
    fn drop(&mut self) {
        self.take();
    }
}

impl Mutator {
    pub(crate) fn register(inner: Arc<Inner>) -> Mutator {
        let state = Arc::new(Mutex::new(ProcessRoots {
            roots: RootTable::new(next_heap_id()),
            messages: VecDeque::new(),
        }));
        let key = inner.mutators.add(Arc::clone(&state));
        Mutator { inner, state, key }
    }

    /// Runs `f` with an allocation handle under a fresh brand; allocation goes through
    /// `tlab`, the buffer of the worker this runs on.
    ///
    /// # Panics
    /// If `tlab` belongs to another heap.
    pub fn enter<R>(&mut self, tlab: &mut Tlab, f: impl for<'h> FnOnce(Mu<'h>) -> R) -> R {
        self.inner.check_tlab(tlab);
        let mut state = lock(&self.state);
        let mut bound =
            Bound { state: NonNull::from(&mut *state), tlab: NonNull::from(tlab), inner: &*self.inner };
        // SAFETY: `bound` points at the locked state and the exclusively borrowed TLAB for
        // the whole call (Invariant 3); the handle is !Send and dies with the closure; while
        // `tlab` is borrowed no collection can start (module Invariant 1).
        // A pointer straight from the TLAB pointer, not through a reference: `Bound` hands
        // out `&mut Tlab`s while the brand lasts, and those must not invalidate it.
        // SAFETY: `bound.tlab` points at the exclusively borrowed TLAB (Invariant 3).
        let bump = unsafe { NonNull::new_unchecked(&raw mut (*bound.tlab.as_ptr()).bump) };
        let space: NonNull<dyn Space> = NonNull::from(&mut bound);
        // SAFETY: as above; the bump region is the TLAB's (mutator Invariant 4).
        let mu = unsafe { Mu::new(space, bump) };
        f(mu)
    }

    /// Builds a message with `build` and sends it by reference: no copy.
    pub fn send(&mut self, tlab: &mut Tlab, build: impl for<'h> FnOnce(Mu<'h>) -> Term<'h>) -> SharedMessage {
        let word = self.enter(tlab, |h| build(h).raw());
        if !is_pointer(word) {
            return SharedMessage { heap: self.inner.id, immediate: Some(word), shard: None, slot: None };
        }
        // Still holding `tlab`, so no collection can run before the word is rooted.
        let shard = match &tlab.shard {
            Some(shard) => Arc::clone(shard),
            None => {
                let shard = self.inner.mutators.shard(tlab.index);
                tlab.shard = Some(Arc::clone(&shard));
                shard
            }
        };
        let slot = lock(&shard).insert_slot(word);
        SharedMessage { heap: self.inner.id, immediate: None, shard: Some(shard), slot: Some(slot) }
    }

    /// Appends a message sent by reference to the message queue.
    ///
    /// Moving the word from the in-flight table to the queue touches two root sources, so it
    /// needs `tlab`, as every operation on heap words does: no collection runs while a
    /// worker holds its TLAB outside a safepoint (module Invariant 1), so the collector
    /// never scans one source before the move and the other after it.
    ///
    /// # Panics
    /// If the message was sent on another heap, or `tlab` belongs to another heap.
    pub fn deliver(&mut self, tlab: &mut Tlab, mut message: SharedMessage) {
        self.inner.check_tlab(tlab);
        assert_eq!(message.heap, self.inner.id, "a message of another shared heap was delivered");
        let mut state = lock(&self.state);
        let word = message.take().expect("an undelivered message holds its slot");
        state.messages.push_back(word);
    }

    /// Appends a message copied from outside the heap (a fragment): its memory becomes young
    /// data of the shared heap without a copy.
    pub fn deliver_fragment(&mut self, tlab: &mut Tlab, fragment: Fragment) {
        self.enter(tlab, |h| {
            let term = h.attach(fragment);
            h.push_message(term);
        });
    }

    /// Delivered messages not yet taken.
    pub fn message_count(&self) -> usize {
        lock(&self.state).messages.len()
    }

    /// Occupied root slots.
    pub fn root_count(&self) -> usize {
        lock(&self.state).roots.live_count()
    }

    /// The heap this mutator belongs to.
    pub fn heap(&self) -> super::SharedHeap {
        super::SharedHeap { inner: Arc::clone(&self.inner) }
    }
}

impl Drop for Mutator {
    /// Unregisters the process: its roots and messages are gone, and what only they reached
    /// is garbage for the next collection (nothing is freed now).
    fn drop(&mut self) {
        self.inner.mutators.remove(self.key);
    }
}

/// A mutator bound to a worker's TLAB for one brand: the [`Space`] behind a shared-heap `Mu`.
pub(crate) struct Bound {
    state: NonNull<ProcessRoots>,
    tlab: NonNull<Tlab>,
    inner: *const Inner,
}

impl Bound {
    fn state(&mut self) -> &mut ProcessRoots {
        // SAFETY: the state is locked by `enter` for the brand (Invariant 3), and `&mut self`
        // makes this the only reference made through the bound.
        unsafe { self.state.as_mut() }
    }

    fn tlab(&mut self) -> &mut Tlab {
        // SAFETY: `enter` holds `&mut Tlab` for the brand (Invariant 3).
        unsafe { self.tlab.as_mut() }
    }
}

impl Space for Bound {
    fn alloc_slow(&mut self, words: usize) -> *mut u64 {
        self.tlab().alloc_slow(words)
    }

    fn note_young_handle(&mut self, addr: usize, bytes: usize) {
        self.tlab().note_handle(addr, bytes)
    }

    fn roots(&mut self) -> &mut RootTable {
        &mut self.state().roots
    }

    fn messages(&mut self) -> &mut VecDeque<u64> {
        &mut self.state().messages
    }

    fn adopt(&mut self, mut owned: Owned) {
        // SAFETY: `inner` outlives the brand (`enter` holds the mutator, which holds it).
        let inner = unsafe { &*self.inner };
        let outside = inner.spaces.add_young(owned.areas, &mut owned.mso, owned.vheap_words);
        // Adopted fragments are young data the nursery does not bound: collect once they
        // hold as much as the nursery.
        if outside >= inner.spaces.nursery.words() {
            inner.request(Want::Minor, GcReason::HeapFull);
        }
    }
}
