//! Chaos: a tree of workers under nested supervisors takes a storm of random kills and
//! panics, and afterwards the tree is whole, every process that died is gone, and the
//! memory is back where it was.
//!
//! The tree is a top supervisor over [`SUPERVISORS`] supervisors of [`WORKERS`] workers each
//! (all `one_for_one`). The storm is [`HITS`] hits from outside the runtime, every hit on a
//! worker that has not been hit yet in its current incarnation: half `exit(Pid, kill)`, half
//! a `crash` message the worker answers by panicking. Debug and release builds run the same
//! counts (100 x 100 workers, 100,000 hits): under dhat's allocator, which takes a lock and a
//! backtrace for every allocation, a debug build runs the test in about 15 s on two cores, so
//! there is no need to scale it down.
//!
//! # Protocol
//! 1. Start the tree under an owner process and wait for every worker.
//! 2. Warm up with a storm of the same size as the measured one (see step 5 for why), let
//!    the tree settle, and take the baseline at a quiescent point: allocated bytes and
//!    allocations (dhat), heap blocks (`block_stats`).
//! 3. The storm; then check that the tree is whole (`count_children` at every level).
//! 4. Settle again and measure at a quiescent point.
//! 5. Compare. No allocation may be left over (a leak of one allocation per hundred hits
//!    fails by far), and heap blocks must be back exactly. Bytes may differ by what
//!    long-lived tables grow when a burst is larger than any before: each supervisor's heap
//!    keeps the capacity of its fragment table and message queue at their largest burst
//!    (they are `Vec`s, cleared but not shrunk by a collection), and the runtime keeps its
//!    per-scheduler slice histograms (which widen with the longest slice seen) and the
//!    process table's free list. The warm-up storm brings them to their peak, so what the
//!    measured storm can add is a new peak in some of them: [`TABLE_SLACK_PER_SUPERVISOR`]
//!    per supervisor and [`TABLE_SLACK`] for the runtime.
//!
//! dhat's profiler is per process, so this binary holds one test only.

mod common;

/// These tests are about per-process heaps (see `suite/` for the ones run under both).
fn heap_kind() -> heaplab_runtime::HeapKind {
    heaplab_runtime::HeapKind::PerProcess
}

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::{wait_until, within};
use heaplab_runtime::heaplab_gc::{self, OwnedTerm, Pid};
use heaplab_runtime::supervisor::{self, ChildCounts, ChildSpec, Flags, Strategy};
use heaplab_runtime::{Cx, ExitReason, Runtime};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const SUPERVISORS: usize = 100;
const WORKERS: usize = 100;
const HITS: usize = 100_000;
/// Allocations that may differ between two quiescent points: crossbeam's deferred frees and
/// free-list segments of the process table, which come and go with scheduling.
const ALLOCATION_SLACK: u64 = 64;
/// Bytes a supervisor's heap tables may grow by in a storm after the warm-up (Protocol
/// step 5).
const TABLE_SLACK_PER_SUPERVISOR: u64 = 4 << 10;
/// Bytes the runtime's own tables may grow by (Protocol step 5).
const TABLE_SLACK: u64 = 128 << 10;
/// A restart intensity no storm reaches: the tree must absorb every hit.
const INTENSITY: u32 = 1_000_000;
/// The period of the supervisors' restart intensity: short, so the restart histories
/// empty quickly once the storm is over.
const PERIOD: Duration = Duration::from_millis(200);

/// Where each worker publishes its pid (`number + 1`; 0 before its first start), and how
/// many worker starts there were.
struct Board {
    pids: Vec<AtomicU64>,
    starts: AtomicU64,
}

impl Board {
    fn pid(&self, i: usize) -> Option<Pid> {
        match self.pids[i].load(Ordering::Acquire) {
            0 => None,
            n => Some(Pid::new(n - 1)),
        }
    }
}

/// A worker: publishes its pid, then answers `crash` by panicking.
async fn worker(mut cx: Cx, board: Arc<Board>, index: usize) {
    board.pids[index].store(cx.self_pid().number() + 1, Ordering::Release);
    board.starts.fetch_add(1, Ordering::AcqRel);
    cx.receive(|_, m| m.as_atom().filter(|a| a.name() == "crash")).await;
    panic!("crash");
}

