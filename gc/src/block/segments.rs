//! Freed memory maps kept for reuse, as ERTS's `mseg_alloc` keeps freed segments.
//!
//! Every collection of a large heap allocates a to-space the size of the from-space it
//! frees, and a fresh map costs a page fault per page on first touch (about a third of a
//! major collection's time at 16 MB live), its `munmap` a page-table walk and a TLB flush.
//! The first [`HOT_CACHE_BYTES`] of cached maps stay as they are, so a heap freed at exit or
//! a from-space freed by a collection goes back in O(1) and comes out again with its pages
//! resident; maps cached beyond that are marked `MADV_FREE` (the kernel may take their pages
//! under memory pressure, and the mapping stays for reuse); beyond [`CACHE_BYTES`] in all a
//! freed map is unmapped.
//!
//! # Invariants
//! 1. `CACHED_BYTES` is the sum of the lengths of the cached maps; a cached map is owned by
//!    the cache alone.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use memmap2::MmapMut;

pub(super) static CACHED_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Cached maps up to this many bytes keep their pages as they are (no `madvise` on the way
/// in): enough for the from-space of a 64 MiB heap and the to-spaces of the collections
/// running beside it. A bound, not a reserve: nothing is cached until something is freed.
pub const HOT_CACHE_BYTES: usize = 256 << 20;
/// Most bytes of maps the segment cache keeps; what is cached above [`HOT_CACHE_BYTES`] is
/// marked `MADV_FREE`.
pub const CACHE_BYTES: usize = 1 << 30;
/// Most maps the cache keeps, so a lookup stays a short scan.
const CACHE_MAPS: usize = 64;

/// Cached maps, each with whether it was marked `MADV_FREE` (a "cold" map may have lost
/// pages to the kernel; a "hot" one has them all).
static SEGMENT_CACHE: Mutex<Vec<(MmapMut, bool)>> = Mutex::new(Vec::new());

/// A cached map of exactly `bytes` bytes, if there is one.
pub(super) fn take_cached_map(bytes: usize) -> Option<MmapMut> {
    let mut cache = SEGMENT_CACHE.lock().unwrap_or_else(|e| e.into_inner());
    // A hot map of the size first: its pages are all resident.
    let i = cache
        .iter()
        .rposition(|(m, cold)| m.len() == bytes && !cold)
        .or_else(|| cache.iter().rposition(|(m, _)| m.len() == bytes))?;
    CACHED_BYTES.fetch_sub(bytes, Ordering::Relaxed);
    Some(cache.swap_remove(i).0)
}

/// Keeps `map` for reuse if the cache has room; otherwise unmaps it (by dropping it).
pub(super) fn cache_map(map: MmapMut) {
    let bytes = map.len();
    let mut cache = SEGMENT_CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let cached = CACHED_BYTES.load(Ordering::Relaxed);
    if cache.len() >= CACHE_MAPS || cached + bytes > CACHE_BYTES {
        return;
    }
    let cold = cached + bytes > HOT_CACHE_BYTES;
    if cold {
        // SAFETY: the map's contents are garbage (its block was dropped); MADV_FREE may
        // replace any page with zeroes, which no one reads before writing (heap Invariant 4).
        #[cfg(not(miri))]
        let _ = unsafe { map.unchecked_advise(memmap2::UncheckedAdvice::Free) };
    }
    CACHED_BYTES.fetch_add(bytes, Ordering::Relaxed);
    cache.push((map, cold));
}

/// Unmaps every cached map.
pub(super) fn release() {
    let maps = std::mem::take(&mut *SEGMENT_CACHE.lock().unwrap_or_else(|e| e.into_inner()));
    for (map, _) in maps {
        CACHED_BYTES.fetch_sub(map.len(), Ordering::Relaxed);
    }
}
