//! Tail attribution: where a request's time went, from the moments the runtime and the
//! workload stamped on its way (send, wake-ups, slice starts, match, reply, receipt), the
//! collections of the run and the scheduler threads' off-CPU intervals.
//!
//! A request's life from the client's send to the client's receipt of the reply is cut
//! into [`Segment`]s, each in a state the stamps prove (the server runnable but not
//! running, the server busy with an earlier message, a process running its part, the
//! reply delivered but the client not yet running). Over that, two causes take precedence,
//! in this order: a scheduler thread the segment waits on or runs on being off its CPU
//! ([`Component::Descheduled`]), then a collection that overlaps ([`Component::Gc`]: one
//! of the server's or the client's heap, or any stop-the-world pause). Descheduling comes
//! first because nothing of heaplab runs on a thread that is off its CPU: a collection
//! preempted halfway counts as GC only for the time it had the CPU. What no segment covers
//! (stamps that contradict each other, or an interval no stamp bounds) is
//! [`Component::Unexplained`], except where one of the two causes covers it.
//!
//! # Invariants
//! 1. The components of one request add up to its latency exactly (in nanoseconds): every
//!    instant of it is counted once, in the first of descheduled, gc, the segment's state,
//!    unexplained that applies.
//! 2. Segments are clipped to the request and to each other (a segment never counts time
//!    an earlier one counted), so out-of-order stamps lose time to `unexplained` instead
//!    of counting it twice.
//! 3. A tail's shares are weighted by time: component time over latency, summed over the
//!    requests of the tail, so they add up to 1 (to rounding) whenever the tail is not
//!    empty.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// Where a stretch of a request's latency went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    /// A collection of the server's or the client's heap, or a stop-the-world pause.
    Gc,
    /// The server runnable, not running.
    RunQueue,
    /// The request queued behind other messages of the server.
    Mailbox,
    /// A process on the request's path running its part of it: the client's send, the
    /// server's receive and work and reply, the client's receive.
    Service,
    /// The reply delivered, the client not yet running.
    Wakeup,
    /// A scheduler thread the request waited on runnable but off its CPU (the kernel's
    /// accounting).
    Descheduled,
    /// What no stamp explains.
    Unexplained,
}

impl Component {
    /// Every component, in report order.
    pub const ALL: [Component; 7] = [
        Component::Gc,
        Component::RunQueue,
        Component::Mailbox,
        Component::Service,
        Component::Wakeup,
        Component::Descheduled,
        Component::Unexplained,
    ];

    /// The name in reports and CSV headers.
    pub fn name(self) -> &'static str {
        match self {
            Component::Gc => "gc",
            Component::RunQueue => "run_queue",
            Component::Mailbox => "mailbox",
            Component::Service => "service",
            Component::Wakeup => "wakeup",
            Component::Descheduled => "descheduled",
            Component::Unexplained => "unexplained",
        }
    }

    /// The name in sentences ("61% run-queue wait").
    pub fn words(self) -> &'static str {
        match self {
            Component::Gc => "GC",
            Component::RunQueue => "run-queue wait",
            Component::Mailbox => "mailbox wait",
            Component::Service => "service",
            Component::Wakeup => "client wake-up",
            Component::Descheduled => "descheduled threads",
            Component::Unexplained => "unexplained",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A half-open interval `[start_ns, end_ns)` on one clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    /// Start.
    pub start_ns: u64,
    /// End (not before the start).
    pub end_ns: u64,
}

impl Span {
    /// `[start_ns, end_ns)`, empty if `end_ns < start_ns`.
    pub fn new(start_ns: u64, end_ns: u64) -> Span {
        Span { start_ns, end_ns: end_ns.max(start_ns) }
    }

    /// Its length.
    pub fn len_ns(self) -> u64 {
        self.end_ns - self.start_ns
    }

    fn clip(self, to: Span) -> Span {
        Span::new(self.start_ns.max(to.start_ns), self.end_ns.min(to.end_ns))
    }
}

