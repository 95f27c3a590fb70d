//! The shared heap: allocation through TLABs, messages by reference, parallel stop-the-world
//! minor and major collections at safepoints, and reclamation by collection only. The
//! verifier runs before and after every collection (debug builds) and after each test step.

mod common;

use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;

use common::{arb_recipe, build, config, serial, Env, Rooted};
use heaplab_gc::shared::{Mutator, SharedHeap, SharedOptions, Tlab};
use heaplab_gc::{live_binaries, Binary, Fragment, GcKind, GcReason, OwnedTerm, VecSink};
use proptest::prelude::*;

/// A small heap, so tests cross the nursery and old-generation limits quickly.
fn small(workers: usize) -> SharedHeap {
    let opts = SharedOptions {
        nursery_words_per_worker: 4096,
        tlab_words: 256,
        min_old_words: 20_000,
        ..SharedOptions::default()
    };
    let heap = SharedHeap::new(opts, workers).unwrap();
    heap.set_verify(true);
    heap
}

fn collect(heap: &SharedHeap, tlab: &mut Tlab, major: bool) -> heaplab_gc::GcEvent {
    if major {
        heap.request_major();
    } else {
        heap.request_minor();
    }
    let event = heap.safepoint(tlab).expect("the only worker leads");
    heap.verify(tlab).unwrap();
    event
}

fn roots_match(m: &mut Mutator, tlab: &mut Tlab, roots: &[Rooted]) {
    m.enter(tlab, |h| {
        for (i, (root, snap)) in roots.iter().enumerate() {
            assert_eq!(h.get(root).to_owned_term(), *snap, "root {i}");
        }
    });
}

fn int_list(n: i64) -> OwnedTerm {
    OwnedTerm::list((0..n).map(OwnedTerm::from).collect())
}

#[test]
fn minor_promotes_live_data_and_drops_garbage() {
    let heap = small(1);
    let mut tlab = heap.tlab();
    let mut m = heap.mutator();
    let root = m.enter(&mut tlab, |h| h.root(h.list((0..1000).map(|i| h.tuple(&[h.int(i)])))));
    m.enter(&mut tlab, |h| {
        for i in 0..5000 {
            h.tuple(&[h.int(i), h.int(i)]);
        }
    });
    assert!(tlab.allocated_words() >= 1000 * 4 + 5000 * 3);
    // The nursery overflowed, so a collection is already pending.
    assert!(heap.collection_requested());
    let event = collect(&heap, &mut tlab, false);
    assert_eq!(event.kind, GcKind::Minor);
    assert_eq!(event.words_copied, 1000 * 4);
    assert!(event.words_before >= 1000 * 4 + 5000 * 3);
    let after = heap.stats();
    assert_eq!((after.nursery_used, after.overflow_words), (0, 0));
    assert!(after.old_used >= 4000);
    // Only the promoted survivors are in use now; the heap holds at least that.
    assert_eq!(after.used_words(), after.old_used);
    assert!((after.used_words() as u64) < event.words_before);
    assert!(after.heap_words() >= after.used_words() + after.nursery_capacity);
    let expected = OwnedTerm::list((0..1000).map(|i| OwnedTerm::tuple(vec![i.into()])).collect());
    roots_match(&mut m, &mut tlab, &[(root, expected)]);
}

#[test]
fn major_reclaims_old_garbage_and_sizes_the_next_major() {
    let heap = small(1);
    let mut tlab = heap.tlab();
    let mut m = heap.mutator();
    let keep = m.enter(&mut tlab, |h| h.root(h.list((0..500).map(|i| h.int(i)))));
    let drop_me = m.enter(&mut tlab, |h| h.root(h.list((0..3000).map(|i| h.int(i)))));
    collect(&heap, &mut tlab, false);
    let old_before = heap.stats().old_used;
    drop(drop_me);
    let event = collect(&heap, &mut tlab, true);
    assert_eq!(event.kind, GcKind::Major);
    assert_eq!(event.words_copied, 1000);
    let stats = heap.stats();
    assert!(stats.old_used < old_before, "{} !< {old_before}", stats.old_used);
    assert_eq!(stats.next_major_at, 20_000, "floor of min_old_words");
    roots_match(&mut m, &mut tlab, &[(keep, int_list(500))]);
}

