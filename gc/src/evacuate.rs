//! The evacuation core every collector is made of: copying one object out of from-space and
//! leaving a forwarding mark behind, and the Cheney scan that does so for every field of the
//! copies. A collector is a [`Tracer`]: it says where each object goes ([`Route`]), gives the
//! [`Region`]s copies land in, and whether forwarding marks race with other workers'.
//!
//! The private collector runs it with plain stores and one or two regions it sized for
//! everything (to-space, and the old generation for promoted data); the shared heap's
//! parallel collector runs it on every worker, each copying into its own allocation buffer
//! and installing each forwarding mark with one compare-and-swap.
//!
//! # Forwarding marks
//! One word each, so that one compare-and-swap installs it:
//! - a copied boxed object's header becomes a boxed pointer to the copy (tag `10`: a header
//!   never has it);
//! - a copied cons cell's car becomes the copy's address, tag `00` (a car is a term, never a
//!   header word, so a tag-`00` car means "moved").
//!
//! # The scan
//! Copies are scanned word by word, as erl_gc.c's `sweep_new_heap` does: a term word is
//! evacuated in place; a header steps over the words that hold no terms (the whole payload of
//! a float, a big integer or a binary; a sub-binary's length and offset). Tuples and cons
//! cells need no dispatch at all: their words are terms.
//!
//! # Invariants
//! 1. During a collection only the first word of a from-space object is ever written, and
//!    only to install its forwarding mark (by compare-and-swap when the tracer is
//!    [`Tracer::PARALLEL`]); every other from-space access is a read.
//! 2. A region's `[scan, top)` holds copies whose fields may still point into from-space;
//!    below `scan` every field has been evacuated. A region's scan pointer is advanced past
//!    a word before that word is evacuated, so a [`Tracer::refill`] that retires the region
//!    hands over exactly the words still to scan.
//! 3. Every route leads to a region with room for the copy, or to `refill`.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::layout::*;

/// A bump region copies land in: `[scan, top)` copied, not yet scanned; `[top, end)` free.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Region {
    pub(crate) scan: *mut u64,
    pub(crate) top: *mut u64,
    pub(crate) end: *mut u64,
}

impl Region {
    /// An empty region over `words` words at `start` (nothing to scan yet).
    pub(crate) fn new(start: *mut u64, words: usize) -> Region {
        Region { scan: start, top: start, end: start.wrapping_add(words) }
    }

    /// A region whose first `used` of `words` words at `start` are already scanned (the old
    /// generation a minor collection promotes into).
    pub(crate) fn after(start: *mut u64, used: usize, words: usize) -> Region {
        let top = start.wrapping_add(used);
        Region { scan: top, top, end: start.wrapping_add(words) }
    }

    /// No memory at all: every copy goes to [`Tracer::refill`].
    pub(crate) fn empty() -> Region {
        let null = std::ptr::null_mut();
        Region { scan: null, top: null, end: null }
    }

    /// Words between `scan` and `top`: copies waiting for their scan.
    #[inline]
    pub(crate) fn unscanned(&self) -> usize {
        (self.top as usize - self.scan as usize) / 8
    }
}

/// Where an object found during a collection belongs.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// Not in from-space (the old generation during a minor collection): left as it is.
    Stay,
    /// Outside the collected heap altogether (the message area, seen from a private heap of
    /// the hybrid strategy): left as it is, and the word holding it is reported to
    /// [`Tracer::external`] when it lies in a copy (not in a root).
    External,
    /// Copied into the region with this index.
    To(usize),
}

/// A collector, as the evacuation core sees it (see the module docs).
pub(crate) trait Tracer {
    /// Whether other workers copy from the same from-space at the same time (forwarding
    /// marks are then installed by compare-and-swap, and a lost race gives its copy back).
    const PARALLEL: bool;

    /// Where the object at `address` goes.
    fn route(&self, address: usize) -> Route;

    /// The region with index `index`.
    fn region(&mut self, index: usize) -> &mut Region;

    /// Region `index` has no room for `words`: space for them elsewhere (a new allocation
    /// buffer, whose predecessor's unscanned words the tracer keeps for a later scan).
    fn refill(&mut self, index: usize, words: usize) -> *mut u64;

    /// `words` words were copied into region `index`'s space (counting, and nothing else).
    fn copied(&mut self, index: usize, words: usize);

    /// The word at `slot`, in a copy this tracer made, points at an object the route called
    /// [`Route::External`]. Only tracers whose route answers `External` are ever called.
    #[inline(always)]
    fn external(&mut self, slot: *mut u64) {
        let _ = slot;
    }
}

/// The location recorded in a from-space object's first word, if it was copied already;
/// `tag` is the primary tag of the words pointing at it.
#[inline(always)]
pub(crate) fn forwarded(tag: u64, first: u64) -> Option<u64> {
    if tag == TAG_LIST {
        (first & PRIMARY_MASK == TAG_HEADER).then_some(first | TAG_LIST)
    } else {
        (first & PRIMARY_MASK == TAG_BOXED).then_some(first)
    }
}

