//! `copy_term`: copying a term out of one heap, as a send does.
//!
//! Three ways of copying, each in every group:
//! - `to_fragment`: `Mu::to_fragment`, a flat copy into a standalone message fragment (what a
//!   send does);
//! - `to_fragment_shared`: `Mu::to_fragment_shared`, the copy that keeps shared subterms
//!   shared (it keeps a map from source object to copy);
//! - `copy_into_heap`: `Mu::copy` into another heap (a fragment copy, then an O(1) attach).
//!
//! Groups:
//! - `copy_term/list_1000_entries`: a list of 1,000 churn entries `{I, V, [I, V]}`,
//!   reported in bytes copied per second.
//! - `copy_term/tuple_with_refc_binary`: `{blob, Binary}` with a 1 KiB and a 1 MiB off-heap
//!   binary. Only the handle is copied, so both sizes should take the same time.
//! - `copy_term/small_message`: `{ping, Pid, 42, [1, 2, 3]}`, plus `Fragment::build`, which
//!   builds the same message directly in a fragment without copying.
//!
//! Fragments and target heaps are dropped outside the timing, so the figures are the copy
//! alone: after every iteration for the list (its 80 KB fragment memory is then reused warm),
//! in batches of [`SMALL_BATCH`] for the small terms.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use heaplab_gc::{Atom, Collect, Fragment, Heap, Mu, Pid, Root, Term};

mod common;
use common::{build_state, BYTES_PER_WORD};

/// Copies of a small term made between two drops of their results.
const SMALL_BATCH: BatchSize = BatchSize::NumIterations(256);

/// Entries in the copied list.
const LIST_ENTRIES: u64 = 1_000;

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2)).sample_size(50);
}

/// Benchmarks the three copies of the term held by `root` in `source`, named by `parameter`
/// when one is given; `batch` is how many results are dropped at once.
fn bench_copies(
    group: &mut BenchmarkGroup<'_, WallTime>,
    parameter: Option<&str>,
    batch: BatchSize,
    source: &mut Heap,
    root: &Root,
) {
    let id = |name: &str| match parameter {
        Some(p) => BenchmarkId::new(name, p),
        None => BenchmarkId::from_parameter(name),
    };
    group.bench_function(id("to_fragment"), |b| {
        b.iter_batched(|| (), |()| source.enter(|h| h.to_fragment(h.get(root))), batch);
    });
    group.bench_function(id("to_fragment_shared"), |b| {
        b.iter_batched(|| (), |()| source.enter(|h| h.to_fragment_shared(h.get(root))), batch);
    });
    group.bench_function(id("copy_into_heap"), |b| {
        b.iter_batched(
            Heap::default,
            |mut target| {
                source.enter(|h| {
                    let term = h.get(root);
                    target.enter(|t| black_box(t.copy(term).raw()));
                });
                target
            },
            batch,
        );
    });
}

/// Words of the flat copy of `root`'s term.
fn copy_words(source: &mut Heap, root: &Root) -> usize {
    source.enter(|h| h.to_fragment(h.get(root))).words()
}

fn list_of_entries(c: &mut Criterion) {
    let mut source = Heap::default();
    let root = build_state(&mut source, LIST_ENTRIES);
    source.collect(Collect::Major).expect("no heap limit");
    let bytes = copy_words(&mut source, &root) as u64 * BYTES_PER_WORD;
    let mut group = c.benchmark_group("copy_term/list_1000_entries");
    configure(&mut group);
    group.throughput(Throughput::Bytes(bytes));
    bench_copies(&mut group, None, BatchSize::PerIteration, &mut source, &root);
    group.finish();
}

fn refc_binary(c: &mut Criterion) {
    let mut group = c.benchmark_group("copy_term/tuple_with_refc_binary");
    configure(&mut group);
    let blob = Atom::new("blob");
    for (label, size) in [("1KiB", 1 << 10), ("1MiB", 1 << 20)] {
        let bytes = vec![0x42_u8; size];
        let mut source = Heap::default();
        let root = source.enter(|h| h.root(h.tuple(&[h.atom(blob), h.binary(&bytes)])));
        source.collect(Collect::Major).expect("no heap limit");
        assert_eq!(copy_words(&mut source, &root), 6, "only the tuple and the handle are copied");
        bench_copies(&mut group, Some(label), SMALL_BATCH, &mut source, &root);
    }
    group.finish();
}

fn message<'h>(h: Mu<'h>, ping: Atom) -> Term<'h> {
    let items = h.list([h.int(1), h.int(2), h.int(3)]);
    h.tuple(&[h.atom(ping), h.pid(Pid::new(7)), h.int(42), items])
}

fn small_message(c: &mut Criterion) {
    let ping = Atom::new("ping");
    let mut source = Heap::default();
    let root = source.enter(|h| h.root(message(h, ping)));
    let mut group = c.benchmark_group("copy_term/small_message");
    configure(&mut group);
    bench_copies(&mut group, None, SMALL_BATCH, &mut source, &root);
    group.bench_function("fragment_build", |b| {
        b.iter_batched(|| (), |()| Fragment::build(|h| message(h, ping)), SMALL_BATCH);
    });
    group.finish();
}

criterion_group!(benches, list_of_entries, refc_binary, small_message);
criterion_main!(benches);
