//! johansson-2002: private vs shared heaps (Johansson, Sagonas, Wilhelmsson, "Heap
//! architectures for concurrent languages using message passing", ISMM 2002), shape claims
//! 1 to 6 as far as heaplab's workloads measure them (see `papers/johansson-2002/README.md`).

use super::experiment::{sweep, Experiment, Figure, Pct, Size};
use super::render::{self, show};
use crate::report::Report;

/// The send-cost sweep's ring size, as in the paper's ring benchmark.
const RING: u64 = 100;

/// The list length of the loss-of-sharing sweep (claim 4): the token carries C references
/// to one list of this many integers.
const SHARED_PAYLOAD: u64 = 1000;

/// Laps of the ring for a payload: fewer for large messages, so every point copies a
/// bounded number of words on private heaps while small ones still make enough hops.
fn laps(size: Size, payload: u64) -> u64 {
    let base = size.pick(1000, 200, 5);
    match payload {
        0..=100 => base,
        101..=1000 => (base / 4).max(1),
        _ => (base / 20).max(1),
    }
}

/// Every experiment of the paper at `size`.
pub fn experiments(size: Size) -> Vec<Experiment> {
    let payloads: &[u64] =
        size.pick(&[1, 3, 10, 30, 100, 300, 1000, 3000, 10_000], &[1, 10, 100, 1000, 10_000], &[1, 100]);
    let ring = size.pick(RING, RING, 10);
    let send_points: Vec<Vec<String>> = payloads
        .iter()
        .map(|&p| {
            vec![format!("payload={p}"), format!("processes={ring}"), format!("laps={}", laps(size, p))]
        })
        .collect();

    let churn_requests = size.pick("requests=50000", "requests=10000", "requests=100");
    let (by_processes, by_entries): (&[u64], &[u64]) = size.pick(
        (&[100, 1000, 10_000, 50_000], &[10, 100, 1000, 10_000]),
        (&[100, 1000, 10_000], &[10, 100, 1000]),
        (&[10, 20], &[5, 10]),
    );
    let entries_fixed = size.pick("entries=100", "entries=100", "entries=10");
    let processes_fixed = size.pick("processes=1000", "processes=1000", "processes=10");
    let pause_figures = vec![
        Figure::Hist("gc_pause_us", Pct::Max),
        Figure::Hist("gc_pause_us", Pct::P99),
        Figure::Hist("request_latency_us", Pct::P99),
    ];

    let exit_sizes: &[u64] = size.pick(&[4, 16, 64, 256], &[4, 16, 64], &[1]);
    let exit_repeats = size.pick("repeats=5", "repeats=3", "repeats=1");

    let state_mb: &[u64] = size.pick(&[16, 64, 256], &[16, 64], &[1]);
    let large_fixed: &[&str] = size.pick(
        &["processes=1000", "requests=200000"],
        &["processes=1000", "requests=50000"],
        &["processes=10", "requests=200", "rewrite_entries=100"],
    );

    let copies: &[u64] = size.pick(&[1, 3, 10], &[1, 3, 10], &[1, 3]);
    let sharing_fixed = [
        format!("payload={SHARED_PAYLOAD}"),
        format!("processes={ring}"),
        format!("laps={}", laps(size, SHARED_PAYLOAD)),
    ];
    let sharing_fixed: Vec<&str> = sharing_fixed.iter().map(String::as_str).collect();

    let small_processes: &[u64] = size.pick(&[100, 1000, 10_000], &[100, 1000], &[10]);
    let small_laps = size.pick("laps=1000", "laps=200", "laps=5");
    let big_processes: &[u64] = size.pick(&[100, 300, 1000], &[100, 300], &[10]);

    let split_payloads: &[u64] = size.pick(&[0, 10, 100, 1000, 10_000], &[0, 100, 1000], &[0, 100]);
    let split_points: Vec<Vec<String>> = split_payloads
        .iter()
        .map(|&p| {
            let laps = format!("laps={}", laps(size, p));
            vec![format!("payload={p}"), format!("processes={ring}"), laps, "time_split=on".to_owned()]
        })
        .collect();
    // The first figure is the one the table's shared ÷ per-process column divides.
    let split_figures = vec![
        Figure::Metric("ns_per_hop"),
        Figure::Metric("mutator_pct"),
        Figure::Metric("send_pct"),
        Figure::Metric("gc_pct"),
    ];

    vec![
        Experiment {
            id: "send-cost",
            title: "Claim 1: time per hop vs message size (ring of 100 processes, token {K, List})",
            workload: "ring",
            schedulers: Some(1),
            x: "payload",
            points: send_points.clone(),
            figures: vec![Figure::Metric("ns_per_hop"), Figure::Metric("copied_words_per_hop")],
            plots: vec![Figure::Metric("ns_per_hop")],
            peers: true,
        },
        Experiment {
            id: "sharing",
            title: "Claim 4: loss of sharing, the token {K, [L, ..., L]} holds `copies` references to one 1000-integer list L",
            workload: "ring",
            schedulers: Some(1),
            x: "copies",
            points: sweep("copies", copies, &sharing_fixed),
            figures: vec![
                Figure::Metric("copied_words_per_hop"),
                Figure::Metric("received_live_words"),
                Figure::Metric("peak_rss_bytes"),
                Figure::Metric("ns_per_hop"),
            ],
            plots: vec![Figure::Metric("peak_rss_bytes")],
            peers: true,
        },
        Experiment {
            id: "small-messages",
            title: "Claim 2: tiny messages (the token is an immediate integer)",
            workload: "ring",
            schedulers: Some(1),
            x: "processes",
            points: sweep("processes", small_processes, &["payload=0", small_laps]),
            figures: vec![Figure::Metric("ns_per_hop"), Figure::Hist("gc_pause_us", Pct::Max)],
            plots: vec![],
            peers: true,
        },
        Experiment {
            id: "procs",
            title: "Claim 2: procs-like many-to-many small messages (bencherl's big)",
            workload: "big",
            schedulers: Some(1),
            x: "processes",
            points: sweep("processes", big_processes, &[]),
            figures: vec![Figure::Metric("messages_per_s"), Figure::Hist("gc_pause_us", Pct::Max)],
            plots: vec![Figure::Metric("messages_per_s")],
            peers: true,
        },
        Experiment {
            id: "time-split",
            title: "Time split: % of the ring's time in mutator, send and GC (1 scheduler, sends timed)",
            workload: "ring",
            schedulers: Some(1),
            x: "payload",
            points: split_points,
            figures: split_figures,
            plots: vec![Figure::Metric("send_pct"), Figure::Metric("gc_pct")],
            peers: false,
        },
        Experiment {
            id: "time-split-procs",
            title: "Time split: % of procs-like (big) time in mutator, send and GC (1 scheduler, sends timed)",
            workload: "big",
            schedulers: Some(1),
            x: "processes",
            points: sweep("processes", big_processes, &["time_split=on"]),
            figures: vec![
                Figure::Metric("messages_per_s"),
                Figure::Metric("mutator_pct"),
                Figure::Metric("send_pct"),
                Figure::Metric("gc_pct"),
            ],
            plots: vec![],
            peers: false,
        },
        Experiment {
            id: "pause-vs-processes",
            title:
                "Claim 3: max GC pause vs number of processes (churn, 100 entries of 80 B each per process)",
            workload: "churn",
            schedulers: Some(1),
            x: "processes",
            points: sweep("processes", by_processes, &[entries_fixed, churn_requests]),
            figures: pause_figures.clone(),
            plots: vec![Figure::Hist("gc_pause_us", Pct::Max)],
            peers: true,
        },
        Experiment {
            id: "pause-vs-live",
            title: "Claim 3: max GC pause vs live data per process (churn, 1000 processes, 80 B per entry)",
            workload: "churn",
            schedulers: Some(1),
            x: "entries",
            points: sweep("entries", by_entries, &[processes_fixed, "rewrites=1", churn_requests]),
            figures: pause_figures,
            plots: vec![Figure::Hist("gc_pause_us", Pct::Max)],
            peers: true,
        },
        Experiment {
            id: "space",
            title: "Claim 4: peak resident memory of the send-cost runs",
            workload: "ring",
            schedulers: Some(1),
            x: "payload",
            points: send_points,
            figures: vec![Figure::Metric("peak_rss_bytes")],
            plots: vec![Figure::Metric("peak_rss_bytes")],
            peers: true,
        },
        Experiment {
            id: "exit",
            title: "Claim 5: freeing a process's data at exit (one object vs many of the same total size)",
            workload: "exit",
            schedulers: None,
            x: "heap_mb",
            points: sweep("heap_mb", exit_sizes, &[exit_repeats]),
            figures: vec![
                Figure::Metric("drop_ns_many_objects"),
                Figure::Metric("drop_ns_one_object"),
                Figure::Metric("reclaim_gc_ns_many_objects"),
            ],
            plots: vec![Figure::Metric("drop_ns_many_objects"), Figure::Metric("reclaim_gc_ns_many_objects")],
            peers: true,
        },
        Experiment {
            id: "two-schedulers",
            title: "Claim 6: small servers' latency beside one large process, 2 schedulers",
            workload: "large-state",
            schedulers: Some(2),
            x: "state_mb",
            points: sweep("state_mb", state_mb, large_fixed),
            figures: vec![
                Figure::Hist("request_latency_us", Pct::P99),
                Figure::Hist("request_latency_us", Pct::P999),
                Figure::Hist("gc_pause_us", Pct::Max),
            ],
            plots: vec![Figure::Hist("request_latency_us", Pct::P99)],
            peers: true,
        },
    ]
}

