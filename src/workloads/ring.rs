//! ring: the cost of one message hop between processes.
//!
//! N processes form a ring and pass a token around it M times: N * M sends, each waking the
//! next process. Every hop is a send, a wake-up, a context switch and a receive, so
//! `ns_per_hop` is the price of the smallest unit of actor work.
//!
//! The token is the integer K (an immediate: no heap data) when `payload` is 0 [the
//! default], else `{K, Payload}`, where `Payload` is a list of `payload` integers built once
//! by member 0 and forwarded unchanged: on private heaps every hop copies it (2 words per
//! element, 3 for the tuple), on the shared heap no hop does, so sweeping `payload` shows
//! what copying messages costs (`copied_words_per_hop`).
//!
//! With `copies` C > 1 (and a payload) the token is `{K, [L, L, ..., L]}`: C references to
//! the one payload list L. A private-heap send copies a term without keeping its sharing, so
//! every hop copies L C times (2 x payload x C words, plus 2 x C for the outer list and 3
//! for the tuple) and the receiver holds C separate copies; the shared heap copies nothing.
//! `received_live_words` shows the flattening: the live words member 0's heap holds for the
//! token it received last, measured after the clock stops (Protocol step 4).
//!
//! # Protocol
//! The Erlang, Java and Go versions (peers/erlang/heaplab_ring.erl,
//! peers/java/HeaplabRing.java, peers/go/ring.go) follow the same steps.
//! 1. The root process is member 0 of the ring; it spawns the other N - 1 members, the last
//!    one first, each knowing the next member's pid (the last one's next is member 0).
//! 2. K in the token is the number of hops still to make. Member 0 builds the payload,
//!    starts the clock and sends K = N * M - 1 to the next member; every member that
//!    receives K > 0 sends K - 1, with the payload it received, to its next member. After exactly N * M hops member 0 receives 0 and stops the clock:
//!    `ns_per_hop` is the time over N * M (`hops`).
//! 3. A member other than 0 that receives K < N will not see the token again (the next
//!    value to reach it would be K - N < 0), so it exits after forwarding it: the ring
//!    winds down during the last lap without any extra message.
//! 4. After the clock stops, member 0 collects its heap with the received payload rooted:
//!    `received_live_words` is its live words then minus its live words after a collection
//!    just before the clock started (its own payload). The Erlang version reports
//!    `erts_debug:size/1` of the received payload, the same figure.

use std::time::Instant;

use heaplab_gc::{Mu, Pid, Root, Term};
use heaplab_runtime::{Cx, SpawnError};

use super::runtime;
use crate::failure::Failure;
use crate::params::{ParamKind, ParamSpec};
use crate::workload::{Builtin, Measurements, RunContext, Threads};

/// The ring workload.
pub const WORKLOAD: Builtin = Builtin {
    name: "ring",
    summary: "N processes in a ring pass a token M laps: the cost of one message hop",
    params: PARAMS,
    threads: Threads::Schedulers,
    run,
    memory: None,
};

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "copies",
        default: "1",
        kind: ParamKind::Integer { min: 1, max: 1_000_000 },
        description: "references to the payload list the token carries (with copies > 1: {K, [L, ..., L]})",
    },
    ParamSpec {
        name: "laps",
        default: "1000",
        kind: ParamKind::Integer { min: 1, max: 1_000_000 },
        description: "times the token goes round the ring",
    },
    ParamSpec {
        name: "payload",
        default: "0",
        kind: ParamKind::Integer { min: 0, max: 10_000_000 },
        description: "integers in the list the token carries (copied at every hop on private heaps)",
    },
    ParamSpec {
        name: "processes",
        default: "1000",
        kind: ParamKind::Integer { min: 1, max: 1_000_000 },
        description: "processes in the ring",
    },
    runtime::TIME_SPLIT,
];

