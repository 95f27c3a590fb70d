//! Abort-on-unwind guards for the sections in which a heap is inconsistent.
//!
//! A collection overwrites from-space objects with forwarding marks, frees blocks and
//! rewrites the MSO lists; half-way through, the heap is neither the old heap nor the new
//! one, and dropping it (as the runtime does with the heap of a process that panicked)
//! would read freed memory. No panic may leave such a section: a panic inside one aborts
//! the program with a message naming the section, as ERTS ends the VM (`erts_exit`) on an
//! internal error during a collection.
//!
//! # Invariants
//! 1. While an [`AbortOnUnwind`] created outside a panic is alive, a panic unwinding through
//!    it ends the program instead of reaching code that could observe the heap.

/// Aborts the program if a panic unwinds through the section it guards (Invariant 1).
#[must_use = "the guard protects the section until it is dropped"]
pub(crate) struct AbortOnUnwind {
    section: &'static str,
    /// A guard made while the thread was already unwinding (a collection run by a `Drop`
    /// during a panic) does not mistake that panic for one of its own.
    was_panicking: bool,
}

impl AbortOnUnwind {
    /// Guards `section` (named in the abort message) until the guard is dropped.
    #[inline]
    pub(crate) fn new(section: &'static str) -> AbortOnUnwind {
        AbortOnUnwind { section, was_panicking: std::thread::panicking() }
    }
}

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        if !self.was_panicking && std::thread::panicking() {
            eprintln!(
                "heaplab-gc: a panic unwound out of {}, which leaves the heap inconsistent; aborting",
                self.section
            );
            std::process::abort();
        }
    }
}
