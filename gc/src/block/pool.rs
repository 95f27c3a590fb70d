//! Small blocks: each entry of the heap size table below [`MMAP_THRESHOLD_WORDS`] is a size
//! class with a free list, so that spawning, collecting and exiting recycle blocks instead of
//! asking the operating system or the allocator for memory.
//!
//! The blocks come from one of two sources, chosen once per program:
//! - **carriers** (the default), as ERTS's allocators carve blocks from carriers: memory maps
//!   of [`CARRIER_BYTES`] cut into blocks by a bump pointer. A freed block goes to its
//!   class's free list and stays with the program, so a collection's to-space is a block
//!   another collection just freed, with its pages resident (no page fault, no allocator
//!   call). Carriers are not advised for transparent huge pages: where the kernel compacts
//!   memory on a huge-page fault (`defrag` = `madvise`), a collection would wait for it
//!   (pauses of milliseconds were measured), and a huge page is resident as a whole however
//!   little of it a heap uses. Nor are their pages faulted in ahead of need: a fresh block's
//!   first write costs page faults inside the collection that copies into it (a first major
//!   collection of 8 KB in `churn` takes 7 µs instead of 2), but populating whole carriers
//!   made single pauses of 16 ms, populating ahead of the bump pointer on a background
//!   thread made `churn`'s resident memory grow by half (a block's last part is often never
//!   written), and populating the first half of blocks carved ahead by that thread left the
//!   pause p99 where it was and tripled its p999 (on two cores the thread preempts the
//!   schedulers mid-collection). Carving such blocks on the schedulers between slices, with
//!   their first quarter populated, took the pause p99 from 10.2 to 7.0 µs at no cost in
//!   memory, but the request latency p99 rose from 34 to 37–40 µs: the faults moved from
//!   the collections into the requests' path, and it was not kept. Nor would carriers that
//!   coalesce free neighbours (ERTS's address-order best fit) save fresh blocks in `churn`:
//!   whenever a block is carved there, the free lists hold at most 9,388 words in all
//!   (mean 215 words when a server's first young heap of 1,598 words is carved, 5,200 to
//!   9,400 words, six blocks of 233, two of 610 and one or two of 2,586, when its first old
//!   generation of 4,185 words is), so no reuse of free memory, whatever its size class,
//!   could serve more than one of the 20,000 carves: every carved block is a young heap or
//!   an old generation that stays live to the end. The faults are those of the memory the
//!   servers keep, about 7.5 pages each. An old generation is carved on a page boundary
//!   (`Fill::Slowly`): it is written from its start and rarely to its end, so its written
//!   words then span the fewest pages (in `churn`, 6% fewer page faults and 19 MB less peak
//!   resident memory). [`trim`] drops the pages of every free block (`MADV_DONTNEED`), so
//!   that a program gone idle after a burst gives the memory back; a block taken again gets
//!   fresh zero pages.
//! - **the global allocator** (`HEAPLAB_BLOCKS=system`, and always under Miri, which cannot
//!   map memory): every block its own allocation, at most [`SYSTEM_POOL_BYTES`] of free
//!   blocks kept per class. A memory checker (valgrind) then sees each block's allocation and
//!   free and reports any read of a freed block, which inside a carrier it cannot tell.
//!
//! # Invariants
//! 1. A block on a free list is owned by the list alone; `POOLED_BYTES` counts them.
//! 2. Carriers are never unmapped: every carrier block, free or in use, stays addressable for
//!    the life of the program.

use std::alloc::{self, Layout};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use crossbeam_queue::SegQueue;
use memmap2::MmapMut;

use super::{allocation_failed, Fill, MMAP_THRESHOLD_WORDS};

/// Bytes of one carrier (32 MiB: the largest small block, 1.7 MiB, wastes at most 6% of one
/// at its end).
pub const CARRIER_BYTES: usize = 32 << 20;

/// The page size the carriers' layout and `MADV_DONTNEED` work in.
const PAGE: usize = 4096;

/// Free blocks the global-allocator source keeps per class (4 MiB keeps ~2,000 minimum-size
/// heaps warm).
pub const SYSTEM_POOL_BYTES: usize = 4 << 20;

