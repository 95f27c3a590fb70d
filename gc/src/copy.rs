//! `copy_term`: copying a term out of a heap into a standalone fragment.
//!
//! Two passes, as erl_copy.c: a size pass computes the exact number of words, then one block
//! of that size receives the copy, filled Cheney-style (the root object is copied, then the
//! copy is scanned left to right and every field still pointing at the source is replaced by
//! a copy of its target). The source is only read, never marked. By default shared subterms
//! are copied once per path, as a BEAM send does (`[L, L, L]` costs three copies of `L`); the
//! sharing-preserving mode keeps a map from source to copy so a DAG stays a DAG. Refc
//! binaries are shared: the handle is copied and takes a reference, the bytes are not.
//!
//! # Invariants
//! 1. After the copy every pointer in the fragment points into the fragment (fragment
//!    Invariant 1), and the fragment holds exactly the size-pass count of words. The one
//!    exception is a copy `within` a hybrid heap's own memory, which keeps its pointers into
//!    the message area (see `to_fragment_within`).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use crate::area::Area;
use crate::binary;
use crate::block::Block;
use crate::collect::OwnRanges;
use crate::fragment::Fragment;
use crate::layout::*;
use crate::object::{for_each_field, object_size, refc_binary_of};
use crate::term::Term;

/// A hasher for word-aligned addresses: one multiply (Fibonacci hashing). SipHash, the
/// default, made the sharing-preserving copy several times slower than the flat one, and
/// addresses need no protection against crafted collisions.
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, addr: usize) {
        self.0 = (addr as u64 >> 3).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type AddressMap<V> = HashMap<usize, V, BuildHasherDefault<AddressHasher>>;
type AddressSet = HashSet<usize, BuildHasherDefault<AddressHasher>>;

/// Words needed to copy `word` (counting each shared subterm once when `shared`), counting
/// only objects inside `within` when given (the others are linked, not copied).
fn size_within(word: u64, shared: bool, within: Option<&OwnRanges>) -> usize {
    if !is_pointer(word) {
        return 0;
    }
    // Sends are frequent and messages small: no stack allocated per message.
    crate::scratch::with_words(|stack| size_with(word, shared, within, stack))
}

fn size_with(word: u64, shared: bool, within: Option<&OwnRanges>, stack: &mut Vec<u64>) -> usize {
    let mut seen = AddressSet::default();
    stack.push(word);
    let mut words = 0;
    while let Some(w) = stack.pop() {
        if !is_pointer(w) || within.is_some_and(|r| !r.contains(pointer_address(w))) {
            continue;
        }
        let obj = object_ptr(w);
        if shared && !seen.insert(obj as usize) {
            continue;
        }
        let first = stack.len();
        // SAFETY: `w` is a term of a live brand (the caller's), so `obj` is a well-formed
        // object; the walk only reads the fields.
        words += unsafe { for_each_field(obj, |field| stack.push(*field)) };
        // Visit fields in order, so a list's tail comes last and the stack stays shallow.
        stack[first..].reverse();
    }
    words
}

struct TermCopier<'r> {
    /// Only objects inside these ranges are copied; a pointer elsewhere is kept as it is.
    within: Option<&'r OwnRanges>,
    base: *mut u64,
    top: usize,
    capacity: usize,
    mso: Vec<usize>,
    vheap_words: usize,
    copies: Option<AddressMap<u64>>,
}

impl TermCopier<'_> {
    /// Copies the object `word` points at (not its children) to the end of the block.
    ///
    /// # Safety
    /// `word` is an immediate or a pointer to a live object of the source.
    unsafe fn shallow(&mut self, word: u64) -> u64 {
        if !is_pointer(word) || self.within.is_some_and(|r| !r.contains(pointer_address(word))) {
            return word;
        }
        let src = object_ptr(word);
        if let Some(copies) = &self.copies {
            if let Some(&copy) = copies.get(&(src as usize)) {
                return copy;
            }
        }
        // SAFETY: `src` is a live, well-formed object (caller); the size pass reserved room
        // for it (Invariant 1), checked by the assertion.
        unsafe {
            let size = object_size(src);
            assert!(self.top + size <= self.capacity, "copy_term outgrew its size pass");
            let dst = self.base.add(self.top);
            for i in 0..size {
                *dst.add(i) = *src.add(i);
            }
            self.top += size;
            if let Some(bin) = refc_binary_of(dst) {
                binary::increment(bin);
                self.mso.push(dst as usize);
                self.vheap_words += binary::len(bin).div_ceil(8);
            }
            let copy = tagged(dst, word & PRIMARY_MASK);
            if let Some(copies) = &mut self.copies {
                copies.insert(src as usize, copy);
            }
            copy
        }
    }
}

/// Copies `term` into a new fragment. Inlined: an immediate (a ring's token, a bare atom)
/// needs no copy, and its senders then skip the call.
#[inline]
pub(crate) fn to_fragment(term: Term<'_>, shared: bool) -> Fragment {
    let word = term.raw();
    if !is_pointer(word) {
        return Fragment::from_parts(Vec::new(), Vec::new(), 0, word);
    }
    copy_to_fragment(term, shared)
}

/// Copies the objects of `term` that lie inside `within` into a new fragment; pointers to
/// objects elsewhere (a hybrid heap's message area) are kept, not followed. The fragment
/// then points outside itself: it must become part of the memory those pointers reach
/// before anything can collect that memory (see `MessageArea::build_from`).
pub(crate) fn to_fragment_within(term: Term<'_>, within: &OwnRanges) -> Fragment {
    let word = term.raw();
    if !is_pointer(word) || !within.contains(pointer_address(word)) {
        return Fragment::from_parts(Vec::new(), Vec::new(), 0, word);
    }
    copy_to_fragment_within(term, false, Some(within))
}

/// [`to_fragment`] of a boxed term or a list.
fn copy_to_fragment(term: Term<'_>, shared: bool) -> Fragment {
    copy_to_fragment_within(term, shared, None)
}

fn copy_to_fragment_within(term: Term<'_>, shared: bool, within: Option<&OwnRanges>) -> Fragment {
    let word = term.raw();
    let size = size_within(word, shared, within);
    let block = Block::new(size);
    let mut copier = TermCopier {
        within,
        base: block.start(),
        top: 0,
        capacity: size,
        mso: Vec::new(),
        vheap_words: 0,
        copies: shared.then(|| AddressMap::with_capacity_and_hasher(size / 2, Default::default())),
    };
    // SAFETY: `term` is live for its brand; every field scanned below was copied from the
    // source and still holds a source term until it is replaced.
    let root = unsafe { copier.shallow(word) };
    let mut scan = 0;
    while scan < copier.top {
        // SAFETY: `scan` is the start of an object the copier wrote (objects are gap-free).
        unsafe {
            let obj = copier.base.add(scan);
            scan += for_each_field(obj, |field| *field = copier.shallow(*field));
        }
    }
    assert_eq!(copier.top, size, "copy_term wrote fewer words than its size pass");
    Fragment::from_parts(vec![Area { block, used: size }], copier.mso, copier.vheap_words, root)
}
