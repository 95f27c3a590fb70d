//! binaries: large binaries passed through processes. Producers send binaries of S bytes
//! through a router process to consumers that keep the last `keep` they got, for a sweep of
//! sizes S. Above 64 bytes a binary lives off-heap, reference-counted: a send copies only
//! its handle (per-process heaps) or a reference (shared heap), never the bytes, and a
//! binary is freed when the last heap holding a handle drops it (a collection, or the exit
//! of the process). The workload shows what a message costs as S grows, and that no binary
//! outlives the run.
//!
//! # Protocol
//! The Erlang, Java and Go versions (peers/erlang/heaplab_binaries.erl,
//! peers/java/HeaplabBinaries.java, peers/go/binaries.go) follow the same steps.
//! 1. The root spawns C consumers, the router (which knows the consumers) and P producers
//!    (which know the router). Each producer holds a template of `max_bytes` bytes.
//! 2. The sweep: `sizes` sizes, halving from `max_bytes` (sizes below one byte are left
//!    out), smallest first. For each size S the root starts the clock and sends producer
//!    `i` `{heaplab_produce, S, N_i}` (N_i: `messages` / P, plus one if `i < messages mod
//!    P`).
//! 3. A producer sends the router N_i messages `{Self, Bin}`, each `Bin` a new binary of the
//!    first S bytes of its template, with at most [`WINDOW`] unacknowledged: past that it
//!    waits for a `heaplab_ack` first. Then it waits for its last acks and sends the root
//!    `{heaplab_done, Words}`, Words being what its sends copied.
//! 4. The router forwards each message it gets, unchanged, to the consumers in turn.
//! 5. A consumer acknowledges each message to the producer in it (`heaplab_ack`) and keeps
//!    its binary in a list of the last `keep`: the new list is the binary followed by the
//!    first `keep - 1` of the old one, so the oldest falls off and becomes garbage.
//! 6. The root stops the clock when every producer is done (every message consumed):
//!    `throughput_<S>b_per_s` for the size. After the sweep it asks the router for the words
//!    its sends copied (`{heaplab_report, Root}`).
//! 7. Metrics: `throughput_per_s` (all messages over the time of all sizes), `messages`,
//!    `bytes_copied_per_message` (the words the producers' and the router's sends copied,
//!    in bytes, per message: both hops), and, after the runtime has shut down,
//!    `binaries_live_at_end` and `binary_bytes_live_at_end`: the off-heap binaries (and
//!    their bytes) still allocated, above what was allocated before the run. Both must be 0.
//!
//! # Invariants
//! 1. Per-process heaps copy a message into a fragment when it is sent; this workload makes
//!    that fragment itself (what `Cx::send` does) and counts its words. The shared heap
//!    passes the message by reference: it copies no word (the runtime's
//!    `Message::copied_words` is 0), so the count stays 0 there.
//! 2. At most P x [`WINDOW`] messages are in flight, and each consumer holds at most `keep`
//!    binaries, so the live binaries stay bounded whatever the size.

use std::sync::Arc;
use std::time::{Duration, Instant};

use heaplab_gc::{live_binaries, live_binary_bytes, Atom, Fragment, Mu, Pid, Root, Term};
use heaplab_runtime::{Cx, SpawnError};

use super::clients::quota;
use super::runtime;
use crate::entries::BYTES_PER_WORD;
use crate::failure::Failure;
use crate::params::{ParamKind, ParamSpec};
use crate::strategy::Strategy;
use crate::workload::{ratio, Builtin, Measurements, RunContext, Threads};