/// A stretch of a request's life in a state the stamps prove, and the scheduler threads
/// whose being off a CPU would hold it up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// When.
    pub span: Span,
    /// The state (any component but gc, descheduled and unexplained, which are causes).
    pub state: Component,
    /// The schedulers it waits on or runs on.
    pub threads: [Option<u32>; 2],
}

/// Nanoseconds per component of one request (Invariant 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Breakdown {
    ns: [u64; 7],
}

impl Breakdown {
    /// The time of `component`.
    pub fn get(&self, component: Component) -> u64 {
        self.ns[component.index()]
    }

    /// The sum of all components.
    pub fn total_ns(&self) -> u64 {
        self.ns.iter().sum()
    }
}

/// The total length of the union of `spans` inside `window`.
fn covered(spans: impl Iterator<Item = Span>, window: Span) -> u64 {
    let mut inside: Vec<Span> = spans.map(|s| s.clip(window)).filter(|s| s.len_ns() > 0).collect();
    inside.sort_unstable();
    let (mut total, mut reach) = (0, window.start_ns);
    for s in inside {
        let start = s.start_ns.max(reach);
        if s.end_ns > start {
            total += s.end_ns - start;
            reach = s.end_ns;
        }
    }
    total
}

/// Attributes the request `total` (Invariants 1 and 2): `segments` in any order, `gc` the
/// collections that count for it, `off_cpu(t)` the off-CPU intervals of scheduler `t`.
pub fn attribute<'a>(
    total: Span,
    segments: &[Segment],
    gc: &[Span],
    off_cpu: impl Fn(u32) -> &'a [Span],
) -> Breakdown {
    let mut ordered = segments.to_vec();
    ordered.sort_by_key(|s| (s.span.start_ns, s.span.end_ns));
    let mut breakdown = Breakdown::default();
    // Adds `span` in `state`, with the causes over it first (Invariant 1).
    let mut count = |span: Span, state: Component, threads: &[Option<u32>]| {
        let off: Vec<Span> = threads.iter().flatten().flat_map(|&t| off_cpu(t).iter().copied()).collect();
        let stopped = covered(off.iter().copied(), span);
        let collecting = covered(gc.iter().copied().chain(off.iter().copied()), span) - stopped;
        breakdown.ns[Component::Descheduled.index()] += stopped;
        breakdown.ns[Component::Gc.index()] += collecting;
        breakdown.ns[state.index()] += span.len_ns() - collecting - stopped;
    };
    let mut reach = total.start_ns;
    let mut before: Option<u32> = None;
    for segment in &ordered {
        let span = Span::new(segment.span.start_ns.max(reach), segment.span.end_ns).clip(total);
        if span.len_ns() == 0 {
            continue;
        }
        // A gap no segment covers: the causes still count there, with the threads of the
        // segments on either side of it.
        if span.start_ns > reach {
            count(Span::new(reach, span.start_ns), Component::Unexplained, &[before, segment.threads[0]]);
        }
        count(span, segment.state, &segment.threads);
        reach = span.end_ns;
        before = segment.threads[0];
    }
    if total.end_ns > reach {
        count(Span::new(reach, total.end_ns), Component::Unexplained, &[before, None]);
    }
    breakdown
}

/// The moments of one request (nanoseconds on the runtime's clock). The server's and the
/// client's `runnable`/`started` are the process's own moments read right after its receive
/// returned (runtime `moments` Invariant 3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestMoments {
    /// The client's pid number.
    pub client: u64,
    /// The server's pid number.
    pub server: u64,
    /// The client is about to send.
    pub sent_ns: u64,
    /// The client's send returned: the request is in the server's mailbox, the server woken.
    pub enqueued_ns: u64,
    /// The scheduler the client sent on.
    pub sent_on: u32,
    /// The server was last made runnable before the slice that matched the request.
    pub server_runnable_ns: u64,
    /// ...by this scheduler.
    pub server_runnable_on: u32,
    /// The slice that matched the request began.
    pub server_started_ns: u64,
    /// ...on this scheduler.
    pub server_started_on: u32,
    /// The server finished its previous request (0: none): until then this one queued.
    pub server_previous_ns: u64,
    /// The server is about to send the reply.
    pub replied_ns: u64,
    /// The client was last made runnable before the slice that received the reply.
    pub client_runnable_ns: u64,
    /// ...by this scheduler.
    pub client_runnable_on: u32,
    /// The slice that received the reply began.
    pub client_started_ns: u64,
    /// ...on this scheduler.
    pub client_started_on: u32,
    /// The client's receive returned the reply.
    pub received_ns: u64,
}

