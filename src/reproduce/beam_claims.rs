//! beam-claims: the claims an article makes about the BEAM's processes and memory (about
//! 2 KB per process, spawn in microseconds, local GC pauses, O(1) heap release at exit, flat
//! tail latency under memory pressure, one_for_one restarts, busy loops preempted by
//! reductions), measured on heaplab and the
//! BEAM (see `papers/beam-claims/README.md`).

use super::experiment::{sweep, Experiment, Figure, Pct, Size, PRIVATE_AND_SHARED};
use super::render::{self, show};
use crate::report::Report;

/// Every experiment of the paper at `size`.
pub fn experiments(size: Size) -> Vec<Experiment> {
    let spawned: &[u64] = size.pick(&[1_000_000, 2_000_000, 5_000_000], &[100_000, 1_000_000], &[1000]);
    // The most processes that fit: heaplab's ~0.9 KB each in 24 GB with room to spare (the
    // BEAM's 2.6 KB would need 42 GB; its largest run is the last of `spawned`).
    let most: &[u64] = size.pick(&[16_000_000], &[2_000_000], &[2000]);
    let state_mb: &[u64] = size.pick(&[16, 64, 256], &[16, 64], &[1]);
    let large_fixed: &[&str] = size.pick(
        &["processes=1000", "requests=200000"],
        &["processes=1000", "requests=50000"],
        &["processes=10", "requests=200", "rewrite_entries=100"],
    );
    let exit_sizes: &[u64] = size.pick(&[4, 16, 64, 256], &[4, 16, 64], &[1]);
    let exit_repeats = size.pick("repeats=5", "repeats=3", "repeats=1");
    // Live data of churn: processes x entries x 80 bytes; 10 MB to 1 GB in full size.
    let entries: &[u64] = size.pick(&[12, 125, 1250], &[10, 40, 160], &[5, 10]);
    let churn_fixed: &[&str] = size.pick(
        &["processes=10000", "rewrites=1", "requests=50000"],
        &["processes=10000", "rewrites=1", "requests=20000"],
        &["processes=10", "rewrites=1", "requests=100"],
    );
    let siblings: &[u64] = size.pick(&[0, 10, 100], &[0, 10, 100], &[0, 3]);
    let restart_fixed: &[&str] =
        size.pick(&["crashes=10000"], &["crashes=2000"], &["crashes=20", "supervisor_crashes=10"]);
    let restart_all: Vec<&str> =
        restart_fixed.iter().copied().chain(["supervisor_strategy=one_for_all"]).collect();
    let busy: &[u64] = size.pick(&[0, 2, 8, 32], &[0, 8], &[0, 2]);
    let pings = size.pick("pings=10000", "pings=2000", "pings=50");

    vec![
        Experiment {
            id: "spawn",
            title: "~2 KB per process, spawn in microseconds, millions of processes",
            workload: "spawn",
            schedulers: Some(2),
            x: "processes",
            points: sweep("processes", spawned, &[]),
            figures: vec![
                Figure::Metric("bytes_per_process"),
                Figure::Metric("heap_words_per_process"),
                Figure::Metric("spawn_ns_per_process"),
                Figure::Metric("exit_ns_per_process"),
            ],
            plots: vec![Figure::Metric("spawn_ns_per_process"), Figure::Metric("bytes_per_process")],
            peers: true,
            heaps: PRIVATE_AND_SHARED,
            left_out: &[],
        },
        Experiment {
            id: "spawn-max",
            title: "The most processes that fit in memory, heaplab only",
            workload: "spawn",
            schedulers: Some(2),
            x: "processes",
            points: sweep("processes", most, &[]),
            figures: vec![
                Figure::Metric("bytes_per_process"),
                Figure::Metric("spawn_ns_per_process"),
                Figure::Metric("exit_ns_per_process"),
            ],
            plots: vec![],
            peers: false,
            heaps: PRIVATE_AND_SHARED,
            left_out: &[],
        },
        Experiment {
            id: "gc-local",
            title: "GC pauses are local: small servers' latency while one large process collects",
            workload: "large-state",
            schedulers: Some(2),
            x: "state_mb",
            points: sweep("state_mb", state_mb, large_fixed),
            figures: vec![
                Figure::Hist("request_latency_us", Pct::P99),
                Figure::Hist("request_latency_us", Pct::P999),
                Figure::Hist("request_latency_us", Pct::Max),
                Figure::Hist("gc_pause_us", Pct::Max),
            ],
            plots: vec![Figure::Hist("request_latency_us", Pct::P999)],
            peers: true,
            heaps: PRIVATE_AND_SHARED,
            left_out: &[],
        },
        Experiment {
            id: "exit",
            title: "A process heap is freed in O(1) at exit: one object vs millions in the same bytes",
            workload: "exit",
            schedulers: None,
            x: "heap_mb",
            points: sweep("heap_mb", exit_sizes, &[exit_repeats]),
            figures: vec![
                Figure::Metric("drop_ns_one_object"),
                Figure::Metric("drop_ns_many_objects"),
                Figure::Metric("drop_ratio"),
                Figure::Metric("many_objects_count"),
            ],
            plots: vec![Figure::Metric("drop_ns_many_objects")],
            peers: true,
            heaps: PRIVATE_AND_SHARED,
            left_out: &[],
        },
        Experiment {
            id: "memory-pressure",
            title:
                "Tail latency as live data grows (churn, 10,000 servers; live data = 10,000 x entries x 80 B)",
            workload: "churn",
            schedulers: Some(2),
            x: "entries",
            points: sweep("entries", entries, churn_fixed),
            figures: vec![
                Figure::Hist("request_latency_us", Pct::P99),
                Figure::Hist("request_latency_us", Pct::P999),
                Figure::Hist("request_latency_us", Pct::Max),
                Figure::Hist("gc_pause_us", Pct::Max),
            ],
            plots: vec![Figure::Hist("request_latency_us", Pct::P999)],
            peers: true,
            heaps: PRIVATE_AND_SHARED,
            left_out: &[],
        },
        Experiment {
            id: "restart",
            title: "one_for_one: crash-to-service time of a worker, and its siblings restarted with it",
            workload: "restart",
            schedulers: Some(2),
            x: "siblings",
            points: sweep("siblings", siblings, restart_fixed),
            figures: restart_figures(),
            plots: vec![],
            peers: true,
            heaps: PRIVATE_AND_SHARED,
            left_out: &[],
        },
        Experiment {
            id: "restart-all",
            title: "Contrast: the same crashes under one_for_all, which restarts every sibling too",
            workload: "restart",
            schedulers: Some(2),
            x: "siblings",
            points: sweep("siblings", siblings, &restart_all),
            figures: restart_figures(),
            plots: vec![],
            peers: true,
            heaps: PRIVATE_AND_SHARED,
            left_out: &[],
        },
        Experiment {
            id: "preempt",
            title: "Busy loops cannot starve others: ping-pong round trip beside N busy loops",
            workload: "preempt",
            schedulers: Some(2),
            x: "busy",
            points: sweep("busy", busy, &[pings]),
            figures: vec![
                Figure::Hist("round_trip_us", Pct::P50),
                Figure::Hist("round_trip_us", Pct::P99),
                Figure::Hist("round_trip_us", Pct::Max),
                Figure::Metric("busy_iterations_per_s"),
            ],
            plots: vec![Figure::Hist("round_trip_us", Pct::P99)],
            peers: true,
            heaps: PRIVATE_AND_SHARED,
            left_out: &[],
        },
    ]
}

