//! `--heap beam`: the Erlang versions of the workloads under the real BEAM.
//!
//! Without `erl` the strategy must fail cleanly (one line, exit code 2, nothing installed);
//! those tests run everywhere. The runs under `erl` happen only where it is installed and
//! are skipped with a note otherwise, so the suite passes on a machine without Erlang.

mod common;

const ERL_MISSING: &str =
    "heaplab: erl not found on PATH; install it with `apt-get install erlang-base` (nothing is installed automatically)";

use common::{heaplab, heaplab_with_path, stderr};

#[test]
fn without_erl_beam_runs_fail_with_one_line_and_exit_2() {
    let empty = tempfile::tempdir().unwrap();
    for workload in ["spawn", "ring"] {
        let output = heaplab_with_path(&["bench", workload, "--heap", "beam"], empty.path());
        assert_eq!(output.status.code(), Some(2), "{workload}: {}", stderr(&output));
        assert_eq!(stderr(&output), format!("{ERL_MISSING}\n"), "{workload}");
        assert!(output.stdout.is_empty(), "{workload}: nothing should run");
    }
}

#[test]
fn bad_parameters_are_refused_before_looking_for_erl() {
    let empty = tempfile::tempdir().unwrap();
    let output = heaplab_with_path(&["bench", "ring", "--heap", "beam", "--set", "laps=0"], empty.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("'0'"), "{}", stderr(&output));
}

fn erl_installed() -> bool {
    let found = heaplab::peer::find_on_path("erl").is_some() && heaplab::peer::find_on_path("erlc").is_some();
    if !found {
        eprintln!("note: erl or erlc is not on PATH; skipping the runs under the BEAM");
    }
    found
}

fn beam_report(args: &[&str]) -> serde_json::Value {
    beam_report_on(args, 2)
}

/// A BEAM run's report; `schedulers` is what the report must say (1 for the workloads that
/// run on the calling thread, whatever `--schedulers` asks).
fn beam_report_on(args: &[&str], schedulers: u32) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--heap", "beam", "--schedulers", "2", "--json", json.to_str().unwrap()]);
    let output = heaplab(&all);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["schema"], "heaplab.report/2");
    assert_eq!(report["heap"], "beam");
    assert_eq!(report["schedulers"], schedulers);
    report
}

#[test]
fn spawn_runs_under_the_beam_where_erl_is_installed() {
    if !erl_installed() {
        return;
    }
    let report = beam_report(&["spawn", "--set", "processes=1000"]);
    assert_eq!(report["workload"], "spawn");
    assert_eq!(report["params"]["processes"], 1000);
    for metric in ["spawn_ns_per_process", "bytes_per_process", "exit_ns_per_process", "peak_rss_bytes"] {
        assert!(report["metrics"][metric].as_f64().unwrap() > 0.0, "{metric}: {report}");
    }
    assert!(report["metrics"]["heap_words_per_process"].as_f64().unwrap() >= 233.0, "{report}");
}

#[test]
fn ring_runs_under_the_beam_where_erl_is_installed() {
    if !erl_installed() {
        return;
    }
    let report = beam_report(&["ring", "--set", "processes=10", "--set", "laps=10"]);
    assert_eq!(report["workload"], "ring");
    assert_eq!(report["metrics"]["hops"], 100.0);
    assert!(report["metrics"]["ns_per_hop"].as_f64().unwrap() > 0.0, "{report}");
}

/// Asserts a histogram an Erlang version returned the raw samples of: `count` samples and
/// ordered percentiles.
fn assert_latency_histogram(report: &serde_json::Value, name: &str, count: u64) {
    let histogram = &report["histograms"][name];
    assert_eq!(histogram["count"], count, "{report}");
    let get = |field: &str| histogram[field].as_f64().unwrap();
    assert!(0.0 < get("p50") && get("p50") <= get("p99") && get("p99") <= get("max"), "{report}");
}

#[test]
fn churn_and_churn_big_run_under_the_beam_where_erl_is_installed() {
    if !erl_installed() {
        return;
    }
    let report = beam_report(&["churn", "--set", "processes=20", "--set", "requests=200"]);
    assert_eq!(report["workload"], "churn");
    assert_latency_histogram(&report, "request_latency_us", 200);
    assert_eq!(report["metrics"]["live_bytes"], 20.0 * 100.0 * 80.0);
    let report = beam_report(&["churn-big", "--set", "processes=10", "--set", "requests=50"]);
    assert_eq!(report["params"]["entries"], 1000);
    assert_latency_histogram(&report, "request_latency_us", 50);
}

