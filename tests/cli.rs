//! The `heaplab` binary end to end: exit codes, one-line errors, and small runs that write
//! reports.

use std::path::Path;
use std::process::{Command, Output};

mod common;
#[cfg(unix)]
use common::{interrupt_when, Ready};

fn heaplab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_heaplab")).args(args).output().expect("the heaplab binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts a usage failure: exit code 2 and one line on stderr containing every `needle`.
fn assert_usage_error(args: &[&str], needles: &[&str]) {
    let output = heaplab(args);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {message}");
    assert_eq!(message.lines().count(), 1, "{args:?}: not one line: {message}");
    assert!(message.starts_with("heaplab: "), "{args:?}: {message}");
    for needle in needles {
        assert!(message.contains(needle), "{args:?}: '{needle}' missing from: {message}");
    }
    assert!(output.stdout.is_empty(), "{args:?}: nothing should run");
}

#[test]
fn bad_arguments_exit_2_with_one_line() {
    assert_usage_error(&["bench", "chrun"], &["'chrun'", "exit, gc-copy"]);
    assert_usage_error(&["bench", "exit", "--set", "live_mb=1"], &["'live_mb'", "heap_mb, repeats"]);
    assert_usage_error(&["bench", "exit", "--set", "heap_mb=-4"], &["'-4'", "positive integer"]);
    assert_usage_error(&["bench", "exit", "--set", "heap_mb=lots"], &["'lots'", "positive integer"]);
    assert_usage_error(&["bench", "gc-copy", "--set", "collections=0"], &["'0'", "positive integer"]);
    assert_usage_error(&["bench", "gc-copy", "--set", "kind=full"], &["'full'", "major, minor"]);
    assert_usage_error(&["bench", "gc-copy", "--set", "live_mb"], &["NAME=VALUE"]);
    assert_usage_error(&["bench", "exit", "--heap", "global"], &["'global'", "per-process"]);
    assert_usage_error(&["bench", "exit", "--schedulers", "0"], &["'0'"]);
    assert_usage_error(&["bench", "exit", "--bogus"], &["--bogus"]);
    assert_usage_error(&["reproduce", "nowhere-1999"], &["'nowhere-1999'"]);
}

