//! The hybrid heap: private heaps registered with a shared message area.
//!
//! Scenario tests for each rule (a message is built in the area and never copied again; a
//! private collection leaves area objects in place and remembers the words pointing at them;
//! an area collection moves messages and rewrites every private word, remembered or new, and
//! the messages in flight; an exit unregisters the heap; the area refuses to collect without
//! every heap), and a property test running random sends, receives, forwards, exits and
//! private and area collections on three heaps, checking after every collection that every
//! heap and the area pass the verifier and every root and queued message is deeply equal to
//! its snapshot, and at the end that every off-heap binary was freed.
//!
//! The tests read the program-wide binary counter, so they run one at a time.

mod common;

use std::collections::VecDeque;
use std::sync::Arc;

use common::{arb_owned, config, serial};
use heaplab_gc::hybrid::{AreaCollector, AreaError, AreaIncrement, AreaMessage, AreaOptions, MessageArea};
use heaplab_gc::{live_binaries, Collect, GcKind, GcReason, Heap, HeapOptions, OwnedTerm, Root, VecSink};
use proptest::collection::vec;
use proptest::prelude::*;

fn area() -> MessageArea {
    MessageArea::new(AreaOptions::default()).unwrap()
}

/// A small heap, so that a few messages already overflow its young block into fragments.
fn small() -> HeapOptions {
    HeapOptions { min_heap_size: 38, ..HeapOptions::default() }
}

/// `{I, <<I x 8>>, <<I x 100>>, [I, I+1]}`: a tuple, a heap binary, a refc binary, a list.
fn entry(i: i64) -> OwnedTerm {
    OwnedTerm::tuple(vec![
        i.into(),
        OwnedTerm::Binary(vec![i as u8; 8]),
        OwnedTerm::Binary(vec![i as u8; 100]),
        OwnedTerm::list(vec![i.into(), (i + 1).into()]),
    ])
}

fn reads(heap: &mut Heap, root: &Root) -> OwnedTerm {
    heap.enter(|h| h.get(root).to_owned_term())
}

#[test]
fn a_message_is_built_in_the_area_and_delivered_by_reference() {
    let _serial = serial();
    let area = area();
    let mut receiver = area.heap(HeapOptions::default()).unwrap();
    let message = area.build(|h| h.from_owned(&entry(7)));
    assert_eq!(message.to_owned_term(), entry(7));
    let stats = area.stats();
    assert_eq!((stats.nursery_words, stats.in_flight, stats.binary_handles), (5 + 3 + 3 + 4, 1, 1));
    let before = receiver.used_words();
    receiver.deliver_area(message);
    // Nothing was copied into the receiver, nor attached to it.
    assert_eq!(receiver.used_words(), before);
    assert_eq!(area.stats().in_flight, 0);
    receiver.enter(|h| assert_eq!(h.message(0).unwrap().to_owned_term(), entry(7)));
    receiver.verify().unwrap();
    area.verify().unwrap();
}

#[test]
fn small_messages_share_nursery_chunks_and_a_nested_build_gets_its_own_block() {
    let _serial = serial();
    let area = area();
    let mut heap = area.heap(HeapOptions::default()).unwrap();
    for i in 0..1000 {
        heap.deliver_area(area.build(|h| h.tuple(&[h.int(i), h.nil()])));
    }
    // 3,000 words of messages in one chunk, not a thousand blocks.
    assert_eq!((area.stats().nursery_words, area.stats().nursery_blocks), (3000, 1));
    // A message built while another is being built on the same thread cannot use the
    // chunk the outer one is writing: it gets a block of its own.
    let outer = area.build(|h| {
        let inner = area.build(|h2| h2.list([h2.int(7)]));
        assert_eq!(inner.to_owned_term(), OwnedTerm::list(vec![7.into()]));
        heap.deliver_area(inner);
        h.tuple(&[h.int(8)])
    });
    heap.deliver_area(outer);
    assert_eq!((area.stats().nursery_words, area.stats().nursery_blocks), (3000 + 2 + 2, 2));
    // A message larger than a chunk continues in blocks of its own.
    let big = OwnedTerm::list((0..10_000).map(OwnedTerm::Int).collect());
    heap.deliver_area(area.build(|h| h.from_owned(&big)));
    let ev = area.collect(&mut [&mut heap], Collect::Minor).unwrap();
    assert_eq!(ev.words_copied, 3000 + 4 + 20_000);
    heap.enter(|h| {
        assert_eq!(
            h.message(999).unwrap().to_owned_term(),
            OwnedTerm::tuple(vec![999.into(), OwnedTerm::Nil])
        );
        assert_eq!(h.message(1002).unwrap().to_owned_term(), big);
    });
    heap.verify().unwrap();
}