/// The word that replaces `word`, a list or boxed term found at `at` (null for a root):
/// the copy of its object (made now if it is the first visit), or `word` itself for an
/// object that stays.
///
/// # Safety
/// `word` points at an object of the collected heap, intact or carrying a forwarding mark of
/// this collection, or at one its route calls `Stay` or `External`; the tracer's routes and
/// regions satisfy the module's Invariant 3.
#[inline(always)]
pub(crate) unsafe fn evacuate<T: Tracer>(tracer: &mut T, word: u64, at: *mut u64) -> u64 {
    // Each destination gets its own copy of the path below, with its region index a
    // constant: a tracer's regions can then live in registers through the scan loop.
    match tracer.route(pointer_address(word)) {
        Route::Stay => word,
        Route::External => {
            if !at.is_null() {
                tracer.external(at);
            }
            word
        }
        // SAFETY: forwarded from the caller.
        Route::To(0) => unsafe { evacuate_to::<T, 0>(tracer, word) },
        // SAFETY: as above.
        Route::To(1) => unsafe { evacuate_to::<T, 1>(tracer, word) },
        Route::To(index) => unreachable!("no tracer has region {index}"),
    }
}

/// [`evacuate`] into region `INDEX`.
///
/// # Safety
/// As [`evacuate`]; the object belongs in region `INDEX`.
#[inline(always)]
unsafe fn evacuate_to<T: Tracer, const INDEX: usize>(tracer: &mut T, word: u64) -> u64 {
    let index = INDEX;
    let src = object_ptr(word);
    // SAFETY: `src` is a from-space object (caller); its first word is readable, and only
    // written by forwarding (Invariant 1), atomically when other workers run.
    let first = unsafe {
        if T::PARALLEL {
            AtomicU64::from_ptr(src).load(Ordering::Acquire)
        } else {
            *src
        }
    };
    // The two kinds apart, each on its own straight path: cons cells are the commonest
    // objects and always two words.
    if word & PRIMARY_MASK == TAG_LIST {
        if first & PRIMARY_MASK == TAG_HEADER {
            return first | TAG_LIST;
        }
        let dst = allocate(tracer, index, 2);
        // SAFETY: `dst` has room for two words (Invariant 3); the cdr is never written
        // during the collection (Invariant 1).
        unsafe {
            dst.write(first);
            dst.add(1).write(src.add(1).read());
        }
        // SAFETY: as above.
        unsafe { install(tracer, index, src, first, dst, 2, TAG_LIST, TAG_HEADER) }
    } else {
        if first & PRIMARY_MASK == TAG_BOXED {
            return first;
        }
        let size = 1 + header_arity(first);
        let dst = allocate(tracer, index, size);
        // SAFETY: `dst` has room for `size` words (Invariant 3); the payload is never
        // written during the collection (Invariant 1).
        unsafe {
            dst.write(first);
            copy_payload(src, dst, size - 1);
        }
        // SAFETY: as above.
        unsafe { install(tracer, index, src, first, dst, size, TAG_BOXED, TAG_BOXED) }
    }
}

/// Copies the `words` payload words after the first word of `src` to `dst`.
///
/// # Safety
/// Both objects have `1 + words` words.
#[inline(always)]
unsafe fn copy_payload(src: *const u64, dst: *mut u64, words: usize) {
    // Short objects (tuples of a few elements, floats, integers, binary handles) are most
    // objects: a straight-line copy for each size, no loop and no call to memcpy.
    macro_rules! words {
        ($($i:literal)*) => {
            // SAFETY: `$i <= words` (the match arm), inside both objects (caller).
            unsafe { $(dst.add($i).write(src.add($i).read());)* }
        };
    }
    // Compares, not a jump table: an indirect jump costs more than the few compares the
    // common sizes take.
    if words == 3 {
        words!(1 2 3);
    } else if words == 2 {
        words!(1 2);
    } else if words == 1 {
        words!(1);
    } else if words > 3 {
        // SAFETY: as above.
        unsafe { std::ptr::copy_nonoverlapping(src.add(1), dst.add(1), words) };
    }
}

/// `size` words in region `index` (or wherever `refill` finds them).
#[inline(always)]
fn allocate<T: Tracer>(tracer: &mut T, index: usize, size: usize) -> *mut u64 {
    let region = tracer.region(index);
    let p = region.top;
    let top = p.wrapping_add(size);
    if top <= region.end {
        region.top = top;
        p
    } else {
        tracer.refill(index, size)
    }
}

