//! big: many-to-many messaging, bencherl's `big`. N processes each send a ping to every
//! other process and wait for all the pongs, so N x (N - 1) pings and as many pongs cross
//! the runtime per round with every process both sending and answering. It stresses
//! mailboxes, wake-ups and the scheduler more than the heaps: the messages are tiny.
//!
//! # Protocol (the Erlang version, peers/erlang/heaplab_big.erl, follows the same steps)
//! 1. The root process spawns the N members; each waits for `heaplab_go`. The root then
//!    publishes the list of members' pids (in a table every member holds), starts the clock
//!    and sends `heaplab_go` to every member.
//! 2. Per round, a member sends `{heaplab_ping, Self}` to every other member, then receives
//!    until it has counted N - 1 `heaplab_pong`s, answering every `{heaplab_ping, From}` that
//!    arrives meanwhile with `heaplab_pong` to `From`.
//! 3. After its last round a member sends the root `heaplab_done` and goes on answering
//!    pings (others may still be in their rounds) until the runtime shuts down.
//! 4. The root stops the clock after N `heaplab_done`s: `messages` (2 x N x (N - 1) x
//!    rounds) over that time is `messages_per_s`.
//!
//! # Invariants
//! 1. A member counts only pongs, and every ping it sends is answered by exactly one pong,
//!    so a round ends when, and only when, every other member has answered this round's
//!    ping. Pongs of a later round cannot arrive early: that round's pings are not sent yet.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use heaplab_gc::{Atom, Pid};
use heaplab_runtime::{Cx, SpawnError};

use super::clients::await_atoms;
use super::runtime;
use crate::failure::Failure;
use crate::params::{ParamKind, ParamSpec};
use crate::workload::{ratio, Builtin, Measurements, RunContext, Threads};

/// The big workload.
pub const WORKLOAD: Builtin = Builtin {
    name: "big",
    summary: "N processes each ping every other and wait for all pongs (bencherl's big)",
    params: PARAMS,
    threads: Threads::Schedulers,
    run,
    memory: None,
};

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "processes",
        default: "500",
        kind: ParamKind::Integer { min: 1, max: 20_000 },
        description: "member processes (N x (N - 1) pings per round)",
    },
    ParamSpec {
        name: "rounds",
        default: "1",
        kind: ParamKind::Integer { min: 1, max: 10_000 },
        description: "times every member pings every other",
    },
    runtime::TIME_SPLIT,
    runtime::AREA_GC,
    runtime::AREA_INCREMENT_WORDS,
];

/// The atoms of the protocol.
#[derive(Clone, Copy)]
struct Atoms {
    go: Atom,
    ping: Atom,
    pong: Atom,
    done: Atom,
}

impl Atoms {
    fn new() -> Atoms {
        Atoms {
            go: Atom::new("heaplab_go"),
            ping: Atom::new("heaplab_ping"),
            pong: Atom::new("heaplab_pong"),
            done: Atom::new("heaplab_done"),
        }
    }
}

/// A message a member acts on.
enum Incoming {
    Ping(Pid),
    Pong,
}

fn run(context: &RunContext) -> Result<Measurements, Failure> {
    let n = context.params.integer("processes");
    let rounds = context.params.integer("rounds");
    let rt = runtime::start(context, usize::try_from(n).unwrap_or(usize::MAX))?;
    let split = runtime::time_split_on(&context.params);

    let (elapsed, window) = rt
        .block_on(move |mut cx| async move {
            let atoms = Atoms::new();
            let root = cx.self_pid();
            // Protocol step 1.
            let table: Arc<OnceLock<Box<[Pid]>>> = Arc::new(OnceLock::new());
            let mut members = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
            for _ in 0..n {
                let table = Arc::clone(&table);
                members.push(cx.spawn(move |cx| member(cx, root, table, rounds, atoms))?);
                cx.tick(0).await;
            }
            let members = table.get_or_init(|| members.into_boxed_slice());
            let window = split.then(|| runtime::SplitStart::now(&cx));
            let start = Instant::now();
            for &pid in members.iter() {
                cx.send(pid, |h| h.atom(atoms.go));
            }
            // Protocol step 4.
            await_atoms(&mut cx, atoms.done, n).await;
            let elapsed = start.elapsed();
            Ok::<_, SpawnError>((elapsed, window.map(|w| w.end(&cx))))
        })
        .map_err(|reason| runtime::process_failed("big", "root", reason))?
        .map_err(|e| Failure::run(format!("big: {e}")))?;
    rt.shutdown();

    let messages = 2 * n * (n - 1) * rounds;
    let mut measurements = Measurements::default();
    measurements.metric("messages", messages as f64);
    measurements.metric("messages_per_s", ratio(messages as f64, elapsed.as_secs_f64()));
    if let Some(window) = window {
        window.record(&mut measurements, &context.gc_log);
    }
    Ok(measurements)
}

/// One member (Protocol steps 1 to 3).
async fn member(mut cx: Cx, root: Pid, table: Arc<OnceLock<Box<[Pid]>>>, rounds: u64, atoms: Atoms) {
    let me = cx.self_pid();
    cx.receive(|_, m| (m.as_atom() == Some(atoms.go)).then_some(())).await;
    let members = table.get().expect("the root publishes the members before the go");
    for _ in 0..rounds {
        // Protocol step 2.
        for &peer in members.iter().filter(|&&peer| peer != me) {
            cx.send(peer, |h| h.tuple(&[h.atom(atoms.ping), h.pid(me)]));
        }
        let mut pongs = 0;
        while pongs + 1 < members.len() {
            match next(&mut cx, atoms).await {
                Incoming::Ping(from) => cx.send(from, |h| h.atom(atoms.pong)),
                Incoming::Pong => pongs += 1,
            }
        }
    }
    // Protocol step 3.
    cx.send(root, |h| h.atom(atoms.done));
    loop {
        if let Incoming::Ping(from) = next(&mut cx, atoms).await {
            cx.send(from, |h| h.atom(atoms.pong));
        }
    }
}

/// The next ping or pong, oldest first.
async fn next(cx: &mut Cx, atoms: Atoms) -> Incoming {
    cx.receive(|_, m| {
        if m.as_atom() == Some(atoms.pong) {
            return Some(Incoming::Pong);
        }
        match m.as_tuple()? {
            [tag, from] if tag.as_atom() == Some(atoms.ping) => Some(Incoming::Ping(from.as_pid()?)),
            _ => None,
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::gc_log::GcLog;
    use crate::params::Params;
    use crate::strategy::Strategy;

    fn run_with(strategy: Strategy, assignments: &[&str]) -> Measurements {
        let context = RunContext {
            params: Params::from_assignments("big", PARAMS, assignments).unwrap(),
            strategy,
            schedulers: 2,
            gc_log: Arc::new(GcLog::new()),
        };
        run(&context).unwrap()
    }

    #[test]
    fn every_round_completes_under_both_heaps() {
        for strategy in [Strategy::PerProcess, Strategy::Shared] {
            for (processes, rounds) in [(1, 1), (2, 3), (30, 2)] {
                let assignments = [format!("processes={processes}"), format!("rounds={rounds}")];
                let assignments: Vec<&str> = assignments.iter().map(String::as_str).collect();
                let measurements = run_with(strategy, &assignments);
                let messages = 2 * processes * (processes - 1) * rounds;
                assert_eq!(measurements.metrics["messages"], messages as f64, "{strategy}");
            }
        }
    }
}
