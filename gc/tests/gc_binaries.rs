//! Off-heap (refc) binaries: reference counts, sharing between heaps, sub-binaries, the MSO
//! sweep, and the bytes being freed once no heap holds them.
//!
//! `live_binaries()` and `live_binary_bytes()` count the whole program, so every test here
//! takes the same lock and checks its own effect as a difference from its starting point.

mod common;

use common::{check, collect, serial, Rooted};
use heaplab_gc::{
    live_binaries, live_binary_bytes, Binary, Collect, Fragment, GcKind, Heap, OwnedTerm, HEAP_BINARY_LIMIT,
};

/// The live-binary counters relative to a starting point.
struct Counters {
    binaries: usize,
    bytes: usize,
}

impl Counters {
    fn now() -> Counters {
        Counters { binaries: live_binaries(), bytes: live_binary_bytes() }
    }

    /// Asserts that exactly `binaries` binaries of `bytes` bytes were added since `self`.
    #[track_caller]
    fn assert_added(&self, binaries: usize, bytes: usize) {
        assert_eq!(
            (live_binaries() - self.binaries, live_binary_bytes() - self.bytes),
            (binaries, bytes),
            "(binaries, bytes) added"
        );
    }
}

#[test]
fn binaries_are_freed_when_no_heap_holds_them() {
    let _serial = serial();
    let base = Counters::now();
    {
        let mut heap = Heap::default();
        let rooted: Vec<Rooted> = (0..3u8)
            .map(|k| {
                let bytes = vec![k; 1000];
                let root = heap.enter(|h| h.root(h.binary(&bytes)));
                (root, OwnedTerm::Binary(bytes))
            })
            .collect();
        heap.enter(|h| {
            h.binary(&[9; 500]);
            h.binary(&[8; 700]);
        });
        base.assert_added(5, 4200);
        assert_eq!(heap.stats().mso_len, 5);

        let ev = collect(&mut heap, Collect::Minor);
        assert_eq!(ev.binaries_freed, 2);
        base.assert_added(3, 3000);
        assert_eq!(heap.stats().mso_len, 3);
        check(&mut heap, &rooted);

        // Copy everything to a second heap: handles are copied, bytes are not.
        let mut other = Heap::default();
        let copies: Vec<Rooted> = heap.enter(|h| {
            other.enter(|o| rooted.iter().map(|(r, snap)| (o.root(o.copy(h.get(r))), snap.clone())).collect())
        });
        base.assert_added(3, 3000);
        drop(heap);
        base.assert_added(3, 3000);
        check(&mut other, &copies);
        drop(copies);
        let ev = collect(&mut other, Collect::Major);
        assert_eq!(ev.binaries_freed, 3);
        base.assert_added(0, 0);
    }
    base.assert_added(0, 0);
}

#[test]
fn heap_binaries_stay_on_the_heap_and_larger_ones_go_off_heap() {
    let _serial = serial();
    let base = Counters::now();
    let mut heap = Heap::default();
    let small = [1u8; HEAP_BINARY_LIMIT];
    let large = [2u8; HEAP_BINARY_LIMIT + 1];
    let roots = heap.enter(|h| [h.root(h.binary(&small)), h.root(h.binary(&large)), h.root(h.binary(&[]))]);
    base.assert_added(1, HEAP_BINARY_LIMIT + 1);
    let s = heap.stats();
    // 64 bytes: header, length, 8 words of bytes; 65 bytes: a 3-word handle; empty: 2 words.
    assert_eq!(s.young_used, 10 + 3 + 2);
    assert_eq!((s.mso_len, s.vheap_young), (1, 9));
    let snaps =
        [OwnedTerm::Binary(small.to_vec()), OwnedTerm::Binary(large.to_vec()), OwnedTerm::Binary(vec![])];
    let rooted: Vec<Rooted> = roots.into_iter().zip(snaps).collect();
    collect(&mut heap, Collect::Major);
    check(&mut heap, &rooted);
    drop(rooted);
    drop(heap);
    base.assert_added(0, 0);
}

