//! Areas: the filled prefix of a block, the unit every heap (per-process, shared, a message
//! fragment) is made of; and the ids that tell heaps apart. The bottom layer, under both
//! heaps: it knows blocks and nothing else.
//!
//! # Invariants
//! 1. An area's `[0, used)` words are a gap-free sequence of well-formed objects (heap
//!    Invariant 4), so a walk from its start visits object starts only.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::block::Block;

static NEXT_HEAP_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh id for a heap or a root table: roots check it.
pub(crate) fn next_heap_id() -> u64 {
    NEXT_HEAP_ID.fetch_add(1, Ordering::Relaxed)
}

/// A filled prefix of a block: `used` words of gap-free objects (Invariant 1).
pub(crate) struct Area {
    pub(crate) block: Block,
    pub(crate) used: usize,
}

/// Which part of a heap an area is (the verifier checks what may point where).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum AreaKind {
    Young,
    Old,
    Fragment,
}