#[test]
fn large_state_runs_under_the_beam_where_erl_is_installed() {
    if !erl_installed() {
        return;
    }
    let set = ["--set", "state_mb=1", "--set", "processes=10", "--set", "requests=200"];
    let report = beam_report(&[&["large-state"], &set[..]].concat());
    assert_latency_histogram(&report, "request_latency_us", 200);
    assert!(report["metrics"]["state_bytes"].as_f64().unwrap() >= 1_048_576.0, "{report}");
}

#[test]
fn binaries_runs_under_the_beam_where_erl_is_installed() {
    if !erl_installed() {
        return;
    }
    let set = ["--set", "max_bytes=8192", "--set", "sizes=2", "--set", "messages=40"];
    let report = beam_report(&[&["binaries"], &set[..]].concat());
    assert_eq!(report["metrics"]["messages"], 80.0);
    assert!(report["metrics"]["throughput_4096b_per_s"].as_f64().unwrap() > 0.0, "{report}");
    assert!(report["metrics"]["bytes_copied_per_message"].as_f64().unwrap() > 0.0, "{report}");
    assert_eq!(report["metrics"]["binaries_live_at_end"], 0.0, "{report}");
}

#[test]
fn big_runs_under_the_beam_where_erl_is_installed() {
    if !erl_installed() {
        return;
    }
    let report = beam_report(&["big", "--set", "processes=20", "--set", "rounds=2"]);
    assert_eq!(report["metrics"]["messages"], 2.0 * 20.0 * 19.0 * 2.0);
    assert!(report["metrics"]["messages_per_s"].as_f64().unwrap() > 0.0, "{report}");
}

#[test]
fn preempt_runs_under_the_beam_where_erl_is_installed() {
    if !erl_installed() {
        return;
    }
    let report = beam_report(&["preempt", "--set", "busy=3", "--set", "pings=100"]);
    assert_eq!(report["workload"], "preempt");
    assert_eq!(report["metrics"]["round_trips"], 100.0);
    assert_latency_histogram(&report, "round_trip_us", 100);
    assert!(report["metrics"]["round_trip_p99_us"].as_f64().unwrap() > 0.0, "{report}");
    assert!(report["metrics"]["busy_iterations_per_s"].as_f64().unwrap() > 0.0, "{report}");
}

