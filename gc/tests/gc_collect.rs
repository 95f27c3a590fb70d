//! Collection behaviour: promotion, fullsweep scheduling, `max_heap_size`, the binary
//! virtual heap, growth and shrinking along the BEAM's size table, collection events, the
//! old generation running full, overflow into fragments, and roots.

mod common;

use std::sync::Arc;

use common::{check, collect, int_list, root_owned, Rooted};
use heaplab_gc::{
    heap_size_table, next_heap_size, next_vheap_size, step_above, Collect, GcKind, GcReason, Heap, HeapError,
    HeapOptions, OwnedTerm, Pid, VecSink, DEFAULT_MIN_HEAP_SIZE,
};

fn heap_with_sink(opts: HeapOptions) -> (Heap, Arc<VecSink>) {
    let mut heap = Heap::new(opts).unwrap();
    let sink = Arc::new(VecSink::new());
    heap.set_event_sink(sink.clone());
    (heap, sink)
}

#[test]
fn survivors_of_two_minor_collections_are_promoted() {
    let mut heap = Heap::default();
    let first = root_owned(&mut heap, &int_list(50, 0)); // 100 words
    assert_eq!(heap.stats().young_used, 100);
    assert_eq!(heap.stats().mature, 0);

    // First collection: nothing is mature and there is no old generation, so even a minor
    // request becomes a fullsweep (erl_gc.c `minor_collection` returns -1 without an old
    // heap). The list is copied within the young generation and becomes mature.
    let ev = collect(&mut heap, Collect::Minor);
    assert_eq!(
        (ev.kind, ev.reason, ev.words_copied, ev.words_promoted),
        (GcKind::Major, GcReason::Requested, 100, 0)
    );
    let s = heap.stats();
    assert_eq!((s.young_used, s.mature, s.old_used, s.old_capacity), (100, 100, 0, 0));

    // A second list allocated now is young, above the high-water mark.
    let second = root_owned(&mut heap, &int_list(30, 1000)); // 60 words
    assert_eq!(heap.stats().mature, 100);

    // First minor collection: the mature list moves to the old generation, created one
    // growth step above the 160 words of young data; the young list stays young (and
    // becomes mature).
    let ev = collect(&mut heap, Collect::Minor);
    assert_eq!((ev.kind, ev.words_copied, ev.words_promoted), (GcKind::Minor, 160, 100));
    let s = heap.stats();
    assert_eq!((s.old_used, s.young_used, s.mature), (100, 60, 60));
    assert_eq!(s.old_capacity, heaplab_gc::heap_size_table()[6], "old heap one step above 233 words");
    assert_eq!(s.old_capacity, 376);

    // Third: the second list follows; the first stays where it is (not copied again).
    let ev = collect(&mut heap, Collect::Minor);
    assert_eq!((ev.words_copied, ev.words_promoted), (60, 60));
    let s = heap.stats();
    assert_eq!((s.old_used, s.young_used, s.mature), (160, 0, 0));
    let roots = [first, second];
    check(&mut heap, &roots);

    // A major collection brings everything back into one young block.
    let ev = collect(&mut heap, Collect::Major);
    assert_eq!((ev.kind, ev.reason, ev.words_copied), (GcKind::Major, GcReason::Requested, 160));
    let s = heap.stats();
    assert_eq!((s.old_used, s.old_capacity, s.young_used), (0, 0, 160));
}

#[test]
fn garbage_is_not_copied_or_promoted() {
    let mut heap = Heap::default();
    let kept = root_owned(&mut heap, &int_list(10, 0));
    heap.enter(|h| {
        for i in 0..50 {
            h.tuple(&[h.int(i), h.int(i)]);
        }
    });
    let ev = collect(&mut heap, Collect::Minor);
    assert_eq!(ev.words_copied, 20);
    assert_eq!(ev.words_before, 20 + 150);
    assert_eq!(ev.words_after, 20);
    let ev = collect(&mut heap, Collect::Minor);
    assert_eq!(ev.words_promoted, 20);
    check(&mut heap, &[kept]);
}

