//! `copy_term` and message fragments: round trips, the cost of flattening versus
//! sharing-preserving copies, binaries shared rather than copied, fragments built in place,
//! and attached fragments surviving collection.
//!
//! One test reads the program-wide `live_binary_bytes()`, so every test here that allocates
//! off-heap binaries holds the same lock.

mod common;

use common::{arb_owned, arb_recipe, build, check, collect, config, int_list, Env, Rooted};
use heaplab_gc::{live_binary_bytes, Binary, Collect, Fragment, Heap, OwnedTerm, Term, View};
use proptest::prelude::*;

proptest! {
    #![proptest_config(config(64))]

    /// A copy reads back equal to its source whichever way it is made, and its size is
    /// exactly what the owned term says it occupies.
    #[test]
    fn copies_round_trip(term in arb_owned()) {
        let _serial = common::serial();
        let direct = Fragment::from_owned(&term);
        prop_assert_eq!(direct.to_owned_term(), term.clone());
        prop_assert_eq!(direct.words(), term.heap_words());

        let mut src = Heap::default();
        let mut dst = Heap::default();
        let root = src.enter(|h| h.root(h.from_owned(&term)));
        let (flat, shared) = src.enter(|h| {
            let t = h.get(&root);
            (h.to_fragment(t), h.to_fragment_shared(t))
        });
        prop_assert_eq!(flat.to_owned_term(), term.clone());
        prop_assert_eq!(shared.to_owned_term(), term.clone());
        // A term built from an owned term is a tree: both modes copy the same words.
        prop_assert_eq!(flat.words(), term.heap_words());
        prop_assert_eq!(shared.words(), term.heap_words());

        let roots: Vec<Rooted> = src.enter(|s| {
            dst.enter(|d| {
                let t = s.get(&root);
                vec![
                    (d.root(d.copy(t)), term.clone()),
                    (d.root(d.copy_shared(t)), term.clone()),
                    (d.root(d.attach(flat)), term.clone()),
                    (d.root(d.attach(shared)), term.clone()),
                    (d.root(d.attach(direct)), term.clone()),
                ]
            })
        });
        drop(src);
        check(&mut dst, &roots);
        for how in [Collect::Minor, Collect::Minor, Collect::Major] {
            collect(&mut dst, how);
            check(&mut dst, &roots);
        }
    }

    /// Copies of heap graphs with sharing, sub-binaries and old data: a flattening copy and
    /// a sharing-preserving one are equal to the source, and the latter is never larger.
    #[test]
    fn graph_copies_round_trip(first in arb_recipe(), second in arb_recipe(), third in arb_recipe()) {
        let _serial = common::serial();
        let binaries = vec![Binary::from_bytes(&[1; 100]), Binary::from_bytes(b"short")];
        let mut src = Heap::default();
        let mut roots: Vec<Rooted> = Vec::new();
        for (i, recipe) in [first, second, third].iter().enumerate() {
            let env = Env { roots: &roots, binaries: &binaries };
            let rooted = src.enter(|h| {
                let (t, o) = build(h, recipe, &env);
                (h.root(t), o)
            });
            roots.push(rooted);
            if i == 0 {
                collect(&mut src, Collect::Minor);
                collect(&mut src, Collect::Minor);
            }
        }
        check(&mut src, &roots);
        let mut dst = Heap::default();
        for (root, snap) in &roots {
            let (flat, shared) = src.enter(|h| {
                let t = h.get(root);
                (h.to_fragment(t), h.to_fragment_shared(t))
            });
            prop_assert!(shared.words() <= flat.words());
            prop_assert!(shared.binary_handles() <= flat.binary_handles());
            prop_assert_eq!(&flat.to_owned_term(), snap);
            prop_assert_eq!(&shared.to_owned_term(), snap);
            let copied: Vec<Rooted> = dst.enter(|d| {
                vec![(d.root(d.attach(flat)), snap.clone()), (d.root(d.attach(shared)), snap.clone())]
            });
            collect(&mut dst, Collect::Minor);
            check(&mut dst, &copied);
            collect(&mut dst, Collect::Major);
            check(&mut dst, &copied);
        }
        drop((src, dst));
        for b in &binaries {
            prop_assert_eq!(b.refcount(), 1);
        }
    }
}

