//! Minor and major collection of 1 KiB, 1 MiB and 16 MiB of live churn-like data, next to a
//! memcpy of the same bytes.
//!
//! One group per live size (`collect/1KiB`, ...), each reporting bytes per second of:
//! - `major`: a fullsweep of a heap holding only the live data; every iteration copies all
//!   of it into a new to-space block (from 256 KiB on a memory map, which the gc crate's
//!   segment cache recycles). The heap is collected three times before timing, so the young
//!   heap has grown to its steady size and no timed collection resizes it (checked).
//! - `minor_fresh`: the first minor collection of a heap right after the live data was built
//!   (young, spread over the young block and overflow fragments): it copies all of it.
//!   A new heap is built for every iteration, outside the timing.
//! - `minor_rewrite_10pct`: the live data sits in the old generation; before each minor
//!   collection (outside the timing) the first tenth of the entries is rewritten, as churn
//!   requests do, so the collection copies that tenth and leaves the old generation alone.
//!   Throughput is the bytes that collection copies, not the live size.
//! - `memcpy`: `copy_from_slice` of the live bytes between two preallocated `Vec<u64>`.
//!
//! A requested minor collection runs as a major one when the old generation is full or
//! after `fullsweep_after` minor ones (65535 by default, reached within a second here);
//! `minor_rewrite_10pct` sets `fullsweep_after` to `u32::MAX`, and every timed minor
//! collection is checked to have been minor.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use heaplab_gc::{Collect, GcKind, Heap};

mod common;
use common::{build_state, entries_for, rewrite_prefix, used_bytes, BYTES_PER_WORD, LIVE_SIZES};

/// Share of the entries rewritten before each timed minor collection (as the `gc-copy`
/// workload).
const REWRITE_PERCENT: u64 = 10;

/// Major collections run before timing, so the young heap reaches its steady size.
const WARM_UP_MAJORS: usize = 3;

fn collect(c: &mut Criterion) {
    for (label, bytes) in LIVE_SIZES {
        let entries = entries_for(bytes);
        let mut group = c.benchmark_group(format!("collect/{label}"));
        match label {
            "1KiB" => group
                .sample_size(50)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(2)),
            "1MiB" => group
                .sample_size(20)
                .warm_up_time(Duration::from_secs(1))
                .measurement_time(Duration::from_secs(2)),
            _ => group
                .sample_size(10)
                .sampling_mode(SamplingMode::Flat)
                .warm_up_time(Duration::from_secs(1))
                .measurement_time(Duration::from_secs(3)),
        };

        // Major: one heap, collected over and over.
        let mut heap = Heap::default();
        let state = build_state(&mut heap, entries);
        for _ in 0..WARM_UP_MAJORS {
            heap.collect(Collect::Major).expect("no heap limit");
        }
        let live = used_bytes(&heap);
        let young_before = heap.stats().young_capacity;
        group.throughput(Throughput::Bytes(live));
        group.bench_function("major", |b| {
            b.iter(|| heap.collect(Collect::Major).expect("no heap limit"));
        });
        assert_eq!(heap.stats().young_capacity, young_before, "a timed major collection resized the heap");
        drop((state, heap));

        // Minor right after building: every live word is young and copied.
        group.bench_function("minor_fresh", |b| {
            let batch = if bytes < 64 << 10 { BatchSize::NumIterations(64) } else { BatchSize::PerIteration };
            b.iter_batched(
                || {
                    let mut heap = Heap::default();
                    let state = build_state(&mut heap, entries);
                    (heap, state)
                },
                |(mut heap, state)| {
                    let outcome = heap.collect(Collect::Minor).expect("no heap limit");
                    assert_eq!(outcome.event.kind, GcKind::Minor);
                    (heap, state)
                },
                batch,
            );
        });

        // Minor with the live data old and a tenth of it rewritten. `fullsweep_after` would
        // turn every 65536th collection into a major one; this group times minor ones only.
        let mut heap = Heap::default();
        heap.set_fullsweep_after(u32::MAX);
        let state = build_state(&mut heap, entries);
        heap.collect(Collect::Major).expect("no heap limit");
        heap.collect(Collect::Minor).expect("no heap limit");
        let rewrite = (entries * REWRITE_PERCENT / 100).max(1);
        rewrite_prefix(&mut heap, &state, rewrite);
        let copied = heap.collect(Collect::Minor).expect("no heap limit").event.words_copied * BYTES_PER_WORD;
        group.throughput(Throughput::Bytes(copied));
        group.bench_function("minor_rewrite_10pct", |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    rewrite_prefix(&mut heap, &state, rewrite);
                    let start = Instant::now();
                    let outcome = heap.collect(Collect::Minor).expect("no heap limit");
                    timed += start.elapsed();
                    assert_eq!(outcome.event.kind, GcKind::Minor, "a minor collection ran as a major one");
                }
                timed
            });
        });
        drop((state, heap));

        // Baseline: the live bytes of the major collection, copied by memcpy.
        let words = (live / BYTES_PER_WORD) as usize;
        let source: Vec<u64> = (0..words as u64).collect();
        let mut target = vec![0_u64; words];
        group.throughput(Throughput::Bytes(live));
        group.bench_function("memcpy", |b| {
            b.iter(|| target.copy_from_slice(black_box(&source)));
        });
        group.finish();
    }
}

criterion_group!(benches, collect);
criterion_main!(benches);