fn run(context: &RunContext) -> Result<Measurements, Failure> {
    let n = context.params.integer("processes");
    let hops = n * context.params.integer("laps");
    let payload = context.params.integer("payload") as i64;
    let copies = context.params.integer("copies");
    let rt = runtime::start(context, n as usize)?;
    let split = runtime::time_split_on(&context.params);
    let (n, hops_term) = (n as i64, hops as i64);

    let (elapsed, received_words, window) = rt
        .block_on(move |mut cx| async move {
            // Protocol step 1.
            let mut next = cx.self_pid();
            for _ in 1..n {
                let after = next;
                next = cx.spawn(move |cx| member(cx, after, n))?;
            }
            // Protocol step 2, member 0.
            let list = cx.with(|h| {
                (payload > 0).then(|| {
                    let l = h.list((0..payload).map(|i| h.int(i)));
                    h.root(if copies > 1 { h.list((0..copies).map(|_| l)) } else { l })
                })
            });
            cx.garbage_collect().await;
            let before = cx.heap_stats().used_words();
            let window = split.then(|| runtime::SplitStart::now(&cx));
            let start = Instant::now();
            cx.send(next, |h| token(h, hops_term - 1, &list));
            let received = loop {
                let (k, list) = cx.receive(take_token).await;
                if k == 0 {
                    break list;
                }
                cx.send(next, |h| token(h, k - 1, &list));
            };
            let elapsed = start.elapsed();
            let window = window.map(|w| w.end(&cx));
            // Protocol step 4.
            cx.garbage_collect().await;
            let after = cx.heap_stats().used_words();
            drop(received);
            Ok::<_, SpawnError>((elapsed, after.saturating_sub(before), window))
        })
        .map_err(|reason| runtime::process_failed("ring", "root", reason))?
        .map_err(|e| Failure::run(format!("ring: {e}")))?;
    rt.shutdown();

    let mut measurements = Measurements::default();
    measurements.metric("ns_per_hop", elapsed.as_nanos() as f64 / hops as f64);
    measurements.metric("hops", hops as f64);
    let copied = match context.strategy {
        crate::strategy::Strategy::Shared => 0,
        // The token's tuple is built in the message area; the payload a member received
        // (and rooted) is linked, not copied: only the first hop copies member 0's list.
        crate::strategy::Strategy::Hybrid => hybrid_copied_words(payload as u64),
        _ => copied_words(payload as u64, copies),
    };
    measurements.metric("copied_words_per_hop", copied as f64);
    measurements.metric("received_live_words", received_words as f64);
    if let Some(window) = window {
        window.record(&mut measurements, &context.gc_log);
    }
    Ok(measurements)
}

/// Words a private-heap send of the token copies: none for an immediate K; the tuple and
/// the list for `{K, L}`; with `copies` > 1 the outer list and every copy of L, whose
/// sharing the copy does not keep.
fn copied_words(payload: u64, copies: u64) -> u64 {
    match (payload, copies) {
        (0, _) => 0,
        (_, 1) => 2 * payload + 3,
        _ => 2 * payload * copies + 2 * copies + 3,
    }
}

/// Words a hybrid-heap hop writes into the message area after the first: the `{K, L}` tuple
/// (none for an immediate K), the received payload L being linked.
fn hybrid_copied_words(payload: u64) -> u64 {
    if payload == 0 {
        0
    } else {
        3
    }
}

/// The token: K alone without a payload, else `{K, Payload}` with the payload `list` roots.
fn token<'h>(h: Mu<'h>, k: i64, list: &Option<Root>) -> Term<'h> {
    match list {
        None => h.int(k),
        Some(root) => h.tuple(&[h.int(k), h.get(root)]),
    }
}

/// Matcher for a token: its K and its payload, rooted for the next send.
fn take_token<'h>(h: Mu<'h>, m: Term<'h>) -> Option<(i64, Option<Root>)> {
    if let Some(k) = m.as_int() {
        return Some((k, None));
    }
    match m.as_tuple()? {
        [k, list] => Some((k.as_int()?, Some(h.root(*list)))),
        _ => None,
    }
}

