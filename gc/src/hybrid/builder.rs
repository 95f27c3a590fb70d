//! The builder of [`MessageArea::build_from`](super::MessageArea::build_from): a message's
//! own heap (as a fragment's builder) that resolves its sender's roots by copying their
//! private objects into the message and linking what is already in the area.
//!
//! # Invariants
//! 1. The builder's words point at its own objects or at objects of the sender's message
//!    area (a root's term is copied with [`to_fragment_within`] the sender's own memory).
//! 2. The sender is exclusively borrowed for the whole build: its roots and memory do not
//!    change, and the area cannot be collected (its collection needs the sender).

use std::collections::VecDeque;
use std::ptr::NonNull;

use crate::collect::OwnRanges;
use crate::copy::to_fragment_within;
use crate::fragment::{Fragment, Owned};
use crate::heap::Heap;
use crate::layout::{is_pointer, pointer_address};
use crate::mutator::{Mu, Space};
use crate::options::{HeapOptions, MIN_ALLOWED_HEAP_SIZE};
use crate::root::{Root, RootTable};
use crate::term::Term;

/// A message's heap, with read access to its sender's roots (Invariant 2).
struct Builder {
    heap: Heap,
    /// The sender, borrowed by `build_from` for the builder's whole life (a pointer, not a
    /// reference: a `Mu`'s space is a trait object without a lifetime).
    sender: NonNull<Heap>,
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
        // SAFETY: `build_from` borrows the sender for the builder's whole life (Invariant 2)
        // and only reads it through this pointer.
        let sender = unsafe { self.sender.as_ref() };
        if root.heap_id() != sender.id {
            return self.heap.roots.get(root);
        }
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

/// Builds a message for `sender` (see `MessageArea::build_from`); its memory, handles and
/// word, ready for the area.
pub(crate) fn build_from(sender: &mut Heap, build: impl for<'m> FnOnce(Mu<'m>) -> Term<'m>) -> Fragment {
    // As `Fragment::build`: the smallest young block, chunks growing geometrically.
    let opts = HeapOptions { min_heap_size: MIN_ALLOWED_HEAP_SIZE, ..HeapOptions::default() };
    let heap = Heap::new(opts).expect("builder options are valid");
    let within = OwnRanges::of(sender.areas());
    let mut builder = Builder { heap, sender: NonNull::from(&*sender), within };
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
    let (areas, mso, vheap) = heap.take_all();
    Fragment::from_parts(areas, mso, vheap, word)
}