#[test]
fn messages_built_on_several_threads_survive_collections_running_meanwhile() {
    let _serial = serial();
    let area = area();
    // Each thread builds half its messages, lets one collection run (between the two
    // barriers), then builds the rest while the main thread collects as often as it can.
    let barrier = Arc::new(std::sync::Barrier::new(4));
    let threads: Vec<_> = (0..3i64)
        .map(|t| {
            let (area, barrier) = (area.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let build = |i: i64| area.build(|h| h.from_owned(&entry(t * 1000 + i)));
                let mut messages: Vec<AreaMessage> = (0..100).map(build).collect();
                barrier.wait();
                barrier.wait();
                messages.extend((100..200).map(build));
                messages
            })
        })
        .collect();
    barrier.wait();
    let ev = area.collect(&mut [], Collect::Minor).unwrap();
    assert_eq!(ev.words_copied, 3 * 100 * 15);
    barrier.wait();
    while !threads.iter().all(|t| t.is_finished()) {
        area.collect(&mut [], Collect::Minor).unwrap();
    }
    let all: Vec<Vec<AreaMessage>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    area.collect(&mut [], Collect::Major).unwrap();
    area.verify().unwrap();
    for (t, messages) in all.iter().enumerate() {
        for (i, m) in messages.iter().enumerate() {
            assert_eq!(m.to_owned_term(), entry(t as i64 * 1000 + i as i64));
        }
    }
    drop(all);
    area.collect(&mut [], Collect::Major).unwrap();
    assert_eq!(area.stats().used_words(), 0);
}

#[test]
fn a_private_collection_leaves_area_objects_in_place_and_remembers_them() {
    let _serial = serial();
    let area = area();
    let mut heap = area.heap(HeapOptions::default()).unwrap();
    heap.deliver_area(area.build(|h| h.from_owned(&entry(1))));
    heap.deliver_area(area.build(|h| h.from_owned(&entry(2))));
    // Two private tuples holding the messages, and a root on the second message directly.
    let (pair, direct) = heap.enter(|h| {
        let a = h.take_message(0).unwrap();
        let b = h.message(0).unwrap();
        (h.root(h.tuple(&[a, h.int(10), b])), h.root(b))
    });
    let area_words = area.stats().nursery_words;
    let ev = heap.collect(Collect::Major).unwrap().event;
    // Only the private tuple was copied: the messages stayed in the area.
    assert_eq!(ev.words_copied, 4);
    assert_eq!(area.stats().nursery_words, area_words);
    // The tuple's two area words are remembered; roots and queued messages need not be.
    assert_eq!(heap.remembered_words(), 2);
    heap.verify().unwrap();
    // A minor collection promotes the tuple: its words move to the old part of the set.
    let ev = heap.collect(Collect::Minor).unwrap().event;
    assert_eq!((ev.kind, ev.words_promoted), (GcKind::Minor, 4));
    assert_eq!(heap.remembered_words(), 2);
    heap.verify().unwrap();
    let expected = OwnedTerm::tuple(vec![entry(1), 10.into(), entry(2)]);
    assert_eq!(reads(&mut heap, &pair), expected);
    assert_eq!(reads(&mut heap, &direct), entry(2));
}

#[test]
fn an_area_collection_moves_messages_and_rewrites_every_private_word() {
    let _serial = serial();
    let sink = Arc::new(VecSink::new());
    let area = area();
    area.set_event_sink(sink.clone());
    let mut a = area.heap(small()).unwrap();
    let mut b = area.heap(small()).unwrap();
    for i in 0..6 {
        a.deliver_area(area.build(|h| h.from_owned(&entry(i))));
    }
    // Remembered words (collected), new words (allocated since), a root and queued messages.
    let old_root = a.enter(|h| {
        let m = h.take_message(0).unwrap();
        h.root(h.list([m, h.int(0)]))
    });
    a.collect(Collect::Major).unwrap();
    a.collect(Collect::Minor).unwrap();
    let new_root = a.enter(|h| {
        let m = h.take_message(0).unwrap();
        h.root(h.tuple(&[h.atom_named("new"), m]))
    });
    // Garbage in the area: a message nobody received, and one dropped in flight.
    drop(area.build(|h| h.from_owned(&entry(99))));
    let in_flight = area.build(|h| h.from_owned(&entry(50)));
    let ev = area.collect(&mut [&mut a, &mut b], Collect::Minor).unwrap();
    assert_eq!((ev.kind, ev.reason), (GcKind::AreaMinor, GcReason::Requested));
    // Live: four queued messages, the two taken ones, the one in flight; 15 words each.
    assert_eq!(ev.words_copied, 7 * 15);
    assert_eq!(ev.binaries_freed, 1);
    assert_eq!(area.stats().old_words, 7 * 15);
    assert_eq!(sink.take().len(), 1);
    a.verify().unwrap();
    area.verify().unwrap();
    assert_eq!(reads(&mut a, &old_root), OwnedTerm::list(vec![entry(0), 0.into()]));
    assert_eq!(reads(&mut a, &new_root), OwnedTerm::tuple(vec![OwnedTerm::atom("new"), entry(1)]));
    a.enter(|h| {
        let queued: Vec<_> = (0..h.message_count()).map(|i| h.message(i).unwrap().to_owned_term()).collect();
        assert_eq!(queued, (2..6).map(entry).collect::<Vec<_>>());
    });
    assert_eq!(in_flight.to_owned_term(), entry(50));
    b.deliver_area(in_flight);
    // A major collection compacts the old generation; the private words follow again.
    drop(old_root);
    a.collect(Collect::Major).unwrap();
    let ev = area.collect(&mut [&mut a, &mut b], Collect::Major).unwrap();
    assert_eq!((ev.kind, ev.words_copied), (GcKind::AreaMajor, 6 * 15));
    assert_eq!(reads(&mut a, &new_root), OwnedTerm::tuple(vec![OwnedTerm::atom("new"), entry(1)]));
    b.enter(|h| assert_eq!(h.message(0).unwrap().to_owned_term(), entry(50)));
    a.verify().unwrap();
    b.verify().unwrap();
}

