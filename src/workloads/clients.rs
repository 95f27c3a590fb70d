//! Closed-loop clients, shared by the request/reply workloads (`churn`, `churn-big`,
//! `large-state`): C client processes each send one request at a time to a uniformly random
//! server and time its reply. What they measure is the latency a server's process sees end
//! to end: the send, the server's wake-up, its work, and any GC pause in between, its own or
//! (under a shared heap) everyone's.
//!
//! # Protocol
//! 1. The calling process (the root) spawns the C clients. Client `i` gets R / C requests,
//!    plus one if `i < R mod C`, makes a histogram sized for them (recording then allocates
//!    nothing: histogram Invariant 4) and waits for `go`.
//! 2. The root starts the clock and sends `go` to every client.
//! 3. Per request, a client picks a server uniformly at random (its own generator, seeded
//!    with `i`), reads the clock, sends the server its own pid, waits for the reply and
//!    records the time to it.
//! 4. A client that has made its requests leaves its histogram in its slot of a table the
//!    root shares, then sends the root `{heaplab_client_done, I}`.
//! 5. The root stops the clock once every client has reported and merges the histograms in
//!    client order.
//!
//! # Invariants
//! 1. A server answers each request with exactly one integer message to the pid it
//!    received. A client has one request outstanding at a time and gets no other integer
//!    message, so an integer is the reply to its last request.
//! 2. A client's own bookkeeping on its measured path (step 3: the random choice, the clock
//!    reads, the recording) allocates nothing; what is timed is the request itself.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use heaplab_gc::{Atom, Pid};
use heaplab_runtime::{Cx, SpawnError};

use super::random::Random;
use crate::histogram::DurationHistogram;

/// The atom a client waits for before its first request (Protocol step 2).
const GO: &str = "heaplab_go";

/// The atom tagging a client's report to the root (Protocol step 4).
const DONE: &str = "heaplab_client_done";

/// What the clients measured.
#[derive(Debug)]
pub(super) struct ClientResults {
    /// The latency of every request, merged over the clients (Protocol step 5).
    pub(super) latencies: DurationHistogram,
    /// From the `go` to the last client's report.
    pub(super) elapsed: Duration,
}

impl ClientResults {
    /// Requests per second over the whole run.
    pub(super) fn throughput_per_s(&self) -> f64 {
        crate::workload::ratio(self.latencies.len() as f64, self.elapsed.as_secs_f64())
    }
}

/// The requests of client `index` of `clients`, `requests` in all (Protocol step 1).
pub(super) fn quota(requests: u64, clients: u64, index: u64) -> u64 {
    requests / clients + u64::from(index < requests % clients)
}

/// Runs the whole protocol from the root process `cx`: `clients` clients make `requests`
/// requests to `servers`.
///
/// # Errors
/// The spawn error if a client cannot be spawned.
pub(super) async fn run(
    cx: &mut Cx,
    servers: Arc<[Pid]>,
    clients: u64,
    requests: u64,
) -> Result<ClientResults, SpawnError> {
    let root = cx.self_pid();
    let (go, done) = (Atom::new(GO), Atom::new(DONE));
    let slots: Arc<Mutex<Vec<Option<DurationHistogram>>>> =
        Arc::new(Mutex::new(vec![None; usize::try_from(clients).expect("client count fits memory")]));

    // Protocol step 1.
    let mut pids = Vec::new();
    for index in 0..clients {
        let (servers, slots) = (Arc::clone(&servers), Arc::clone(&slots));
        let count = quota(requests, clients, index);
        pids.push(cx.spawn(move |cx| client(cx, root, index, count, servers, slots))?);
        cx.tick(0).await;
    }

    // Protocol steps 2 and 5.
    let start = Instant::now();
    for pid in &pids {
        cx.send(*pid, |h| h.atom(go));
    }
    for _ in 0..clients {
        cx.receive(|_, m| match m.as_tuple()? {
            [tag, _] if tag.as_atom() == Some(done) => Some(()),
            _ => None,
        })
        .await;
    }
    let elapsed = start.elapsed();
    let mut latencies = DurationHistogram::new();
    let slots = slots.lock().unwrap_or_else(|e| e.into_inner());
    for histogram in slots.iter().flatten() {
        latencies.merge(histogram);
    }
    Ok(ClientResults { latencies, elapsed })
}

/// One client (Protocol steps 1, 3 and 4).
async fn client(
    mut cx: Cx,
    root: Pid,
    index: u64,
    requests: u64,
    servers: Arc<[Pid]>,
    slots: Arc<Mutex<Vec<Option<DurationHistogram>>>>,
) {
    let (go, done) = (Atom::new(GO), Atom::new(DONE));
    let mut latencies = DurationHistogram::with_capacity(usize::try_from(requests).unwrap_or(usize::MAX));
    let mut random = Random::new(index);
    let me = cx.self_pid();
    cx.receive(|_, m| (m.as_atom() == Some(go)).then_some(())).await;
    // Protocol step 3 (Invariants 1 and 2).
    for _ in 0..requests {
        let server = servers[random.below(servers.len() as u64) as usize];
        let start = Instant::now();
        cx.send(server, |h| h.pid(me));
        cx.receive(|_, m| m.as_int()).await;
        latencies.record(start.elapsed());
    }
    // Protocol step 4.
    if let Some(slot) = slots.lock().unwrap_or_else(|e| e.into_inner()).get_mut(index as usize) {
        *slot = Some(latencies);
    }
    cx.send(root, |h| h.tuple(&[h.atom(done), h.int(index as i64)]));
}

/// Waits until `count` messages that are the atom `name` have arrived (servers reporting
/// that their state is built).
pub(super) async fn await_atoms(cx: &mut Cx, name: Atom, count: u64) {
    for _ in 0..count {
        cx.receive(|_, m| (m.as_atom() == Some(name)).then_some(())).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_add_up_and_differ_by_at_most_one() {
        for (requests, clients) in [(10, 3), (3, 10), (200_000, 4), (1, 1)] {
            let quotas: Vec<u64> = (0..clients).map(|i| quota(requests, clients, i)).collect();
            assert_eq!(quotas.iter().sum::<u64>(), requests);
            assert!(quotas.iter().max().unwrap() - quotas.iter().min().unwrap() <= 1, "{quotas:?}");
        }
    }
}
