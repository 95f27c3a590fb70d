//! Terms: construction, reading back, the small-integer and heap-binary boundaries,
//! sub-binaries, lists, Erlang term order and printing.

mod common;

use std::cmp::Ordering;

use common::arb_owned;
use heaplab_gc::{
    compare, compare_owned, Atom, Heap, OwnedTerm, Pid, Ref, Term, View, MAX_PID, MAX_REF, MAX_SMALL,
    MIN_SMALL,
};
use proptest::prelude::*;

#[test]
fn immediates_take_no_heap_words() {
    let mut heap = Heap::default();
    heap.enter(|h| {
        let terms = [
            h.nil(),
            h.int(0),
            h.int(MAX_SMALL),
            h.int(MIN_SMALL),
            h.atom_named("ok"),
            h.pid(Pid::new(MAX_PID)),
        ];
        assert!(terms.iter().all(|t| !t.is_boxed_or_cons()));
        assert!(h.nil().is_nil() && !h.int(0).is_nil());
        assert_eq!(h.bool(true).as_atom(), Some(Atom::TRUE));
        assert_eq!(h.bool(false).as_atom(), Some(Atom::FALSE));
        assert_eq!(h.atom(Atom::OK).to_string(), "ok");
    });
    assert_eq!(heap.stats().young_used, 0);
}

/// A heap stays pristine through builds of immediates (a message of immediates made in it
/// leaves nothing behind), and stops being pristine at the first allocation, root, delivery
/// or collection.
#[test]
fn a_heap_is_pristine_until_something_is_kept_in_it() {
    let mut heap = Heap::default();
    assert!(heap.is_pristine());
    let fragment = heap.enter(|h| {
        let pid = h.pid(Pid::new(7));
        h.to_fragment(pid)
    });
    assert!(heap.is_pristine(), "an immediate message leaves the heap as it was");

    let mut allocated = Heap::default();
    allocated.enter(|h| {
        h.int(MAX_SMALL + 1);
    });
    assert!(!allocated.is_pristine());

    let mut rooted = Heap::default();
    let root = rooted.enter(|h| h.root(h.nil()));
    drop(root);
    assert!(!rooted.is_pristine(), "a root was made, even if dropped since");

    let mut delivered = Heap::default();
    delivered.deliver(fragment);
    assert!(!delivered.is_pristine(), "a message waits in it");
    delivered.enter(|h| {
        h.take_message(0);
    });
    assert!(delivered.is_pristine(), "an immediate received leaves nothing behind");
    let immediate = |heap: &mut Heap| heap.enter(|h| h.to_fragment(h.int(1)));
    for _ in 0..=heaplab_gc::PRISTINE_QUEUE {
        let f = immediate(&mut delivered);
        delivered.deliver(f);
    }
    delivered.enter(|h| while h.take_message(0).is_some() {});
    assert!(!delivered.is_pristine(), "its queue keeps room for more messages than a new heap's");

    let mut collected = Heap::default();
    collected.collect(heaplab_gc::Collect::Minor).expect("a collection of an empty heap");
    assert!(!collected.is_pristine());
}

#[test]
fn integers_outside_60_bits_are_boxed_and_exact() {
    let mut heap = Heap::default();
    heap.enter(|h| {
        for (value, boxed) in [
            (MAX_SMALL, false),
            (MIN_SMALL, false),
            (MAX_SMALL + 1, true),
            (MIN_SMALL - 1, true),
            (i64::MAX, true),
            (i64::MIN, true),
            (-1, false),
        ] {
            let t = h.int(value);
            assert_eq!(t.is_boxed_or_cons(), boxed, "{value}");
            assert_eq!(t.as_int(), Some(value));
            assert!(matches!(t.view(), View::Int(v) if v == value));
            assert_eq!(Term::small(value).is_some(), !boxed);
            assert_eq!(t.to_string(), value.to_string());
        }
    });
    assert_eq!(heap.stats().young_used, 4 * 2);
}

