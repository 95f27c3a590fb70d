//! Raw memory blocks for heaps and fragments.
//!
//! Small blocks come from the global allocator through a per-size pool, so that spawning
//! and exiting processes recycles heap blocks instead of calling the allocator; blocks of
//! [`MMAP_THRESHOLD_WORDS`] words or more are anonymous memory maps (`memmap2`).
//!
//! Freed maps are kept in a segment cache, as ERTS's `mseg_alloc` keeps freed segments:
//! every collection of a large heap allocates a to-space the size of the from-space it frees,
//! and a fresh map costs a page fault per page on first touch (about a third of a major
//! collection's time at 16 MB live), its `munmap` a page-table walk and a TLB flush. The
//! first [`HOT_CACHE_BYTES`] of cached maps stay as they are, so a heap freed at exit or a
//! from-space freed by a collection goes back in O(1) and comes out again with its pages
//! resident; maps cached beyond that are marked `MADV_FREE` (the kernel may take their pages
//! under memory pressure, and the mapping stays for reuse); beyond [`CACHE_BYTES`] in all a
//! freed map is unmapped. [`trim_block_caches`] gives every cached block back to the
//! operating system, for a program that has gone idle after a burst.
//!
//! A block that cannot be allocated ends the program with a message naming its size, as
//! `handle_alloc_error` does and as the BEAM does (`erts_alloc_enomem`: "Cannot allocate N
//! bytes of memory (of type "heap")"); [`Block::new`] never panics, so a collection never
//! unwinds half-way (see `unwind`).
//!
//! # Invariants
//! 1. A [`Block`] owns `words` words of 8-byte-aligned memory exclusively until dropped.
//! 2. Only blocks whose size is an entry of the heap size table are pooled, and a pooled
//!    pointer is owned by the pool alone.

use std::alloc::{self, Layout};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use crossbeam_queue::ArrayQueue;
use memmap2::MmapMut;

/// Blocks at least this large (256 KiB) are memory maps. Below it the allocator and the pool
/// are cheaper; above it returning pages to the OS at exit matters more.
pub const MMAP_THRESHOLD_WORDS: usize = 32 * 1024;

/// Bytes the pool may keep per size class; 4 MiB keeps ~2,000 minimum-size heaps warm.
const POOL_BYTES_PER_CLASS: usize = 4 << 20;

static IN_USE_BYTES: AtomicUsize = AtomicUsize::new(0);
static POOLED_BYTES: AtomicUsize = AtomicUsize::new(0);
static MAPPED_BYTES: AtomicUsize = AtomicUsize::new(0);
static CACHED_BYTES: AtomicUsize = AtomicUsize::new(0);

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

/// Memory held in heap blocks across the whole program.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct BlockStats {
    /// Bytes of blocks currently owned by heaps and fragments.
    pub in_use_bytes: usize,
    /// Bytes of free blocks kept in the pool.
    pub pooled_bytes: usize,
    /// Of `in_use_bytes`, the bytes in memory maps.
    pub mapped_bytes: usize,
    /// Bytes of free maps kept in the segment cache.
    pub cached_map_bytes: usize,
}

/// Current block counters.
pub fn block_stats() -> BlockStats {
    BlockStats {
        in_use_bytes: IN_USE_BYTES.load(Ordering::Relaxed),
        pooled_bytes: POOLED_BYTES.load(Ordering::Relaxed),
        mapped_bytes: MAPPED_BYTES.load(Ordering::Relaxed),
        cached_map_bytes: CACHED_BYTES.load(Ordering::Relaxed),
    }
}

/// Gives every cached block back: pooled small blocks to the allocator, cached maps to the
/// operating system. For a program that has gone idle after a burst of processes (their
/// heaps are cached for the next burst until then), and for memory measurements.
pub fn trim_block_caches() {
    release_pooled_blocks();
}

