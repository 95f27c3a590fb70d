//! Terms: one tagged 64-bit word carrying a generative brand.
//!
//! A [`Term<'h>`] exists only inside a closure that created the fresh lifetime `'h`
//! ([`Heap::enter`](crate::Heap::enter)). The brand is invariant, so `'h` never unifies with
//! the brand of another heap or with `'static`, and the type system rejects storing a term of
//! one heap into another, keeping a term past its closure, or keeping one across a collection
//! (which needs `&mut Heap`, unavailable inside the closure).
//!
//! # Invariants
//! 1. A term's pointer, if any, addresses a live object of the heap (or of a fragment attached
//!    to it) that owns the brand `'h`, and that object does not move while `'h` lasts.
//! 2. Terms are immutable: no object is written after it was built, except by the collector,
//!    which runs outside every brand.

use std::fmt;
use std::marker::PhantomData;

use crate::atom::Atom;
use crate::layout::*;

/// The invariant brand marker: `'h` can be neither widened nor narrowed.
pub(crate) type Brand<'h> = PhantomData<fn(&'h ()) -> &'h ()>;

/// A process identifier: a 60-bit number. A runtime splits it into a table index (the low
/// [`PID_INDEX_BITS`] bits) and a serial (the bits above), printed `<0.Index.Serial>` as on
/// a single-node BEAM.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pid(u64);

/// Bits of a pid number that name a slot of the process table; the bits above are a serial.
pub const PID_INDEX_BITS: u32 = 28;

impl Pid {
    /// The pid with this number.
    ///
    /// # Panics
    /// When `n` exceeds [`MAX_PID`].
    pub const fn new(n: u64) -> Pid {
        assert!(n <= MAX_PID, "pid number out of range");
        Pid(n)
    }

    /// The pid's number.
    pub const fn number(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<0.{}.{}>", self.0 & ((1 << PID_INDEX_BITS) - 1), self.0 >> PID_INDEX_BITS)
    }
}

impl fmt::Debug for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A reference (`make_ref()`): a unique 60-bit number, printed `#Ref<0.0.0.N>`.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ref(u64);

impl Ref {
    /// A reference never returned before in this program (`erlang:make_ref/0`).
    pub fn new() -> Ref {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        assert!(n <= MAX_REF, "reference numbers exhausted");
        Ref(n)
    }

    /// The reference with this number (non-zero).
    ///
    /// # Panics
    /// When `n` is zero or exceeds [`MAX_REF`].
    pub const fn from_number(n: u64) -> Ref {
        assert!(n != 0 && n <= MAX_REF, "reference number out of range");
        Ref(n)
    }

    /// The reference's number.
    pub const fn number(self) -> u64 {
        self.0
    }
}

impl Default for Ref {
    fn default() -> Self {
        Ref::new()
    }
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#Ref<0.0.0.{}>", self.0)
    }
}

impl fmt::Debug for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A term of the heap branded `'h`. `Copy`, one word, `!Send`.
#[derive(Copy, Clone)]
#[repr(transparent)]
pub struct Term<'h> {
    word: u64,
    _brand: Brand<'h>,
    _not_send: PhantomData<*const ()>,
}

/// What a term is, with borrowed access to its parts.
#[derive(Copy, Clone, Debug)]
pub enum View<'h> {
    /// `[]`.
    Nil,
    /// An integer (small or 64-bit).
    Int(i64),
    /// An atom.
    Atom(Atom),
    /// A reference.
    Ref(Ref),
    /// A pid.
    Pid(Pid),
    /// A float.
    Float(f64),
    /// A cons cell: head and tail.
    Cons(Term<'h>, Term<'h>),
    /// A tuple's elements.
    Tuple(&'h [Term<'h>]),
    /// A binary's bytes (heap, refc or sub-binary alike).
    Binary(&'h [u8]),
}

