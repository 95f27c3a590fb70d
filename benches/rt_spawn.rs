//! Spawning processes: heaplab processes next to tokio tasks on the same number of worker
//! threads (one per core), so the ratio is visible in one run.
//!
//! Groups (each case runs on both runtimes; the spawning code runs inside the runtime, as a
//! heaplab process or a tokio task on a worker thread):
//! - `spawn/one`: spawn one process that sends a message to its parent and exits, and wait
//!   for that message: the latency from a spawn to the child running, exit included. tokio:
//!   a task that sends on a `oneshot` the parent awaits.
//! - `spawn/batch_10000`: spawn 10,000 processes that each wait for one message; only the
//!   spawn loop is timed (throughput in processes). They are then stopped, untimed. The
//!   heaplab loop yields when its reductions are spent, as the `spawn` workload does. tokio:
//!   tasks awaiting a `oneshot` receiver.
//! - `spawn/lifecycle_10000`: the same 10,000 spawns, then a message to each, until all have
//!   received it and returned: spawn and exit together.

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use heaplab_gc::Pid;
use heaplab_runtime::Runtime;
use tokio::sync::oneshot;

/// Processes per batch.
const BATCH: usize = 10_000;

/// One worker thread per core, for both runtimes.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn heaplab_runtime() -> Runtime {
    Runtime::builder().schedulers(workers()).build().expect("valid configuration")
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(workers()).build().expect("tokio runtime")
}

/// Waits until only `expected` processes are left (stopped processes finish on their own).
fn wait_for_count(rt: &Runtime, expected: usize) {
    while rt.process_count() > expected {
        std::thread::yield_now();
    }
}

fn spawn_one(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn/one");
    let rt = heaplab_runtime();
    group.bench_function("heaplab", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move |mut cx| async move {
                let parent = cx.self_pid();
                let start = Instant::now();
                for _ in 0..iters {
                    cx.spawn(move |mut cx| async move { cx.send(parent, |h| h.nil()) }).expect("spawn");
                    cx.receive(|_, _| Some(())).await;
                }
                start.elapsed()
            })
            .expect("the root process returns")
        })
    });
    drop(rt);
    let rt = tokio_runtime();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                tokio::spawn(async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let (tx, rx) = oneshot::channel::<()>();
                        tokio::spawn(async move {
                            let _ = tx.send(());
                        });
                        let _ = rx.await;
                    }
                    start.elapsed()
                })
                .await
                .expect("the task returns")
            })
        })
    });
    group.finish();
}

/// heaplab: spawns a batch of waiting processes; returns their pids and the spawn time.
/// Each process counts itself in `done` once it has received its message.
fn heaplab_spawn_batch(rt: &Runtime, done: &Arc<AtomicUsize>) -> (Vec<Pid>, Duration) {
    let done = Arc::clone(done);
    rt.block_on(move |mut cx| async move {
        let mut pids = Vec::with_capacity(BATCH);
        let start = Instant::now();
        for _ in 0..BATCH {
            let done = Arc::clone(&done);
            let pid = cx
                .spawn(move |mut cx| async move {
                    cx.receive(|_, _| Some(())).await;
                    done.fetch_add(1, Ordering::Release);
                })
                .expect("spawn");
            pids.push(pid);
            cx.tick(0).await;
        }
        (pids, start.elapsed())
    })
    .expect("the root process returns")
}

/// heaplab: sends each process its message and waits until all have received it.
fn heaplab_stop(rt: &Runtime, pids: Vec<Pid>, done: &Arc<AtomicUsize>) -> Duration {
    let done = Arc::clone(done);
    rt.block_on(move |mut cx| async move {
        let start = Instant::now();
        for pid in &pids {
            cx.send(*pid, |h| h.nil());
            cx.tick(0).await;
        }
        while done.load(Ordering::Acquire) < pids.len() {
            cx.yield_now().await;
        }
        start.elapsed()
    })
    .expect("the root process returns")
}

/// tokio: spawns a batch of tasks waiting on a oneshot; returns their senders, handles and
/// the spawn time.
async fn tokio_spawn_batch() -> (Vec<oneshot::Sender<()>>, Vec<tokio::task::JoinHandle<()>>, Duration) {
    let mut senders = Vec::with_capacity(BATCH);
    let mut handles = Vec::with_capacity(BATCH);
    let start = Instant::now();
    for _ in 0..BATCH {
        let (tx, rx) = oneshot::channel::<()>();
        handles.push(tokio::spawn(async move {
            let _ = rx.await;
        }));
        senders.push(tx);
    }
    (senders, handles, start.elapsed())
}

/// tokio: sends on every oneshot and joins every task.
async fn tokio_stop(
    senders: Vec<oneshot::Sender<()>>,
    handles: Vec<tokio::task::JoinHandle<()>>,
) -> Duration {
    let start = Instant::now();
    for tx in senders {
        let _ = tx.send(());
    }
    for handle in handles {
        handle.await.expect("the task returns");
    }
    start.elapsed()
}

fn spawn_batch(c: &mut Criterion) {
    for (name, with_exit) in [("spawn/batch_10000", false), ("spawn/lifecycle_10000", true)] {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(BATCH as u64));
        group.sample_size(20);
        let rt = heaplab_runtime();
        group.bench_function("heaplab", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let done = Arc::new(AtomicUsize::new(0));
                    let (pids, spawn) = heaplab_spawn_batch(&rt, &done);
                    let stop = heaplab_stop(&rt, black_box(pids), &done);
                    wait_for_count(&rt, 0);
                    total += if with_exit { spawn + stop } else { spawn };
                }
                total
            })
        });
        drop(rt);
        let rt = tokio_runtime();
        group.bench_function("tokio", |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    tokio::spawn(async move {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            let (senders, handles, spawn) = tokio_spawn_batch().await;
                            let stop = tokio_stop(black_box(senders), handles).await;
                            total += if with_exit { spawn + stop } else { spawn };
                        }
                        total
                    })
                    .await
                    .expect("the task returns")
                })
            })
        });
        group.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = spawn_one, spawn_batch
}
criterion_main!(benches);
