//! Under dhat's counting allocator: dropping a heap gives back every byte it allocated, and
//! every block (mapped blocks are invisible to dhat, so `block_stats` counts those). Small
//! blocks come from the global allocator here (`HEAPLAB_BLOCKS=system`), so that dhat sees
//! each of them too; carriers are invisible to it.
//!
//! dhat's profiler is per process, so this binary holds one test only.

use heaplab_gc::{
    block_stats, live_binaries, release_pooled_blocks, Binary, Collect, Fragment, Heap, OwnedTerm,
};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Builds and drops two heaps with lots of young, old, fragment and binary data, messages
/// and roots, and a large (mapped) block.
fn workload(outside: &Binary) {
    let mut heap = Heap::default();
    let mut other = Heap::default();
    let mut roots = Vec::new();
    for i in 0..200 {
        roots.push(heap.enter(|h| {
            let bin = h.binary(&vec![i as u8; 65 + i]);
            let items: Vec<_> = (0..100).map(|j| h.tuple(&[h.int(j), h.atom_named("item"), bin])).collect();
            h.root(h.tuple(&[h.list(items), h.refc_binary(outside), h.sub_binary(bin, 1, 10).unwrap()]))
        }));
        if i % 20 == 0 {
            heap.collect(Collect::Minor).unwrap();
            heap.verify().unwrap();
        }
    }
    roots.truncate(150);
    heap.collect(Collect::Major).unwrap();
    heap.verify().unwrap();
    heap.collect(Collect::Minor).unwrap();
    heap.collect(Collect::Minor).unwrap();
    heap.verify().unwrap();
    assert!(heap.stats().young_capacity >= heaplab_gc::MMAP_THRESHOLD_WORDS || heap.stats().old_capacity > 0);
    // A big list overflowing into fragments, copies to another heap, delivered messages.
    heap.enter(|h| {
        h.list((0..100_000).map(|i| h.int(i)));
        other.enter(|o| {
            for r in &roots[..20] {
                let t = o.copy(h.get(r));
                o.root(t);
                o.attach(h.to_fragment_shared(h.get(r)));
                drop(h.to_fragment(h.get(r))); // never attached
            }
        });
    });
    other.deliver(Fragment::from_owned(&OwnedTerm::Binary(vec![1; 1000])));
    other.collect(Collect::Major).unwrap();
    other.verify().unwrap();
    drop(heap);
    drop(other);
    drop(roots);
}

#[test]
fn dropping_a_heap_returns_every_byte() {
    // Before the first block: the source of small blocks is chosen once.
    std::env::set_var("HEAPLAB_BLOCKS", "system");
    let _profiler = dhat::Profiler::builder().testing().build();
    let outside = Binary::from_bytes(&[9; 4096]);
    // Warm up what is allocated once per program: the atom table, the size table, the block
    // pool's queues.
    workload(&outside);
    release_pooled_blocks();
    let before = dhat::HeapStats::get();
    let blocks = block_stats();
    let binaries = live_binaries();

    workload(&outside);
    let during = dhat::HeapStats::get();
    assert!(during.total_bytes - before.total_bytes > 1 << 20, "the workload allocated");
    release_pooled_blocks();

    let after = dhat::HeapStats::get();
    assert_eq!(after.curr_bytes, before.curr_bytes, "bytes still allocated");
    assert_eq!(after.curr_blocks, before.curr_blocks, "allocations still live");
    let blocks_after = block_stats();
    assert_eq!(blocks_after.in_use_bytes, blocks.in_use_bytes);
    assert_eq!(blocks_after.mapped_bytes, blocks.mapped_bytes);
    assert_eq!((blocks_after.pooled_bytes, blocks_after.cached_map_bytes), (0, 0));
    assert_eq!(live_binaries(), binaries);
    assert_eq!(outside.refcount(), 1);
}
