//! [`Mu`]: the allocation handle of a heap inside a brand.
//!
//! A `Mu` allocates into a [`Space`]: a per-process [`Heap`], or a process's view of the
//! shared heap (its roots and messages, and the allocation buffer of the scheduler it runs
//! on). User code sees one type either way, so it runs unchanged under every heap strategy.
//! Every space is reached the same way, through the `Space` trait; the allocation fast path
//! does not even do that: it bumps the space's [`Bump`] region, which the handle points at
//! directly, and calls the space only when the region has no room.
//!
//! # Invariants
//! 1. A `Mu<'h>` exists only inside [`Heap::enter`] (or a shared-heap mutator's `enter`, or a
//!    fragment builder), which holds its space exclusively for `'h`; `Mu` is `!Send`, so
//!    every copy stays on that thread.
//! 2. A method that needs `&mut` access to the space creates it for the duration of the
//!    method only and runs no caller code while holding it, so two never coexist.
//! 3. Every term a method returns addresses objects of this heap only: terms of other brands
//!    are copied in ([`Mu::copy`]), never linked.
//! 4. A `Mu`'s `bump` is the bump region of its space (a field of the space, or of the
//!    allocation buffer the space allocates through): bumping it is allocating in the space.

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::ptr::NonNull;

use crate::area::Bump;
use crate::atom::Atom;
use crate::binary::{self, Binary};
use crate::copy;
use crate::fragment::{Fragment, Owned};
use crate::heap::Heap;
use crate::layout::*;
use crate::root::{Root, RootTable};
use crate::term::{Brand, Pid, Ref, Term};

/// What a `Mu` allocates into: the operations a heap strategy provides to terms.
pub(crate) trait Space {
    /// Allocates `words` uninitialised words that never move while the brand lasts, when the
    /// bump region has no room for them (refilling it).
    fn alloc_slow(&mut self, words: usize) -> *mut u64;
    /// Records a refc-binary handle just written at `addr`, referencing `bytes` bytes.
    fn note_young_handle(&mut self, addr: usize, bytes: usize);
    /// The process's root table.
    fn roots(&mut self) -> &mut RootTable;
    /// The word `root` holds, as a term of this space ([`Mu::get`]): by default the root
    /// table's word; a message-area builder copies a root of its sender into the message.
    fn root_word(&mut self, root: &Root) -> u64 {
        self.roots().get(root)
    }
    /// The process's delivered, unconsumed messages.
    fn messages(&mut self) -> &mut VecDeque<u64>;
    /// Takes over a fragment's memory and handles as young data.
    fn adopt(&mut self, owned: Owned);
}

/// Allocation handle of the heap branded `'h`: builds terms, roots them, copies terms in.
#[derive(Copy, Clone)]
pub struct Mu<'h> {
    /// The space's bump region (Invariant 4).
    bump: NonNull<Bump>,
    space: NonNull<dyn Space>,
    _brand: Brand<'h>,
    _not_send: PhantomData<*const ()>,
}

