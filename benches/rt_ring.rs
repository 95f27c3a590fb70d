//! A token ring, as the `ring` workload runs it: 1,000 processes pass a token 100 laps
//! (100,000 hops per iteration), heaplab processes next to tokio tasks on the same number of
//! worker threads (one per core). Throughput is in hops; time per hop = time / 100,000.
//!
//! The ring is built before the clock starts. Member 0 sends N * M - 1; every member that
//! receives K > 0 sends K - 1 to the next; member 0 stops the clock when it receives 0, after
//! exactly N * M hops; the other members exit after the last lap passes (see
//! src/workloads/ring.rs). tokio members are tasks reading unbounded mpsc channels.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use heaplab_gc::Pid;
use heaplab_runtime::{Cx, Runtime};
use tokio::sync::mpsc;

/// Processes in the ring.
const MEMBERS: i64 = 1_000;
/// Laps per iteration.
const LAPS: i64 = 100;
/// Hops per iteration.
const HOPS: i64 = MEMBERS * LAPS;

/// One worker thread per core, for both runtimes.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A heaplab member other than 0.
async fn heaplab_member(mut cx: Cx, next: Pid) {
    loop {
        let k = cx.receive(|_, m| m.as_int()).await;
        if k > 0 {
            cx.send(next, |h| h.int(k - 1));
        }
        if k < MEMBERS {
            return;
        }
    }
}

/// One heaplab ring run; returns the time of the hops.
fn heaplab_ring(rt: &Runtime) -> Duration {
    rt.block_on(|mut cx| async move {
        let mut next = cx.self_pid();
        for _ in 1..MEMBERS {
            let after = next;
            next = cx.spawn(move |cx| heaplab_member(cx, after)).expect("spawn");
        }
        let start = Instant::now();
        cx.send(next, |h| h.int(HOPS - 1));
        loop {
            let k = cx.receive(|_, m| m.as_int()).await;
            if k == 0 {
                break;
            }
            cx.send(next, |h| h.int(k - 1));
        }
        start.elapsed()
    })
    .expect("the root process returns")
}

/// A tokio member other than 0.
async fn tokio_member(mut inbox: mpsc::UnboundedReceiver<i64>, next: mpsc::UnboundedSender<i64>) {
    while let Some(k) = inbox.recv().await {
        if k > 0 {
            let _ = next.send(k - 1);
        }
        if k < MEMBERS {
            return;
        }
    }
}

/// One tokio ring run, inside a task; returns the time of the hops.
async fn tokio_ring() -> Duration {
    let (to_first, mut inbox) = mpsc::unbounded_channel::<i64>();
    let mut next = to_first;
    let mut members = Vec::with_capacity(MEMBERS as usize);
    for _ in 1..MEMBERS {
        let (tx, rx) = mpsc::unbounded_channel::<i64>();
        members.push(tokio::spawn(tokio_member(rx, next)));
        next = tx;
    }
    let start = Instant::now();
    next.send(HOPS - 1).expect("the ring is alive");
    while let Some(k) = inbox.recv().await {
        if k == 0 {
            break;
        }
        next.send(k - 1).expect("the ring is alive");
    }
    let elapsed = start.elapsed();
    for member in members {
        member.await.expect("the member returns");
    }
    elapsed
}

fn ring(c: &mut Criterion) {
    let mut group = c.benchmark_group("ring/1000x100");
    group.throughput(Throughput::Elements(HOPS as u64));
    group.sample_size(10);
    let rt = Runtime::builder().schedulers(workers()).build().expect("valid configuration");
    group.bench_function("heaplab", |b| b.iter_custom(|iters| (0..iters).map(|_| heaplab_ring(&rt)).sum()));
    drop(rt);
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(workers()).build().expect("tokio runtime");
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += tokio::spawn(tokio_ring()).await.expect("the ring task returns");
                }
                total
            })
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = ring
}
criterion_main!(benches);
