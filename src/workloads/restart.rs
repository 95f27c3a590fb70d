//! restart: how long a supervised worker is out of service after a crash.
//!
//! A `one_for_one` supervisor runs one gen_server worker registered under a name. The
//! bench process crashes the worker and calls the name until a call is answered by the
//! restarted worker: the time from the crash to that answer is one restart latency. It
//! covers everything between a failure and service again: the exit signal to the
//! supervisor, its restart decision, the new process, its `init`, the name registered again,
//! and the first request served.
//!
//! # Protocol (the Erlang version, peers/erlang/heaplab_restart.erl, follows the same steps)
//! 1. The crashes are made in batches of `supervisor_crashes`: each batch starts a fresh
//!    supervisor with the worker, whose intensity allows exactly the batch's crashes within
//!    an hour, and stops it afterwards (neither is timed). A supervisor remembers every
//!    restart within its period, and OTP's walks that whole history at each restart
//!    (`add_restart/1` filters a list); one supervisor for 10,000 back-to-back crashes would
//!    make the BEAM figure that of a 10,000-element list walk (about 50 us here) rather than
//!    of a restart. A batch keeps the history as short as a real supervisor's; raise
//!    `supervisor_crashes` to see its cost.
//! 2. For each crash: look the worker up by name, start the clock, crash it (`kill`:
//!    `exit(Pid, kill)`; `panic`: a `crash` cast that its `handle_cast` answers by
//!    panicking, `erlang:error(crash)` in Erlang), then call the name with `ping` until the
//!    reply comes from a pid other than the crashed one. A call that fails (the name is not
//!    registered yet, or still names the dying process) is retried at once, after a yield.
//!    Stop the clock: one `restart_latency_us` sample. Then, untimed, ask the supervisor
//!    for its children (`which_children`) and count the siblings whose pid changed since
//!    the previous crash: `siblings_restarted`.
//! 3. At the end of a batch, untimed, every sibling is called by pid and must answer: a
//!    sibling that is not serving fails the run.
//! 4. A first batch of [`WARM_UP`] crashes is not recorded (first use of the code paths and
//!    of the block pool).
//!
//! Metrics: `restart_latency_us` (histogram), `restart_latency_p50_us` and
//! `restart_latency_p99_us` (the same figures as metrics, as the Erlang version reports
//! them), `calls_per_restart` (calls made until one was answered, averaged), `restarts`,
//! `siblings_restarted` (sibling restarts seen over the measured crashes: 0 under
//! `one_for_one`, `siblings` x `crashes` under `one_for_all`).

use std::time::{Duration, Instant};

use heaplab_gc::{Atom, Pid, Root};
use heaplab_runtime::gen_server::{self, CallError, CallResult, Caller, CastResult, GenServer, Timeout};
use heaplab_runtime::supervisor::{self, ChildSpec, Flags, Strategy};
use heaplab_runtime::{Cx, ExitReason, Runtime};

use super::runtime;
use crate::failure::Failure;
use crate::histogram::DurationHistogram;
use crate::params::{ParamKind, ParamSpec};
use crate::workload::{Builtin, Measurements, RunContext, Threads};

/// The restart workload.
pub const WORKLOAD: Builtin = Builtin {
    name: "restart",
    summary: "crash a supervised, registered worker; time until a call to its name is answered again",
    params: PARAMS,
    threads: Threads::Schedulers,
    run,
    memory: None,
};

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "crash",
        default: "kill",
        kind: ParamKind::OneOf(&["kill", "panic"]),
        description: "how the worker dies: exit(Pid, kill), or a panic in its handle_cast",
    },
    ParamSpec {
        name: "crashes",
        default: "10000",
        kind: ParamKind::Integer { min: 1, max: 1_000_000 },
        description: "crashes measured",
    },
    ParamSpec {
        name: "supervisor_crashes",
        default: "100",
        kind: ParamKind::Integer { min: 1, max: 1_000_000 },
        description: "crashes per supervisor before a fresh one takes over (its restart history)",
    },
    ParamSpec {
        name: "siblings",
        default: "0",
        kind: ParamKind::Integer { min: 0, max: 10_000 },
        description: "workers beside the crashed one under the same supervisor, checked after every crash",
    },
    ParamSpec {
        name: "supervisor_strategy",
        default: "one_for_one",
        kind: ParamKind::OneOf(&["one_for_one", "one_for_all"]),
        description: "restart only the crashed worker, or every child with it",
    },
];

/// Crashes before the measured ones (Protocol step 4).
const WARM_UP: u64 = 100;

