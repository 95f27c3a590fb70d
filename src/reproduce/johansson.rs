//! johansson-2002: private vs shared heaps (Johansson, Sagonas, Wilhelmsson, "Heap
//! architectures for concurrent languages using message passing", ISMM 2002), shape claims
//! 1 to 6 as far as heaplab's workloads measure them (see `papers/johansson-2002/README.md`).

use super::experiment::{sweep, Experiment, Figure, Pct, Size, HEAPLAB_HEAPS};
use super::render::{self, show};
use crate::report::Report;
use crate::strategy::Strategy;

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
    // The first figure is the one the table's ratio columns (shared and hybrid ÷ per-process) divide.
    let split_figures = vec![
        Figure::Metric("ns_per_hop"),
        Figure::Metric("mutator_pct"),
        Figure::Metric("send_pct"),
        Figure::Metric("gc_pct"),
    ];

    let (live_payloads, live_laps): (&[u64], &str) = size.pick(
        (&[10, 1000, 10_000, 100_000, 1_000_000], "laps=3000"),
        (&[10, 1000, 100_000], "laps=3000"),
        (&[1, 150_000], "laps=1"),
    );
    let live_fixed = [format!("processes={ring}"), live_laps.to_owned()];
    let live_fixed: Vec<&str> = live_fixed.iter().map(String::as_str).collect();
    let area_processes: &[u64] = size.pick(&[100, 1000, 10_000], &[100, 1000], &[10]);
    // About 300,000 hops at every size of the ring, so the area's nursery fills about as
    // often (3 words a hop into a 256 Ki-word nursery).
    let area_points: Vec<Vec<String>> = area_processes
        .iter()
        .map(|&n| {
            vec![
                format!("processes={n}"),
                "payload=1".to_owned(),
                format!("laps={}", size.pick(300_000, 300_000, 50) / n),
            ]
        })
        .collect();
    let area_figures = vec![
        Figure::Hist("area_pause_us", Pct::Max),
        Figure::Hist("area_pause_us", Pct::P50),
        Figure::Metric("area_collections"),
        Figure::Hist("gc_pause_us", Pct::Max),
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
            heaps: HEAPLAB_HEAPS,
            left_out: &[],
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
            heaps: HEAPLAB_HEAPS,
            left_out: &[],
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
            heaps: HEAPLAB_HEAPS,
            left_out: &[],
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
            heaps: HEAPLAB_HEAPS,
            left_out: &[],
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
            heaps: HEAPLAB_HEAPS,
            left_out: &[],
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
            heaps: HEAPLAB_HEAPS,
            left_out: &[],
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
            heaps: HEAPLAB_HEAPS,
            left_out: &[],
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
            heaps: HEAPLAB_HEAPS,
            left_out: &[],
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
            heaps: HEAPLAB_HEAPS,
            left_out: &[],
        },
        Experiment {
            id: "area-pause-vs-live",
            title: "Hybrid heap: message-area pause vs live message data (ring of 100 processes forwarding one list of `payload` integers, about 300,000 hops)",
            workload: "ring",
            schedulers: Some(1),
            x: "payload",
            points: sweep("payload", live_payloads, &live_fixed),
            figures: area_figures.clone(),
            plots: vec![Figure::Hist("area_pause_us", Pct::Max)],
            peers: false,
            heaps: &[Strategy::Shared, Strategy::Hybrid],
            left_out: &[(
                Strategy::PerProcess,
                "it has no message area, and every hop would copy the list (2 words per integer: \
                 600 G words at the largest point); its pauses at these message sizes are in `send-cost`.",
            )],
        },
        Experiment {
            id: "area-pause-vs-processes",
            title: "Hybrid heap: message-area pause vs processes at constant live message data (ring, token {K, [1]}, about 300,000 hops)",
            workload: "ring",
            schedulers: Some(1),
            x: "processes",
            points: area_points,
            figures: area_figures,
            plots: vec![Figure::Hist("area_pause_us", Pct::Max)],
            peers: false,
            heaps: HEAPLAB_HEAPS,
            left_out: &[],
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
            heaps: HEAPLAB_HEAPS,
            left_out: &[],
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
            heaps: HEAPLAB_HEAPS,
            left_out: &[],
        },
    ]
}

fn find<'e>(experiments: &'e [Experiment], id: &str) -> &'e Experiment {
    experiments.iter().find(|e| e.id == id).expect("the paper defines this experiment")
}

/// The heaplab strategies the findings name, in column order.
const HEAPLAB: [&str; 3] = ["per-process", "shared", "hybrid"];

