//! The inbox: a lock-free multi-producer, single-consumer queue of envelopes, one word per
//! process when empty.
//!
//! Producers push onto an atomic singly linked stack with a compare-and-swap loop; the
//! owning process takes the whole stack at once with a swap and reverses it, which restores
//! arrival order. Because the consumer never pops single nodes, the ABA problem of a Treiber
//! stack cannot arise. A general-purpose queue (crossbeam's `SegQueue`) pads its head and
//! tail to cache lines, costing ~256 bytes for every idle process; this one costs 8.
//!
//! Nodes come from, and go back to, a small stock of spare node memory on each scheduler
//! thread ([`spares`]) before the allocator: a message between two processes on one
//! scheduler then costs no allocator call at all, where `malloc` and `free` were a tenth of
//! the hop.
//!
//! # Invariants
//! 1. `head` is null or points at a node allocated by `push` and not yet reclaimed; each
//!    node's `next` is null or the node pushed just before it.
//! 2. A node is reclaimed (its value read out and its memory given back with [`free_node`])
//!    exactly once: by the `Arrivals` that `take` made of it after the swap removed it from
//!    the stack, or by `Drop`.
//! 3. Every node's memory was allocated with the layout of `Node<T>`, by [`alloc_node`].

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ptr::{self, NonNull};
use std::sync::atomic::Ordering;

// The one concurrency primitive of the runtime written by hand is model-checked with loom:
// under `--cfg loom` its atomic is loom's, which explores every interleaving.
#[cfg(loom)]
use loom::sync::atomic::AtomicPtr;
#[cfg(not(loom))]
use std::sync::atomic::AtomicPtr;

struct Node<T> {
    value: T,
    next: *mut Node<T>,
}

/// A lock-free MPSC inbox.
pub(crate) struct Inbox<T> {
    head: AtomicPtr<Node<T>>,
}

// SAFETY: the inbox owns its nodes' values (Invariant 2); moving or sharing it between threads
// moves or shares `T`s that are `Send`, and all shared access goes through the atomic head.
unsafe impl<T: Send> Send for Inbox<T> {}
// SAFETY: as above; `push` and `take_all` synchronise through `head` (release/acquire).
unsafe impl<T: Send> Sync for Inbox<T> {}

impl<T> Inbox<T> {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Inbox<T> {
        Inbox { head: AtomicPtr::new(ptr::null_mut()) }
    }

    #[cfg(loom)]
    pub(crate) fn new() -> Inbox<T> {
        Inbox { head: AtomicPtr::new(ptr::null_mut()) }
    }

    /// Adds `value` (any thread).
    pub(crate) fn push(&self, value: T) {
        let node = alloc_node(value);
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            // SAFETY: `node` is ours until the CAS publishes it (Invariant 1).
            unsafe { (*node).next = head };
            match self.head.compare_exchange_weak(head, node, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return,
                Err(actual) => head = actual,
            }
        }
    }

    /// Takes everything pushed so far, oldest first, appending to `out`.
    #[cfg(test)]
    pub(crate) fn take_all(&self, out: &mut impl Extend<T>) {
        out.extend(self.take());
    }

    /// Takes everything pushed so far as an iterator, oldest first, that owns the taken
    /// nodes: the consumer can handle each value without holding the inbox or collecting
    /// the values into a buffer first.
    pub(crate) fn take(&self) -> Arrivals<T> {
        let mut node = self.head.swap(ptr::null_mut(), Ordering::Acquire);
        // The stack is newest first: reverse the links.
        let mut reversed: *mut Node<T> = ptr::null_mut();
        while !node.is_null() {
            // SAFETY: the swap removed these nodes from the stack, so they are ours alone
            // (Invariants 1 and 2); each is read and relinked once.
            unsafe {
                let next = (*node).next;
                (*node).next = reversed;
                reversed = node;
                node = next;
            }
        }
        Arrivals { next: reversed }
    }

    /// Whether nothing is waiting.
    pub(crate) fn is_empty(&self) -> bool {
        self.head.load(Ordering::Acquire).is_null()
    }
}

