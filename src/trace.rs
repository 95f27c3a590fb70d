//! Chrome trace-event JSON (`--trace FILE`, `compare`'s `trace-*.json`): opens in Perfetto
//! or `chrome://tracing`.
//!
//! The trace is a JSON array of events: complete events (`"ph": "X"`), one per timed span,
//! and metadata events (`"ph": "M"`) naming the tracks. Garbage collections are added from
//! the run's [`GcRecord`]s and scheduler slices (a process running) from its
//! [`SliceRecord`]s; any other span is added with [`Trace::complete`], so later event
//! sources need no change here.
//!
//! # Invariants
//! 1. `ts` and `dur` are microseconds (fractional, from nanosecond records) since the run's
//!    start, the unit the trace-event format defines.
//! 2. One track per scheduler thread: every event has `pid` [`TRACE_PID`] (the run) and
//!    `tid` the scheduler index + 1, or [`OUTSIDE_SCHEDULERS`] (0) when the span ran on no
//!    scheduler (a workload on the calling thread) or the scheduler is unknown. The heaplab
//!    process a span belongs to is in its name and in `args.pid`: making each heaplab process
//!    a trace process would give a trace of 10,000 processes 10,000 track groups.
//! 3. Every track used has a `thread_name` metadata event, and the run a `process_name`.
//! 4. Events are written sorted by start, a longer span before a shorter one starting at the
//!    same time, so a collection inside a slice nests under it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::Path;

use serde::Serialize;

use crate::attribution::{Attributed, Component};
use crate::gc_log::GcRecord;
use crate::slice_log::SliceRecord;

/// The trace `pid` of every event (Invariant 2).
pub const TRACE_PID: u64 = 1;

/// The `tid` of spans that ran on no scheduler thread, or on an unknown one (Invariant 2).
pub const OUTSIDE_SCHEDULERS: u64 = 0;

/// The track of the requests above p99 ([`Trace::add_tail_requests`]): past every
/// scheduler's (at most 1024).
pub const TAIL_REQUESTS: u64 = 1_000_000;

/// One event of the trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceEvent {
    /// What happened, e.g. `major gc`; for metadata, what is named (`thread_name`).
    pub name: String,
    /// Category, e.g. `gc`; Perfetto can filter by it.
    pub cat: &'static str,
    /// Phase: `X` (a complete event with a duration) or `M` (metadata).
    pub ph: &'static str,
    /// Start in microseconds since the run started (Invariant 1); 0 for metadata.
    pub ts: f64,
    /// Duration in microseconds; absent for metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dur: Option<f64>,
    /// Always [`TRACE_PID`] (Invariant 2).
    pub pid: u64,
    /// The track: scheduler index + 1, or [`OUTSIDE_SCHEDULERS`] (Invariant 2).
    pub tid: u64,
    /// Extra figures shown when the event is selected.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<&'static str, serde_json::Value>,
    /// The flow a flow event (`s`, `t`, `f`) belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// `e`: a flow's end binds to the enclosing slice (the default binds to the next one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bp: Option<&'static str>,
}

/// A trace under construction.
#[derive(Debug, Clone)]
pub struct Trace {
    title: String,
    events: Vec<TraceEvent>,
}

impl Default for Trace {
    fn default() -> Self {
        Trace::named("heaplab")
    }
}

/// The track of a span run by `scheduler` (Invariant 2).
pub fn track(scheduler: Option<u32>) -> u64 {
    scheduler.map_or(OUTSIDE_SCHEDULERS, |index| u64::from(index) + 1)
}

/// A heaplab process number as the BEAM prints a pid, `<0.Index.Serial>`.
pub fn pid_name(number: u64) -> String {
    if number <= heaplab_gc::MAX_PID {
        heaplab_gc::Pid::new(number).to_string()
    } else {
        format!("pid {number}")
    }
}

impl Trace {
    /// An empty trace titled `heaplab`.
    pub fn new() -> Trace {
        Trace::default()
    }

    /// An empty trace whose run (the trace process) is called `title`.
    pub fn named(title: impl Into<String>) -> Trace {
        Trace { title: title.into(), events: Vec::new() }
    }