impl<'h> Term<'h> {
    /// Wraps a raw word.
    ///
    /// # Safety
    /// `word` must be a term satisfying Invariant 1 for the brand `'h`.
    #[inline]
    pub(crate) unsafe fn from_raw(word: u64) -> Term<'h> {
        Term { word, _brand: PhantomData, _not_send: PhantomData }
    }

    /// An immediate needs no heap, so any brand may hold it.
    #[inline]
    pub(crate) fn immediate(word: u64) -> Term<'h> {
        debug_assert_eq!(word & PRIMARY_MASK, TAG_IMMEDIATE);
        Term { word, _brand: PhantomData, _not_send: PhantomData }
    }

    /// The raw tagged word.
    #[inline]
    pub fn raw(self) -> u64 {
        self.word
    }

    /// `[]`.
    #[inline]
    pub fn nil() -> Term<'h> {
        Term::immediate(TAG_NIL)
    }

    /// An atom term.
    #[inline]
    pub fn atom(atom: Atom) -> Term<'h> {
        Term::immediate(((atom.index() as u64) << IMMEDIATE_SHIFT) | TAG_ATOM)
    }

    /// A pid term.
    #[inline]
    pub fn pid(pid: Pid) -> Term<'h> {
        Term::immediate((pid.number() << IMMEDIATE_SHIFT) | TAG_PID)
    }

    /// A reference term.
    #[inline]
    pub fn reference(r: Ref) -> Term<'h> {
        Term::immediate((r.number() << IMMEDIATE_SHIFT) | TAG_NIL)
    }

    /// The reference, if this is a reference.
    #[inline]
    pub fn as_ref(self) -> Option<Ref> {
        match self.view() {
            View::Ref(r) => Some(r),
            _ => None,
        }
    }

    /// A small integer, or `None` outside [`MIN_SMALL`]..=[`MAX_SMALL`] (use `Mu::int`).
    #[inline]
    pub fn small(value: i64) -> Option<Term<'h>> {
        (MIN_SMALL..=MAX_SMALL)
            .contains(&value)
            .then(|| Term::immediate(((value as u64) << IMMEDIATE_SHIFT) | TAG_SMALL))
    }

    /// Whether this is `[]`.
    #[inline]
    pub fn is_nil(self) -> bool {
        self.word == TAG_NIL
    }

    /// Whether this is a cons cell.
    #[inline]
    pub fn is_cons(self) -> bool {
        self.word & PRIMARY_MASK == TAG_LIST
    }

    /// Whether this term is a pointer into a heap (cons or boxed).
    #[inline]
    pub fn is_boxed_or_cons(self) -> bool {
        is_pointer(self.word)
    }

    /// Reads the term.
    #[inline]
    pub fn view(self) -> View<'h> {
        let w = self.word;
        match w & PRIMARY_MASK {
            TAG_IMMEDIATE => match w & IMMEDIATE_MASK {
                TAG_SMALL => View::Int((w as i64) >> IMMEDIATE_SHIFT),
                TAG_ATOM => View::Atom(Atom::from_term_index((w >> IMMEDIATE_SHIFT) as u32)),
                TAG_PID => View::Pid(Pid(w >> IMMEDIATE_SHIFT)),
                _ if w == TAG_NIL => View::Nil,
                _ => View::Ref(Ref(w >> IMMEDIATE_SHIFT)),
            },
            TAG_LIST => {
                let cell = object_ptr(w);
                // SAFETY: a list term points at a live two-word cons cell of brand 'h
                // (Invariant 1), and the cell is immutable while 'h lasts (Invariant 2).
                unsafe { View::Cons(Term::from_raw(*cell), Term::from_raw(*cell.add(1))) }
            }
            _ => {
                let obj = object_ptr(w);
                // SAFETY: a boxed term points at a live object of brand 'h whose header is
                // followed by `arity` payload words (Invariant 1); the layout table in
                // `layout` says how each kind's payload is read.
                unsafe { view_boxed(obj) }
            }
        }
    }

    /// The integer value, if this is an integer.
    #[inline]
    pub fn as_int(self) -> Option<i64> {
        match self.view() {
            View::Int(i) => Some(i),
            _ => None,
        }
    }

    /// The atom, if this is an atom.
    #[inline]
    pub fn as_atom(self) -> Option<Atom> {
        match self.view() {
            View::Atom(a) => Some(a),
            _ => None,
        }
    }

    /// The pid, if this is a pid.
    #[inline]
    pub fn as_pid(self) -> Option<Pid> {
        match self.view() {
            View::Pid(p) => Some(p),
            _ => None,
        }
    }

    /// The float, if this is a float.
    #[inline]
    pub fn as_float(self) -> Option<f64> {
        match self.view() {
            View::Float(x) => Some(x),
            _ => None,
        }
    }

    /// The elements, if this is a tuple. Reads the header only, without going through
    /// [`Term::view`]'s dispatch over every kind of object: workloads test tuples in their
    /// inner loops.
    #[inline]
    pub fn as_tuple(self) -> Option<&'h [Term<'h>]> {
        let w = self.word;
        if w & PRIMARY_MASK != TAG_BOXED {
            return None;
        }
        let obj = object_ptr(w);
        // SAFETY: a boxed term points at a live object of brand 'h, immutable while 'h lasts,
        // whose header is followed by `arity` payload words (Invariants 1 and 2); a tuple's
        // payload words are its element terms.
        unsafe {
            let header = *obj;
            (header_subtag(header) == SUB_TUPLE)
                .then(|| std::slice::from_raw_parts(obj.add(1) as *const Term<'h>, header_arity(header)))
        }
    }

    /// The bytes, if this is a binary.
    #[inline]
    pub fn as_binary(self) -> Option<&'h [u8]> {
        match self.view() {
            View::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// Head and tail, if this is a cons cell.
    #[inline]
    pub fn as_cons(self) -> Option<(Term<'h>, Term<'h>)> {
        match self.view() {
            View::Cons(h, t) => Some((h, t)),
            _ => None,
        }
    }

    /// Iterates over the elements of a list; the iterator's [`ListIter::tail`] tells whether the
    /// list was proper.
    pub fn iter_list(self) -> ListIter<'h> {
        ListIter { rest: self }
    }

    /// Length of a proper list, `None` for an improper list or a non-list.
    pub fn list_len(self) -> Option<usize> {
        let mut it = self.iter_list();
        let n = it.by_ref().count();
        it.tail().is_nil().then_some(n)
    }
}

/// Iterator over the heads of a list.
pub struct ListIter<'h> {
    rest: Term<'h>,
}