#[test]
fn a_shared_list_costs_three_copies_flat_and_one_shared() {
    let mut heap = Heap::default();
    let l = int_list(1000, 0);
    let expected = OwnedTerm::list(vec![l.clone(), l.clone(), l.clone()]);
    let root = heap.enter(|h| {
        let list = h.list((0..1000).map(|i| h.int(i)));
        h.root(h.list([list, list, list]))
    });
    let (flat, shared) = heap.enter(|h| {
        let t = h.get(&root);
        (h.to_fragment(t), h.to_fragment_shared(t))
    });
    // Outer list: 3 cells (6 words); inner list: 1000 cells (2000 words).
    assert_eq!(flat.words(), 6 + 3 * 2000);
    assert_eq!(shared.words(), 6 + 2000);
    assert_eq!(flat.to_owned_term(), expected);
    assert_eq!(shared.to_owned_term(), expected);
    // The shared copy really shares: the three elements are one list.
    shared.with(|t| {
        let items: Vec<Term<'_>> = t.iter_list().collect();
        assert_eq!(items.len(), 3);
        assert!(items.iter().all(|i| i.raw() == items[0].raw()));
    });
    flat.with(|t| {
        let items: Vec<Term<'_>> = t.iter_list().collect();
        assert!(items[0].raw() != items[1].raw() && items[1].raw() != items[2].raw());
    });

    // Attached and collected, each keeps its shape: the collector preserves sharing.
    let mut other = Heap::default();
    let roots: Vec<Rooted> = other.enter(|o| {
        vec![(o.root(o.attach(flat)), expected.clone()), (o.root(o.attach(shared)), expected.clone())]
    });
    assert_eq!(other.stats().fragment_words, 6 + 3 * 2000 + 6 + 2000);
    let ev = collect(&mut other, Collect::Major);
    assert_eq!(ev.words_copied, 6 + 3 * 2000 + 6 + 2000);
    check(&mut other, &roots);
    // Mu::copy flattens, Mu::copy_shared does not.
    let before = other.stats().used_words();
    heap.enter(|h| {
        other.enter(|o| {
            let t = h.get(&root);
            o.copy(t);
            o.copy_shared(t);
        })
    });
    assert_eq!(other.stats().used_words() - before, 6 + 3 * 2000 + 6 + 2000);
}

#[test]
fn copies_share_refc_binaries_instead_of_copying_bytes() {
    let _serial = common::serial();
    let bin = Binary::from_bytes(&[7; 4096]);
    let bytes_before = live_binary_bytes();
    let mut a = Heap::default();
    let mut b = Heap::default();
    let root = a.enter(|h| {
        let t = h.refc_binary(&bin);
        h.root(h.tuple(&[t, h.sub_binary(t, 100, 1000).unwrap()]))
    });
    assert_eq!(bin.refcount(), 2);
    let copied = a.enter(|ha| b.enter(|hb| hb.root(hb.copy(ha.get(&root)))));
    // The flattening copy copies the handle twice (directly and under the sub-binary).
    assert_eq!(bin.refcount(), 4);
    let copied_shared = a.enter(|ha| b.enter(|hb| hb.root(hb.copy_shared(ha.get(&root)))));
    assert_eq!(bin.refcount(), 5);
    assert_eq!(live_binary_bytes(), bytes_before, "no byte was copied");
    // The handle is 3 words whatever the binary's size.
    let fragment = a.enter(|h| h.to_fragment(h.get(&root)));
    assert_eq!(fragment.words(), 3 + 3 + 4 + 3);
    assert_eq!(fragment.vheap_words(), 2 * 512);
    drop(fragment);
    let expected = OwnedTerm::tuple(vec![OwnedTerm::Binary(vec![7; 4096]), OwnedTerm::Binary(vec![7; 1000])]);
    let roots = [(copied, expected.clone()), (copied_shared, expected)];
    check(&mut b, &roots);
    drop(a);
    drop(root);
    assert_eq!(bin.refcount(), 4);
    collect(&mut b, Collect::Major);
    check(&mut b, &roots);
    drop(roots);
    collect(&mut b, Collect::Major);
    assert_eq!(bin.refcount(), 1);
}

#[test]
fn fragment_build_allocates_in_place() {
    let msg = Fragment::build(|h| {
        let items: Vec<_> = (0..500).map(|i| h.tuple(&[h.atom_named("item"), h.int(i)])).collect();
        h.tuple(&[h.atom_named("batch"), h.list(items)])
    });
    // 500 tuples of 3 words, 500 cons cells, the outer pair: nothing wasted, nothing copied.
    assert_eq!(msg.words(), 500 * 3 + 500 * 2 + 3);
    let expected = OwnedTerm::tuple(vec![
        OwnedTerm::atom("batch"),
        OwnedTerm::list(
            (0..500).map(|i| OwnedTerm::tuple(vec![OwnedTerm::atom("item"), OwnedTerm::Int(i)])).collect(),
        ),
    ]);
    assert_eq!(msg.to_owned_term(), expected);
    assert!(msg.to_string().starts_with("{batch,[{item,0},{item,1},"));
    let debug = format!("{msg:?}");
    assert!(debug.starts_with("Fragment(2503 words: {batch,"), "{}", &debug[..40]);
    // Immediates need no memory at all.
    let atom = Fragment::build(|h| h.atom_named("ok"));
    assert_eq!((atom.words(), atom.to_string()), (0, "ok".to_string()));
    let mut heap = Heap::default();
    let roots = heap.enter(|h| {
        vec![(h.root(h.attach(msg)), expected.clone()), (h.root(h.attach(atom)), OwnedTerm::atom("ok"))]
    });
    check(&mut heap, &roots);
}

