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
//! 3. With attribution on ([`Board`]), a server writes its moments of a request into the
//!    requesting client's slot before it sends the reply, and the client reads the slot
//!    after the reply arrived: the message hand-over orders the two, and a client has one
//!    request outstanding, so the slot holds that request's moments.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use heaplab_gc::{Atom, Pid};
use heaplab_runtime::moments::Moments;
use heaplab_runtime::{Cx, SpawnError};

use crate::attribution::{RequestMoments, Slowest};

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
    /// With attribution on, the moments of each client's slowest requests, at least every
    /// request above the run's p99 ([`Slowest`]); else empty.
    pub(super) moments: Vec<RequestMoments>,
}

/// A server's moments of one request (Invariant 3).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct ServerMoments {
    /// The server's pid number.
    pub(super) server: u64,
    /// The server's own moments, read after its receive returned.
    pub(super) moments: Moments,
    /// When it finished its previous request (0: none).
    pub(super) previous_ns: u64,
    /// It is about to send the reply.
    pub(super) replied_ns: u64,
}

/// One client's slot: a server's moments of the client's outstanding request.
#[derive(Default)]
struct Slot([AtomicU64; 7]);

/// Where servers leave their moments of each request for its client (Invariant 3), with
/// attribution on.
#[derive(Default)]
pub(super) struct Board {
    slots: Vec<Slot>,
    /// Client pid number to slot, set before the clients start.
    index: OnceLock<HashMap<u64, usize>>,
}

impl Board {
    /// A board for `clients` clients.
    pub(super) fn new(clients: u64) -> Board {
        Board { slots: (0..clients).map(|_| Slot::default()).collect(), index: OnceLock::new() }
    }

    /// A server's moments of the request of `client` (a pid no client has is ignored).
    pub(super) fn record(&self, client: Pid, m: ServerMoments) {
        let Some(&i) = self.index.get().and_then(|index| index.get(&client.number())) else { return };
        let values = [
            m.server,
            m.moments.runnable_ns,
            u64::from(m.moments.runnable_on),
            m.moments.started_ns,
            u64::from(m.moments.started_on),
            m.previous_ns,
            m.replied_ns,
        ];
        for (cell, value) in self.slots[i].0.iter().zip(values) {
            cell.store(value, Ordering::Relaxed);
        }
    }

    /// What the server of client `i`'s last request left.
    fn read(&self, i: usize) -> ServerMoments {
        let v: [u64; 7] = std::array::from_fn(|k| self.slots[i].0[k].load(Ordering::Relaxed));
        let on = |x: u64| u32::try_from(x).unwrap_or(u32::MAX);
        ServerMoments {
            server: v[0],
            moments: Moments {
                runnable_ns: v[1],
                runnable_on: on(v[2]),
                started_ns: v[3],
                started_on: on(v[4]),
            },
            previous_ns: v[5],
            replied_ns: v[6],
        }
    }
}

/// What a client noted of its send.
#[derive(Clone, Copy, Debug)]
pub(super) struct Sent {
    /// Its clock read right before the send.
    pub(super) start: Instant,
    /// The scheduler it sent on.
    pub(super) sent_on: Option<u32>,
    /// Its clock right after the send returned.
    pub(super) enqueued_ns: u64,
}

impl Board {
    /// The moments of the request client `index` (process `cx`) sent as `sent` and got the
    /// reply to `elapsed` after `sent.start`, its receive having just returned (Invariant 3).
    pub(super) fn request_moments(
        &self,
        cx: &Cx,
        index: usize,
        sent: Sent,
        elapsed: Duration,
    ) -> Option<RequestMoments> {
        let own = cx.moments()?;
        let sent_ns = heaplab_runtime::moments::since(cx.epoch(), sent.start);
        let s = self.read(index);
        Some(RequestMoments {
            client: cx.self_pid().number(),
            server: s.server,
            sent_ns,
            enqueued_ns: sent.enqueued_ns,
            sent_on: sent.sent_on.unwrap_or(u32::MAX),
            server_runnable_ns: s.moments.runnable_ns,
            server_runnable_on: s.moments.runnable_on,
            server_started_ns: s.moments.started_ns,
            server_started_on: s.moments.started_on,
            server_previous_ns: s.previous_ns,
            replied_ns: s.replied_ns,
            client_runnable_ns: own.runnable_ns,
            client_runnable_on: own.runnable_on,
            client_started_ns: own.started_ns,
            client_started_on: own.started_on,
            received_ns: sent_ns + crate::gc_log::nanos(elapsed.as_nanos()),
        })
    }

