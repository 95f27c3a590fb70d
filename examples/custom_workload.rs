//! A workload of one's own, measured by heaplab like the built-in ones: `bench`, `compare`
//! and `--runs` run it under every heap strategy, with the same reports, intervals and plots.
//!
//! ```sh
//! cargo run --release --example custom_workload -- bench list-ping-pong --runs 3
//! cargo run --release --example custom_workload -- compare --workload list-ping-pong --no-beam --runs 3 --out /tmp/mine
//! cargo run --release --example custom_workload -- bench --help     # lists it with the others
//! ```
//!
//! The program is the `heaplab` command line with one more workload: it implements
//! [`Workload`], adds it to the built-in [`Registry`] and hands over to
//! [`Registry::run_cli`]. `compare` and `--runs` run each measurement in a fresh process of
//! this same program, so the workload is found there too.

use std::process::ExitCode;
use std::time::Instant;

use heaplab::failure::Failure;
use heaplab::histogram::DurationHistogram;
use heaplab::params::{ParamKind, ParamSpec};
use heaplab::registry::Registry;
use heaplab::workload::{Measurements, RunContext, Threads, Workload};

/// Two processes pass a list back and forth, the receiver adding one element each time; the
/// round trips are timed. Every message copies the list on private heaps and passes a
/// reference on the shared heap, so the two strategies pay differently as the list grows.
struct ListPingPong;

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "rounds",
        default: "2000",
        kind: ParamKind::Integer { min: 1, max: 10_000_000 },
        description: "round trips timed",
    },
    ParamSpec {
        name: "length",
        default: "100",
        kind: ParamKind::Integer { min: 0, max: 1_000_000 },
        description: "elements of the list at the start",
    },
];

impl Workload for ListPingPong {
    fn name(&self) -> &'static str {
        "list-ping-pong"
    }

    fn summary(&self) -> &'static str {
        "two processes pass a growing list back and forth; round trips timed"
    }

    fn params(&self) -> &'static [ParamSpec] {
        PARAMS
    }

    fn threads(&self) -> Threads {
        Threads::Schedulers
    }

    fn run(&self, context: &RunContext) -> Result<Measurements, Failure> {
        let rounds = context.params.integer("rounds");
        let length = context.params.integer("length") as i64;
        let runtime = context.start_runtime(2)?;
        let round_trips = runtime
            .block_on(move |mut cx| async move {
                let me = cx.self_pid();
                let partner = cx
                    .spawn(|mut cx| async move {
                        loop {
                            let (from, list) = cx
                                .receive(|h, message| match message.as_tuple()? {
                                    [from, list] => Some((from.as_pid()?, h.root(*list))),
                                    _ => None,
                                })
                                .await;
                            cx.send(from, |h| {
                                let list = h.get(&list);
                                h.cons(h.int(0), list)
                            });
                        }
                    })
                    .expect("the partner spawns");
                let mut list = cx.with(|h| {
                    let list = h.list((0..length).map(|i| h.int(i)));
                    h.root(list)
                });
                let mut round_trips = DurationHistogram::with_capacity(rounds as usize);
                for _ in 0..rounds {
                    let start = Instant::now();
                    cx.send(partner, |h| h.tuple(&[h.pid(me), h.get(&list)]));
                    list = cx.receive(|h, message| message.list_len().map(|_| h.root(message))).await;
                    round_trips.record(start.elapsed());
                }
                round_trips
            })
            .map_err(|reason| Failure::run(format!("list-ping-pong: the root process failed: {reason}")))?;
        let mut measurements = Measurements::default();
        measurements.metric("round_trips", rounds as f64);
        measurements.histogram("round_trip_latency_us", round_trips);
        Ok(measurements)
    }
}

static LIST_PING_PONG: ListPingPong = ListPingPong;

fn main() -> ExitCode {
    Registry::builtin().with(&LIST_PING_PONG).run_cli()
}
