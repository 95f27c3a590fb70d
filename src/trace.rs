//! Chrome trace-event JSON (`--trace FILE`): opens in Perfetto or `chrome://tracing`.
//!
//! The trace is a JSON array of complete events (`"ph": "X"`), one per timed span. Garbage
//! collections are added from the run's [`GcRecord`]s; any other span (a scheduler running a
//! process, a request) is added with [`Trace::complete`], so later event sources need no
//! change here.
//!
//! # Invariants
//! 1. `ts` and `dur` are microseconds (fractional, from nanosecond records) since the run's
//!    start, the unit the trace-event format defines.
//! 2. `pid` is the heaplab process number, or 0 when the span belongs to no process; `tid` is
//!    the scheduler id, or 0 when unknown.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use serde::Serialize;

use crate::gc_log::GcRecord;

/// One complete event of the trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceEvent {
    /// What happened, e.g. `major gc`.
    pub name: String,
    /// Category, e.g. `gc`; Perfetto can filter by it.
    pub cat: &'static str,
    /// Phase: always `X` (a complete event with a duration).
    pub ph: &'static str,
    /// Start in microseconds since the run started (Invariant 1).
    pub ts: f64,
    /// Duration in microseconds.
    pub dur: f64,
    /// Process number (Invariant 2).
    pub pid: u64,
    /// Scheduler id (Invariant 2).
    pub tid: u64,
    /// Extra figures shown when the event is selected.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<&'static str, serde_json::Value>,
}

/// A trace under construction.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    events: Vec<TraceEvent>,
}

impl Trace {
    /// An empty trace.
    pub fn new() -> Trace {
        Trace::default()
    }

    /// Adds a span and returns it, so the caller can attach `args`.
    pub fn complete(
        &mut self,
        name: impl Into<String>,
        cat: &'static str,
        start_ns: u64,
        duration_ns: u64,
        pid: u64,
        tid: u64,
    ) -> &mut TraceEvent {
        self.events.push(TraceEvent {
            name: name.into(),
            cat,
            ph: "X",
            ts: start_ns as f64 / 1000.0,
            dur: duration_ns as f64 / 1000.0,
            pid,
            tid,
            args: BTreeMap::new(),
        });
        self.events.last_mut().expect("an event was just pushed")
    }

    /// Adds one span per garbage collection.
    pub fn add_gc_records(&mut self, records: &[GcRecord]) {
        for record in records {
            let event = self.complete(
                format!("{} gc", record.kind),
                "gc",
                record.start_ns,
                record.duration_ns,
                record.pid.unwrap_or(0),
                record.scheduler.map_or(0, u64::from),
            );
            event.args.insert("reason", record.reason.clone().into());
            event.args.insert("words_before", record.words_before.into());
            event.args.insert("words_after", record.words_after.into());
            event.args.insert("words_copied", record.words_copied.into());
            event.args.insert("words_promoted", record.words_promoted.into());
            event.args.insert("binaries_freed", record.binaries_freed.into());
        }
    }

    /// The events so far.
    pub fn events(&self) -> &[TraceEvent] {
        &self.events
    }

    /// The trace as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.events).expect("trace events hold only numbers and strings")
    }

    /// Writes the trace to `path`, creating its directory if needed.
    ///
    /// # Errors
    /// Any I/O error creating the directory or writing the file.
    pub fn write(&self, path: &Path) -> io::Result<()> {
        if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            fs::create_dir_all(parent)?;
        }
        fs::write(path, self.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gc_log::tests::record;

    #[test]
    fn gc_records_become_complete_events() {
        let mut major = record("major", 2_500, 1_500);
        major.pid = Some(3);
        major.scheduler = Some(1);
        let mut trace = Trace::new();
        trace.add_gc_records(&[record("minor", 0, 1_000), major]);
        let value: serde_json::Value = serde_json::from_str(&trace.to_json()).unwrap();
        let events = value.as_array().unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["name"], "minor gc");
        assert_eq!(events[0]["ph"], "X");
        assert_eq!(events[0]["pid"], 0);
        assert_eq!(events[0]["tid"], 0);
        assert_eq!(events[1]["cat"], "gc");
        assert_eq!(events[1]["ts"], 2.5);
        assert_eq!(events[1]["dur"], 1.5);
        assert_eq!(events[1]["pid"], 3);
        assert_eq!(events[1]["tid"], 1);
        assert_eq!(events[1]["args"]["words_copied"], 60);
    }
}