#[test]
fn floats_keep_their_bits() {
    let mut heap = Heap::default();
    heap.enter(|h| {
        for x in [0.0, -0.0, 1.5, f64::MAX, f64::MIN_POSITIVE, 5e-324, f64::INFINITY, f64::NAN] {
            let t = h.float(x);
            assert_eq!(t.as_float().map(f64::to_bits), Some(x.to_bits()));
        }
        assert_eq!(h.float(1.5).to_string(), "1.5");
        assert_eq!(h.float(2.0).to_string(), "2.0");
        // Exact equality: 1 and 1.0 differ, 0.0 and -0.0 differ, NaN equals itself.
        assert_ne!(h.int(1), h.float(1.0));
        assert_ne!(h.float(0.0), h.float(-0.0));
        assert_eq!(h.float(f64::NAN), h.float(f64::NAN));
    });
}

#[test]
fn pids_and_atoms_round_trip() {
    let mut heap = Heap::default();
    heap.enter(|h| {
        let p = h.pid(Pid::new(12345));
        assert_eq!(p.as_pid(), Some(Pid::new(12345)));
        assert_eq!(p.to_string(), "<0.12345.0>");
        let serial = (3 << heaplab_gc::PID_INDEX_BITS) | 7;
        assert_eq!(h.pid(Pid::new(serial)).to_string(), "<0.7.3>");
        assert_eq!(Pid::new(MAX_PID).number(), MAX_PID);
        let a = h.atom_named("hello world");
        assert_eq!(a.as_atom().unwrap().name(), "hello world");
        assert_eq!(a.to_string(), "'hello world'");
        assert_eq!(h.atom_named("hello world").raw(), a.raw(), "interned once");
    });
    assert!(Atom::from_index(u32::MAX).is_none());
}

#[test]
fn references_are_immediates_distinct_from_nil() {
    let mut heap = Heap::default();
    heap.enter(|h| {
        let fresh = Ref::new();
        assert_ne!(Ref::new(), fresh, "make_ref never repeats");
        for r in [Ref::from_number(1), Ref::from_number(MAX_REF), fresh] {
            let t = h.reference(r);
            assert!(!t.is_nil() && !t.is_boxed_or_cons());
            assert_eq!(t.as_ref(), Some(r));
            assert!(matches!(t.view(), View::Ref(x) if x == r));
            assert_eq!(t.to_owned_term(), OwnedTerm::Ref(r));
            assert_eq!(t.to_string(), format!("#Ref<0.0.0.{}>", r.number()));
        }
        assert_eq!(h.nil().as_ref(), None);
        assert!(h.nil().is_nil());
    });
    assert_eq!(heap.stats().young_used, 0);
}

#[test]
#[should_panic(expected = "reference number out of range")]
fn reference_zero_would_be_nil_and_is_refused() {
    Ref::from_number(0);
}

#[test]
#[should_panic(expected = "pid number out of range")]
fn pid_numbers_beyond_60_bits_are_refused() {
    Pid::new(MAX_PID + 1);
}