    /// Adds a span on the track of `scheduler` and returns it, so the caller can attach
    /// `args`.
    pub fn complete(
        &mut self,
        name: impl Into<String>,
        cat: &'static str,
        start_ns: u64,
        duration_ns: u64,
        scheduler: Option<u32>,
    ) -> &mut TraceEvent {
        self.events.push(TraceEvent {
            name: name.into(),
            cat,
            ph: "X",
            ts: start_ns as f64 / 1000.0,
            dur: Some(duration_ns as f64 / 1000.0),
            pid: TRACE_PID,
            tid: track(scheduler),
            args: BTreeMap::new(),
            id: None,
            bp: None,
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
                record.scheduler,
            );
            if let Some(pid) = record.pid {
                event.args.insert("pid", pid_name(pid).into());
            }
            event.args.insert("reason", record.reason.clone().into());
            event.args.insert("words_before", record.words_before.into());
            event.args.insert("words_after", record.words_after.into());
            event.args.insert("words_copied", record.words_copied.into());
            event.args.insert("words_promoted", record.words_promoted.into());
            event.args.insert("binaries_freed", record.binaries_freed.into());
        }
    }

    /// Adds one span per scheduler slice, named by the process that ran.
    pub fn add_slices(&mut self, slices: &[SliceRecord]) {
        for slice in slices {
            let name = pid_name(slice.pid);
            let event = self.complete(
                name.clone(),
                "process",
                slice.start_ns,
                slice.duration_ns,
                Some(slice.scheduler),
            );
            event.args.insert("pid", name.into());
        }
    }

    /// Marks the requests above p99: a span per request on the [`TAIL_REQUESTS`] track,
    /// with its segments nested in it and its components as arguments, and a flow from
    /// the client's send through the server's reply to the client's receipt across the
    /// scheduler tracks, so a slow request can be followed in Perfetto. Moments are on the
    /// runtime's clock, `offset_ns` after the run's start.
    pub fn add_tail_requests(&mut self, requests: &[Attributed], offset_ns: u64) {
        for (n, request) in requests.iter().enumerate() {
            let m = &request.moments;
            let at = |ns: u64| ns + offset_ns;
            let name = format!("{} -> {}", pid_name(m.client), pid_name(m.server));
            let latency = m.latency_ns();
            let event = self.complete(name, "tail", at(m.sent_ns), latency, None);
            event.tid = TAIL_REQUESTS;
            event.args.insert("latency_us", (latency as f64 / 1e3).into());
            for c in Component::ALL {
                event.args.insert(c.name(), (request.breakdown.get(c) as f64 / 1e3).into());
            }
            for segment in m.segments() {
                if segment.span.len_ns() > 0 {
                    let state = segment.state.name();
                    let event =
                        self.complete(state, "tail", at(segment.span.start_ns), segment.span.len_ns(), None);
                    event.tid = TAIL_REQUESTS;
                }
            }
            let id = n as u64 + 1;
            let steps = [
                ("s", m.sent_ns, m.sent_on, None),
                ("t", m.replied_ns, m.server_started_on, None),
                ("f", m.received_ns, m.client_started_on, Some("e")),
            ];
            for (ph, ns, on, bp) in steps {
                self.events.push(TraceEvent {
                    name: "request".to_owned(),
                    cat: "tail",
                    ph,
                    ts: at(ns) as f64 / 1000.0,
                    dur: None,
                    pid: TRACE_PID,
                    tid: track((on != u32::MAX).then_some(on)),
                    args: BTreeMap::new(),
                    id: Some(id),
                    bp,
                });
            }
        }
    }

    /// The events so far, metadata excluded.
    pub fn events(&self) -> &[TraceEvent] {
        &self.events
    }

    /// The metadata events naming the run and every track used (Invariant 3).
    fn metadata(&self) -> Vec<TraceEvent> {
        let meta = |name: &str, tid: u64, value: String| TraceEvent {
            name: name.to_owned(),
            cat: "__metadata",
            ph: "M",
            ts: 0.0,
            dur: None,
            pid: TRACE_PID,
            tid,
            args: BTreeMap::from([("name", value.into())]),
            id: None,
            bp: None,
        };
        let mut events = vec![meta("process_name", 0, self.title.clone())];
        let tracks: BTreeSet<u64> = self.events.iter().map(|event| event.tid).collect();
        for tid in tracks {
            let name = match tid {
                OUTSIDE_SCHEDULERS => "outside schedulers".to_owned(),
                TAIL_REQUESTS => "requests above p99".to_owned(),
                scheduler => format!("scheduler {}", scheduler - 1),
            };
            events.push(meta("thread_name", tid, name));
            let mut sort = meta("thread_sort_index", tid, String::new());
            sort.args = BTreeMap::from([("sort_index", tid.into())]);
            events.push(sort);
        }
        events
    }

