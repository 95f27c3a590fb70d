//! Collections inside the runtime: every collection event reaches the runtime's sink naming
//! its process and scheduler, and `max_heap_size` ends only the process that outgrows it.

mod common;

/// These tests are about per-process heaps (see `suite/` for the ones run under both).
fn heap_kind() -> heaplab_runtime::HeapKind {
    heaplab_runtime::HeapKind::PerProcess
}

use std::collections::HashMap;
use std::sync::Arc;

use common::{assert_drains, guarded, int, runtime};
use heaplab_runtime::heaplab_gc::HeapOptions;
use heaplab_runtime::heaplab_gc::{Atom, Collect, GcKind, GcReason, Pid, VecSink};
use heaplab_runtime::{Cx, ExitReason, Runtime, SpawnOptions};

/// Allocates `rounds` batches of `words_per_round` words of garbage, keeping a growing
/// rooted list of `keep` items per round, and yields after each batch so the heap is
/// collected at the await point. Returns (minor, major) collections of this heap.
async fn churn(cx: &mut Cx, rounds: usize, keep: i64) -> (u64, u64) {
    let root = cx.with(|h| h.root(h.nil()));
    for r in 0..rounds {
        cx.with(|h| {
            // Garbage: a list of 100 tuples.
            let items: Vec<_> = (0..100).map(|i| h.tuple(&[h.int(i), h.int(r as i64)])).collect();
            h.list(items);
            // Live data, so collections copy something and promote it.
            let mut kept = h.get(&root);
            for i in 0..keep {
                kept = h.cons(h.int(i), kept);
            }
            h.set(&root, kept);
        });
        cx.yield_now().await;
    }
    let stats = cx.heap_stats();
    (stats.minor_collections, stats.major_collections)
}

/// One process collecting many times: the sink gets one event per collection, each with
/// that process's pid and the id of a scheduler of this runtime.
#[test]
fn every_gc_event_names_its_process_and_scheduler() {
    let (events, pid, minor, major) = guarded(|| {
        let sink = Arc::new(VecSink::new());
        let rt = Runtime::builder().schedulers(2).fullsweep_after(4).gc_sink(sink.clone()).build().unwrap();
        let (pid, minor, major) = rt
            .block_on(|mut cx| async move {
                let (minor, major) = churn(&mut cx, 200, 4).await;
                // An explicit collection is reported too.
                cx.garbage_collect().await;
                (cx.self_pid(), minor, major + 1)
            })
            .unwrap();
        assert_drains(&rt, 0);
        (sink.take(), pid, minor, major)
    });
    assert!(minor >= 3, "only {minor} minor collections");
    assert!(major >= 3, "only {major} major collections");
    assert_eq!(events.len() as u64, minor + major, "one event per collection");
    let kinds = |k| events.iter().filter(|e| e.kind == k).count() as u64;
    assert_eq!((kinds(GcKind::Minor), kinds(GcKind::Major)), (minor, major));
    for e in &events {
        assert_eq!(e.pid, Some(pid), "event of another process: {e:?}");
        let s = e.scheduler.expect("a collection inside the runtime knows its scheduler");
        assert!(s < 2, "scheduler id {s} of a two-scheduler runtime");
    }
    let last = events.last().unwrap();
    assert_eq!((last.kind, last.reason), (GcKind::Major, GcReason::Requested));
}

/// Several processes collecting at once on two schedulers: each one's events carry its own
/// pid, as many as its heap counted.
#[test]
fn concurrent_collections_are_attributed_to_their_processes() {
    const PROCESSES: usize = 6;
    let (events, counts) = guarded(|| {
        let sink = Arc::new(VecSink::new());
        let rt = Runtime::builder().schedulers(2).gc_sink(sink.clone()).build().unwrap();
        let counts = rt
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                for k in 0..PROCESSES {
                    cx.spawn(move |mut cx| async move {
                        let (minor, major) = churn(&mut cx, 40 + 10 * k, 2).await;
                        let own = cx.self_pid();
                        cx.send(me, |h| h.tuple(&[h.pid(own), h.int((minor + major) as i64)]));
                    })
                    .unwrap();
                }
                let mut counts = HashMap::new();
                for _ in 0..PROCESSES {
                    let (pid, n) = cx
                        .receive(|_, m| match m.as_tuple()? {
                            [p, n] => Some((p.as_pid()?, n.as_int()?)),
                            _ => None,
                        })
                        .await;
                    counts.insert(pid, n as usize);
                }
                // The parent itself must not have collected, or its events would mix in.
                assert_eq!(cx.heap_stats().minor_collections + cx.heap_stats().major_collections, 0);
                counts
            })
            .unwrap();
        assert_drains(&rt, 0);
        (sink.take(), counts)
    });
    let mut per_pid: HashMap<Pid, usize> = HashMap::new();
    for e in &events {
        *per_pid.entry(e.pid.expect("every event names its process")).or_default() += 1;
        assert!(e.scheduler.is_some_and(|s| s < 2), "bad scheduler in {e:?}");
    }
    assert_eq!(per_pid, counts);
    assert!(counts.values().all(|&n| n >= 3));
}

