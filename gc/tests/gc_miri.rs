//! A small tour of every path of the collectors' unsafe code, sized for Miri (run in CI with
//! `cargo +nightly miri test -p heaplab-gc --test gc_miri`, Tree Borrows): per-process minor
//! and major collections, promotion, growth and shrinking, the old generation's binary
//! budget, heap and refc binaries, sub-binaries, fragments, copies between heaps, message
//! delivery, dropping a heap, the shared heap collected by one and by two workers with
//! messages in flight, and the hybrid heap's message area collected incrementally (copies,
//! the forwarding table, the barrier on sends, the fix-up visits, binary handles). Natively it is one more quick test of the same paths; every step is
//! checked by deep comparison and the verifier.

use std::sync::{Arc, Barrier};
use std::thread;

use heaplab_gc::hybrid::{AreaCollector, AreaOptions, MessageArea};
use heaplab_gc::shared::{SharedHeap, SharedOptions};
use heaplab_gc::{live_binaries, Binary, Collect, Fragment, GcKind, Heap, OwnedTerm, Root};

/// `{I, <<I x 8>>, <<I x 100>>, [I, I+1]}`: a tuple, a heap binary, a refc binary, a list.
fn entry(i: i64) -> OwnedTerm {
    OwnedTerm::tuple(vec![
        i.into(),
        OwnedTerm::Binary(vec![i as u8; 8]),
        OwnedTerm::Binary(vec![i as u8; 100]),
        OwnedTerm::list(vec![i.into(), (i + 1).into()]),
    ])
}

fn entries(range: std::ops::Range<i64>) -> OwnedTerm {
    OwnedTerm::list(range.map(entry).collect())
}

fn reads_back(heap: &mut Heap, root: &Root, expected: &OwnedTerm) {
    heap.verify().unwrap();
    let now = heap.enter(|h| h.get(root).to_owned_term());
    assert_eq!(&now, expected);
}

/// The tests read the program-wide binary counter: one at a time.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn per_process_collections_promotion_growth_and_binaries() {
    let _serial = serial();
    let before = live_binaries();
    {
        let mut heap = Heap::default();
        let first = entries(0..20);
        let root = heap.enter(|h| h.root(h.from_owned(&first)));
        // First collection: a fullsweep (nothing mature yet).
        assert_eq!(heap.collect(Collect::Minor).unwrap().event.kind, GcKind::Major);
        reads_back(&mut heap, &root, &first);
        // 800 KB of binaries pass the vheap budget: a minor collection (the old generation
        // is created for the mature list), then another promotes them.
        let big = heap.enter(|h| h.root(h.list((0..4u8).map(|k| h.binary(&vec![k; 200_000])))));
        let big_expected = OwnedTerm::list((0..4u8).map(|k| OwnedTerm::Binary(vec![k; 200_000])).collect());
        assert!(heap.needs_gc());
        assert_eq!(heap.collect(Collect::Auto).unwrap().event.kind, GcKind::Minor);
        assert_eq!(heap.collect(Collect::Minor).unwrap().event.words_promoted, 4 * 3 + 8);
        reads_back(&mut heap, &big, &big_expected);
        // Dropped in the old generation: its binary budget forces the fullsweep that frees
        // them.
        assert!(heap.stats().vheap_old >= heap.stats().old_vheap_limit);
        drop(big);
        heap.enter(|h| {
            for i in 0..40 {
                h.tuple(&[h.int(i), h.int(i)]);
            }
        });
        let ev = heap.collect(Collect::Auto).unwrap().event;
        assert_eq!(
            (ev.kind, ev.reason, ev.binaries_freed),
            (GcKind::Major, heaplab_gc::GcReason::OldVheapFull, 4)
        );
        reads_back(&mut heap, &root, &first);
        // Young data beside the mature data, a sub-binary of a refc binary, garbage.
        let (second, sub) = heap.enter(|h| {
            let bin = h.binary(&[9; 200]);
            let sub = h.sub_binary(bin, 10, 50).unwrap();
            for i in 0..50 {
                h.tuple(&[h.int(i)]);
            }
            (h.root(h.from_owned(&entries(20..40))), h.root(sub))
        });
        let second_expected = entries(20..40);
        // Minor: the first list is promoted, the second copied.
        let ev = heap.collect(Collect::Minor).unwrap().event;
        assert_eq!(ev.kind, GcKind::Minor);
        assert!(ev.words_promoted > 0);
        reads_back(&mut heap, &root, &first);
        reads_back(&mut heap, &second, &second_expected);
        reads_back(&mut heap, &sub, &OwnedTerm::Binary(vec![9; 50]));
        // Growth: allocation overflows into fragments; a collection takes it all.
        let grown = heap.enter(|h| h.root(h.from_owned(&entries(0..150))));
        assert!(heap.stats().fragment_words > 0);
        heap.collect(Collect::Auto).unwrap();
        reads_back(&mut heap, &grown, &entries(0..150));
        reads_back(&mut heap, &sub, &OwnedTerm::Binary(vec![9; 50]));
        // A major collection of mostly garbage shrinks the young heap.
        heap.collect(Collect::Major).unwrap();
        drop((second, grown));
        let young = heap.stats().young_capacity;
        heap.collect(Collect::Major).unwrap();
        assert!(heap.stats().young_capacity < young);
        reads_back(&mut heap, &root, &first);
    }
    assert_eq!(live_binaries(), before);
}