#[test]
fn old_growth_triggers_a_major_collection() {
    let heap = small(1);
    let mut tlab = heap.tlab();
    let mut m = heap.mutator();
    let mut roots = Vec::new();
    let mut kinds = Vec::new();
    for round in 0..12 {
        roots.push(m.enter(&mut tlab, |h| h.root(h.list((0..1000).map(|i| h.int(i))))));
        if round % 2 == 0 {
            roots.remove(0);
        }
        kinds.push(collect(&heap, &mut tlab, false));
    }
    assert!(kinds.iter().any(|e| e.kind == GcKind::Major && e.reason == GcReason::OldFull));
    let expected: Vec<Rooted> = roots.into_iter().map(|r| (r, int_list(1000))).collect();
    roots_match(&mut m, &mut tlab, &expected);
}

#[test]
fn full_nursery_overflows_and_requests_a_collection() {
    let heap = small(1);
    let mut tlab = heap.tlab();
    let mut m = heap.mutator();
    assert!(!heap.collection_requested());
    // 3 words per tuple: the 4096-word nursery fills after ~1365 of them.
    let root = m.enter(&mut tlab, |h| h.root(h.list((0..3000).map(|i| h.tuple(&[h.int(i), h.nil()])))));
    assert!(heap.collection_requested());
    assert!(heap.stats().overflow_words > 0);
    let event = heap.safepoint(&mut tlab).unwrap();
    assert_eq!(event.reason, GcReason::HeapFull);
    assert_eq!(event.words_copied, 3000 * 5);
    let expected =
        OwnedTerm::list((0..3000).map(|i| OwnedTerm::tuple(vec![i.into(), OwnedTerm::Nil])).collect());
    roots_match(&mut m, &mut tlab, &[(root, expected)]);
    // No request pending: a safepoint is a no-op.
    assert!(heap.safepoint(&mut tlab).is_none());
}

#[test]
fn large_objects_get_their_own_space() {
    let heap = small(1);
    let mut tlab = heap.tlab();
    let mut m = heap.mutator();
    let big: Vec<OwnedTerm> = (0..5000).map(OwnedTerm::from).collect();
    let root = m.enter(&mut tlab, |h| {
        let items: Vec<_> = (0..5000).map(|i| h.int(i)).collect();
        h.root(h.tuple(&items))
    });
    heap.verify(&mut tlab).unwrap();
    collect(&heap, &mut tlab, false);
    collect(&heap, &mut tlab, true);
    roots_match(&mut m, &mut tlab, &[(root, OwnedTerm::tuple(big))]);
}

#[test]
fn messages_are_sent_by_reference_and_rooted_in_flight() {
    let heap = small(1);
    let mut tlab = heap.tlab();
    let (mut a, mut b) = (heap.mutator(), heap.mutator());
    let words_before = tlab.allocated_words();
    let message = a.send(&mut tlab, |h| h.list((0..100).map(|i| h.int(i))));
    let sent_words = tlab.allocated_words() - words_before;
    assert_eq!(sent_words, 200, "built once, never copied");
    assert_eq!(heap.stats().in_flight, 1);
    // A collection while the message is in flight moves it and keeps it.
    collect(&heap, &mut tlab, false);
    b.deliver(&mut tlab, message);
    assert_eq!(b.message_count(), 1);
    b.enter(&mut tlab, |h| {
        let m = h.take_message(0).unwrap();
        assert_eq!(m.to_owned_term(), int_list(100));
        let r = h.root(m);
        assert_eq!(h.get(&r).list_len(), Some(100));
    });
    collect(&heap, &mut tlab, true);
    assert_eq!(heap.stats().in_flight, 0);
}

