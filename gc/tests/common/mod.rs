//! Helpers shared by the heaplab-gc integration tests: checked collections, snapshot
//! comparison, and proptest strategies for owned terms and for term *recipes* (terms built
//! on a heap with sub-binaries and sharing of already rooted data).
//!
//! Each test binary compiles this module on its own and uses a part of it.
#![allow(dead_code)]

use std::sync::{Mutex, MutexGuard};

use heaplab_gc::{
    heap_size_table, Binary, Collect, GcEvent, GcKind, Heap, Mu, OwnedTerm, Pid, Ref, Root, Term, MAX_PID,
    MAX_REF, MAX_SMALL, MIN_SMALL,
};
use proptest::collection::vec;
use proptest::prelude::*;

/// Proptest case count: `PROPTEST_CASES` when set, otherwise `default` (kept modest so the
/// whole gc suite runs in seconds in a debug build).
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// A proptest config with [`cases`] cases.
pub fn config(default_cases: u32) -> ProptestConfig {
    ProptestConfig { cases: cases(default_cases), ..ProptestConfig::default() }
}

/// Serialises the tests of one test binary that read the program-wide counters
/// (`live_binaries`, `live_binary_bytes`, `block_stats`).
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A rooted term together with its owned snapshot.
pub type Rooted = (Root, OwnedTerm);

/// Checks that every root reads back deeply equal to its snapshot.
pub fn roots_match(heap: &mut Heap, roots: &[Rooted]) -> Result<(), String> {
    heap.enter(|h| {
        for (i, (root, snap)) in roots.iter().enumerate() {
            let now = h.get(root).to_owned_term();
            if now != *snap {
                return Err(format!("root {i} changed:\n  now  {now}\n  was  {snap}"));
            }
        }
        Ok(())
    })
}

/// Verifies the heap and checks every root against its snapshot; panics with the problem.
pub fn check(heap: &mut Heap, roots: &[Rooted]) {
    heap.verify().unwrap();
    roots_match(heap, roots).unwrap();
}

/// Runs a collection that must succeed, verifying the heap before and after, and checks the
/// event against the heap's statistics; see [`check_event`].
pub fn collect(heap: &mut Heap, how: Collect) -> GcEvent {
    heap.verify().unwrap();
    let before = heap.stats();
    let outcome = heap.collect(how).expect("collection within max_heap_size");
    heap.verify().unwrap();
    if let Err(e) = check_event(heap, &before, &outcome.event) {
        panic!("{e}\nevent: {:?}\nbefore: {before:?}\nafter: {:?}", outcome.event, heap.stats());
    }
    // erl_gc.c `gc_cost`: a tenth of the words moved, plus a hundredth of the young words a
    // resize moved (if the young heap was resized), at least one.
    let moved = outcome.event.words_copied / 10;
    let resized = heap.stats().young_used as u64 / 100;
    assert!(
        outcome.reductions == (moved).max(1) || outcome.reductions == (moved + resized).max(1),
        "reductions {} for {} words moved",
        outcome.reductions,
        outcome.event.words_copied
    );
    outcome.event
}

