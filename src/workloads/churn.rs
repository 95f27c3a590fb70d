//! churn and churn-big: request latency of servers that hold live state and keep rewriting
//! it, the load where per-process collection should shine against one shared heap.
//!
//! P server processes each hold a live state of K entries `{I, V, [I, V]}` (module
//! [`crate::entries`]). A request makes a server rewrite W random entries: each rewrite
//! rebuilds the whole state list on new cons cells, the entry whose key matches becomes a new
//! tuple holding V+1 and the others are reused; the server then replies with the state's
//! length. C closed-loop clients make R requests in all to uniformly random servers (module
//! [`super::clients`]). Every request leaves K cons cells of garbage per rewrite, and all P
//! states stay live: P x K x 80 bytes (80 MB with churn's defaults, 800 MB with churn-big's).
//! Under per-process heaps each server collects its own few KB; under the shared heap every
//! collection stops every server and the live states make its major collections long.
//!
//! # Protocol
//! The Erlang, Java and Go versions (peers/erlang/heaplab_churn.erl,
//! peers/java/HeaplabChurn.java, peers/go/churn.go) follow the same steps.
//! 1. The root process spawns the P servers (server `s` seeds its generator with `s`); each
//!    builds its state (keys 0 to K - 1, values 0) in batches, yielding between them, and
//!    sends the root `heaplab_ready`. The root waits for all P.
//! 2. The clients run (the protocol of [`super::clients`]); each request is the client's pid.
//! 3. A server, per request: W times, picks a key uniformly in `0..K` and rewrites the state
//!    for it; then replies with the length of the state (K: a rewrite keeps every entry).
//! 4. Metrics: `throughput_per_s` (R over the time from `go` to the last client's report),
//!    `request_latency_us` (every request), `live_bytes` (P x K x 80, the states' size) and
//!    `gc_pause_us` from the GC log. The runtime's shutdown ends the servers.
//!
//! # Invariants
//! 1. Every server's state holds exactly K entries with keys 0..K, in the order built, at
//!    every reply (entries Invariant 2): the reply is K, which the server asserts in debug
//!    builds.
//! 2. `churn-big` is `churn` with other defaults only (K = 1000, W = 1, R = 50,000).

use std::sync::Arc;

use heaplab_gc::{Atom, Pid, Root};
use heaplab_runtime::{Cx, SpawnError};

use super::clients::{Board, ServerStamps};
use super::random::Random;
use super::{attributing, clients, runtime};
use crate::entries::{self, prepend_entries, rewrite_key, BUILD_BATCH};
use crate::failure::Failure;
use crate::params::{ParamKind, ParamSpec};
use crate::workload::{Builtin, Measurements, RunContext, Threads};

/// The churn workload.
pub const WORKLOAD: Builtin = Builtin {
    name: "churn",
    summary: "P servers hold K-entry states and rewrite W entries per request; C clients time the replies",
    params: &CHURN_PARAMS,
    threads: Threads::Schedulers,
    run: run_churn,
    memory: Some(memory),
};

/// The churn-big workload: churn with ten times the live data (Invariant 2).
pub const BIG_WORKLOAD: Builtin = Builtin {
    name: "churn-big",
    summary: "churn with K=1000, W=1, R=50,000: about 800 MB live, where stop-the-world pauses grow",
    params: &BIG_PARAMS,
    threads: Threads::Schedulers,
    run: run_churn_big,
    memory: Some(memory),
};

/// A lower bound of a run's memory: every server's state (80 bytes an entry), and the copy
/// a collection makes of it.
fn memory(params: &crate::params::Params) -> u64 {
    2 * params.integer("processes") * params.integer("entries") * 80
}

/// churn's parameters: K = 100, W = 4, R = 200,000.
const CHURN_PARAMS: [ParamSpec; 6] = params("100", "4", "200000");

/// churn-big's parameters: K = 1000, W = 1, R = 50,000 (Invariant 2).
const BIG_PARAMS: [ParamSpec; 6] = params("1000", "1", "50000");