#[test]
fn beam_runs_report_the_collections_they_traced_where_erl_is_installed() {
    if !erl_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let csv = dir.path().join("csv");
    let args = [
        "bench",
        "churn",
        "--set",
        "processes=20",
        "--set",
        "requests=2000",
        "--heap",
        "beam",
        "--schedulers",
        "2",
        "--json",
        json.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
    ];
    let output = heaplab(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    // Every server's state outgrows its first heap: each of the 20 collects at least once.
    let pauses = report["histograms"]["gc_pause_us"]["count"].as_u64().unwrap();
    assert!(pauses >= 20, "{report}");
    let gc = &report["gc"];
    assert_eq!(gc["minor"].as_u64().unwrap() + gc["major"].as_u64().unwrap(), pauses, "{report}");
    assert!(gc["minor"].as_u64().unwrap() > 0, "{report}");
    assert!(gc["gc_time_s"].as_f64().unwrap() > 0.0, "{report}");
    assert!(gc["words_copied"].as_u64().unwrap() > 0, "{report}");
    assert!(report["histograms"]["gc_pause_us"]["max"].as_f64().unwrap() > 0.0, "{report}");
    assert_eq!(report["metrics"]["gc_events_dropped"], 0.0, "{report}");
    assert!(report["metrics"]["memory_total_bytes"].as_f64().unwrap() > 0.0, "{report}");
    assert!(report["metrics"].get("gc_events").is_none(), "{report}");

    let rows = std::fs::read_to_string(csv.join("gc_events.csv")).unwrap();
    let rows: Vec<&str> = rows.lines().skip(1).collect();
    assert_eq!(rows.len() as u64, pauses);
    assert!(rows.iter().all(|row| row.starts_with("minor,") || row.starts_with("major,")), "{rows:?}");
    assert!(rows.iter().all(|row| row.contains(",beam,")), "{rows:?}");
}

#[test]
fn the_single_heap_workloads_run_under_the_beam_where_erl_is_installed() {
    if !erl_installed() {
        return;
    }
    let report = beam_report(&["alloc", "--set", "megawords=2", "--set", "live_words=1000"]);
    assert_eq!(report["metrics"]["words_allocated"], 2_000_000.0, "{report}");
    assert!(report["metrics"]["ns_per_word"].as_f64().unwrap() > 0.0, "{report}");
    let report = beam_report_on(&["exit", "--set", "heap_mb=1", "--set", "repeats=2"], 1);
    assert!(report["metrics"]["heap_bytes"].as_f64().unwrap() >= 1_048_576.0, "{report}");
    assert!(report["metrics"]["drop_ns_many_objects"].as_f64().unwrap() > 0.0, "{report}");
    let report = beam_report_on(&["gc-copy", "--set", "live_mb=1", "--set", "collections=3"], 1);
    assert!(report["metrics"]["live_bytes"].as_f64().unwrap() >= 1_048_576.0, "{report}");
    assert!(report["metrics"]["copy_bytes_per_s"].as_f64().unwrap() > 0.0, "{report}");
    // No memcpy rate under the BEAM: binary:copy/1 is not a memcpy, the ratio would not
    // compare like with like.
    assert!(report["metrics"].get("copy_vs_memcpy").is_none(), "{report}");
    assert!(report["metrics"].get("memcpy_bytes_per_s").is_none(), "{report}");
    // The three timed collections as the workload's own pause histogram, from the untraced pass.
    assert_eq!(report["histograms"]["gc_pause_us"]["count"], 3, "{report}");
    // The three timed collections (and the warm-up) were traced.
    assert!(report["gc"]["major"].as_u64().unwrap() >= 4, "{report}");
}

#[test]
fn the_beam_wall_time_is_the_workload_alone_where_erl_is_installed() {
    if !erl_installed() {
        return;
    }
    let report = beam_report(&["big", "--set", "processes=20"]);
    let metric = |name: &str| report["metrics"][name].as_f64().unwrap_or_else(|| panic!("{name}: {report}"));
    let wall = report["wall_s"].as_f64().unwrap();
    // Compilation, VM start and stop and the traced pass are reported apart, each longer
    // than this tiny workload.
    for name in ["peer_compile_s", "peer_start_stop_s", "peer_traced_pass_s"] {
        assert!(metric(name) > wall, "{name} vs wall_s {wall}: {report}");
    }
    // The window messages_per_s is measured over lies inside wall_s, which adds only the
    // workload's own set-up (spawning the members) and reporting.
    let window = metric("messages") / metric("messages_per_s");
    assert!(window <= wall, "{window} vs {wall}: {report}");
    for name in ["user_time_s", "sys_time_s", "minor_page_faults", "major_page_faults"] {
        assert!(metric(name) >= 0.0, "{name}");
    }
    assert!(metric("minor_page_faults") > 0.0, "the emulator faults its heap in: {report}");
    let peer = &report["provenance"]["peer"];
    assert_eq!(peer["runtime"], "beam", "{report}");
    assert!(peer["otp_release"].as_str().unwrap().parse::<u32>().unwrap() >= 21, "{report}");
    assert!(!peer["erts_version"].as_str().unwrap().is_empty(), "{report}");
}

#[test]
fn beam_schedulers_are_capped_at_its_limit_where_erl_is_installed() {
    if !erl_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let args = [
        "bench",
        "ring",
        "--heap",
        "beam",
        "--schedulers",
        "2000",
        "--set",
        "processes=10",
        "--set",
        "laps=2",
    ];
    let output = heaplab(&[&args[..], &["--json", json.to_str().unwrap()]].concat());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("runs at most 1024 schedulers"), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["schedulers"], 1024);
}

#[test]
fn restart_latencies_are_a_histogram_under_the_beam_where_erl_is_installed() {
    if !erl_installed() {
        return;
    }
    let report = beam_report(&["restart", "--set", "crashes=20", "--set", "supervisor_crashes=10"]);
    assert_latency_histogram(&report, "restart_latency_us", 20);
    assert!(report["metrics"]["restart_latency_p50_us"].as_f64().unwrap() > 0.0, "{report}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_the_emulator_and_removes_its_directory_where_erl_is_installed() {
    if !erl_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let args = ["bench", "ring", "--heap", "beam", "--set", "processes=1000", "--set", "laps=1000000"];
    // Once the emulator runs the workload: its command line names the directory.
    let tmp_text = tmp.to_str().unwrap().to_owned();
    let running =
        move || common::processes_mentioning(&tmp_text).iter().any(|p| p.contains("heaplab_report:run"));
    let (status, stderr) =
        common::interrupt_when(&args, &[("TMPDIR", &tmp)], common::Ready::When(&running), "-INT");
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert_eq!(stderr.trim_end().lines().last(), Some("heaplab: interrupted (SIGINT)"), "{stderr}");
    assert_eq!(common::processes_mentioning(tmp.to_str().unwrap()), Vec::<String>::new());
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "the compiled modules' directory is removed");
}

#[test]
fn the_time_split_is_refused_under_the_beam_before_anything_runs() {
    if !erl_installed() {
        return;
    }
    let output = heaplab(&["bench", "ring", "--heap", "beam", "--schedulers", "1", "--set", "time_split=on"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("time_split=on is measured on heaplab's runtime only"),
        "{}",
        stderr(&output)
    );
    assert!(output.stdout.is_empty());
}