/// With `fullsweep_after = n`, collections 1, n+2, 2n+3, ... are major and all others minor:
/// the first because nothing is mature yet (erl_gc.c), then every n+1st.
fn fullsweep_pattern(n: u32) {
    let (mut heap, sink) = heap_with_sink(HeapOptions { fullsweep_after: n, ..Default::default() });
    let kept = root_owned(&mut heap, &int_list(20, 0));
    let rounds = 4 * (n as usize + 1);
    for i in 0..rounds {
        heap.enter(|h| {
            for j in 0..100 {
                h.cons(h.int(j), h.nil());
            }
        });
        collect(&mut heap, Collect::Auto);
        assert_eq!(heap.stats().minor_since_major as usize, i % (n as usize + 1));
    }
    let events = sink.take();
    assert_eq!(events.len(), rounds);
    for (i, ev) in events.iter().enumerate() {
        if i == 0 && n > 0 {
            assert_eq!((ev.kind, ev.reason), (GcKind::Major, GcReason::HeapFull), "collection 1");
        } else if i % (n as usize + 1) == 0 {
            assert_eq!(
                (ev.kind, ev.reason),
                (GcKind::Major, GcReason::FullsweepAfter),
                "collection {}",
                i + 1
            );
        } else {
            assert_eq!((ev.kind, ev.reason), (GcKind::Minor, GcReason::HeapFull), "collection {}", i + 1);
        }
    }
    let s = heap.stats();
    let majors = rounds.div_ceil(n as usize + 1);
    assert_eq!(s.major_collections as usize, majors);
    assert_eq!(s.minor_collections as usize, rounds - majors);
    check(&mut heap, &[kept]);
}

#[test]
fn fullsweep_after_makes_every_n_plus_first_collection_major() {
    for n in [0, 1, 2, 5] {
        fullsweep_pattern(n);
    }
}

#[test]
fn set_fullsweep_after_takes_effect_at_the_next_collection() {
    let (mut heap, sink) = heap_with_sink(HeapOptions::default());
    let kept = root_owned(&mut heap, &int_list(5, 0));
    for _ in 0..3 {
        collect(&mut heap, Collect::Minor);
    }
    // Three minor collections already ran: with fullsweep_after = 2 the next one is major.
    heap.set_fullsweep_after(2);
    let ev = collect(&mut heap, Collect::Minor);
    assert_eq!((ev.kind, ev.reason), (GcKind::Major, GcReason::FullsweepAfter));
    assert_eq!(sink.len(), 4);
    check(&mut heap, &[kept]);
}

/// erl_gc.c checks `max_heap_size` before a collection, counting the to-space it is about
/// to allocate (`major_collection`): a collection that would pass the limit does not run.
#[test]
fn max_heap_size_is_checked_before_collecting_counting_the_to_space() {
    let limit = 20_000;
    let opts = HeapOptions { max_heap_size: Some(limit), ..Default::default() };
    let (mut heap, sink) = heap_with_sink(opts);
    let big = root_owned(&mut heap, &int_list(5000, 0)); // 10,000 words
    heap.verify().unwrap();
    let before = heap.stats();
    // Young data + unused young space + to-space for all of it: 10,000 + 233 + 10,000 and
    // more, over the limit although the live data alone is half of it.
    let young_data = before.young_used + before.fragment_words;
    let expected = young_data + (before.young_capacity - before.young_used) + next_heap_size(young_data);
    assert!(young_data < limit && expected > limit);
    let err = heap.collect(Collect::Major).unwrap_err();
    assert_eq!(err, HeapError::MaxHeapSize { limit, size: expected });
    assert!(err.to_string().contains("max_heap_size 20000 words"), "{err}");
    // Nothing ran: no event, the heap exactly as it was.
    assert_eq!(sink.len(), 0);
    assert_eq!(heap.stats(), before);
    let roots = [big];
    check(&mut heap, &roots);
    // A minor request (no old generation, nothing mature: a fullsweep) fails the same way.
    let err = heap.collect(Collect::Minor).unwrap_err();
    assert_eq!(err, HeapError::MaxHeapSize { limit, size: expected });
    assert_eq!(heap.stats(), before);
    // With room for the to-space, the same heap collects.
    heap.set_max_heap_size(Some(expected)).unwrap();
    collect(&mut heap, Collect::Major);
    check(&mut heap, &roots);
}

