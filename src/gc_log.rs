//! The log of every garbage collection in a run: a [`GcEventSink`] that workloads attach to
//! each heap they create, and the summaries a report derives from it.
//!
//! # Invariants
//! 1. Every collection of every heap a workload attaches the log to appears exactly once, as
//!    the collector reported it; the log never filters or merges events.
//! 2. Event times are offsets from the log's origin (the start of the run), in nanoseconds,
//!    so CSV rows and trace events of one run share one clock.
//! 3. Records are kept in arrival order; events of one heap arrive in the order they ran.

use std::sync::Mutex;
use std::time::Instant;

use heaplab_gc::{GcEvent, GcEventSink, GcKind};

use crate::histogram::DurationHistogram;
use crate::report::GcSummary;

/// One collection, with times relative to the run's start (Invariant 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcRecord {
    /// `minor` or `major`.
    pub kind: &'static str,
    /// What triggered the collection, e.g. `Requested`.
    pub reason: String,
    /// The process owning the heap, if any.
    pub pid: Option<u64>,
    /// The scheduler that ran the collection, if known.
    pub scheduler: Option<u32>,
    /// Start, in nanoseconds since the run started.
    pub start_ns: u64,
    /// Duration in nanoseconds.
    pub duration_ns: u64,
    /// Words in use before the collection.
    pub words_before: u64,
    /// Words in use after the collection.
    pub words_after: u64,
    /// Words copied.
    pub words_copied: u64,
    /// Of the words copied, the words promoted to the old generation.
    pub words_promoted: u64,
    /// Off-heap binaries freed.
    pub binaries_freed: u64,
    /// Of `duration_ns`, the wait for every scheduler to reach the safepoint (shared heap;
    /// 0 for a private heap).
    pub time_to_safepoint_ns: u64,
    /// Words copied by the busiest collector thread.
    pub max_worker_words: u64,
}

impl GcRecord {
    /// `event` with times relative to `origin` (an event before `origin` starts at 0).
    pub fn from_event(event: &GcEvent, origin: Instant) -> GcRecord {
        GcRecord {
            kind: event.kind.as_str(),
            reason: format!("{:?}", event.reason),
            pid: event.pid.map(|pid| pid.number()),
            scheduler: event.scheduler,
            start_ns: nanos(event.start.saturating_duration_since(origin).as_nanos()),
            duration_ns: nanos(event.duration.as_nanos()),
            words_before: event.words_before,
            words_after: event.words_after,
            words_copied: event.words_copied,
            words_promoted: event.words_promoted,
            binaries_freed: event.binaries_freed,
            time_to_safepoint_ns: nanos(event.time_to_safepoint.as_nanos()),
            max_worker_words: event.max_worker_words,
        }
    }
}

/// Nanoseconds as a `u64`, saturating (about 584 years).
pub(crate) fn nanos(value: u128) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

/// The event sink of one run (Invariant 1).
#[derive(Debug)]
pub struct GcLog {
    origin: Instant,
    records: Mutex<Vec<GcRecord>>,
}

impl GcLog {
    /// An empty log whose clock starts now.
    pub fn new() -> GcLog {
        GcLog { origin: Instant::now(), records: Mutex::new(Vec::new()) }
    }

    /// The instant event times are measured from.
    pub fn origin(&self) -> Instant {
        self.origin
    }

    /// Appends a record measured elsewhere, with its times already relative to the run's
    /// start (the BEAM's collections, as its tracer reported them; see [`crate::beam`]).
    pub fn push(&self, record: GcRecord) {
        self.records.lock().unwrap_or_else(|e| e.into_inner()).push(record);
    }

    /// The summed pauses of the collections logged so far that began within `from..=to` and
    /// that `which` selects.
    pub fn pause_ns_between(&self, from: Instant, to: Instant, which: impl Fn(&GcRecord) -> bool) -> u64 {
        let (from, to) = (self.since_origin(from), self.since_origin(to));
        let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records.iter().filter(|r| (from..=to).contains(&r.start_ns) && which(r)).map(|r| r.duration_ns).sum()
    }

    fn since_origin(&self, at: Instant) -> u64 {
        nanos(at.saturating_duration_since(self.origin).as_nanos())
    }

