//! The memory of a shared heap: the nursery, the young areas outside it, and the old
//! generation's chunks.
//!
//! # Invariants
//! 1. Nursery words `[0, min(top, capacity))` have been handed out; outside a collection and
//!    with every TLAB retired they are a gap-free sequence of objects (module Invariant 4).
//! 2. `young.areas` (retired overflow chunks, large objects, adopted fragments) and the old
//!    chunks `[0, used)` are gap-free sequences of objects at the same moments.
//! 3. Old chunks only grow during a collection (PLAB refills) and are replaced wholesale by a
//!    major collection; between collections nothing allocates in them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::{SharedOptions, SharedStats};
use crate::area::{Area, AreaKind};
use crate::block::Block;
use crate::verify::{verify_space, VerifyError};

/// Words of one old-generation chunk (8 MiB, a memory map); bigger objects get their own.
pub(crate) const OLD_CHUNK_WORDS: usize = 1 << 20;

/// Young data outside the nursery.
#[derive(Default)]
pub(crate) struct YoungExtra {
    pub(crate) areas: Vec<Area>,
    pub(crate) words: usize,
    /// Refc-binary handles of retired TLABs and adopted fragments (heap Invariant 3).
    pub(crate) mso: Vec<usize>,
    pub(crate) vheap: usize,
}

/// A chunk just made by [`Old::alloc`], to be populated by the caller once the old
/// generation's lock is released. The chunk stays mapped for the rest of the collection
/// (chunks are only appended during one, Invariant 3).
pub(crate) struct FreshChunk {
    start: usize,
    words: usize,
}

impl FreshChunk {
    /// Makes the chunk's pages resident now (`block::populate`).
    pub(crate) fn populate(self) {
        crate::block::populate(self.start, self.words * 8);
    }
}

/// The old generation.
pub(crate) struct Old {
    pub(crate) chunks: Vec<Area>,
    pub(crate) used: usize,
    pub(crate) mso: Vec<usize>,
    /// Old words at which the next major collection runs.
    pub(crate) next_major_at: usize,
    /// Chunks of [`OLD_CHUNK_WORDS`] a major collection evacuated, kept with their pages
    /// resident for the next chunks the old generation needs, at most as many words as the
    /// old generation holds (`used`). A major collection copies the whole live data into new
    /// chunks: without these, each of their pages would be faulted in again inside the pause
    /// and the evacuated ones unmapped in it (TLB shootdowns on every core), as a production
    /// collector's heap keeps its committed memory between collections.
    pub(crate) spare: Vec<Block>,
    /// Of `used`, the filler words that cover unused tails (of retired PLABs and of chunks
    /// too full for the next allocation): in use, yet no object's.
    pub(crate) padding: usize,
}

pub(crate) struct Spaces {
    pub(crate) nursery: Block,
    top: AtomicUsize,
    pub(crate) young: Mutex<YoungExtra>,
    pub(crate) old: Mutex<Old>,
}

// SAFETY: the nursery block is shared by address only: `take_nursery` hands each range out
// once (atomic add) to a TLAB, whose worker alone writes it; reading or resetting the whole
// nursery (collection, verification) happens only inside a stop, which starts once every
// registered TLAB has been handed to it. Both follow from the types (module Invariant 1):
// heap words are reachable only through `&mut Tlab` of this heap or from inside a stop.
// Everything else is behind a mutex.
unsafe impl Sync for Spaces {}

impl Spaces {
    pub(crate) fn new(opts: &SharedOptions, workers: usize) -> Spaces {
        Spaces {
            nursery: Block::new(opts.nursery_words_per_worker * workers),
            top: AtomicUsize::new(0),
            young: Mutex::default(),
            old: Mutex::new(Old {
                chunks: Vec::new(),
                used: 0,
                mso: Vec::new(),
                next_major_at: opts.min_old_words,
                spare: Vec::new(),
                padding: 0,
            }),
        }
    }

    /// Takes up to `words` nursery words, or `None` when the nursery is exhausted. A result
    /// shorter than asked is the nursery's last piece.
    pub(crate) fn take_nursery(&self, words: usize) -> Option<(*mut u64, usize)> {
        let capacity = self.nursery.words();
        if self.top.load(Ordering::Relaxed) >= capacity {
            return None;
        }
        let at = self.top.fetch_add(words, Ordering::Relaxed);
        if at >= capacity {
            return None;
        }
        // SAFETY: `at < capacity`: inside the nursery block; the range is ours alone (the
        // atomic add handed it out once).
        Some((unsafe { self.nursery.start().add(at) }, words.min(capacity - at)))
    }

    /// Nursery words handed out.
    pub(crate) fn nursery_used(&self) -> usize {
        self.top.load(Ordering::Relaxed).min(self.nursery.words())
    }

    /// Empties the nursery (after a collection evacuated it).
    pub(crate) fn reset_nursery(&self) {
        self.top.store(0, Ordering::Relaxed);
    }