/// A scheduler index as a thread to watch (`u32::MAX`: none).
fn thread(index: u32) -> Option<u32> {
    (index != u32::MAX).then_some(index)
}

impl RequestMoments {
    /// From send to receipt.
    pub fn span(&self) -> Span {
        Span::new(self.sent_ns, self.received_ns)
    }

    /// Latency in nanoseconds.
    pub fn latency_ns(&self) -> u64 {
        self.span().len_ns()
    }

    /// The segments the moments prove (module docs).
    pub fn segments(&self) -> Vec<Segment> {
        let seg = |start, end, state, threads| Segment { span: Span::new(start, end), state, threads };
        let server = thread(self.server_started_on);
        let client = thread(self.client_started_on);
        let mut segments =
            vec![seg(self.sent_ns, self.enqueued_ns, Component::Service, [thread(self.sent_on), None])];
        // Queued behind the server's previous request until it was answered.
        let mut cursor = self.enqueued_ns;
        if self.server_previous_ns > cursor {
            let end = self.server_previous_ns.min(self.replied_ns);
            segments.push(seg(cursor, end, Component::Mailbox, [server, None]));
            cursor = end;
        }
        // Runnable until the matching slice, then running it.
        let queued_from = self.server_runnable_ns.max(cursor);
        if self.server_started_ns > queued_from {
            segments.push(seg(
                queued_from,
                self.server_started_ns,
                Component::RunQueue,
                [thread(self.server_runnable_on), server],
            ));
        }
        let running_from = self.server_started_ns.max(cursor);
        segments.push(seg(running_from, self.replied_ns, Component::Service, [server, None]));
        // The reply delivered until the client runs, then the client's receive.
        let client_from = self.client_started_ns.max(self.replied_ns);
        segments.push(seg(
            self.replied_ns,
            client_from,
            Component::Wakeup,
            [thread(self.client_runnable_on), client],
        ));
        segments.push(seg(client_from, self.received_ns, Component::Service, [client, None]));
        segments
    }
}

/// Collections and off-CPU intervals of a run, indexed for [`RequestMoments`] lookups.
#[derive(Debug, Default)]
pub struct Causes {
    /// Collections of each process heap, by pid number, sorted.
    by_pid: BTreeMap<u64, Vec<Span>>,
    /// Collections of no one process (a stop-the-world pause), sorted.
    global: Vec<Span>,
    /// Off-CPU intervals by scheduler, sorted.
    off_cpu: BTreeMap<u32, Vec<Span>>,
}

impl Causes {
    /// From the collections (pid, span) and off-CPU intervals (scheduler, span).
    pub fn new(
        gc: impl IntoIterator<Item = (Option<u64>, Span)>,
        off: impl IntoIterator<Item = (u32, Span)>,
    ) -> Causes {
        let mut causes = Causes::default();
        for (pid, span) in gc {
            match pid {
                Some(pid) => causes.by_pid.entry(pid).or_default().push(span),
                None => causes.global.push(span),
            }
        }
        for (scheduler, span) in off {
            causes.off_cpu.entry(scheduler).or_default().push(span);
        }
        causes.by_pid.values_mut().for_each(|v| v.sort_unstable());
        causes.global.sort_unstable();
        causes.off_cpu.values_mut().for_each(|v| v.sort_unstable());
        causes
    }