#[test]
fn a_private_term_used_in_a_message_is_copied_into_the_area() {
    let _serial = serial();
    let area = area();
    let mut sender = area.heap(HeapOptions::default()).unwrap();
    let mut receiver = area.heap(HeapOptions::default()).unwrap();
    let private = sender.enter(|h| h.root(h.from_owned(&entry(3))));
    let message = sender.enter(|p| {
        let t = p.get(&private);
        area.build(|h| {
            let copy = h.copy(t);
            h.tuple(&[h.atom_named("fwd"), copy])
        })
    });
    receiver.deliver_area(message);
    // The sender's term is not needed by the message: drop it and collect the sender.
    drop(private);
    sender.collect(Collect::Major).unwrap();
    area.collect(&mut [&mut sender, &mut receiver], Collect::Major).unwrap();
    receiver.enter(|h| {
        let m = h.message(0).unwrap().to_owned_term();
        assert_eq!(m, OwnedTerm::tuple(vec![OwnedTerm::atom("fwd"), entry(3)]));
    });
    area.verify().unwrap();
}

#[test]
fn a_senders_root_is_copied_into_the_message_and_its_area_parts_are_linked() {
    let _serial = serial();
    let area = area();
    let mut sender = area.heap(HeapOptions::default()).unwrap();
    let mut receiver = area.heap(HeapOptions::default()).unwrap();
    sender.deliver_area(area.build(|h| h.from_owned(&entry(1))));
    let state = sender.enter(|h| {
        let m = h.take_message(0).unwrap();
        h.root(h.tuple(&[m, h.list([h.int(1), h.int(2)])]))
    });
    sender.collect(Collect::Major).unwrap();
    let before = area.stats().nursery_words;
    let message = area.build_from(&mut sender, |h| h.tuple(&[h.atom_named("fwd"), h.get(&state)]));
    // {fwd, _} and the private {_, [1,2]} were copied; the received message was linked.
    assert_eq!(area.stats().nursery_words - before, 3 + 3 + 4);
    receiver.deliver_area(message);
    let expected = OwnedTerm::tuple(vec![
        OwnedTerm::atom("fwd"),
        OwnedTerm::tuple(vec![entry(1), OwnedTerm::list(vec![1.into(), 2.into()])]),
    ]);
    let check =
        |receiver: &mut Heap| receiver.enter(|h| assert_eq!(h.message(0).unwrap().to_owned_term(), expected));
    check(&mut receiver);
    area.verify().unwrap();
    // The forwarded message points at the received one: both survive, wherever each is.
    drop(state);
    sender.collect(Collect::Major).unwrap();
    area.collect(&mut [&mut sender, &mut receiver], Collect::Minor).unwrap();
    check(&mut receiver);
    area.collect(&mut [&mut sender, &mut receiver], Collect::Major).unwrap();
    check(&mut receiver);
    assert_eq!(area.stats().old_words, 15 + 3 + 3 + 4);
    receiver.verify().unwrap();
}

#[test]
#[should_panic(expected = "was used with heap")]
fn a_root_of_another_heap_cannot_be_read_while_building() {
    let area = area();
    let mut sender = area.heap(HeapOptions::default()).unwrap();
    let mut other = area.heap(HeapOptions::default()).unwrap();
    let foreign = other.enter(|h| h.root(h.list([h.int(1)])));
    area.build_from(&mut sender, |h| h.get(&foreign));
}

#[test]
#[should_panic(expected = "built from a heap outside it")]
fn a_message_is_built_only_from_a_heap_of_its_area() {
    let area = area();
    let mut plain = Heap::default();
    area.build_from(&mut plain, |h| h.nil());
}

#[test]
fn the_area_collects_only_with_every_registered_heap() {
    let _serial = serial();
    let area = area();
    let other = MessageArea::new(AreaOptions::default()).unwrap();
    let mut a = area.heap(HeapOptions::default()).unwrap();
    let mut b = area.heap(HeapOptions::default()).unwrap();
    let mut stranger = other.heap(HeapOptions::default()).unwrap();
    let mut plain = Heap::default();
    a.deliver_area(area.build(|h| h.from_owned(&entry(4))));
    assert_eq!(
        area.collect(&mut [&mut a], Collect::Minor).unwrap_err(),
        AreaError::Incomplete { given: 1, registered: 2 }
    );
    let err = area.collect(&mut [&mut a, &mut b, &mut stranger], Collect::Minor).unwrap_err();
    assert_eq!(err, AreaError::ForeignHeap { heap: stranger.id() });
    assert!(area.collect(&mut [&mut a, &mut plain], Collect::Minor).is_err());
    assert!(err.to_string().contains("not registered"));
    // Nothing ran.
    assert_eq!(area.stats().minor_collections, 0);
    a.enter(|h| assert_eq!(h.message(0).unwrap().to_owned_term(), entry(4)));
    area.collect(&mut [&mut a, &mut b], Collect::Minor).unwrap();
    assert_eq!(area.stats().minor_collections, 1);
}

#[test]
#[should_panic(expected = "delivered to a heap outside it")]
fn a_message_of_another_area_is_refused() {
    let area = area();
    let other = MessageArea::new(AreaOptions::default()).unwrap();
    let mut heap = other.heap(HeapOptions::default()).unwrap();
    heap.deliver_area(area.build(|h| h.list([h.int(1)])));
}