/// The registered name of the worker.
const WORKER_NAME: &str = "heaplab_restart_worker";

/// How long one call may wait: far above any restart; a call that times out fails the run.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The supervisors' intensity period: a whole batch fits in it (Protocol step 1).
const PERIOD: Duration = Duration::from_secs(3600);

/// The worker: answers any call with its own pid, panics on any cast.
struct Worker;

impl GenServer for Worker {
    async fn handle_call(&mut self, cx: &mut Cx, _request: Root, _from: Caller) -> CallResult {
        let me = cx.self_pid();
        CallResult::reply(move |h| h.pid(me))
    }

    async fn handle_cast(&mut self, _cx: &mut Cx, _request: Root) -> CastResult {
        panic!("crash");
    }
}

/// How the worker is crashed.
#[derive(Clone, Copy)]
enum Crash {
    Kill,
    Panic,
}

/// The shape of one batch's supervision tree.
#[derive(Clone, Copy)]
struct Tree {
    strategy: Strategy,
    siblings: u64,
}

/// The child id of the crashed worker; the siblings are `sibling_1`, `sibling_2`, ...
const WORKER_ID: &str = "worker";

/// What the bench process measured.
#[derive(Default)]
struct Measured {
    latencies: DurationHistogram,
    calls: u64,
    siblings_restarted: u64,
}

fn run(context: &RunContext) -> Result<Measurements, Failure> {
    let crashes = context.params.integer("crashes");
    let per_supervisor = context.params.integer("supervisor_crashes");
    let crash = if context.params.word("crash") == "panic" { Crash::Panic } else { Crash::Kill };
    let tree = Tree {
        strategy: match context.params.word("supervisor_strategy") {
            "one_for_all" => Strategy::OneForAll,
            _ => Strategy::OneForOne,
        },
        siblings: context.params.integer("siblings"),
    };
    // As `runtime::start`, with quiet panics: the workload panics on purpose, `crashes` times.
    let heap_kind = context.strategy.heap_kind().ok_or_else(|| {
        Failure::usage(format!("heap '{}' does not run on the heaplab runtime", context.strategy))
    })?;
    let rt = Runtime::builder()
        .heap_kind(heap_kind)
        .schedulers(context.schedulers as usize)
        .gc_sink(context.gc_log.clone())
        .report_panics(false)
        .build()
        .map_err(|e| Failure::run(format!("cannot start the runtime: {e}")))?;

    let measured = rt
        .block_on(move |mut cx| async move {
            let mut measured = Measured::default();
            // Protocol step 4, then steps 1 to 3 batch by batch.
            batch(&mut cx, tree, crash, WARM_UP, None).await?;
            let mut left = crashes;
            while left > 0 {
                let size = left.min(per_supervisor);
                batch(&mut cx, tree, crash, size, Some(&mut measured)).await?;
                left -= size;
            }
            Ok::<_, String>(measured)
        })
        .map_err(|reason| runtime::process_failed("restart", "bench", reason))?
        .map_err(|e| Failure::run(format!("restart: {e}")))?;
    rt.shutdown();

    let summary = measured.latencies.summary();
    let mut measurements = Measurements::default();
    measurements.metric("restarts", crashes as f64);
    measurements.metric("calls_per_restart", measured.calls as f64 / crashes as f64);
    measurements.metric("siblings_restarted", measured.siblings_restarted as f64);
    measurements.metric("restart_latency_p50_us", summary.p50);
    measurements.metric("restart_latency_p99_us", summary.p99);
    measurements.histogram("restart_latency_us", measured.latencies);
    Ok(measurements)
}