/// An immediate needs no in-flight root: it travels in the message itself, in order with
/// the messages that do, and dropping it undelivered leaves nothing behind.
#[test]
fn immediate_messages_travel_without_a_root() {
    let heap = small(1);
    let mut tlab = heap.tlab();
    let (mut a, mut b) = (heap.mutator(), heap.mutator());
    let first = a.send(&mut tlab, |h| h.int(7));
    let second = a.send(&mut tlab, |h| h.list([h.int(0)]));
    let dropped = a.send(&mut tlab, |h| h.atom_named("gone"));
    assert_eq!(heap.stats().in_flight, 1, "only the list is rooted in flight");
    collect(&heap, &mut tlab, false);
    b.deliver(&mut tlab, first);
    b.deliver(&mut tlab, second);
    drop(dropped);
    b.enter(&mut tlab, |h| {
        assert_eq!(h.take_message(0).unwrap().as_int(), Some(7));
        assert_eq!(h.take_message(0).unwrap().to_owned_term(), int_list(1));
    });
    assert_eq!(heap.stats().in_flight, 0);
}

#[test]
fn an_undelivered_message_and_a_dead_process_are_reclaimed_by_collection_only() {
    let heap = small(1);
    let mut tlab = heap.tlab();
    let mut a = heap.mutator();
    let _kept = a.enter(&mut tlab, |h| h.root(h.list((0..2000).map(|i| h.int(i)))));
    let lost = a.send(&mut tlab, |h| h.list((0..1000).map(|i| h.int(i))));
    collect(&heap, &mut tlab, false);
    let with_all = heap.stats().old_used;
    drop(lost);
    drop(a);
    // Dropping frees nothing by itself.
    assert_eq!(heap.stats().old_used, with_all);
    assert_eq!(heap.stats().mutators, 0);
    let event = collect(&heap, &mut tlab, true);
    assert_eq!(event.words_copied, 0);
    assert_eq!(heap.stats().old_used, 0);
}

#[test]
fn fragments_are_adopted_and_binaries_released() {
    let _serial = serial();
    let base = live_binaries();
    let heap = small(1);
    let mut tlab = heap.tlab();
    let mut m = heap.mutator();
    let bin = Binary::from_bytes(&[7u8; 1000]);
    let fragment = Fragment::build(|h| h.tuple(&[h.refc_binary(&bin), h.binary(b"small")]));
    m.deliver_fragment(&mut tlab, fragment);
    let (root, garbage_handles) = m.enter(&mut tlab, |h| {
        let msg = h.take_message(0).unwrap();
        for _ in 0..10 {
            h.refc_binary(&bin);
        }
        (h.root(msg), 10)
    });
    assert_eq!(bin.refcount(), 2 + garbage_handles);
    collect(&heap, &mut tlab, false);
    assert_eq!(bin.refcount(), 2, "garbage handles dropped their references");
    let expected =
        OwnedTerm::tuple(vec![OwnedTerm::Binary(vec![7; 1000]), OwnedTerm::Binary(b"small".to_vec())]);
    roots_match(&mut m, &mut tlab, &[(root, expected)]);
    drop(m);
    collect(&heap, &mut tlab, true);
    assert_eq!(bin.refcount(), 1);
    drop(bin);
    assert_eq!(live_binaries(), base);
}

#[test]
fn events_reach_the_sink_with_time_to_safepoint() {
    let heap = small(1);
    let sink = Arc::new(VecSink::new());
    heap.set_event_sink(sink.clone());
    let mut tlab = heap.tlab();
    collect(&heap, &mut tlab, false);
    collect(&heap, &mut tlab, true);
    let events = sink.take();
    assert_eq!(events.iter().map(|e| e.kind).collect::<Vec<_>>(), [GcKind::Minor, GcKind::Major]);
    for e in events {
        assert!(e.time_to_safepoint <= e.duration);
    }
    assert_eq!((heap.stats().minor_collections, heap.stats().major_collections), (1, 1));
}

#[test]
fn options_are_validated() {
    let bad = SharedOptions { tlab_words: 10, ..SharedOptions::default() };
    assert!(SharedHeap::new(bad, 1).unwrap_err().to_string().contains("TLAB"));
    let bad = SharedOptions { major_growth: 0.5, ..SharedOptions::default() };
    assert!(SharedHeap::new(bad, 1).is_err());
    assert!(SharedHeap::new(SharedOptions::default(), 0).is_err());
}

#[test]
#[should_panic(expected = "another shared heap")]
fn a_tlab_of_another_heap_is_refused() {
    let (a, b) = (small(1), small(1));
    let mut tlab = b.tlab();
    a.mutator().enter(&mut tlab, |h| h.int(1).raw());
}