/// Returns every pooled block to the allocator and every cached map to the operating
/// system (for memory measurements and tests).
pub fn release_pooled_blocks() {
    let maps = std::mem::take(&mut *SEGMENT_CACHE.lock().unwrap_or_else(|e| e.into_inner()));
    for (map, _) in maps {
        CACHED_BYTES.fetch_sub(map.len(), Ordering::Relaxed);
    }
    if let Some(pool) = POOL.get() {
        for (class, queue) in pool.classes.iter().enumerate() {
            let words = crate::sizes::heap_size_table()[class];
            while let Some(block) = queue.pop() {
                POOLED_BYTES.fetch_sub(words * 8, Ordering::Relaxed);
                // SAFETY: the pool owned this block (Invariant 2), allocated with `words`.
                unsafe { alloc::dealloc(block.0.as_ptr() as *mut u8, malloc_layout(words)) };
            }
        }
    }
}

/// A free block kept by the pool: a pointer (not an address), so it keeps its provenance.
struct Pooled(NonNull<u64>);

// SAFETY: a pooled block is plain memory owned by the pool alone (Invariant 2); handing the
// pointer to another thread hands over that ownership.
unsafe impl Send for Pooled {}

struct Pool {
    /// One queue per heap-size-table entry below the map threshold.
    classes: Vec<ArrayQueue<Pooled>>,
}

static POOL: OnceLock<Pool> = OnceLock::new();

fn pool() -> &'static Pool {
    POOL.get_or_init(|| {
        let classes = crate::sizes::heap_size_table()
            .iter()
            .take_while(|&&w| w < MMAP_THRESHOLD_WORDS)
            .map(|&w| ArrayQueue::new((POOL_BYTES_PER_CLASS / (w * 8)).clamp(4, 4096)))
            .collect();
        Pool { classes }
    })
}

fn pool_class(words: usize) -> Option<usize> {
    if words >= MMAP_THRESHOLD_WORDS {
        return None;
    }
    let table = crate::sizes::heap_size_table();
    table.binary_search(&words).ok()
}

fn malloc_layout(words: usize) -> Layout {
    Layout::from_size_align(words.max(1) * 8, 8).expect("block size overflows")
}

/// Ends the program: a heap block of `words` words could not be allocated. Nothing has been
/// torn yet when this runs (allocation comes before a collection writes anything), but the
/// process that needed the memory cannot go on, and neither could the BEAM.
#[cold]
fn allocation_failed(words: usize, cause: &str) -> ! {
    eprintln!(
        "heaplab-gc: cannot allocate a heap block of {} bytes ({words} words): {cause}; aborting",
        words.saturating_mul(8)
    );
    std::process::abort()
}

/// Test-only fault injection: make a chosen block allocation fail, to check that a failure at
/// any point of a collection ends the program cleanly instead of leaving a torn heap behind.
#[cfg(feature = "fault-injection")]
pub mod fault {
    use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

    /// How an injected failure shows itself.
    #[derive(Copy, Clone, Debug, PartialEq, Eq)]
    pub enum Failure {
        /// As a real one does: the program aborts with the out-of-memory message.
        Abort,
        /// As a panic out of the allocation (what `expect` on a failed map used to do): the
        /// abort-on-unwind guard of the collection must turn it into an abort.
        Panic,
    }

    /// Allocations still allowed before the injected failure; `u64::MAX` = never fail.
    static ALLOWED: AtomicU64 = AtomicU64::new(u64::MAX);
    static HOW: AtomicU8 = AtomicU8::new(0);

    /// Makes the block allocation after the next `n` fail (in any thread), as `how` says.
    pub fn fail_block_allocation_after(n: u64, how: Failure) {
        HOW.store(how as u8, Ordering::SeqCst);
        ALLOWED.store(n, Ordering::SeqCst);
    }

    /// The failure due now, if this allocation is the one to fail.
    pub(super) fn due() -> Option<Failure> {
        let fails = ALLOWED
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| match left {
                u64::MAX => None,
                0 => Some(u64::MAX),
                n => Some(n - 1),
            })
            .is_ok_and(|left| left == 0);
        fails.then(|| {
            if HOW.load(Ordering::SeqCst) == Failure::Panic as u8 {
                Failure::Panic
            } else {
                Failure::Abort
            }
        })
    }
}

enum Backing {
    Malloc,
    /// `None` only while the block is being dropped.
    Map(Option<MmapMut>),
}