/// Grows a rooted list by `step` conses per round, yielding after each round, until the
/// process is ended; returns only if it was not.
async fn grow(cx: &mut Cx, rounds: usize, step: i64) -> usize {
    let root = cx.with(|h| h.root(h.nil()));
    for _ in 0..rounds {
        cx.with(|h| {
            let mut l = h.get(&root);
            for i in 0..step {
                l = h.cons(h.int(i), l);
            }
            h.set(&root, l);
        });
        cx.yield_now().await;
    }
    cx.with(|h| h.get(&root).list_len().unwrap())
}

/// A process over its own `max_heap_size` exits with `MaxHeapSize`; a process beside it
/// keeps running and answering.
#[test]
fn a_process_over_max_heap_size_exits_and_others_keep_running() {
    guarded(|| {
        let rt = runtime(2);
        let (tx, rx) = std::sync::mpsc::channel();
        let counter = rt
            .spawn(move |mut cx| async move {
                let mut n = 0;
                loop {
                    let m = cx.receive(int).await;
                    if m < 0 {
                        return;
                    }
                    n += m;
                    tx.send(n).unwrap();
                }
            })
            .unwrap();
        rt.send_owned(counter, &heaplab_runtime::heaplab_gc::OwnedTerm::Int(1));
        assert_eq!(rx.recv().unwrap(), 1);

        let reason = rt
            .block_on(|mut cx| async move {
                cx.set_max_heap_size(Some(5_000)).unwrap();
                // 100,000 live words wanted: far past the limit.
                grow(&mut cx, 500, 100).await
            })
            .unwrap_err();
        match reason {
            ExitReason::MaxHeapSize { limit, size } => {
                assert_eq!(limit, 5_000);
                assert!(size > 5_000, "ended at size {size}, within the limit");
            }
            other => panic!("expected MaxHeapSize, got {other:?}"),
        }

        // The other process is unaffected, and the runtime still runs new work.
        rt.send_owned(counter, &heaplab_runtime::heaplab_gc::OwnedTerm::Int(2));
        assert_eq!(rx.recv().unwrap(), 3);
        let len = rt.block_on(|mut cx| async move { grow(&mut cx, 50, 100).await }).unwrap();
        assert_eq!(len, 5_000, "without a limit the same growth completes");
        rt.send_owned(counter, &heaplab_runtime::heaplab_gc::OwnedTerm::Int(-1));
        assert_drains(&rt, 0);
    });
}

/// `max_heap_size` from the builder applies to every process: the one that grows dies,
/// small ones live. `set_max_heap_size(None)` lifts it for one process.
#[test]
fn builder_max_heap_size_applies_to_every_process() {
    guarded(|| {
        let rt = Runtime::builder().schedulers(2).max_heap_size(Some(4_000)).build().unwrap();
        assert_eq!(rt.config().heap.max_heap_size, Some(4_000));
        let reason = rt.block_on(|mut cx| async move { grow(&mut cx, 400, 100).await }).unwrap_err();
        assert!(
            matches!(reason, ExitReason::MaxHeapSize { limit: 4_000, size } if size > 4_000),
            "got {reason:?}"
        );
        assert_eq!(rt.block_on(|mut cx| async move { grow(&mut cx, 5, 100).await }).unwrap(), 500);
        let lifted = rt
            .block_on(|mut cx| async move {
                cx.set_max_heap_size(None).unwrap();
                grow(&mut cx, 100, 100).await
            })
            .unwrap();
        assert_eq!(lifted, 10_000);
        assert_drains(&rt, 0);
    });
}