fn tree(board: &Arc<Board>) -> Vec<ChildSpec> {
    let flags = Flags::new(Strategy::OneForOne).intensity(INTENSITY).period(PERIOD);
    (0..SUPERVISORS)
        .map(|s| {
            let workers = (0..WORKERS)
                .map(|w| {
                    let (board, index) = (Arc::clone(board), s * WORKERS + w);
                    ChildSpec::worker(&format!("w{w}"), move |cx| {
                        let board = Arc::clone(&board);
                        cx.spawn_link(move |cx| worker(cx, board, index))
                    })
                })
                .collect();
            ChildSpec::supervisor(&format!("s{s}"), flags, workers)
        })
        .collect()
}

/// A small xorshift generator: the storm is the same on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Hits `hits` workers, each in an incarnation not hit before; returns when every hit
/// worker has been restarted.
fn storm(rt: &Runtime, board: &Board, rng: &mut Rng, hits: usize) {
    let total = SUPERVISORS * WORKERS;
    let mut last_hit: Vec<Option<Pid>> = (0..total).map(|_| None).collect();
    let starts_before = board.starts.load(Ordering::Acquire);
    let crash = OwnedTerm::atom("crash");
    let mut done = 0;
    while done < hits {
        let i = rng.below(total);
        let Some(pid) = board.pid(i).filter(|&p| last_hit[i] != Some(p)) else {
            // Not restarted yet since its last hit: pick another one.
            std::hint::spin_loop();
            continue;
        };
        last_hit[i] = Some(pid);
        if done % 2 == 0 {
            rt.exit(pid, ExitReason::Kill);
        } else {
            rt.send_owned(pid, &crash);
        }
        done += 1;
    }
    let restored = wait_until(Duration::from_secs(120), || {
        board.starts.load(Ordering::Acquire) == starts_before + hits as u64
    });
    assert!(restored, "not every hit worker was restarted");
}

/// Counts of the top supervisor and of every supervisor below it.
fn counts(rt: &Runtime, top: Pid) -> (ChildCounts, Vec<ChildCounts>) {
    rt.block_on(move |mut cx| async move {
        let top_counts = supervisor::count_children(&mut cx, top).await.unwrap();
        let mut below = Vec::new();
        for child in supervisor::which_children(&mut cx, top).await.unwrap() {
            below.push(supervisor::count_children(&mut cx, child.child.pid().unwrap()).await.unwrap());
        }
        (top_counts, below)
    })
    .unwrap()
}

/// Waits out the restart period, then kills one worker per supervisor and waits for its
/// restart: every supervisor's restart history then holds one entry and has given back the
/// memory of the storm's (intensity Invariant 2).
fn settle(rt: &Runtime, board: &Board) {
    std::thread::sleep(PERIOD + Duration::from_millis(50));
    let before = board.starts.load(Ordering::Acquire);
    for s in 0..SUPERVISORS {
        rt.exit(board.pid(s * WORKERS).unwrap(), ExitReason::Kill);
    }
    let restarted = wait_until(Duration::from_secs(60), || {
        board.starts.load(Ordering::Acquire) == before + SUPERVISORS as u64
    });
    assert!(restarted, "settling kills were not restarted");
}

/// Allocated bytes and allocations at a quiescent point: the process count is stable at
/// `processes`, the supervisors (and the owner) have collected their heaps, and pooled heap
/// blocks are handed back. A supervisor's heap grows to hold the `'EXIT'` messages queued in
/// a storm and keeps that size until its next collection, which an idle process does not
/// run on its own: the BEAM behaves the same, and `erlang:garbage_collect(Pid)` is how one
/// gets it back there too.
fn quiescent(rt: &Runtime, top: Pid, owner: Pid, processes: usize) -> (u64, u64) {
    assert!(wait_until(Duration::from_secs(60), || rt.process_count() == processes), "processes left");
    let supervisors = rt
        .block_on(move |mut cx| async move {
            let children = supervisor::which_children(&mut cx, top).await.unwrap();
            children.iter().map(|c| c.child.pid().unwrap()).collect::<Vec<_>>()
        })
        .unwrap();
    for &pid in supervisors.iter().chain([&top, &owner]) {
        rt.garbage_collect(pid);
    }
    // Each collection is queued before this round of requests, so it has run when they are
    // answered.
    counts(rt, top);
    assert!(wait_until(Duration::from_secs(60), || rt.process_count() == processes), "processes left");
    heaplab_gc::release_pooled_blocks();
    let stats = dhat::HeapStats::get();
    (stats.curr_bytes as u64, stats.curr_blocks as u64)
}

