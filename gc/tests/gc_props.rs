//! Property tests: random term graphs and random sequences of heap operations on two heaps.
//!
//! After every step each heap passes the verifier, every rooted term is deeply equal to the
//! owned snapshot taken when it was built, and each message queue holds the messages
//! delivered and not yet taken. At the end of a case every root is dropped,
//! a major collection must leave both heaps empty, and every off-heap binary the case
//! created must be freed again.
//!
//! The tests of this binary read the program-wide binary counters, so they run one at a time.

mod common;

use common::{arb_owned, arb_recipe, build, check, collect, config, roots_match, Env, Recipe, Rooted};
use heaplab_gc::{
    live_binaries, live_binary_bytes, Binary, Collect, Fragment, GcKind, GcReason, Heap, HeapOptions,
    OwnedTerm,
};
use proptest::collection::vec;
use proptest::prelude::*;

/// How a term moves to another heap (or within one).
#[derive(Clone, Copy, Debug)]
enum CopyHow {
    /// `Mu::copy`, both heaps open.
    Copy,
    /// `Mu::copy_shared`, both heaps open.
    CopyShared,
    /// `Mu::to_fragment`, then `attach` on the receiving heap later.
    Fragment,
    /// `Mu::to_fragment_shared`, then `attach`.
    FragmentShared,
}

#[derive(Clone, Debug)]
enum Op {
    /// Build a term and root it.
    Alloc { heap: usize, recipe: Recipe },
    /// Build a term `times` times and drop it.
    Garbage { heap: usize, recipe: Recipe, times: u8 },
    /// Drop a root.
    Drop { heap: usize, index: usize },
    /// Replace a root's term with a new one (which may contain parts of rooted terms).
    Replace { heap: usize, index: usize, recipe: Recipe },
    /// `collect(Minor)`.
    Minor { heap: usize },
    /// `collect(Major)`.
    Major { heap: usize },
    /// `collect_if_needed()`.
    Auto { heap: usize },
    /// Copy a rooted term to a heap (the same one or the other) and root the copy.
    Copy { from: usize, to: usize, index: usize, how: CopyHow },
    /// `set_fullsweep_after(n)`.
    Fullsweep { heap: usize, n: u32 },
    /// Deliver a copy of a rooted term to a heap's message queue.
    Deliver { from: usize, to: usize, index: usize },
    /// Take a message out of the queue; root it, or let it become garbage.
    Take { heap: usize, index: usize, keep: bool },
}

fn arb_op() -> impl Strategy<Value = Op> {
    let heap = 0usize..2;
    prop_oneof![
        6 => (heap.clone(), arb_recipe()).prop_map(|(heap, recipe)| Op::Alloc { heap, recipe }),
        3 => (heap.clone(), arb_recipe(), 1u8..20).prop_map(|(heap, recipe, times)| Op::Garbage { heap, recipe, times }),
        2 => (heap.clone(), any::<usize>()).prop_map(|(heap, index)| Op::Drop { heap, index }),
        3 => (heap.clone(), any::<usize>(), arb_recipe()).prop_map(|(heap, index, recipe)| Op::Replace { heap, index, recipe }),
        3 => heap.clone().prop_map(|heap| Op::Minor { heap }),
        1 => heap.clone().prop_map(|heap| Op::Major { heap }),
        2 => heap.clone().prop_map(|heap| Op::Auto { heap }),
        3 => (heap.clone(), heap.clone(), any::<usize>(), prop_oneof![
                Just(CopyHow::Copy), Just(CopyHow::CopyShared), Just(CopyHow::Fragment), Just(CopyHow::FragmentShared)
            ]).prop_map(|(from, to, index, how)| Op::Copy { from, to, index, how }),
        1 => (heap.clone(), 0u32..4).prop_map(|(heap, n)| Op::Fullsweep { heap, n }),
        2 => (heap.clone(), heap.clone(), any::<usize>()).prop_map(|(from, to, index)| Op::Deliver { from, to, index }),
        2 => (heap, any::<usize>(), any::<bool>()).prop_map(|(heap, index, keep)| Op::Take { heap, index, keep }),
    ]
}

fn arb_options() -> impl Strategy<Value = HeapOptions> {
    (prop::sample::select(vec![12usize, 38, 233]), prop::sample::select(vec![16usize, 1000, 46422])).prop_map(
        |(min_heap_size, min_bin_vheap_size)| HeapOptions {
            min_heap_size,
            min_bin_vheap_size,
            ..Default::default()
        },
    )
}

struct World {
    heaps: [Heap; 2],
    roots: [Vec<Rooted>; 2],
    /// Snapshots of each heap's undelivered messages, oldest first.
    messages: [Vec<OwnedTerm>; 2],
    binaries: Vec<Binary>,
}