    pub(crate) fn lock_young(&self) -> std::sync::MutexGuard<'_, YoungExtra> {
        self.young.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn lock_old(&self) -> std::sync::MutexGuard<'_, Old> {
        self.old.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds young areas and handles (a retired chunk, a large object, an adopted fragment);
    /// returns the young words now outside the nursery.
    pub(crate) fn add_young(
        &self,
        areas: impl IntoIterator<Item = Area>,
        mso: &mut Vec<usize>,
        vheap: usize,
    ) -> usize {
        let mut young = self.lock_young();
        for area in areas {
            young.words += area.used;
            young.areas.push(area);
        }
        young.mso.append(mso);
        young.vheap += vheap;
        young.words
    }

    pub(crate) fn stats(&self) -> SharedStats {
        let young_words = self.lock_young().words;
        let old = self.lock_old();
        SharedStats {
            nursery_capacity: self.nursery.words(),
            nursery_used: self.nursery_used(),
            overflow_words: young_words,
            old_used: old.used,
            old_capacity: old.chunks.iter().map(|c| c.block.words()).sum(),
            next_major_at: old.next_major_at,
            ..SharedStats::default()
        }
    }

    /// Words in use: nursery handed out, young areas and old generation.
    pub(crate) fn used_words(&self) -> usize {
        self.nursery_used() + self.lock_young().words + self.lock_old().used
    }

    /// The verifier over every area (module Invariant 4 must hold: call at a safepoint).
    pub(crate) fn verify(&self, roots: impl Iterator<Item = u64>) -> Result<(), VerifyError> {
        let young = self.lock_young();
        let old = self.lock_old();
        let mut areas = vec![(AreaKind::Young, self.nursery.start() as *const u64, self.nursery_used())];
        areas.extend(young.areas.iter().map(|a| (AreaKind::Fragment, a.block.start() as *const u64, a.used)));
        areas.extend(old.chunks.iter().map(|a| (AreaKind::Old, a.block.start() as *const u64, a.used)));
        verify_space(&areas, roots, &young.mso, &old.mso, None).map(drop)
    }
}

impl Drop for Spaces {
    /// Releases every binary the heap still references; the blocks free themselves.
    fn drop(&mut self) {
        let young = self.young.get_mut().unwrap_or_else(|e| e.into_inner());
        let old = self.old.get_mut().unwrap_or_else(|e| e.into_inner());
        crate::binary::release_handles(young.mso.drain(..).chain(old.mso.drain(..)));
    }
}

impl Old {
    /// Keeps the chunks of an evacuated old generation as spares (up to `used` words in
    /// all); drops the rest.
    pub(crate) fn keep_spares(&mut self, evacuated: Vec<Area>) {
        let mut kept = self.spare.len() * OLD_CHUNK_WORDS;
        for area in evacuated {
            if area.block.words() == OLD_CHUNK_WORDS && kept + OLD_CHUNK_WORDS <= self.used {
                kept += OLD_CHUNK_WORDS;
                self.spare.push(area.block);
            }
        }
    }

    /// Allocates `words` old words for a collection worker: in the last chunk if it fits,
    /// else in a spare or a new chunk. Returns the start and the words actually given (at
    /// least `words`, up to `want` when the chunk has room, for a PLAB), and, when a new
    /// chunk (not a spare) had to be made, that chunk for the caller to populate once the
    /// lock is released (see `block::populate`): a collection fills it whole, and one call
    /// beats a page fault per page, outside the lock so that the other workers' refills do
    /// not wait for it.
    pub(crate) fn alloc(&mut self, words: usize, want: usize) -> (*mut u64, usize, Option<FreshChunk>) {
        if let Some(chunk) = self.chunks.last_mut() {
            let free = chunk.block.words() - chunk.used;
            if free >= words {
                let given = want.min(free).max(words);
                // SAFETY: `used + given <= capacity` (checked just above).
                let p = unsafe { chunk.block.start().add(chunk.used) };
                chunk.used += given;
                self.used += given;
                return (p, given, None);
            }
            // The chunk's tail is too small: cover it so the chunk stays walkable.
            if free > 0 {
                // SAFETY: the tail words are unused and inside the chunk.
                unsafe { crate::layout::write_filler(chunk.block.start().add(chunk.used), free) };
                chunk.used += free;
                self.used += free;
                self.padding += free;
            }
        }
        let (block, fresh) = match self.spare.pop() {
            Some(block) if words <= OLD_CHUNK_WORDS => (block, false),
            spare => {
                self.spare.extend(spare);
                (Block::new(OLD_CHUNK_WORDS.max(words)), true)
            }
        };
        let given = want.min(block.words()).max(words);
        let p = block.start();
        self.chunks.push(Area { block, used: given });
        self.used += given;
        let fresh = fresh.then(|| FreshChunk { start: p as usize, words: OLD_CHUNK_WORDS.max(words) });
        (p, given, fresh)
    }
}