pub(super) static POOLED_BYTES: AtomicUsize = AtomicUsize::new(0);
pub(super) static CARRIER_MAPPED_BYTES: AtomicUsize = AtomicUsize::new(0);

/// A free block: a pointer (not an address), so it keeps its provenance.
struct Free(NonNull<u64>);

// SAFETY: a free block is plain memory owned by its free list alone (Invariant 1); handing
// the pointer to another thread hands over that ownership.
unsafe impl Send for Free {}

/// Where small blocks come from.
#[derive(Copy, Clone, PartialEq, Eq)]
enum BlockSource {
    Carriers,
    System,
}

fn source() -> BlockSource {
    static SOURCE: OnceLock<BlockSource> = OnceLock::new();
    *SOURCE.get_or_init(|| {
        let asked = std::env::var("HEAPLAB_BLOCKS").ok();
        if cfg!(miri) || asked.as_deref() == Some("system") {
            BlockSource::System
        } else {
            BlockSource::Carriers
        }
    })
}

struct Class {
    words: usize,
    free: SegQueue<Free>,
}

fn classes() -> &'static [Class] {
    static CLASSES: OnceLock<Vec<Class>> = OnceLock::new();
    CLASSES.get_or_init(|| {
        crate::sizes::heap_size_table()
            .iter()
            .take_while(|&&words| words < MMAP_THRESHOLD_WORDS)
            .map(|&words| Class { words, free: SegQueue::new() })
            .collect()
    })
}

/// The class of a block of `words` words, if it is a pooled size.
pub(super) fn class_of(words: usize) -> Option<usize> {
    if words >= MMAP_THRESHOLD_WORDS {
        return None;
    }
    crate::sizes::heap_size_table().binary_search(&words).ok()
}

/// A block of class `class`: a free one if there is one, otherwise a new one.
pub(super) fn take(class: usize, fill: Fill) -> NonNull<u64> {
    let class = &classes()[class];
    if let Some(block) = class.free.pop() {
        POOLED_BYTES.fetch_sub(class.words * 8, Ordering::Relaxed);
        return block.0;
    }
    match source() {
        BlockSource::Carriers => carve(class.words, fill),
        BlockSource::System => {
            let layout = layout(class.words);
            // SAFETY: the layout is non-zero-sized.
            let raw = unsafe { alloc::alloc(layout) } as *mut u64;
            NonNull::new(raw).unwrap_or_else(|| allocation_failed(class.words, "the allocator returned null"))
        }
    }
}

/// Takes back a block of class `class` that its owner is done with.
pub(super) fn give(class: usize, block: NonNull<u64>) {
    let class = &classes()[class];
    let bytes = class.words * 8;
    if source() == BlockSource::System && class.free.len() * bytes >= SYSTEM_POOL_BYTES {
        // SAFETY: the block was allocated with this layout by `take` and is given up here.
        unsafe { alloc::dealloc(block.as_ptr() as *mut u8, layout(class.words)) };
        return;
    }
    POOLED_BYTES.fetch_add(bytes, Ordering::Relaxed);
    class.free.push(Free(block));
}

/// Gives the memory of every free block back: carriers' pages to the operating system (the
/// blocks stay on their lists, addressable, Invariant 2), the global allocator's blocks to it.
pub(super) fn trim() {
    for class in classes() {
        let mut kept = Vec::new();
        while let Some(block) = class.free.pop() {
            match source() {
                BlockSource::Carriers => {
                    release_pages(block.0.as_ptr() as *mut u8, class.words * 8);
                    kept.push(block);
                }
                BlockSource::System => {
                    POOLED_BYTES.fetch_sub(class.words * 8, Ordering::Relaxed);
                    // SAFETY: a free block of this class, allocated by `take`, given up here.
                    unsafe { alloc::dealloc(block.0.as_ptr() as *mut u8, layout(class.words)) };
                }
            }
        }
        for block in kept {
            class.free.push(block);
        }
    }
}