/// The restart experiments' columns.
fn restart_figures() -> Vec<Figure> {
    vec![
        Figure::Hist("restart_latency_us", Pct::P50),
        Figure::Hist("restart_latency_us", Pct::P99),
        Figure::Metric("siblings_restarted"),
        Figure::Metric("calls_per_restart"),
    ]
}

fn find<'e>(experiments: &'e [Experiment], id: &str) -> &'e Experiment {
    experiments.iter().find(|e| e.id == id).expect("the paper defines this experiment")
}

/// One line per claim, computed from the reports.
pub fn findings(reports: &[Report], experiments: &[Experiment]) -> Vec<String> {
    let at = |e: &Experiment, i: usize, heap: &str, f: Figure| show(f, render::value(reports, e, i, heap, f));
    let mut lines = Vec::new();
    let spawn = find(experiments, "spawn");
    let last = spawn.points.len() - 1;
    let bytes = Figure::Metric("bytes_per_process");
    let ns = Figure::Metric("spawn_ns_per_process");
    lines.push(format!(
        "Spawn ({} processes): {} and {} per process on heaplab per-process heaps; BEAM {} and {}.",
        spawn.x_value(last),
        at(spawn, last, "per-process", bytes),
        at(spawn, last, "per-process", ns),
        at(spawn, last, "beam", bytes),
        at(spawn, last, "beam", ns),
    ));
    let most = find(experiments, "spawn-max");
    lines.push(format!(
        "Most processes run ({}, heaplab only): {} and {} per process per-process, {} and {} shared.",
        most.x_value(0),
        at(most, 0, "per-process", bytes),
        at(most, 0, "per-process", ns),
        at(most, 0, "shared", bytes),
        at(most, 0, "shared", ns),
    ));
    let local = find(experiments, "gc-local");
    let last = local.points.len() - 1;
    let p999 = Figure::Hist("request_latency_us", Pct::P999);
    lines.push(format!(
        "Local GC ({} MB large process): small servers' p999 per-process {}, shared {}, BEAM {}.",
        local.x_value(last),
        at(local, last, "per-process", p999),
        at(local, last, "shared", p999),
        at(local, last, "beam", p999),
    ));
    let exit = find(experiments, "exit");
    let last = exit.points.len() - 1;
    lines.push(format!(
        "Exit ({} MiB heap): dropped in {} holding one object, {} holding {} objects (ratio {}).",
        exit.x_value(last),
        at(exit, last, "per-process", Figure::Metric("drop_ns_one_object")),
        at(exit, last, "per-process", Figure::Metric("drop_ns_many_objects")),
        at(exit, last, "per-process", Figure::Metric("many_objects_count")),
        at(exit, last, "per-process", Figure::Metric("drop_ratio")),
    ));
    let pressure = find(experiments, "memory-pressure");
    let last = pressure.points.len() - 1;
    lines.push(format!(
        "Memory pressure (churn, {} live): request p999 per-process {} → {}, shared {} → {}, BEAM {} → {} from {} to {} entries per server.",
        at(pressure, last, "per-process", Figure::Metric("live_bytes")),
        at(pressure, 0, "per-process", p999),
        at(pressure, last, "per-process", p999),
        at(pressure, 0, "shared", p999),
        at(pressure, last, "shared", p999),
        at(pressure, 0, "beam", p999),
        at(pressure, last, "beam", p999),
        pressure.x_value(0),
        pressure.x_value(last),
    ));
    let restart = find(experiments, "restart");
    let all = find(experiments, "restart-all");
    let last = restart.points.len() - 1;
    let p99 = Figure::Hist("restart_latency_us", Pct::P99);
    let again = Figure::Metric("siblings_restarted");
    lines.push(format!(
        "Restart (one_for_one, {} siblings): p99 from crash to service per-process {}, BEAM {}; siblings restarted per-process {}, shared {}, BEAM {} (one_for_all: {}, {}, {}).",
        restart.x_value(last),
        at(restart, last, "per-process", p99),
        at(restart, last, "beam", p99),
        at(restart, last, "per-process", again),
        at(restart, last, "shared", again),
        at(restart, last, "beam", again),
        at(all, last, "per-process", again),
        at(all, last, "shared", again),
        at(all, last, "beam", again),
    ));
    let preempt = find(experiments, "preempt");
    let last = preempt.points.len() - 1;
    let rt = Figure::Hist("round_trip_us", Pct::P99);
    let rate = Figure::Metric("busy_iterations_per_s");
    lines.push(format!(
        "Busy loops (2 schedulers): ping-pong round trip p99 per-process {} → {}, shared {} → {}, BEAM {} → {} from {} to {} busy loops, which ran {} (heaplab per-process) and {} (BEAM) iterations.",
        at(preempt, 0, "per-process", rt),
        at(preempt, last, "per-process", rt),
        at(preempt, 0, "shared", rt),
        at(preempt, last, "shared", rt),
        at(preempt, 0, "beam", rt),
        at(preempt, last, "beam", rt),
        preempt.x_value(0),
        preempt.x_value(last),
        at(preempt, last, "per-process", rate),
        at(preempt, last, "beam", rate),
    ));
    lines
}
