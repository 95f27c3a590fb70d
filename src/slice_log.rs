//! The log of scheduler slices in a traced run: a [`SliceSink`] handed to the runtime (see
//! `heaplab_runtime::trace`) so a Chrome trace shows which process ran on which scheduler
//! and when, next to the run's collections.
//!
//! # Invariants
//! 1. Slice times are offsets from the same origin as the run's [`GcLog`](crate::gc_log::GcLog),
//!    in nanoseconds, so slices and collections line up on one clock.
//! 2. At most [`MAX_SLICES`] slices are kept; later ones are counted in
//!    [`SliceLog::dropped`], never silently lost.
//! 3. Recording takes one uncontended lock: each scheduler has its own shard.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use heaplab_runtime::trace::{Slice, SliceSink};

/// Slices kept per run (Invariant 2). A trace event takes about 120 bytes of JSON, so this
/// keeps a trace file near 60 MB, which Perfetto opens in seconds; a million-hop ring makes
/// more slices than that, and its first half-million show the pattern as well.
pub const MAX_SLICES: u64 = 500_000;

/// Shards of the log (Invariant 3): scheduler `i` records into shard `i % SHARDS`.
const SHARDS: usize = 64;

/// One scheduler slice, with times relative to the run's start (Invariant 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SliceRecord {
    /// Index of the scheduler thread, from 0.
    pub scheduler: u32,
    /// The process that ran (its number).
    pub pid: u64,
    /// Start, in nanoseconds since the run started.
    pub start_ns: u64,
    /// Duration in nanoseconds.
    pub duration_ns: u64,
}

/// The slice sink of one traced run.
#[derive(Debug)]
pub struct SliceLog {
    origin: Instant,
    kept: AtomicU64,
    dropped: AtomicU64,
    shards: Vec<Mutex<Vec<SliceRecord>>>,
}

impl SliceLog {
    /// An empty log measuring from `origin` (the GC log's, Invariant 1).
    pub fn new(origin: Instant) -> SliceLog {
        SliceLog {
            origin,
            kept: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            shards: (0..SHARDS).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }

    /// Takes the slices so far, ordered by start time.
    pub fn take(&self) -> Vec<SliceRecord> {
        let mut all = Vec::new();
        for shard in &self.shards {
            all.append(&mut shard.lock().unwrap_or_else(|e| e.into_inner()));
        }
        all.sort_by_key(|slice| (slice.start_ns, slice.scheduler));
        all
    }

    /// Slices not kept because the log was full (Invariant 2).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl SliceSink for SliceLog {
    fn record(&self, slice: &Slice) {
        if self.kept.fetch_add(1, Ordering::Relaxed) >= MAX_SLICES {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let nanos = |value: u128| u64::try_from(value).unwrap_or(u64::MAX);
        let record = SliceRecord {
            scheduler: slice.scheduler,
            pid: slice.pid.number(),
            start_ns: nanos(slice.start.saturating_duration_since(self.origin).as_nanos()),
            duration_ns: nanos(slice.duration.as_nanos()),
        };
        let shard = &self.shards[slice.scheduler as usize % SHARDS];
        shard.lock().unwrap_or_else(|e| e.into_inner()).push(record);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_runtime_reports_its_slices_on_the_log_clock() {
        let origin = Instant::now();
        let log = Arc::new(SliceLog::new(origin));
        let rt = heaplab_runtime::Runtime::builder().schedulers(2).slice_sink(log.clone()).build().unwrap();
        let root = rt.block_on(|cx| async move { cx.self_pid().number() }).unwrap();
        rt.shutdown();
        let slices = log.take();
        assert!(slices.iter().any(|s| s.pid == root), "{slices:?}");
        assert!(slices.windows(2).all(|w| w[0].start_ns <= w[1].start_ns));
        assert_eq!(log.dropped(), 0);
    }
}