#[test]
fn a_binary_shared_by_three_heaps_has_one_reference_per_handle() {
    let _serial = serial();
    let base = Counters::now();
    let bin = Binary::from_bytes(&[5; 200]);
    assert_eq!(bin.refcount(), 1);
    assert_eq!((bin.len(), bin.as_bytes()), (200, &[5u8; 200][..]));
    base.assert_added(1, 200);

    let mut heaps = [Heap::default(), Heap::default(), Heap::default()];
    let snap = OwnedTerm::Binary(vec![5; 200]);
    let r0 = heaps[0].enter(|h| h.root(h.refc_binary(&bin)));
    assert_eq!(bin.refcount(), 2);
    // Heap 1 by Mu::copy, heap 2 by a message fragment.
    let [h0, h1, h2] = &mut heaps;
    let r1 = h0.enter(|a| h1.enter(|b| b.root(b.copy(a.get(&r0)))));
    assert_eq!(bin.refcount(), 3);
    let fragment = h0.enter(|a| a.to_fragment(a.get(&r0)));
    assert_eq!((fragment.binary_handles(), fragment.vheap_words()), (1, 25));
    assert_eq!(bin.refcount(), 4);
    let r2 = h2.enter(|c| c.root(c.attach(fragment)));
    assert_eq!(bin.refcount(), 4, "attaching moves the fragment's reference, takes none");
    base.assert_added(1, 200);

    // Collections move the handles around, never the count.
    for heap in heaps.iter_mut() {
        collect(heap, Collect::Minor);
        collect(heap, Collect::Minor);
        collect(heap, Collect::Major);
    }
    assert_eq!(bin.refcount(), 4);
    for (heap, root) in heaps.iter_mut().zip([&r0, &r1, &r2]) {
        heap.enter(|h| assert_eq!(h.get(root).to_owned_term(), snap));
    }

    // Each way of letting go gives back exactly one reference.
    let [h0, h1, h2] = heaps;
    drop(h1); // heap dropped with the root still alive
    assert_eq!(bin.refcount(), 3);
    drop(r1);
    let mut h0 = h0;
    drop(r0);
    assert_eq!(bin.refcount(), 3, "a dropped root frees nothing until a collection");
    let ev = collect(&mut h0, Collect::Minor);
    assert_eq!(ev.binaries_freed, 0, "other references remain");
    assert_eq!(bin.refcount(), 2);
    drop(h2);
    drop(r2);
    assert_eq!(bin.refcount(), 1);
    base.assert_added(1, 200);
    drop(bin);
    base.assert_added(0, 0);
    drop(h0);
}

#[test]
fn binary_handles_clone_and_compare() {
    let _serial = serial();
    let base = Counters::now();
    let a = Binary::from_bytes(b"tiny");
    let b = a.clone();
    let c = Binary::from_bytes(b"tiny");
    assert!(Binary::ptr_eq(&a, &b) && !Binary::ptr_eq(&a, &c));
    assert_eq!((a.refcount(), c.refcount()), (2, 1));
    assert!(!a.is_empty() && Binary::from_bytes(&[]).is_empty());
    assert_eq!(format!("{a:?}"), "Binary(4 bytes, refc 2)");
    base.assert_added(2, 8);
    drop(b);
    assert_eq!(a.refcount(), 1);
    drop((a, c));
    base.assert_added(0, 0);
    // A Binary can move to another thread and be dropped there.
    let d = Binary::from_bytes(&[1; 100]);
    let e = d.clone();
    std::thread::spawn(move || drop(e)).join().unwrap();
    assert_eq!(d.refcount(), 1);
}

#[test]
fn a_sub_binary_keeps_its_original_alive() {
    let _serial = serial();
    let base = Counters::now();
    let mut heap = Heap::default();
    let bytes: Vec<u8> = (0..=255).collect();
    let (orig, sub) = heap.enter(|h| {
        let b = h.binary(&bytes);
        let s = h.sub_binary(b, 10, 20).unwrap();
        (h.root(b), h.root(s))
    });
    let sub_snap = OwnedTerm::Binary(bytes[10..30].to_vec());
    drop(orig);
    let rooted = [(sub, sub_snap)];
    for how in [Collect::Minor, Collect::Major, Collect::Minor, Collect::Minor, Collect::Major] {
        let ev = collect(&mut heap, how);
        assert_eq!(ev.binaries_freed, 0);
        base.assert_added(1, 256);
        check(&mut heap, &rooted);
    }
    // The sub-binary's copy in another heap takes the original (the whole 256 bytes) along.
    let mut other = Heap::default();
    let copied = heap.enter(|h| other.enter(|o| o.root(o.copy(h.get(&rooted[0].0)))));
    drop(rooted);
    let ev = collect(&mut heap, Collect::Major);
    assert_eq!(ev.binaries_freed, 0, "the copy still holds the original");
    assert_eq!(heap.stats().mso_len, 0);
    other.enter(|o| assert_eq!(o.get(&copied).as_binary(), Some(&bytes[10..30])));
    assert_eq!(other.stats().mso_len, 1);
    drop(copied);
    let ev = collect(&mut other, Collect::Major);
    assert_eq!(ev.binaries_freed, 1);
    base.assert_added(0, 0);
}

