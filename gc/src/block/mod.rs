//! Raw memory blocks for heaps and fragments, and the caches that recycle them.
//!
//! Every heap block has a size from the heap growth table. Blocks below
//! [`MMAP_THRESHOLD_WORDS`] are *small*: carved from carriers and recycled through free lists
//! per size (`pool`), as ERTS's allocators carve blocks from carriers. Larger blocks are
//! anonymous memory maps of their own, kept for reuse when freed (`segments`), as ERTS's
//! `mseg_alloc` keeps freed segments. Blocks of other sizes (a message copy's exact size)
//! come from the global allocator. [`trim_block_caches`] gives the memory of every free block
//! back to the operating system, for a program that has gone idle after a burst.
//!
//! A block that cannot be allocated ends the program with a message naming its size, as
//! `handle_alloc_error` does and as the BEAM does (`erts_alloc_enomem`: "Cannot allocate N
//! bytes of memory (of type "heap")"); [`Block::new`] never panics, so a collection never
//! unwinds half-way (see `unwind`).
//!
//! # Invariants
//! 1. A [`Block`] owns `words` words of 8-byte-aligned memory exclusively until dropped,
//!    except a *lent* block ([`Block::lent`]): a window on words of another block, which its
//!    holder uses exclusively until dropped, and which frees nothing.
//! 2. A freed small block goes to its size's free list, a freed map to the segment cache (or
//!    back to the OS); either then owns it alone.

#[cfg(feature = "fault-injection")]
pub mod fault;
mod pool;
mod segments;

use std::alloc::{self, Layout};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

use memmap2::MmapMut;

pub use pool::{CARRIER_BYTES, SYSTEM_POOL_BYTES};
pub use segments::{CACHE_BYTES, HOT_CACHE_BYTES};

/// Blocks at least this large (2 MiB) are memory maps of their own. Below it carriers are
/// cheaper: with ten thousand processes of 100 KB to 1 MB each, blocks that were maps of
/// their own kept the segment cache overflowing, and every `munmap` flushed the other
/// cores' TLBs in the middle of their processes' slices. Above it returning a heap's pages
/// to the OS at exit matters more.
pub const MMAP_THRESHOLD_WORDS: usize = 256 * 1024;

static IN_USE_BYTES: AtomicUsize = AtomicUsize::new(0);
static MAPPED_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Memory held in heap blocks across the whole program.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct BlockStats {
    /// Bytes of blocks currently owned by heaps and fragments.
    pub in_use_bytes: usize,
    /// Bytes of free small blocks kept on their free lists.
    pub pooled_bytes: usize,
    /// Of `in_use_bytes`, the bytes in memory maps of their own.
    pub mapped_bytes: usize,
    /// Bytes of free maps kept in the segment cache.
    pub cached_map_bytes: usize,
    /// Bytes of carriers mapped for small blocks (never unmapped; their free blocks' pages
    /// are given back by [`trim_block_caches`]).
    pub carrier_bytes: usize,
}

/// Current block counters.
pub fn block_stats() -> BlockStats {
    BlockStats {
        in_use_bytes: IN_USE_BYTES.load(Ordering::Relaxed),
        pooled_bytes: pool::POOLED_BYTES.load(Ordering::Relaxed),
        mapped_bytes: MAPPED_BYTES.load(Ordering::Relaxed),
        cached_map_bytes: segments::CACHED_BYTES.load(Ordering::Relaxed),
        carrier_bytes: pool::CARRIER_MAPPED_BYTES.load(Ordering::Relaxed),
    }
}

/// Gives the memory of every free block back to the operating system: cached maps are
/// unmapped, the pages of free small blocks dropped (the blocks stay on their free lists
/// and get fresh zero pages when reused); under `HEAPLAB_BLOCKS=system` free small blocks
/// go back to the global allocator. For a program that has gone idle after a burst of
/// processes, and for memory measurements.
pub fn trim_block_caches() {
    segments::release();
    pool::trim();
}

/// Gives back to the operating system every free block ([`trim_block_caches`]) and the
/// free memory of the global allocator: the process cells, inboxes and message copies of
/// processes that exited stay in the C allocator's free lists otherwise (glibc returns only
/// the top of its main arena by itself). With glibc this is `malloc_trim(0)`, which walks
/// every arena and drops the pages of free chunks; it holds each arena's lock meanwhile, so
/// callers do it when idle. Returns the time it took.
pub fn trim_memory() -> std::time::Duration {
    let start = std::time::Instant::now();
    trim_block_caches();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only reads and updates the allocator's own state under its locks;
    // it frees nothing that is in use.
    unsafe {
        libc::malloc_trim(0);
    }
    start.elapsed()
}

