//! Exit: dropping a heap (or a fragment) gives back its blocks and its binary references,
//! whatever it holds, wherever it is dropped.
//!
//! `block_stats()` and the live-binary counters count the whole program, so every test here
//! takes the same lock.

mod common;

use common::{check, collect, int_list, root_owned, serial};
use heaplab_gc::{
    block_stats, live_binaries, live_binary_bytes, release_pooled_blocks, trim_block_caches, Binary, Collect,
    Fragment, Heap, HeapOptions, OwnedTerm, CACHE_BYTES, HOT_CACHE_BYTES, MMAP_THRESHOLD_WORDS,
    SYSTEM_POOL_BYTES,
};

#[test]
fn dropping_a_heap_returns_its_blocks_and_binaries() {
    let _serial = serial();
    let blocks = block_stats();
    let (binaries, bytes) = (live_binaries(), live_binary_bytes());
    let outside = Binary::from_bytes(&[1; 5000]);
    {
        let mut heap = Heap::default();
        let roots: Vec<_> = (0..50)
            .map(|i| {
                root_owned(
                    &mut heap,
                    &OwnedTerm::tuple(vec![int_list(500, i), OwnedTerm::Binary(vec![i as u8; 200])]),
                )
            })
            .collect();
        let outside_root = heap.enter(|h| h.root(h.refc_binary(&outside)));
        collect(&mut heap, Collect::Minor);
        collect(&mut heap, Collect::Minor);
        // Young, old, fragments and attached messages all at once.
        heap.enter(|h| {
            h.list((0..5000).map(|i| h.int(i)));
            h.attach(Fragment::from_owned(&OwnedTerm::Binary(vec![2; 300])));
        });
        let s = heap.stats();
        assert!(s.old_capacity > 0 && s.fragments > 0 && s.young_used > 0, "{s:?}");
        assert!(block_stats().in_use_bytes > blocks.in_use_bytes);
        assert_eq!(live_binaries() - binaries, 1 + 50 + 1);
        assert_eq!(outside.refcount(), 2);
        check(&mut heap, &roots);
        drop(heap);
        // The roots outlive their heap harmlessly.
        drop((roots, outside_root));
    }
    assert_eq!(outside.refcount(), 1);
    assert_eq!((live_binaries() - binaries, live_binary_bytes() - bytes), (1, 5000));
    let after = block_stats();
    assert_eq!(after.in_use_bytes, blocks.in_use_bytes);
    assert_eq!(after.mapped_bytes, blocks.mapped_bytes);
}

#[test]
fn large_heaps_are_mapped_and_unmapped() {
    let _serial = serial();
    let before = block_stats();
    let mut heap = Heap::default();
    let n = MMAP_THRESHOLD_WORDS as i64; // 2n words of cons cells
    let roots = [root_owned(&mut heap, &int_list(n, 0))];
    collect(&mut heap, Collect::Major);
    let s = heap.stats();
    assert!(s.young_capacity >= 2 * MMAP_THRESHOLD_WORDS);
    let during = block_stats();
    assert_eq!(during.mapped_bytes - before.mapped_bytes, s.young_capacity * 8);
    assert_eq!(during.in_use_bytes - before.in_use_bytes, s.heap_words() * 8);
    check(&mut heap, &roots);
    drop(heap);
    let after = block_stats();
    assert_eq!((after.in_use_bytes, after.mapped_bytes), (before.in_use_bytes, before.mapped_bytes));
}

/// Whether small blocks come from the global allocator in this run (`HEAPLAB_BLOCKS=system`,
/// as under valgrind) rather than from carriers.
fn system_blocks() -> bool {
    std::env::var("HEAPLAB_BLOCKS").as_deref() == Ok("system")
}

/// Resident memory of this process, in bytes (`VmRSS`).
fn resident_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<usize>().unwrap() * 1024
}

/// A freed small block goes to the free list of its size and is handed out again before any
/// new memory is carved; trimming gives the free blocks' memory back.
#[test]
fn freed_small_blocks_are_reused_and_trimmed() {
    let _serial = serial();
    let heaps: Vec<Heap> = (0..10)
        .map(|_| {
            let mut heap = Heap::default();
            root_owned(&mut heap, &int_list(10, 0));
            heap
        })
        .collect();
    let first = block_stats().pooled_bytes;
    drop(heaps);
    assert_eq!(block_stats().pooled_bytes, first + 10 * 233 * 8, "small heap blocks are kept");
    // A kept block is handed out again: the free bytes drop by one block, no carrier grows.
    let before = block_stats();
    let mut heap = Heap::default();
    heap.enter(|h| {
        h.int(i64::MAX);
    });
    let after = block_stats();
    assert_eq!(before.pooled_bytes - after.pooled_bytes, 233 * 8);
    assert_eq!(after.carrier_bytes, before.carrier_bytes);
    drop(heap);

    // 40 MB of free 140 KB blocks: trimming gives their pages back.
    let heaps: Vec<Heap> = (0..300)
        .map(|_| {
            let opts = HeapOptions { min_heap_size: 17_000, ..Default::default() };
            let mut heap = Heap::new(opts).unwrap();
            // Touch every page of the young block.
            heap.enter(|h| {
                h.list((0..8_800).map(|i| h.int(i)));
            });
            heap
        })
        .collect();
    drop(heaps);
    let resident = resident_bytes();
    let pooled = block_stats().pooled_bytes;
    // Under the global allocator, a class keeps at most SYSTEM_POOL_BYTES of free blocks.
    let kept = if system_blocks() { SYSTEM_POOL_BYTES / (17_731 * 8) } else { 300 };
    assert!(pooled >= kept * 17_731 * 8, "{:?}", block_stats());
    trim_block_caches();
    let trimmed = resident_bytes();
    if system_blocks() {
        // What the allocator does with the blocks is its own business.
        assert_eq!(block_stats().pooled_bytes, 0, "free blocks go back to the allocator");
    } else {
        assert!(resident - trimmed >= 30 << 20, "trimming gave back {} MB", (resident - trimmed) >> 20);
        assert_eq!(block_stats().pooled_bytes, pooled, "free blocks stay listed, without pages");
    }
}

