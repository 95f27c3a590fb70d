//! Roots: handles that keep a term alive, and findable, across collections.
//!
//! A [`Root`] names a slot in its heap's root table. The collector treats every occupied slot
//! as a root and rewrites it when the term moves, so a root read after a collection yields
//! the moved term. Dropping a `Root` does not need the heap: the slot number goes onto a
//! shared release list that the heap drains before its next collection or root allocation.
//!
//! # Invariants
//! 1. A slot is either free (holds `NON_VALUE`, listed in `free`) or holds a term of this
//!    heap; a released slot keeps its term alive only until the next drain.
//! 2. A `Root` is only read or written through the heap whose `id` it carries (checked).

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::layout::NON_VALUE;

#[derive(Default)]
pub(crate) struct Released {
    count: AtomicUsize,
    slots: Mutex<Vec<u32>>,
}

/// A handle keeping one term of one heap alive across collections.
///
/// Read it with [`Mu::get`](crate::Mu::get), replace its term with
/// [`Mu::set`](crate::Mu::set). Using a root with a heap it does not belong to panics.
pub struct Root {
    heap: u64,
    slot: u32,
    released: Arc<Released>,
}

impl Root {
    /// Id of the heap this root belongs to.
    pub fn heap_id(&self) -> u64 {
        self.heap
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        self.released.slots.lock().unwrap_or_else(|e| e.into_inner()).push(self.slot);
        self.released.count.fetch_add(1, Ordering::Release);
    }
}

impl fmt::Debug for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Root(heap {}, slot {})", self.heap, self.slot)
    }
}

/// The root table of one heap.
pub(crate) struct RootTable {
    heap: u64,
    pub(crate) slots: Vec<u64>,
    free: Vec<u32>,
    /// Created with the first root, so a heap that never roots anything allocates nothing.
    released: Option<Arc<Released>>,
}

impl RootTable {
    pub(crate) fn new(heap: u64) -> RootTable {
        RootTable { heap, slots: Vec::new(), free: Vec::new(), released: None }
    }

    /// Whether no root was ever made in this table.
    pub(crate) fn is_untouched(&self) -> bool {
        self.slots.is_empty() && self.released.is_none()
    }

    /// Frees the slots of dropped roots (Invariant 1).
    pub(crate) fn drain_released(&mut self) {
        let Some(shared) = &self.released else { return };
        if shared.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut released = shared.slots.lock().unwrap_or_else(|e| e.into_inner());
        shared.count.fetch_sub(released.len(), Ordering::AcqRel);
        for slot in released.drain(..) {
            self.slots[slot as usize] = NON_VALUE;
            self.free.push(slot);
        }
    }

    pub(crate) fn insert(&mut self, word: u64) -> Root {
        self.drain_released();
        let slot = self.insert_slot(word);
        let released = Arc::clone(self.released.get_or_insert_with(Arc::default));
        Root { heap: self.heap, slot, released }
    }

    /// Occupies a slot with `word` without a [`Root`] handle: the caller frees it with
    /// [`RootTable::take_slot`] (in-flight messages of the shared heap, which need no
    /// release list because their owner always has the table at hand).
    pub(crate) fn insert_slot(&mut self, word: u64) -> u32 {
        match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = word;
                s
            }
            None => {
                self.slots.push(word);
                u32::try_from(self.slots.len() - 1).expect("more than 2^32 roots")
            }
        }
    }

    /// Frees a slot taken by [`RootTable::insert_slot`] and returns its word.
    pub(crate) fn take_slot(&mut self, slot: u32) -> u64 {
        let word = std::mem::replace(&mut self.slots[slot as usize], NON_VALUE);
        debug_assert_ne!(word, NON_VALUE, "in-flight slot {slot} taken twice");
        self.free.push(slot);
        word
    }

    fn check(&self, root: &Root) -> usize {
        assert_eq!(root.heap, self.heap, "a Root of heap {} was used with heap {}", root.heap, self.heap);
        root.slot as usize
    }

    pub(crate) fn get(&self, root: &Root) -> u64 {
        self.slots[self.check(root)]
    }

    pub(crate) fn set(&mut self, root: &Root, word: u64) {
        let i = self.check(root);
        self.slots[i] = word;
    }

    /// Occupied slots, for the collector and the verifier.
    pub(crate) fn live_slots_mut(&mut self) -> impl Iterator<Item = &mut u64> {
        self.slots.iter_mut().filter(|w| **w != NON_VALUE)
    }

    pub(crate) fn live_slots(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots.iter().copied().filter(|&w| w != NON_VALUE)
    }

    pub(crate) fn live_count(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}
