//! ring: the cost of one message hop between processes.
//!
//! N processes form a ring and pass a token around it M times: N * M sends, each waking the
//! next process. Every hop is a send (the token is copied into a message fragment), a
//! wake-up, a context switch and a receive, so `ns_per_hop` is the price of the smallest
//! unit of actor work.
//!
//! # Protocol (the Erlang version, bench/erlang/heaplab_ring.erl, follows the same steps)
//! 1. The root process is member 0 of the ring; it spawns the other N - 1 members, the last
//!    one first, each knowing the next member's pid (the last one's next is member 0).
//! 2. The token is the number of hops still to make. Member 0 starts the clock and sends
//!    N * M - 1 to the next member; every member that receives K > 0 sends K - 1 to its
//!    next member. After exactly N * M hops member 0 receives 0 and stops the clock:
//!    `ns_per_hop` is the time over N * M (`hops`).
//! 3. A member other than 0 that receives K < N will not see the token again (the next
//!    value to reach it would be K - N < 0), so it exits after forwarding it: the ring
//!    winds down during the last lap without any extra message.

use std::time::Instant;

use heaplab_gc::Pid;
use heaplab_runtime::{Cx, SpawnError};

use super::runtime;
use crate::failure::Failure;
use crate::params::{ParamKind, ParamSpec};
use crate::workload::{Measurements, RunContext, Threads, Workload};

/// The ring workload.
pub const WORKLOAD: Workload = Workload {
    name: "ring",
    summary: "N processes in a ring pass a token M laps: the cost of one message hop",
    params: PARAMS,
    threads: Threads::Schedulers,
    run,
};

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "laps",
        default: "1000",
        kind: ParamKind::Integer { min: 1, max: 1_000_000 },
        description: "times the token goes round the ring",
    },
    ParamSpec {
        name: "processes",
        default: "1000",
        kind: ParamKind::Integer { min: 1, max: 1_000_000 },
        description: "processes in the ring",
    },
];

fn run(context: &RunContext) -> Result<Measurements, Failure> {
    let n = context.params.integer("processes");
    let hops = n * context.params.integer("laps");
    let rt = runtime::start(context, n as usize)?;
    let (n, hops_term) = (n as i64, hops as i64);

    let elapsed = rt
        .block_on(move |mut cx| async move {
            // Protocol step 1.
            let mut next = cx.self_pid();
            for _ in 1..n {
                let after = next;
                next = cx.spawn(move |cx| member(cx, after, n))?;
            }
            // Protocol step 2, member 0.
            let start = Instant::now();
            cx.send(next, |h| h.int(hops_term - 1));
            loop {
                let k = cx.receive(|_, m| m.as_int()).await;
                if k == 0 {
                    break;
                }
                cx.send(next, |h| h.int(k - 1));
            }
            Ok::<_, SpawnError>(start.elapsed())
        })
        .map_err(|reason| runtime::process_failed("ring", "root", reason))?
        .map_err(|e| Failure::run(format!("ring: {e}")))?;
    rt.shutdown();

    let mut measurements = Measurements::default();
    measurements.metric("ns_per_hop", elapsed.as_nanos() as f64 / hops as f64);
    measurements.metric("hops", hops as f64);
    Ok(measurements)
}

/// Protocol steps 2 and 3: a member other than 0.
async fn member(mut cx: Cx, next: Pid, n: i64) {
    loop {
        let k = cx.receive(|_, m| m.as_int()).await;
        if k > 0 {
            cx.send(next, |h| h.int(k - 1));
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
        let context = RunContext {
            params: Params::from_assignments("ring", PARAMS, assignments).unwrap(),
            strategy: Strategy::PerProcess,
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
    fn one_scheduler_runs_the_ring_too() {
        let measurements = run_with(&["processes=50", "laps=4"], 1);
        assert_eq!(measurements.metrics["hops"], 200.0);
    }
}