#[test]
fn tuples_and_lists() {
    let mut heap = Heap::default();
    heap.enter(|h| {
        let empty = h.tuple(&[]);
        assert_eq!(empty.as_tuple().map(<[_]>::len), Some(0));
        assert_eq!(empty.to_string(), "{}");
        let t = h.tuple(&[h.int(1), h.atom_named("a"), h.nil()]);
        match t.view() {
            View::Tuple(&[a, b, c]) => {
                assert_eq!(a.as_int(), Some(1));
                assert_eq!(b.to_string(), "a");
                assert!(c.is_nil());
            }
            other => panic!("not a 3-tuple: {other:?}"),
        }
        let proper = h.list((1..=3).map(|i| h.int(i)));
        assert_eq!(proper.list_len(), Some(3));
        assert_eq!(proper.to_string(), "[1,2,3]");
        let improper = h.list_with_tail([h.int(1), h.int(2)], h.int(3));
        assert_eq!(improper.list_len(), None);
        assert_eq!(improper.to_string(), "[1,2|3]");
        let mut it = improper.iter_list();
        assert_eq!(it.by_ref().map(|t| t.as_int().unwrap()).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(it.tail().as_int(), Some(3));
        // A list tail that is itself a list makes one longer list.
        let joined = h.list_with_tail([h.int(0)], proper);
        assert_eq!(joined.to_string(), "[0,1,2,3]");
        assert_eq!(h.list([]).to_string(), "[]");
        assert_eq!(h.list_with_tail([], h.int(9)).as_int(), Some(9));
        let c = h.cons(h.int(1), h.nil());
        assert!(c.is_cons());
        let (head, tail) = c.as_cons().unwrap();
        assert_eq!((head.as_int(), tail.is_nil()), (Some(1), true));
        assert_eq!(h.int(1).list_len(), None);
        assert_eq!(h.nil().list_len(), Some(0));
    });
    // Words: 1 + 3 + 3 cons (6) + 2 cons (4) + 1 cons (2) + 1 cons (2), and the empty tuple.
    assert_eq!(heap.stats().young_used, 1 + 4 + 6 + 4 + 2 + 2);
}

#[test]
fn sub_binaries_slice_and_refer_to_the_original() {
    let mut heap = Heap::default();
    let bytes: Vec<u8> = (0..100).collect();
    heap.enter(|h| {
        for original in [h.binary(&bytes[..50]), h.binary(&bytes)] {
            let n = original.as_binary().unwrap().len();
            let sub = h.sub_binary(original, 5, 20).unwrap();
            assert_eq!(sub.as_binary(), Some(&bytes[5..25]));
            // A slice of a slice is a slice of the original.
            let subsub = h.sub_binary(sub, 3, 4).unwrap();
            assert_eq!(subsub.as_binary(), Some(&bytes[8..12]));
            assert_eq!(h.sub_binary(sub, 20, 0).unwrap().as_binary(), Some(&[][..]));
            assert!(h.sub_binary(sub, 17, 4).is_none(), "past the end of the slice");
            assert!(h.sub_binary(original, n, 1).is_none());
            assert!(h.sub_binary(original, usize::MAX, 2).is_none(), "offset + len overflows");
            assert_eq!(h.sub_binary(original, 0, n).unwrap().as_binary().map(<[u8]>::len), Some(n));
        }
        assert!(h.sub_binary(h.int(1), 0, 0).is_none(), "not a binary");
        assert!(h.sub_binary(h.tuple(&[]), 0, 0).is_none());
        assert_eq!(h.binary(&[1, 2, 3]).to_string(), "<<1,2,3>>");
    });
    heap.verify().unwrap();
}

#[test]
fn term_order_follows_erlang() {
    let mut heap = Heap::default();
    heap.enter(|h| {
        // number < atom < reference < pid < tuple < nil < list < binary
        let ascending = [
            h.int(-5),
            h.float(1.5),
            h.int(2),
            h.atom_named("a"),
            h.atom_named("b"),
            h.reference(Ref::from_number(1)),
            h.reference(Ref::from_number(2)),
            h.pid(Pid::new(1)),
            h.tuple(&[h.int(9)]),
            h.tuple(&[h.int(1), h.int(1)]),
            h.nil(),
            h.list([h.int(1)]),
            h.list([h.int(1), h.int(0)]),
            h.list([h.int(2)]),
            h.binary(&[]),
            h.binary(&[0]),
            h.binary(&[1]),
        ];
        for (i, a) in ascending.iter().enumerate() {
            for (j, b) in ascending.iter().enumerate() {
                assert_eq!(compare(*a, *b), i.cmp(&j), "{a} vs {b}");
            }
        }
        // Integers and floats compare by value; an equal integer comes first.
        assert_eq!(compare(h.int(1), h.float(1.0)), Ordering::Less);
        assert_eq!(compare(h.float(1.0), h.int(1)), Ordering::Greater);
        assert_eq!(compare(h.float(0.5), h.int(1)), Ordering::Less);
        assert_eq!(compare(h.int(i64::MAX), h.int(MAX_SMALL)), Ordering::Greater);
        // A heap binary and an equal sub-binary of a refc binary are equal terms.
        let refc = h.binary(&[7; 100]);
        assert_eq!(h.sub_binary(refc, 0, 3).unwrap(), h.binary(&[7, 7, 7]));
    });
}

#[test]
fn integers_and_floats_compare_by_exact_value() {
    // Integers above 2^53 are not all representable as floats: comparing through `as f64`
    // would round 2^53 + 1 down to 2^53 and order it below the float 2^53.
    let two_53 = 1i64 << 53;
    let cases = [
        (two_53 + 1, two_53 as f64, Ordering::Greater),
        (two_53 - 1, two_53 as f64, Ordering::Less),
        (two_53, two_53 as f64, Ordering::Less), // equal values: the integer first
        (i64::MAX, 9_223_372_036_854_775_808.0, Ordering::Less),
        (i64::MIN, -9_223_372_036_854_775_808.0, Ordering::Less),
        (i64::MIN, -1e19, Ordering::Greater),
        (-two_53 - 1, -(two_53 as f64), Ordering::Less),
        (3, 2.5, Ordering::Greater),
        (-3, -2.5, Ordering::Less),
        (-2, -2.5, Ordering::Greater),
        (0, -0.0, Ordering::Less),
        (i64::MAX, f64::INFINITY, Ordering::Less),
        (i64::MIN, f64::NEG_INFINITY, Ordering::Greater),
        // NaN is no Erlang value; it keeps the place `f64::total_cmp` gives it among floats,
        // so the order stays transitive (-NaN < -inf < any integer < inf < NaN).
        (i64::MAX, f64::NAN, Ordering::Less),
        (i64::MIN, -f64::NAN, Ordering::Greater),
    ];
    let mut heap = Heap::default();
    heap.enter(|h| {
        for (i, x, expected) in cases {
            assert_eq!(compare(h.int(i), h.float(x)), expected, "{i} vs {x:?}");
            assert_eq!(compare(h.float(x), h.int(i)), expected.reverse(), "{x:?} vs {i}");
            let (oi, ox) = (OwnedTerm::Int(i), OwnedTerm::Float(x));
            assert_eq!(compare_owned(&oi, &ox), expected, "owned {i} vs {x:?}");
            assert_eq!(compare_owned(&ox, &oi), expected.reverse(), "owned {x:?} vs {i}");
        }
    });
}

#[test]
fn owned_terms_normalise_and_print_like_heap_terms() {
    let nested = OwnedTerm::improper_list(vec![OwnedTerm::Int(1)], OwnedTerm::list(vec![OwnedTerm::Int(2)]));
    assert_eq!(nested, OwnedTerm::list(vec![OwnedTerm::Int(1), OwnedTerm::Int(2)]));
    assert_eq!(OwnedTerm::list(vec![]), OwnedTerm::Nil);
    assert_eq!(OwnedTerm::from(1.5).to_string(), "1.5");
    assert_eq!(OwnedTerm::from(&b"ab"[..]), OwnedTerm::Binary(b"ab".to_vec()));
    assert_eq!(OwnedTerm::from(Pid::new(3)).to_string(), "<0.3.0>");
    assert_eq!(OwnedTerm::from(Atom::new("EXIT")).to_string(), "'EXIT'");
    assert_eq!(OwnedTerm::from(7).heap_words(), 0);
    assert_eq!(OwnedTerm::from(i64::MAX).heap_words(), 2);
}

proptest! {
    #![proptest_config(common::config(128))]

    /// Building an owned term and reading it back gives it back; printing and ordering agree
    /// between the heap form and the owned form; the term occupies exactly `heap_words()`.
    #[test]
    fn owned_terms_round_trip(a in arb_owned(), b in arb_owned()) {
        let mut heap = Heap::default();
        heap.enter(|h| {
            let ta = h.from_owned(&a);
            let tb = h.from_owned(&b);
            prop_assert_eq!(ta.to_owned_term(), a.clone());
            prop_assert_eq!(ta.to_string(), a.to_string());
            prop_assert_eq!(compare(ta, tb), compare_owned(&a, &b));
            prop_assert_eq!(compare(tb, ta), compare(ta, tb).reverse());
            prop_assert_eq!(compare(ta, ta), Ordering::Equal);
            prop_assert_eq!(ta == tb, a == b);
            Ok(())
        })?;
        prop_assert_eq!(heap.stats().used_words(), a.heap_words() + b.heap_words());
        heap.verify().unwrap();
    }

    /// The typed accessors agree with `view` on every kind of term: `as_tuple` reads the
    /// header itself, so a binary, float or big integer must not pass for a tuple.
    #[test]
    fn accessors_agree_with_view(a in arb_owned()) {
        let mut heap = Heap::default();
        heap.enter(|h| {
            let t = h.from_owned(&a);
            match t.view() {
                View::Tuple(elements) => prop_assert_eq!(t.as_tuple(), Some(elements)),
                _ => prop_assert_eq!(t.as_tuple(), None),
            }
            match t.view() {
                View::Cons(head, tail) => prop_assert_eq!(t.as_cons(), Some((head, tail))),
                _ => prop_assert_eq!(t.as_cons(), None),
            }
            Ok(())
        })?;
    }
}