#[test]
fn fragments_copies_and_delivery_between_heaps() {
    let _serial = serial();
    let before = live_binaries();
    {
        let shared_bytes = Binary::from_bytes(&[5; 300]);
        let mut a = Heap::default();
        let mut b = Heap::default();
        // A DAG on heap a: [L, L] where L holds the shared binary.
        let dag = a.enter(|h| {
            let l = h.list([h.int(1), h.refc_binary(&shared_bytes), h.binary(&[1, 2, 3])]);
            h.root(h.list([l, l]))
        });
        let l = OwnedTerm::list(vec![
            1.into(),
            OwnedTerm::Binary(vec![5; 300]),
            OwnedTerm::Binary(vec![1, 2, 3]),
        ]);
        let expected = OwnedTerm::list(vec![l.clone(), l]);
        // Copy into b (flat and sharing-preserving), send as a fragment, deliver.
        let (flat, shared_copy) = a.enter(|h| {
            let t = h.get(&dag);
            (h.to_fragment(t), h.to_fragment_shared(t))
        });
        assert!(flat.words() > shared_copy.words());
        b.deliver(flat);
        b.deliver(shared_copy);
        let built = Fragment::build(|h| h.tuple(&[h.atom_named("ping"), h.int(7)]));
        b.deliver(built);
        b.collect(Collect::Major).unwrap();
        b.verify().unwrap();
        let got = b.enter(|h| (0..3).map(|_| h.take_message(0).unwrap().to_owned_term()).collect::<Vec<_>>());
        assert_eq!(got[0], expected);
        assert_eq!(got[1], expected);
        assert_eq!(got[2].to_string(), "{ping,7}");
        // Copies of rooted terms across heaps, inside both brands.
        let copied = a.enter(|ha| b.enter(|hb| hb.root(hb.copy(ha.get(&dag)))));
        b.collect(Collect::Major).unwrap();
        reads_back(&mut b, &copied, &expected);
        assert_eq!(shared_bytes.refcount(), 1 + 2 + 1, "one handle in a, one per copy in b");
        // Dropping a heap releases its handles without visiting its objects.
        drop(a);
        drop(b);
        assert_eq!(shared_bytes.refcount(), 1);
    }
    assert_eq!(live_binaries(), before);
}

fn shared_heap(workers: usize) -> SharedHeap {
    let opts = SharedOptions {
        nursery_words_per_worker: 256,
        tlab_words: 64,
        min_old_words: 1024,
        ..Default::default()
    };
    let heap = SharedHeap::new(opts, workers).unwrap();
    heap.set_verify(true);
    heap
}

#[test]
fn shared_heap_with_one_worker() {
    let _serial = serial();
    let before = live_binaries();
    {
        let heap = shared_heap(1);
        let mut tlab = heap.tlab();
        let (mut a, mut b) = (heap.mutator(), heap.mutator());
        let kept = a.enter(&mut tlab, |h| h.root(h.from_owned(&entries(0..10))));
        let message = a.send(&mut tlab, |h| h.from_owned(&entries(10..15)));
        // Garbage past the nursery: minor collections, then a requested major one, with
        // the message in flight.
        for round in 0..4 {
            a.enter(&mut tlab, |h| {
                for i in 0..40 {
                    h.tuple(&[h.int(i), h.int(round)]);
                }
            });
            heap.safepoint(&mut tlab);
        }
        heap.request_major();
        assert!(heap.safepoint(&mut tlab).is_some());
        b.deliver(&mut tlab, message);
        heap.request_minor();
        heap.safepoint(&mut tlab);
        let got = b.enter(&mut tlab, |h| h.take_message(0).unwrap().to_owned_term());
        assert_eq!(got, entries(10..15));
        let now = a.enter(&mut tlab, |h| h.get(&kept).to_owned_term());
        assert_eq!(now, entries(0..10));
        heap.verify(&mut tlab).unwrap();
        let stats = heap.stats();
        assert!(stats.minor_collections > 0 && stats.major_collections > 0, "{stats:?}");
    }
    assert_eq!(live_binaries(), before);
}

