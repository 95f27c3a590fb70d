//! The builder of a message of the area ([`MessageArea::build`],
//! [`MessageArea::build_from`]): a message's own heap whose young block is lent from its
//! shard's nursery chunk, and which resolves its sender's roots by copying their private
//! objects into the message and linking what is already in the area.
//!
//! # Invariants
//! 1. The builder's words point at its own objects or at objects of the sender's message
//!    area (a root's term is copied with [`to_fragment_within`] the sender's own memory).
//! 2. The sender is exclusively borrowed for the whole build: its roots and memory do not
//!    change, and the area cannot be collected (its collection needs the sender, and the
//!    shard's cursor the build holds).

use std::collections::VecDeque;
use std::ptr::NonNull;

use std::sync::{Mutex, MutexGuard, TryLockError};

use super::area::{shard_of_thread, AreaMessage, Cursor, MessageArea, CHUNK_MIN_FREE, CHUNK_WORDS};
use crate::area::Area;
use crate::block::Block;
use crate::collect::OwnRanges;
use crate::copy::to_fragment_within;
use crate::fragment::Owned;
use crate::heap::Heap;
use crate::layout::{address_ptr, exposed_address, is_pointer, pointer_address};
use crate::mutator::{Mu, Space};
use crate::options::{HeapOptions, MIN_ALLOWED_HEAP_SIZE};
use crate::root::{Root, RootTable};
use crate::term::Term;

/// A message's heap, with read access to its sender's roots (Invariant 2).
struct Builder {
    heap: Heap,
    /// The sender, borrowed by `build_message` for the builder's whole life (a pointer, not
    /// a reference: a `Mu`'s space is a trait object without a lifetime); `None` for a
    /// message built from nothing.
    sender: Option<NonNull<Heap>>,
    /// The sender's own memory: what a root's copy copies (Invariant 1).
    within: OwnRanges,
}

impl Space for Builder {
    fn alloc_slow(&mut self, words: usize) -> *mut u64 {
        Space::alloc_slow(&mut self.heap, words)
    }

    fn note_young_handle(&mut self, addr: usize, bytes: usize) {
        Space::note_young_handle(&mut self.heap, addr, bytes)
    }

    fn roots(&mut self) -> &mut RootTable {
        Space::roots(&mut self.heap)
    }

    fn root_word(&mut self, root: &Root) -> u64 {
        // SAFETY: `build_message` borrows the sender for the builder's whole life
        // (Invariant 2) and only reads it through this pointer.
        let sender = self.sender.map(|s| unsafe { s.as_ref() });
        let Some(sender) = sender.filter(|s| s.id == root.heap_id()) else {
            return self.heap.roots.get(root);
        };
        let word = sender.roots.get(root);
        if !is_pointer(word) || !self.within.contains(pointer_address(word)) {
            // An immediate, or a term of the area: linked (Invariant 1).
            return word;
        }
        // SAFETY: a root of the sender holds a term of the sender's heap, which does not
        // change while the build borrows it (Invariant 2); the brand ends with the copy.
        let term = unsafe { Term::from_raw(word) };
        let (parts, word) = to_fragment_within(term, &self.within).into_parts();
        if let Some(owned) = parts {
            self.heap.adopt(owned);
        }
        word
    }

    fn messages(&mut self) -> &mut VecDeque<u64> {
        Space::messages(&mut self.heap)
    }

    fn adopt(&mut self, owned: Owned) {
        self.heap.adopt(owned)
    }
}

/// Locks `m` unless it is held (by this thread's enclosing build, or another thread).
fn try_lock<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match m.try_lock() {
        Ok(guard) => Some(guard),
        // A build that panicked left the cursor as it was before it (it advances only on
        // adoption).
        Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

/// Lends the free words of the shard's chunk (a new chunk if it has too few) to `heap` as its
/// young block (area Invariant 6).
fn lend_chunk(area: &MessageArea, cursor: &mut Cursor, heap: &mut Heap) {
    let free = cursor.chunk.map_or(0, |(_, _, words)| words - cursor.top);
    if free < CHUNK_MIN_FREE {
        let block = Block::new(CHUNK_WORDS);
        let base = exposed_address(block.start());
        let mut state = area.inner.lock();
        state.nursery.push(Area { block, used: 0 });
        cursor.chunk = Some((state.nursery.len() - 1, base, CHUNK_WORDS));
        cursor.top = 0;
    }
    let (_, base, words) = cursor.chunk.expect("a chunk was made above");
    // SAFETY: `[top, words)` of the chunk is unused, and only the holder of the cursor (this
    // build, until its adoption) writes there; the chunk lives in the nursery until a
    // collection, which takes the cursor first (area Invariant 6).
    let lent = unsafe { Block::lent(address_ptr(base).add(cursor.top), words - cursor.top) };
    heap.young = Some(lent);
    heap.young_top = 0;
    heap.reset_bump();
}

/// Builds a message of `area` for `sender` (see `MessageArea::build_from`), or from nothing:
/// in its shard's nursery chunk when that is free, in blocks of its own otherwise.
pub(crate) fn build_message(
    area: &MessageArea,
    sender: Option<&mut Heap>,
    build: impl for<'m> FnOnce(Mu<'m>) -> Term<'m>,
) -> AreaMessage {
    // As `Fragment::build`: the smallest young block, chunks growing geometrically.
    let opts = HeapOptions { min_heap_size: MIN_ALLOWED_HEAP_SIZE, ..HeapOptions::default() };
    let mut heap = Heap::new(opts).expect("builder options are valid");
    let mut cursor = try_lock(&area.inner.cursors[shard_of_thread()]);
    if let Some(cursor) = cursor.as_deref_mut() {
        lend_chunk(area, cursor, &mut heap);
    }
    let within = sender.as_deref().map_or_else(OwnRanges::default, |s| OwnRanges::of(s.areas()));
    let mut builder = Builder { heap, sender: sender.map(|s| NonNull::from(&*s)), within };
    let word = {
        let space = NonNull::from(&mut builder);
        // SAFETY: the builder is exclusively borrowed for the whole brand, on this thread,
        // and the bump region is its heap's (mutator Invariants 1 and 4); both pointers
        // come from the same `NonNull`, as `Heap::enter` makes them.
        let mu = unsafe {
            let bump = NonNull::new_unchecked(&raw mut (*space.as_ptr()).heap.bump);
            Mu::new(space, bump)
        };
        build(mu).raw()
    };
    let mut heap = builder.heap;
    heap.sync_bump();
    let (areas, mso, vheap_words) = heap.take_all();
    area.adopt(Owned { areas, mso, vheap_words }, word, cursor.as_deref_mut())
}