/// The smallest swept value from which on `heap` is faster than per-process at every point,
/// if any.
pub fn crossover(reports: &[Report], experiment: &Experiment, figure: Figure, heap: &str) -> Option<String> {
    let faster: Vec<Option<bool>> = (0..experiment.points.len())
        .map(|i| {
            let per_process = render::value(reports, experiment, i, "per-process", figure)?;
            let other = render::value(reports, experiment, i, heap, figure)?;
            Some(other < per_process)
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
    let at = |e: &Experiment, i: usize, heap: &str, f: Figure| show(f, render::value(reports, e, i, heap, f));
    // `heap A → B` from the first to the last point, for each of `heaps`.
    let span = |e: &Experiment, heaps: &[&str], f: Figure| {
        let last = e.points.len() - 1;
        heaps
            .iter()
            .map(|h| format!("{h} {} → {}", at(e, 0, h, f), at(e, last, h, f)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // `heap A` at point `i`, for each of `heaps`.
    let each = |e: &Experiment, i: usize, heaps: &[&str], f: Figure| {
        heaps.iter().map(|h| format!("{h} {}", at(e, i, h, f))).collect::<Vec<_>>().join(", ")
    };
    let send = find(experiments, "send-cost");
    let hop = Figure::Metric("ns_per_hop");
    let last = send.points.len() - 1;
    let crossings: Vec<String> = ["shared", "hybrid"]
        .map(|heap| match crossover(reports, send, hop, heap) {
            Some(x) if x == send.x_value(0) => format!("{heap} is faster at every size measured"),
            Some(x) => format!("{heap} is faster from {x} words on"),
            None => format!("{heap}: no crossover in the range measured"),
        })
        .into();
    lines.push(format!(
        "Claim 1 (send cost): per hop from {} to {} words, {}; {}.",
        send.x_value(0),
        send.x_value(last),
        span(send, &HEAPLAB, hop),
        crossings.join("; "),
    ));
    let small = find(experiments, "small-messages");
    lines.push(format!(
        "Claim 2 (tiny messages, {} processes): per hop, {}.",
        small.x_value(0),
        each(small, 0, &["per-process", "shared", "hybrid", "beam"], hop),
    ));
    let max = Figure::Hist("gc_pause_us", Pct::Max);
    for id in ["pause-vs-processes", "pause-vs-live"] {
        let e = find(experiments, id);
        lines.push(format!(
            "Claim 3 (max GC pause vs {}, {}={} to {}): {}.",
            e.x,
            e.x,
            e.x_value(0),
            e.x_value(e.points.len() - 1),
            span(e, &HEAPLAB, max),
        ));
    }
    let split = find(experiments, "time-split");
    let last_split = split.points.len() - 1;
    let parts = |i: usize| {
        HEAPLAB
            .map(|heap| {
                let shares =
                    ["mutator_pct", "send_pct", "gc_pct"].map(|m| at(split, i, heap, Figure::Metric(m)));
                format!("{heap} {}", shares.join(" / "))
            })
            .join(", ")
    };
    lines.push(format!(
        "Time split (ring, mutator / send / GC %): at {} words {}; at {} words {}.",
        split.x_value(0),
        parts(0),
        split.x_value(last_split),
        parts(last_split),
    ));
    let space = find(experiments, "space");
    let rss = Figure::Metric("peak_rss_bytes");
    let sharing = find(experiments, "sharing");
    let most = sharing.points.len() - 1;
    let live = Figure::Metric("received_live_words");
    lines.push(format!(
        "Claim 4 (space, ring at {} words): peak RSS {}; loss of sharing ({} references to one list): the received payload takes {} words ({} with one reference per-process), peak RSS {}.",
        space.x_value(last),
        each(space, last, &HEAPLAB, rss),
        sharing.x_value(most),
        each(sharing, most, &["per-process", "beam", "shared", "hybrid"], live),
        at(sharing, 0, "per-process", live),
        span(sharing, &HEAPLAB, rss),
    ));
    let exit = find(experiments, "exit");
    let last_exit = exit.points.len() - 1;
    let dropped = Figure::Metric("drop_ns_many_objects");
    lines.push(format!(
        "Claim 5 (exit, {} MiB of small objects): heap dropped in {}; shared exit {} but its data needs a {} collection.",
        exit.x_value(last_exit),
        each(exit, last_exit, &["per-process", "hybrid"], dropped),
        at(exit, last_exit, "shared", dropped),
        at(exit, last_exit, "shared", Figure::Metric("reclaim_gc_ns_many_objects")),
    ));
    let two = find(experiments, "two-schedulers");
    let last_two = two.points.len() - 1;
    let p99 = Figure::Hist("request_latency_us", Pct::P99);
    lines.push(format!(
        "Claim 6 (2 schedulers, {} MB large process): small servers' p99 {}.",
        two.x_value(last_two),
        each(two, last_two, &["per-process", "shared", "hybrid", "beam"], p99),
    ));
    let area_max = Figure::Hist("area_pause_us", Pct::Max);
    let area_p50 = Figure::Hist("area_pause_us", Pct::P50);
    let by_live = find(experiments, "area-pause-vs-live");
    let by_processes = find(experiments, "area-pause-vs-processes");
    lines.push(format!(
        "Hybrid message area (ring): vs live message data, {}={} to {}: area pause max {}, p50 {} (shared heap's max pause {}); vs processes at constant live message data, {}={} to {}: area pause max {}, p50 {}.",
        by_live.x,
        by_live.x_value(0),
        by_live.x_value(by_live.points.len() - 1),
        span(by_live, &["hybrid"], area_max),
        span(by_live, &["hybrid"], area_p50),
        span(by_live, &["shared"], max),
        by_processes.x,
        by_processes.x_value(0),
        by_processes.x_value(by_processes.points.len() - 1),
        span(by_processes, &["hybrid"], area_max),
        span(by_processes, &["hybrid"], area_p50),
    ));
    lines
}