/// A limit below the minimum heap size is refused, and the process keeps its old limit.
#[test]
fn set_max_heap_size_below_the_minimum_is_refused() {
    let r = guarded(|| {
        let rt = runtime(1);
        rt.block_on(|mut cx| async move { cx.set_max_heap_size(Some(10)) }).unwrap()
    });
    assert_eq!(r, Err(heaplab_runtime::heaplab_gc::ConfigError::MaxBelowMin { max: 10, min: 233 }));
}

/// Once a collection finds the heap above `max_heap_size`, the process does nothing more:
/// the receive at which the collection ran does not return, so no reply is sent.
#[test]
fn a_process_over_max_heap_size_does_nothing_after_the_collection() {
    let (reason, replies) = guarded(|| {
        let rt = runtime(1);
        rt.block_on(|mut cx| async move {
            let me = cx.self_pid();
            let (child, monitor) = cx
                .spawn_monitor(move |mut cx| async move {
                    cx.set_max_heap_size(Some(1_000)).unwrap();
                    // 4,000 live words built without an await: the next await point
                    // collects, and finds the heap too big.
                    let root = cx.with(|h| {
                        let items: Vec<_> = (0..2_000).map(|i| h.int(i)).collect();
                        h.root(h.list(items))
                    });
                    let n = cx.receive(int).await;
                    cx.send(me, |h| h.int(n));
                    drop(root);
                })
                .unwrap();
            let _ = monitor;
            cx.send(child, |h| h.int(5));
            let reason = cx
                .receive(|_, m| match m.as_tuple()? {
                    [tag, _, _, _, reason] if tag.as_atom()?.name() == "DOWN" => Some(reason.to_owned_term()),
                    _ => None,
                })
                .await;
            let replies = cx.receive_timeout(std::time::Duration::ZERO, int).await;
            (reason, replies)
        })
        .unwrap()
    });
    assert_eq!(reason.to_string().split(',').next(), Some("{max_heap_size"), "reason {reason}");
    assert_eq!(replies, None, "the process replied after exceeding max_heap_size");
}

/// Collections run at the process's own await points: `collect_now` reports a minor
/// collection and `garbage_collect` a major one, both with the process's pid. The first
/// collection of a process is a fullsweep even when a minor one is asked for: nothing is
/// mature and there is no old generation yet (erl_gc.c `minor_collection`).
#[test]
fn requested_collections_are_reported() {
    let (events, pid) = guarded(|| {
        let sink = Arc::new(VecSink::new());
        let rt = Runtime::builder().schedulers(1).gc_sink(sink.clone()).build().unwrap();
        let pid = rt
            .block_on(|mut cx| async move {
                let _kept = cx.with(|h| {
                    let l = h.list((0..10).map(|i| h.int(i)).collect::<Vec<_>>());
                    h.root(l)
                });
                cx.collect_now(Collect::Minor).await;
                cx.collect_now(Collect::Minor).await;
                cx.garbage_collect().await;
                cx.self_pid()
            })
            .unwrap();
        (sink.take(), pid)
    });
    let summary: Vec<_> = events.iter().map(|e| (e.kind, e.reason, e.pid, e.scheduler)).collect();
    assert_eq!(
        summary,
        [
            (GcKind::Major, GcReason::Requested, Some(pid), Some(0)),
            (GcKind::Minor, GcReason::Requested, Some(pid), Some(0)),
            (GcKind::Major, GcReason::Requested, Some(pid), Some(0)),
        ]
    );
}