/// The parameters of churn and churn-big, with the defaults that differ.
const fn params(entries: &'static str, rewrites: &'static str, requests: &'static str) -> [ParamSpec; 6] {
    [
        runtime::ATTRIBUTION,
        ParamSpec {
            name: "clients",
            default: "4",
            kind: ParamKind::Integer { min: 1, max: 10_000 },
            description: "closed-loop client processes",
        },
        ParamSpec {
            name: "entries",
            default: entries,
            kind: ParamKind::Integer { min: 1, max: 1_000_000 },
            description: "entries in each server's state (80 bytes each)",
        },
        ParamSpec {
            name: "processes",
            default: "10000",
            kind: ParamKind::Integer { min: 1, max: 1_000_000 },
            description: "server processes",
        },
        ParamSpec {
            name: "requests",
            default: requests,
            kind: ParamKind::Integer { min: 1, max: 100_000_000 },
            description: "requests made by all clients together",
        },
        ParamSpec {
            name: "rewrites",
            default: rewrites,
            kind: ParamKind::Integer { min: 0, max: 10_000 },
            description: "whole-state rewrites per request",
        },
    ]
}

/// The atom a server sends the root once its state is built (Protocol step 1).
pub(super) const READY: &str = "heaplab_ready";

fn run_churn(context: &RunContext) -> Result<Measurements, Failure> {
    run(context, "churn")
}

fn run_churn_big(context: &RunContext) -> Result<Measurements, Failure> {
    run(context, "churn-big")
}

/// The whole protocol, for workload `name`.
fn run(context: &RunContext, name: &'static str) -> Result<Measurements, Failure> {
    let processes = context.params.integer("processes");
    let entries = context.params.integer("entries");
    let rewrites = context.params.integer("rewrites");
    let clients = context.params.integer("clients");
    let requests = context.params.integer("requests");
    let total = processes.saturating_add(clients);
    let rt = runtime::start(context, usize::try_from(total).unwrap_or(usize::MAX))?;
    let board = runtime::attribution_on(&context.params).then(|| Arc::new(Board::new(clients)));

    let results = rt
        .block_on(move |mut cx| async move {
            let servers = spawn_servers(&mut cx, processes, entries, rewrites, board.clone()).await?;
            clients::run(&mut cx, servers, clients, requests, board).await
        })
        .map_err(|reason| runtime::process_failed(name, "root", reason))?
        .map_err(|e| Failure::run(format!("{name}: {e}")))?;
    let mut measurements = Measurements::default();
    attributing::attribute(context, &rt, &results, &mut measurements);
    rt.shutdown();

    measurements.metric("throughput_per_s", results.throughput_per_s());
    measurements.metric(
        "live_bytes",
        (processes * entries * entries::WORDS_PER_ENTRY * entries::BYTES_PER_WORD) as f64,
    );
    measurements.histogram("request_latency_us", results.latencies);
    Ok(measurements)
}

/// Protocol step 1: spawns `processes` servers of `entries` entries doing `rewrites`
/// rewrites per request, and waits until every state is built.
pub(super) async fn spawn_servers(
    cx: &mut Cx,
    processes: u64,
    entries: u64,
    rewrites: u64,
    board: Option<Arc<Board>>,
) -> Result<Arc<[Pid]>, SpawnError> {
    let root = cx.self_pid();
    let mut servers = Vec::with_capacity(usize::try_from(processes).unwrap_or(0));
    for seed in 0..processes {
        let board = board.clone();
        servers.push(cx.spawn(move |cx| server(cx, root, seed, entries, rewrites, board))?);
        cx.tick(0).await;
    }
    clients::await_atoms(cx, Atom::new(READY), processes).await;
    Ok(servers.into())
}

/// One server (Protocol steps 1 and 3).
async fn server(mut cx: Cx, root: Pid, seed: u64, entries: u64, rewrites: u64, board: Option<Arc<Board>>) {
    let state = build_state(&mut cx, entries).await;
    let ready = Atom::new(READY);
    cx.send(root, |h| h.atom(ready));
    let mut random = Random::new(seed);
    let mut stamps = ServerStamps::default();
    loop {
        let from = cx.receive(|_, m| m.as_pid()).await;
        if board.is_some() {
            stamps.matched(&cx);
        }
        let length = cx.with(|h| {
            let mut list = h.get(&state);
            for _ in 0..rewrites {
                list = rewrite_key(h, list, random.below(entries) as i64);
            }
            h.set(&state, list);
            list.list_len().expect("the state is a proper list")
        });
        // Invariant 1: a reply other than K would be a bug in the rewrite.
        debug_assert_eq!(length as u64, entries);
        if let Some(board) = &board {
            stamps.replying(&cx, board, from);
        }
        cx.send(from, |h| h.int(length as i64));
    }
}