/// A minor collection's check counts the old generation it would create (one growth step
/// above the young data) or the one that exists (erl_gc.c `minor_collection`).
#[test]
fn a_minor_collection_counts_the_old_generation_against_max_heap_size() {
    let mut heap = Heap::default();
    let kept = root_owned(&mut heap, &int_list(1000, 0)); // 2,000 words
    collect(&mut heap, Collect::Major); // now mature, no old generation
    let s = heap.stats();
    assert_eq!((s.mature, s.old_capacity), (2000, 0));
    let young_data = s.young_used;
    let expected =
        young_data + (s.young_capacity - s.young_used) + step_above(young_data) + next_heap_size(young_data);
    heap.set_max_heap_size(Some(expected - 1)).unwrap();
    assert_eq!(
        heap.collect(Collect::Minor).unwrap_err(),
        HeapError::MaxHeapSize { limit: expected - 1, size: expected }
    );
    heap.set_max_heap_size(Some(expected)).unwrap();
    let ev = collect(&mut heap, Collect::Minor);
    assert_eq!((ev.kind, ev.words_promoted), (GcKind::Minor, 2000));
    check(&mut heap, &[kept]);
}

#[test]
fn a_heap_under_its_max_collects_fine() {
    let opts = HeapOptions { max_heap_size: Some(100_000), ..Default::default() };
    let mut heap = Heap::new(opts).unwrap();
    let kept = root_owned(&mut heap, &int_list(1000, 0));
    for how in [Collect::Minor, Collect::Minor, Collect::Major, Collect::Auto] {
        heap.verify().unwrap();
        heap.collect(how).unwrap();
        heap.verify().unwrap();
    }
    let s = heap.stats();
    assert!(s.young_capacity + s.old_capacity <= 100_000);
    let roots = [kept];
    check(&mut heap, &roots);
    // Lowering the limit below the heap's size makes the next collection fail...
    heap.set_max_heap_size(Some(500)).unwrap();
    assert!(heap.collect(Collect::Major).is_err());
    // ...and raising it again (or removing it) makes it succeed.
    heap.set_max_heap_size(None).unwrap();
    heap.collect(Collect::Major).unwrap();
    check(&mut heap, &roots);
    assert!(heap.set_max_heap_size(Some(100)).is_err(), "below min_heap_size");
}

#[test]
fn off_heap_binaries_past_the_vheap_budget_trigger_a_collection() {
    let (mut heap, sink) = heap_with_sink(HeapOptions::default());
    let budget = heap.stats().vheap_limit;
    assert_eq!(budget, 46422);
    // Some mature data first, so that the collection below can be a minor one.
    let base = root_owned(&mut heap, &int_list(10, 0));
    collect(&mut heap, Collect::Major);
    sink.take();
    // Four 100 kB binaries: 50,000 words of off-heap data, 12 words of handles on the heap.
    let blob = |k: u8| vec![k; 100_000];
    let kept: Vec<Rooted> = (0..4).map(|k| root_owned(&mut heap, &OwnedTerm::Binary(blob(k)))).collect();
    // Two more that nobody keeps.
    heap.enter(|h| {
        h.binary(&blob(10));
        h.binary(&blob(11));
    });
    let s = heap.stats();
    assert_eq!(s.vheap_young, 6 * 12_500);
    assert_eq!(s.young_used, 20 + 6 * 3, "only the handles are on the heap");
    assert!(s.young_used + s.fragment_words < s.young_capacity, "the young heap is not full");
    assert!(heap.needs_gc(), "vheap over budget must ask for a collection");

    let out = heap.collect_if_needed().unwrap().expect("a collection ran");
    let ev = out.event;
    assert_eq!((ev.kind, ev.reason), (GcKind::Minor, GcReason::VheapFull));
    assert_eq!(ev.binaries_freed, 2);
    assert_eq!(sink.len(), 1);
    heap.verify().unwrap();
    let s = heap.stats();
    assert_eq!((s.vheap_young, s.mso_len), (4 * 12_500, 4));
    // The budget grew by the golden ratio past the live binary data (erl_gc.c
    // `next_vheap_size`: 50,000 is over 3/4 of 46,422, not of 46,422 x 1.618 = 75,110) ...
    assert_eq!(s.vheap_limit, 75_110);
    assert_eq!(s.vheap_limit, next_vheap_size(50_000, 46_422, 46_422));
    assert!(!heap.needs_gc());
    let mut kept = kept;
    kept.push(base);
    check(&mut heap, &kept);

    // ... and halves once the binaries are gone, not below min_bin_vheap_size.
    kept.truncate(0);
    let ev = collect(&mut heap, Collect::Major);
    assert_eq!(ev.binaries_freed, 4);
    let s = heap.stats();
    assert_eq!(s.vheap_young, 0);
    assert_eq!(s.vheap_limit, 46422, "75,110 / 2 is below the minimum");
    for _ in 0..20 {
        collect(&mut heap, Collect::Major);
    }
    assert_eq!(heap.stats().vheap_limit, 46422);
}