impl<'h> Mu<'h> {
    /// # Safety
    /// `space` is exclusively borrowed for the whole of `'h`, on this thread, and its bump
    /// region is the one `bump` points at (Invariants 1 and 4).
    pub(crate) unsafe fn new(space: NonNull<dyn Space>, bump: NonNull<Bump>) -> Mu<'h> {
        Mu { bump, space, _brand: PhantomData, _not_send: PhantomData }
    }

    /// A handle on a per-process heap.
    ///
    /// # Safety
    /// `heap` is exclusively borrowed for the whole of `'h`, on this thread (Invariant 1).
    pub(crate) unsafe fn of_heap(heap: NonNull<Heap>) -> Mu<'h> {
        // SAFETY: the bump region is a field of the heap (Invariant 4); the caller's promise
        // covers the rest.
        unsafe { Mu::new(heap, NonNull::new_unchecked(&raw mut (*heap.as_ptr()).bump)) }
    }

    /// Runs `f` on the space. `f` must not call back into caller code (Invariant 2).
    #[inline]
    fn with_heap<R>(self, f: impl FnOnce(&mut dyn Space) -> R) -> R {
        // SAFETY: the space is exclusively ours for 'h (Invariant 1), and no other `&mut`
        // to it exists while `f` runs because `f` runs no caller code (Invariant 2).
        unsafe { f(&mut *self.space.as_ptr()) }
    }

    /// The allocation fast path: a bump of the space's region, the space itself only when
    /// the region is full.
    #[inline(always)]
    fn alloc(self, words: usize) -> *mut u64 {
        // SAFETY: the region belongs to the space we hold for 'h (Invariants 1 and 4); no
        // other reference to it is alive while this runs.
        match unsafe { (*self.bump.as_ptr()).take(words) } {
            Some(p) => p,
            None => self.with_heap(|space| space.alloc_slow(words)),
        }
    }

    /// Allocates `words` words and lets `fill` write them (all of them).
    ///
    /// # Safety
    /// `fill` writes every word of the allocation with a well-formed object of this heap.
    #[inline]
    pub(crate) unsafe fn alloc_with(self, words: usize, fill: impl FnOnce(*mut u64)) -> *mut u64 {
        let p = self.alloc(words);
        fill(p);
        p
    }

    /// `[]`.
    #[inline]
    pub fn nil(self) -> Term<'h> {
        Term::nil()
    }

    /// An atom term.
    #[inline]
    pub fn atom(self, atom: Atom) -> Term<'h> {
        Term::atom(atom)
    }

    /// The atom with this name, interned if new.
    pub fn atom_named(self, name: &str) -> Term<'h> {
        Term::atom(Atom::new(name))
    }

    /// `true` or `false`.
    #[inline]
    pub fn bool(self, b: bool) -> Term<'h> {
        Term::atom(Atom::from(b))
    }

    /// A pid term.
    #[inline]
    pub fn pid(self, pid: Pid) -> Term<'h> {
        Term::pid(pid)
    }

    /// A reference term.
    #[inline]
    pub fn reference(self, r: Ref) -> Term<'h> {
        Term::reference(r)
    }

    /// An integer: immediate when it fits 60 bits, otherwise a two-word boxed integer.
    #[inline]
    pub fn int(self, value: i64) -> Term<'h> {
        if let Some(t) = Term::small(value) {
            return t;
        }
        // SAFETY: two words written: header and value.
        let p = unsafe {
            self.alloc_with(2, |p| {
                p.write(header(SUB_BIG, 1));
                p.add(1).write(value as u64);
            })
        };
        // SAFETY: `p` is a fresh, well-formed boxed object of this heap.
        unsafe { Term::from_raw(tagged(p, TAG_BOXED)) }
    }

    /// A float.
    pub fn float(self, value: f64) -> Term<'h> {
        // SAFETY: two words written: header and bits.
        let p = unsafe {
            self.alloc_with(2, |p| {
                p.write(header(SUB_FLOAT, 1));
                p.add(1).write(value.to_bits());
            })
        };
        // SAFETY: fresh, well-formed boxed object of this heap.
        unsafe { Term::from_raw(tagged(p, TAG_BOXED)) }
    }

    /// A cons cell `[head | tail]`.
    #[inline(always)]
    pub fn cons(self, head: Term<'h>, tail: Term<'h>) -> Term<'h> {
        // SAFETY: two words written: car and cdr, both terms of this brand.
        let p = unsafe {
            self.alloc_with(2, |p| {
                p.write(head.raw());
                p.add(1).write(tail.raw());
            })
        };
        // SAFETY: fresh cons cell of this heap.
        unsafe { Term::from_raw(tagged(p, TAG_LIST)) }
    }

    /// A tuple of `elements`.
    #[inline]
    pub fn tuple(self, elements: &[Term<'h>]) -> Term<'h> {
        let n = elements.len();
        // SAFETY: 1 + n words written: header and the elements, terms of this brand.
        let p = unsafe {
            self.alloc_with(1 + n, |p| {
                p.write(header(SUB_TUPLE, n as u64));
                // Tuples are short: a word loop beats a call to memmove.
                for (i, e) in elements.iter().enumerate() {
                    p.add(1 + i).write(e.raw());
                }
            })
        };
        // SAFETY: fresh, well-formed tuple of this heap.
        unsafe { Term::from_raw(tagged(p, TAG_BOXED)) }
    }

    /// A proper list of the items, in order.
    pub fn list(self, items: impl IntoIterator<Item = Term<'h>>) -> Term<'h> {
        self.list_with_tail(items, Term::nil())
    }

    /// A list of the items ending in `tail` (improper unless `tail` is a list).
    pub fn list_with_tail(self, items: impl IntoIterator<Item = Term<'h>>, tail: Term<'h>) -> Term<'h> {
        // Lists are built constantly: collect into the thread's scratch buffer rather than a
        // fresh vector each time (a nested list gets a buffer of its own).
        crate::scratch::with_words(|words| {
            // Collect first: the iterator may itself allocate (Invariant 2). The words are terms
            // of this brand, used before the brand ends.
            words.extend(items.into_iter().map(Term::raw));
            let n = words.len();
            if n == 0 {
                tail
            } else {
                // One chunk for all cells; each cell points at the next one, the last at `tail`.
                // SAFETY: 2n words written, every car a term of this brand and every cdr a list
                // pointer to the following cell of the same allocation, or `tail`.
                let p = unsafe {
                    self.alloc_with(2 * n, |p| {
                        for (i, &item) in words.iter().enumerate() {
                            let cell = p.add(2 * i);
                            cell.write(item);
                            let next =
                                if i + 1 < n { tagged(p.add(2 * (i + 1)), TAG_LIST) } else { tail.raw() };
                            cell.add(1).write(next);
                        }
                    })
                };
                // SAFETY: fresh cons cells of this heap.
                unsafe { Term::from_raw(tagged(p, TAG_LIST)) }
            }
        })
    }

    /// A binary holding a copy of `bytes`: on the heap up to 64 bytes, off-heap above.
    pub fn binary(self, bytes: &[u8]) -> Term<'h> {
        if bytes.len() <= HEAP_BINARY_LIMIT {
            let payload = heap_binary_payload(bytes.len());
            // SAFETY: 1 + payload words written: header, length, bytes zero-padded to words.
            let p = unsafe {
                self.alloc_with(1 + payload, |p| {
                    p.write(header(SUB_HEAP_BIN, payload as u64));
                    p.add(1).write(bytes.len() as u64);
                    let data = p.add(2);
                    for w in 0..payload - 1 {
                        data.add(w).write(0);
                    }
                    std::ptr::copy_nonoverlapping(bytes.as_ptr(), data as *mut u8, bytes.len());
                })
            };
            // SAFETY: fresh heap binary of this heap.
            unsafe { Term::from_raw(tagged(p, TAG_BOXED)) }
        } else {
            let bin = binary::allocate(bytes);
            // SAFETY: `bin` is a new binary whose single reference we hand to the handle.
            unsafe { self.refc_handle(bin.as_ptr()) }
        }
    }

    /// A handle to an existing off-heap binary: shares the bytes, takes one reference.
    pub fn refc_binary(self, bin: &Binary) -> Term<'h> {
        // SAFETY: `bin` holds a reference, so the binary is live; we take one more for the
        // handle.
        unsafe {
            binary::increment(bin.as_raw());
            self.refc_handle(bin.as_raw())
        }
    }

    /// Writes a refc-binary handle owning one reference to `bin` and lists it in the MSO.
    ///
    /// # Safety
    /// The caller transfers one reference to the live binary `bin` to the handle.
    pub(crate) unsafe fn refc_handle(self, bin: *const binary::RefcHeader) -> Term<'h> {
        // SAFETY: `bin` is live (caller).
        let len = unsafe { binary::len(bin) };
        // SAFETY: 3 words written: header, length, binary pointer.
        let p = unsafe {
            self.alloc_with(1 + REFC_BIN_PAYLOAD, |p| {
                p.write(header(SUB_REFC_BIN, REFC_BIN_PAYLOAD as u64));
                p.add(1).write(len as u64);
                p.add(2).write(exposed_address(bin) as u64);
            })
        };
        self.with_heap(|h| h.note_young_handle(p as usize, len));
        // SAFETY: fresh handle of this heap, listed in the MSO (heap Invariant 3).
        unsafe { Term::from_raw(tagged(p, TAG_BOXED)) }
    }

    /// A sub-binary: `len` bytes of `binary` from `offset`. `None` if `binary` is not a binary
    /// or the range is out of bounds. A slice of a sub-binary refers to the original.
    pub fn sub_binary(self, binary: Term<'h>, offset: usize, len: usize) -> Option<Term<'h>> {
        let bytes = binary.as_binary()?;
        if offset.checked_add(len)? > bytes.len() {
            return None;
        }
        let (original, base) = match sub_binary_parts(binary) {
            Some((orig, base)) => (orig, base),
            None => (binary, 0),
        };
        // SAFETY: 4 words written: header, length, offset, original (a binary of this brand).
        let p = unsafe {
            self.alloc_with(1 + SUB_BIN_PAYLOAD, |p| {
                p.write(header(SUB_SUB_BIN, SUB_BIN_PAYLOAD as u64));
                p.add(1).write(len as u64);
                p.add(2).write((base + offset) as u64);
                p.add(3).write(original.raw());
            })
        };
        // SAFETY: fresh sub-binary of this heap over a binary of this heap.
        Some(unsafe { Term::from_raw(tagged(p, TAG_BOXED)) })
    }

    /// Roots `term`: it survives collections and is read back with [`Mu::get`].
    pub fn root(self, term: Term<'h>) -> Root {
        self.with_heap(|h| h.roots().insert(term.raw()))
    }

    /// The term held by `root` (moved, if a collection moved it).
    ///
    /// # Panics
    /// If `root` belongs to another heap.
    pub fn get(self, root: &Root) -> Term<'h> {
        let word = self.with_heap(|h| h.root_word(root));
        // SAFETY: root slots hold terms of this heap, updated by every collection (or, in a
        // message-area builder, the root's term copied into the message, see `root_word`).
        unsafe { Term::from_raw(word) }
    }

    /// Replaces the term held by `root`.
    ///
    /// # Panics
    /// If `root` belongs to another heap.
    pub fn set(self, root: &Root, term: Term<'h>) {
        self.with_heap(|h| h.roots().set(root, term.raw()))
    }

    /// The `i`-th delivered message not yet taken (0 is the oldest).
    #[inline]
    pub fn message(self, i: usize) -> Option<Term<'h>> {
        let word = self.with_heap(|h| h.messages().get(i).copied())?;
        // SAFETY: queued messages are terms of this heap (attached on delivery).
        Some(unsafe { Term::from_raw(word) })
    }

    /// Removes the `i`-th delivered message from the queue and returns it; it stays valid for
    /// the rest of this brand, and becomes garbage unless rooted or linked from a root.
    #[inline]
    pub fn take_message(self, i: usize) -> Option<Term<'h>> {
        // The oldest message is the one nearly every receive takes: `pop_front` is a fraction
        // of a general removal.
        let word =
            self.with_heap(|h| if i == 0 { h.messages().pop_front() } else { h.messages().remove(i) })?;
        // SAFETY: as for `message`; removal from the queue does not free or move anything.
        Some(unsafe { Term::from_raw(word) })
    }

    /// Appends `term` to the message queue (a delivery made inside a brand).
    pub(crate) fn push_message(self, term: Term<'h>) {
        self.with_heap(|h| h.messages().push_back(term.raw()));
    }

    /// Number of delivered messages not yet taken.
    #[inline]
    pub fn message_count(self) -> usize {
        self.with_heap(|h| h.messages().len())
    }

    /// Copies a term of any heap or fragment (any brand) into this heap.
    pub fn copy<'o>(self, term: Term<'o>) -> Term<'h> {
        self.attach(copy::to_fragment(term, false))
    }

    /// Copies a term of any brand into this heap, keeping shared subterms shared.
    pub fn copy_shared<'o>(self, term: Term<'o>) -> Term<'h> {
        self.attach(copy::to_fragment(term, true))
    }

    /// Copies `term` into a new standalone message fragment (flattening shared subterms, as
    /// a BEAM send does).
    #[inline]
    pub fn to_fragment(self, term: Term<'h>) -> Fragment {
        copy::to_fragment(term, false)
    }

    /// Copies `term` into a new fragment, keeping shared subterms shared (a DAG stays a DAG).
    pub fn to_fragment_shared(self, term: Term<'h>) -> Fragment {
        copy::to_fragment(term, true)
    }

    /// Attaches a message fragment to this heap in O(1) (no copy) and returns its term.
    pub fn attach(self, fragment: Fragment) -> Term<'h> {
        let (parts, word) = fragment.into_parts();
        if let Some(owned) = parts {
            self.with_heap(|h| h.adopt(owned));
        }
        // SAFETY: the fragment's objects are now young data of this heap (heap Invariant 4)
        // and its handles are in this heap's MSO list.
        unsafe { Term::from_raw(word) }
    }
}

/// The original binary and base offset of a sub-binary term.
pub(crate) fn sub_binary_parts(term: Term<'_>) -> Option<(Term<'_>, usize)> {
    if term.raw() & PRIMARY_MASK != TAG_BOXED {
        return None;
    }
    let obj = object_ptr(term.raw());
    // SAFETY: a boxed term of a live brand points at a live object (term Invariant 1).
    unsafe {
        if header_subtag(*obj) != SUB_SUB_BIN {
            return None;
        }
        let offset = *obj.add(2) as usize;
        Some((Term::from_raw(*obj.add(1 + SUB_BIN_ORIGINAL)), offset))
    }
}

impl std::fmt::Debug for Mu<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mu")
    }
}