impl<T> Drop for Inbox<T> {
    fn drop(&mut self) {
        let mut node = self.head.swap(ptr::null_mut(), Ordering::Acquire);
        while !node.is_null() {
            // SAFETY: `&mut self`: no producer can still push; each remaining node is
            // reclaimed once (Invariant 2).
            let (value, next) = unsafe { free_node(node) };
            drop(value);
            node = next;
        }
    }
}

/// Values taken from an inbox, oldest first (Invariant 2: the nodes left are reclaimed
/// by `next` one at a time or all by `Drop`).
pub(crate) struct Arrivals<T> {
    next: *mut Node<T>,
}

// SAFETY: the taken nodes belong to this value alone (Invariant 2); sending it sends `T`s.
unsafe impl<T: Send> Send for Arrivals<T> {}

impl<T> Iterator for Arrivals<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.next.is_null() {
            return None;
        }
        // SAFETY: `next` was taken off the stack by `take` and not yet reclaimed; it is
        // reclaimed exactly once, here (Invariant 2).
        let (value, next) = unsafe { free_node(self.next) };
        self.next = next;
        Some(value)
    }
}

/// A new node holding `value`, its memory a spare one if this thread has one (Invariant 3).
fn alloc_node<T>(value: T) -> *mut Node<T> {
    let layout = Layout::new::<Node<T>>();
    let memory = match spares::take(layout) {
        Some(memory) => memory.as_ptr(),
        // SAFETY: a node is never zero-sized (it holds a pointer).
        None => unsafe { alloc(layout) },
    };
    if memory.is_null() {
        handle_alloc_error(layout);
    }
    let node = memory.cast::<Node<T>>();
    // SAFETY: `memory` is fresh (or spare, so unused) memory of `Node<T>`'s layout.
    unsafe { node.write(Node { value, next: ptr::null_mut() }) };
    node
}

/// Reads `node`'s value and link out and gives its memory back (to this thread's spares, or
/// the allocator).
///
/// # Safety
/// `node` came from [`alloc_node`] and is reclaimed here exactly once (Invariant 2).
unsafe fn free_node<T>(node: *mut Node<T>) -> (T, *mut Node<T>) {
    // SAFETY: the node is initialised and ours alone (the caller's promise); after the read
    // it is plain memory.
    let Node { value, next } = unsafe { node.read() };
    let layout = Layout::new::<Node<T>>();
    // SAFETY: `node` is non-null (it was allocated).
    let memory = unsafe { NonNull::new_unchecked(node.cast::<u8>()) };
    if !spares::give(memory, layout) {
        // SAFETY: allocated with this layout (Invariant 3), and no longer used.
        unsafe { dealloc(memory.as_ptr(), layout) };
    }
    (value, next)
}

/// A thread's stock of spare node memory: freed nodes wait here to serve the thread's next
/// pushes. Kept only between [`keep_spares`]`(true)` and `(false)`, which a scheduler thread
/// calls when it starts and stops (a thread outside the runtime keeps none, so it holds no
/// memory for a runtime it only sent to); one layout per thread (the first given; the
/// runtime has one node type); at most [`spares::MAX`] nodes; all freed when kept no more or
/// when the thread ends. So memory a burst of messages used goes back to the allocator
/// except for those few.
#[cfg(not(loom))]
mod spares {
    use std::alloc::{dealloc, Layout};
    use std::cell::Cell;
    use std::ptr::{self, NonNull};

    /// Spare nodes a thread keeps at most: more than a scheduler passes between the processes
    /// of one slice in the ring and request workloads, few enough (a few KiB) not to matter
    /// to a thread that only ever frees (one consuming another's messages).
    pub(super) const MAX: usize = 64;

    /// The spares, linked through their first word (every node is at least a pointer wide and
    /// pointer-aligned, as it holds one).
    ///
    /// Invariant: `head` is null or the first of `count` unused blocks of `layout`, each
    /// holding the address of the next (the last null).
    struct Spares {
        head: Cell<*mut u8>,
        count: Cell<usize>,
        layout: Cell<Option<Layout>>,
        /// Whether freed nodes are kept (a scheduler thread, while it runs).
        keep: Cell<bool>,
    }