#[test]
fn next_vheap_size_follows_erl_gc() {
    let min = 46_422;
    // Between a quarter and three quarters used: unchanged.
    assert_eq!(next_vheap_size(20_000, 46_422, min), 46_422);
    // Over three quarters: grow by 1.618 until three quarters hold it.
    assert_eq!(next_vheap_size(40_000, 46_422, min), 75_110);
    assert_eq!(next_vheap_size(1_000_000, 46_422, min), {
        let mut size = 46_422usize;
        while 1_000_000 / 3 > size / 4 {
            size = (size as f64 * 1.618) as usize;
        }
        size
    });
    // Under a quarter: halve, never below the minimum.
    assert_eq!(next_vheap_size(1_000, 200_000, min), 100_000);
    assert_eq!(next_vheap_size(1_000, 80_000, min), min);
}

/// Dead binaries in the old generation are freed by the fullsweep their budget triggers
/// (erl_gc.c: a minor collection runs only while `bin_old_vheap < bin_old_vheap_sz`), not
/// kept referenced for as long as minor collections go on.
#[test]
fn dead_promoted_binaries_are_freed_by_the_fullsweep_their_budget_triggers() {
    let _serial = common::serial();
    let before = heaplab_gc::live_binaries();
    let (mut heap, sink) = heap_with_sink(HeapOptions::default());
    let base = root_owned(&mut heap, &int_list(10, 0));
    collect(&mut heap, Collect::Major);
    // 200 binaries of 1 MB, kept across two minor collections: promoted to the old
    // generation.
    let kept: Vec<Rooted> =
        (0..200u8).map(|k| root_owned(&mut heap, &OwnedTerm::Binary(vec![k; 1 << 20]))).collect();
    assert_eq!(heaplab_gc::live_binaries() - before, 200);
    for _ in 0..2 {
        assert_eq!(collect(&mut heap, Collect::Minor).kind, GcKind::Minor);
    }
    let s = heap.stats();
    assert_eq!(s.vheap_old, 200 * (1 << 17), "all 200 promoted");
    assert!(s.vheap_old >= s.old_vheap_limit);
    let mut all = kept;
    all.push(base);
    check(&mut heap, &all);
    // Dropped: the next collection the young heap asks for is a fullsweep that frees them.
    all.truncate(200);
    all.drain(..);
    sink.take();
    while !heap.needs_gc() {
        heap.enter(|h| {
            h.tuple(&[h.int(1), h.int(2)]);
        });
    }
    let ev = collect(&mut heap, Collect::Auto);
    assert_eq!((ev.kind, ev.reason, ev.binaries_freed), (GcKind::Major, GcReason::OldVheapFull, 200));
    assert_eq!(heaplab_gc::live_binaries(), before);
    let s = heap.stats();
    assert_eq!((s.vheap_old, s.vheap_young), (0, 0));
    heap.verify().unwrap();
}

#[test]
fn a_small_vheap_budget_is_honoured() {
    let opts = HeapOptions { min_bin_vheap_size: 100, ..Default::default() };
    let mut heap = Heap::new(opts).unwrap();
    let kept = root_owned(&mut heap, &OwnedTerm::Binary(vec![1; 800])); // exactly 100 words: not over
    assert!(!heap.needs_gc());
    heap.enter(|h| {
        h.binary(&[2; 65]); // one word more
    });
    assert!(heap.needs_gc());
    let ev = collect(&mut heap, Collect::Auto);
    assert_eq!((ev.reason, ev.binaries_freed), (GcReason::VheapFull, 1));
    check(&mut heap, &[kept]);
}

