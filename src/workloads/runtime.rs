//! What the workloads that run on a heaplab runtime share: starting the runtime for a run,
//! and the mutator / send / GC time split of a measured window.
//!
//! # The time split (`time_split=on`, ring and big)
//! Johansson, Sagonas and Wilhelmsson (ISMM 2002) report each benchmark's time as mutator,
//! send and GC. With one scheduler the window from a workload's clock start to its stop is
//! all scheduler time (the workloads that declare the parameter always have a runnable
//! process), so it splits exactly:
//! - send: the runtime times every `Cx::send` from call to return (building the message,
//!   copying it on private heaps, enqueueing, waking the receiver): `send_ns`;
//! - GC: the pauses of the collections that began inside the window: `gc_ns`;
//! - mutator: the rest (the workload's own work, receives, scheduling): `mutator_ns`;
//!
//! and each as a percentage of the window (`mutator_pct`, `send_pct`, `gc_pct`). Timing
//! costs two clock reads per send, so runs with the split are not compared with runs
//! without it. No time counts twice: a process's own collection never runs inside a send
//! (an allocation in a heap never collects, it overflows into a fragment; collections wait
//! for a safepoint). The hybrid heap's message area is the exception: the send whose message
//! fills its nursery collects it before returning (`HybridProcess::message` in
//! runtime/src/strategy/hybrid.rs), so the pauses of the area's collections in the window are
//! taken out of `send_ns` and counted as GC only. With one scheduler every area collection
//! starts in such a send: a process's own collection starts one only when the nursery is full,
//! and the send that filled it has already collected it.

use std::time::Instant;

use heaplab_runtime::heaplab_gc::hybrid::AreaCollector;
use heaplab_runtime::{Cx, HeapKind, Runtime, DEFAULT_MAX_PROCESSES, MAX_TABLE_PROCESSES};

use crate::failure::Failure;
use crate::gc_log::{is_area, GcLog};
use crate::params::{ParamKind, ParamSpec, ParamValue};
use crate::workload::{Measurements, RunContext};

/// The parameter that turns the time split on (module docs).
pub(super) const TIME_SPLIT: ParamSpec = ParamSpec {
    name: "time_split",
    default: "off",
    kind: ParamKind::OneOf(&["off", "on"]),
    description: "time every send and split the run into mutator, send and GC time (1 scheduler)",
};

/// The parameter that turns tail attribution on (see [`crate::attribution`]): the runtime
/// stamps wake-ups and slice starts, the clients and servers their moments.
pub(super) const ATTRIBUTION: ParamSpec = ParamSpec {
    name: "attribution",
    default: "off",
    kind: ParamKind::OneOf(&["off", "on"]),
    description: "stamp every request's moments and say where the p99 and p999 tails' time went",
};

/// How the hybrid heap's message area is collected (see `docs/hybrid-heap.md`); the names
/// are [`AreaCollector::name`]s. Other heaps have no message area and ignore it.
pub(super) const AREA_GC: ParamSpec = ParamSpec {
    name: "area_gc",
    default: "stw",
    kind: ParamKind::OneOf(&["stw", "incremental"]),
    description: "--heap hybrid: collect the message area stop-the-world or incrementally (bounded pauses)",
};

/// The work budget of an increment of the incremental area collector, in words (its
/// default is [`heaplab_runtime::heaplab_gc::hybrid::DEFAULT_AREA_INCREMENT_WORDS`]).
pub(super) const AREA_INCREMENT_WORDS: ParamSpec = ParamSpec {
    name: "area_increment_words",
    default: "8192",
    kind: ParamKind::Integer { min: 1, max: 1 << 30 },
    description: "--heap hybrid with area_gc=incremental: words of copying and scanning per increment",
};

/// The heap kind the run asks for: the strategy's, with the message area's collector set
/// from [`AREA_GC`] and [`AREA_INCREMENT_WORDS`] under the hybrid heap when the workload
/// declares them.
fn heap_kind_of(context: &RunContext, kind: HeapKind) -> Result<HeapKind, Failure> {
    let HeapKind::Hybrid(mut opts) = kind else {
        return Ok(kind);
    };
    for (name, value) in context.params.iter() {
        match (name, value) {
            ("area_gc", ParamValue::Word(word)) => {
                opts.collector = AreaCollector::from_name(word).map_err(|e| Failure::usage(e.to_string()))?;
            }
            ("area_increment_words", ParamValue::Integer(words)) => opts.increment_words = words as usize,
            _ => {}
        }
    }
    Ok(HeapKind::Hybrid(opts))
}

/// Whether the run asks for tail attribution.
pub(crate) fn attribution_on(params: &crate::params::Params) -> bool {
    params.iter().any(|(name, value)| name == ATTRIBUTION.name && value == ParamValue::Word("on"))
}

/// Whether the run asks for the time split.
pub(crate) fn time_split_on(params: &crate::params::Params) -> bool {
    params.iter().any(|(name, value)| name == TIME_SPLIT.name && value == ParamValue::Word("on"))
}