#[test]
fn shared_heap_with_two_workers_collecting_in_parallel() {
    let _serial = serial();
    let before = live_binaries();
    {
        let heap = shared_heap(2);
        let start = Arc::new(Barrier::new(2));
        let workers: Vec<_> = (0..2i64)
            .map(|w| {
                let heap = heap.clone();
                let start = Arc::clone(&start);
                thread::spawn(move || {
                    let mut tlab = heap.tlab();
                    let mut m = heap.mutator();
                    start.wait();
                    let kept = m.enter(&mut tlab, |h| h.root(h.from_owned(&entries(w * 10..w * 10 + 6))));
                    for round in 0..6 {
                        let message = m.send(&mut tlab, |h| h.list([h.int(w), h.int(round)]));
                        m.enter(&mut tlab, |h| {
                            for i in 0..30 {
                                h.cons(h.int(i), h.nil());
                            }
                        });
                        if round == 3 {
                            heap.request_major();
                        }
                        heap.safepoint(&mut tlab);
                        m.deliver(&mut tlab, message);
                        let got = m.enter(&mut tlab, |h| h.take_message(0).unwrap().to_owned_term());
                        assert_eq!(got, OwnedTerm::list(vec![w.into(), round.into()]));
                    }
                    let now = m.enter(&mut tlab, |h| h.get(&kept).to_owned_term());
                    assert_eq!(now, entries(w * 10..w * 10 + 6));
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        let stats = heap.stats();
        assert!(stats.major_collections > 0, "{stats:?}");
    }
    assert_eq!(live_binaries(), before);
}

#[test]
fn message_area_collected_incrementally_with_processes_running_between_increments() {
    let _serial = serial();
    let before = live_binaries();
    {
        let opts = AreaOptions {
            collector: AreaCollector::Incremental,
            increment_words: 40,
            ..AreaOptions::default()
        };
        let area = MessageArea::new(opts).unwrap();
        let mut heaps: Vec<Heap> =
            (0..2).map(|_| area.heap(heaplab_gc::HeapOptions::default()).unwrap()).collect();
        let mut kept = Vec::new();
        for i in 0..4 {
            heaps[(i % 2) as usize].deliver_area(area.build(|h| h.from_owned(&entry(i))));
        }
        for (i, heap) in heaps.iter_mut().enumerate() {
            let root = heap.enter(|h| {
                let m = h.take_message(0).unwrap();
                h.root(h.tuple(&[m, h.int(i as i64)]))
            });
            kept.push(root);
        }
        let mut round = 0;
        loop {
            let mut refs: Vec<&mut Heap> = heaps.iter_mut().collect();
            let step = area.collect_increment(&mut refs, Collect::Auto).unwrap();
            assert_eq!(step.event.kind, GcKind::AreaIncrement);
            if step.closed {
                break;
            }
            // Between increments: a received term sent on whole (the barrier on sends), a
            // private collection, a new message.
            let message = area.build_from(&mut heaps[round % 2], |h| h.get(&kept[round % 2]));
            heaps[(round + 1) % 2].deliver_area(message);
            heaps[round % 2].collect(Collect::Major).unwrap();
            heaps[round % 2].deliver_area(area.build(|h| h.from_owned(&entry(10 + round as i64))));
            round += 1;
            assert!(round < 100, "the cycle never closed");
        }
        assert_eq!(area.stats().late_words, 0);
        for (i, heap) in heaps.iter_mut().enumerate() {
            let expected = OwnedTerm::tuple(vec![entry(i as i64), (i as i64).into()]);
            reads_back(heap, &kept[i], &expected);
            // The second message each heap got before the cycle is still first in its queue.
            heap.enter(|h| assert_eq!(h.message(0).unwrap().to_owned_term(), entry(i as i64 + 2)));
        }
        drop(kept);
        drop(heaps);
        area.collect(&mut [], Collect::Major).unwrap();
        assert_eq!(area.stats().used_words(), 0);
    }
    assert_eq!(live_binaries(), before);
}
