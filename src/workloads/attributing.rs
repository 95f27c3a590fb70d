//! The end of an attributed run (`attribution=on`): the clients' request moments, the run's
//! collections and the runtime's off-CPU intervals, put on one clock and handed to
//! [`crate::attribution`].
//!
//! # Invariants
//! 1. Every time is moved to the runtime's clock (nanoseconds since its epoch) before the
//!    arithmetic; the result carries the offset back to the run's clock (the GC log's
//!    origin) for the CSV and the trace.

use heaplab_runtime::Runtime;

use crate::attribution::{self, Causes, RequestMoments, RunAttribution, Span};
use crate::workload::{Measurements, RunContext};

/// Attributes `requests` (none: nothing to do) into `measurements`. Call before the
/// runtime shuts down, after every request completed.
pub(super) fn attribute(
    context: &RunContext,
    rt: &Runtime,
    requests: &[RequestMoments],
    measurements: &mut Measurements,
) {
    if requests.is_empty() {
        return;
    }
    let offset_ns =
        crate::gc_log::nanos(rt.epoch().saturating_duration_since(context.gc_log.origin()).as_nanos());
    let gc: Vec<(Option<u64>, Span)> = context.gc_log.with_records(|records| {
        records
            .iter()
            .map(|r| {
                let start = r.start_ns.saturating_sub(offset_ns);
                (r.pid, Span::new(start, (r.start_ns + r.duration_ns).saturating_sub(offset_ns)))
            })
            .collect()
    });
    let off = rt.off_cpu();
    let off_cpu_intervals = off.len() as u64;
    let causes = Causes::new(gc, off.into_iter().map(|o| (o.scheduler, Span::new(o.start_ns, o.end_ns))));
    let (tails, slow) = attribution::tails(&causes, requests);
    measurements.attribution = Some(RunAttribution { tails, slow, offset_ns, off_cpu_intervals });
}