#[test]
#[should_panic(expected = "delivered to a heap outside it")]
fn a_plain_heap_refuses_area_messages() {
    let area = area();
    let mut heap = Heap::default();
    heap.deliver_area(area.build(|h| h.list([h.int(1)])));
}

#[test]
fn an_exit_unregisters_the_heap_and_its_references_stop_being_roots() {
    let _serial = serial();
    let before = live_binaries();
    let area = area();
    let mut survivor = area.heap(HeapOptions::default()).unwrap();
    let mut leaving = area.heap(HeapOptions::default()).unwrap();
    for i in 0..4 {
        leaving.deliver_area(area.build(|h| h.from_owned(&entry(i))));
    }
    let _kept = leaving.enter(|h| {
        let m = h.take_message(0).unwrap();
        h.root(h.tuple(&[m]))
    });
    leaving.collect(Collect::Major).unwrap();
    assert_eq!(area.stats().heaps, 2);
    assert_eq!(live_binaries(), before + 4);
    drop(leaving);
    assert_eq!(area.stats().heaps, 1);
    let ev = area.collect(&mut [&mut survivor], Collect::Major).unwrap();
    assert_eq!((ev.words_copied, ev.binaries_freed), (0, 4));
    assert_eq!(area.stats().used_words(), 0);
    assert_eq!(live_binaries(), before);
}

#[test]
fn immediates_and_dropped_messages_cost_the_area_nothing_lasting() {
    let _serial = serial();
    let before = live_binaries();
    let area = area();
    let mut heap = area.heap(HeapOptions::default()).unwrap();
    let atom = area.build(|h| h.atom_named("tick"));
    assert_eq!(area.stats().in_flight, 0);
    heap.deliver_area(atom);
    heap.enter(|h| assert_eq!(h.message(0).unwrap().to_string(), "tick"));
    let unsent: Vec<AreaMessage> = (0..3).map(|i| area.build(|h| h.from_owned(&entry(i)))).collect();
    assert_eq!(area.stats().in_flight, 3);
    drop(unsent);
    assert_eq!(area.stats().in_flight, 0);
    let ev = area.collect(&mut [&mut heap], Collect::Auto).unwrap();
    assert_eq!((ev.kind, ev.words_copied, ev.binaries_freed), (GcKind::AreaMinor, 0, 3));
    drop(heap);
    drop(area);
    assert_eq!(live_binaries(), before);
}

#[test]
fn the_area_asks_for_a_collection_when_its_nursery_is_full() {
    let _serial = serial();
    let area = MessageArea::new(AreaOptions { nursery_words: 100, ..AreaOptions::default() }).unwrap();
    let mut heap = area.heap(HeapOptions::default()).unwrap();
    for i in 0..7 {
        assert!(!area.needs_collection(), "after {i} messages");
        heap.deliver_area(area.build(|h| h.from_owned(&entry(i))));
    }
    assert!(area.needs_collection());
    let ev = area.collect(&mut [&mut heap], Collect::Auto).unwrap();
    assert_eq!((ev.kind, ev.reason), (GcKind::AreaMinor, GcReason::HeapFull));
    assert!(!area.needs_collection());
    assert!(MessageArea::new(AreaOptions { major_growth: 1.0, ..AreaOptions::default() }).is_err());
}

#[test]
fn an_area_major_collection_runs_once_the_old_generation_has_grown() {
    let _serial = serial();
    let area = MessageArea::new(AreaOptions { min_old_words: 40, ..AreaOptions::default() }).unwrap();
    let mut heap = area.heap(HeapOptions::default()).unwrap();
    let mut kinds = Vec::new();
    for i in 0..4 {
        heap.deliver_area(area.build(|h| h.from_owned(&entry(i))));
        kinds.push(area.collect(&mut [&mut heap], Collect::Auto).unwrap().kind);
    }
    // 15 live words per collection: the third finds 30 old words under 40, the fourth 45.
    assert_eq!(kinds, [GcKind::AreaMinor, GcKind::AreaMinor, GcKind::AreaMinor, GcKind::AreaMajor]);
    assert_eq!(area.stats().next_major_at, 120);
}

// ---------------------------------------------------------------------------------------
// The incremental collector.

fn incremental(increment_words: usize) -> MessageArea {
    let opts =
        AreaOptions { collector: AreaCollector::Incremental, increment_words, ..AreaOptions::default() };
    MessageArea::new(opts).unwrap()
}

/// One increment with every heap of `heaps`.
fn step(area: &MessageArea, heaps: &mut [Heap]) -> AreaIncrement {
    let mut refs: Vec<&mut Heap> = heaps.iter_mut().collect();
    area.collect_increment(&mut refs, Collect::Auto).unwrap()
}