/// The relations every collection event and the heap after it satisfy.
pub fn check_event(heap: &Heap, before: &heaplab_gc::HeapStats, ev: &GcEvent) -> Result<(), String> {
    let after = heap.stats();
    let table = heap_size_table();
    let mut problems = Vec::new();
    let mut expect = |ok: bool, what: &str| {
        if !ok {
            problems.push(what.to_string());
        }
    };
    expect(ev.words_before == before.used_words() as u64, "words_before = used words before");
    expect(ev.words_after == after.used_words() as u64, "words_after = used words after");
    expect(heap.used_words() == after.used_words(), "Heap::used_words agrees with the stats");
    expect(ev.words_after <= ev.words_before, "a collection never adds words");
    expect(ev.words_promoted <= ev.words_copied, "promoted words are part of the copied words");
    expect(after.fragments == 0 && after.fragment_words == 0, "no fragments after a collection");
    expect(after.mature == after.young_used, "every survivor is mature");
    expect(after.young_used <= after.young_capacity, "young data fits the young block");
    expect(after.old_used <= after.old_capacity, "old data fits the old block");
    expect(table.contains(&after.young_capacity), "young capacity is a growth-table entry");
    expect(after.old_capacity == 0 || table.contains(&after.old_capacity), "old capacity is a table entry");
    expect(after.mso_len + ev.binaries_freed as usize <= before.mso_len, "freed binaries had dead handles");
    match ev.kind {
        GcKind::Major => {
            expect(ev.words_copied == ev.words_after, "major: every word after was copied");
            expect(ev.words_promoted == 0, "major: nothing promoted");
            expect(after.old_capacity == 0 && after.old_used == 0, "major: no old generation");
            expect(after.major_collections == before.major_collections + 1, "major count");
            expect(after.minor_collections == before.minor_collections, "minor count unchanged");
            expect(after.minor_since_major == 0, "major resets minor_since_major");
        }
        GcKind::Minor => {
            expect(
                ev.words_after == ev.words_copied + before.old_used as u64,
                "minor: old words stay, young words are copied",
            );
            expect(ev.words_promoted <= before.mature as u64, "minor: only mature words are promoted");
            expect(
                after.old_used as u64 == before.old_used as u64 + ev.words_promoted,
                "minor: promoted words land in the old generation",
            );
            expect(after.minor_collections == before.minor_collections + 1, "minor count");
            expect(after.minor_since_major == before.minor_since_major + 1, "minor_since_major");
        }
        GcKind::AreaMinor | GcKind::AreaMajor | GcKind::AreaIncrement => {
            expect(false, "a private heap's collection reported a message-area kind")
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("collection event inconsistent: {}", problems.join("; ")))
    }
}

/// A list of the integers `from..from + n` and its snapshot.
pub fn int_list(n: i64, from: i64) -> OwnedTerm {
    OwnedTerm::list((from..from + n).map(OwnedTerm::Int).collect())
}

/// Builds `term` on the heap and roots it.
pub fn root_owned(heap: &mut Heap, term: &OwnedTerm) -> Rooted {
    let root = heap.enter(|h| {
        let t = h.from_owned(term);
        h.root(t)
    });
    (root, term.clone())
}

// ---- Strategies -------------------------------------------------------------------------

/// Atom names the strategies draw from.
pub const ATOM_NAMES: [&str; 6] = ["ok", "error", "a", "EXIT", "with space", "undefined"];

/// Integers: small ones, the edges of the 60-bit small range, and any i64.
pub fn arb_int() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => -1000i64..1000,
        2 => any::<i64>(),
        1 => prop::sample::select(vec![
            MAX_SMALL,
            MAX_SMALL + 1,
            MIN_SMALL,
            MIN_SMALL - 1,
            i64::MAX,
            i64::MIN,
            0,
            -1,
        ]),
    ]
}

/// Floats: any bit pattern of interest, NaN and signed zero included (the comparison is
/// bit-exact on floats, so NaN equals itself).
pub fn arb_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => any::<f64>(),
        1 => prop::sample::select(vec![0.0, -0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300, 5e-324]),
    ]
}

/// Owned terms: every kind (references included), binaries on both sides of the 64-byte heap-binary limit, proper
/// and improper lists, nested tuples.
pub fn arb_owned() -> impl Strategy<Value = OwnedTerm> {
    let leaf = prop_oneof![
        4 => arb_int().prop_map(OwnedTerm::Int),
        1 => prop::sample::select(ATOM_NAMES.to_vec()).prop_map(OwnedTerm::atom),
        1 => (0..=MAX_PID).prop_map(|n| OwnedTerm::Pid(Pid::new(n))),
        1 => (1..=MAX_REF).prop_map(|n| OwnedTerm::Ref(Ref::from_number(n))),
        1 => arb_float().prop_map(OwnedTerm::Float),
        1 => Just(OwnedTerm::Nil),
        2 => vec(any::<u8>(), 0..=64).prop_map(OwnedTerm::Binary),
        1 => vec(any::<u8>(), 65..=300).prop_map(OwnedTerm::Binary),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(OwnedTerm::tuple),
            vec(inner.clone(), 0..8).prop_map(OwnedTerm::list),
            (vec(inner.clone(), 1..6), inner).prop_map(|(items, tail)| OwnedTerm::improper_list(items, tail)),
        ]
    })
}