#[test]
fn a_supervision_tree_survives_a_storm_of_kills_and_panics() {
    let _profiler = dhat::Profiler::builder().testing().trim_backtraces(Some(4)).build();
    within(Duration::from_secs(600), || {
        let rt = Runtime::builder().schedulers(2).report_panics(false).build().unwrap();
        let total = SUPERVISORS * WORKERS;
        let board = Arc::new(Board {
            pids: (0..total).map(|_| AtomicU64::new(0)).collect(),
            starts: AtomicU64::new(0),
        });

        // The tree's owner: starts it, hands over the top supervisor, and keeps it running
        // until told to stop (the top supervisor follows its parent out).
        let (tx, rx) = mpsc::channel();
        let children = tree(&board);
        let owner = rt
            .spawn(move |mut cx| async move {
                let flags = Flags::new(Strategy::OneForOne);
                let top = supervisor::start_link(&mut cx, flags, children).await.unwrap().pid().unwrap();
                tx.send(top).unwrap();
                cx.receive(|_, m| m.as_atom().filter(|a| a.name() == "stop")).await;
            })
            .unwrap();
        let top = rx.recv().unwrap();
        let processes = 2 + SUPERVISORS + total;
        assert!(wait_until(Duration::from_secs(60), || board.starts.load(Ordering::Acquire) == total as u64));
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);

        // Protocol step 2.
        storm(&rt, &board, &mut rng, HITS);
        settle(&rt, &board);
        let (bytes, allocations) = quiescent(&rt, top, owner, processes);
        let blocks = heaplab_gc::block_stats();

        // Protocol step 3.
        let started = Instant::now();
        storm(&rt, &board, &mut rng, HITS);
        let storm_time = started.elapsed();
        let (top_counts, below) = counts(&rt, top);
        let all =
            ChildCounts { specs: SUPERVISORS, active: SUPERVISORS, supervisors: SUPERVISORS, workers: 0 };
        assert_eq!(top_counts, all);
        for counts in below {
            assert_eq!(
                counts,
                ChildCounts { specs: WORKERS, active: WORKERS, supervisors: 0, workers: WORKERS }
            );
        }

        // Protocol steps 4 and 5.
        settle(&rt, &board);
        let (bytes_after, allocations_after) = quiescent(&rt, top, owner, processes);
        let blocks_after = heaplab_gc::block_stats();
        let slack = SUPERVISORS as u64 * TABLE_SLACK_PER_SUPERVISOR + TABLE_SLACK;
        eprintln!(
            "chaos: {HITS} hits on {total} workers in {storm_time:?}; allocations {allocations} -> \
             {allocations_after}; bytes {bytes} -> {bytes_after} ({:+}, slack {slack}); heap blocks \
             {} -> {} bytes",
            bytes_after as i64 - bytes as i64,
            blocks.in_use_bytes,
            blocks_after.in_use_bytes,
        );
        assert!(allocations_after <= allocations + ALLOCATION_SLACK, "allocations left over");
        assert_eq!(blocks_after.in_use_bytes, blocks.in_use_bytes, "heap blocks left over");
        assert!(blocks_after.mapped_bytes <= blocks.mapped_bytes, "mapped heap blocks left over");
        assert!(bytes_after <= bytes + slack, "{} bytes left over", bytes_after - bytes);

        // Stopping the owner stops the tree.
        rt.send_owned(owner, &OwnedTerm::atom("stop"));
        assert!(wait_until(Duration::from_secs(60), || rt.process_count() == 0), "the tree did not stop");
    });
}