#[test]
fn an_incremental_cycle_keeps_every_term_while_processes_run_between_increments() {
    let _serial = serial();
    let before = live_binaries();
    let area = incremental(64);
    let mut heaps: Vec<Heap> = (0..3).map(|_| area.heap(small()).unwrap()).collect();
    // Each heap receives and roots five entries (binaries included).
    let mut kept: Vec<Vec<(Root, OwnedTerm)>> = vec![Vec::new(), Vec::new(), Vec::new()];
    for i in 0..15 {
        let to = (i % 3) as usize;
        heaps[to].deliver_area(area.build(|h| h.from_owned(&entry(i))));
        let root = heaps[to].enter(|h| {
            let m = h.take_message(0).unwrap();
            h.root(h.tuple(&[m, h.int(i)]))
        });
        kept[to].push((root, OwnedTerm::tuple(vec![entry(i), i.into()])));
    }
    let mut in_flight = vec![(area.build(|h| h.from_owned(&entry(99))), entry(99))];
    let mut steps = 0;
    let mut round = 100;
    let mut rounds = 0;
    // The first increment starts the cycle; the next ones run when due, as the runtime runs
    // them: after a quarter of the budget's words of new messages.
    assert!(step(&area, &mut heaps).started);
    loop {
        rounds += 1;
        assert!(rounds < 1000, "the cycle never closed");
        // Between increments the processes run: a received term is forwarded (linked) to
        // the next heap, private data is made and collected, a message is sent and kept in
        // flight.
        let (from, to) = (rounds % 3, (rounds + 1) % 3);
        let (root, snap) = kept[from][rounds % kept[from].len()].clone_snapshot();
        let message = area.build_from(&mut heaps[from], |h| h.tuple(&[h.atom_named("fwd"), h.get(root)]));
        drop(snap);
        heaps[to].deliver_area(message);
        let (fwd_root, fwd_snap) = {
            let snap = OwnedTerm::tuple(vec![
                OwnedTerm::atom("fwd"),
                kept[from][rounds % kept[from].len()].1.clone(),
            ]);
            let root = heaps[to].enter(|h| {
                let m = h.take_message(0).unwrap();
                h.root(m)
            });
            (root, snap)
        };
        kept[to].push((fwd_root, fwd_snap));
        heaps[from].collect(Collect::Minor).unwrap();
        in_flight.push((area.build(|h| h.from_owned(&entry(round))), entry(round)));
        round += 1;
        for (heap, roots) in heaps.iter_mut().zip(&kept) {
            heap.verify().unwrap();
            for (root, snap) in roots {
                assert_eq!(&reads(heap, root), snap);
            }
        }
        for (message, snap) in &in_flight {
            assert_eq!(&message.to_owned_term(), snap);
        }
        if !area.increment_due() {
            continue;
        }
        let inc = step(&area, &mut heaps);
        steps += 1;
        assert_eq!(inc.event.kind, GcKind::AreaIncrement);
        assert!(!inc.unbounded);
        if inc.closed {
            break;
        }
    }
    let stats = area.stats();
    assert!(steps > 3, "a budget of 64 words should take several increments, took {steps}");
    assert_eq!((stats.incremental_cycles, stats.late_words, stats.cycle_open), (1, 0, false));
    area.verify().unwrap();
    // The messages still in flight are delivered after the cycle and read back.
    for (message, snap) in in_flight.drain(..) {
        heaps[0].deliver_area(message);
        heaps[0].enter(|h| assert_eq!(h.take_message(0).unwrap().to_owned_term(), snap));
    }
    drop(kept);
    drop(heaps);
    let ev = area.collect(&mut [], Collect::Major).unwrap();
    assert_eq!(ev.words_after, 0);
    drop(area);
    assert_eq!(live_binaries(), before);
}

/// A root and a copy of its snapshot, so the loop above can borrow one heap's roots while
/// building from another.
trait CloneSnapshot {
    fn clone_snapshot(&self) -> (&Root, OwnedTerm);
}

impl CloneSnapshot for (Root, OwnedTerm) {
    fn clone_snapshot(&self) -> (&Root, OwnedTerm) {
        (&self.0, self.1.clone())
    }
}

#[test]
fn every_increment_stays_within_its_budget_and_the_cycle_ends() {
    let _serial = serial();
    const BUDGET: usize = 64;
    let area = incremental(BUDGET);
    let mut heaps: Vec<Heap> = (0..20).map(|_| area.heap(HeapOptions::default()).unwrap()).collect();
    // 2,000 live messages of 5 words ({I, [I]}), a hundred per heap, none in flight.
    for i in 0..2000 {
        heaps[i % 20].deliver_area(area.build(|h| h.tuple(&[h.int(i as i64), h.list([h.int(i as i64)])])));
    }
    let mut works = Vec::new();
    loop {
        let inc = step(&area, &mut heaps);
        works.push(inc.work);
        // The last unit may overrun: one object (3 words here) or one heap's visit (its
        // hundred queued words and the copies they make, 3 words each). The closing
        // increment visits no root: it is bounded too.
        assert!(inc.work <= BUDGET + 100 * 4, "an increment did {} units on a budget of {BUDGET}", inc.work);
        if inc.closed {
            break;
        }
        assert!(inc.work >= BUDGET, "an increment stopped early: {}", inc.work);
    }
    // 10,000 words copied and scanned and 2,000 root words: a few hundred increments.
    assert!(works.len() > 100, "{} increments", works.len());
    let live = 2000 * 5;
    assert_eq!(area.stats().old_words, live);
    for (i, heap) in heaps.iter_mut().enumerate() {
        heap.verify().unwrap();
        heap.enter(|h| {
            for j in 0..100 {
                let k = (j * 20 + i) as i64;
                assert_eq!(h.message(j).unwrap().to_string(), format!("{{{k},[{k}]}}"));
            }
        });
    }
}

