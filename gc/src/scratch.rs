//! A per-thread buffer of words for work that needs a temporary vector on a hot path (the
//! size pass of a message copy, the items of a new list), so that it does not allocate one
//! per call.
//!
//! # Invariants
//! 1. A nested use (the closure itself needing a buffer) finds the thread's buffer taken and
//!    gets an empty one of its own; whichever returns last keeps its capacity.
//! 2. The buffer is handed to the closure empty, and at most [`KEPT`] words of capacity are
//!    kept between uses, so a one-off huge list does not pin its memory.

use std::cell::Cell;

/// Capacity kept between uses (words).
const KEPT: usize = 1 << 16;

thread_local! {
    static WORDS: Cell<Vec<u64>> = const { Cell::new(Vec::new()) };
}

/// Runs `f` with this thread's empty scratch buffer (Invariants 1 and 2).
pub(crate) fn with_words<R>(f: impl FnOnce(&mut Vec<u64>) -> R) -> R {
    let mut words = WORDS.take();
    let r = f(&mut words);
    words.clear();
    if words.capacity() <= KEPT {
        WORDS.set(words);
    }
    r
}