    impl Spares {
        /// Frees every spare.
        fn release(&self) {
            let Some(layout) = self.layout.get() else { return };
            let mut memory = self.head.replace(ptr::null_mut());
            self.count.set(0);
            while !memory.is_null() {
                // SAFETY: a spare holds the next one's address in its first word and was
                // allocated with `layout` (the invariant); each is freed once.
                unsafe {
                    let next = memory.cast::<*mut u8>().read();
                    dealloc(memory, layout);
                    memory = next;
                }
            }
        }
    }

    impl Drop for Spares {
        fn drop(&mut self) {
            self.release();
        }
    }

    thread_local! {
        static SPARES: Spares = const {
            Spares {
                head: Cell::new(ptr::null_mut()),
                count: Cell::new(0),
                layout: Cell::new(None),
                keep: Cell::new(false),
            }
        };
    }

    /// Starts (`true`) or stops keeping freed nodes on this thread; stopping frees the stock.
    pub(crate) fn keep_spares(keep: bool) {
        let _ = SPARES.try_with(|s| {
            s.keep.set(keep);
            if !keep {
                s.release();
            }
        });
    }

    /// A spare of `layout`, if this thread has one.
    #[inline]
    pub(super) fn take(layout: Layout) -> Option<NonNull<u8>> {
        SPARES
            .try_with(|s| {
                let memory = NonNull::new(s.head.get())?;
                if s.layout.get() != Some(layout) {
                    return None;
                }
                // SAFETY: the head is a spare, holding the next one's address (the invariant).
                s.head.set(unsafe { memory.as_ptr().cast::<*mut u8>().read() });
                s.count.set(s.count.get() - 1);
                Some(memory)
            })
            .ok()
            .flatten()
    }

    /// Spares this thread holds now.
    #[cfg(test)]
    pub(super) fn count() -> usize {
        SPARES.with(|s| s.count.get())
    }

    /// Keeps `memory` (unused, allocated with `layout`) as a spare; `false` if it was not
    /// kept (another layout, the stock is full, or the thread is ending) and the caller must
    /// free it.
    #[inline]
    pub(super) fn give(memory: NonNull<u8>, layout: Layout) -> bool {
        debug_assert!(layout.size() >= size_of::<*mut u8>() && layout.align() >= align_of::<*mut u8>());
        SPARES
            .try_with(|s| {
                if !s.keep.get() {
                    return false;
                }
                let kept = *s.layout.get().get_or_insert(layout);
                if kept != layout || s.count.get() >= MAX {
                    return false;
                }
                s.layout.set(Some(kept));
                // SAFETY: `memory` is unused and at least a pointer wide and aligned.
                unsafe { memory.as_ptr().cast::<*mut u8>().write(s.head.get()) };
                s.head.set(memory.as_ptr());
                s.count.set(s.count.get() + 1);
                true
            })
            .unwrap_or(false)
    }
}

/// Under loom every node goes to the allocator: the model checks the queue, not the stock.
#[cfg(loom)]
mod spares {
    use std::alloc::Layout;
    use std::ptr::NonNull;

    pub(super) fn take(_layout: Layout) -> Option<NonNull<u8>> {
        None
    }

    pub(super) fn give(_memory: NonNull<u8>, _layout: Layout) -> bool {
        false
    }

    pub(crate) fn keep_spares(_keep: bool) {}
}

pub(crate) use spares::keep_spares;