/// The binaries workload.
pub const WORKLOAD: Builtin = Builtin {
    name: "binaries",
    summary:
        "producers send binaries of a sweep of sizes through a router to consumers keeping the last ones",
    params: PARAMS,
    threads: Threads::Schedulers,
    run,
    memory: None,
};

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "consumers",
        default: "2",
        kind: ParamKind::Integer { min: 1, max: 10_000 },
        description: "consumer processes",
    },
    ParamSpec {
        name: "keep",
        default: "100",
        kind: ParamKind::Integer { min: 1, max: 100_000 },
        description: "binaries each consumer keeps (the last ones it got)",
    },
    ParamSpec {
        name: "max_bytes",
        default: "1048576",
        kind: ParamKind::Integer { min: 1, max: 64 << 20 },
        description: "largest binary of the sweep, in bytes",
    },
    ParamSpec {
        name: "messages",
        default: "10000",
        kind: ParamKind::Integer { min: 1, max: 100_000_000 },
        description: "binaries sent per size, by all producers together",
    },
    ParamSpec {
        name: "producers",
        default: "2",
        kind: ParamKind::Integer { min: 1, max: 10_000 },
        description: "producer processes",
    },
    ParamSpec {
        name: "sizes",
        default: "11",
        kind: ParamKind::Integer { min: 1, max: 27 },
        description: "sizes in the sweep, halving from max_bytes (11: 1 KiB to 1 MiB)",
    },
];

/// Messages a producer may have unacknowledged (Invariant 2): enough to keep the router and
/// the consumers busy while it makes the next binary, few enough that 1 MiB binaries in
/// flight stay in the tens of MB.
pub(super) const WINDOW: u64 = 16;

/// The sizes of the sweep, smallest first (Protocol step 2).
pub(super) fn sweep(max_bytes: u64, sizes: u64) -> Vec<u64> {
    let mut sweep: Vec<u64> =
        (0..sizes).rev().filter_map(|halvings| max_bytes.checked_shr(halvings as u32)).collect();
    sweep.retain(|&size| size > 0);
    sweep.dedup();
    sweep
}

/// The atoms of the protocol.
#[derive(Clone, Copy)]
struct Atoms {
    produce: Atom,
    ack: Atom,
    done: Atom,
    report: Atom,
}

impl Atoms {
    fn new() -> Atoms {
        Atoms {
            produce: Atom::new("heaplab_produce"),
            ack: Atom::new("heaplab_ack"),
            done: Atom::new("heaplab_done"),
            report: Atom::new("heaplab_report"),
        }
    }
}

/// How a send passes its message, and so what it copies (Invariant 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transfer {
    /// Per-process heaps: into a fragment, counted.
    Copy,
    /// The shared heap: by reference, nothing copied.
    Reference,
}

/// A received message kept for a later send.
enum Held {
    Fragment(Fragment),
    Root(Root),
}

impl Transfer {
    fn of(strategy: Strategy) -> Transfer {
        match strategy {
            Strategy::Shared => Transfer::Reference,
            _ => Transfer::Copy,
        }
    }

    /// Sends the term `build` makes to `to`; returns the words copied.
    fn send(self, cx: &mut Cx, to: Pid, build: impl for<'h> FnOnce(Mu<'h>) -> Term<'h>) -> u64 {
        match self {
            Transfer::Copy => {
                let fragment = cx.with(|h| {
                    let term = build(h);
                    h.to_fragment(term)
                });
                let words = fragment.words() as u64;
                cx.send_fragment(to, fragment);
                words
            }
            Transfer::Reference => {
                cx.send(to, build);
                0
            }
        }
    }

    /// Keeps the received `message` for [`Transfer::send_held`]: the copy a send would make
    /// (per-process), or a root (shared).
    fn hold<'h>(self, h: Mu<'h>, message: Term<'h>) -> Held {
        match self {
            Transfer::Copy => Held::Fragment(h.to_fragment(message)),
            Transfer::Reference => Held::Root(h.root(message)),
        }
    }

    /// Sends a held message to `to`; returns the words copied.
    fn send_held(cx: &mut Cx, to: Pid, held: Held) -> u64 {
        match held {
            Held::Fragment(fragment) => {
                let words = fragment.words() as u64;
                cx.send_fragment(to, fragment);
                words
            }
            Held::Root(root) => {
                cx.send(to, |h| h.get(&root));
                0
            }
        }
    }
}

/// What the root measured.
struct Sweep {
    /// (size, time to pass `messages` binaries of that size).
    times: Vec<(u64, Duration)>,
    /// Words copied by the producers' and the router's sends.
    copied_words: u64,
}