    /// The spans of `list` (sorted by start) that overlap `window`.
    fn overlapping(list: &[Span], window: Span) -> impl Iterator<Item = Span> + '_ {
        let to = list.partition_point(|s| s.start_ns < window.end_ns);
        list[..to].iter().copied().filter(move |s| s.end_ns > window.start_ns)
    }

    /// The breakdown of one request.
    pub fn attribute(&self, request: &RequestMoments) -> Breakdown {
        let window = request.span();
        let mut gc: Vec<Span> = Vec::new();
        for pid in [request.server, request.client] {
            if let Some(list) = self.by_pid.get(&pid) {
                gc.extend(Causes::overlapping(list, window));
            }
        }
        gc.extend(Causes::overlapping(&self.global, window));
        let empty: &[Span] = &[];
        attribute(window, &request.segments(), &gc, |t| self.off_cpu.get(&t).map_or(empty, Vec::as_slice))
    }
}

/// One tail of the report: the requests slower than a percentile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TailShare {
    /// Requests in the tail.
    pub count: u64,
    /// Their mean latency, in microseconds.
    pub mean_us: f64,
    /// Each component's share of their time (Invariant 3); empty for an empty tail.
    pub share: BTreeMap<String, f64>,
}

impl TailShare {
    /// The largest component and its share.
    pub fn dominant(&self) -> Option<(&str, f64)> {
        self.share.iter().max_by(|a, b| a.1.total_cmp(b.1)).map(|(k, v)| (k.as_str(), *v))
    }

    /// "61% run-queue wait, 12% GC": the components of at least 5%, largest first.
    pub fn in_words(&self) -> String {
        let mut parts: Vec<(Component, f64)> = Component::ALL
            .iter()
            .filter_map(|&c| self.share.get(c.name()).map(|&v| (c, v)))
            .filter(|&(_, v)| v >= 0.05)
            .collect();
        parts.sort_by(|a, b| b.1.total_cmp(&a.1));
        let mut text = String::new();
        for (i, (c, v)) in parts.iter().enumerate() {
            let _ = write!(text, "{}{:.0}% {}", if i > 0 { ", " } else { "" }, v * 100.0, c.words());
        }
        if text.is_empty() {
            text.push_str("no requests");
        }
        text
    }
}

/// The report's `tail_attribution`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TailAttribution {
    /// The requests slower than the 99th percentile.
    pub above_p99: TailShare,
    /// The requests slower than the 99.9th percentile.
    pub above_p999: TailShare,
}

/// What a run's attribution gives the report and its files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunAttribution {
    /// The report's `tail_attribution`.
    pub tails: TailAttribution,
    /// The requests above the 99th percentile, slowest first.
    pub slow: Vec<Attributed>,
    /// How long after the run's start (the GC log's origin) the runtime's epoch is: add it
    /// to a moment to place it on the run's clock.
    pub offset_ns: u64,
    /// Off-CPU intervals found; 0 where the kernel keeps no per-thread accounting.
    pub off_cpu_intervals: u64,
}

/// A request with its breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attributed {
    /// Its moments.
    pub moments: RequestMoments,
    /// Where its time went.
    pub breakdown: Breakdown,
}

/// The latency at quantile `q` of `sorted` latencies (nearest rank).
fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The share of the requests of `tail` (Invariant 3).
fn share_of<'a>(tail: impl Iterator<Item = &'a Attributed>) -> TailShare {
    let (mut count, mut latency) = (0u64, 0u128);
    let mut sums = [0u128; 7];
    for request in tail {
        count += 1;
        latency += u128::from(request.moments.latency_ns());
        for c in Component::ALL {
            sums[c.index()] += u128::from(request.breakdown.get(c));
        }
    }
    let share = if latency == 0 {
        BTreeMap::new()
    } else {
        Component::ALL
            .iter()
            .map(|&c| (c.name().to_owned(), sums[c.index()] as f64 / latency as f64))
            .collect()
    };
    let mean_us = if count == 0 { 0.0 } else { latency as f64 / count as f64 / 1e3 };
    TailShare { count, mean_us, share }
}