#[test]
fn fragments_move_between_threads() {
    let fragment = Fragment::from_owned(&int_list(100, 0));
    let back = std::thread::spawn(move || {
        assert_eq!(fragment.to_owned_term(), int_list(100, 0));
        fragment
    })
    .join()
    .unwrap();
    let mut heap = Heap::default();
    let roots = [(heap.enter(|h| h.root(h.attach(back))), int_list(100, 0))];
    check(&mut heap, &roots);
}

#[test]
fn an_attached_message_survives_collections_with_the_heap() {
    let _serial = common::serial();
    let mut heap = Heap::default();
    let kept = common::root_owned(&mut heap, &int_list(10, 0));
    let msg =
        OwnedTerm::tuple(vec![OwnedTerm::atom("msg"), int_list(300, 7), OwnedTerm::Binary(vec![2; 100])]);
    let fragment = Fragment::from_owned(&msg);
    let words = fragment.words();
    let root = heap.enter(|h| {
        let t = h.attach(fragment);
        assert_eq!(t.to_owned_term(), msg);
        h.root(t)
    });
    let s = heap.stats();
    assert!(s.fragments >= 1);
    assert_eq!(s.fragment_words, words);
    assert_eq!((s.mso_len, s.vheap_young), (1, 13));
    let roots = [kept, (root, msg)];
    check(&mut heap, &roots);
    for how in [Collect::Minor, Collect::Minor, Collect::Major, Collect::Minor] {
        collect(&mut heap, how);
        check(&mut heap, &roots);
    }
    // Attached but unrooted, a message is garbage like any other young data.
    heap.enter(|h| {
        h.attach(Fragment::from_owned(&int_list(1000, 0)));
    });
    let before = heap.stats().used_words();
    let ev = collect(&mut heap, Collect::Major);
    assert_eq!(ev.words_before as usize, before);
    assert_eq!(ev.words_after, 20 + words as u64);
}

#[test]
fn delivered_messages_are_roots_until_taken() {
    let mut heap = Heap::default();
    for i in 0..3 {
        heap.deliver(Fragment::from_owned(&OwnedTerm::tuple(vec![OwnedTerm::Int(i), int_list(50, i)])));
    }
    assert_eq!(heap.message_count(), 3);
    for how in [Collect::Minor, Collect::Minor, Collect::Major] {
        collect(&mut heap, how);
    }
    assert_eq!(heap.stats().used_words(), 3 * (3 + 100));
    // Selective receive: take the middle one and root it; the queue keeps the others.
    let root = heap.enter(|h| {
        assert_eq!(h.message_count(), 3);
        let m = h.take_message(1).unwrap();
        assert!(matches!(m.as_tuple().unwrap()[0].view(), View::Int(1)));
        h.root(m)
    });
    let roots = [(root, OwnedTerm::tuple(vec![OwnedTerm::Int(1), int_list(50, 1)]))];
    collect(&mut heap, Collect::Major);
    check(&mut heap, &roots);
    heap.enter(|h| {
        let firsts: Vec<_> =
            (0..h.message_count()).map(|i| h.message(i).unwrap().as_tuple().unwrap()[0]).collect();
        assert_eq!(firsts.iter().map(|t| t.as_int().unwrap()).collect::<Vec<_>>(), vec![0, 2]);
        h.take_message(0);
        h.take_message(0);
        assert!(h.take_message(0).is_none());
    });
    let ev = collect(&mut heap, Collect::Major);
    assert_eq!(ev.words_after, 103, "only the rooted message is left");
}

#[test]
fn copying_an_immediate_allocates_nothing() {
    let mut heap = Heap::default();
    let f = heap.enter(|h| h.to_fragment(h.int(5)));
    assert_eq!(f.words(), 0);
    assert_eq!(f.to_owned_term(), OwnedTerm::Int(5));
    heap.enter(|h| {
        let t = h.copy(h.atom_named("x"));
        assert_eq!(t.to_string(), "x");
    });
    assert_eq!(heap.stats().used_words(), 0);
}
