//! The end of an attributed run (`attribution=on`): the clients' request moments, the run's
//! collections and the runtime's off-CPU intervals, put on one clock and handed to
//! [`crate::attribution`].
//!
//! # Invariants
//! 1. Every time is moved to the runtime's clock (nanoseconds since its epoch) before the
//!    arithmetic; the result carries the offset back to the run's clock (the GC log's
//!    origin) for the CSV and the trace.

use heaplab_runtime::Runtime;

use super::clients::ClientResults;
use crate::attribution::{self, Causes, RunAttribution, Span};
use crate::gc_log::GcLog;
use crate::workload::{Measurements, RunContext};

/// Attributes the clients' slowest requests (none kept: nothing to do) into
/// `measurements`. Call before the runtime shuts down, after every request completed.
pub(super) fn attribute(
    context: &RunContext,
    rt: &Runtime,
    results: &ClientResults,
    measurements: &mut Measurements,
) {
    if results.moments.is_empty() {
        return;
    }
    let (causes, offset_ns, off_cpu_intervals) = causes(&context.gc_log, rt);
    let (tails, slow) = attribution::tails(&causes, &results.moments, results.latencies.raw_ns());
    measurements.attribution = Some(RunAttribution { tails, slow, offset_ns, off_cpu_intervals });
}

/// The run's collections and off-CPU intervals on the runtime's clock (Invariant 1), the
/// offset of that clock from the run's, and the number of off-CPU intervals.
pub(super) fn causes(gc_log: &GcLog, rt: &Runtime) -> (Causes, u64, u64) {
    let offset_ns = crate::gc_log::nanos(rt.epoch().saturating_duration_since(gc_log.origin()).as_nanos());
    let gc: Vec<(Option<u64>, Span)> = gc_log.with_records(|records| {
        records
            .iter()
            .map(|r| {
                let start = r.start_ns.saturating_sub(offset_ns);
                (r.pid, Span::new(start, (r.start_ns + r.duration_ns).saturating_sub(offset_ns)))
            })
            .collect()
    });
    let off = rt.off_cpu();
    let count = off.len() as u64;
    let causes = Causes::new(gc, off.into_iter().map(|o| (o.scheduler, Span::new(o.start_ns, o.end_ns))));
    (causes, offset_ns, count)
}

#[cfg(test)]
mod tests {
    //! A synthetic request/reply run with one delay injected into one request: each kind of
    //! delay must be attributed to its own component.

    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use heaplab_gc::Pid;
    use heaplab_runtime::{Cx, HeapKind, Runtime};

    use super::*;
    use crate::attribution::Component;
    use crate::workloads::clients::{Board, Sent, ServerStamps};