/// The tails of a run whose request latencies are `latencies_ns` (every request), and its
/// requests above the 99th percentile (slowest first), taken from `candidates`: the
/// moments of at least every request above it (a client keeps only its slowest).
pub fn tails(
    causes: &Causes,
    candidates: &[RequestMoments],
    latencies_ns: &[u64],
) -> (TailAttribution, Vec<Attributed>) {
    let mut latencies = latencies_ns.to_vec();
    latencies.sort_unstable();
    let (p99, p999) = (quantile(&latencies, 0.99), quantile(&latencies, 0.999));
    let mut slow: Vec<Attributed> = candidates
        .iter()
        .filter(|r| r.latency_ns() > p99)
        .map(|&moments| Attributed { moments, breakdown: causes.attribute(&moments) })
        .collect();
    slow.sort_by_key(|a| std::cmp::Reverse(a.moments.latency_ns()));
    let tails = TailAttribution {
        above_p99: share_of(slow.iter()),
        above_p999: share_of(slow.iter().filter(|a| a.moments.latency_ns() > p999)),
    };
    (tails, slow)
}

/// The slowest requests seen, at most a given number: what a client keeps of its
/// requests' moments, so that memory stays small while every request above the run's 99th
/// percentile is kept (a client keeping the slowest 1% of all the run's requests keeps
/// every one of its own in the run's slowest 1%).
#[derive(Debug, Clone, Default)]
pub struct Slowest {
    keep: usize,
    heap: std::collections::BinaryHeap<std::cmp::Reverse<ByLatency>>,
}

/// Moments ordered by latency (then by send time, to be total).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ByLatency(RequestMoments);

impl Ord for ByLatency {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.0.latency_ns(), self.0.sent_ns).cmp(&(other.0.latency_ns(), other.0.sent_ns))
    }
}

impl PartialOrd for ByLatency {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Slowest {
    /// Keeps the slowest 1% of `requests` (and one more), allocated now.
    pub fn for_tail_of(requests: u64) -> Slowest {
        let keep = usize::try_from(requests / 100 + 1).unwrap_or(usize::MAX);
        Slowest { keep, heap: std::collections::BinaryHeap::with_capacity(keep.saturating_add(1)) }
    }

    /// Offers one request.
    pub fn offer(&mut self, moments: RequestMoments) {
        if self.heap.len() < self.keep {
            self.heap.push(std::cmp::Reverse(ByLatency(moments)));
        } else if self.heap.peek().is_some_and(|least| least.0 .0.latency_ns() < moments.latency_ns()) {
            self.heap.pop();
            self.heap.push(std::cmp::Reverse(ByLatency(moments)));
        }
    }