impl<'h> ListIter<'h> {
    /// What remains: `[]` after a proper list is exhausted, otherwise the improper tail.
    pub fn tail(&self) -> Term<'h> {
        self.rest
    }
}

impl<'h> Iterator for ListIter<'h> {
    type Item = Term<'h>;
    #[inline]
    fn next(&mut self) -> Option<Term<'h>> {
        let (h, t) = self.rest.as_cons()?;
        self.rest = t;
        Some(h)
    }
}

/// Reads a boxed object.
///
/// # Safety
/// `obj` points at the header of a live, well-formed object that stays put for `'h`.
unsafe fn view_boxed<'h>(obj: *const u64) -> View<'h> {
    // SAFETY: the caller guarantees a live object: its header and payload are readable.
    unsafe {
        let header = *obj;
        let payload = obj.add(1);
        match header_subtag(header) {
            SUB_TUPLE => {
                View::Tuple(std::slice::from_raw_parts(payload as *const Term<'h>, header_arity(header)))
            }
            SUB_FLOAT => View::Float(f64::from_bits(*payload)),
            SUB_BIG => View::Int(*payload as i64),
            SUB_HEAP_BIN => {
                let len = *payload as usize;
                View::Binary(std::slice::from_raw_parts(payload.add(1) as *const u8, len))
            }
            SUB_REFC_BIN => {
                let len = *payload as usize;
                let bin = crate::object::handle_binary(obj);
                View::Binary(std::slice::from_raw_parts(crate::binary::bytes_ptr(bin), len))
            }
            SUB_SUB_BIN => {
                let len = *payload as usize;
                let offset = *payload.add(1) as usize;
                let original = Term::<'h>::from_raw(*payload.add(SUB_BIN_ORIGINAL));
                match original.view() {
                    View::Binary(bytes) => View::Binary(&bytes[offset..offset + len]),
                    _ => unreachable!("sub-binary over a non-binary"),
                }
            }
            other => unreachable!("corrupt header subtag {other}"),
        }
    }
}

impl fmt::Debug for Term<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