/// Protocol steps 1 to 3 for one batch of `crashes` crashes; records them in `measured`,
/// if given.
async fn batch(
    cx: &mut Cx,
    tree: Tree,
    crash: Crash,
    crashes: u64,
    mut measured: Option<&mut Measured>,
) -> Result<(), String> {
    let name = Atom::new(WORKER_NAME);
    let intensity = u32::try_from(crashes).unwrap_or(u32::MAX);
    let flags = Flags::new(tree.strategy).intensity(intensity).period(PERIOD);
    let mut children = vec![ChildSpec::gen_server_named(WORKER_ID, name, || Worker)];
    children.extend((1..=tree.siblings).map(|i| ChildSpec::gen_server(&format!("sibling_{i}"), || Worker)));
    let started = supervisor::start_link(cx, flags, children).await.map_err(|r| r.to_string())?;
    let supervisor = started.pid().ok_or("the supervisor ignored its start")?;
    let mut siblings = sibling_pids(cx, supervisor, tree).await?;
    for _ in 0..crashes {
        let old = cx.whereis(name).ok_or("the worker is not registered")?;
        let start = Instant::now();
        match crash {
            Crash::Kill => cx.exit_process(old, ExitReason::Kill),
            Crash::Panic => gen_server::cast(cx, old, |h| h.atom_named("crash")),
        }
        let calls = serve_again(cx, name, old).await?;
        let latency = start.elapsed();
        let now = sibling_pids(cx, supervisor, tree).await?;
        if let Some(measured) = measured.as_deref_mut() {
            measured.latencies.record(latency);
            measured.calls += calls;
            measured.siblings_restarted +=
                siblings.iter().zip(&now).filter(|(was, is)| was != is).count() as u64;
        }
        siblings = now;
    }
    // Protocol step 3.
    for (i, &sibling) in siblings.iter().enumerate() {
        let not_serving = || format!("sibling_{} is not serving after the batch", i + 1);
        let pid = sibling.ok_or_else(not_serving)?;
        let answer =
            gen_server::call_with(cx, pid, |h| h.atom_named("ping"), CALL_TIMEOUT, |_, t| t.as_pid()).await;
        if !matches!(answer, Ok(Some(p)) if p == pid) {
            return Err(not_serving());
        }
    }
    // A normal exit, which the linked bench process ignores.
    gen_server::stop_with(cx, supervisor, ExitReason::Normal, Timeout::Infinity)
        .await
        .map_err(|e| e.to_string())
}

/// The siblings' pids in child order (Protocol step 2); `None` for one not running. Skips
/// the request when there are no siblings.
async fn sibling_pids(cx: &mut Cx, supervisor: Pid, tree: Tree) -> Result<Vec<Option<Pid>>, String> {
    if tree.siblings == 0 {
        return Ok(Vec::new());
    }
    let children = supervisor::which_children(cx, supervisor).await.map_err(|e| e.to_string())?;
    let worker = Atom::new(WORKER_ID);
    Ok(children.iter().filter(|c| c.id != Some(worker)).map(|c| c.child.pid()).collect())
}

/// Protocol step 2: calls `name` until a process other than `old` answers; returns the
/// number of calls made.
async fn serve_again(cx: &mut Cx, name: Atom, old: Pid) -> Result<u64, String> {
    let mut calls = 0;
    loop {
        calls += 1;
        let answer =
            gen_server::call_with(cx, name, |h| h.atom_named("ping"), CALL_TIMEOUT, |_, t| t.as_pid()).await;
        match answer {
            Ok(Some(pid)) if pid != old => return Ok(calls),
            // Not registered yet, or the name still held by the dying worker.
            Ok(_) | Err(CallError::NoProc | CallError::Exit(_)) => cx.yield_now().await,
            Err(e) => return Err(format!("the worker did not come back: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::gc_log::GcLog;
    use crate::params::Params;
    use crate::strategy::Strategy as HeapStrategy;

    fn run_with(assignments: &[&str]) -> Measurements {
        let context = RunContext {
            params: Params::from_assignments("restart", PARAMS, assignments).unwrap(),
            strategy: HeapStrategy::PerProcess,
            schedulers: 2,
            gc_log: Arc::new(GcLog::new()),
        };
        run(&context).unwrap()
    }

    #[test]
    fn every_crash_is_followed_by_a_restart_and_measured() {
        for crash in ["kill", "panic"] {
            let measurements = run_with(&["crashes=50", "supervisor_crashes=20", &format!("crash={crash}")]);
            assert_eq!(measurements.histograms["restart_latency_us"].len(), 50, "{crash}");
            assert_eq!(measurements.metrics["restarts"], 50.0);
            assert!(measurements.metrics["calls_per_restart"] >= 1.0);
            let p50 = measurements.metrics["restart_latency_p50_us"];
            assert!(p50 > 0.0 && p50 <= measurements.metrics["restart_latency_p99_us"], "{crash}: {p50}");
            assert_eq!(measurements.metrics["siblings_restarted"], 0.0);
        }
    }

    #[test]
    fn one_for_one_leaves_the_siblings_and_one_for_all_restarts_them() {
        let alone = run_with(&["crashes=30", "supervisor_crashes=10", "siblings=4"]);
        assert_eq!(alone.metrics["siblings_restarted"], 0.0);
        assert_eq!(alone.histograms["restart_latency_us"].len(), 30);
        let all = run_with(&[
            "crashes=30",
            "supervisor_crashes=10",
            "siblings=4",
            "supervisor_strategy=one_for_all",
        ]);
        assert_eq!(all.metrics["siblings_restarted"], 4.0 * 30.0);
    }
}