#[test]
fn dead_handles_in_the_old_generation_wait_for_a_major_collection() {
    let _serial = serial();
    let base = Counters::now();
    let mut heap = Heap::default();
    let root = heap.enter(|h| h.root(h.binary(&[3; 800])));
    collect(&mut heap, Collect::Minor);
    collect(&mut heap, Collect::Minor); // promoted: the handle is now in the old generation
    let s = heap.stats();
    assert_eq!((s.old_used, s.vheap_old, s.vheap_young), (3, 100, 0));
    drop(root);
    let ev = collect(&mut heap, Collect::Minor);
    assert_eq!(
        (ev.kind, ev.binaries_freed),
        (GcKind::Minor, 0),
        "a minor collection never looks at old data"
    );
    base.assert_added(1, 800);
    let ev = collect(&mut heap, Collect::Major);
    assert_eq!(ev.binaries_freed, 1);
    assert_eq!(heap.stats().vheap_old, 0);
    base.assert_added(0, 0);
}

#[test]
fn fragments_own_their_references() {
    let _serial = serial();
    let base = Counters::now();
    let bin = Binary::from_bytes(&[4; 300]);
    {
        let fragment = Fragment::build(|h| {
            let t = h.refc_binary(&bin);
            let new = h.binary(&[6; 100]);
            h.tuple(&[t, t, new, h.sub_binary(new, 1, 2).unwrap()])
        });
        assert_eq!(bin.refcount(), 2);
        assert_eq!(fragment.binary_handles(), 2);
        assert_eq!(fragment.vheap_words(), 38 + 13);
        base.assert_added(2, 400);
        // Copying the fragment's term duplicates handles, not bytes.
        let copy = fragment.with(|t| Fragment::build(|h| h.copy(t)));
        assert_eq!(bin.refcount(), 4, "an unshared copy copies the handle once per path");
        assert_eq!(copy.binary_handles(), 4);
        base.assert_added(2, 400);
        let shared = fragment.with(|t| Fragment::build(|h| h.copy_shared(t)));
        assert_eq!(bin.refcount(), 5);
        assert_eq!(shared.binary_handles(), 2);
        drop((copy, shared));
        assert_eq!(bin.refcount(), 2);
        // An unattached fragment gives its references back when dropped.
    }
    assert_eq!(bin.refcount(), 1);
    base.assert_added(1, 300);
    drop(bin);
    base.assert_added(0, 0);
}

#[test]
fn vheap_counts_the_bytes_of_young_and_old_handles() {
    let _serial = serial();
    let mut heap = Heap::default();
    let roots: Vec<_> = heap.enter(|h| (0..10).map(|i| h.root(h.binary(&vec![0; 65 + i]))).collect());
    // ceil((65 + i) / 8) words each: 9 words for i < 8, 10 words for i in 8..10.
    let words = 8 * 9 + 2 * 10;
    assert_eq!(heap.stats().vheap_young, words);
    collect(&mut heap, Collect::Minor);
    assert_eq!((heap.stats().vheap_young, heap.stats().vheap_old), (words, 0));
    collect(&mut heap, Collect::Minor);
    assert_eq!((heap.stats().vheap_young, heap.stats().vheap_old), (0, words));
    collect(&mut heap, Collect::Major);
    assert_eq!((heap.stats().vheap_young, heap.stats().vheap_old), (words, 0));
    drop(roots);
    collect(&mut heap, Collect::Major);
    assert_eq!(heap.stats().vheap_young, 0);
}

#[test]
fn delivered_messages_keep_their_binaries_until_taken() {
    let _serial = serial();
    let base = Counters::now();
    let mut heap = Heap::default();
    heap.deliver(Fragment::from_owned(&OwnedTerm::Binary(vec![1; 1000])));
    heap.deliver(Fragment::from_owned(&OwnedTerm::atom("second")));
    assert_eq!(heap.message_count(), 2);
    base.assert_added(1, 1000);
    collect(&mut heap, Collect::Minor);
    collect(&mut heap, Collect::Minor);
    base.assert_added(1, 1000);
    heap.enter(|h| {
        assert_eq!(h.message_count(), 2);
        assert_eq!(h.message(0).unwrap().as_binary(), Some(&[1u8; 1000][..]));
        let taken = h.take_message(0).unwrap();
        assert_eq!(taken.as_binary().map(<[u8]>::len), Some(1000), "valid for the rest of the brand");
        assert_eq!(h.message(0).unwrap().to_string(), "second");
        assert!(h.message(1).is_none());
    });
    assert_eq!(heap.stats().messages, 1);
    let ev = collect(&mut heap, Collect::Major);
    assert_eq!(ev.binaries_freed, 1);
    base.assert_added(0, 0);
}