impl World {
    fn check_all(&mut self) -> Result<(), TestCaseError> {
        for ((heap, roots), messages) in self.heaps.iter_mut().zip(&self.roots).zip(&self.messages) {
            heap.verify().map_err(|e| TestCaseError::fail(format!("verify: {e}")))?;
            roots_match(heap, roots).map_err(TestCaseError::fail)?;
            let queued: Vec<OwnedTerm> = heap
                .enter(|h| (0..h.message_count()).map(|i| h.message(i).unwrap().to_owned_term()).collect());
            prop_assert_eq!(&queued, messages, "message queue changed");
        }
        Ok(())
    }

    fn run(&mut self, op: &Op) {
        match op {
            Op::Alloc { heap, recipe } => {
                let env = Env { roots: &self.roots[*heap], binaries: &self.binaries };
                let rooted = self.heaps[*heap].enter(|h| {
                    let (t, o) = build(h, recipe, &env);
                    (h.root(t), o)
                });
                self.roots[*heap].push(rooted);
            }
            Op::Garbage { heap, recipe, times } => {
                let env = Env { roots: &self.roots[*heap], binaries: &self.binaries };
                self.heaps[*heap].enter(|h| {
                    for _ in 0..*times {
                        build(h, recipe, &env);
                    }
                });
            }
            Op::Drop { heap, index } => {
                let roots = &mut self.roots[*heap];
                if !roots.is_empty() {
                    let i = index % roots.len();
                    roots.swap_remove(i);
                }
            }
            Op::Replace { heap, index, recipe } => {
                if self.roots[*heap].is_empty() {
                    return;
                }
                let i = index % self.roots[*heap].len();
                let env = Env { roots: &self.roots[*heap], binaries: &self.binaries };
                let snapshot = self.heaps[*heap].enter(|h| {
                    let (t, o) = build(h, recipe, &env);
                    h.set(&env.roots[i].0, t);
                    o
                });
                self.roots[*heap][i].1 = snapshot;
            }
            Op::Minor { heap } => {
                let before = self.heaps[*heap].stats();
                let ev = collect(&mut self.heaps[*heap], Collect::Minor);
                // A minor request becomes a fullsweep only for erl_gc.c's reasons: nothing
                // mature and no old generation, `fullsweep_after`, or an old generation out
                // of room or of binary budget.
                if ev.kind == GcKind::Major && !(before.mature == 0 && before.old_capacity == 0) {
                    assert!(
                        matches!(
                            ev.reason,
                            GcReason::FullsweepAfter | GcReason::OldFull | GcReason::OldVheapFull
                        ),
                        "{ev:?}"
                    );
                }
            }
            Op::Major { heap } => {
                let ev = collect(&mut self.heaps[*heap], Collect::Major);
                assert_eq!(ev.kind, GcKind::Major);
            }
            Op::Auto { heap } => {
                let heap = &mut self.heaps[*heap];
                if heap.needs_gc() {
                    collect(heap, Collect::Auto);
                }
                assert!(!heap.needs_gc(), "a collection leaves room: {:?}", heap.stats());
            }
            Op::Copy { from, to, index, how } => {
                if self.roots[*from].is_empty() {
                    return;
                }
                let (source, snapshot) = &self.roots[*from][index % self.roots[*from].len()];
                let snapshot = snapshot.clone();
                let root = if from == to {
                    self.heaps[*to].enter(|h| {
                        let t = h.get(source);
                        let copy = match how {
                            CopyHow::Copy => h.copy(t),
                            CopyHow::CopyShared => h.copy_shared(t),
                            CopyHow::Fragment => h.attach(h.to_fragment(t)),
                            CopyHow::FragmentShared => h.attach(h.to_fragment_shared(t)),
                        };
                        h.root(copy)
                    })
                } else {
                    let [a, b] = &mut self.heaps;
                    let (src, dst) = if *from == 0 { (a, b) } else { (b, a) };
                    match how {
                        CopyHow::Copy | CopyHow::CopyShared => src.enter(|hs| {
                            dst.enter(|hd| {
                                let t = hs.get(source);
                                let copy =
                                    if matches!(how, CopyHow::Copy) { hd.copy(t) } else { hd.copy_shared(t) };
                                hd.root(copy)
                            })
                        }),
                        CopyHow::Fragment | CopyHow::FragmentShared => {
                            let fragment: Fragment = src.enter(|hs| {
                                let t = hs.get(source);
                                if matches!(how, CopyHow::Fragment) {
                                    hs.to_fragment(t)
                                } else {
                                    hs.to_fragment_shared(t)
                                }
                            });
                            assert_eq!(
                                fragment.to_owned_term(),
                                snapshot,
                                "fragment differs from its source"
                            );
                            dst.enter(|hd| {
                                let t = hd.attach(fragment);
                                hd.root(t)
                            })
                        }
                    }
                };
                self.roots[*to].push((root, snapshot));
            }
            Op::Fullsweep { heap, n } => self.heaps[*heap].set_fullsweep_after(*n),
            Op::Deliver { from, to, index } => {
                if self.roots[*from].is_empty() {
                    return;
                }
                let (source, snapshot) = &self.roots[*from][index % self.roots[*from].len()];
                let fragment = self.heaps[*from].enter(|h| h.to_fragment(h.get(source)));
                self.heaps[*to].deliver(fragment);
                self.messages[*to].push(snapshot.clone());
            }
            Op::Take { heap, index, keep } => {
                let queue = &mut self.messages[*heap];
                if queue.is_empty() {
                    return;
                }
                let i = index % queue.len();
                let snapshot = queue.remove(i);
                let root = self.heaps[*heap].enter(|h| {
                    let m = h.take_message(i).expect("queued message");
                    assert_eq!(m.to_owned_term(), snapshot, "taken message differs");
                    keep.then(|| h.root(m))
                });
                if let Some(root) = root {
                    self.roots[*heap].push((root, snapshot));
                }
            }
        }
    }