    /// Runs `f` on the records so far, in arrival order, leaving them in the log.
    pub fn with_records<R>(&self, f: impl FnOnce(&[GcRecord]) -> R) -> R {
        f(&self.records.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Takes the records so far, in arrival order (Invariant 3).
    pub fn take(&self) -> Vec<GcRecord> {
        std::mem::take(&mut *self.records.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Default for GcLog {
    fn default() -> Self {
        GcLog::new()
    }
}

impl GcEventSink for GcLog {
    fn record(&self, event: &GcEvent) {
        let record = GcRecord::from_event(event, self.origin);
        self.records.lock().unwrap_or_else(|e| e.into_inner()).push(record);
    }
}

/// Totals of `records` for the report's `gc` section.
pub fn summarize(records: &[GcRecord]) -> GcSummary {
    let mut summary = GcSummary::default();
    let mut nanos: u128 = 0;
    for record in records {
        // A message-area collection counts with its generation: the report's schema has
        // minor and major counts only (the kinds stay apart in the raw events).
        if record.kind == GcKind::Minor.as_str() || record.kind == GcKind::AreaMinor.as_str() {
            summary.minor += 1;
        } else {
            summary.major += 1;
        }
        summary.words_copied += record.words_copied;
        summary.words_promoted += record.words_promoted;
        nanos += u128::from(record.duration_ns);
    }
    summary.gc_time_s = nanos as f64 / 1e9;
    summary
}

/// How many collector threads' worth of copying ran in parallel, over the whole run:
/// words copied / words copied by each collection's busiest thread (1 = one thread did all
/// the copying; 2 = two threads shared it evenly). `None` if nothing was copied.
pub fn copy_parallelism(records: &[GcRecord]) -> Option<f64> {
    let copied: u64 = records.iter().map(|r| r.words_copied).sum();
    let busiest: u64 = records.iter().map(|r| r.max_worker_words).sum();
    (busiest > 0).then(|| copied as f64 / busiest as f64)
}

/// Whether `record` is a collection of the hybrid heap's message area, or one increment of
/// it (either stops every process), rather than of one process's heap.
pub fn is_area(record: &GcRecord) -> bool {
    GcKind::from_name(record.kind)
        .is_some_and(|kind| matches!(kind, GcKind::AreaMinor | GcKind::AreaMajor | GcKind::AreaIncrement))
}

/// The pause of every collection in `records`, as the collector measured it.
pub fn pause_histogram(records: &[GcRecord]) -> DurationHistogram {
    histogram_of(records, |record| record.duration_ns)
}

/// The wait for every scheduler to stop of each collection in `records` (0 for a private
/// heap's, which needs no safepoint).
pub fn time_to_safepoint_histogram(records: &[GcRecord]) -> DurationHistogram {
    histogram_of(records, |record| record.time_to_safepoint_ns)
}

fn histogram_of(records: &[GcRecord], nanos: impl Fn(&GcRecord) -> u64) -> DurationHistogram {
    let mut histogram = DurationHistogram::new();
    for record in records {
        histogram.record_ns(nanos(record));
    }
    histogram
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn the_area_collections_and_increments_are_told_from_private_ones() {
        for kind in GcKind::ALL {
            let name = kind.as_str();
            let area = matches!(kind, GcKind::AreaMinor | GcKind::AreaMajor | GcKind::AreaIncrement);
            assert_eq!(is_area(&record(name, 0, 1)), area, "{name}");
        }
    }

    /// A record for tests of the modules that consume the log.
    pub(crate) fn record(kind: &'static str, start_ns: u64, duration_ns: u64) -> GcRecord {
        GcRecord {
            kind,
            reason: "Requested".to_owned(),
            pid: None,
            scheduler: None,
            start_ns,
            duration_ns,
            words_before: 100,
            words_after: 60,
            words_copied: 60,
            words_promoted: 10,
            binaries_freed: 0,
            time_to_safepoint_ns: 0,
            max_worker_words: 0,
        }
    }

    #[test]
    fn summaries_count_kinds_and_add_up_work() {
        let records = [record("minor", 0, 1_000), record("major", 5_000, 2_000)];
        let summary = summarize(&records);
        assert_eq!((summary.minor, summary.major), (1, 1));
        assert_eq!(summary.words_copied, 120);
        assert_eq!(summary.words_promoted, 20);
        assert!((summary.gc_time_s - 3e-6).abs() < 1e-12);
        assert_eq!(pause_histogram(&records).len(), 2);
    }
}