/// Workers allocating, rooting and exchanging messages by reference while collections run
/// at their safepoints; every worker checks its processes' roots deeply after each one.
#[test]
fn parallel_stress_loses_no_reachable_term() {
    const WORKERS: usize = 4;
    const ROUNDS: i64 = 300;
    let heap = small(WORKERS);
    let start = Arc::new(Barrier::new(WORKERS));
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..WORKERS).map(|_| mpsc::channel::<(i64, _)>()).unzip();
    let handles: Vec<_> = receivers
        .into_iter()
        .enumerate()
        .map(|(me, inbox)| {
            let heap = heap.clone();
            let start = Arc::clone(&start);
            let peers = senders.clone();
            thread::spawn(move || {
                let mut tlab = heap.tlab();
                start.wait();
                let mut procs: Vec<Mutator> = (0..3).map(|_| heap.mutator()).collect();
                let mut kept: Vec<(usize, Rooted)> = Vec::new();
                let mut received = 0;
                for round in 0..ROUNDS {
                    let p = round as usize % procs.len();
                    let n = 1 + (round * 7 + me as i64) % 60;
                    let root = procs[p].enter(&mut tlab, |h| {
                        for g in 0..n {
                            h.tuple(&[h.int(g), h.nil()]);
                        }
                        h.root(h.list((0..n).map(|i| h.tuple(&[h.int(i), h.int(round)]))))
                    });
                    let snap = OwnedTerm::list(
                        (0..n).map(|i| OwnedTerm::tuple(vec![i.into(), round.into()])).collect(),
                    );
                    kept.push((p, (root, snap)));
                    if kept.len() > 20 {
                        kept.remove(round as usize % kept.len());
                    }
                    let to = (me + 1 + round as usize) % WORKERS;
                    let msg = procs[p].send(&mut tlab, |h| h.list((0..n).map(|i| h.int(i * round))));
                    // A peer that has finished drops what it is sent; the collector reclaims it.
                    let _ = peers[to].send((n * 1000 + round, msg));
                    while let Ok((tag, msg)) = inbox.try_recv() {
                        let q = (tag as usize) % procs.len();
                        procs[q].deliver(&mut tlab, msg);
                        let got = procs[q].enter(&mut tlab, |h| {
                            let last = h.message_count() - 1;
                            h.take_message(last).unwrap().to_owned_term()
                        });
                        let (n, r) = (tag / 1000, tag % 1000);
                        assert_eq!(got, OwnedTerm::list((0..n).map(|i| (i * r).into()).collect()));
                        received += 1;
                    }
                    if round % 50 == 49 {
                        heap.request_major();
                    }
                    heap.safepoint(&mut tlab);
                    for (p, (root, snap)) in &kept {
                        procs[*p].enter(&mut tlab, |h| assert_eq!(h.get(root).to_owned_term(), *snap));
                    }
                }
                drop(tlab);
                received
            })
        })
        .collect();
    drop(senders);
    let received: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(received > 0);
    let stats = heap.stats();
    assert!(stats.minor_collections > 0, "{stats:?}");
    assert!(stats.major_collections > 0, "{stats:?}");
}