#[test]
fn a_word_sent_whole_from_from_space_is_copied_by_the_barrier_on_sends() {
    let _serial = serial();
    let area = incremental(2);
    // `receiver` is scanned first (a budget of two units: the in-flight slot the first
    // message used, free now, and the first heap's visit; then stop), and
    // only then gets the sender's message: a from-space list linked whole, its word the
    // message's word; a second such message stays in flight to the end. Without the barrier
    // on sends both would be from-space words the trace never found, and the fix-up would
    // have to copy them (`late_words`).
    let mut heaps =
        vec![area.heap(HeapOptions::default()).unwrap(), area.heap(HeapOptions::default()).unwrap()];
    heaps[1].deliver_area(area.build(|h| h.list((0..10).map(|i| h.int(i)))));
    let root = heaps[1].enter(|h| {
        let m = h.take_message(0).unwrap();
        h.root(m)
    });
    let first = step(&area, &mut heaps);
    assert!(first.started && !first.closed);
    assert_eq!(first.work, 2, "one in-flight slot, and the receiver's visit (it holds no area word)");
    let message = area.build_from(&mut heaps[1], |h| h.get(&root));
    let in_flight = area.build_from(&mut heaps[1], |h| h.get(&root));
    drop(root);
    heaps[1].collect(Collect::Major).unwrap();
    heaps[0].deliver_area(message);
    let kept = heaps[0].enter(|h| {
        let m = h.take_message(0).unwrap();
        h.root(m)
    });
    while !step(&area, &mut heaps).closed {}
    assert_eq!(area.stats().late_words, 0);
    heaps[0].verify().unwrap();
    assert_eq!(reads(&mut heaps[0], &kept).to_string(), "[0,1,2,3,4,5,6,7,8,9]");
    assert_eq!(in_flight.to_owned_term().to_string(), "[0,1,2,3,4,5,6,7,8,9]");
}

#[test]
fn a_heap_made_during_a_cycle_is_traced_with_the_word_it_took_from_the_in_flight_table() {
    let _serial = serial();
    let area = incremental(1);
    let mut heaps = vec![area.heap(HeapOptions::default()).unwrap()];
    // Three messages in flight when the cycle starts; the first increment (a budget of one
    // unit) scans only the first one's slot: the slot, and its list's first cell copied.
    let mut in_flight: Vec<AreaMessage> =
        (0..3).map(|i| area.build(|h| h.list((0..5).map(|j| h.int(i * 10 + j))))).collect();
    let first = step(&area, &mut heaps);
    assert!(first.started && !first.closed);
    assert_eq!(first.work, 1 + 2);
    // A heap made now takes the last message, whose slot the scan has not reached: a
    // from-space word. Only a trace visit of this heap copies its list before the fix-up.
    heaps.push(area.heap(HeapOptions::default()).unwrap());
    heaps[1].deliver_area(in_flight.pop().unwrap());
    let kept = heaps[1].enter(|h| {
        let m = h.take_message(0).unwrap();
        h.root(m)
    });
    while !step(&area, &mut heaps).closed {}
    assert_eq!(area.stats().late_words, 0);
    assert_eq!(reads(&mut heaps[1], &kept).to_string(), "[20,21,22,23,24]");
    for (i, message) in in_flight.iter().enumerate() {
        let want: Vec<String> = (0..5).map(|j| (i * 10 + j).to_string()).collect();
        assert_eq!(message.to_owned_term().to_string(), format!("[{}]", want.join(",")));
    }
}

#[test]
fn a_stop_the_world_collection_ends_an_open_cycle_first() {
    let _serial = serial();
    let area = incremental(4);
    let sink = Arc::new(VecSink::new());
    area.set_event_sink(sink.clone());
    let mut heap = area.heap(HeapOptions::default()).unwrap();
    for i in 0..10 {
        heap.deliver_area(area.build(|h| h.from_owned(&entry(i))));
    }
    assert!(!step(&area, std::slice::from_mut(&mut heap)).closed);
    assert!(area.stats().cycle_open);
    let ev = area.collect(&mut [&mut heap], Collect::Minor).unwrap();
    assert_eq!(ev.kind, GcKind::AreaMinor);
    let kinds: Vec<GcKind> = sink.take().iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [GcKind::AreaIncrement, GcKind::AreaIncrement, GcKind::AreaMinor]);
    let stats = area.stats();
    assert_eq!((stats.cycle_open, stats.incremental_cycles, stats.old_words), (false, 1, 10 * 15));
    heap.verify().unwrap();
    heap.enter(|h| {
        for i in 0..10 {
            assert_eq!(h.message(i).unwrap().to_owned_term(), entry(i as i64));
        }
    });
}

#[test]
fn an_increment_runs_unbounded_when_the_nursery_fills_during_its_cycle() {
    let _serial = serial();
    let opts = AreaOptions {
        collector: AreaCollector::Incremental,
        increment_words: 4,
        nursery_words: 60,
        ..AreaOptions::default()
    };
    let area = MessageArea::new(opts).unwrap();
    let mut heap = area.heap(HeapOptions::default()).unwrap();
    for i in 0..4 {
        heap.deliver_area(area.build(|h| h.from_owned(&entry(i))));
    }
    assert!(area.increment_due());
    let first = step(&area, std::slice::from_mut(&mut heap));
    assert!(first.started && !first.closed && !first.unbounded);
    assert!(!area.increment_due(), "nothing allocated since");
    heap.deliver_area(area.build(|h| h.from_owned(&entry(4))));
    assert!(area.increment_due(), "15 words allocated, a quarter of the budget is 1");
    for i in 5..9 {
        heap.deliver_area(area.build(|h| h.from_owned(&entry(i))));
    }
    let last = step(&area, std::slice::from_mut(&mut heap));
    assert!(last.unbounded && last.closed);
    heap.verify().unwrap();
    heap.enter(|h| {
        for i in 0..9 {
            assert_eq!(h.message(i).unwrap().to_owned_term(), entry(i as i64));
        }
    });
}

