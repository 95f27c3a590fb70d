//! large-state: whose latency does a large heap's collection hurt? One process holds a large
//! live state and keeps rewriting part of it, while C clients time small requests to P small
//! servers. Under per-process heaps the large process's collections (long majors of all its
//! live data) pause that process alone and, at most, delay what waits on its scheduler; under
//! the shared heap the same live data is in everyone's heap, so its major collections stop
//! every small server too.
//!
//! # Protocol
//! The Erlang, Java and Go versions (peers/erlang/heaplab_large_state.erl,
//! peers/java/HeaplabLargeState.java, peers/go/large_state.go) follow the same steps.
//! 1. The root spawns the large process. It builds a state of `state_mb` MiB of entries
//!    `{I, V, [I, V]}` (module [`crate::entries`]; 80 bytes each), sends the root
//!    `heaplab_ready`, then loops until told to stop: it rebuilds the first
//!    `rewrite_entries` entries of its state (new tuples holding V+1 on new cons cells, the
//!    rest of the list shared), so each step leaves that much garbage and the old versions
//!    pile up in its old generation until a major collection copies the whole state. Between
//!    steps it looks for `{heaplab_stop, From}` without waiting.
//! 2. Once the large state is built, the root spawns P small servers (churn servers with
//!    [`SMALL_ENTRIES`] entries doing [`SMALL_REWRITES`] rewrite per request) and waits for
//!    their states.
//! 3. The clients run (the protocol of [`super::clients`]): `request_latency_us` is the
//!    latency of the small servers, `throughput_per_s` their request rate.
//! 4. The root sends the large process `{heaplab_stop, Root}`; it answers with the steps it
//!    made (`state_rewrites`). `gc_pause_us` comes from the GC log: every collection, the
//!    large process's and the small ones'.
//!
//! # Invariants
//! 1. The large state keeps exactly its entry count: a rewrite replaces entries, never drops
//!    or adds one (entries Invariant 2), so its live size is `state_bytes` throughout.

use std::sync::Arc;
use std::time::Duration;

use heaplab_gc::{Atom, Pid};
use heaplab_runtime::{Cx, SpawnError};

use super::churn::{self, READY};
use super::{attributing, clients, runtime};
use crate::entries::{self, rewrite_prefix_of};
use crate::failure::Failure;
use crate::params::{ParamKind, ParamSpec};
use crate::workload::{Builtin, Measurements, RunContext, Threads};

/// The large-state workload.
pub const WORKLOAD: Builtin = Builtin {
    name: "large-state",
    summary: "one process rewrites a large live state while C clients time requests to P small servers",
    params: PARAMS,
    threads: Threads::Schedulers,
    run,
    memory: Some(memory),
};

/// A lower bound of a run's memory: the large state, and the copy a collection makes of it.
fn memory(params: &crate::params::Params) -> u64 {
    (2 * params.integer("state_mb")) << 20
}

const PARAMS: &[ParamSpec] = &[
    runtime::ATTRIBUTION,
    ParamSpec {
        name: "clients",
        default: "4",
        kind: ParamKind::Integer { min: 1, max: 10_000 },
        description: "closed-loop client processes",
    },
    ParamSpec {
        name: "processes",
        default: "1000",
        kind: ParamKind::Integer { min: 1, max: 1_000_000 },
        description: "small server processes",
    },
    ParamSpec {
        name: "requests",
        default: "200000",
        kind: ParamKind::Integer { min: 1, max: 100_000_000 },
        description: "requests to the small servers by all clients together",
    },
    ParamSpec {
        name: "rewrite_entries",
        default: "10000",
        kind: ParamKind::Integer { min: 1, max: 100_000_000 },
        description: "entries of the large state rebuilt per step (80 bytes each)",
    },
    ParamSpec {
        name: "state_mb",
        default: "64",
        kind: ParamKind::Integer { min: 1, max: 16_384 },
        description: "live state of the large process, in MiB",
    },
];

/// Entries of a small server's state: 800 bytes, a small process whose collections take
/// microseconds.
pub(super) const SMALL_ENTRIES: u64 = 10;

/// Rewrites of a small server's state per request: a little work and garbage per request.
pub(super) const SMALL_REWRITES: u64 = 1;