/// Deliveries race no collection: a thread that holds no TLAB of its own delivers messages
/// sent by reference (and reads them back) through a TLAB registered for each operation,
/// while two workers allocate on a 64-word nursery and collect at every safepoint. A
/// delivery moves a word between two root sources (the in-flight table and a queue); were
/// it allowed during a collection, the collector could scan the queue before the move and
/// the table after it, and the message would be left pointing into from-space.
#[test]
fn deliveries_from_a_thread_without_a_tlab_interleave_safely_with_collections() {
    const WORKERS: usize = 2;
    const MESSAGES: i64 = 400;
    let opts = SharedOptions {
        nursery_words_per_worker: 64,
        tlab_words: 64,
        min_old_words: 1 << 16,
        ..SharedOptions::default()
    };
    let heap = SharedHeap::new(opts, WORKERS).unwrap();
    heap.set_verify(true);
    let expected = |worker: i64, k: i64| {
        OwnedTerm::list((0..1 + k % 12).map(|i| (worker * 100_000 + k * 100 + i).into()).collect())
    };
    let (to_deliverer, inbox) = mpsc::channel::<(i64, i64, heaplab_gc::shared::SharedMessage)>();
    let workers: Vec<_> = (0..WORKERS as i64)
        .map(|w| {
            let heap = heap.clone();
            let to_deliverer = to_deliverer.clone();
            thread::spawn(move || {
                let mut tlab = heap.tlab();
                let mut sender = heap.mutator();
                for k in 0..MESSAGES {
                    // Garbage, so the tiny nursery overflows and collections keep coming.
                    sender.enter(&mut tlab, |h| {
                        for g in 0..8 {
                            h.tuple(&[h.int(g), h.nil()]);
                        }
                    });
                    let message = sender.send(&mut tlab, |h| {
                        h.list((0..1 + k % 12).map(|i| h.int(w * 100_000 + k * 100 + i)))
                    });
                    to_deliverer.send((w, k, message)).unwrap();
                    if k % 50 == 49 {
                        heap.request_major();
                    }
                    heap.safepoint(&mut tlab);
                }
            })
        })
        .collect();
    drop(to_deliverer);
    let deliverer = {
        let heap = heap.clone();
        thread::spawn(move || {
            let mut receivers: Vec<Mutator> = (0..3).map(|_| heap.mutator()).collect();
            let mut queued: Vec<Vec<OwnedTerm>> = vec![Vec::new(); receivers.len()];
            let mut delivered = 0;
            for (w, k, message) in inbox {
                let r = (k as usize + w as usize) % receivers.len();
                // No TLAB of its own: one registered for the delivery, dropped after it.
                receivers[r].deliver(&mut heap.tlab(), message);
                queued[r].push(expected(w, k));
                delivered += 1;
                if delivered % 16 == 0 {
                    // Every queued message still reads back deeply equal; the oldest half
                    // of each queue is taken (and becomes garbage).
                    let mut tlab = heap.tlab();
                    for (m, want) in receivers.iter_mut().zip(&mut queued) {
                        m.enter(&mut tlab, |h| {
                            let got: Vec<OwnedTerm> = (0..h.message_count())
                                .map(|i| h.message(i).unwrap().to_owned_term())
                                .collect();
                            assert_eq!(&got, want);
                            for _ in 0..want.len() / 2 {
                                h.take_message(0);
                            }
                        });
                        want.drain(..want.len() / 2);
                    }
                }
            }
            let mut tlab = heap.tlab();
            for (m, want) in receivers.iter_mut().zip(&queued) {
                m.enter(&mut tlab, |h| {
                    let got: Vec<OwnedTerm> =
                        (0..h.message_count()).map(|_| h.take_message(0).unwrap().to_owned_term()).collect();
                    assert_eq!(&got, want);
                });
            }
            heap.verify(&mut tlab).unwrap();
            delivered
        })
    };
    for worker in workers {
        worker.join().unwrap();
    }
    assert_eq!(deliverer.join().unwrap(), WORKERS as i64 * MESSAGES);
    let stats = heap.stats();
    assert!(stats.minor_collections > 100 && stats.major_collections >= 2, "{stats:?}");
    assert_eq!(stats.in_flight, 0);
}

/// The verifier runs only with every worker stopped: a second worker that keeps
/// allocating is stopped at its safepoint for the verification, which then sees a
/// consistent heap.
#[test]
fn verification_waits_for_every_worker() {
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
    let heap = small(2);
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicI64::new(0));
    let busy = {
        let (heap, stop, rounds) = (heap.clone(), Arc::clone(&stop), Arc::clone(&rounds));
        thread::spawn(move || {
            let mut tlab = heap.tlab();
            let mut m = heap.mutator();
            let root = m.enter(&mut tlab, |h| h.root(h.nil()));
            let mut n = 0i64;
            while !stop.load(Ordering::Acquire) {
                m.enter(&mut tlab, |h| {
                    let old = h.get(&root);
                    let kept = if n % 100 == 0 { h.nil() } else { old };
                    h.set(&root, h.cons(h.int(n), kept));
                });
                n += 1;
                rounds.store(n, Ordering::Release);
                heap.safepoint(&mut tlab);
            }
            n
        })
    };
    let mut tlab = heap.tlab();
    while rounds.load(Ordering::Acquire) < 10 {
        heap.safepoint(&mut tlab);
    }
    for _ in 0..50 {
        heap.verify(&mut tlab).unwrap();
    }
    stop.store(true, Ordering::Release);
    heap.safepoint(&mut tlab);
    drop(tlab);
    assert!(busy.join().unwrap() >= 10);
}