/// A process that ends with nothing kept in its heap leaves that heap to its scheduler for
/// the next process that needs one. The process that takes it is its sole owner: what it
/// builds stays in it, its collections are reported under its own pid, and its messages
/// arrive whole.
#[test]
fn a_heap_left_by_an_ended_process_serves_the_next_one_as_its_own() {
    const LEN: i64 = 2_000;
    let (events, senders, parent) = guarded(|| {
        let sink = Arc::new(VecSink::new());
        let rt = Runtime::builder().schedulers(1).gc_sink(sink.clone()).build().unwrap();
        let (senders, parent) = rt
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                let mut senders = Vec::new();
                for round in 0..3 {
                    // Only immediates: its heap stays pristine and is left to the scheduler.
                    let quiet =
                        cx.spawn(move |mut cx| async move { cx.send(me, |h| h.atom(Atom::OK)) }).unwrap();
                    cx.receive(|_, m| m.as_atom().filter(|&a| a == Atom::OK)).await;
                    // Takes that heap, and keeps a list in it.
                    let builder = cx
                        .spawn(move |mut cx| async move {
                            cx.send(me, |h| h.int(round));
                            cx.send(me, |h| h.list((0..LEN).map(|i| h.int(i)).collect::<Vec<_>>()));
                            let held = cx.heap_stats().used_words();
                            cx.garbage_collect().await;
                            let after = cx.heap_stats();
                            cx.send(me, |h| {
                                h.tuple(&[h.int(held as i64), h.int(after.major_collections as i64)])
                            });
                        })
                        .unwrap();
                    assert_eq!(cx.receive(|_, m| m.as_int()).await, round);
                    let sum = cx
                        .receive(|_, m| {
                            let items: Vec<i64> = m.iter_list().map(|t| t.as_int()).collect::<Option<_>>()?;
                            (items.len() == LEN as usize).then(|| items.iter().sum::<i64>())
                        })
                        .await;
                    assert_eq!(sum, (0..LEN).sum::<i64>(), "the list arrives whole");
                    let (held, majors) = cx
                        .receive(|_, m| match m.as_tuple()? {
                            [a, b] => Some((a.as_int()?, b.as_int()?)),
                            _ => None,
                        })
                        .await;
                    assert!(held >= 2 * LEN, "the build's {held} words stay in the sender's heap");
                    assert_eq!(majors, 1);
                    senders.push((quiet, builder));
                }
                (senders, me)
            })
            .unwrap();
        assert_drains(&rt, 0);
        (sink.take(), senders, parent)
    });
    let builders: Vec<Pid> = senders.iter().map(|&(_, b)| b).collect();
    // The parent collects too, receiving the lists: its events are its own.
    let pids: Vec<Pid> = events
        .iter()
        .map(|e| e.pid.expect("every event names its process"))
        .filter(|&p| p != parent)
        .collect();
    assert_eq!(pids, builders, "one collection per builder, under its own pid, and none for the others");
}

/// Only a heap of the runtime's options is left for the next process: a process spawned
/// with options of its own, or one that changed its heap's options, takes its heap with it,
/// and the next process gets the runtime's.
#[test]
fn a_heap_of_other_options_is_not_left_for_the_next_process() {
    guarded(|| {
        let rt = Runtime::builder().schedulers(1).build().unwrap();
        let default = rt.block_on(|cx| async move { cx.heap_stats().young_capacity }).unwrap();
        let young = rt
            .block_on(move |mut cx| async move {
                let me = cx.self_pid();
                // This process's own heap, made now: it never takes the one left.
                let _own = cx.with(|h| h.root(h.nil()));
                let mut young = Vec::new();
                for custom in [true, false] {
                    let opts = SpawnOptions {
                        heap: Some(HeapOptions { min_heap_size: 4 * default, ..HeapOptions::default() }),
                        ..SpawnOptions::default()
                    };
                    let body = move |mut cx: Cx| async move {
                        // Makes the heap without keeping anything in it.
                        cx.send(me, |h| h.nil());
                        if !custom {
                            cx.set_fullsweep_after(1);
                        }
                    };
                    if custom { cx.spawn_opt(opts, body) } else { cx.spawn(body) }.unwrap();
                    cx.receive(|_, m| m.is_nil().then_some(())).await;
                    // The next process: its first young heap, and how many of three
                    // collections asked as minor ones were major (one, the first, under the
                    // runtime's `fullsweep_after`).
                    cx.spawn(move |mut cx| async move {
                        cx.send(me, |h| h.nil());
                        let young = cx.heap_stats().young_capacity;
                        let _kept = cx.with(|h| {
                            let l = h.list((0..10).map(|i| h.int(i)).collect::<Vec<_>>());
                            h.root(l)
                        });
                        for _ in 0..3 {
                            cx.collect_now(Collect::Minor).await;
                        }
                        let majors = cx.heap_stats().major_collections;
                        cx.send(me, |h| h.tuple(&[h.int(young as i64), h.int(majors as i64)]));
                    })
                    .unwrap();
                    cx.receive(|_, m| m.is_nil().then_some(())).await;
                    let seen = cx
                        .receive(|_, m| match m.as_tuple()? {
                            [a, b] => Some((a.as_int()? as usize, b.as_int()?)),
                            _ => None,
                        })
                        .await;
                    young.push(seen);
                }
                young
            })
            .unwrap();
        assert_drains(&rt, 0);
        assert_eq!(young, [(default, 1), (default, 1)]);
    });
}