#[test]
fn area_options_name_the_collector_and_refuse_a_zero_budget() {
    assert_eq!(AreaOptions::default().collector, AreaCollector::StopTheWorld);
    assert_eq!(AreaCollector::from_name("incremental"), Ok(AreaCollector::Incremental));
    assert_eq!(AreaCollector::from_name("stw"), Ok(AreaCollector::StopTheWorld));
    let err = AreaCollector::from_name("concurrent").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown message-area collector 'concurrent' (expected one of: stw, incremental)"
    );
    let err = MessageArea::new(AreaOptions { increment_words: 0, ..AreaOptions::default() }).unwrap_err();
    assert_eq!(err.to_string(), "message area increment_words must be at least 1 word");
}

// ---------------------------------------------------------------------------------------
// The property test.

const HEAPS: usize = 3;

#[derive(Clone, Debug)]
enum Op {
    /// Build `term` in the area; deliver it to `to` now, or keep it in flight.
    Send {
        to: usize,
        term: OwnedTerm,
        now: bool,
    },
    /// Deliver the oldest message in flight to `to`.
    DeliverPending {
        to: usize,
    },
    /// `{fwd, Root}` from a root of `from` (copied into the area), to `to`.
    Forward {
        from: usize,
        root: usize,
        to: usize,
    },
    /// The same built with `build_from`: the root's area parts linked, not copied.
    ForwardRoot {
        from: usize,
        root: usize,
        to: usize,
    },
    /// Take the oldest message of `heap` and root `{Message, Private}`.
    Receive {
        heap: usize,
        private: OwnedTerm,
    },
    /// Private garbage on `heap`.
    Garbage {
        heap: usize,
        term: OwnedTerm,
    },
    DropRoot {
        heap: usize,
        root: usize,
    },
    Private {
        heap: usize,
        how: u8,
    },
    Area {
        major: bool,
    },
    /// One increment of the incremental collector (a cycle started if none is open).
    Increment {
        major: bool,
    },
    /// The process exits: its heap is dropped and a new one takes its place.
    Exit {
        heap: usize,
    },
}

fn arb_op() -> impl Strategy<Value = Op> {
    let h = 0..HEAPS;
    prop_oneof![
        4 => (h.clone(), arb_owned(), any::<bool>()).prop_map(|(to, term, now)| Op::Send { to, term, now }),
        1 => h.clone().prop_map(|to| Op::DeliverPending { to }),
        1 => (h.clone(), 0..8usize, h.clone()).prop_map(|(from, root, to)| Op::Forward { from, root, to }),
        2 => (h.clone(), 0..8usize, h.clone()).prop_map(|(from, root, to)| Op::ForwardRoot { from, root, to }),
        4 => (h.clone(), arb_owned()).prop_map(|(heap, private)| Op::Receive { heap, private }),
        1 => (h.clone(), arb_owned()).prop_map(|(heap, term)| Op::Garbage { heap, term }),
        2 => (h.clone(), 0..8usize).prop_map(|(heap, root)| Op::DropRoot { heap, root }),
        3 => (h.clone(), 0..3u8).prop_map(|(heap, how)| Op::Private { heap, how }),
        2 => any::<bool>().prop_map(|major| Op::Area { major }),
        1 => h.prop_map(|heap| Op::Exit { heap }),
    ]
}

/// [`arb_op`] with increments of the incremental collector among the operations, most of
/// them, so that cycles stay open across sends, receives and private collections.
fn arb_incremental_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => arb_op(),
        3 => any::<bool>().prop_map(|major| Op::Increment { major }),
    ]
}

/// One process: its heap, its roots with their snapshots, and the snapshots of its queue.
struct Process {
    heap: Heap,
    roots: Vec<(Root, OwnedTerm)>,
    queue: VecDeque<OwnedTerm>,
}

impl Process {
    fn new(area: &MessageArea) -> Process {
        Process { heap: area.heap(small()).unwrap(), roots: Vec::new(), queue: VecDeque::new() }
    }

    fn check(&mut self) -> Result<(), TestCaseError> {
        self.heap.verify().map_err(|e| TestCaseError::fail(format!("verifier: {e}")))?;
        let (roots, queue) = (&self.roots, &self.queue);
        self.heap.enter(|h| {
            for (root, snap) in roots {
                prop_assert_eq!(&h.get(root).to_owned_term(), snap);
            }
            prop_assert_eq!(h.message_count(), queue.len());
            for (i, snap) in queue.iter().enumerate() {
                prop_assert_eq!(&h.message(i).unwrap().to_owned_term(), snap);
            }
            Ok(())
        })
    }
}

fn check_all(area: &MessageArea, procs: &mut [Process]) -> Result<(), TestCaseError> {
    area.verify().map_err(|e| TestCaseError::fail(format!("area verifier: {e}")))?;
    for p in procs {
        p.check()?;
    }
    Ok(())
}