#[test]
#[should_panic(expected = "another shared heap")]
fn verify_refuses_a_tlab_of_another_heap() {
    let (a, b) = (small(1), small(1));
    let mut tlab = b.tlab();
    let _ = a.verify(&mut tlab);
}

#[test]
#[should_panic(expected = "another shared heap")]
fn deliver_refuses_a_tlab_of_another_heap() {
    let (a, b) = (small(1), small(1));
    let (mut ta, mut tb) = (a.tlab(), b.tlab());
    let (mut sender, mut receiver) = (a.mutator(), a.mutator());
    let message = sender.send(&mut ta, |h| h.list([h.int(1)]));
    receiver.deliver(&mut tb, message);
}

#[test]
#[should_panic(expected = "another shared heap")]
fn a_safepoint_refuses_a_tlab_of_another_heap() {
    let (a, b) = (small(1), small(1));
    let mut tlab = b.tlab();
    a.request_minor();
    a.safepoint(&mut tlab);
}

proptest! {
    #![proptest_config(config(24))]

    /// Random terms built through the shared heap keep their value across random minor and
    /// major collections, and every off-heap binary is released once nothing holds it.
    #[test]
    fn random_terms_survive_collections(
        recipes in proptest::collection::vec(arb_recipe(), 1..12),
        plan in proptest::collection::vec(0u8..3, 1..8),
    ) {
        let _serial = serial();
        let base = live_binaries();
        {
            let heap = small(1);
            let mut tlab = heap.tlab();
            let mut m = heap.mutator();
            let binaries = vec![Binary::from_bytes(&[1u8; 200]), Binary::from_bytes(&[2u8; 90])];
            let mut roots: Vec<Rooted> = Vec::new();
            for (i, recipe) in recipes.iter().enumerate() {
                let rooted = m.enter(&mut tlab, |h| {
                    let (t, o) = build(h, recipe, &Env { roots: &roots, binaries: &binaries });
                    (h.root(t), o)
                });
                roots.push(rooted);
                match plan[i % plan.len()] {
                    0 => {}
                    1 => { collect(&heap, &mut tlab, false); }
                    _ => { collect(&heap, &mut tlab, true); }
                }
                roots_match(&mut m, &mut tlab, &roots);
            }
        }
        prop_assert_eq!(live_binaries(), base);
    }
}

/// Majors over an old generation of several chunks: the evacuated chunks come back as the
/// next major's to-space (spares) with their old contents, and every collection leaves the
/// same list behind, verified after each (once: verifying before and after as well would
/// take most of the test's time at this size), while the old generation's capacity stays
/// bounded.
#[test]
fn majors_reuse_evacuated_chunks_and_keep_the_data() {
    const N: i64 = 1_050_000; // 2.1 M words of cons cells: three 1 M-word chunks.
    let heap = SharedHeap::new(SharedOptions::default(), 1).unwrap();
    heap.set_verify(false);
    let mut tlab = heap.tlab();
    let mut m = heap.mutator();
    let root = m.enter(&mut tlab, |h| h.root(h.list((0..N).map(|i| h.int(i)))));
    collect(&heap, &mut tlab, false);
    let mut capacities = Vec::new();
    for _ in 0..2 {
        let event = collect(&heap, &mut tlab, true);
        assert_eq!(event.kind, GcKind::Major);
        assert_eq!(event.words_copied, 2 * N as u64);
        capacities.push(heap.stats().old_capacity);
    }
    assert!(capacities.windows(2).all(|w| w[0] == w[1]), "old capacity moved: {capacities:?}");
    m.enter(&mut tlab, |h| {
        let mut list = h.get(&root);
        for i in 0..N {
            let (head, tail) = list.as_cons().expect("a cons cell");
            assert_eq!(head.as_int(), Some(i));
            list = tail;
        }
        assert!(list.is_nil());
    });
}