/// Processes a workload may need besides the ones it counts (the root process of
/// `block_on`, one finishing while the next starts).
const SPARE_PROCESSES: usize = 64;

/// A runtime with the run's heap strategy and scheduler count, room for `processes` processes, and every
/// process heap's collections going to the run's GC log.
///
/// # Errors
/// A run failure if the runtime refuses the configuration.
pub(crate) fn start(context: &RunContext, processes: usize) -> Result<Runtime, Failure> {
    let limit = processes.saturating_add(SPARE_PROCESSES).clamp(DEFAULT_MAX_PROCESSES, MAX_TABLE_PROCESSES);
    let heap_kind = context.strategy.heap_kind().ok_or_else(|| {
        Failure::usage(format!("heap '{}' does not run on the heaplab runtime", context.strategy))
    })?;
    let heap_kind = heap_kind_of(context, heap_kind)?;
    let time_sends = time_split_on(&context.params);
    if time_sends && context.schedulers != 1 {
        return Err(Failure::usage(format!(
            "time_split=on needs --schedulers 1 (got {}): the split divides one scheduler's time",
            context.schedulers
        )));
    }
    Runtime::builder()
        .heap_kind(heap_kind)
        .schedulers(context.schedulers as usize)
        .max_processes(limit)
        .gc_sink(context.gc_log.clone())
        .time_sends(time_sends)
        .attribution(attribution_on(&context.params))
        .build()
        .map_err(|e| Failure::run(format!("cannot start the runtime: {e}")))
}

/// A one-line failure for a process that ended without a result.
pub(super) fn process_failed(workload: &str, what: &str, reason: impl std::fmt::Display) -> Failure {
    Failure::run(format!("{workload}: the {what} process failed: {reason}"))
}

/// The start of a window whose time is split (module docs); taken inside a process.
pub(super) struct SplitStart {
    at: Instant,
    send_ns: u64,
}

impl SplitStart {
    /// Opens a window now.
    pub(super) fn now(cx: &Cx) -> SplitStart {
        SplitStart { send_ns: cx.runtime_stats().send_ns(), at: Instant::now() }
    }

    /// Closes the window now.
    pub(super) fn end(self, cx: &Cx) -> SplitWindow {
        let end = Instant::now();
        SplitWindow {
            start: self.at,
            end,
            send_ns: cx.runtime_stats().send_ns().saturating_sub(self.send_ns),
        }
    }
}

/// A closed window: its bounds and the send time inside it.
pub(super) struct SplitWindow {
    start: Instant,
    end: Instant,
    send_ns: u64,
}

impl SplitWindow {
    /// Adds the split's metrics (module docs), with the GC time from the run's log.
    pub(super) fn record(&self, measurements: &mut Measurements, gc_log: &GcLog) {
        let window = crate::gc_log::nanos(self.end.saturating_duration_since(self.start).as_nanos());
        let gc = gc_log.pause_ns_between(self.start, self.end, |_| true);
        // Module docs: an area collection ran inside the send that started it.
        let send = self.send_ns.saturating_sub(gc_log.pause_ns_between(self.start, self.end, is_area));
        let mutator = window.saturating_sub(send).saturating_sub(gc);
        let pct = |part: u64| if window == 0 { 0.0 } else { 100.0 * part as f64 / window as f64 };
        for (name, part) in [("mutator", mutator), ("send", send), ("gc", gc)] {
            measurements.metric(&format!("{name}_ns"), part as f64);
            measurements.metric(&format!("{name}_pct"), pct(part));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::gc_log::tests::record;

    #[test]
    fn an_area_collection_counts_as_gc_and_not_as_send() {
        let log = GcLog::new();
        let start = log.origin();
        let end = start + Duration::from_micros(100);
        // A private minor collection (outside any send) and an area collection that ran
        // inside a send of 30 us: the send's own work was 10 us.
        log.push(record("minor", 5_000, 5_000));
        log.push(record("area-minor", 20_000, 20_000));
        let window = SplitWindow { start, end, send_ns: 30_000 };
        let mut measurements = Measurements::default();
        window.record(&mut measurements, &log);
        let metric = |name: &str| measurements.metrics[name];
        assert_eq!(metric("gc_ns"), 25_000.0);
        assert_eq!(metric("send_ns"), 10_000.0);
        assert_eq!(metric("mutator_ns"), 65_000.0);
        let total: f64 = ["mutator_pct", "send_pct", "gc_pct"].iter().map(|m| metric(m)).sum();
        assert!((total - 100.0).abs() < 1e-9, "{total}");
    }

    #[test]
    fn the_area_parameters_name_the_collectors_and_the_default_budget() {
        let ParamKind::OneOf(words) = AREA_GC.kind else { panic!("area_gc is a word") };
        let names: Vec<&str> = AreaCollector::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(words, names.as_slice());
        assert_eq!(AREA_GC.default, AreaCollector::default().name());
        let default = heaplab_runtime::heaplab_gc::hybrid::DEFAULT_AREA_INCREMENT_WORDS;
        assert_eq!(AREA_INCREMENT_WORDS.default, default.to_string());
    }
}
