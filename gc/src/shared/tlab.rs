//! Thread-local allocation buffers: one per worker, bump allocation on the fast path.
//!
//! # Invariants
//! 1. `[top, end)` is unused memory owned by this TLAB alone: a piece of the nursery, or of
//!    `chunk`, an overflow chunk no one else sees until the TLAB retires it.
//! 2. Retiring covers `[top, end)` with a filler and hands the chunk and the handles to the
//!    heap, so after every TLAB retired the young areas are walkable (module Invariant 4).
//! 3. A registered TLAB is counted by the safepoint: a collection starts only when every
//!    registered TLAB is stopped in [`super::SharedHeap::safepoint`] (module Invariant 1).

use std::sync::Arc;

use super::{safepoint, Inner, Want};
use crate::area::{Area, Bump};
use crate::block::Block;
use crate::event::GcReason;
use crate::layout::write_filler;

/// A worker's allocation buffer in a shared heap. Not `Send`: it belongs to the thread that
/// registered it, which must stop at every safepoint (or drop it).
pub struct Tlab {
    pub(crate) inner: Arc<Inner>,
    /// Which in-flight shard this worker's sends use.
    pub(crate) index: usize,
    /// That shard, once this worker has sent a message (saves the registry lock per send).
    pub(crate) shard: Option<Arc<std::sync::Mutex<crate::root::RootTable>>>,
    /// The free words `[top, end)` allocation hands out next.
    pub(crate) bump: Bump,
    /// Where the current buffer started being used: words from here to `bump.top` are
    /// allocated but not yet in `allocated`.
    counted_to: *mut u64,
    /// The overflow chunk the bump region lies in, when not in the nursery.
    chunk: Option<Block>,
    /// Refc-binary handles allocated since the last retire, and their off-heap words.
    mso: Vec<usize>,
    vheap: usize,
    /// Words allocated through this TLAB, ever.
    pub(crate) allocated: u64,
}

impl Tlab {
    pub(crate) fn register(inner: Arc<Inner>) -> Tlab {
        let index = safepoint::join(&inner);
        Tlab {
            inner,
            index,
            shard: None,
            bump: Bump::empty(),
            counted_to: std::ptr::null_mut(),
            chunk: None,
            mso: Vec::new(),
            vheap: 0,
            allocated: 0,
        }
    }

    /// Id of the heap this TLAB allocates in ([`super::SharedHeap::id`]).
    pub fn heap_id(&self) -> u64 {
        self.inner.id
    }

    /// Words allocated through this TLAB so far.
    pub fn allocated_words(&self) -> u64 {
        self.allocated + self.uncounted()
    }

    /// Words bumped from the current buffer since they were last counted.
    fn uncounted(&self) -> u64 {
        ((self.bump.top as usize).wrapping_sub(self.counted_to as usize) / 8) as u64
    }

    /// Adds the words bumped so far to `allocated`, before the buffer changes.
    fn count(&mut self) {
        self.allocated += self.uncounted();
        self.counted_to = self.bump.top;
    }

    /// An allocation the bump region has no room for: a new buffer from the nursery, or an
    /// overflow chunk once the nursery is used up.
    #[cold]
    pub(crate) fn alloc_slow(&mut self, words: usize) -> *mut u64 {
        self.count();
        let tlab_words = self.inner.opts.tlab_words;
        if words > tlab_words / 4 {
            return self.alloc_large(words);
        }
        self.retire();
        match self.inner.spaces.take_nursery(tlab_words) {
            Some((p, n)) if n >= words => self.set_buffer(p, n, None),
            Some((p, n)) => {
                // The nursery's last piece is too small for this object: cover it and
                // overflow.
                // SAFETY: the piece is ours and unused.
                unsafe { write_filler(p, n) };
                self.overflow(tlab_words);
            }
            None => self.overflow(tlab_words),
        }
        self.bump.take(words).expect("the new buffer holds the allocation")
    }

    /// An object of more than a quarter TLAB: straight from the nursery, or in a chunk of
    /// its own, so a TLAB never wastes more than a quarter of itself on a tail.
    fn alloc_large(&mut self, words: usize) -> *mut u64 {
        self.allocated += words as u64;
        match self.inner.spaces.take_nursery(words) {
            Some((p, n)) if n == words => p,
            other => {
                if let Some((p, n)) = other {
                    // SAFETY: the nursery's last piece is ours and unused.
                    unsafe { write_filler(p, n) };
                }
                let block = Block::new(words);
                let p = block.start();
                self.inner.spaces.add_young([Area { block, used: words }], &mut Vec::new(), 0);
                self.nursery_full();
                p
            }
        }
    }

    /// The nursery is exhausted: allocate on in an overflow chunk and ask for a collection.
    fn overflow(&mut self, words: usize) {
        let block = Block::new(words);
        let p = block.start();
        self.set_buffer(p, words, Some(block));
        self.nursery_full();
    }

    fn nursery_full(&self) {
        self.inner.request(Want::Minor, GcReason::HeapFull);
    }

    fn set_buffer(&mut self, p: *mut u64, words: usize, chunk: Option<Block>) {
        self.bump = Bump { top: p, end: p.wrapping_add(words) };
        self.counted_to = p;
        self.chunk = chunk;
    }

    /// Records a refc-binary handle written at `addr`; asks for a collection when the
    /// binaries referenced from this worker's young data pass its vheap budget.
    pub(crate) fn note_handle(&mut self, addr: usize, bytes: usize) {
        self.mso.push(addr);
        self.vheap += bytes.div_ceil(8);
        if self.vheap > self.inner.opts.vheap_words_per_worker {
            self.inner.request(Want::Minor, GcReason::VheapFull);
        }
    }

    /// Hands the buffer's tail, its chunk and its handles to the heap (Invariant 2).
    pub(crate) fn retire(&mut self) {
        self.count();
        let free = self.bump.free();
        if free > 0 {
            // SAFETY: `[top, end)` is unused memory of this TLAB (Invariant 1).
            unsafe { write_filler(self.bump.top, free) };
        }
        let chunk = self.chunk.take().map(|block| {
            let used = block.words();
            Area { block, used }
        });
        if chunk.is_some() || !self.mso.is_empty() {
            self.inner.spaces.add_young(chunk, &mut self.mso, self.vheap);
        }
        self.vheap = 0;
        self.bump = Bump::empty();
        self.counted_to = std::ptr::null_mut();
    }
}

impl Drop for Tlab {
    fn drop(&mut self) {
        self.retire();
        safepoint::leave(&self.inner);
    }
}
