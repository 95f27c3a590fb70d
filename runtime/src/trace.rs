//! Scheduler slice tracing: an optional sink told about every slice a scheduler ran (which
//! process, on which scheduler, from when, for how long), for timelines such as a Chrome
//! trace of a run.
//!
//! A sink is set with [`Builder::slice_sink`](crate::Builder::slice_sink), or for every
//! runtime built on the current thread inside [`with_default_slice_sink`] (the way a
//! `tracing` subscriber is set with `with_default`): a measurement driver can then trace
//! a workload that builds its own runtime without that workload knowing about tracing.
//!
//! # Invariants
//! 1. Without a sink the scheduler pays one `Option` check per slice and reads no extra
//!    clock; with one it reads the clock once more per slice, right before the poll, so a
//!    slice's `start` excludes the time spent finding the process.
//! 2. The sink is called on the scheduler thread, after the poll returned and before the
//!    process is queued again or finished, once per slice, in the order the scheduler ran
//!    them; a sink must be cheap and must not block (it delays that scheduler).
//! 3. The scoped default is per thread and is restored when [`with_default_slice_sink`]
//!    returns (even by unwinding); it is read only when a [`Config`](crate::Config) is
//!    created with `Default`, never while a runtime runs.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use heaplab_gc::Pid;

/// One slice: a scheduler polled a process once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    /// Index of the scheduler thread, from 0.
    pub scheduler: u32,
    /// The process that ran.
    pub pid: Pid,
    /// When the poll began (Invariant 1).
    pub start: Instant,
    /// How long the poll took.
    pub duration: Duration,
}

/// Receives every slice of a runtime (Invariant 2).
pub trait SliceSink: Send + Sync {
    /// Called once per slice on the scheduler thread that ran it.
    fn record(&self, slice: &Slice);
}

thread_local! {
    /// The sink a `Config::default()` on this thread starts with (Invariant 3).
    static DEFAULT_SINK: RefCell<Option<Arc<dyn SliceSink>>> = const { RefCell::new(None) };
}

/// Runs `f` with `sink` as the slice sink of every runtime whose configuration is created
/// on this thread meanwhile (`Runtime::builder()`, `Config::default()`); a builder's own
/// [`slice_sink`](crate::Builder::slice_sink) still wins.
pub fn with_default_slice_sink<R>(sink: Arc<dyn SliceSink>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<dyn SliceSink>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            DEFAULT_SINK.with(|d| *d.borrow_mut() = previous);
        }
    }
    let previous = DEFAULT_SINK.with(|d| d.borrow_mut().replace(sink));
    let _restore = Restore(previous);
    f()
}

/// The scoped default of this thread, for `Config::default()`.
pub(crate) fn default_slice_sink() -> Option<Arc<dyn SliceSink>> {
    DEFAULT_SINK.with(|d| d.borrow().clone())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Slices(Mutex<Vec<Slice>>);

    impl SliceSink for Slices {
        fn record(&self, slice: &Slice) {
            self.0.lock().unwrap().push(*slice);
        }
    }

    #[test]
    fn every_process_slice_reaches_the_sink() {
        let sink = Arc::new(Slices::default());
        let rt = crate::Runtime::builder().schedulers(2).slice_sink(sink.clone()).build().unwrap();
        let pid = rt
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                let child = cx
                    .spawn(move |mut cx| async move {
                        cx.send(me, |h| h.int(1));
                    })
                    .unwrap();
                cx.receive(|_, m| m.as_int()).await;
                child
            })
            .unwrap();
        rt.shutdown();
        let slices = sink.0.lock().unwrap();
        assert!(slices.iter().any(|s| s.pid == pid), "the child's slice is recorded");
        assert!(slices.iter().all(|s| s.scheduler < 2));
    }

    #[test]
    fn the_scoped_default_applies_to_builders_and_is_restored() {
        let sink: Arc<dyn SliceSink> = Arc::new(Slices::default());
        assert!(crate::Runtime::builder().config().slice_sink.is_none());
        with_default_slice_sink(sink, || {
            assert!(crate::Runtime::builder().config().slice_sink.is_some());
        });
        assert!(crate::Runtime::builder().config().slice_sink.is_none());
    }
}
