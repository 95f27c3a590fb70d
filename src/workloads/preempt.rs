//! preempt: whether busy loops starve a process that only exchanges messages.
//!
//! B busy processes run a pure computation loop for the whole run while one ping-pong pair
//! exchanges R small messages. Each busy-loop iteration is one step of arithmetic charged as
//! one reduction (a BEAM function call), so a busy process is preempted once its slice of
//! about 4000 reductions is spent, as on the BEAM. With one scheduler per core, the round
//! trip of the pair then stays bounded by a few slices of the busy processes queued in front
//! of it, however long they run; without preemption it would wait for a busy loop to end.
//! Run it with `busy=0` for the round trip of an idle machine.
//!
//! # Protocol (the Erlang version, peers/erlang/heaplab_preempt.erl, follows the same steps)
//! 1. The root process (the pinger) spawns the ponger, which answers every integer message
//!    with the same integer to the root and exits on a negative one.
//! 2. The root starts the busy clock and spawns the B busy processes. Busy process `i`
//!    starts from `x = i` and repeats `x = (x * 1103515245 + 12345) mod 2^31`, counting
//!    iterations; every [`STEPS`] iterations it charges [`STEPS`] reductions (`Cx::tick`)
//!    and checks whether it was told to stop (the Erlang version checks its mailbox for
//!    `stop` every 1024 iterations).
//! 3. The root makes R round trips: per round trip it reads the clock, sends the ponger the
//!    round trip's index, waits for it to come back and records the time in a histogram
//!    sized for R (recording allocates nothing).
//! 4. The root tells the busy processes to stop and the ponger to exit; each busy process
//!    adds its count to a shared total and sends the root `heaplab_busy_done`. Once all B
//!    have, the root stops the busy clock: `busy_iterations_per_s` is the total over it.
//!
//! Metrics: `round_trip_us` (histogram), `round_trip_p50_us` and `round_trip_p99_us` (the
//! same figures as metrics, as the Erlang version reports them), `round_trips`,
//! `busy_iterations_per_s` (0 without busy processes).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use heaplab_gc::{Atom, Pid};
use heaplab_runtime::{Cx, SpawnError};

use super::runtime;
use crate::failure::Failure;
use crate::histogram::DurationHistogram;
use crate::params::{ParamKind, ParamSpec};
use crate::workload::{Builtin, Measurements, RunContext, Threads};

/// The preempt workload.
pub const WORKLOAD: Builtin = Builtin {
    name: "preempt",
    summary: "B busy loops compute while one ping-pong pair times its round trips: no starvation",
    params: PARAMS,
    threads: Threads::Schedulers,
    run,
    memory: None,
};

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "busy",
        default: "8",
        kind: ParamKind::Integer { min: 0, max: 100_000 },
        description: "busy processes running a pure computation loop",
    },
    ParamSpec {
        name: "pings",
        default: "10000",
        kind: ParamKind::Integer { min: 1, max: 100_000_000 },
        description: "round trips of the ping-pong pair",
    },
];

/// Busy-loop iterations between two safepoints, each charged as one reduction (Protocol
/// step 2): 100 steps of arithmetic take well under a microsecond, so a slice of 4000
/// reductions ends within a few dozen iterations of its end.
pub const STEPS: u64 = 100;

/// The atom a busy process sends the root once it stopped (Protocol step 4).
const BUSY_DONE: &str = "heaplab_busy_done";

/// What the root measured.
struct Measured {
    round_trips: DurationHistogram,
    busy_iterations: u64,
    busy_s: f64,
}

fn run(context: &RunContext) -> Result<Measurements, Failure> {
    let busy = context.params.integer("busy");
    let pings = context.params.integer("pings");
    let rt = runtime::start(context, usize::try_from(busy.saturating_add(2)).unwrap_or(usize::MAX))?;

    let measured = rt
        .block_on(move |mut cx| async move { measure(&mut cx, busy, pings).await })
        .map_err(|reason| runtime::process_failed("preempt", "root", reason))?
        .map_err(|e| Failure::run(format!("preempt: {e}")))?;
    rt.shutdown();

    let summary = measured.round_trips.summary();
    let mut measurements = Measurements::default();
    measurements.metric("round_trips", pings as f64);
    measurements.metric("round_trip_p50_us", summary.p50);
    measurements.metric("round_trip_p99_us", summary.p99);
    measurements.metric(
        "busy_iterations_per_s",
        crate::workload::ratio(measured.busy_iterations as f64, measured.busy_s),
    );
    measurements.histogram("round_trip_us", measured.round_trips);
    Ok(measurements)
}