/// How to build a term on a heap. Unlike an [`OwnedTerm`], a recipe can make sub-binaries
/// (with [`Mu::sub_binary`]), share a binary held outside the heap, and reuse subterms of
/// terms already rooted on the heap, so the heap graph gets sharing and young objects that
/// point at old ones.
#[derive(Clone, Debug)]
pub enum Recipe {
    /// An integer (boxed outside the small range).
    Int(i64),
    /// One of [`ATOM_NAMES`].
    Atom(usize),
    /// A pid.
    Pid(u64),
    /// A reference (non-zero number).
    Ref(u64),
    /// A float.
    Float(f64),
    /// `[]`.
    Nil,
    /// A binary copied in: on the heap up to 64 bytes, a new off-heap binary above.
    Bytes(Vec<u8>),
    /// A handle to one of the binaries held outside the heap (shares the bytes).
    Shared(usize),
    /// A sub-binary of what the inner recipe builds (the inner term itself when that is no
    /// binary): offset and length taken modulo what fits.
    Sub(Box<Recipe>, usize, usize),
    /// A tuple.
    Tuple(Vec<Recipe>),
    /// A list of the items ending in the tail.
    List(Vec<Recipe>, Box<Recipe>),
    /// `n` integers from `from`: big enough to overflow a young block.
    Ints(usize, i32),
    /// A subterm of an already rooted term (root index modulo the count, then a path of
    /// child choices); `[]` when there is no root.
    Existing(usize, Vec<usize>),
}

fn recipe_leaf() -> impl Strategy<Value = Recipe> {
    prop_oneof![
        4 => arb_int().prop_map(Recipe::Int),
        1 => (0..ATOM_NAMES.len()).prop_map(Recipe::Atom),
        1 => (0..=MAX_PID).prop_map(Recipe::Pid),
        1 => (1..=MAX_REF).prop_map(Recipe::Ref),
        1 => arb_float().prop_map(Recipe::Float),
        1 => Just(Recipe::Nil),
        2 => vec(any::<u8>(), 0..=64).prop_map(Recipe::Bytes),
        1 => vec(any::<u8>(), 65..=300).prop_map(Recipe::Bytes),
        1 => any::<usize>().prop_map(Recipe::Shared),
        3 => (any::<usize>(), vec(any::<usize>(), 0..4)).prop_map(|(i, p)| Recipe::Existing(i, p)),
        1 => (0usize..1500, any::<i32>()).prop_map(|(n, from)| Recipe::Ints(n, from)),
    ]
}

/// Recipes nested up to four levels.
pub fn arb_recipe() -> impl Strategy<Value = Recipe> {
    recipe_leaf().prop_recursive(4, 48, 6, |inner| {
        let binary_like = prop_oneof![
            vec(any::<u8>(), 0..=64).prop_map(Recipe::Bytes),
            vec(any::<u8>(), 65..=300).prop_map(Recipe::Bytes),
            any::<usize>().prop_map(Recipe::Shared),
            inner.clone(),
        ];
        prop_oneof![
            3 => vec(inner.clone(), 0..6).prop_map(Recipe::Tuple),
            2 => vec(inner.clone(), 0..6).prop_map(|v| Recipe::List(v, Box::new(Recipe::Nil))),
            1 => (vec(inner.clone(), 0..4), inner).prop_map(|(v, t)| Recipe::List(v, Box::new(t))),
            2 => (binary_like, any::<usize>(), any::<usize>()).prop_map(|(b, o, l)| Recipe::Sub(Box::new(b), o, l)),
        ]
    })
}

/// What a recipe may draw on: the heap's rooted terms and binaries held outside any heap.
pub struct Env<'a> {
    /// Roots of the heap being built on, with snapshots.
    pub roots: &'a [Rooted],
    /// Binaries held outside any heap.
    pub binaries: &'a [Binary],
}