/// Bytes per MiB of `state_mb`.
const BYTES_PER_MB: u64 = 1 << 20;

/// The atom of the stop request (Protocol step 4).
const STOP: &str = "heaplab_stop";

fn run(context: &RunContext) -> Result<Measurements, Failure> {
    let processes = context.params.integer("processes");
    let clients = context.params.integer("clients");
    let requests = context.params.integer("requests");
    let rewrite = context.params.integer("rewrite_entries");
    let entries = entries::entries_for(context.params.integer("state_mb") * BYTES_PER_MB);
    let total = processes.saturating_add(clients).saturating_add(1);
    let rt = runtime::start(context, usize::try_from(total).unwrap_or(usize::MAX))?;
    let board = runtime::attribution_on(&context.params).then(|| Arc::new(clients::Board::new(clients)));

    let (results, rewrites) = rt
        .block_on(move |mut cx| async move {
            // Protocol step 1.
            let root = cx.self_pid();
            let large = cx.spawn(move |cx| large(cx, root, entries, rewrite))?;
            clients::await_atoms(&mut cx, Atom::new(READY), 1).await;
            // Protocol steps 2 and 3.
            let servers =
                churn::spawn_servers(&mut cx, processes, SMALL_ENTRIES, SMALL_REWRITES, board.clone())
                    .await?;
            let results = clients::run(&mut cx, servers, clients, requests, board).await?;
            // Protocol step 4.
            let stop = Atom::new(STOP);
            cx.send(large, |h| h.tuple(&[h.atom(stop), h.pid(root)]));
            let rewrites = cx.receive(|_, m| m.as_int()).await;
            Ok::<_, SpawnError>((results, rewrites))
        })
        .map_err(|reason| runtime::process_failed("large-state", "root", reason))?
        .map_err(|e| Failure::run(format!("large-state: {e}")))?;
    let mut measurements = Measurements::default();
    attributing::attribute(context, &rt, &results, &mut measurements);
    rt.shutdown();

    measurements.metric("throughput_per_s", results.throughput_per_s());
    measurements.metric("state_bytes", (entries * entries::WORDS_PER_ENTRY * entries::BYTES_PER_WORD) as f64);
    measurements.metric("state_rewrites", rewrites as f64);
    measurements.histogram("request_latency_us", results.latencies);
    Ok(measurements)
}

/// The large process (Protocol steps 1 and 4).
async fn large(mut cx: Cx, root: Pid, entries: u64, rewrite: u64) {
    let state = churn::build_state(&mut cx, entries).await;
    let (ready, stop) = (Atom::new(READY), Atom::new(STOP));
    cx.send(root, |h| h.atom(ready));
    let mut rewrites: i64 = 0;
    loop {
        let stop_from = cx
            .receive_timeout(Duration::ZERO, |_, m| match m.as_tuple()? {
                [tag, from] if tag.as_atom() == Some(stop) => from.as_pid(),
                _ => None,
            })
            .await;
        if let Some(from) = stop_from {
            cx.send(from, |h| h.int(rewrites));
            return;
        }
        cx.with(|h| {
            let rewritten = rewrite_prefix_of(h, h.get(&state), rewrite);
            h.set(&state, rewritten);
        });
        rewrites += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::gc_log::GcLog;
    use crate::params::Params;
    use crate::strategy::Strategy;

    #[test]
    fn the_small_servers_answer_while_the_large_state_is_rewritten_under_both_heaps() {
        for strategy in [Strategy::PerProcess, Strategy::Shared] {
            let assignments =
                ["state_mb=1", "rewrite_entries=500", "processes=10", "clients=2", "requests=200"];
            let context = RunContext {
                params: Params::from_assignments("large-state", PARAMS, &assignments).unwrap(),
                strategy,
                schedulers: 2,
                gc_log: Arc::new(GcLog::new()),
            };
            let measurements = run(&context).unwrap();
            assert_eq!(measurements.histograms["request_latency_us"].len(), 200, "{strategy}");
            assert!(measurements.metrics["state_rewrites"] >= 0.0, "{strategy}");
            let state_bytes = measurements.metrics["state_bytes"];
            assert!((1_048_576.0..1_048_576.0 + 80.0).contains(&state_bytes), "{state_bytes}");
        }
    }
}