fn find<'e>(experiments: &'e [Experiment], id: &str) -> &'e Experiment {
    experiments.iter().find(|e| e.id == id).expect("the paper defines this experiment")
}

/// The smallest swept value from which on the shared heap is faster at every point, if any.
pub fn crossover(reports: &[Report], experiment: &Experiment, figure: Figure) -> Option<String> {
    let faster: Vec<Option<bool>> = (0..experiment.points.len())
        .map(|i| {
            let per_process = render::value(reports, experiment, i, "per-process", figure)?;
            let shared = render::value(reports, experiment, i, "shared", figure)?;
            Some(shared < per_process)
        })
        .collect();
    if faster.iter().any(Option::is_none) {
        return None;
    }
    let first = (0..faster.len()).find(|&i| faster[i..].iter().all(|f| *f == Some(true)))?;
    Some(experiment.x_value(first))
}

/// One line per claim, computed from the reports.
pub fn findings(reports: &[Report], experiments: &[Experiment]) -> Vec<String> {
    let mut lines = Vec::new();
    let send = find(experiments, "send-cost");
    let hop = Figure::Metric("ns_per_hop");
    let last = send.points.len() - 1;
    let at = |e: &Experiment, i: usize, heap: &str, f: Figure| show(f, render::value(reports, e, i, heap, f));
    let crossing = match crossover(reports, send, hop) {
        Some(x) if x == send.x_value(0) => "shared is faster at every size measured".to_owned(),
        Some(x) => format!("shared is faster from {x} words on"),
        None => "no crossover in the range measured".to_owned(),
    };
    lines.push(format!(
        "Claim 1 (send cost): per hop, per-process {} at {} words → {} at {} words; shared {} → {}; {crossing}.",
        at(send, 0, "per-process", hop),
        send.x_value(0),
        at(send, last, "per-process", hop),
        send.x_value(last),
        at(send, 0, "shared", hop),
        at(send, last, "shared", hop),
    ));
    let small = find(experiments, "small-messages");
    lines.push(format!(
        "Claim 2 (tiny messages, {} processes): per hop, per-process {}, shared {}, BEAM {}.",
        small.x_value(0),
        at(small, 0, "per-process", hop),
        at(small, 0, "shared", hop),
        at(small, 0, "beam", hop),
    ));
    let max = Figure::Hist("gc_pause_us", Pct::Max);
    for id in ["pause-vs-processes", "pause-vs-live"] {
        let e = find(experiments, id);
        let last = e.points.len() - 1;
        lines.push(format!(
            "Claim 3 (max GC pause vs {}): per-process {} → {}, shared {} → {} from {}={} to {}.",
            e.x,
            at(e, 0, "per-process", max),
            at(e, last, "per-process", max),
            at(e, 0, "shared", max),
            at(e, last, "shared", max),
            e.x,
            e.x_value(0),
            e.x_value(last),
        ));
    }
    let split = find(experiments, "time-split");
    let last_split = split.points.len() - 1;
    let parts = |heap: &str, i: usize| {
        ["mutator_pct", "send_pct", "gc_pct"].map(|m| at(split, i, heap, Figure::Metric(m))).join(" / ")
    };
    lines.push(format!(
        "Time split (ring, mutator / send / GC %): at {} words per-process {}, shared {}; at {} words per-process {}, shared {}.",
        split.x_value(0),
        parts("per-process", 0),
        parts("shared", 0),
        split.x_value(last_split),
        parts("per-process", last_split),
        parts("shared", last_split),
    ));
    let space = find(experiments, "space");
    let rss = Figure::Metric("peak_rss_bytes");
    let sharing = find(experiments, "sharing");
    let most = sharing.points.len() - 1;
    let live = Figure::Metric("received_live_words");
    lines.push(format!(
        "Claim 4 (space, ring at {} words): peak RSS per-process {}, shared {}; loss of sharing ({} references to one list): the received payload takes {} words per-process, {} on the BEAM, {} shared ({} with one reference), peak RSS per-process {} → {}, shared {} → {}.",
        space.x_value(last),
        at(space, last, "per-process", rss),
        at(space, last, "shared", rss),
        sharing.x_value(most),
        at(sharing, most, "per-process", live),
        at(sharing, most, "beam", live),
        at(sharing, most, "shared", live),
        at(sharing, 0, "per-process", live),
        at(sharing, 0, "per-process", rss),
        at(sharing, most, "per-process", rss),
        at(sharing, 0, "shared", rss),
        at(sharing, most, "shared", rss),
    ));
    let exit = find(experiments, "exit");
    let last_exit = exit.points.len() - 1;
    lines.push(format!(
        "Claim 5 (exit, {} MiB of small objects): per-process heap dropped in {}; shared exit {} but its data needs a {} collection.",
        exit.x_value(last_exit),
        at(exit, last_exit, "per-process", Figure::Metric("drop_ns_many_objects")),
        at(exit, last_exit, "shared", Figure::Metric("drop_ns_many_objects")),
        at(exit, last_exit, "shared", Figure::Metric("reclaim_gc_ns_many_objects")),
    ));
    let two = find(experiments, "two-schedulers");
    let last_two = two.points.len() - 1;
    let p99 = Figure::Hist("request_latency_us", Pct::P99);
    lines.push(format!(
        "Claim 6 (2 schedulers, {} MB large process): small servers' p99 per-process {}, shared {}, BEAM {}.",
        two.x_value(last_two),
        at(two, last_two, "per-process", p99),
        at(two, last_two, "shared", p99),
        at(two, last_two, "beam", p99),
    ));
    lines
}