fn layout(words: usize) -> Layout {
    Layout::from_size_align(words * 8, 8).expect("a table size fits a layout")
}

/// The carriers and the unused part of the newest one.
struct Carriers {
    maps: Vec<MmapMut>,
    /// Bytes of the newest map already carved.
    used: usize,
}

static CARRIERS: Mutex<Carriers> = Mutex::new(Carriers { maps: Vec::new(), used: 0 });

/// A new block of `words` words carved from the newest carrier (a new carrier when it is
/// full; the rest of the old one is left unused). A block filled slowly (an old generation)
/// starts on a page boundary when it spans a page or more, so the words written into it
/// cover as few pages as they can: packed, its first page would be shared with the end of
/// the block before it, which that block's owner may never have written, and the
/// collections promoting into it would fault in one page more half of the time. The gap
/// before it is the unwritten end of a page: address space, not memory.
fn carve(words: usize, fill: Fill) -> NonNull<u64> {
    let bytes = words * 8;
    let mut carriers = CARRIERS.lock().unwrap_or_else(|e| e.into_inner());
    if fill == Fill::Slowly && bytes >= PAGE {
        carriers.used = carriers.used.next_multiple_of(PAGE);
    }
    let full = carriers.maps.last().is_none_or(|map| carriers.used + bytes > map.len());
    if full {
        let map =
            MmapMut::map_anon(CARRIER_BYTES).unwrap_or_else(|e| allocation_failed(words, &e.to_string()));
        CARRIER_MAPPED_BYTES.fetch_add(CARRIER_BYTES, Ordering::Relaxed);
        carriers.maps.push(map);
        carriers.used = 0;
    }
    let used = carriers.used;
    carriers.used += bytes;
    let map = carriers.maps.last_mut().expect("a carrier was just made if there was none");
    // SAFETY: `used + bytes <= len` (checked above): inside the map; the range is handed
    // out once (`used` moves past it).
    let ptr = unsafe { map.as_mut_ptr().add(used) } as *mut u64;
    NonNull::new(ptr).expect("a map is never at address 0")
}

/// Drops the resident pages wholly inside `[start, start + bytes)` (`MADV_DONTNEED`: the
/// next touch gets a zero page).
fn release_pages(start: *mut u8, bytes: usize) {
    let first = (start as usize).next_multiple_of(PAGE);
    let end = (start as usize + bytes) / PAGE * PAGE;
    if end > first {
        // SAFETY: the range lies inside a free carrier block (Invariant 1: owned by the free
        // list, nobody reads it before writing), inside a carrier that stays mapped
        // (Invariant 2); DONTNEED only replaces its pages with zero pages.
        unsafe {
            libc::madvise(
                start.wrapping_add(first - start as usize) as *mut libc::c_void,
                end - first,
                libc::MADV_DONTNEED,
            )
        };
    }
}

#[cfg(all(test, not(miri)))]
mod tests {
    use super::*;

    #[test]
    fn a_slowly_filled_block_starts_on_a_page_and_a_whole_one_is_packed() {
        let slow = (PAGE / 8) * 3 + 5;
        // A whole block leaves the carrier's bump pointer off a page boundary (233 words are
        // not a multiple of a page); the slowly filled block after it starts on the next one.
        let whole = carve(233, Fill::Whole);
        let old = carve(slow, Fill::Slowly);
        assert_eq!(old.as_ptr() as usize % PAGE, 0, "a slowly filled block starts on a page");
        assert_ne!((whole.as_ptr() as usize + 233 * 8) % PAGE, 0);
        // Another whole block packs right after it (unless another test carved in between,
        // which only moves it further up).
        let next = carve(233, Fill::Whole);
        assert!(next.as_ptr() as usize >= old.as_ptr() as usize + slow * 8);
        // Writing the slowly filled block's first page-full of words touches one page only.
        // SAFETY: the blocks were just carved for this test and are owned by it alone.
        unsafe {
            old.as_ptr().write_bytes(0xab, PAGE / 8);
            assert_eq!(*old.as_ptr().add(PAGE / 8 - 1), 0xabab_abab_abab_abab);
        }
    }
}