#[test]
fn the_young_heap_grows_along_the_beam_size_table() {
    let mut heap = Heap::default();
    assert_eq!(heap.stats().young_capacity, DEFAULT_MIN_HEAP_SIZE);
    let table = heap_size_table();
    let mut roots = Vec::new();
    let mut seen = vec![heap.stats().young_capacity];
    for i in 0..60 {
        roots.push(root_owned(&mut heap, &int_list(500, i * 500)));
        if heap.needs_gc() {
            collect(&mut heap, Collect::Auto);
        }
        let s = heap.stats();
        assert!(table.contains(&s.young_capacity), "young capacity {} not in the table", s.young_capacity);
        assert!(s.old_capacity == 0 || table.contains(&s.old_capacity));
        seen.push(s.young_capacity);
    }
    // 60,000 live words: the heap went through several table sizes, never shrinking while
    // the live data only grew.
    let mut sizes = seen.clone();
    sizes.dedup();
    assert!(sizes.len() >= 4, "sizes seen: {sizes:?}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert!(heap.stats().minor_collections > 0 && heap.stats().major_collections > 0);
    let ev = collect(&mut heap, Collect::Major);
    assert_eq!(ev.words_after, 60_000);
    let s = heap.stats();
    assert!(s.young_capacity >= 60_000 && s.young_capacity == next_heap_size(s.young_capacity));
    check(&mut heap, &roots);
}

#[test]
fn a_major_collection_of_mostly_garbage_shrinks_the_young_heap_but_not_below_min() {
    for min in [DEFAULT_MIN_HEAP_SIZE, 1000] {
        let opts = HeapOptions { min_heap_size: min, ..Default::default() };
        let mut heap = Heap::new(opts).unwrap();
        let floor = next_heap_size(min);
        assert_eq!(heap.stats().young_capacity, floor);
        let mut roots: Vec<Rooted> =
            (0..100).map(|i| root_owned(&mut heap, &int_list(500, i * 500))).collect();
        collect(&mut heap, Collect::Major);
        let big = heap.stats().young_capacity;
        assert!(big >= 100_000, "{big}");
        // Keep 1% of the data.
        roots.truncate(1);
        let ev = collect(&mut heap, Collect::Major);
        assert_eq!(ev.words_after, 1000);
        let s = heap.stats();
        assert!(s.young_capacity < big);
        assert_eq!(s.young_capacity, next_heap_size(2000).max(floor), "shrunk to twice the live data");
        check(&mut heap, &roots);
        // Nothing left: back to the minimum, exactly.
        roots.clear();
        collect(&mut heap, Collect::Major);
        assert_eq!(heap.stats().young_capacity, floor);
        assert_eq!(heap.stats().used_words(), 0);
    }
}

#[test]
fn a_minor_collection_shrinks_a_large_mostly_empty_young_heap() {
    let mut heap = Heap::default();
    let mut roots: Vec<Rooted> = (0..40).map(|i| root_owned(&mut heap, &int_list(500, i * 500))).collect();
    collect(&mut heap, Collect::Major);
    let big = heap.stats().young_capacity;
    assert!(big > 8000);
    roots.truncate(2);
    // First minor: survivors are promoted (the old generation is created on demand); the
    // young heap is then empty and far above 3000 words, so it shrinks.
    collect(&mut heap, Collect::Minor);
    let s = heap.stats();
    assert!(s.young_capacity < big, "{s:?}");
    assert!(s.young_capacity >= DEFAULT_MIN_HEAP_SIZE);
    check(&mut heap, &roots);
}

#[test]
fn gc_events_carry_pid_scheduler_and_consistent_word_counts() {
    let (mut heap, sink) = heap_with_sink(HeapOptions::default());
    heap.set_pid(Some(Pid::new(42)));
    heap.set_scheduler(Some(3));
    let kept = root_owned(&mut heap, &int_list(100, 0));
    heap.enter(|h| {
        for i in 0..100 {
            h.tuple(&[h.int(i)]);
        }
    });
    let before = std::time::Instant::now();
    let out = heap.collect(Collect::Minor).unwrap();
    heap.verify().unwrap();
    let ev = &out.event;
    assert_eq!(ev.pid, Some(Pid::new(42)));
    assert_eq!(ev.scheduler, Some(3));
    assert!(ev.start >= before && ev.start.elapsed() >= ev.duration);
    assert_eq!((ev.words_before, ev.words_after, ev.words_copied, ev.words_promoted), (400, 200, 200, 0));
    assert_eq!(out.reductions, 20);
    let recorded = sink.take();
    assert_eq!(recorded.len(), 1);
    let r = &recorded[0];
    assert_eq!((r.kind, r.reason, r.pid, r.scheduler), (ev.kind, ev.reason, ev.pid, ev.scheduler));
    assert_eq!(
        (r.words_before, r.words_after, r.words_copied),
        (ev.words_before, ev.words_after, ev.words_copied)
    );

    // Promotion: 200 words move to the old generation, none stay young.
    heap.set_scheduler(None);
    let ev = collect(&mut heap, Collect::Minor);
    assert_eq!((ev.words_before, ev.words_after, ev.words_copied, ev.words_promoted), (200, 200, 200, 200));
    assert_eq!(ev.scheduler, None);
    assert_eq!(ev.pid, Some(Pid::new(42)));
    assert_eq!(GcKind::Minor.as_str(), "minor");
    assert_eq!(GcKind::Major.as_str(), "major");
    check(&mut heap, &[kept]);
}

#[test]
fn a_minor_collection_without_room_in_the_old_generation_becomes_major() {
    let (mut heap, sink) = heap_with_sink(HeapOptions::default());
    let mut roots = vec![root_owned(&mut heap, &int_list(60, -60))];
    // The first collection is a fullsweep (nothing mature yet); from then on, minors.
    assert_eq!(collect(&mut heap, Collect::Minor).kind, GcKind::Major);
    let mut found = None;
    for i in 0..200 {
        roots.push(root_owned(&mut heap, &int_list(60, i * 60)));
        let before = heap.stats();
        let ev = collect(&mut heap, Collect::Minor);
        if ev.reason == GcReason::OldFull {
            assert_eq!(ev.kind, GcKind::Major);
            assert!(before.mature > before.old_capacity - before.old_used, "{before:?}");
            found = Some(i);
            break;
        }
        assert_eq!(ev.kind, GcKind::Minor, "{ev:?}");
    }
    assert!(found.is_some(), "the old generation never ran full");
    let s = heap.stats();
    assert_eq!((s.old_capacity, s.old_used), (0, 0));
    assert_eq!(sink.take().last().map(|e| e.reason), Some(GcReason::OldFull));
    check(&mut heap, &roots);
    // Collection resumes normally: the next minor one recreates the old generation.
    collect(&mut heap, Collect::Minor);
    assert!(heap.stats().old_used > 0);
    check(&mut heap, &roots);
}

#[test]
fn allocation_inside_one_enter_overflows_into_fragments_and_never_moves() {
    let mut heap = Heap::default();
    let n = 10_000i64;
    let expect = |i: i64| OwnedTerm::tuple(vec![OwnedTerm::Int(i), OwnedTerm::list(vec![OwnedTerm::Int(i)])]);
    let root = heap.enter(|h| {
        let items: Vec<_> = (0..n).map(|i| h.tuple(&[h.int(i), h.list([h.int(i)])])).collect();
        // 50,000 words allocated on a 233-word heap: all still readable, none moved.
        for (i, t) in items.iter().enumerate() {
            assert_eq!(t.to_owned_term(), expect(i as i64));
        }
        // Big integers and binaries go to fragments too.
        let big = h.int(i64::MAX);
        let bin = h.binary(&[7; 64]);
        assert_eq!(big.as_int(), Some(i64::MAX));
        assert_eq!(bin.as_binary(), Some(&[7u8; 64][..]));
        assert_eq!(items[0].to_owned_term(), expect(0));
        h.root(h.list(items))
    });
    let s = heap.stats();
    assert!(s.fragments > 0 && s.fragment_words > 40_000, "{s:?}");
    assert_eq!(s.young_capacity, DEFAULT_MIN_HEAP_SIZE);
    assert!(heap.needs_gc());
    heap.verify().unwrap();
    let expected = OwnedTerm::list((0..n).map(expect).collect());
    let roots = [(root, expected)];
    check(&mut heap, &roots);
    let ev = collect(&mut heap, Collect::Minor);
    assert_eq!(ev.words_copied, 5 * n as u64 + 2 * n as u64);
    assert!(!heap.needs_gc());
    check(&mut heap, &roots);
}

#[test]
#[should_panic(expected = "was used with heap")]
fn reading_a_root_through_another_heap_panics() {
    let mut a = Heap::default();
    let mut b = Heap::default();
    let root = a.enter(|h| h.root(h.int(1)));
    b.enter(|h| {
        h.get(&root);
    });
}

#[test]
#[should_panic(expected = "was used with heap")]
fn writing_a_root_through_another_heap_panics() {
    let mut a = Heap::default();
    let mut b = Heap::default();
    let root = a.enter(|h| h.root(h.int(1)));
    b.enter(|h| h.set(&root, h.int(2)));
}

#[test]
fn roots_carry_their_heap_id() {
    let mut a = Heap::default();
    let b = Heap::default();
    assert_ne!(a.id(), b.id());
    let root = a.enter(|h| h.root(h.nil()));
    assert_eq!(root.heap_id(), a.id());
}

#[test]
fn dropped_roots_are_released_at_the_next_collection_or_root_allocation() {
    let mut heap = Heap::default();
    let mut roots: Vec<Rooted> = (0..10).map(|i| root_owned(&mut heap, &int_list(10, i * 10))).collect();
    assert_eq!(heap.stats().roots, 10);
    let dropped: Vec<Rooted> = roots.drain(5..).collect();
    drop(dropped);
    // Dropping needs no heap: the slots are freed lazily.
    assert_eq!(heap.stats().roots, 10);
    let ev = collect(&mut heap, Collect::Major);
    assert_eq!(heap.stats().roots, 5);
    assert_eq!(ev.words_after, 100, "the dropped roots' lists are garbage");
    check(&mut heap, &roots);

    // Root allocation drains as well, and reuses the freed slots.
    roots.truncate(2);
    assert_eq!(heap.stats().roots, 5);
    roots.push(root_owned(&mut heap, &OwnedTerm::atom("fresh")));
    assert_eq!(heap.stats().roots, 3);
    check(&mut heap, &roots);
}

#[test]
fn a_root_dropped_on_another_thread_is_released() {
    let mut heap = Heap::default();
    let keep = root_owned(&mut heap, &int_list(3, 0));
    let (gone, _) = root_owned(&mut heap, &int_list(1000, 0));
    std::thread::spawn(move || drop(gone)).join().unwrap();
    let ev = collect(&mut heap, Collect::Major);
    assert_eq!(ev.words_after, 6);
    assert_eq!(heap.stats().roots, 1);
    check(&mut heap, &[keep]);
}

#[test]
fn set_replaces_a_roots_term_and_the_old_term_becomes_garbage() {
    let mut heap = Heap::default();
    let (root, _) = root_owned(&mut heap, &int_list(100, 0));
    collect(&mut heap, Collect::Minor);
    collect(&mut heap, Collect::Minor); // the list is now old
                                        // The new term refers to the old one's tail (young data pointing at old data).
    let expected = OwnedTerm::tuple(vec![OwnedTerm::atom("new"), int_list(99, 1)]);
    heap.enter(|h| {
        let old = h.get(&root);
        let (_, tail) = old.as_cons().unwrap();
        let t = h.tuple(&[h.atom_named("new"), tail]);
        h.set(&root, t);
    });
    let roots = [(root, expected)];
    check(&mut heap, &roots);
    collect(&mut heap, Collect::Minor);
    check(&mut heap, &roots);
    let ev = collect(&mut heap, Collect::Major);
    assert_eq!(ev.words_after, 3 + 198, "the old head cell is gone");
    check(&mut heap, &roots);
}

#[test]
fn collecting_an_empty_heap_is_fine() {
    let (mut heap, sink) = heap_with_sink(HeapOptions::default());
    for how in [Collect::Minor, Collect::Major, Collect::Auto, Collect::Minor] {
        let ev = collect(&mut heap, how);
        assert_eq!((ev.words_before, ev.words_after, ev.words_copied), (0, 0, 0));
    }
    assert_eq!(sink.len(), 4);
    assert!(heap.collect_if_needed().unwrap().is_none());
    assert_eq!(heap.stats().young_capacity, DEFAULT_MIN_HEAP_SIZE);
}

#[test]
fn immediates_in_roots_survive_every_collection() {
    let mut heap = Heap::default();
    let terms = [
        OwnedTerm::Nil,
        OwnedTerm::Int(heaplab_gc::MAX_SMALL),
        OwnedTerm::Int(heaplab_gc::MIN_SMALL),
        OwnedTerm::atom("ok"),
        OwnedTerm::Pid(Pid::new(heaplab_gc::MAX_PID)),
    ];
    let roots: Vec<Rooted> = terms.iter().map(|t| root_owned(&mut heap, t)).collect();
    assert_eq!(heap.stats().young_used, 0);
    for how in [Collect::Minor, Collect::Minor, Collect::Major] {
        collect(&mut heap, how);
        check(&mut heap, &roots);
    }
}

#[test]
fn options_are_validated() {
    use heaplab_gc::{ConfigError, MIN_ALLOWED_HEAP_SIZE};
    let bad = HeapOptions { min_heap_size: MIN_ALLOWED_HEAP_SIZE - 1, ..Default::default() };
    assert_eq!(Heap::new(bad).err(), Some(ConfigError::MinHeapTooSmall { given: MIN_ALLOWED_HEAP_SIZE - 1 }));
    let bad = HeapOptions { min_bin_vheap_size: 0, ..Default::default() };
    assert_eq!(Heap::new(bad).err(), Some(ConfigError::VheapZero));
    let bad = HeapOptions { max_heap_size: Some(100), min_heap_size: 233, ..Default::default() };
    assert_eq!(Heap::new(bad).err(), Some(ConfigError::MaxBelowMin { max: 100, min: 233 }));
    let odd = Heap::new(HeapOptions { min_heap_size: 300, ..Default::default() }).unwrap();
    assert_eq!(odd.stats().young_capacity, 376, "rounded up to a table entry");
}

#[test]
fn deeply_nested_terms_need_no_recursion_to_collect_copy_or_verify() {
    // 100,000 nested 1-tuples around a list whose every head is the previous list: neither
    // the collector, nor copy_term, nor the verifier may recurse on the depth.
    let depth = 100_000;
    let mut heap = Heap::default();
    let root = heap.enter(|h| {
        let mut t = h.int(-1);
        for _ in 0..depth {
            t = h.tuple(&[t]);
        }
        let mut l = h.nil();
        for _ in 0..depth {
            l = h.cons(l, h.nil());
        }
        h.root(h.tuple(&[t, l]))
    });
    let depth_of = |heap: &mut Heap, root: &heaplab_gc::Root| {
        heap.enter(|h| {
            let top = h.get(root);
            let [mut t, mut l] = [top.as_tuple().unwrap()[0], top.as_tuple().unwrap()[1]];
            let (mut tuples, mut conses) = (0, 0);
            while let Some(&[inner]) = t.as_tuple() {
                t = inner;
                tuples += 1;
            }
            while let Some((head, _)) = l.as_cons() {
                l = head;
                conses += 1;
            }
            (tuples, conses, t.as_int())
        })
    };
    for how in [Collect::Minor, Collect::Minor, Collect::Major] {
        let ev = collect(&mut heap, how);
        assert_eq!(ev.words_after, (2 * depth + 2 * depth + 3) as u64);
        assert_eq!(depth_of(&mut heap, &root), (depth, depth, Some(-1)));
    }
    let mut other = Heap::default();
    let (flat, shared) =
        heap.enter(|h| other.enter(|o| (o.root(o.copy(h.get(&root))), o.root(o.copy_shared(h.get(&root))))));
    drop(heap);
    collect(&mut other, Collect::Major);
    assert_eq!(depth_of(&mut other, &flat), (depth, depth, Some(-1)));
    assert_eq!(depth_of(&mut other, &shared), (depth, depth, Some(-1)));
}
