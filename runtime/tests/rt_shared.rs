//! What is particular to the shared heap inside the runtime: collections stop every
//! scheduler and report their time to safepoint, messages pass by reference and survive
//! the collections that happen while they are in flight, and a process exit frees nothing
//! until the next collection.
//!
//! The heap is sized small so that collections are frequent; the verifier checks the whole
//! heap before and after each one (debug builds).

mod common;

use std::sync::Arc;

use common::{assert_drains, guarded, ring_message, ring_message_owned, BINARIES};
use heaplab_runtime::heaplab_gc::shared::SharedOptions;
use heaplab_runtime::heaplab_gc::{
    live_binaries, ConfigError, GcKind, GcReason, HeapOptions, OwnedTerm, VecSink,
};
use heaplab_runtime::{HeapKind, Runtime, SpawnError, SpawnOptions};

/// A shared heap small enough that some ten thousand words trigger a collection.
fn heap_kind() -> HeapKind {
    HeapKind::Shared(SharedOptions {
        nursery_words_per_worker: 16 * 1024,
        tlab_words: 256,
        min_old_words: 64 * 1024,
        ..SharedOptions::default()
    })
}

/// Many processes on two schedulers pass messages around a ring while each keeps a growing
/// rooted list of everything it received; collections (minor from a full nursery, major on
/// request) happen throughout. Every message arrives intact, every kept list is intact at
/// the end, and every pause is reported once with its time to safepoint.
#[test]
fn a_ring_of_processes_keeps_every_term_across_collections() {
    const PROCESSES: i64 = 32;
    const ROUNDS: i64 = 20;
    let (events, results) = guarded(|| {
        let sink = Arc::new(VecSink::new());
        let rt = common::builder().schedulers(2).gc_sink(sink.clone()).build().unwrap();
        let results = rt
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                let mut pids = Vec::new();
                for i in 0..PROCESSES {
                    pids.push(
                        cx.spawn(move |mut cx| async move {
                            // The ring's pids arrive as one message.
                            let next = cx.receive(|_, m| m.as_pid()).await;
                            let kept = cx.with(|h| h.root(h.nil()));
                            let prev = (i + PROCESSES - 1) % PROCESSES;
                            let mut intact = true;
                            for round in 0..ROUNDS {
                                cx.send(next, |h| ring_message(h, i, round));
                                let got = cx.receive(|_, m| Some(m.to_owned_term())).await;
                                intact &= got == ring_message_owned(prev, round);
                                cx.with(|h| {
                                    let all = h.cons(ring_message(h, prev, round), h.get(&kept));
                                    h.set(&kept, all);
                                });
                                if i == 0 && round % 10 == 9 {
                                    cx.garbage_collect().await;
                                }
                            }
                            let all = cx.with(|h| h.get(&kept).to_owned_term());
                            let want: Vec<OwnedTerm> =
                                (0..ROUNDS).rev().map(|r| ring_message_owned(prev, r)).collect();
                            intact &= all == OwnedTerm::list(want);
                            cx.send(me, |h| h.tuple(&[h.int(i), h.bool(intact)]));
                        })
                        .unwrap(),
                    );
                }
                for (i, &pid) in pids.iter().enumerate() {
                    let next = pids[(i + 1) % pids.len()];
                    cx.send(pid, |h| h.pid(next));
                }
                let mut results = Vec::new();
                for _ in 0..PROCESSES {
                    results.push(
                        cx.receive(|_, m| {
                            let t = m.as_tuple()?;
                            Some((t.first()?.as_int()?, t.get(1)?.as_atom()?.name() == "true"))
                        })
                        .await,
                    );
                }
                results
            })
            .unwrap();
        assert_drains(&rt, 0);
        (sink.take(), results)
    });
    assert_eq!(results.len(), PROCESSES as usize);
    for (i, intact) in results {
        assert!(intact, "process {i} saw a damaged term");
    }
    let minors = events.iter().filter(|e| e.kind == GcKind::Minor).count();
    let majors = events.iter().filter(|e| e.kind == GcKind::Major).count();
    assert!(minors >= 5, "only {minors} minor collections");
    assert!(majors >= 3, "only {majors} major collections (3 requested)");
    for e in &events {
        // A pause belongs to every process at once, and its time to safepoint is part of it.
        assert_eq!((e.pid, e.scheduler), (None, None), "{e:?}");
        assert!(e.time_to_safepoint <= e.duration, "{e:?}");
        assert!(e.words_after <= e.words_before + e.words_promoted, "{e:?}");
    }
    assert!(events.iter().any(|e| e.reason == GcReason::Requested && e.kind == GcKind::Major));
}

/// The words of the shared heap in use (nursery and old generation).
fn used_words(stats: &heaplab_runtime::heaplab_gc::HeapStats) -> usize {
    stats.young_used + stats.old_used
}

