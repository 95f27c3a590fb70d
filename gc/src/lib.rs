//! # heaplab-gc
//!
//! Terms and per-process heaps in the BEAM's memory model. Every lightweight process owns a
//! private [`Heap`]: a young and an old generation collected by a generational copying
//! (Cheney) collector, so a collection pauses one process and no other. Binaries above 64
//! bytes live off-heap, reference-counted and shared between heaps ([`Binary`]); a message is
//! copied into a standalone [`Fragment`] and attached to the receiver's heap in O(1); dropping
//! a heap frees its blocks and releases its binaries without visiting a live object.
//!
//! Terms ([`Term<'h>`]) carry a *generative brand*: a fresh invariant lifetime created by the
//! closure of [`Heap::enter`]. A term cannot leave the closure, cannot be stored into another
//! heap, and cannot survive a collection (which needs `&mut Heap`); values kept across
//! collections live in [`Root`]s, which the collector updates.
//!
//! ```
//! use heaplab_gc::{Collect, Heap, OwnedTerm};
//!
//! let mut heap = Heap::default();
//! // Build a list of 10,000 tuples {I, [I]} and keep it in a root.
//! let root = heap.enter(|h| {
//!     let items: Vec<_> = (0..10_000).map(|i| h.tuple(&[h.int(i), h.list([h.int(i)])])).collect();
//!     h.root(h.list(items))
//! });
//! // Garbage, then a collection: only the rooted list survives.
//! heap.enter(|h| { for i in 0..1000 { h.tuple(&[h.int(i)]); } });
//! heap.collect(Collect::Major).unwrap();
//! heap.verify().unwrap();
//! heap.enter(|h| {
//!     let list = h.get(&root);
//!     assert_eq!(list.list_len(), Some(10_000));
//!     let first = list.iter_list().next().unwrap();
//!     assert_eq!(first.to_owned_term(), OwnedTerm::tuple(vec![0.into(), OwnedTerm::list(vec![0.into()])]));
//! });
//! ```
//!
//! The brand makes misuse a compile error. A term cannot escape its closure:
//! ```compile_fail
//! let mut heap = heaplab_gc::Heap::default();
//! let t = heap.enter(|h| h.int(1)); // error: the brand cannot leave the closure
//! ```
//! nor cross into another heap, even with both heaps open:
//! ```compile_fail
//! let (mut a, mut b) = (heaplab_gc::Heap::default(), heaplab_gc::Heap::default());
//! a.enter(|ha| b.enter(|hb| { let t = ha.list([ha.int(1)]); hb.cons(t, hb.nil()); }));
//! ```
//! nor outlive a collection:
//! ```compile_fail
//! let mut heap = heaplab_gc::Heap::default();
//! heap.enter(|h| { let t = h.int(1); heap.collect(heaplab_gc::Collect::Minor).unwrap(); t });
//! ```
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]
#![warn(missing_docs)]

mod area;
mod atom;
mod binary;
mod block;
mod collect;
mod copy;
mod evacuate;
mod event;
mod fmt;
mod fragment;
mod heap;
pub mod hybrid;
mod layout;
mod mutator;
mod object;
mod options;
mod order;
mod owned;
mod root;
mod scratch;
pub mod shared;
mod sizes;
mod term;
mod unwind;
mod verify;

pub use atom::{Atom, AtomTableFull, MAX_ATOMS};
pub use binary::{live_binaries, live_binary_bytes, Binary};
#[cfg(feature = "fault-injection")]
pub use block::fault;
pub use block::{
    block_stats, release_pooled_blocks, trim_block_caches, trim_memory, BlockStats, CACHE_BYTES,
    CARRIER_BYTES, HOT_CACHE_BYTES, MMAP_THRESHOLD_WORDS, SYSTEM_POOL_BYTES,
};
pub use collect::{Collect, GcOutcome, HeapError};
pub use event::{GcEvent, GcEventSink, GcKind, GcReason, VecSink};
pub use fragment::Fragment;
pub use heap::{Heap, HeapStats, PRISTINE_QUEUE};
pub use layout::{HEAP_BINARY_LIMIT, MAX_PID, MAX_REF, MAX_SMALL, MIN_SMALL};
pub use mutator::Mu;
pub use options::{ConfigError, HeapOptions, MIN_ALLOWED_HEAP_SIZE};
pub use order::{compare, compare_owned};
pub use owned::OwnedTerm;
pub use root::Root;
pub use sizes::{
    heap_size_table, next_heap_size, next_vheap_size, step_above, DEFAULT_FULLSWEEP_AFTER,
    DEFAULT_MIN_BIN_VHEAP_SIZE, DEFAULT_MIN_HEAP_SIZE,
};
pub use term::{ListIter, Pid, Ref, Term, View, PID_INDEX_BITS};
pub use verify::VerifyError;