/// The whole protocol, from the root process.
async fn measure(cx: &mut Cx, busy: u64, pings: u64) -> Result<Measured, SpawnError> {
    let root = cx.self_pid();
    // Protocol step 1.
    let ponger = cx.spawn(move |cx| pong(cx, root))?;
    // Protocol step 2.
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let busy_start = Instant::now();
    for index in 0..busy {
        let (stop, total) = (Arc::clone(&stop), Arc::clone(&total));
        cx.spawn(move |cx| spin(cx, root, index, stop, total))?;
    }
    // Protocol step 3.
    let mut round_trips = DurationHistogram::with_capacity(usize::try_from(pings).unwrap_or(usize::MAX));
    for index in 0..pings {
        let index = index as i64;
        let start = Instant::now();
        cx.send(ponger, |h| h.int(index));
        cx.receive(|_, m| (m.as_int() == Some(index)).then_some(())).await;
        round_trips.record(start.elapsed());
    }
    // Protocol step 4.
    stop.store(true, Ordering::Relaxed);
    cx.send(ponger, |h| h.int(-1));
    let done = Atom::new(BUSY_DONE);
    for _ in 0..busy {
        cx.receive(|_, m| (m.as_atom() == Some(done)).then_some(())).await;
    }
    let busy_s = busy_start.elapsed().as_secs_f64();
    Ok(Measured { round_trips, busy_iterations: total.load(Ordering::Relaxed), busy_s })
}

/// The ponger (Protocol step 1).
async fn pong(mut cx: Cx, root: Pid) {
    loop {
        let k = cx.receive(|_, m| m.as_int()).await;
        if k < 0 {
            return;
        }
        cx.send(root, |h| h.int(k));
    }
}

/// One step of a busy loop (Protocol step 2).
fn step(x: u64) -> u64 {
    x.wrapping_mul(1_103_515_245).wrapping_add(12_345) & 0x7fff_ffff
}

/// A busy process (Protocol steps 2 and 4).
async fn spin(mut cx: Cx, root: Pid, index: u64, stop: Arc<AtomicBool>, total: Arc<AtomicU64>) {
    let mut x = index;
    let mut iterations = 0u64;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..STEPS {
            x = step(std::hint::black_box(x));
        }
        iterations += STEPS;
        cx.tick(STEPS).await;
    }
    std::hint::black_box(x);
    total.fetch_add(iterations, Ordering::Relaxed);
    let done = Atom::new(BUSY_DONE);
    cx.send(root, |h| h.atom(done));
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::gc_log::GcLog;
    use crate::params::Params;
    use crate::strategy::Strategy;

    fn run_under(strategy: Strategy, assignments: &[&str], schedulers: u32) -> Measurements {
        let context = RunContext {
            params: Params::from_assignments("preempt", PARAMS, assignments).unwrap(),
            strategy,
            schedulers,
            gc_log: Arc::new(GcLog::new()),
        };
        run(&context).unwrap()
    }

    #[test]
    fn every_round_trip_is_measured_beside_busy_loops_that_run() {
        for strategy in [Strategy::PerProcess, Strategy::Shared] {
            let measurements = run_under(strategy, &["busy=4", "pings=200"], 2);
            assert_eq!(measurements.histograms["round_trip_us"].len(), 200, "{strategy}");
            assert_eq!(measurements.metrics["round_trips"], 200.0);
            let p50 = measurements.metrics["round_trip_p50_us"];
            assert!(p50 > 0.0 && p50 <= measurements.metrics["round_trip_p99_us"], "{strategy}: {p50}");
            assert!(measurements.metrics["busy_iterations_per_s"] > 0.0, "{strategy}");
        }
    }

    #[test]
    fn one_scheduler_is_shared_fairly_and_no_busy_loop_means_no_busy_work() {
        // On one scheduler the pair can only run between the busy processes' slices.
        let measurements = run_under(Strategy::PerProcess, &["busy=3", "pings=50"], 1);
        assert_eq!(measurements.histograms["round_trip_us"].len(), 50);
        assert!(measurements.metrics["busy_iterations_per_s"] > 0.0);
        let idle = run_under(Strategy::PerProcess, &["busy=0", "pings=50"], 1);
        assert_eq!(idle.metrics["busy_iterations_per_s"], 0.0);
    }

    #[test]
    fn a_step_stays_below_two_to_the_31() {
        let mut x = 7;
        for _ in 0..1000 {
            x = step(x);
            assert!(x < 1 << 31);
        }
    }
}