    /// The trace as JSON text (Invariants 3 and 4).
    pub fn to_json(&self) -> String {
        let mut spans: Vec<&TraceEvent> = self.events.iter().collect();
        spans.sort_by(|a, b| {
            a.ts.total_cmp(&b.ts).then_with(|| b.dur.unwrap_or(0.0).total_cmp(&a.dur.unwrap_or(0.0)))
        });
        let metadata = self.metadata();
        let all: Vec<&TraceEvent> = metadata.iter().chain(spans).collect();
        serde_json::to_string(&all).expect("trace events hold only numbers and strings")
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

    fn parse(trace: &Trace) -> Vec<serde_json::Value> {
        let value: serde_json::Value = serde_json::from_str(&trace.to_json()).unwrap();
        value.as_array().unwrap().clone()
    }

    #[test]
    fn gc_records_become_complete_events_on_scheduler_tracks() {
        let mut major = record("major", 2_500, 1_500);
        major.pid = Some(3);
        major.scheduler = Some(1);
        let mut trace = Trace::new();
        trace.add_gc_records(&[record("minor", 0, 1_000), major]);
        let events: Vec<serde_json::Value> = parse(&trace).into_iter().filter(|e| e["ph"] == "X").collect();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["name"], "minor gc");
        assert_eq!(events[0]["pid"], TRACE_PID);
        assert_eq!(events[0]["tid"], OUTSIDE_SCHEDULERS);
        assert_eq!(events[1]["cat"], "gc");
        assert_eq!(events[1]["ts"], 2.5);
        assert_eq!(events[1]["dur"], 1.5);
        assert_eq!(events[1]["tid"], 2, "scheduler 1 is track 2");
        assert_eq!(events[1]["args"]["pid"], "<0.3.0>");
        assert_eq!(events[1]["args"]["words_copied"], 60);
    }

    #[test]
    fn slices_share_a_track_per_scheduler_and_tracks_are_named() {
        let slices = [
            SliceRecord { scheduler: 0, pid: 7, start_ns: 1_000, duration_ns: 5_000 },
            SliceRecord { scheduler: 1, pid: 8, start_ns: 1_000, duration_ns: 2_000 },
            SliceRecord { scheduler: 0, pid: 9, start_ns: 7_000, duration_ns: 1_000 },
        ];
        let mut gc = record("minor", 2_000, 500);
        gc.pid = Some(7);
        gc.scheduler = Some(0);
        let mut trace = Trace::named("heaplab churn");
        trace.add_slices(&slices);
        trace.add_gc_records(&[gc]);
        let events = parse(&trace);
        let names: Vec<(String, u64, String)> = events
            .iter()
            .filter(|e| e["ph"] == "M" && e["name"] != "thread_sort_index")
            .map(|e| {
                let name = e["name"].as_str().unwrap().to_owned();
                (name, e["tid"].as_u64().unwrap(), e["args"]["name"].as_str().unwrap().to_owned())
            })
            .collect();
        assert_eq!(
            names,
            [
                ("process_name".to_owned(), 0, "heaplab churn".to_owned()),
                ("thread_name".to_owned(), 1, "scheduler 0".to_owned()),
                ("thread_name".to_owned(), 2, "scheduler 1".to_owned()),
            ]
        );
        let spans: Vec<&serde_json::Value> = events.iter().filter(|e| e["ph"] == "X").collect();
        assert_eq!(spans.len(), 4);
        assert!(spans.iter().all(|e| e["pid"] == TRACE_PID));
        // Sorted by start, the longer first: pid 7's slice (tid 1), then pid 8's (tid 2).
        assert_eq!(spans[0]["name"], "<0.7.0>");
        assert_eq!(spans[0]["tid"], 1);
        assert_eq!(spans[1]["name"], "<0.8.0>");
        assert_eq!(spans[2]["name"], "minor gc");
        assert_eq!(spans[2]["tid"], 1, "the collection nests in its process's slice");
        assert_eq!(spans[3]["args"]["pid"], "<0.9.0>");
        assert!(spans.windows(2).all(|w| w[0]["ts"].as_f64() <= w[1]["ts"].as_f64()));
    }
}