/// Makes the pages of `[start, start + bytes)`, a memory map of a block (page-aligned),
/// resident and writable now, in one system call (`MADV_POPULATE_WRITE`, Linux 5.14)
/// instead of one page fault per page as it fills: for a block about to be written from its
/// first word to its last. Leaves the contents as they are; on an older kernel (or
/// elsewhere) does nothing and the pages fault in as before.
pub(crate) fn populate(start: usize, bytes: usize) {
    #[cfg(all(target_os = "linux", not(miri)))]
    // SAFETY: the range is a live block's own memory (Invariant 1); POPULATE_WRITE only
    // faults its pages in and changes no byte, whoever is writing them meanwhile.
    unsafe {
        libc::madvise(std::ptr::with_exposed_provenance_mut(start), bytes, libc::MADV_POPULATE_WRITE);
    }
    #[cfg(not(all(target_os = "linux", not(miri))))]
    let _ = (start, bytes);
}

/// The old name of [`trim_block_caches`], kept for the memory tests that call it.
pub fn release_pooled_blocks() {
    trim_block_caches();
}

fn malloc_layout(words: usize) -> Layout {
    Layout::from_size_align(words.max(1) * 8, 8).expect("block size overflows")
}

/// Ends the program: a heap block of `words` words could not be allocated. Nothing has been
/// torn yet when this runs (allocation comes before a collection writes anything), but the
/// process that needed the memory cannot go on, and neither could the BEAM.
#[cold]
pub(crate) fn allocation_failed(words: usize, cause: &str) -> ! {
    eprintln!(
        "heaplab-gc: cannot allocate a heap block of {} bytes ({words} words): {cause}; aborting",
        words.saturating_mul(8)
    );
    std::process::abort()
}

/// How a block will be written, which decides where a new carrier block starts.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) enum Fill {
    /// To its end soon (a young heap, a to-space, a fragment chunk): packed against the
    /// block before it, so that the page they share is resident once for both.
    Whole,
    /// From its first word, a little at a time, rarely to its end (an old generation).
    Slowly,
}

enum Backing {
    /// A small block of this pool class.
    Pool(usize),
    /// An allocation of the global allocator.
    Malloc,
    /// `None` only while the block is being dropped.
    Map(Option<MmapMut>),
    /// Words lent from another block (a message-area chunk): nothing to free.
    Lent,
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
        Block::make(words, Fill::Whole)
    }

    /// A window on `words` words at `start`, lent by their owner: dropping it frees nothing.
    ///
    /// # Safety
    /// The words lie in a live block whose owner lends them for this block's whole life, and
    /// no one else reads or writes them meanwhile (Invariant 1).
    pub(crate) unsafe fn lent(start: *mut u64, words: usize) -> Block {
        let ptr = NonNull::new(start).expect("a lent window is never at address 0");
        Block { ptr, words, backing: Backing::Lent }
    }

    /// Whether this block is a lent window ([`Block::lent`]).
    pub(crate) fn is_lent(&self) -> bool {
        matches!(self.backing, Backing::Lent)
    }

    /// A block for data that fills it from its first word over many collections (an old
    /// generation): a new carrier block starts on a page boundary (see `pool::carve`).
    pub(crate) fn new_filled_slowly(words: usize) -> Block {
        Block::make(words, Fill::Slowly)
    }

    fn make(words: usize, fill: Fill) -> Block {
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
            let mut map = match segments::take_cached_map(bytes) {
                Some(map) => map,
                None => MmapMut::map_anon(bytes).unwrap_or_else(|e| allocation_failed(words, &e.to_string())),
            };
            MAPPED_BYTES.fetch_add(bytes, Ordering::Relaxed);
            let ptr = NonNull::new(map.as_mut_ptr() as *mut u64).expect("a map is never at address 0");
            return Block { ptr, words, backing: Backing::Map(Some(map)) };
        }
        if let Some(class) = pool::class_of(words) {
            return Block { ptr: pool::take(class, fill), words, backing: Backing::Pool(class) };
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
        if self.is_lent() {
            return;
        }
        IN_USE_BYTES.fetch_sub(self.words * 8, Ordering::Relaxed);
        match self.backing {
            Backing::Map(ref mut map) => {
                MAPPED_BYTES.fetch_sub(self.words * 8, Ordering::Relaxed);
                if let Some(map) = map.take() {
                    segments::cache_map(map);
                }
            }
            Backing::Pool(class) => pool::give(class, self.ptr),
            // Returned above: a lent window frees nothing (Invariant 1).
            Backing::Lent => {}
            Backing::Malloc => {
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
