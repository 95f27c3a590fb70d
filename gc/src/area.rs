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

/// Ids a thread takes from [`NEXT_HEAP_ID`] at a time: a spawn that makes a heap then
/// touches no line every thread writes, except once per this many heaps.
const HEAP_IDS_PER_TAKE: u64 = 1024;

thread_local! {
    /// This thread's unused ids: `[next, end)`.
    static HEAP_IDS: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

/// A fresh id for a heap or a root table: roots check it. Unique in the program (each thread
/// hands out ids from a range no other thread took), not in order of creation.
pub(crate) fn next_heap_id() -> u64 {
    HEAP_IDS
        .try_with(|ids| {
            let (mut next, mut end) = ids.get();
            if next == end {
                next = NEXT_HEAP_ID.fetch_add(HEAP_IDS_PER_TAKE, Ordering::Relaxed);
                end = next + HEAP_IDS_PER_TAKE;
            }
            ids.set((next + 1, end));
            next
        })
        // A thread being torn down takes its id alone.
        .unwrap_or_else(|_| NEXT_HEAP_ID.fetch_add(1, Ordering::Relaxed))
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

/// A bump region: the free words `[top, end)` that allocation hands out next, in a block a
/// heap (or an allocation buffer of the shared heap) owns. An allocation handle reaches it
/// without knowing which heap it belongs to, so the fast path of every heap is the same few
/// instructions; only a region that has no room calls into the heap.
#[derive(Debug)]
pub(crate) struct Bump {
    pub(crate) top: *mut u64,
    pub(crate) end: *mut u64,
}

impl Bump {
    /// No free words: the first allocation goes to the heap's slow path.
    pub(crate) const fn empty() -> Bump {
        Bump { top: std::ptr::null_mut(), end: std::ptr::null_mut() }
    }

    /// The free words of `block` from word `used` on.
    pub(crate) fn after(block: &Block, used: usize) -> Bump {
        Bump { top: block.start().wrapping_add(used), end: block.start().wrapping_add(block.words()) }
    }

    /// `words` words from the region, if it has them.
    #[inline(always)]
    pub(crate) fn take(&mut self, words: usize) -> Option<*mut u64> {
        let p = self.top;
        if (self.end as usize).wrapping_sub(p as usize) / 8 >= words {
            self.top = p.wrapping_add(words);
            Some(p)
        } else {
            None
        }
    }

    /// Words free in the region.
    pub(crate) fn free(&self) -> usize {
        (self.end as usize).wrapping_sub(self.top as usize) / 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids stay unique when threads take them at once, each from its own range, and across
    /// more than one range per thread.
    #[test]
    fn heap_ids_are_unique_across_threads() {
        let per_thread = 3 * HEAP_IDS_PER_TAKE as usize + 7;
        let threads: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(move || (0..per_thread).map(|_| next_heap_id()).collect::<Vec<_>>()))
            .collect();
        let mut all: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        assert!(all.iter().all(|&id| id != 0));
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "an id was handed out twice");
    }
}
