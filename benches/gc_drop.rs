//! Heap drop: the cost of a process exit.
//!
//! Dropping a heap gives its blocks back and releases its refc binaries; it never visits a
//! live object. Small blocks go back to the block pool; mapped blocks (256 KiB and more) go
//! to the gc crate's segment cache, marked `MADV_FREE`, which costs a page-table walk over
//! the touched pages. When the cache is full, it unmaps its oldest map inside the drop; the
//! large cases empty the cache in their setup, so each timed drop only hands over its own
//! block. Groups:
//! - `drop/64MiB`: heaps holding 64 MiB of live data, collected once (a major collection)
//!   so each is one young block with the data at the bottom:
//!   - `one_tuple`: a single tuple of 8,388,607 small integers (64 MiB, one object);
//!   - `many_small_objects`: a list of 838,861 churn entries `{I, V, [I, V]}` (64 MiB,
//!     about 4.2 million objects);
//!   - `one_small_tuple_in_64MiB_block`: a young block of at least 64 MiB (`min_heap_size`)
//!     holding one 3-tuple, so nearly all of its pages were never touched;
//!   - `vec_baseline`: a touched 64 MiB `Vec<u64>` freed by the system allocator (unmapped).
//!
//!   `one_tuple` and `many_small_objects` hold the same bytes in the same kind of block, so
//!   their difference is the cost of the object count, which should be none.
//! - `drop/min_heap_233w`: a default heap (233-word young block from the block pool) holding
//!   one small tuple, an untouched default heap (no block yet), and a 233-word `Vec<u64>`.
//!
//! Every heap is built by the setup of `iter_batched`; the timed routine only drops it.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode};
use heaplab_gc::{release_pooled_blocks, Collect, Heap, HeapOptions, Root, DEFAULT_MIN_HEAP_SIZE};

mod common;
use common::{build_state, entries_for, used_bytes};

/// Live bytes of the large heaps.
const LARGE_BYTES: u64 = 64 << 20;
/// Words of the large heaps' data.
const LARGE_WORDS: usize = (LARGE_BYTES / 8) as usize;

/// Heaps dropped between two batch setups for the small cases: enough that the timer costs
/// nothing, few enough that their blocks fit the block pool.
const SMALL_BATCH: BatchSize = BatchSize::NumIterations(1_000);

/// A heap whose only live object is one tuple filling 64 MiB, after a major collection; the
/// segment cache is left empty.
fn one_tuple_heap() -> (Heap, Root) {
    let mut heap = Heap::default();
    let root = heap.enter(|h| {
        let elements: Vec<_> = (0..LARGE_WORDS as i64 - 1).map(|i| h.int(i)).collect();
        h.root(h.tuple(&elements))
    });
    heap.collect(Collect::Major).expect("no heap limit");
    release_pooled_blocks();
    (heap, root)
}

/// A heap holding 64 MiB of churn entries, after a major collection; the segment cache is
/// left empty.
fn many_objects_heap() -> (Heap, Root) {
    let mut heap = Heap::default();
    let root = build_state(&mut heap, entries_for(LARGE_BYTES));
    heap.collect(Collect::Major).expect("no heap limit");
    release_pooled_blocks();
    (heap, root)
}

/// A heap with a young block of at least 64 MiB holding one small tuple; the segment cache is
/// left empty.
fn one_small_tuple_heap() -> (Heap, Root) {
    let opts = HeapOptions { min_heap_size: LARGE_WORDS, ..HeapOptions::default() };
    let mut heap = Heap::new(opts).expect("valid options");
    let root = heap.enter(|h| h.root(h.tuple(&[h.int(1), h.int(2), h.int(3)])));
    release_pooled_blocks();
    (heap, root)
}

fn large(c: &mut Criterion) {
    let (one, _root) = one_tuple_heap();
    let (many, _root) = many_objects_heap();
    let (one_stats, many_stats) = (one.stats(), many.stats());
    assert_eq!(used_bytes(&one), LARGE_BYTES);
    assert!(used_bytes(&many) >= LARGE_BYTES && used_bytes(&many) < LARGE_BYTES + 80);
    assert_eq!(one_stats.young_capacity, many_stats.young_capacity, "same block size for both heaps");
    drop((one, many));

    let mut group = c.benchmark_group("drop/64MiB");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    group.bench_function("one_tuple", |b| {
        b.iter_batched(one_tuple_heap, drop, BatchSize::PerIteration);
    });
    group.bench_function("many_small_objects", |b| {
        b.iter_batched(many_objects_heap, drop, BatchSize::PerIteration);
    });
    group.bench_function("one_small_tuple_in_64MiB_block", |b| {
        b.iter_batched(one_small_tuple_heap, drop, BatchSize::PerIteration);
    });
    group.bench_function("vec_baseline", |b| {
        b.iter_batched(|| vec![1_u64; LARGE_WORDS], drop, BatchSize::PerIteration);
    });
    group.finish();
}

fn minimum(c: &mut Criterion) {
    let mut group = c.benchmark_group("drop/min_heap_233w");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2)).sample_size(50);
    group.bench_function("heap_one_tuple", |b| {
        b.iter_batched(
            || {
                let mut heap = Heap::default();
                heap.enter(|h| black_box(h.tuple(&[h.int(1), h.int(2)]).raw()));
                heap
            },
            drop,
            SMALL_BATCH,
        );
    });
    group.bench_function("heap_untouched", |b| {
        b.iter_batched(Heap::default, drop, SMALL_BATCH);
    });
    group.bench_function("vec_baseline", |b| {
        b.iter_batched(|| vec![1_u64; DEFAULT_MIN_HEAP_SIZE], drop, SMALL_BATCH);
    });
    group.finish();
}

criterion_group!(benches, large, minimum);
criterion_main!(benches);
