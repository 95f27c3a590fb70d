//! The inbox: a lock-free multi-producer, single-consumer queue of envelopes, one word per
//! process when empty.
//!
//! Producers push onto an atomic singly linked stack with a compare-and-swap loop; the
//! owning process takes the whole stack at once with a swap and reverses it, which restores
//! arrival order. Because the consumer never pops single nodes, the ABA problem of a Treiber
//! stack cannot arise. A general-purpose queue (crossbeam's `SegQueue`) pads its head and
//! tail to cache lines, costing ~256 bytes for every idle process; this one costs 8.
//!
//! # Invariants
//! 1. `head` is null or points at a node allocated by `push` with `Box::into_raw` and not
//!    yet reclaimed; each node's `next` is null or the node pushed just before it.
//! 2. A node is reclaimed (turned back into a `Box`) exactly once: by the `Arrivals` that
//!    `take` made of it after the swap removed it from the stack, or by `Drop`.

use std::ptr;
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
        let node = Box::into_raw(Box::new(Node { value, next: ptr::null_mut() }));
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
            let boxed = unsafe { Box::from_raw(node) };
            node = boxed.next;
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
        let boxed = unsafe { Box::from_raw(self.next) };
        self.next = boxed.next;
        Some(boxed.value)
    }
}

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