/// One step down a term and its snapshot: a tuple element, or a list's head (even choice) or
/// tail (odd choice).
fn descend<'h>(t: Term<'h>, o: &OwnedTerm, choice: usize) -> Option<(Term<'h>, OwnedTerm)> {
    match o {
        OwnedTerm::Tuple(items) if !items.is_empty() => {
            let k = choice % items.len();
            Some((t.as_tuple().expect("snapshot says tuple")[k], items[k].clone()))
        }
        OwnedTerm::List(items, tail) => {
            let (head, rest) = t.as_cons().expect("snapshot says list");
            match choice % 2 {
                0 => Some((head, items[0].clone())),
                _ => Some((rest, OwnedTerm::improper_list(items[1..].to_vec(), (**tail).clone()))),
            }
        }
        _ => None,
    }
}

/// Builds a recipe on the heap, returning the term and the snapshot it must equal.
pub fn build<'h>(h: Mu<'h>, r: &Recipe, env: &Env<'_>) -> (Term<'h>, OwnedTerm) {
    match r {
        Recipe::Int(i) => (h.int(*i), OwnedTerm::Int(*i)),
        Recipe::Atom(k) => {
            let name = ATOM_NAMES[k % ATOM_NAMES.len()];
            (h.atom_named(name), OwnedTerm::atom(name))
        }
        Recipe::Pid(n) => (h.pid(Pid::new(*n)), OwnedTerm::Pid(Pid::new(*n))),
        Recipe::Ref(n) => (h.reference(Ref::from_number(*n)), OwnedTerm::Ref(Ref::from_number(*n))),
        Recipe::Float(x) => (h.float(*x), OwnedTerm::Float(*x)),
        Recipe::Nil => (h.nil(), OwnedTerm::Nil),
        Recipe::Bytes(b) => (h.binary(b), OwnedTerm::Binary(b.clone())),
        Recipe::Shared(i) => {
            if env.binaries.is_empty() {
                return (h.nil(), OwnedTerm::Nil);
            }
            let bin = &env.binaries[i % env.binaries.len()];
            (h.refc_binary(bin), OwnedTerm::Binary(bin.as_bytes().to_vec()))
        }
        Recipe::Sub(inner, offset, len) => {
            let (t, o) = build(h, inner, env);
            let Some(bytes) = t.as_binary() else { return (t, o) };
            assert_eq!(o, OwnedTerm::Binary(bytes.to_vec()), "binary built differs from its snapshot");
            let offset = offset % (bytes.len() + 1);
            let len = len % (bytes.len() - offset + 1);
            let sub = h.sub_binary(t, offset, len).expect("range inside the binary");
            (sub, OwnedTerm::Binary(bytes[offset..offset + len].to_vec()))
        }
        Recipe::Tuple(items) => {
            let (terms, owned): (Vec<_>, Vec<_>) = items.iter().map(|r| build(h, r, env)).unzip();
            (h.tuple(&terms), OwnedTerm::Tuple(owned))
        }
        Recipe::List(items, tail) => {
            let (terms, owned): (Vec<_>, Vec<_>) = items.iter().map(|r| build(h, r, env)).unzip();
            let (tail_term, tail_owned) = build(h, tail, env);
            (h.list_with_tail(terms, tail_term), OwnedTerm::improper_list(owned, tail_owned))
        }
        Recipe::Ints(n, from) => {
            let from = i64::from(*from);
            (h.list((from..from + *n as i64).map(|i| h.int(i))), int_list(*n as i64, from))
        }
        Recipe::Existing(i, path) => {
            if env.roots.is_empty() {
                return (h.nil(), OwnedTerm::Nil);
            }
            let (root, snap) = &env.roots[i % env.roots.len()];
            let mut at = (h.get(root), snap.clone());
            for &choice in path {
                match descend(at.0, &at.1, choice) {
                    Some(next) => at = next,
                    None => break,
                }
            }
            at
        }
    }
}
