//! Allocation throughput inside `Heap::enter`, next to the same words written into a `Vec`.
//!
//! Each group builds one batch of objects per iteration and reports elements (or payload
//! bytes) per second for:
//! - `heap`: a fresh heap whose young block holds the whole batch, so the figure is the bump
//!   allocator and the object writes. The block is taken from the block pool inside the
//!   timed routine; the heap is dropped outside it.
//! - `vec`: the same words pushed into a `Vec<u64>` allocated with the batch's capacity
//!   inside the timed routine: the lower bound for building these objects in one buffer.
//!   For 1 KiB binaries, which the heap keeps off-heap (one allocation each), the baseline
//!   is one `Vec<u8>` per binary.
//! - `heap_min_233w` (cons cells only): a default heap of 233 words, so the batch overflows
//!   into heap fragments, as a process allocating past its heap between two collections.
//!
//! # Invariants
//! 1. Every batch fits a young block below `MMAP_THRESHOLD_WORDS`, so blocks are recycled
//!    through the pool and no page fault is timed; checked before each group runs.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion, Throughput};
use heaplab_gc::{next_heap_size, Heap, HeapOptions, Mu, MMAP_THRESHOLD_WORDS};

/// Cons cells per iteration (2 words each).
const CONS_CELLS: usize = 10_000;
/// 3-tuples per iteration (header + 3 elements = 4 words each).
const TUPLES: usize = 5_000;
/// List elements per iteration, whatever the list length (2 words each).
const LIST_ELEMENTS: usize = 10_000;
/// 32-byte heap binaries per iteration (header, length, 4 data words = 6 words each).
const SMALL_BINARIES: usize = 3_000;
/// Words of one 32-byte heap binary.
const SMALL_BINARY_WORDS: usize = 6;
/// 1 KiB off-heap binaries per iteration (a 3-word handle each on the heap).
const LARGE_BINARIES: usize = 1_000;
/// Words of one refc-binary handle.
const HANDLE_WORDS: usize = 3;

/// A small-integer term word, as the heap encodes it (value << 4 | 0b1111).
fn small(i: usize) -> u64 {
    (i as u64) << 4 | 0b1111
}

/// A fresh heap whose first young block holds `words` words (Invariant 1).
fn presized_heap(words: usize) -> Heap {
    let young = next_heap_size(words);
    assert!(young < MMAP_THRESHOLD_WORDS, "batch of {words} words would need a mapped block");
    Heap::new(HeapOptions { min_heap_size: young, ..HeapOptions::default() }).expect("valid options")
}

/// Runs `build` once on a presized heap and checks it needed no overflow fragment.
fn check_fits(words: usize, build: impl for<'h> FnOnce(Mu<'h>)) {
    let mut heap = presized_heap(words);
    heap.enter(build);
    let stats = heap.stats();
    assert_eq!(stats.fragments, 0, "batch overflowed the presized young block");
    assert_eq!(stats.young_used, words, "batch size in words is miscounted");
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2)).sample_size(50);
}

fn build_cons(h: Mu<'_>) {
    let mut list = h.nil();
    for i in 0..CONS_CELLS {
        list = h.cons(h.int(i as i64), list);
    }
    black_box(list.raw());
}