fn run(context: &RunContext) -> Result<Measurements, Failure> {
    let producers = context.params.integer("producers");
    let consumers = context.params.integer("consumers");
    let keep = context.params.integer("keep");
    let messages = context.params.integer("messages");
    let max_bytes = context.params.integer("max_bytes");
    let sizes = sweep(max_bytes, context.params.integer("sizes"));
    let transfer = Transfer::of(context.strategy);
    let (binaries_before, bytes_before) = (live_binaries(), live_binary_bytes());
    let total = producers.saturating_add(consumers).saturating_add(1);
    let rt = runtime::start(context, usize::try_from(total).unwrap_or(usize::MAX))?;

    let sweep_sizes = sizes.clone();
    let measured = rt
        .block_on(move |mut cx| async move {
            let atoms = Atoms::new();
            let root = cx.self_pid();
            // Protocol step 1.
            let mut consumer_pids = Vec::new();
            for _ in 0..consumers {
                consumer_pids.push(cx.spawn(move |cx| consumer(cx, keep, atoms))?);
            }
            let router = cx.spawn(move |cx| router(cx, consumer_pids, transfer, atoms))?;
            let template: Arc<[u8]> = (0..max_bytes).map(|i| i as u8).collect();
            let mut producer_pids = Vec::new();
            for _ in 0..producers {
                let template = Arc::clone(&template);
                producer_pids
                    .push(cx.spawn(move |cx| producer(cx, root, router, template, transfer, atoms))?);
            }
            // Protocol steps 2 and 6.
            let mut measured = Sweep { times: Vec::new(), copied_words: 0 };
            for size in sweep_sizes {
                let start = Instant::now();
                for (i, &pid) in producer_pids.iter().enumerate() {
                    let count = quota(messages, producers, i as u64) as i64;
                    cx.send(pid, |h| h.tuple(&[h.atom(atoms.produce), h.int(size as i64), h.int(count)]));
                }
                for _ in 0..producers {
                    let words = cx
                        .receive(|_, m| match m.as_tuple()? {
                            [tag, words] if tag.as_atom() == Some(atoms.done) => words.as_int(),
                            _ => None,
                        })
                        .await;
                    measured.copied_words += words as u64;
                }
                measured.times.push((size, start.elapsed()));
            }
            cx.send(router, |h| h.tuple(&[h.atom(atoms.report), h.pid(root)]));
            measured.copied_words += cx.receive(|_, m| m.as_int()).await as u64;
            Ok::<_, SpawnError>(measured)
        })
        .map_err(|reason| runtime::process_failed("binaries", "root", reason))?
        .map_err(|e| Failure::run(format!("binaries: {e}")))?;
    rt.shutdown();
    // Protocol step 7: the runtime and every heap are gone.
    let binaries_left = live_binaries().saturating_sub(binaries_before);
    let bytes_left = live_binary_bytes().saturating_sub(bytes_before);

    let mut measurements = Measurements::default();
    let all_messages = messages * sizes.len() as u64;
    let all_time: Duration = measured.times.iter().map(|(_, time)| *time).sum();
    for (size, time) in &measured.times {
        measurements.metric(&format!("throughput_{size}b_per_s"), ratio(messages as f64, time.as_secs_f64()));
    }
    measurements.metric("throughput_per_s", ratio(all_messages as f64, all_time.as_secs_f64()));
    measurements.metric("messages", all_messages as f64);
    measurements.metric(
        "bytes_copied_per_message",
        ratio((measured.copied_words * BYTES_PER_WORD) as f64, all_messages as f64),
    );
    measurements.metric("binaries_live_at_end", binaries_left as f64);
    measurements.metric("binary_bytes_live_at_end", bytes_left as f64);
    Ok(measurements)
}