    /// What delays the injected request.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Inject {
        /// The server collects its large heap before it replies.
        Collection,
        /// A new process that computes for [`DELAY`] is queued ahead of the server (a new
        /// process goes to the back of the queue; a woken one could take the next slot).
        BusyAhead,
        /// A request that takes the server [`DELAY`] is in its mailbox ahead of this one.
        Backlog,
    }

    const REQUESTS: usize = 40;
    const INJECTED: usize = 30;
    const DELAY: Duration = Duration::from_millis(3);

    /// Computes for `d` without an await point.
    fn compute_for(d: Duration) {
        let end = Instant::now() + d;
        while Instant::now() < end {
            std::hint::spin_loop();
        }
    }

    /// Serves `{ReplyTo, ComputeUs, Collect}`, leaving its moments on `board`.
    async fn server(mut cx: Cx, board: Arc<Board>) {
        // Live data, so that a forced collection copies a lot.
        let _live = cx.with(|h| {
            let list = h.list((0..200_000).map(|i| h.int(i)));
            h.root(list)
        });
        let mut stamps = ServerStamps::default();
        loop {
            let (to, compute_us, collect) = cx
                .receive(|_, m| match m.as_tuple()? {
                    [to, us, collect] => Some((to.as_pid()?, us.as_int()?, collect.as_int()? == 1)),
                    _ => None,
                })
                .await;
            stamps.matched(&cx);
            if collect {
                cx.garbage_collect().await;
            }
            compute_for(Duration::from_micros(compute_us as u64));
            stamps.replying(&cx, &board, to);
            cx.send(to, |h| h.int(0));
        }
    }

    /// Takes whatever arrives.
    async fn sink(mut cx: Cx) {
        loop {
            cx.receive(|_, _| Some(())).await;
        }
    }

    /// Runs [`REQUESTS`] requests on one scheduler with `inject` in request [`INJECTED`];
    /// returns the breakdown of that request.
    fn run(kind: HeapKind, inject: Inject) -> crate::attribution::Breakdown {
        let gc_log = Arc::new(GcLog::new());
        let rt = Runtime::builder()
            .schedulers(1)
            .heap_kind(kind)
            .attribution(true)
            .gc_sink(gc_log.clone())
            .build()
            .unwrap();
        let board = Arc::new(Board::new(1));
        let moments = rt
            .block_on(move |mut cx| async move {
                let me = cx.self_pid();
                board.set_clients(&[me]);
                let server: Pid = cx.spawn({
                    let board = Arc::clone(&board);
                    move |cx| server(cx, board)
                })?;
                let sink = cx.spawn(sink)?;
                let delay_us = DELAY.as_micros() as i64;
                let mut moments = Vec::new();
                for i in 0..REQUESTS {
                    let injected = (i == INJECTED).then_some(inject);
                    let start = Instant::now();
                    let sent_on = cx.scheduler_id();
                    match injected {
                        Some(Inject::BusyAhead) => {
                            cx.spawn(|_| async { compute_for(DELAY) })?;
                        }
                        Some(Inject::Backlog) => {
                            cx.send(server, |h| h.tuple(&[h.pid(sink), h.int(delay_us), h.int(0)]))
                        }
                        _ => {}
                    }
                    let collect = i64::from(injected == Some(Inject::Collection));
                    cx.send(server, |h| h.tuple(&[h.pid(me), h.int(0), h.int(collect)]));
                    let enqueued_ns = cx.clock_ns();
                    cx.receive(|_, m| m.as_int()).await;
                    let sent = Sent { start, sent_on, enqueued_ns };
                    moments.extend(board.request_moments(&cx, 0, sent, start.elapsed()));
                }
                Ok::<_, heaplab_runtime::SpawnError>(moments)
            })
            .unwrap()
            .unwrap();
        let (causes, _, _) = causes(&gc_log, &rt);
        rt.shutdown();
        assert_eq!(moments.len(), REQUESTS);
        let breakdown = causes.attribute(&moments[INJECTED]);
        assert_eq!(breakdown.total_ns(), moments[INJECTED].latency_ns());
        breakdown
    }

    /// The component that took the most of `b` (descheduled aside: the kernel, not the
    /// injection, decides when a thread loses its CPU), and its share of the rest, with
    /// service left out too when `without_service`.
    fn dominant(b: &crate::attribution::Breakdown, without_service: bool) -> (Component, f64) {
        let counted =
            |c: Component| c != Component::Descheduled && !(without_service && c == Component::Service);
        let top = Component::ALL.into_iter().filter(|&c| counted(c)).max_by_key(|&c| b.get(c)).unwrap();
        let rest = b.total_ns() - b.get(Component::Descheduled);
        (top, b.get(top) as f64 / rest.max(1) as f64)
    }

    /// One synthetic run at a time: they compute for milliseconds, and each other's threads
    /// would take their CPU.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn check(kind: HeapKind, inject: Inject, expected: Component) {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let breakdown = run(kind, inject);
        // A debug build verifies the heap before and after each collection, outside the
        // collector's timed pause: there the server's own service time holds as much again
        // as the collection, so the collection is compared with the other components.
        let without_service = expected == Component::Gc && cfg!(debug_assertions);
        let (top, share) = dominant(&breakdown, without_service);
        assert_eq!(top, expected, "{inject:?}: {breakdown:?}");
        let least = if without_service { 0.3 } else { 0.5 };
        assert!(share >= least, "{inject:?}: {share} of {breakdown:?}");
    }

    #[test]
    fn a_forced_collection_is_gc() {
        check(HeapKind::PerProcess, Inject::Collection, Component::Gc);
        check(HeapKind::Shared(Default::default()), Inject::Collection, Component::Gc);
    }

    #[test]
    fn a_busy_process_ahead_in_the_run_queue_is_run_queue_wait() {
        check(HeapKind::PerProcess, Inject::BusyAhead, Component::RunQueue);
        check(HeapKind::Shared(Default::default()), Inject::BusyAhead, Component::RunQueue);
    }

    #[test]
    fn a_backlog_in_the_mailbox_is_mailbox_wait() {
        check(HeapKind::PerProcess, Inject::Backlog, Component::Mailbox);
        check(HeapKind::Shared(Default::default()), Inject::Backlog, Component::Mailbox);
    }
}
