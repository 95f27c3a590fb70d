//! Messages and context switches: heaplab processes next to tokio tasks on the same number
//! of worker threads (one per core).
//!
//! Groups (each case runs on both runtimes):
//! - `send/round_trip`: a process sends a small integer to a partner, which sends it back;
//!   the time of one round trip (two sends, two receives, two wake-ups). tokio: two tasks
//!   and two unbounded mpsc channels (the closest thing to a mailbox).
//! - `switch/yield_now`: a process yields to the scheduler and is run again, once per
//!   iteration (heaplab `Cx::yield_now`, tokio `task::yield_now`): the cost of a context
//!   switch with nothing else to run.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use heaplab_runtime::Runtime;
use tokio::sync::mpsc;

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

fn round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("send/round_trip");
    let rt = heaplab_runtime();
    group.bench_function("heaplab", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move |mut cx| async move {
                let me = cx.self_pid();
                // The partner echoes every integer; a negative one makes it exit.
                let partner = cx
                    .spawn(move |mut cx| async move {
                        loop {
                            let n = cx.receive(|_, m| m.as_int()).await;
                            if n < 0 {
                                return;
                            }
                            cx.send(me, |h| h.int(n));
                        }
                    })
                    .expect("spawn");
                let start = Instant::now();
                for i in 0..iters {
                    cx.send(partner, |h| h.int(i as i64));
                    cx.receive(|_, m| m.as_int()).await;
                }
                let elapsed = start.elapsed();
                cx.send(partner, |h| h.int(-1));
                elapsed
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
                    let (to_partner, mut partner_inbox) = mpsc::unbounded_channel::<u64>();
                    let (to_me, mut inbox) = mpsc::unbounded_channel::<u64>();
                    let partner = tokio::spawn(async move {
                        while let Some(n) = partner_inbox.recv().await {
                            if to_me.send(n).is_err() {
                                return;
                            }
                        }
                    });
                    let start = Instant::now();
                    for i in 0..iters {
                        to_partner.send(i).expect("the partner is alive");
                        inbox.recv().await.expect("the partner replies");
                    }
                    let elapsed = start.elapsed();
                    drop(to_partner);
                    partner.await.expect("the partner returns");
                    elapsed
                })
                .await
                .expect("the task returns")
            })
        })
    });
    group.finish();
}

fn yield_now(c: &mut Criterion) {
    let mut group = c.benchmark_group("switch/yield_now");
    let rt = heaplab_runtime();
    group.bench_function("heaplab", |b| {
        b.iter_custom(|iters| {
            rt.block_on(move |mut cx| async move {
                let start = Instant::now();
                for _ in 0..iters {
                    cx.yield_now().await;
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
                        tokio::task::yield_now().await;
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

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = round_trip, yield_now
}
criterion_main!(benches);