/// A cached map of exactly `bytes` bytes, if there is one.
fn take_cached_map(bytes: usize) -> Option<MmapMut> {
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
fn cache_map(map: MmapMut) {
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

/// A block of `words` words.
pub(crate) struct Block {
    ptr: NonNull<u64>,
    words: usize,
    backing: Backing,
}

// SAFETY: a block is plain memory owned exclusively by its holder (Invariant 1); moving the
// owner between threads moves the ownership.
unsafe impl Send for Block {}

impl Block {
    /// A block of at least one word. Ends the program if the memory cannot be had (see the
    /// module docs); never panics.
    pub(crate) fn new(words: usize) -> Block {
        let words = words.max(1);
        #[cfg(feature = "fault-injection")]
        match fault::due() {
            Some(fault::Failure::Abort) => allocation_failed(words, "injected failure"),
            Some(fault::Failure::Panic) => panic!("injected panic allocating a heap block of {words} words"),
            None => {}
        }
        let Some(bytes) = words.checked_mul(8).filter(|&b| b <= isize::MAX as usize) else {
            allocation_failed(words, "size overflows the address space");
        };
        IN_USE_BYTES.fetch_add(bytes, Ordering::Relaxed);
        // Miri cannot run `mmap`: every block comes from the allocator there.
        if words >= MMAP_THRESHOLD_WORDS && cfg!(not(miri)) {
            let mut map = match take_cached_map(bytes) {
                Some(map) => map,
                None => MmapMut::map_anon(bytes).unwrap_or_else(|e| allocation_failed(words, &e.to_string())),
            };
            MAPPED_BYTES.fetch_add(bytes, Ordering::Relaxed);
            let ptr = NonNull::new(map.as_mut_ptr() as *mut u64).expect("a map is never at address 0");
            return Block { ptr, words, backing: Backing::Map(Some(map)) };
        }
        if let Some(class) = pool_class(words) {
            if let Some(ptr) = pool().classes[class].pop() {
                POOLED_BYTES.fetch_sub(bytes, Ordering::Relaxed);
                return Block { ptr: ptr.0, words, backing: Backing::Malloc };
            }
        }
        let layout = malloc_layout(words);
        // SAFETY: the layout is non-zero-sized.
        let raw = unsafe { alloc::alloc(layout) } as *mut u64;
        let Some(ptr) = NonNull::new(raw) else { allocation_failed(words, "the allocator returned null") };
        Block { ptr, words, backing: Backing::Malloc }
    }

    /// First word.
    #[inline]
    pub(crate) fn start(&self) -> *mut u64 {
        self.ptr.as_ptr()
    }

    /// Capacity in words.
    #[inline]
    pub(crate) fn words(&self) -> usize {
        self.words
    }

    /// Address of the first word.
    #[inline]
    pub(crate) fn addr(&self) -> usize {
        self.ptr.as_ptr() as usize
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        IN_USE_BYTES.fetch_sub(self.words * 8, Ordering::Relaxed);
        match self.backing {
            Backing::Map(ref mut map) => {
                MAPPED_BYTES.fetch_sub(self.words * 8, Ordering::Relaxed);
                if let Some(map) = map.take() {
                    cache_map(map);
                }
            }
            Backing::Malloc => {
                if let Some(class) = pool_class(self.words) {
                    if pool().classes[class].push(Pooled(self.ptr)).is_ok() {
                        POOLED_BYTES.fetch_add(self.words * 8, Ordering::Relaxed);
                        return;
                    }
                }
                // SAFETY: this block owns the allocation (Invariant 1), made with this layout.
                unsafe { alloc::dealloc(self.ptr.as_ptr() as *mut u8, malloc_layout(self.words)) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_blocks_are_recycled_and_large_ones_mapped() {
        let b = Block::new(233);
        let addr = b.addr();
        drop(b);
        let c = Block::new(233);
        // The pool is global, so another test may have taken the block; only check alignment.
        assert_eq!(c.addr() % 8, 0);
        let _ = addr;
        let big = Block::new(MMAP_THRESHOLD_WORDS * 2);
        // Under Miri, which cannot map memory, every block comes from the allocator.
        if cfg!(not(miri)) {
            assert!(block_stats().mapped_bytes >= MMAP_THRESHOLD_WORDS * 16);
        }
        // SAFETY: the block owns its words.
        unsafe { big.start().add(big.words() - 1).write(42) };
    }
}
