//! What is particular to the hybrid heap inside the runtime: every message is built in the
//! shared message area and delivered by reference, a process forwards what it received
//! without copying it, private collections and area collections interleave without losing
//! a term, and the off-heap binaries of messages are freed once nobody holds them.
//!
//! The area's nursery is sized small so that area collections are frequent; the verifier
//! checks the area and every heap before and after each one (debug builds).

mod common;

use std::sync::Arc;

use common::{assert_drains, guarded, ring_message, ring_message_owned, within, BINARIES, HANG};
use heaplab_runtime::heaplab_gc::hybrid::{AreaCollector, AreaOptions};
use heaplab_runtime::heaplab_gc::{live_binaries, GcEvent, GcKind, OwnedTerm, VecSink};
use heaplab_runtime::{HeapKind, Runtime};

/// A message area whose nursery fills after some four thousand words of messages.
fn heap_kind() -> HeapKind {
    HeapKind::Hybrid(small_area())
}

fn small_area() -> AreaOptions {
    AreaOptions { nursery_words: 4 * 1024, min_old_words: 16 * 1024, ..AreaOptions::default() }
}

/// [`heap_kind`] collected incrementally, 2048 words of work per increment.
fn incremental_heap_kind() -> HeapKind {
    HeapKind::Hybrid(AreaOptions {
        collector: AreaCollector::Incremental,
        increment_words: 2048,
        ..small_area()
    })
}

/// Processes on two schedulers pass messages around a ring. Each keeps every message it
/// received in a rooted list (private cells pointing into the area) and forwards the
/// previous one inside its next message (a root of the sender read by the message's build:
/// linked, not copied). Private collections and area collections happen throughout; every
/// message arrives intact and every kept list is intact at the end.
#[test]
fn a_ring_keeps_every_message_across_private_and_area_collections() {
    let events = ring_across_collections(heap_kind());
    let area: Vec<_> =
        events.iter().filter(|e| matches!(e.kind, GcKind::AreaMinor | GcKind::AreaMajor)).collect();
    let private = events.iter().filter(|e| matches!(e.kind, GcKind::Minor | GcKind::Major)).count();
    assert!(area.len() >= 5, "only {} area collections", area.len());
    assert!(area.iter().any(|e| e.kind == GcKind::AreaMajor), "no major area collection");
    assert!(private >= 16 * 3, "only {private} private collections");
    check_area_events(&area);
    for e in &area {
        assert!(e.words_after <= e.words_before, "{e:?}");
    }
}

/// The same ring with the area collected incrementally: only increments, many of them, and
/// every term intact (the verifier runs before and after each increment).
#[test]
fn a_ring_keeps_every_message_across_private_collections_and_area_increments() {
    let events = ring_across_collections(incremental_heap_kind());
    let area: Vec<_> = events.iter().filter(|e| e.kind.as_str().starts_with("area-")).collect();
    assert!(area.len() >= 10, "only {} increments", area.len());
    assert!(area.iter().all(|e| e.kind == GcKind::AreaIncrement), "a stop-the-world area collection ran");
    check_area_events(&area);
}

fn check_area_events(area: &[&GcEvent]) {
    for e in area {
        // An area pause belongs to every process at once; taking the heaps is part of it.
        assert_eq!((e.pid, e.scheduler), (None, None), "{e:?}");
        assert!(e.time_to_safepoint <= e.duration, "{e:?}");
    }
}

/// Processes on two schedulers pass messages around a ring (see the test above); returns the
/// collection events after checking that every process saw every term intact. Given three
/// times the usual time before it counts as hung: a debug build verifies the area and every
/// heap at each of some two hundred increments, about 20 s on a loaded 2-core machine.
fn ring_across_collections(kind: HeapKind) -> Vec<GcEvent> {
    const PROCESSES: i64 = 16;
    const ROUNDS: i64 = 24;
    let (events, results) = within(3 * HANG, || {
        let sink = Arc::new(VecSink::new());
        let rt = Runtime::builder().heap_kind(kind).schedulers(2).gc_sink(sink.clone()).build().unwrap();
        let results = rt
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                let mut pids = Vec::new();
                for i in 0..PROCESSES {
                    pids.push(
                        cx.spawn(move |mut cx| async move {
                            let next = cx.receive(|_, m| m.as_pid()).await;
                            let kept = cx.with(|h| h.root(h.nil()));
                            let last = cx.with(|h| h.root(h.nil()));
                            let prev = (i + PROCESSES - 1) % PROCESSES;
                            // What `prev` forwards: the message it received a round before.
                            let prev2 = (prev + PROCESSES - 1) % PROCESSES;
                            let mut intact = true;
                            for round in 0..ROUNDS {
                                cx.send(next, |h| h.tuple(&[ring_message(h, i, round), h.get(&last)]));
                                let got = cx
                                    .receive(|h, m| {
                                        let t = m.as_tuple()?;
                                        h.set(&last, t[0]);
                                        h.set(&kept, h.cons(t[0], h.get(&kept)));
                                        Some(t.iter().map(|x| x.to_owned_term()).collect::<Vec<_>>())
                                    })
                                    .await;
                                let before = if round == 0 {
                                    OwnedTerm::Nil
                                } else {
                                    ring_message_owned(prev2, round - 1)
                                };
                                intact &= got == [ring_message_owned(prev, round), before];
                                if round % 8 == 7 {
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
    events
}

/// Messages carrying off-heap binaries: every binary is freed once the processes that
/// received them exit and the runtime is gone.
#[test]
fn binaries_in_messages_are_freed_when_nobody_holds_them() {
    binaries_freed(heap_kind());
}

#[test]
fn binaries_in_messages_are_freed_when_nobody_holds_them_with_area_increments() {
    binaries_freed(incremental_heap_kind());
}

fn binaries_freed(kind: HeapKind) {
    let _serial = BINARIES.lock().unwrap_or_else(|e| e.into_inner());
    let before = live_binaries();
    let received = guarded(move || {
        let rt = Runtime::builder().heap_kind(kind).schedulers(2).build().unwrap();
        let received = rt
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                let sink = cx
                    .spawn(move |mut cx| async move {
                        let mut bytes = 0;
                        for _ in 0..200 {
                            bytes += cx.receive(|_, m| m.as_binary().map(<[u8]>::len)).await;
                        }
                        cx.send(me, |h| h.int(bytes as i64));
                    })
                    .unwrap();
                for i in 0..200u8 {
                    cx.send(sink, |h| h.binary(&[i; 1000]));
                }
                cx.receive(|_, m| m.as_int()).await
            })
            .unwrap();
        assert_drains(&rt, 0);
        received
    });
    assert_eq!(received, 200 * 1000);
    assert_eq!(live_binaries(), before);
}

/// Message-area options are checked when the runtime is built.
#[test]
fn bad_area_options_are_refused() {
    let kind = HeapKind::Hybrid(AreaOptions { major_growth: 0.5, ..AreaOptions::default() });
    let err = Runtime::builder().heap_kind(kind).build().unwrap_err();
    assert!(err.to_string().contains("major_growth 0.5"), "{err}");
    let kind = HeapKind::Hybrid(AreaOptions {
        collector: AreaCollector::Incremental,
        increment_words: 0,
        ..AreaOptions::default()
    });
    let err = Runtime::builder().heap_kind(kind).build().unwrap_err();
    assert_eq!(err.to_string(), "invalid heap options: message area increment_words must be at least 1 word");
    assert_eq!(HeapKind::hybrid().name(), "hybrid");
}
