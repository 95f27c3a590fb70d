//! Message fragments: terms in memory of their own, owned by no heap until attached.
//!
//! A send copies the message into a fragment ([`Mu::to_fragment`](crate::Mu::to_fragment));
//! the receiver attaches it to its heap ([`Mu::attach`](crate::Mu::attach)) in O(1), and the
//! fragment's memory becomes young data of that heap, collected with it. The sender never
//! touches the receiver's heap.
//!
//! # Invariants
//! 1. Every pointer inside a fragment points into the fragment's own areas; its refc-binary
//!    handles are listed in `mso` and each owns one reference.
//! 2. A fragment is immutable: no code writes to its areas until it is attached.

use std::fmt;

use crate::area::Area;
use crate::binary::release_handles;
use crate::heap::Heap;
use crate::mutator::Mu;
use crate::options::HeapOptions;
use crate::owned::OwnedTerm;
use crate::term::Term;

/// A standalone term: the unit of message passing between heaps. `Send`.
pub struct Fragment {
    areas: Vec<Area>,
    mso: Vec<usize>,
    vheap_words: usize,
    word: u64,
}

/// What a fragment owns, handed over to the heap that adopts it.
pub(crate) struct Owned {
    pub(crate) areas: Vec<Area>,
    pub(crate) mso: Vec<usize>,
    pub(crate) vheap_words: usize,
}

impl Fragment {
    pub(crate) fn from_parts(areas: Vec<Area>, mso: Vec<usize>, vheap_words: usize, word: u64) -> Fragment {
        Fragment { areas, mso, vheap_words, word }
    }

    /// The fragment's term and, unless it is an immediate (no memory, no handles, nothing to
    /// adopt), what it owns.
    pub(crate) fn into_parts(self) -> (Option<Owned>, u64) {
        let mut me = std::mem::ManuallyDrop::new(self);
        // Empty vectors without capacity own nothing: forgetting them loses nothing, and
        // an immediate message then costs its receiver no work on vectors.
        if me.areas.capacity() == 0 && me.mso.capacity() == 0 {
            return (None, me.word);
        }
        let owned = Owned {
            areas: std::mem::take(&mut me.areas),
            mso: std::mem::take(&mut me.mso),
            vheap_words: me.vheap_words,
        };
        (Some(owned), me.word)
    }

    /// Builds a fragment directly with `build` (no copy): the closure allocates into the
    /// fragment's own memory.
    ///
    /// ```
    /// use heaplab_gc::Fragment;
    /// let msg = Fragment::build(|h| h.tuple(&[h.atom_named("ping"), h.int(7)]));
    /// assert_eq!(msg.to_string(), "{ping,7}");
    /// ```
    pub fn build(build: impl for<'f> FnOnce(Mu<'f>) -> Term<'f>) -> Fragment {
        // A builder heap with the smallest young block: overflow chunks grow geometrically,
        // and nothing is ever collected, so all of its memory becomes the fragment.
        let opts = HeapOptions { min_heap_size: crate::options::MIN_ALLOWED_HEAP_SIZE, ..Default::default() };
        let mut heap = Heap::new(opts).expect("builder options are valid");
        let word = heap.enter(|h| build(h).raw());
        let (areas, mso, vheap) = heap.take_all();
        Fragment { areas, mso, vheap_words: vheap, word }
    }

    /// A fragment holding `term`.
    pub fn from_owned(term: &OwnedTerm) -> Fragment {
        Fragment::build(|h| h.from_owned(term))
    }

    /// Reads the fragment's term under a fresh brand.
    pub fn with<R>(&self, f: impl for<'f> FnOnce(Term<'f>) -> R) -> R {
        // SAFETY: the fragment's objects are live and immutable while `self` is borrowed
        // (Invariants 1 and 2); the brand cannot escape `f`.
        f(unsafe { Term::from_raw(self.word) })
    }

    /// An owned copy of the term.
    pub fn to_owned_term(&self) -> OwnedTerm {
        self.with(|t| t.to_owned_term())
    }

    /// Words of memory the fragment occupies.
    pub fn words(&self) -> usize {
        self.areas.iter().map(|a| a.used).sum()
    }

    /// Refc-binary handles in the fragment.
    pub fn binary_handles(&self) -> usize {
        self.mso.len()
    }

    /// Words of off-heap bytes the fragment references.
    pub fn vheap_words(&self) -> usize {
        self.vheap_words
    }
}

impl Drop for Fragment {
    fn drop(&mut self) {
        release_handles(self.mso.drain(..));
    }
}

impl fmt::Display for Fragment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with(|t| fmt::Display::fmt(&t, f))
    }
}

impl fmt::Debug for Fragment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fragment({} words: ", self.words())?;
        self.with(|t| fmt::Display::fmt(&t, f))?;
        f.write_str(")")
    }
}