    /// Sets the client pids, in client index order, before the clients start.
    pub(super) fn set_clients(&self, pids: &[Pid]) {
        let _ = self.index.set(pids.iter().enumerate().map(|(i, pid)| (pid.number(), i)).collect());
    }
}

/// A server's bookkeeping for the board: call [`ServerStamps::matched`] right after the
/// receive returned and [`ServerStamps::replying`] right before the reply is sent.
#[derive(Default)]
pub(super) struct ServerStamps {
    previous_ns: u64,
    matched: Option<Moments>,
}

impl ServerStamps {
    /// The receive returned a request: its slice's moments (no clock read).
    pub(super) fn matched(&mut self, cx: &Cx) {
        self.matched = cx.moments();
    }

    /// The reply to `client` is about to be sent.
    pub(super) fn replying(&mut self, cx: &Cx, board: &Board, client: Pid) {
        if let Some(moments) = self.matched.take() {
            let replied_ns = cx.clock_ns();
            let server = cx.self_pid().number();
            board
                .record(client, ServerMoments { server, moments, previous_ns: self.previous_ns, replied_ns });
            self.previous_ns = replied_ns;
        }
    }
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
    board: Option<Arc<Board>>,
) -> Result<ClientResults, SpawnError> {
    let root = cx.self_pid();
    let (go, done) = (Atom::new(GO), Atom::new(DONE));
    let slots: Arc<Mutex<Vec<Option<Recorded>>>> =
        Arc::new(Mutex::new(vec![None; usize::try_from(clients).expect("client count fits memory")]));

    // Protocol step 1.
    let mut pids = Vec::new();
    for index in 0..clients {
        let (servers, slots, board) = (Arc::clone(&servers), Arc::clone(&slots), board.clone());
        let count = quota(requests, clients, index);
        let kept = Slowest::for_tail_of(if board.is_some() { requests } else { 0 });
        pids.push(cx.spawn(move |cx| client(cx, root, index, count, servers, slots, board, kept))?);
        cx.tick(0).await;
    }
    if let Some(board) = &board {
        board.set_clients(&pids);
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
    let mut moments = Vec::new();
    let mut slots = slots.lock().unwrap_or_else(|e| e.into_inner());
    for recorded in slots.iter_mut().flatten() {
        latencies.merge(&recorded.latencies);
        moments.extend(std::mem::take(&mut recorded.moments).into_vec());
    }
    Ok(ClientResults { latencies, elapsed, moments })
}

/// What one client leaves for the root (Protocol step 4).
#[derive(Clone)]
struct Recorded {
    latencies: DurationHistogram,
    moments: Slowest,
}

/// One client (Protocol steps 1, 3 and 4).
#[allow(clippy::too_many_arguments)] // the protocol's inputs, each used once
async fn client(
    mut cx: Cx,
    root: Pid,
    index: u64,
    requests: u64,
    servers: Arc<[Pid]>,
    slots: Arc<Mutex<Vec<Option<Recorded>>>>,
    board: Option<Arc<Board>>,
    mut moments: Slowest,
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
        let sent_on = board.as_ref().and_then(|_| cx.scheduler_id());
        cx.send(server, |h| h.pid(me));
        let enqueued_ns = board.as_ref().map(|_| cx.clock_ns());
        cx.receive(|_, m| m.as_int()).await;
        let elapsed = start.elapsed();
        latencies.record(elapsed);
        // Invariant 3: the reply has arrived, so the slot holds this request's moments.
        if let (Some(board), Some(enqueued_ns)) = (&board, enqueued_ns) {
            let sent = Sent { start, sent_on, enqueued_ns };
            if let Some(request) = board.request_moments(&cx, index as usize, sent, elapsed) {
                moments.offer(request);
            }
        }
    }
    // Protocol step 4.
    if let Some(slot) = slots.lock().unwrap_or_else(|e| e.into_inner()).get_mut(index as usize) {
        *slot = Some(Recorded { latencies, moments });
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
