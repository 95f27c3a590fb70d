//! The safepoint: every worker stops, the workers collect together, every worker restarts.
//!
//! A worker entering [`stop`] retires its TLAB and waits; the last of the registered TLABs to
//! arrive prepares the collection and wakes the others; all of them work on it; the last to
//! finish completes it and releases everyone.
//!
//! # Invariants
//! 1. `participants` counts registered TLABs; it changes only while no collection runs
//!    (registering waits for a running collection to end).
//! 2. A collection starts only when `arrived == participants`: every TLAB is retired and
//!    stopped here, so no brand is open (module Invariant 1).
//! 3. `epoch` increments exactly once per collection, when it is complete; a worker leaves
//!    the safepoint only after that.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use super::collector::Collection;
use super::tlab::Tlab;
use super::Inner;
use crate::event::GcEvent;

#[derive(Default)]
pub(crate) struct Safepoint {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
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
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
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

/// Stops the calling worker for the pending collection, if any (see the module docs).
pub(crate) fn stop(inner: &Arc<Inner>, tlab: &mut Tlab) -> Option<GcEvent> {
    if !inner.requested.load(std::sync::atomic::Ordering::Acquire) {
        return None;
    }
    tlab.retire();
    let sp = &inner.safepoint;
    let mut st = sp.lock();
    // Another worker may have completed the collection while this one got here.
    if st.collection.is_none() && !inner.requested.load(std::sync::atomic::Ordering::Acquire) {
        return None;
    }
    let epoch = st.epoch;
    st.arrived += 1;
    let collection = loop {
        if let Some(c) = &st.collection {
            break Arc::clone(c);
        }
        if st.arrived == st.participants {
            // Invariant 2: everyone is here; this worker prepares.
            let c = Arc::new(Collection::prepare(inner, st.arrived, Instant::now()));
            st.collection = Some(Arc::clone(&c));
            sp.changed.notify_all();
            break c;
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
        st.arrived = 0;
        st.joined = 0;
        st.done = 0;
        st.epoch += 1;
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