impl<T> Drop for Arrivals<T> {
    fn drop(&mut self) {
        self.for_each(drop);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    /// Two producers and the consumer interleaved every way: nothing is lost or duplicated,
    /// and each producer's values come out in the order it pushed them.
    #[test]
    fn two_producers_one_consumer() {
        loom::model(|| {
            let inbox = Arc::new(Inbox::new());
            let producers: Vec<_> = (0..2u32)
                .map(|p| {
                    let inbox = Arc::clone(&inbox);
                    loom::thread::spawn(move || {
                        inbox.push((p, 0));
                        inbox.push((p, 1));
                    })
                })
                .collect();
            let mut got = Vec::new();
            inbox.take_all(&mut got);
            for p in producers {
                p.join().unwrap();
            }
            inbox.take_all(&mut got);
            assert_eq!(got.len(), 4);
            for p in 0..2u32 {
                let seq: Vec<u32> = got.iter().filter(|(q, _)| *q == p).map(|(_, i)| *i).collect();
                assert_eq!(seq, vec![0, 1]);
            }
        });
    }

    /// Values still queued when the inbox is dropped are dropped with it, exactly once.
    #[test]
    fn drop_with_pending_values() {
        loom::model(|| {
            let value = Arc::new(());
            let inbox = Arc::new(Inbox::new());
            let producer = {
                let inbox = Arc::clone(&inbox);
                let value = Arc::clone(&value);
                loom::thread::spawn(move || inbox.push(value))
            };
            producer.join().unwrap();
            drop(inbox);
            assert_eq!(Arc::strong_count(&value), 1);
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn keeps_order_per_producer_and_loses_nothing() {
        let inbox = Arc::new(Inbox::new());
        let producers: Vec<_> = (0..4u64)
            .map(|p| {
                let inbox = Arc::clone(&inbox);
                std::thread::spawn(move || {
                    for i in 0..10_000u64 {
                        inbox.push((p, i));
                    }
                })
            })
            .collect();
        let mut got = Vec::new();
        while got.len() < 40_000 {
            inbox.take_all(&mut got);
        }
        for p in producers {
            p.join().unwrap();
        }
        inbox.take_all(&mut got);
        assert_eq!(got.len(), 40_000);
        for p in 0..4u64 {
            let seq: Vec<u64> = got.iter().filter(|(q, _)| *q == p).map(|(_, i)| *i).collect();
            assert_eq!(seq, (0..10_000).collect::<Vec<_>>());
        }
        assert!(inbox.is_empty());
    }

    /// A burst of messages leaves at most `MAX` spare nodes on the thread; they serve the
    /// next pushes, and every value comes out once, in order.
    #[test]
    fn spare_nodes_are_bounded_and_reused() {
        std::thread::spawn(|| {
            keep_spares(true);
            let value = Arc::new(());
            let inbox = Inbox::new();
            for _ in 0..3 * spares::MAX {
                inbox.push(Arc::clone(&value));
            }
            assert_eq!(spares::count(), 0);
            let mut got = Vec::new();
            inbox.take_all(&mut got);
            assert_eq!(got.len(), 3 * spares::MAX);
            drop(got);
            assert_eq!(spares::count(), spares::MAX);
            assert_eq!(Arc::strong_count(&value), 1);
            inbox.push(Arc::clone(&value));
            assert_eq!(spares::count(), spares::MAX - 1);
            drop(inbox);
            assert_eq!(Arc::strong_count(&value), 1);
            assert_eq!(spares::count(), spares::MAX);
            keep_spares(false);
            assert_eq!(spares::count(), 0);
            inbox_round_trip();
            assert_eq!(spares::count(), 0, "a thread that does not keep spares keeps none");
        })
        .join()
        .unwrap();
    }

    /// The stock keeps one node layout per thread: an inbox of another type allocates and
    /// frees its nodes as usual, and loses nothing.
    #[test]
    fn other_node_types_bypass_the_stock() {
        std::thread::spawn(|| {
            keep_spares(true);
            let small = Inbox::new();
            small.push(1u8);
            small.take_all(&mut Vec::new());
            assert_eq!(spares::count(), 1);
            let large = Inbox::new();
            for i in 0..10u64 {
                large.push([i; 8]);
            }
            let mut got = Vec::new();
            large.take_all(&mut got);
            assert_eq!(got, (0..10u64).map(|i| [i; 8]).collect::<Vec<_>>());
            assert_eq!(spares::count(), 1);
            small.push(2u8);
            assert_eq!(spares::count(), 0);
            let mut got = Vec::new();
            small.take_all(&mut got);
            assert_eq!(got, vec![2]);
        })
        .join()
        .unwrap();
    }

    /// One value through an inbox of its own.
    fn inbox_round_trip() {
        let inbox = Inbox::new();
        inbox.push(7u64);
        let mut got = Vec::new();
        inbox.take_all(&mut got);
        assert_eq!(got, vec![7]);
    }

    #[test]
    fn drop_frees_pending_values() {
        let value = Arc::new(());
        let inbox = Inbox::new();
        inbox.push(Arc::clone(&value));
        inbox.push(Arc::clone(&value));
        drop(inbox);
        assert_eq!(Arc::strong_count(&value), 1);
    }
}