    /// Drops every root; a major collection must then leave each heap without data or
    /// binary handles, and every outside binary must be back to its own single reference.
    fn empty_out(&mut self) -> Result<(), TestCaseError> {
        for ((heap, roots), messages) in self.heaps.iter_mut().zip(&mut self.roots).zip(&mut self.messages) {
            roots.clear();
            heap.enter(|h| while h.take_message(0).is_some() {});
            messages.clear();
            collect(heap, Collect::Major);
            let s = heap.stats();
            prop_assert_eq!(s.roots, 0);
            prop_assert_eq!(s.used_words(), 0, "garbage survived: {:?}", s);
            prop_assert_eq!(s.mso_len, 0);
            prop_assert_eq!(s.vheap_young + s.vheap_old, 0);
        }
        for b in &self.binaries {
            prop_assert_eq!(b.refcount(), 1, "a heap still holds {:?}", b);
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(config(48))]

    /// Random operations on two heaps keep every heap valid and every rooted term intact.
    #[test]
    fn random_operations_keep_roots_intact(
        options in (arb_options(), arb_options()),
        binaries in vec(vec(any::<u8>(), 0..200), 0..4),
        ops in vec(arb_op(), 1..40),
    ) {
        let _serial = common::serial();
        let (live_before, bytes_before) = (live_binaries(), live_binary_bytes());
        {
            let binaries: Vec<Binary> = binaries.iter().map(|b| Binary::from_bytes(b)).collect();
            let mut world = World {
                heaps: [Heap::new(options.0).unwrap(), Heap::new(options.1).unwrap()],
                roots: [Vec::new(), Vec::new()],
                messages: [Vec::new(), Vec::new()],
                binaries,
            };
            for op in &ops {
                world.run(op);
                world.check_all()?;
            }
            world.empty_out()?;
        }
        prop_assert_eq!(live_binaries(), live_before, "binaries leaked");
        prop_assert_eq!(live_binary_bytes(), bytes_before);
    }

    /// A term built from an owned term reads back equal, before and after each kind of
    /// collection, and through a copy to another heap.
    #[test]
    fn owned_round_trip_survives_collection(term in arb_owned(), garbage in 0usize..3000) {
        let _serial = common::serial();
        let live_before = live_binaries();
        {
            let mut heap = Heap::default();
            let rooted = common::root_owned(&mut heap, &term);
            heap.enter(|h| {
                for i in 0..garbage {
                    h.tuple(&[h.int(i as i64)]);
                }
                prop_assert_eq!(h.get(&rooted.0).to_owned_term(), term.clone());
                Ok(())
            })?;
            let roots = [rooted];
            for how in [Collect::Minor, Collect::Minor, Collect::Auto, Collect::Major, Collect::Minor] {
                collect(&mut heap, how);
                check(&mut heap, &roots);
            }
            let mut other = Heap::default();
            let copied = heap.enter(|h| other.enter(|o| o.root(o.copy(h.get(&roots[0].0)))));
            drop(heap);
            let copied = [(copied, term.clone())];
            check(&mut other, &copied);
            collect(&mut other, Collect::Major);
            check(&mut other, &copied);
        }
        prop_assert_eq!(live_binaries(), live_before);
    }
}