fn run(ops: &[Op], opts: AreaOptions) -> Result<(), TestCaseError> {
    let area = MessageArea::new(opts).unwrap();
    let mut procs: Vec<Process> = (0..HEAPS).map(|_| Process::new(&area)).collect();
    let mut pending: VecDeque<(AreaMessage, OwnedTerm)> = VecDeque::new();
    for op in ops {
        match op {
            Op::Send { to, term, now } => {
                let message = area.build(|h| h.from_owned(term));
                if *now {
                    procs[*to].heap.deliver_area(message);
                    procs[*to].queue.push_back(term.clone());
                } else {
                    pending.push_back((message, term.clone()));
                }
            }
            Op::DeliverPending { to } => {
                if let Some((message, term)) = pending.pop_front() {
                    procs[*to].heap.deliver_area(message);
                    procs[*to].queue.push_back(term);
                }
            }
            Op::Forward { from, root, to } => {
                let p = &mut procs[*from];
                if p.roots.is_empty() {
                    continue;
                }
                let (root, snap) = &p.roots[root % p.roots.len()];
                let message = p.heap.enter(|ph| {
                    let t = ph.get(root);
                    area.build(|h| {
                        let copy = h.copy(t);
                        h.tuple(&[h.atom_named("fwd"), copy])
                    })
                });
                let snap = OwnedTerm::tuple(vec![OwnedTerm::atom("fwd"), snap.clone()]);
                procs[*to].heap.deliver_area(message);
                procs[*to].queue.push_back(snap);
            }
            Op::ForwardRoot { from, root, to } => {
                let p = &mut procs[*from];
                if p.roots.is_empty() {
                    continue;
                }
                let (root, snap) = &p.roots[root % p.roots.len()];
                let message = area.build_from(&mut p.heap, |h| h.tuple(&[h.atom_named("fwd"), h.get(root)]));
                let snap = OwnedTerm::tuple(vec![OwnedTerm::atom("fwd"), snap.clone()]);
                procs[*to].heap.deliver_area(message);
                procs[*to].queue.push_back(snap);
            }
            Op::Receive { heap, private } => {
                let p = &mut procs[*heap];
                let Some(message) = p.queue.pop_front() else { continue };
                let root = p.heap.enter(|h| {
                    let m = h.take_message(0).unwrap();
                    let private = h.from_owned(private);
                    h.root(h.tuple(&[m, private]))
                });
                p.roots.push((root, OwnedTerm::tuple(vec![message, private.clone()])));
            }
            Op::Garbage { heap, term } => {
                procs[*heap].heap.enter(|h| {
                    h.from_owned(term);
                });
            }
            Op::DropRoot { heap, root } => {
                let p = &mut procs[*heap];
                if !p.roots.is_empty() {
                    let i = root % p.roots.len();
                    p.roots.swap_remove(i);
                }
            }
            Op::Private { heap, how } => {
                let how = [Collect::Minor, Collect::Major, Collect::Auto][*how as usize];
                procs[*heap].heap.collect(how).unwrap();
                check_all(&area, &mut procs)?;
            }
            Op::Area { major } => {
                let how = if *major { Collect::Major } else { Collect::Minor };
                let mut heaps: Vec<&mut Heap> = procs.iter_mut().map(|p| &mut p.heap).collect();
                area.collect(&mut heaps, how).unwrap();
                check_all(&area, &mut procs)?;
                for (message, snap) in &pending {
                    prop_assert_eq!(&message.to_owned_term(), snap);
                }
            }
            Op::Increment { major } => {
                let how = if *major { Collect::Major } else { Collect::Auto };
                let mut heaps: Vec<&mut Heap> = procs.iter_mut().map(|p| &mut p.heap).collect();
                let step = area.collect_increment(&mut heaps, how).unwrap();
                prop_assert_eq!(step.event.kind, GcKind::AreaIncrement);
                check_all(&area, &mut procs)?;
                for (message, snap) in &pending {
                    prop_assert_eq!(&message.to_owned_term(), snap);
                }
                prop_assert_eq!(area.stats().late_words, 0);
            }
            Op::Exit { heap } => {
                procs[*heap] = Process::new(&area);
                prop_assert_eq!(area.stats().heaps, HEAPS);
            }
        }
    }
    check_all(&area, &mut procs)?;
    // Every process exits and nothing is in flight: a major collection of the area with no
    // heap at all leaves it empty.
    drop(procs);
    drop(pending);
    let ev = area.collect(&mut [], Collect::Major).unwrap();
    prop_assert_eq!(ev.words_after, 0);
    prop_assert_eq!(area.stats().used_words(), 0);
    Ok(())
}

proptest! {
    #![proptest_config(config(48))]

    /// Random sends, forwards, receives, exits and collections on three heaps of one area.
    #[test]
    fn random_hybrid_runs_keep_every_term_and_free_every_binary(ops in vec(arb_op(), 1..60)) {
        let _serial = serial();
        let before = live_binaries();
        run(&ops, AreaOptions::default())?;
        prop_assert_eq!(live_binaries(), before);
    }

    /// The same with increments of the incremental collector (a budget of 8 words, so that
    /// a cycle takes many) among them: every term stays equal to its snapshot and both
    /// spaces pass the verifier after every increment, no from-space object is found only
    /// by the fix-up, and every binary is freed.
    #[test]
    fn random_incremental_runs_keep_every_term_and_free_every_binary(ops in vec(arb_incremental_op(), 1..80)) {
        let _serial = serial();
        let before = live_binaries();
        let opts = AreaOptions { collector: AreaCollector::Incremental, increment_words: 8, ..AreaOptions::default() };
        run(&ops, opts)?;
        prop_assert_eq!(live_binaries(), before);
    }
}
