//! Memory: shutting down a runtime with a million idle processes returns every byte they
//! and the runtime took.
//!
//! This binary counts every allocation with `dhat` as the global allocator, so it holds this
//! one test only: a second test running at the same time would allocate into the count.

mod common;

/// These tests are about per-process heaps (see `suite/` for the ones run under both).
fn heap_kind() -> heaplab_runtime::HeapKind {
    heaplab_runtime::HeapKind::PerProcess
}

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use heaplab_runtime::heaplab_gc::{self, release_pooled_blocks};
use heaplab_runtime::{Cx, Runtime};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// A million processes in release builds. Under dhat every allocation takes a global lock
/// and records a backtrace, which unoptimised code makes slow, so debug builds use 100,000:
/// the same test, at a tenth of the size.
const PROCESSES: usize = if cfg!(debug_assertions) { 100_000 } else { 1_000_000 };

/// Starts a runtime, spawns `n` processes (`n` even) that each end up waiting, checks they
/// are all alive and waiting, and shuts the runtime down. Returns the process count seen
/// before the shutdown.
///
/// They wait in pairs of four kinds, so that shutdown has every kind of leftover to free:
/// 0. linked both ways (`spawn_link`), both in a receive;
/// 1. one monitoring the other (`spawn_monitor`), both in a receive;
/// 2. one asleep for an hour (a timer holding its waker), the other in a receive with an
///    unmatched message in its mailbox and a `send_after` pending for an hour;
/// 3. both in a receive, one with a message it does not match sent to it by the other.
fn idle_processes_then_shutdown(n: usize) -> usize {
    const HOUR: Duration = Duration::from_secs(3600);
    let rt = Runtime::builder().schedulers(2).build().unwrap();
    let waiting = Arc::new(AtomicUsize::new(0));
    for i in 0..n / 2 {
        let waiting = Arc::clone(&waiting);
        rt.spawn(move |mut cx| async move {
            let w = Arc::clone(&waiting);
            let wait_for_atom = move |mut cx: Cx| async move {
                w.fetch_add(1, Ordering::Relaxed);
                cx.receive(|_, m| m.as_atom()).await;
                unreachable!("nobody sends an atom");
            };
            let me = cx.self_pid();
            match i % 4 {
                0 => drop(cx.spawn_link(wait_for_atom).unwrap()),
                1 => drop(cx.spawn_monitor(wait_for_atom).unwrap()),
                2 => {
                    let w = Arc::clone(&waiting);
                    cx.spawn(move |mut cx| async move {
                        w.fetch_add(1, Ordering::Relaxed);
                        cx.sleep(HOUR).await;
                        unreachable!("an hour passed");
                    })
                    .unwrap();
                    cx.send(me, |h| h.int(1));
                    cx.send_after(HOUR, me, |h| h.atom_named("late"));
                }
                _ => {
                    let child = cx.spawn(wait_for_atom).unwrap();
                    cx.send(child, |h| h.tuple(&[h.int(1), h.int(2)]));
                }
            }
            waiting.fetch_add(1, Ordering::Relaxed);
            cx.receive(|_, m| m.as_atom()).await;
            unreachable!("nobody sends an atom");
        })
        .unwrap();
    }
    // Every process has run up to its final wait.
    assert!(common::wait_until(common::HANG, || waiting.load(Ordering::Relaxed) == n));
    let before = rt.process_count();
    let stats = rt.shutdown();
    assert_eq!(stats.processes, 0, "processes left after shutdown");
    assert_eq!(stats.spawned, n as u64);
    assert_eq!(stats.exited, n as u64);
    before
}

/// Runs the frees that crossbeam's epoch-based reclamation has deferred (run queue buffers
/// replaced when a queue grew): they are memory the runtime gave back, only not yet freed.
/// With every scheduler thread gone, nothing else is pinned and each flush can advance the
/// epoch; a few dozen flushes empty the global queue of deferred frees.
fn collect_deferred_frees() {
    for _ in 0..64 {
        crossbeam_epoch::pin().flush();
    }
}

/// Warms up the one-time global structures: the block pool's queues, the atom table, the
/// panic hook, and thread-locals of the standard library.
fn warm_up() {
    let rt = Runtime::builder().schedulers(2).build().unwrap();
    let sum = rt
        .block_on(|mut cx| async move {
            let me = cx.self_pid();
            for i in 0..100 {
                cx.spawn(move |mut cx| async move {
                    cx.with(|h| {
                        h.list((0..1_000).map(|k| h.int(k)).collect::<Vec<_>>());
                    });
                    cx.yield_now().await;
                    cx.send(me, |h| h.int(i));
                })
                .unwrap();
            }
            let mut sum = 0;
            for _ in 0..100 {
                sum += cx.receive(|_, m| m.as_int()).await;
            }
            sum
        })
        .unwrap();
    assert_eq!(sum, 4950);
    rt.shutdown();
    idle_processes_then_shutdown(1_000);
    release_pooled_blocks();
    collect_deferred_frees();
}

#[test]
fn shutdown_with_a_million_idle_processes_frees_all_memory() {
    // Heap blocks from the global allocator, where dhat counts them (carriers are invisible
    // to it); chosen before the first block.
    std::env::set_var("HEAPLAB_BLOCKS", "system");
    common::guarded(|| {
        let _profiler = dhat::Profiler::builder().testing().build();
        warm_up();
        let baseline = dhat::HeapStats::get();
        let blocks = heaplab_gc::block_stats();

        let before = idle_processes_then_shutdown(PROCESSES);
        assert_eq!(before, PROCESSES);
        release_pooled_blocks();
        collect_deferred_frees();

        let after = dhat::HeapStats::get();
        assert!(
            after.max_bytes > baseline.curr_bytes + PROCESSES * 64,
            "the processes should have taken memory: peak {} bytes over a baseline of {}",
            after.max_bytes,
            baseline.curr_bytes
        );
        assert_eq!(
            (after.curr_blocks, after.curr_bytes),
            (baseline.curr_blocks, baseline.curr_bytes),
            "allocations (blocks, bytes) left after shutdown, compared with before the runtime"
        );
        assert_eq!(heaplab_gc::block_stats(), blocks, "heap blocks left after shutdown");
    });
}
