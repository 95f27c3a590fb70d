//! The safepoint: every worker stops, the workers collect together, every worker restarts.
//!
//! A worker entering [`stop`] retires its TLAB and waits; the last of the registered TLABs to
//! arrive prepares the collection and wakes the others; all of them work on it; the last to
//! finish completes it and releases everyone. A verification ([`super::SharedHeap::verify`])
//! is led the same way: the last to arrive runs the verifier with every worker stopped,
//! before the collection if one is pending too, then releases everyone.
//!
//! No panic leaves a stop: from a worker's arrival to its release, the heap may be torn, so
//! a panic there (a failed verification, a bug) aborts the program rather than leave the
//! other workers waiting forever on a collection that will never finish (see `unwind`).
//!
//! # Invariants
//! 1. `participants` counts registered TLABs; it changes only while no collection runs
//!    (registering waits for a running collection to end).
//! 2. A collection starts only when `arrived == participants`: every TLAB is retired and
//!    stopped here, so no brand is open (module Invariant 1).
//! 3. `epoch` increments exactly once per stop, when it is complete; a worker leaves the
//!    safepoint only after that.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use super::collector::Collection;
use super::tlab::Tlab;
use super::Inner;
use crate::event::GcEvent;
use crate::unwind::AbortOnUnwind;

#[derive(Default)]
pub(crate) struct Safepoint {
    state: Mutex<StopState>,
    changed: Condvar,
}

#[derive(Default)]
struct StopState {
    participants: usize,
    /// TLAB indices, so each registered worker has its own in-flight shard.
    next_index: usize,
    arrived: usize,
    epoch: u64,
    collection: Option<Arc<Collection>>,
    /// Worker numbers handed out for the running collection.
    joined: usize,
    /// Workers done with the running collection.
    done: usize,
}

impl Safepoint {
    fn lock(&self) -> MutexGuard<'_, StopState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, StopState>) -> MutexGuard<'a, StopState> {
        self.changed.wait(guard).unwrap_or_else(|e| e.into_inner())
    }
}

/// Registers a TLAB (Invariant 1); returns its index.
pub(crate) fn join(inner: &Inner) -> usize {
    let sp = &inner.safepoint;
    let mut st = sp.lock();
    while st.collection.is_some() {
        st = sp.wait(st);
    }
    st.participants += 1;
    st.next_index += 1;
    st.next_index - 1
}

/// Unregisters a retired TLAB; a collection waiting only for it can now start.
pub(crate) fn leave(inner: &Inner) {
    let sp = &inner.safepoint;
    let mut st = sp.lock();
    st.participants -= 1;
    drop(st);
    sp.changed.notify_all();
}

/// Stops the calling worker for the pending stop, if any (see the module docs): a
/// collection, a verification, or both.
pub(crate) fn stop(inner: &Arc<Inner>, tlab: &mut Tlab) -> Option<GcEvent> {
    if !inner.requested.load(Ordering::Acquire) {
        return None;
    }
    tlab.retire();
    let sp = &inner.safepoint;
    let mut st = sp.lock();
    // Another worker may have completed the stop while this one got here.
    if st.collection.is_none() && !inner.requested.load(Ordering::Acquire) {
        return None;
    }
    // From here until this worker leaves, the heap may be torn: no panic may escape.
    let _torn = AbortOnUnwind::new("a shared-heap collection");
    let epoch = st.epoch;
    st.arrived += 1;
    let collection = loop {
        if let Some(c) = &st.collection {
            break Arc::clone(c);
        }
        if st.epoch != epoch {
            // A stop that only verified the heap ended while this worker waited.
            return None;
        }
        if st.arrived == st.participants {
            // Invariant 2: everyone is here; this worker leads. A requested verification
            // sees the heap as the workers left it, before any collection of this stop.
            let stopped_at = Instant::now();
            inner.verify_if_requested();
            match Collection::prepare(inner, st.arrived, stopped_at) {
                Some(c) => {
                    let c = Arc::new(c);
                    st.collection = Some(Arc::clone(&c));
                    sp.changed.notify_all();
                    break c;
                }
                None => {
                    end_stop(&mut st);
                    drop(st);
                    sp.changed.notify_all();
                    return None;
                }
            }
        }
        st = sp.wait(st);
    };
    let worker = st.joined;
    st.joined += 1;
    drop(st);

    collection.work(inner, worker);

    let mut st = sp.lock();
    st.done += 1;
    if st.done == collection.workers() {
        let event = collection.finish(inner);
        st.collection = None;
        end_stop(&mut st);
        drop(st);
        sp.changed.notify_all();
        inner.record(&event);
        return Some(event);
    }
    while st.epoch == epoch {
        st = sp.wait(st);
    }
    None
}

/// Ends the current stop (Invariant 3): counters reset, epoch advanced.
fn end_stop(st: &mut StopState) {
    st.arrived = 0;
    st.joined = 0;
    st.done = 0;
    st.epoch += 1;
}