/// A process that exits leaves its data in the heap: the words in use do not drop at the
/// exit, only at the next collection; the same holds for the off-heap binary it held.
#[test]
fn an_exit_frees_nothing_until_the_next_collection() {
    const ITEMS: i64 = 20_000;
    let _one_at_a_time = BINARIES.lock().unwrap_or_else(|e| e.into_inner());
    let (before_exit, after_exit, after_gc, binaries) = guarded(|| {
        let rt = common::builder().schedulers(2).build().unwrap();
        let r = rt
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                let (child, monitor) = cx
                    .spawn_monitor(move |mut cx| async move {
                        let data = cx.with(|h| {
                            let list = h.list((0..ITEMS).map(|i| h.int(i)));
                            let bin = h.binary(&[7u8; 64 * 1024]);
                            h.root(h.tuple(&[list, bin]))
                        });
                        cx.send(me, |h| h.atom_named("built"));
                        // Stay alive, holding `data`, until told to exit.
                        cx.receive(|_, m| m.as_atom().map(|_| ())).await;
                        drop(data);
                    })
                    .unwrap();
                cx.receive(|_, m| m.as_atom().filter(|a| a.name() == "built").map(|_| ())).await;
                let binaries_held = live_binaries();
                let before_exit = used_words(&cx.heap_stats());
                cx.send(child, |h| h.atom_named("exit"));
                cx.receive(|_, m| {
                    m.as_tuple().filter(|t| t.get(1).and_then(|r| r.as_ref()) == Some(monitor)).map(|_| ())
                })
                .await;
                let after_exit = used_words(&cx.heap_stats());
                let binaries_after_exit = live_binaries();
                cx.garbage_collect().await;
                let after_gc = used_words(&cx.heap_stats());
                (before_exit, after_exit, after_gc, (binaries_held, binaries_after_exit, live_binaries()))
            })
            .unwrap();
        assert_drains(&rt, 0);
        r
    });
    let list_words = 2 * ITEMS as usize;
    assert!(
        before_exit >= list_words,
        "the live list ({list_words} words) is not in the heap: {before_exit}"
    );
    assert!(after_exit >= list_words, "the exit freed the list at once: {before_exit} -> {after_exit}");
    assert!(after_gc < list_words / 4, "the collection after the exit kept the list: {after_gc}");
    let (held, after_exit, after_gc) = binaries;
    assert!(held >= 1, "the binary was not counted");
    assert_eq!(after_exit, held, "the exit released the binary at once");
    assert_eq!(after_gc, held - 1, "the collection did not release the dead process's binary");
}

/// `max_heap_size` bounds one private heap; a shared heap has none, so asking for it is
/// refused where it is asked (runtime, spawn, process flag) and nothing else is affected.
#[test]
fn max_heap_size_is_refused_under_the_shared_heap() {
    let refused = common::builder().schedulers(1).max_heap_size(Some(100_000)).build().unwrap_err();
    assert!(refused.to_string().contains("max_heap_size"), "{refused}");
    guarded(|| {
        let rt = common::builder().schedulers(1).build().unwrap();
        let opts = SpawnOptions {
            heap: Some(HeapOptions { max_heap_size: Some(100_000), ..HeapOptions::default() }),
            ..SpawnOptions::default()
        };
        match rt.spawn_opt(opts, |_cx| async move {}) {
            Err(SpawnError::InvalidHeapOptions(ConfigError::MaxHeapSizeShared)) => {}
            other => panic!("expected MaxHeapSizeShared, got {other:?}"),
        }
        let flag = rt.block_on(|mut cx| async move { cx.set_max_heap_size(Some(100_000)) }).unwrap();
        assert_eq!(flag, Err(ConfigError::MaxHeapSizeShared));
        // The runtime still runs processes.
        let r =
            rt.block_on(
                |mut cx| async move { cx.with(|h| h.list((0..1000).map(|i| h.int(i))).to_owned_term()) },
            );
        assert!(matches!(r, Ok(OwnedTerm::List(ref items, _)) if items.len() == 1000));
        assert_drains(&rt, 0);
    });
}

/// Invalid shared-heap sizing is refused when the runtime is built, naming the option.
#[test]
fn invalid_shared_options_are_refused_at_build() {
    let tiny_tlab = SharedOptions { tlab_words: 8, ..SharedOptions::default() };
    let e = Runtime::builder().heap_kind(HeapKind::Shared(tiny_tlab)).build().unwrap_err();
    assert!(e.to_string().contains("TLAB") || e.to_string().contains("tlab"), "{e}");
    let growth = SharedOptions { major_growth: 0.5, ..SharedOptions::default() };
    let e = Runtime::builder().heap_kind(HeapKind::Shared(growth)).build().unwrap_err();
    assert!(e.to_string().contains("major_growth"), "{e}");
}

/// A panic inside a process under the shared heap ends that process with its reason and
/// leaves the heap usable by the others.
#[test]
fn a_panicking_process_leaves_the_shared_heap_usable() {
    let reason = guarded(|| {
        let rt = common::builder().schedulers(2).report_panics(false).build().unwrap();
        let r = rt
            .block_on(|mut cx| async move {
                let (_, monitor) = cx
                    .spawn_monitor(|mut cx| async move {
                        cx.with(|h| {
                            h.list((0..5000).map(|i| h.int(i)));
                        });
                        panic!("boom in a shared heap");
                    })
                    .unwrap();
                let reason = cx
                    .receive(|_, m| {
                        let t = m.as_tuple()?;
                        (t.get(1)?.as_ref()? == monitor).then(|| t.get(4).map(|r| r.to_owned_term()))?
                    })
                    .await;
                cx.garbage_collect().await;
                let sum: i64 = cx.with(|h| {
                    let l = h.list((0..100).map(|i| h.int(i)));
                    l.iter_list().filter_map(|t| t.as_int()).sum()
                });
                (reason, sum)
            })
            .unwrap();
        assert_drains(&rt, 0);
        r
    });
    assert_eq!(reason.1, 4950);
    // `{panic, <<"boom in a shared heap">>}`, as the per-process heap reports it.
    let panic = OwnedTerm::Tuple(vec![
        OwnedTerm::Atom(heaplab_runtime::heaplab_gc::Atom::new("panic")),
        OwnedTerm::Binary(b"boom in a shared heap".to_vec()),
    ]);
    assert_eq!(reason.0, panic);
}