fn cons(c: &mut Criterion) {
    let words = 2 * CONS_CELLS;
    check_fits(words, build_cons);
    let mut group = c.benchmark_group("alloc/cons");
    configure(&mut group);
    group.throughput(Throughput::Elements(CONS_CELLS as u64));
    group.bench_function("heap", |b| {
        b.iter_batched(
            || presized_heap(words),
            |mut heap| {
                heap.enter(build_cons);
                heap
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("heap_min_233w", |b| {
        b.iter_batched(
            Heap::default,
            |mut heap| {
                heap.enter(build_cons);
                heap
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("vec", |b| {
        b.iter_batched(
            || (),
            |()| {
                let mut v: Vec<u64> = Vec::with_capacity(words);
                let mut list = 0b1011; // nil
                for i in 0..CONS_CELLS {
                    let cell = v.len();
                    v.push(small(i));
                    v.push(list);
                    list = (cell as u64) << 3 | 0b01;
                }
                black_box(list);
                v
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn build_tuples(h: Mu<'_>) {
    let mut acc = 0;
    for i in 0..TUPLES as i64 {
        acc ^= h.tuple(&[h.int(i), h.int(i + 1), h.int(i + 2)]).raw();
    }
    black_box(acc);
}

fn tuples(c: &mut Criterion) {
    let words = 4 * TUPLES;
    check_fits(words, build_tuples);
    let mut group = c.benchmark_group("alloc/tuple3");
    configure(&mut group);
    group.throughput(Throughput::Elements(TUPLES as u64));
    group.bench_function("heap", |b| {
        b.iter_batched(
            || presized_heap(words),
            |mut heap| {
                heap.enter(build_tuples);
                heap
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("vec", |b| {
        b.iter_batched(
            || (),
            |()| {
                let mut v: Vec<u64> = Vec::with_capacity(words);
                let mut acc = 0;
                for i in 0..TUPLES {
                    acc ^= v.len();
                    v.extend_from_slice(&[3 << 6, small(i), small(i + 1), small(i + 2)]);
                }
                black_box(acc);
                v
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn lists(c: &mut Criterion) {
    let words = 2 * LIST_ELEMENTS;
    let mut group = c.benchmark_group("alloc/list");
    configure(&mut group);
    group.throughput(Throughput::Elements(LIST_ELEMENTS as u64));
    for len in [10, LIST_ELEMENTS] {
        let lists = LIST_ELEMENTS / len;
        let build = move |h: Mu<'_>| {
            let mut acc = 0;
            for _ in 0..lists {
                acc ^= h.list((0..len as i64).map(|i| h.int(i))).raw();
            }
            black_box(acc);
        };
        check_fits(words, build);
        group.bench_function(format!("heap/len_{len}"), |b| {
            b.iter_batched(
                || presized_heap(words),
                |mut heap| {
                    heap.enter(build);
                    heap
                },
                BatchSize::PerIteration,
            )
        });
        group.bench_function(format!("vec/len_{len}"), |b| {
            b.iter_batched(
                || (),
                |()| {
                    let mut v: Vec<u64> = Vec::with_capacity(words);
                    for _ in 0..lists {
                        let start = v.len();
                        for i in 0..len {
                            let next =
                                if i + 1 < len { ((start + 2 * i + 2) as u64) << 3 | 0b01 } else { 0b1011 };
                            v.push(small(i));
                            v.push(next);
                        }
                    }
                    v
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

fn small_binaries(c: &mut Criterion) {
    let bytes = [0x5a_u8; 32];
    let words = SMALL_BINARIES * SMALL_BINARY_WORDS;
    let build = move |h: Mu<'_>| {
        let mut acc = 0;
        for _ in 0..SMALL_BINARIES {
            acc ^= h.binary(&bytes).raw();
        }
        black_box(acc);
    };
    check_fits(words, build);
    let mut group = c.benchmark_group("alloc/binary_32B");
    configure(&mut group);
    group.throughput(Throughput::Bytes((SMALL_BINARIES * bytes.len()) as u64));
    group.bench_function("heap", |b| {
        b.iter_batched(
            || presized_heap(words),
            |mut heap| {
                heap.enter(build);
                heap
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("vec", |b| {
        b.iter_batched(
            || (),
            |()| {
                let mut v: Vec<u64> = Vec::with_capacity(words);
                for _ in 0..SMALL_BINARIES {
                    v.push(5 << 6 | 3 << 2);
                    v.push(bytes.len() as u64);
                    v.extend(
                        bytes.chunks_exact(8).map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes"))),
                    );
                }
                v
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn large_binaries(c: &mut Criterion) {
    let bytes = vec![0xa5_u8; 1024];
    let words = LARGE_BINARIES * HANDLE_WORDS;
    let build = |h: Mu<'_>| {
        let mut acc = 0;
        for _ in 0..LARGE_BINARIES {
            acc ^= h.binary(&bytes).raw();
        }
        black_box(acc);
    };
    check_fits(words, build);
    let mut group = c.benchmark_group("alloc/binary_1KiB");
    configure(&mut group);
    group.throughput(Throughput::Bytes((LARGE_BINARIES * bytes.len()) as u64));
    group.bench_function("heap", |b| {
        b.iter_batched(
            || presized_heap(words),
            |mut heap| {
                heap.enter(build);
                heap
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("vec", |b| {
        b.iter_batched(
            || (),
            |()| (0..LARGE_BINARIES).map(|_| bytes.to_vec()).collect::<Vec<_>>(),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, cons, tuples, lists, small_binaries, large_binaries);
criterion_main!(benches);
