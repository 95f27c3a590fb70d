//! Helpers shared by the runtime's integration tests.
//!
//! Every test crate that includes this module defines `fn heap_kind() -> HeapKind` at its
//! root, and every runtime a test builds comes from [`builder`], so that the suite under
//! `suite/` runs once per heap strategy.
//!
//! Every test that waits on the runtime runs under [`within`], so that a regression that
//! hangs (a lost wake-up, a starved process, a scheduler that never preempts) fails the
//! test with a message instead of hanging the suite. Limits are generous on purpose: they
//! bound waits, they do not measure speed.
#![allow(dead_code)]

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use heaplab_runtime::heaplab_gc::{Mu, OwnedTerm, Term};
use heaplab_runtime::{Builder, Runtime};

/// How long any single test may wait for the runtime before it counts as hung.
pub const HANG: Duration = Duration::from_secs(60);

/// Runs `f` on its own thread and returns its result; panics if it has not finished
/// within `limit` (a hang), and re-raises its panic if it panicked.
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("test-body".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("spawn test thread");
    match rx.recv_timeout(limit) {
        Ok(v) => {
            handle.join().expect("test thread finished");
            v
        }
        Err(RecvTimeoutError::Timeout) => panic!("no result within {limit:?}: the runtime hung"),
        Err(RecvTimeoutError::Disconnected) => match handle.join() {
            Err(payload) => std::panic::resume_unwind(payload),
            Ok(()) => unreachable!("the test thread ended without a result or a panic"),
        },
    }
}

/// [`within`] the default [`HANG`] limit.
pub fn guarded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    within(HANG, f)
}

/// Polls `cond` from outside the runtime until it holds or `limit` passes; returns whether
/// it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A runtime builder under the test crate's heap strategy.
pub fn builder() -> Builder {
    Runtime::builder().heap_kind(crate::heap_kind())
}

/// A runtime with `schedulers` scheduler threads and otherwise default options.
pub fn runtime(schedulers: usize) -> Runtime {
    builder().schedulers(schedulers).build().expect("valid configuration")
}

/// Waits until every process of `rt` has exited (their exit is processed after their last
/// poll, so it can trail a result already handed back), then asserts none is left.
pub fn assert_drains(rt: &Runtime, expected: usize) {
    wait_until(HANG, || rt.process_count() == expected);
    assert_eq!(rt.process_count(), expected, "processes left alive");
}

/// Matcher: any integer message.
pub fn int<'h>(_: Mu<'h>, m: Term<'h>) -> Option<i64> {
    m.as_int()
}

/// Matcher: any atom message, by name.
pub fn atom<'h>(_: Mu<'h>, m: Term<'h>) -> Option<&'static str> {
    Some(m.as_atom()?.name())
}

/// Matcher: any message at all, as an owned term.
pub fn any<'h>(_: Mu<'h>, m: Term<'h>) -> Option<heaplab_runtime::heaplab_gc::OwnedTerm> {
    Some(m.to_owned_term())
}

/// Off-heap binaries are counted process-wide: the tests of a test crate that make them
/// run one at a time under this lock.
pub static BINARIES: Mutex<()> = Mutex::new(());

/// The message process `from` sends in `round` of the ring tests: a list of
/// `{From, Round, [K, K+1]}` tuples.
pub fn ring_message<'h>(h: Mu<'h>, from: i64, round: i64) -> Term<'h> {
    let items: Vec<Term<'h>> = (0..40)
        .map(|k| {
            let pair = h.list([h.int(k), h.int(k + 1)]);
            h.tuple(&[h.int(from), h.int(round), pair])
        })
        .collect();
    h.list(items)
}

/// [`ring_message`] built outside any heap, to compare against.
pub fn ring_message_owned(from: i64, round: i64) -> OwnedTerm {
    let items = (0..40)
        .map(|k| {
            let pair = OwnedTerm::list(vec![OwnedTerm::Int(k), OwnedTerm::Int(k + 1)]);
            OwnedTerm::Tuple(vec![OwnedTerm::Int(from), OwnedTerm::Int(round), pair])
        })
        .collect();
    OwnedTerm::list(items)
}