/// A rooted state of `entries` entries built on this process's heap, [`BUILD_BATCH`]
/// entries per brand with a reduction check between batches, so a large state is built
/// across slices (and collections) as an Erlang process would build it.
pub(super) async fn build_state(cx: &mut Cx, entries: u64) -> Root {
    let state = cx.with(|h| h.root(h.nil()));
    let mut built = 0;
    while built < entries {
        let batch = (entries - built).min(BUILD_BATCH);
        cx.with(|h| {
            let list = prepend_entries(h, h.get(&state), built..built + batch);
            h.set(&state, list);
        });
        built += batch;
        cx.tick(0).await;
    }
    state
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::gc_log::GcLog;
    use crate::params::Params;
    use crate::strategy::Strategy;

    fn run_with(workload: &Builtin, strategy: Strategy, assignments: &[&str]) -> Measurements {
        let context = RunContext {
            params: Params::from_assignments(workload.name, workload.params, assignments).unwrap(),
            strategy,
            schedulers: 2,
            gc_log: Arc::new(GcLog::new()),
        };
        (workload.run)(&context).unwrap()
    }

    #[test]
    fn every_request_is_answered_and_timed_under_both_heaps() {
        for strategy in [Strategy::PerProcess, Strategy::Shared] {
            let assignments = ["processes=20", "entries=30", "rewrites=3", "clients=3", "requests=100"];
            let measurements = run_with(&WORKLOAD, strategy, &assignments);
            assert_eq!(measurements.histograms["request_latency_us"].len(), 100, "{strategy}");
            assert!(measurements.metrics["throughput_per_s"] > 0.0, "{strategy}");
            assert_eq!(measurements.metrics["live_bytes"], (20 * 30 * 80) as f64);
        }
    }

    #[test]
    fn an_attributed_run_accounts_for_every_slow_requests_time() {
        for strategy in [Strategy::PerProcess, Strategy::Shared] {
            let assignments = ["attribution=on", "processes=20", "entries=30", "clients=3", "requests=300"];
            let measurements = run_with(&WORKLOAD, strategy, &assignments);
            let attribution = measurements.attribution.expect("attribution=on attributes");
            let tail = &attribution.tails.above_p99;
            assert_eq!(tail.count as usize, attribution.slow.len(), "{strategy}");
            assert!(tail.count >= 1, "{strategy}: 300 requests have one above p99");
            let sum: f64 = tail.share.values().sum();
            assert!((sum - 1.0).abs() < 1e-9, "{strategy}: {sum}");
            for request in &attribution.slow {
                assert_eq!(request.breakdown.total_ns(), request.moments.latency_ns());
                let m = &request.moments;
                assert!(m.sent_ns <= m.enqueued_ns && m.server_started_ns <= m.replied_ns, "{m:?}");
                assert!(m.replied_ns <= m.received_ns && m.server != m.client, "{m:?}");
            }
        }
        let plain = run_with(&WORKLOAD, Strategy::PerProcess, &["processes=5", "requests=10"]);
        assert!(plain.attribution.is_none(), "off by default");
    }

    #[test]
    fn churn_big_differs_only_in_defaults() {
        let names = |w: &Builtin| w.params.iter().map(|p| p.name).collect::<Vec<_>>();
        assert_eq!(names(&WORKLOAD), names(&BIG_WORKLOAD));
        let big = Params::from_assignments("churn-big", BIG_WORKLOAD.params, &[] as &[&str]).unwrap();
        assert_eq!(
            (big.integer("entries"), big.integer("rewrites"), big.integer("requests")),
            (1000, 1, 50_000)
        );
        let measurements =
            run_with(&BIG_WORKLOAD, Strategy::PerProcess, &["processes=5", "entries=50", "requests=20"]);
        assert_eq!(measurements.histograms["request_latency_us"].len(), 20);
    }

    #[test]
    fn a_state_is_built_across_batches_in_key_order() {
        let rt = heaplab_runtime::Runtime::builder().schedulers(1).build().unwrap();
        let (length, first, last) = rt
            .block_on(|mut cx| async move {
                let state = build_state(&mut cx, BUILD_BATCH + 3).await;
                cx.with(|h| {
                    let list = h.get(&state);
                    let first = list.iter_list().next().unwrap().to_string();
                    let last = list.iter_list().last().unwrap().to_string();
                    (list.list_len().unwrap() as u64, first, last)
                })
            })
            .unwrap();
        rt.shutdown();
        assert_eq!(length, BUILD_BATCH + 3);
        assert_eq!(first, format!("{{{0},0,[{0},0]}}", BUILD_BATCH + 2));
        assert_eq!(last, "{0,0,[0,0]}");
    }
}