#[test]
fn help_lists_workloads_and_parameters() {
    let output = heaplab(&["bench", "--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in ["gc-copy", "exit", "live_mb=16", "collections=20", "heap_mb=64"] {
        assert!(help.contains(needle), "'{needle}' missing from: {help}");
    }
}

#[test]
fn exit_runs_and_prints_a_table() {
    let output = heaplab(&["bench", "exit", "--set", "heap_mb=4"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.starts_with("exit on per-process heaps"), "{table}");
    for needle in ["drop_ns_one_object", "drop_ns_many_objects", "drop_ratio", "heap_bytes"] {
        assert!(table.contains(needle), "'{needle}' missing from: {table}");
    }
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("the file was written");
    serde_json::from_str(&text).expect("the file is JSON")
}

#[test]
fn gc_copy_writes_report_csv_and_trace() {
    let dir = tempfile::tempdir().unwrap();
    let (json, csv, trace) =
        (dir.path().join("report.json"), dir.path().join("raw"), dir.path().join("trace.json"));
    let output = heaplab(&[
        "bench",
        "gc-copy",
        "--set",
        "live_mb=1",
        "--set",
        "collections=3",
        "--json",
        json.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));

    let report = read_json(&json);
    assert_eq!(report["schema"], "heaplab.report/2");
    assert_eq!(report["workload"], "gc-copy");
    assert_eq!(report["heap"], "per-process");
    assert_eq!(report["params"]["live_mb"], 1);
    assert_eq!(report["params"]["collections"], 3);
    assert_eq!(report["params"]["kind"], "major");
    assert!(report["wall_s"].as_f64().unwrap() > 0.0);
    for metric in ["copy_bytes_per_s", "memcpy_bytes_per_s", "copy_vs_memcpy", "live_bytes"] {
        assert!(report["metrics"][metric].as_f64().unwrap() > 0.0, "{metric}");
    }
    assert_eq!(report["histograms"]["gc_pause_us"]["count"], 3);
    assert_eq!(report["gc"]["major"], 4, "warm-up plus three timed collections");
    assert!(report["machine"]["cores"].as_u64().unwrap() >= 1);

    let events = std::fs::read_to_string(csv.join("gc_events.csv")).unwrap();
    assert_eq!(events.lines().count(), 1 + 4, "{events}");
    let samples = std::fs::read_to_string(csv.join("gc_pause_us.csv")).unwrap();
    assert_eq!(samples.lines().count(), 1 + 3, "{samples}");

    let trace = read_json(&trace);
    let spans: Vec<&serde_json::Value> =
        trace.as_array().unwrap().iter().filter(|e| e["ph"] == "X").collect();
    assert_eq!(spans.len(), 4);
    assert!(spans.iter().all(|span| span["cat"] == "gc"));
}

#[test]
fn an_attributed_churn_reports_its_tails_and_marks_its_slow_requests() {
    let dir = tempfile::tempdir().unwrap();
    let (json, csv, trace) =
        (dir.path().join("report.json"), dir.path().join("raw"), dir.path().join("trace.json"));
    let output = heaplab(&[
        "bench",
        "churn",
        "--schedulers",
        "2",
        "--set",
        "attribution=on",
        "--set",
        "processes=20",
        "--set",
        "entries=20",
        "--set",
        "requests=2000",
        "--json",
        json.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("p999 tail"), "the table says the tails: {table}");

    let report = read_json(&json);
    let tails = &report["tail_attribution"];
    for tail in ["above_p99", "above_p999"] {
        let share = tails[tail]["share"].as_object().unwrap();
        let sum: f64 = share.values().map(|v| v.as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-6, "{tail}: {sum}");
        assert_eq!(share.len(), 7, "{tail}: every component");
    }
    let slow = tails["above_p99"]["count"].as_u64().unwrap();
    assert!(slow >= 1);

    let rows = std::fs::read_to_string(csv.join("tail_requests.csv")).unwrap();
    assert_eq!(rows.lines().count() as u64, 1 + slow, "{rows}");
    assert!(rows.starts_with("client,server,latency_ns,gc_ns,run_queue_ns,"), "{rows}");

    let trace = read_json(&trace);
    let events = trace.as_array().unwrap();
    let requests =
        events.iter().filter(|e| e["cat"] == "tail" && e["ph"] == "X" && e["args"]["latency_us"].is_number());
    assert_eq!(requests.count() as u64, slow);
    let flows = |ph: &str| events.iter().filter(|e| e["cat"] == "tail" && e["ph"] == ph).count() as u64;
    assert_eq!((flows("s"), flows("t"), flows("f")), (slow, slow, slow), "one flow per slow request");
    assert!(events.iter().any(|e| e["ph"] == "M" && e["args"]["name"] == "requests above p99"));
}

#[test]
fn a_traced_ring_shows_process_slices_on_scheduler_tracks() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("ring.json");
    let output = heaplab(&[
        "bench",
        "ring",
        "--set",
        "processes=10",
        "--set",
        "laps=5",
        "--schedulers",
        "2",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let trace = read_json(&trace);
    let events = trace.as_array().unwrap();
    let slices: Vec<&serde_json::Value> = events.iter().filter(|e| e["cat"] == "process").collect();
    // Every member runs at least once per lap it sees the token; the root at least twice.
    assert!(slices.len() >= 50, "{} slices", slices.len());
    for slice in &slices {
        let tid = slice["tid"].as_u64().unwrap();
        assert!((1..=2).contains(&tid), "scheduler tracks are 1 and 2: {slice}");
        assert!(slice["name"].as_str().unwrap().starts_with("<0."), "{slice}");
        assert_eq!(slice["args"]["pid"], slice["name"]);
    }
    let tracks: Vec<&str> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| e["args"]["name"].as_str().unwrap())
        .collect();
    assert!(tracks.iter().all(|name| name.starts_with("scheduler ")), "{tracks:?}");
}

/// Runs `bench` with `args` and `--json` into a temporary file; returns the report.
fn bench_report(args: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--json", json.to_str().unwrap()]);
    let output = heaplab(&all);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    read_json(&json)
}

#[test]
fn spawn_writes_a_report_with_its_metrics() {
    let report = bench_report(&["spawn", "--set", "processes=1000", "--schedulers", "2"]);
    assert_eq!(report["schema"], "heaplab.report/2");
    assert_eq!(report["workload"], "spawn");
    assert_eq!(report["heap"], "per-process");
    assert_eq!(report["schedulers"], 2);
    assert_eq!(report["params"]["processes"], 1000);
    for metric in ["spawn_ns_per_process", "exit_ns_per_process"] {
        assert!(report["metrics"][metric].as_f64().unwrap() > 0.0, "{metric}: {report}");
    }
    for metric in ["bytes_per_process", "heap_words_per_process"] {
        assert!(report["metrics"][metric].as_f64().unwrap() >= 0.0, "{metric}: {report}");
    }
    assert!(report["histograms"]["gc_pause_us"].is_object());
}

#[test]
fn ring_writes_a_report_with_its_metrics() {
    let report = bench_report(&["ring", "--set", "processes=10", "--set", "laps=10"]);
    assert_eq!(report["workload"], "ring");
    assert_eq!(report["heap"], "per-process");
    assert_eq!(report["params"]["processes"], 10);
    assert_eq!(report["params"]["laps"], 10);
    assert_eq!(report["metrics"]["hops"], 100.0);
    assert!(report["metrics"]["ns_per_hop"].as_f64().unwrap() > 0.0, "{report}");
}

#[test]
fn spawn_and_ring_refuse_bad_parameters() {
    assert_usage_error(&["bench", "spawn", "--set", "processes=0"], &["'0'", "positive integer"]);
    assert_usage_error(&["bench", "ring", "--set", "hops=3"], &["'hops'", "laps, payload, processes"]);
}

/// The heap strategies every runtime workload runs under.
const RUNTIME_HEAPS: [&str; 3] = ["per-process", "shared", "hybrid"];

/// Runs `workload` with `set` under each of [`RUNTIME_HEAPS`]; checks the report's header
/// and returns the reports.
fn runtime_reports(workload: &str, set: &[&str]) -> Vec<serde_json::Value> {
    RUNTIME_HEAPS
        .iter()
        .map(|heap| {
            let mut args = vec![workload, "--heap", heap, "--schedulers", "2"];
            for assignment in set {
                args.extend_from_slice(&["--set", assignment]);
            }
            let report = bench_report(&args);
            assert_eq!(report["schema"], "heaplab.report/2");
            assert_eq!(report["workload"], workload);
            assert_eq!(report["heap"], *heap);
            assert_eq!(report["schedulers"], 2);
            assert!(report["wall_s"].as_f64().unwrap() > 0.0, "{report}");
            assert!(report["histograms"]["gc_pause_us"].is_object(), "{report}");
            report
        })
        .collect()
}

/// Asserts a histogram summary with `count` values in order p50 <= p99 <= max.
fn assert_histogram(report: &serde_json::Value, name: &str, count: u64) {
    let histogram = &report["histograms"][name];
    assert_eq!(histogram["count"], count, "{name}: {report}");
    let (p50, p99, max) = (
        histogram["p50"].as_f64().unwrap(),
        histogram["p99"].as_f64().unwrap(),
        histogram["max"].as_f64().unwrap(),
    );
    assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{name}: {histogram}");
}

#[test]
fn churn_and_churn_big_report_latencies_under_both_heaps() {
    let set = ["processes=20", "entries=40", "rewrites=2", "clients=2", "requests=200"];
    for report in runtime_reports("churn", &set) {
        assert_eq!(report["params"]["entries"], 40);
        assert!(report["metrics"]["throughput_per_s"].as_f64().unwrap() > 0.0, "{report}");
        assert_eq!(report["metrics"]["live_bytes"], 20.0 * 40.0 * 80.0);
        assert_histogram(&report, "request_latency_us", 200);
    }
    for report in runtime_reports("churn-big", &["processes=10", "requests=50"]) {
        assert_eq!(report["params"]["entries"], 1000, "churn-big's default");
        assert_eq!(report["params"]["rewrites"], 1, "churn-big's default");
        assert_histogram(&report, "request_latency_us", 50);
    }
}

#[test]
fn large_state_reports_the_small_servers_latency_under_both_heaps() {
    let set = ["state_mb=1", "rewrite_entries=200", "processes=10", "clients=2", "requests=200"];
    for report in runtime_reports("large-state", &set) {
        assert_histogram(&report, "request_latency_us", 200);
        assert!(report["metrics"]["throughput_per_s"].as_f64().unwrap() > 0.0, "{report}");
        assert!(report["metrics"]["state_bytes"].as_f64().unwrap() >= 1_048_576.0, "{report}");
        assert!(report["metrics"]["state_rewrites"].as_f64().unwrap() >= 0.0, "{report}");
    }
}

#[test]
fn binaries_sweeps_sizes_and_leaves_no_binary_under_both_heaps() {
    let set = ["max_bytes=8192", "sizes=4", "messages=40", "keep=5"];
    let reports = runtime_reports("binaries", &set);
    for report in &reports {
        assert_eq!(report["metrics"]["messages"], 160.0);
        for size in [1024, 2048, 4096, 8192] {
            let metric = format!("throughput_{size}b_per_s");
            assert!(report["metrics"][&metric].as_f64().unwrap() > 0.0, "{metric}: {report}");
        }
        assert!(report["metrics"]["throughput_per_s"].as_f64().unwrap() > 0.0, "{report}");
        assert_eq!(report["metrics"]["binaries_live_at_end"], 0.0, "{report}");
        assert_eq!(report["metrics"]["binary_bytes_live_at_end"], 0.0, "{report}");
        assert!(report["metrics"]["peak_rss_bytes"].as_f64().unwrap() > 0.0, "{report}");
    }
    // Two hops of {Pid, Bin}: a copied handle per-process, a reference on the shared heap.
    let copied = reports[0]["metrics"]["bytes_copied_per_message"].as_f64().unwrap();
    assert!(copied > 0.0 && copied < 1024.0, "{copied}");
    assert_eq!(reports[1]["metrics"]["bytes_copied_per_message"], 0.0);
}

#[test]
fn big_counts_every_ping_and_pong_under_both_heaps() {
    for report in runtime_reports("big", &["processes=20", "rounds=2"]) {
        assert_eq!(report["metrics"]["messages"], 2.0 * 20.0 * 19.0 * 2.0);
        assert!(report["metrics"]["messages_per_s"].as_f64().unwrap() > 0.0, "{report}");
    }
}

#[test]
fn new_workloads_refuse_bad_parameters() {
    assert_usage_error(&["bench", "churn", "--set", "entries=0"], &["'0'", "positive integer"]);
    assert_usage_error(&["bench", "churn", "--set", "rewrites=-1"], &["'-1'", "from 0 to 10000"]);
    assert_usage_error(
        &["bench", "churn-big", "--set", "servers=5"],
        &["'servers'", "clients, entries, processes, requests, rewrites"],
    );
    assert_usage_error(&["bench", "large-state", "--set", "state_mb=0"], &["'0'", "positive integer"]);
    assert_usage_error(&["bench", "large-state", "--set", "state_mb=99999"], &["'99999'", "up to 16384"]);
    assert_usage_error(&["bench", "binaries", "--set", "sizes=0"], &["'0'", "positive integer"]);
    assert_usage_error(&["bench", "binaries", "--set", "max_bytes=1MB"], &["'1MB'", "positive integer"]);
    assert_usage_error(&["bench", "big", "--set", "processes=0"], &["'0'", "positive integer"]);
}

#[test]
fn preempt_times_round_trips_beside_busy_loops_under_both_heaps() {
    for report in runtime_reports("preempt", &["busy=3", "pings=100"]) {
        assert_eq!(report["params"]["busy"], 3);
        assert_eq!(report["metrics"]["round_trips"], 100.0);
        assert_histogram(&report, "round_trip_us", 100);
        assert!(report["metrics"]["round_trip_p99_us"].as_f64().unwrap() > 0.0, "{report}");
        assert!(report["metrics"]["busy_iterations_per_s"].as_f64().unwrap() > 0.0, "{report}");
    }
    assert_usage_error(&["bench", "preempt", "--set", "pings=0"], &["'0'", "positive integer"]);
    assert_usage_error(&["bench", "preempt", "--set", "spinners=2"], &["'spinners'", "busy, pings"]);
}

#[test]
fn output_paths_are_checked_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    // --csv names a file: a clear message, nothing runs.
    assert_usage_error(
        &["bench", "exit", "--set", "heap_mb=1", "--csv", file.to_str().unwrap()],
        &["--csv takes a directory", "is a file"],
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x", "the file is left alone");
    // --json names a directory.
    assert_usage_error(
        &["bench", "exit", "--set", "heap_mb=1", "--json", dir.path().to_str().unwrap()],
        &["--json takes a file"],
    );
    // --trace under a file (its parent cannot be a directory).
    let under_file = file.join("trace.json");
    assert_usage_error(
        &["bench", "exit", "--set", "heap_mb=1", "--trace", under_file.to_str().unwrap()],
        &["--trace", "cannot be written"],
    );
    // A --json that can be written is not left behind by the check when the run fails later.
    let json = dir.path().join("new").join("report.json");
    assert_usage_error(
        &[
            "bench",
            "exit",
            "--set",
            "heap_mb=1",
            "--json",
            json.to_str().unwrap(),
            "--trace",
            under_file.to_str().unwrap(),
        ],
        &["--trace"],
    );
    assert!(!json.exists());
}

#[test]
fn json_dash_writes_the_report_to_stdout_and_the_table_to_stderr() {
    let output = heaplab(&["bench", "exit", "--set", "heap_mb=1", "--set", "repeats=1", "--json", "-"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("stdout is the JSON report alone");
    assert_eq!(report["workload"], "exit");
    assert!(stderr(&output).contains("exit on per-process heaps"), "{}", stderr(&output));
}

#[test]
fn every_report_carries_provenance_and_getrusage_figures() {
    let report = bench_report(&["ring", "--set", "processes=10", "--set", "laps=10"]);
    let provenance = &report["provenance"];
    assert_eq!(provenance["heaplab_version"], env!("CARGO_PKG_VERSION"));
    assert!(provenance["git_commit"].is_string() && provenance["git_dirty"].is_boolean(), "{provenance}");
    let command = provenance["command"].as_str().unwrap();
    assert!(command.starts_with("heaplab bench ring --set processes=10"), "{command}");
    assert!(provenance["date"].as_str().unwrap().ends_with('Z'), "{provenance}");
    for field in ["rustc", "kernel", "cpu_model"] {
        assert!(!provenance[field].as_str().unwrap().is_empty(), "{field}: {provenance}");
    }
    assert!(provenance["cores"].as_u64().unwrap() >= 1);
    assert!(provenance["memory_bytes"].as_u64().unwrap() > 0);
    assert_eq!(provenance["load_average"].as_array().unwrap().len(), 3);
    assert!(provenance.get("peer").is_none(), "heaplab's own strategies have no peer: {provenance}");
    let metrics = &report["metrics"];
    assert!(metrics["user_time_s"].as_f64().unwrap() >= 0.0, "{metrics}");
    assert!(metrics["sys_time_s"].as_f64().unwrap() >= 0.0, "{metrics}");
    assert!(metrics["minor_page_faults"].as_f64().unwrap() > 0.0, "{metrics}");
    assert!(metrics["major_page_faults"].as_f64().unwrap() >= 0.0, "{metrics}");
}

#[test]
fn runs_aggregate_reports_of_separate_processes_with_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let csv = dir.path().join("csv");
    let output = heaplab(&[
        "bench",
        "ring",
        "--set",
        "processes=10",
        "--set",
        "laps=20",
        "--runs",
        "3",
        "--json",
        json.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = read_json(&json);
    assert_eq!(report["runs"], 3);
    let runs = report["per_run"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    // Each run its own process: its own command line and its own getrusage figures.
    for run in runs {
        assert!(run["provenance"]["command"].as_str().unwrap().starts_with("heaplab bench ring"), "{run}");
        assert!(run.get("per_run").is_none());
    }
    let mut hops: Vec<f64> = runs.iter().map(|r| r["metrics"]["ns_per_hop"].as_f64().unwrap()).collect();
    hops.sort_by(f64::total_cmp);
    assert_eq!(report["metrics"]["ns_per_hop"].as_f64().unwrap(), hops[1], "the median of the runs");
    let ci = &report["ci95"];
    let [low, high] = [ci["ns_per_hop"][0].as_f64().unwrap(), ci["ns_per_hop"][1].as_f64().unwrap()];
    let mean = hops.iter().sum::<f64>() / 3.0;
    assert!(low <= mean && mean <= high, "{low} {mean} {high}");
    for key in ["wall_s", "user_time_s", "gc.gc_time_s"] {
        assert!(ci[key].is_array(), "{key}: {ci}");
    }
    for run in 1..=3 {
        assert!(csv.join(format!("run-{run}")).join("gc_events.csv").exists(), "run {run}");
    }
    assert_usage_error(&["bench", "ring", "--runs", "2", "--trace", "t.json"], &["--trace records one run"]);
    assert_usage_error(&["bench", "ring", "--runs", "0"], &["'0'"]);
}

#[cfg(target_os = "linux")]
#[test]
fn a_run_that_cannot_fit_in_memory_is_refused_before_it_starts() {
    // A 1 GiB address-space limit, as a batch system sets one: 4 GiB heaps cannot fit.
    let output = Command::new("sh")
        .args(["-c", "ulimit -v 1048576 && exec \"$0\" bench exit --set heap_mb=4096"])
        .arg(env!("CARGO_BIN_EXE_heaplab"))
        .output()
        .unwrap();
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert_eq!(
        message.lines().filter(|l| !l.contains("note:") && !l.contains("warning:")).count(),
        1,
        "{message}"
    );
    assert!(message.contains("heap_mb=4096 needs at least 8.00 GiB"), "{message}");
    assert!(message.contains("address-space limit"), "{message}");
    assert!(output.stdout.is_empty());
}

#[cfg(unix)]
#[test]
fn ctrl_c_during_an_in_process_run_exits_130_with_one_line() {
    let (status, stderr) = interrupt_when(
        &["bench", "ring", "--set", "processes=1000", "--set", "laps=1000000"],
        &[],
        Ready::Soon,
        "-INT",
    );
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.trim_end().ends_with("heaplab: interrupted: the run in progress is lost"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_during_runs_keeps_the_aggregate_of_the_finished_ones() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let args = [
        "bench",
        "ring",
        "--set",
        "processes=1000",
        "--set",
        "laps=2000",
        "--runs",
        "5",
        "--json",
        json.to_str().unwrap(),
    ];
    let (status, stderr) = interrupt_when(&args, &[], Ready::Line("run 1 of 5: done"), "-INT");
    assert_eq!(status.code(), Some(130), "{stderr}");
    let last = stderr.trim_end().lines().last().unwrap();
    assert!(
        last.starts_with("heaplab: interrupted: ") && last.ends_with("finished runs aggregated"),
        "{stderr}"
    );
    let report = read_json(&json);
    let kept = report["per_run"].as_array().unwrap().len();
    assert!((1..5).contains(&kept), "{kept} runs kept");
    assert_eq!(report["runs"], kept);
}