    /// The requests kept, in no order.
    pub fn into_vec(self) -> Vec<RequestMoments> {
        self.heap.into_iter().map(|r| r.0 .0).collect()
    }
}

/// The CSV of the requests above the 99th percentile, slowest first: one row each with
/// every component and every moment, in integer nanoseconds (moments from the run's start,
/// which is `offset_ns` before the runtime's epoch); an unknown moment or scheduler is an
/// empty cell (csv.rs Invariants 2 and 3).
pub fn requests_csv(requests: &[Attributed], offset_ns: u64) -> String {
    let mut text = String::from("client,server,latency_ns");
    for c in Component::ALL {
        let _ = write!(text, ",{}_ns", c.name());
    }
    text.push_str(
        ",sent_ns,enqueued_ns,server_runnable_ns,server_started_ns,server_previous_ns,\
         replied_ns,client_runnable_ns,client_started_ns,received_ns,sent_on,server_runnable_on,\
         server_started_on,client_runnable_on,client_started_on\n",
    );
    let at = |ns: u64| (ns + offset_ns).to_string();
    let on = |i: u32| if i == u32::MAX { String::new() } else { i.to_string() };
    for a in requests {
        let m = &a.moments;
        let _ = write!(text, "{},{},{}", m.client, m.server, m.latency_ns());
        for c in Component::ALL {
            let _ = write!(text, ",{}", a.breakdown.get(c));
        }
        let previous = if m.server_previous_ns == 0 { String::new() } else { at(m.server_previous_ns) };
        let moments = [
            at(m.sent_ns),
            at(m.enqueued_ns),
            at(m.server_runnable_ns),
            at(m.server_started_ns),
            previous,
            at(m.replied_ns),
            at(m.client_runnable_ns),
            at(m.client_started_ns),
            at(m.received_ns),
            on(m.sent_on),
            on(m.server_runnable_on),
            on(m.server_started_on),
            on(m.client_runnable_on),
            on(m.client_started_on),
        ];
        for cell in moments {
            let _ = write!(text, ",{cell}");
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: &[Span] = &[];

    fn seg(start: u64, end: u64, state: Component) -> Segment {
        Segment { span: Span::new(start, end), state, threads: [Some(0), None] }
    }

    #[test]
    fn segments_alone_are_counted_as_their_states_and_gaps_as_unexplained() {
        let segments = [seg(0, 10, Component::Service), seg(15, 40, Component::RunQueue)];
        let b = attribute(Span::new(0, 50), &segments, &[], |_| NONE);
        assert_eq!(b.get(Component::Service), 10);
        assert_eq!(b.get(Component::RunQueue), 25);
        assert_eq!(b.get(Component::Unexplained), 15);
        assert_eq!(b.total_ns(), 50);
    }

    #[test]
    fn descheduling_wins_over_gc_which_wins_over_the_state() {
        let segments = [seg(0, 100, Component::RunQueue)];
        let gc = [Span::new(10, 30), Span::new(20, 40)];
        let off = [Span::new(30, 60)];
        let b = attribute(Span::new(0, 100), &segments, &gc, |t| if t == 0 { &off } else { NONE });
        assert_eq!(b.get(Component::Descheduled), 30);
        assert_eq!(b.get(Component::Gc), 20);
        assert_eq!(b.get(Component::RunQueue), 50);
        assert_eq!(b.total_ns(), 100);
    }

    #[test]
    fn a_collection_in_a_gap_still_counts_as_gc() {
        let segments = [seg(0, 10, Component::Service), seg(30, 40, Component::RunQueue)];
        let gc = [Span::new(12, 18)];
        let off = [Span::new(18, 20)];
        let b = attribute(Span::new(0, 40), &segments, &gc, |t| if t == 0 { &off } else { NONE });
        assert_eq!(b.get(Component::Gc), 6);
        assert_eq!(b.get(Component::Descheduled), 2);
        assert_eq!(b.get(Component::Unexplained), 12);
        assert_eq!(b.total_ns(), 40);
    }

    #[test]
    fn another_threads_off_cpu_time_does_not_count() {
        let segments = [seg(0, 100, Component::Service)];
        let off = [Span::new(0, 100)];
        let b = attribute(Span::new(0, 100), &segments, &[], |t| if t == 1 { &off } else { NONE });
        assert_eq!(b.get(Component::Service), 100);
    }

    #[test]
    fn overlapping_segments_count_once_and_stay_inside_the_request() {
        let segments = [seg(0, 60, Component::Mailbox), seg(40, 120, Component::Service)];
        let b = attribute(Span::new(10, 100), &segments, &[Span::new(0, 5)], |_| NONE);
        assert_eq!(b.get(Component::Mailbox), 50);
        assert_eq!(b.get(Component::Service), 40);
        assert_eq!(b.get(Component::Gc), 0);
        assert_eq!(b.total_ns(), 90);
    }

    /// A request to an idle server: woken during the send, queued, run, replied to.
    fn plain() -> RequestMoments {
        RequestMoments {
            client: 1,
            server: 2,
            sent_ns: 1000,
            enqueued_ns: 1100,
            sent_on: 0,
            server_runnable_ns: 1050,
            server_runnable_on: 0,
            server_started_ns: 1500,
            server_started_on: 0,
            server_previous_ns: 0,
            replied_ns: 2600,
            client_runnable_ns: 2650,
            client_runnable_on: 0,
            client_started_ns: 3000,
            client_started_on: 0,
            received_ns: 3100,
        }
    }

    #[test]
    fn a_plain_request_is_service_queueing_and_wake_up() {
        let b = Causes::default().attribute(&plain());
        assert_eq!(b.get(Component::RunQueue), 400);
        assert_eq!(b.get(Component::Service), 100 + 1100 + 100);
        assert_eq!(b.get(Component::Wakeup), 400);
        assert_eq!(b.get(Component::Unexplained), 0);
        assert_eq!(b.total_ns(), 2100);
    }

    #[test]
    fn a_busy_server_makes_mailbox_time_and_its_collection_gc() {
        let mut m = plain();
        m.server_previous_ns = 1400;
        m.server_runnable_ns = 900; // runnable for the previous request
        m.server_started_ns = 900;
        let causes = Causes::new([(Some(2), Span::new(1450, 1550)), (Some(7), Span::new(0, 5000))], []);
        let b = causes.attribute(&m);
        assert_eq!(b.get(Component::Mailbox), 300);
        assert_eq!(b.get(Component::Gc), 100, "the server's own collection, not process 7's");
        assert_eq!(b.get(Component::RunQueue), 0);
        assert_eq!(b.total_ns(), 2100);
    }

    #[test]
    fn a_stop_the_world_pause_counts_for_everyone_and_descheduling_for_its_thread() {
        let mut m = plain();
        m.client_runnable_on = 1;
        m.client_started_on = 1;
        let causes =
            Causes::new([(None, Span::new(1200, 1400))], [(1, Span::new(2700, 2900)), (0, Span::new(0, 1))]);
        let b = causes.attribute(&m);
        assert_eq!(b.get(Component::Gc), 200);
        assert_eq!(b.get(Component::RunQueue), 200);
        assert_eq!(b.get(Component::Descheduled), 200);
        assert_eq!(b.get(Component::Wakeup), 200);
        assert_eq!(b.total_ns(), 2100);
    }

    #[test]
    fn a_reply_caught_in_the_sending_slice_has_no_wake_up() {
        let mut m = plain();
        m.client_started_ns = 900; // the client's slice began before it sent
        m.client_runnable_ns = 800;
        let b = Causes::default().attribute(&m);
        assert_eq!(b.get(Component::Wakeup), 0);
        assert_eq!(b.get(Component::Service), 100 + 1100 + 500);
        assert_eq!(b.total_ns(), 2100);
    }

    #[test]
    fn tails_take_the_slowest_and_their_shares_add_up_to_one() {
        let mut requests: Vec<RequestMoments> = (0..2000).map(|_| plain()).collect();
        for (i, r) in requests.iter_mut().take(5).enumerate() {
            let delay = 100_000 + 1_000 * i as u64;
            r.server_started_ns += delay;
            r.replied_ns += delay;
            r.client_runnable_ns += delay;
            r.client_started_ns += delay;
            r.received_ns += delay;
        }
        let latencies: Vec<u64> = requests.iter().map(RequestMoments::latency_ns).collect();
        let mut kept = Slowest::for_tail_of(requests.len() as u64);
        requests.iter().for_each(|&r| kept.offer(r));
        let kept = kept.into_vec();
        assert_eq!(kept.len(), 21, "the slowest 1% and one");
        let (tails, slow) = tails(&Causes::default(), &kept, &latencies);
        assert_eq!(tails.above_p99.count, 5);
        assert_eq!(slow.len(), 5);
        // The 99.9th percentile of 2000 is the 1998th: two are slower.
        assert_eq!(tails.above_p999.count, 2);
        assert_eq!(slow[0].moments.latency_ns(), 2100 + 104_000, "slowest first");
        let sum: f64 = tails.above_p99.share.values().sum();
        assert!((sum - 1.0).abs() < 1e-9, "{sum}");
        assert_eq!(tails.above_p99.dominant().unwrap().0, "run_queue");
        assert!(
            tails.above_p99.in_words().starts_with("98% run-queue wait"),
            "{}",
            tails.above_p99.in_words()
        );
        let csv = requests_csv(&slow, 0);
        assert_eq!(csv.lines().count(), 6);
        let header_cells = csv.lines().next().unwrap().split(',').count();
        assert!(csv.lines().all(|l| l.split(',').count() == header_cells));
    }

    #[test]
    fn an_empty_run_has_empty_tails() {
        let (tails, slow) = tails(&Causes::default(), &[], &[]);
        assert_eq!(tails.above_p99.count, 0);
        assert!(tails.above_p99.share.is_empty() && slow.is_empty());
        assert_eq!(tails.above_p99.in_words(), "no requests");
    }
}
