//! A flood of crashes: a million processes panic one after another (spawned and awaited by
//! a monitor, a few at a time), and the runtime is as healthy afterwards as before: no
//! process left, message passing works, and the memory is back.
//!
//! Debug builds run [`PROCESSES`] = 300,000 (about 20 s on two cores) so that the test stays under a minute (dhat's
//! allocator takes a lock and a backtrace for every allocation, and every crash allocates
//! its panic message); `cargo test --release` runs the full million.
//!
//! dhat's profiler is per process, so this binary holds one test only.

mod common;

/// These tests are about per-process heaps (see `suite/` for the ones run under both).
fn heap_kind() -> heaplab_runtime::HeapKind {
    heaplab_runtime::HeapKind::PerProcess
}

use std::time::{Duration, Instant};

use common::{wait_until, within};
use heaplab_runtime::heaplab_gc::{self, Mu, Term};
use heaplab_runtime::{Cx, ExitReason, Runtime};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Processes that panic in the measured flood.
const PROCESSES: usize = if cfg!(debug_assertions) { 300_000 } else { 1_000_000 };
/// Processes alive at once: each batch is spawned, then awaited.
const BATCH: usize = 8;
/// Processes of the warm-up flood, before the baseline: it grows what the runtime sizes by
/// its peak use (the process table's free list, the slice histograms) to its steady size.
const WARM_UP: usize = 10_000;
/// Allocations that may differ between two quiescent points (crossbeam's deferred frees,
/// free-list segments).
const ALLOCATION_SLACK: u64 = 64;
/// Bytes the runtime's long-lived tables may still grow by after the warm-up: the slice
/// histograms widen with the longest slice seen (a few KiB each).
const TABLE_SLACK: u64 = 64 << 10;

/// Spawns `count` processes that panic, `BATCH` at a time, and checks each one's reason.
async fn flood(mut cx: Cx, count: usize) {
    let mut monitors = Vec::with_capacity(BATCH);
    let mut done = 0;
    while done < count {
        let batch = BATCH.min(count - done);
        for _ in 0..batch {
            let (_, monitor) = cx.spawn_monitor(|_| async { panic!("flood") }).unwrap();
            monitors.push(monitor);
        }
        for monitor in monitors.drain(..) {
            let reason = cx
                .receive(|_, m| match m.as_tuple()? {
                    [_, r, _, _, reason] if r.as_ref()? == monitor => Some(reason.to_owned_term()),
                    _ => None,
                })
                .await;
            assert_eq!(ExitReason::from_term(reason), ExitReason::Panic("flood".into()));
        }
        done += batch;
    }
}

fn int(_: Mu<'_>, m: Term<'_>) -> Option<i64> {
    m.as_int()
}

/// A thousand round trips with an echo process.
async fn ping_pong(mut cx: Cx) -> i64 {
    let me = cx.self_pid();
    let echo = cx
        .spawn(move |mut cx| async move {
            loop {
                let n = cx.receive(int).await;
                cx.send(me, |h| h.int(n + 1));
                if n < 0 {
                    return;
                }
            }
        })
        .unwrap();
    let mut n = 0;
    for _ in 0..1000 {
        cx.send(echo, |h| h.int(n));
        n = cx.receive(int).await;
    }
    cx.send(echo, |h| h.int(-1));
    cx.receive(int).await;
    n
}

/// Allocated bytes and allocations once no process is left.
fn quiescent(rt: &Runtime) -> (u64, u64) {
    assert!(wait_until(Duration::from_secs(60), || rt.process_count() == 0), "processes left");
    heaplab_gc::release_pooled_blocks();
    let stats = dhat::HeapStats::get();
    (stats.curr_bytes as u64, stats.curr_blocks as u64)
}

#[test]
fn a_million_panicking_processes_leave_the_runtime_healthy() {
    let _profiler = dhat::Profiler::builder().testing().trim_backtraces(Some(4)).build();
    within(Duration::from_secs(900), || {
        let rt = Runtime::builder().schedulers(2).report_panics(false).build().unwrap();
        rt.block_on(|cx| flood(cx, WARM_UP)).unwrap();
        assert_eq!(rt.block_on(ping_pong).unwrap(), 1000);
        let (bytes, allocations) = quiescent(&rt);
        let blocks = heaplab_gc::block_stats();
        let exited = rt.stats().exited;

        let started = Instant::now();
        rt.block_on(|cx| flood(cx, PROCESSES)).unwrap();
        let took = started.elapsed();
        assert_eq!(rt.block_on(ping_pong).unwrap(), 1000, "message passing after the flood");

        let (bytes_after, allocations_after) = quiescent(&rt);
        let blocks_after = heaplab_gc::block_stats();
        let stats = rt.stats();
        eprintln!(
            "crash flood: {PROCESSES} panics in {took:?}; allocations {allocations} -> {allocations_after}; \
             bytes {bytes} -> {bytes_after} ({:+}); heap blocks {} -> {} bytes",
            bytes_after as i64 - bytes as i64,
            blocks.in_use_bytes,
            blocks_after.in_use_bytes
        );
        // Every flood process, the flood's own process, and the ping-pong pair exited.
        assert_eq!(stats.exited - exited, PROCESSES as u64 + 3);
        assert_eq!(stats.processes, 0);
        assert!(allocations_after <= allocations + ALLOCATION_SLACK, "allocations left over");
        assert_eq!(blocks_after.in_use_bytes, blocks.in_use_bytes, "heap blocks left over");
        assert!(blocks_after.mapped_bytes <= blocks.mapped_bytes, "mapped heap blocks left over");
        assert!(bytes_after <= bytes + TABLE_SLACK, "{} bytes left over", bytes_after - bytes);
    });
}