/// Leaves the forwarding mark (`dst` tagged `mark_tag`) in the first word of `src`, whose
/// copy `dst` now is, and returns the copy as a term tagged `tag`; a lost race gives the
/// copy back and returns the winner's.
///
/// # Safety
/// `src` is the from-space object `first` was read from; `dst` its fresh copy of `size`
/// words in region `index`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn install<T: Tracer>(
    tracer: &mut T,
    index: usize,
    src: *mut u64,
    first: u64,
    dst: *mut u64,
    size: usize,
    tag: u64,
    mark_tag: u64,
) -> u64 {
    let mark = tagged(dst, mark_tag);
    if T::PARALLEL {
        // SAFETY: the first word is only ever accessed atomically meanwhile (Invariant 1);
        // the mark goes in only if no other worker's did.
        let installed = unsafe { AtomicU64::from_ptr(src) }.compare_exchange(
            first,
            mark,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        if let Err(winner) = installed {
            give_back(tracer.region(index), dst, size);
            return forwarded(tag, winner).expect("a lost race leaves a forwarding mark");
        }
    } else {
        // SAFETY: the only worker writes the mark (Invariant 1).
        unsafe { src.write(mark) };
    }
    tracer.copied(index, size);
    tagged(dst, tag)
}

/// Undoes a copy that lost its race: the region's last allocation is taken back; one that
/// is not (an object with a space of its own) is covered with a filler.
#[cold]
fn give_back(region: &mut Region, dst: *mut u64, size: usize) {
    if region.top == dst.wrapping_add(size) {
        region.top = dst;
    } else {
        // SAFETY: the copy's words are ours and nothing points at them.
        unsafe { write_filler(dst, size) };
    }
}

/// Words from the word `word` at the start of a scan step to the next word to look at.
#[inline(always)]
fn step(word: u64) -> usize {
    if word & PRIMARY_MASK != TAG_HEADER {
        return 1;
    }
    match header_subtag(word) {
        SUB_TUPLE => 1,
        SUB_SUB_BIN => 1 + SUB_BIN_ORIGINAL,
        _ => 1 + header_arity(word),
    }
}

/// Evacuates a root slot (or any word outside the heap) in place.
///
/// # Safety
/// As [`evacuate`], for a slot holding a term of the collected heap.
#[inline]
pub(crate) unsafe fn evacuate_root<T: Tracer>(tracer: &mut T, slot: &mut u64) {
    if is_pointer(*slot) {
        // SAFETY: forwarded from the caller.
        *slot = unsafe { evacuate(tracer, *slot, std::ptr::null_mut()) };
    }
}

/// Scans region `index` from its scan pointer until it catches up with the top, which moves
/// while copies land in the region (or in the region a refill puts in its place). Returns
/// whether there was anything to scan.
///
/// # Safety
/// The region's `[scan, top)` holds copies made by this tracer (Invariant 2).
#[inline(always)]
pub(crate) unsafe fn scan_region<T: Tracer>(tracer: &mut T, index: usize) -> bool {
    let mut any = false;
    loop {
        let region = tracer.region(index);
        let at = region.scan;
        if at >= region.top {
            return any;
        }
        any = true;
        // SAFETY: `at` is below the top: a word of a copy.
        let word = unsafe { *at };
        region.scan = at.wrapping_add(step(word));
        if is_pointer(word) {
            // SAFETY: as in `scan_step`.
            unsafe { *at = evacuate(tracer, word, at) };
        }
    }
}

/// [`scan_region`] for at most `budget` words (a worker that looks at its peers between
/// two stretches of scanning); returns whether anything was scanned.
///
/// # Safety
/// As [`scan_region`].
#[inline]
pub(crate) unsafe fn scan_region_for<T: Tracer>(tracer: &mut T, index: usize, budget: usize) -> bool {
    for done in 0..budget {
        let at = tracer.region(index).scan;
        if at >= tracer.region(index).top {
            return done > 0;
        }
        // SAFETY: as in `scan_step`.
        unsafe { scan_step(tracer, index, at) };
    }
    budget > 0
}

/// One step of a region's scan: the word at `at` (its scan pointer), evacuated if it is a
/// pointer, the scan pointer moved past it first (Invariant 2).
///
/// # Safety
/// `at` is the region's scan pointer, below its top: a word of a copy made by this tracer.
#[inline(always)]
unsafe fn scan_step<T: Tracer>(tracer: &mut T, index: usize, at: *mut u64) {
    // SAFETY: a word of a copy (caller).
    let word = unsafe { *at };
    tracer.region(index).scan = at.wrapping_add(step(word));
    if is_pointer(word) {
        // SAFETY: an unscanned field of a copy points at a from-space object or one that
        // stays; `at` stays valid whatever the evacuation allocates.
        unsafe { *at = evacuate(tracer, word, at) };
    }
}

/// Scans the fixed range `[start, end)` of copies (words handed over by a retired region).
///
/// # Safety
/// The range holds whole copies made during this collection, not yet scanned, scanned by
/// this caller alone.
pub(crate) unsafe fn scan_range<T: Tracer>(tracer: &mut T, start: *mut u64, end: *mut u64) {
    let mut at = start;
    while at < end {
        // SAFETY: inside the range (caller).
        let word = unsafe { *at };
        let next = at.wrapping_add(step(word));
        if is_pointer(word) {
            // SAFETY: as in `scan_region`.
            unsafe { *at = evacuate(tracer, word, at) };
        }
        at = next;
    }
}
