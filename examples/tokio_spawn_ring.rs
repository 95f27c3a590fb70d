//! The tokio side of the runtime comparison: what `heaplab bench spawn` and `heaplab bench
//! ring` measure, done with tokio tasks on the same number of worker threads (one per core).
//!
//! - spawn: 1,000,000 tasks that each await a `oneshot`; time per spawn, resident memory
//!   growth per waiting task, then time per task to send each its message and see it return.
//! - ring: 1,000 tasks in a ring over unbounded `mpsc` channels passing an integer token
//!   1,000 laps; time per hop.
//!
//! `cargo run --release --example tokio_spawn_ring [processes] [ring_size] [laps]`

use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

async fn spawn(n: usize) {
    let before = resident_bytes();
    let start = Instant::now();
    let mut senders = Vec::with_capacity(n);
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let (tx, rx) = oneshot::channel::<()>();
        senders.push(tx);
        tasks.push(tokio::spawn(async move {
            let _ = rx.await;
        }));
    }
    let spawned = start.elapsed();
    tokio::task::yield_now().await;
    let during = resident_bytes();
    let start = Instant::now();
    for tx in senders {
        let _ = tx.send(());
    }
    for task in tasks {
        task.await.expect("task");
    }
    let exited = start.elapsed();
    println!("spawn_ns_per_process  {:.0}", spawned.as_nanos() as f64 / n as f64);
    println!("bytes_per_process     {:.0}", during.saturating_sub(before) as f64 / n as f64);
    println!("exit_ns_per_process   {:.0}", exited.as_nanos() as f64 / n as f64);
}

async fn ring(size: usize, laps: usize) {
    let (first_tx, mut first_rx) = mpsc::unbounded_channel::<i64>();
    let mut next = first_tx.clone();
    for _ in 1..size {
        let (tx, mut rx) = mpsc::unbounded_channel::<i64>();
        let to = next;
        tokio::spawn(async move {
            while let Some(token) = rx.recv().await {
                if to.send(token).is_err() {
                    break;
                }
            }
        });
        next = tx;
    }
    let start = Instant::now();
    next.send(0).expect("ring");
    for lap in 1..=laps as i64 {
        let token = first_rx.recv().await.expect("token");
        if lap < laps as i64 {
            next.send(token + 1).expect("ring");
        }
    }
    let elapsed = start.elapsed();
    drop(next);
    println!("ns_per_hop            {:.0}", elapsed.as_nanos() as f64 / (size * laps) as f64);
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("a number")).collect();
    let processes = args.first().copied().unwrap_or(1_000_000);
    let size = args.get(1).copied().unwrap_or(1000);
    let laps = args.get(2).copied().unwrap_or(1000);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(workers).build().expect("tokio");
    rt.block_on(async move {
        tokio::spawn(spawn(processes)).await.expect("spawn");
        tokio::spawn(ring(size, laps)).await.expect("ring");
    });
}