/// Protocol steps 2 and 3: a member other than 0.
async fn member(mut cx: Cx, next: Pid, n: i64) {
    loop {
        let (k, list) = cx.receive(take_token).await;
        if k > 0 {
            cx.send(next, |h| token(h, k - 1, &list));
        }
        if k < n {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::gc_log::GcLog;
    use crate::params::Params;
    use crate::strategy::Strategy;

    fn run_with(assignments: &[&str], schedulers: u32) -> Measurements {
        run_under(Strategy::PerProcess, assignments, schedulers)
    }

    fn run_under(strategy: Strategy, assignments: &[&str], schedulers: u32) -> Measurements {
        let context = RunContext {
            params: Params::from_assignments("ring", PARAMS, assignments).unwrap(),
            strategy,
            schedulers,
            gc_log: Arc::new(GcLog::new()),
        };
        run(&context).unwrap()
    }

    #[test]
    fn the_token_makes_every_hop() {
        for (processes, laps) in [(1, 1), (1, 5), (2, 1), (7, 3), (100, 10)] {
            let measurements = run_with(&[&format!("processes={processes}"), &format!("laps={laps}")], 2);
            assert_eq!(measurements.metrics["hops"], (processes * laps) as f64);
            assert!(measurements.metrics["ns_per_hop"] > 0.0);
        }
    }

    #[test]
    fn the_time_split_covers_the_window_and_needs_one_scheduler() {
        for strategy in [Strategy::PerProcess, Strategy::Shared] {
            let split = run_under(strategy, &["processes=10", "laps=20", "payload=1000", "time_split=on"], 1);
            let parts = ["mutator", "send", "gc"];
            let pct: f64 = parts.iter().map(|p| split.metrics[&format!("{p}_pct")]).sum();
            assert!((pct - 100.0).abs() < 1e-6, "{strategy}: {pct}");
            assert!(split.metrics["send_ns"] > 0.0 && split.metrics["mutator_ns"] > 0.0, "{strategy}");
            let plain = run_under(strategy, &["processes=10", "laps=2"], 1);
            assert!(parts.iter().all(|p| !plain.metrics.contains_key(&format!("{p}_ns"))), "{strategy}");
        }
        let context = RunContext {
            params: Params::from_assignments("ring", PARAMS, &["time_split=on"]).unwrap(),
            strategy: Strategy::PerProcess,
            schedulers: 2,
            gc_log: Arc::new(GcLog::new()),
        };
        let error = run(&context).expect_err("two schedulers are refused").to_string();
        assert!(error.contains("--schedulers 1"), "{error}");
    }

    #[test]
    fn one_scheduler_runs_the_ring_too() {
        let measurements = run_with(&["processes=50", "laps=4"], 1);
        assert_eq!(measurements.metrics["hops"], 200.0);
    }

    #[test]
    fn a_payload_is_copied_at_every_hop_only_on_private_heaps() {
        for (strategy, copied) in [(Strategy::PerProcess, 2.0 * 100.0 + 3.0), (Strategy::Shared, 0.0)] {
            let measurements = run_under(strategy, &["processes=10", "laps=3", "payload=100"], 2);
            assert_eq!(measurements.metrics["hops"], 30.0, "{strategy}");
            assert_eq!(measurements.metrics["copied_words_per_hop"], copied, "{strategy}");
        }
    }

    #[test]
    fn copies_of_one_list_are_flattened_only_on_private_heaps() {
        assert_eq!(copied_words(0, 10), 0);
        assert_eq!(copied_words(100, 1), 203);
        assert_eq!(copied_words(100, 3), 2 * 100 * 3 + 2 * 3 + 3);
        let set = ["processes=5", "laps=2", "payload=100", "copies=3"];
        let private = run_under(Strategy::PerProcess, &set, 2);
        assert_eq!(private.metrics["copied_words_per_hop"], 609.0);
        // The received payload: three separate copies of L and the outer list.
        assert_eq!(private.metrics["received_live_words"], 606.0);
        let shared = run_under(Strategy::Shared, &set, 2);
        assert_eq!(shared.metrics["copied_words_per_hop"], 0.0);
        assert!(shared.metrics["received_live_words"] < 606.0, "{:?}", shared.metrics);
        let one = run_under(Strategy::PerProcess, &["processes=5", "laps=2", "payload=100"], 2);
        assert_eq!(one.metrics["received_live_words"], 200.0);
    }
}