#[test]
fn a_heap_can_be_dropped_on_another_thread() {
    let _serial = serial();
    let before = block_stats().in_use_bytes;
    let binaries = live_binaries();
    let mut heap = Heap::default();
    let root = root_owned(&mut heap, &OwnedTerm::list(vec![OwnedTerm::Binary(vec![3; 1000]); 10]));
    assert_eq!(live_binaries() - binaries, 10);
    std::thread::spawn(move || {
        check(&mut heap, std::slice::from_ref(&root));
        drop(heap);
        drop(root);
    })
    .join()
    .unwrap();
    assert_eq!(live_binaries(), binaries);
    assert_eq!(block_stats().in_use_bytes, before);
}

#[test]
fn an_unattached_fragment_returns_its_memory() {
    let _serial = serial();
    let before = block_stats().in_use_bytes;
    let binaries = live_binaries();
    let fragment =
        Fragment::from_owned(&OwnedTerm::tuple(vec![int_list(10_000, 0), OwnedTerm::Binary(vec![1; 99])]));
    assert_eq!(fragment.words(), 3 + 20_000 + 3);
    assert!(block_stats().in_use_bytes >= before + fragment.words() * 8);
    assert_eq!(live_binaries() - binaries, 1);
    drop(fragment);
    assert_eq!(block_stats().in_use_bytes, before);
    assert_eq!(live_binaries(), binaries);
}

#[test]
fn an_idle_heap_costs_no_block() {
    let _serial = serial();
    let before = block_stats().in_use_bytes;
    let mut heap = Heap::default();
    let root = heap.enter(|h| h.root(h.atom_named("idle")));
    assert_eq!(block_stats().in_use_bytes, before, "immediates need no young block");
    heap.enter(|h| {
        h.float(1.0);
    });
    assert_eq!(block_stats().in_use_bytes, before + 233 * 8);
    drop(root);
    drop(heap);
    assert_eq!(block_stats().in_use_bytes, before);
}

/// A heap whose first young block is a memory map of about `bytes` bytes; only its first
/// page is touched.
fn heap_with_mapped_block(bytes: usize) -> Heap {
    let opts = HeapOptions { min_heap_size: bytes / 8, ..Default::default() };
    let mut heap = Heap::new(opts).unwrap();
    heap.enter(|h| {
        h.float(0.0);
    });
    heap
}

/// Freed maps are cached (resident up to `HOT_CACHE_BYTES`, marked MADV_FREE beyond) up to
/// 64 maps and `CACHE_BYTES` in all; beyond that a freed map is unmapped.
#[test]
fn freed_maps_are_cached_up_to_64_maps_and_one_gib() {
    let _serial = serial();
    release_pooled_blocks();
    assert_eq!(block_stats().cached_map_bytes, 0);
    const MB: usize = 1 << 20;
    assert_eq!((HOT_CACHE_BYTES, CACHE_BYTES), (256 * MB, 1024 * MB));

    // A freed map is kept, and handed out again for a block of the same size.
    const { assert!(MMAP_THRESHOLD_WORDS * 8 <= 4 * MB, "a 4 MB block is a map of its own") };
    let heap = heap_with_mapped_block(4 * MB);
    let map_bytes = heap.stats().young_capacity * 8;
    drop(heap);
    assert_eq!(block_stats().cached_map_bytes, map_bytes);
    let heap = heap_with_mapped_block(4 * MB);
    assert_eq!(block_stats().cached_map_bytes, 0);
    drop(heap);

    // At most 64 maps.
    let heaps: Vec<Heap> = (0..70).map(|_| heap_with_mapped_block(4 * MB)).collect();
    drop(heaps);
    assert_eq!(block_stats().cached_map_bytes, 64 * map_bytes);
    trim_block_caches();
    assert_eq!(block_stats().cached_map_bytes, 0);

    // At most 1 GiB, whatever the sizes: nine maps of ~100 MB (the first two or three kept
    // resident, the rest marked MADV_FREE), then one of ~500 MB that does not fit.
    let heaps: Vec<Heap> = (0..9).map(|_| heap_with_mapped_block(100 * MB)).collect();
    drop(heaps);
    let nine = block_stats().cached_map_bytes;
    assert!(nine > 800 * MB && nine <= CACHE_BYTES, "{nine}");
    drop(heap_with_mapped_block(500 * MB));
    assert_eq!(block_stats().cached_map_bytes, nine, "a map past the bound is unmapped");
    // Cached cold maps are handed out again too.
    let again: Vec<Heap> = (0..9).map(|_| heap_with_mapped_block(100 * MB)).collect();
    assert_eq!(block_stats().cached_map_bytes, 0);
    drop(again);
    // A map larger than the whole cache is never kept.
    release_pooled_blocks();
    drop(heap_with_mapped_block(1100 * MB));
    assert_eq!(block_stats().cached_map_bytes, 0);
    release_pooled_blocks();
}