/// One producer (Protocol step 3).
async fn producer(mut cx: Cx, root: Pid, router: Pid, template: Arc<[u8]>, transfer: Transfer, atoms: Atoms) {
    let me = cx.self_pid();
    loop {
        let (size, count) = cx
            .receive(|_, m| match m.as_tuple()? {
                [tag, size, count] if tag.as_atom() == Some(atoms.produce) => {
                    Some((size.as_int()? as usize, count.as_int()? as u64))
                }
                _ => None,
            })
            .await;
        let bytes = &template[..size];
        let (mut in_flight, mut copied) = (0, 0);
        for _ in 0..count {
            if in_flight == WINDOW {
                await_ack(&mut cx, atoms).await;
                in_flight -= 1;
            }
            copied += transfer.send(&mut cx, router, |h| h.tuple(&[h.pid(me), h.binary(bytes)]));
            in_flight += 1;
        }
        for _ in 0..in_flight {
            await_ack(&mut cx, atoms).await;
        }
        cx.send(root, |h| h.tuple(&[h.atom(atoms.done), h.int(copied as i64)]));
    }
}

async fn await_ack(cx: &mut Cx, atoms: Atoms) {
    cx.receive(|_, m| (m.as_atom() == Some(atoms.ack)).then_some(())).await;
}

/// What the router acts on.
enum ToRouter {
    Forward(Held),
    Report(Pid),
}

/// The router (Protocol steps 4 and 6).
async fn router(mut cx: Cx, consumers: Vec<Pid>, transfer: Transfer, atoms: Atoms) {
    let (mut next, mut copied) = (0, 0u64);
    loop {
        let incoming = cx
            .receive(|h, m| match m.as_tuple()? {
                [tag, from] if tag.as_atom() == Some(atoms.report) => Some(ToRouter::Report(from.as_pid()?)),
                [_, _] => Some(ToRouter::Forward(transfer.hold(h, m))),
                _ => None,
            })
            .await;
        match incoming {
            ToRouter::Forward(held) => {
                copied += Transfer::send_held(&mut cx, consumers[next], held);
                next = (next + 1) % consumers.len();
            }
            ToRouter::Report(to) => cx.send(to, |h| h.int(copied as i64)),
        }
    }
}

/// One consumer (Protocol step 5).
async fn consumer(mut cx: Cx, keep: u64, atoms: Atoms) {
    let kept = cx.with(|h| h.root(h.nil()));
    let take = usize::try_from(keep - 1).unwrap_or(usize::MAX);
    loop {
        let from = cx
            .receive(|h, m| match m.as_tuple()? {
                [from, binary] => {
                    let from = from.as_pid()?;
                    let list = h.list(std::iter::once(*binary).chain(h.get(&kept).iter_list().take(take)));
                    h.set(&kept, list);
                    Some(from)
                }
                _ => None,
            })
            .await;
        cx.send(from, |h| h.atom(atoms.ack));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::gc_log::GcLog;
    use crate::params::Params;

    #[test]
    fn the_sweep_halves_from_the_largest_size() {
        assert_eq!(sweep(1 << 20, 11), (10..=20).map(|bits| 1u64 << bits).collect::<Vec<_>>());
        assert_eq!(sweep(1000, 1), [1000]);
        assert_eq!(sweep(5, 27), [1, 2, 5]);
    }

    fn run_with(strategy: Strategy, assignments: &[&str]) -> Measurements {
        let context = RunContext {
            params: Params::from_assignments("binaries", PARAMS, assignments).unwrap(),
            strategy,
            schedulers: 2,
            gc_log: Arc::new(GcLog::new()),
        };
        run(&context).unwrap()
    }

    #[test]
    fn every_binary_is_delivered_and_sends_copy_handles_not_bytes() {
        let assignments =
            ["max_bytes=4096", "sizes=3", "messages=50", "keep=4", "producers=2", "consumers=3"];
        let per_process = run_with(Strategy::PerProcess, &assignments);
        assert_eq!(per_process.metrics["messages"], 150.0);
        for size in [1024, 2048, 4096] {
            assert!(per_process.metrics[&format!("throughput_{size}b_per_s")] > 0.0);
        }
        // {Pid, Bin} twice: a 3-word tuple and a refc handle, a few words whatever the size.
        let copied = per_process.metrics["bytes_copied_per_message"];
        assert!(copied > 0.0 && copied < 1024.0, "{copied}");
        let shared = run_with(Strategy::Shared, &assignments);
        assert_eq!(shared.metrics["messages"], 150.0);
        assert_eq!(shared.metrics["bytes_copied_per_message"], 0.0);
    }
}
