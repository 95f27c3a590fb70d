//! `--heap jvm-parallel`, `jvm-g1`, `jvm-zgc` and `go`: the Java and Go versions of the
//! workloads under the real JVM and Go runtime.
//!
//! Without `java` or `go` a run must fail cleanly (one line naming the package to install,
//! exit code 2, nothing installed); those tests run everywhere. The runs themselves happen
//! only where the tool is installed and are skipped with a note otherwise, so the suite
//! passes on a machine without a JDK or Go.

mod common;

const JAVA_MISSING: &str = "heaplab: java not found on PATH; install it with `apt-get install default-jdk-headless` (nothing is installed automatically)";
const GO_MISSING: &str =
    "heaplab: go not found on PATH; install it with `apt-get install golang` (nothing is installed automatically)";

const JVMS: [&str; 3] = ["jvm-parallel", "jvm-g1", "jvm-zgc"];

use common::{heaplab, heaplab_with_path, stderr};

#[test]
fn without_java_or_go_runs_fail_with_the_install_hint_and_exit_2() {
    let empty = tempfile::tempdir().unwrap();
    for heap in JVMS {
        let output = heaplab_with_path(&["bench", "ring", "--heap", heap], empty.path());
        assert_eq!(output.status.code(), Some(2), "{heap}: {}", stderr(&output));
        assert_eq!(stderr(&output), format!("{JAVA_MISSING}\n"), "{heap}");
        assert!(output.stdout.is_empty(), "{heap}: nothing should run");
    }
    let output = heaplab_with_path(&["bench", "spawn", "--heap", "go"], empty.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(stderr(&output), format!("{GO_MISSING}\n"));
}

#[test]
fn parameters_and_versions_are_checked_before_looking_for_the_tools() {
    let empty = tempfile::tempdir().unwrap();
    let output = heaplab_with_path(&["bench", "churn", "--heap", "go", "--set", "requests=0"], empty.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("got '0'"), "{}", stderr(&output));
    for heap in ["jvm-g1", "go"] {
        let output = heaplab_with_path(&["bench", "exit", "--heap", heap], empty.path());
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert_eq!(
            stderr(&output),
            format!(
                "heaplab: workload 'exit' has no version for --heap {heap}; workloads with one: \
                 binaries, churn, churn-big, large-state, ring, spawn\n"
            )
        );
    }
}

fn installed(tool: &str) -> bool {
    let found = heaplab::peer::find_on_path(tool).is_some();
    if !found {
        eprintln!("note: {tool} is not on PATH; skipping the runs that need it");
    }
    found
}

fn java_installed() -> bool {
    installed("java") && installed("javac")
}

/// A peer run's report, with 2 schedulers.
fn report(heap: &str, args: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--heap", heap, "--schedulers", "2", "--json", json.to_str().unwrap()]);
    let output = heaplab(&all);
    assert!(output.status.success(), "{heap} {args:?}: {}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["schema"], "heaplab.report/2");
    assert_eq!(report["heap"], heap);
    assert_eq!(report["schedulers"], 2);
    for name in ["user_time_s", "peak_rss_bytes", "peer_compile_s", "peer_start_stop_s", "gc_cycles"] {
        assert!(report["metrics"][name].as_f64().is_some(), "{heap}: {name}: {report}");
    }
    assert!(report["histograms"]["gc_pause_us"].is_object(), "{report}");
    report
}

fn assert_latency_histogram(report: &serde_json::Value, count: u64) {
    let histogram = &report["histograms"]["request_latency_us"];
    assert_eq!(histogram["count"], count, "{report}");
    let get = |field: &str| histogram[field].as_f64().unwrap();
    assert!(0.0 < get("p50") && get("p50") <= get("p99") && get("p99") <= get("max"), "{report}");
}

/// Every workload a peer has, at tiny sizes.
fn every_workload_runs(heap: &str) {
    let churn = report(heap, &["churn", "--set", "processes=20", "--set", "requests=200"]);
    assert_latency_histogram(&churn, 200);
    assert!(churn["metrics"]["live_bytes"].as_f64().unwrap() > 0.0, "{churn}");
    assert!(churn["metrics"]["throughput_per_s"].as_f64().unwrap() > 0.0, "{churn}");
    let big = report(heap, &["churn-big", "--set", "processes=10", "--set", "requests=50"]);
    assert_eq!(big["params"]["entries"], 1000);
    assert_latency_histogram(&big, 50);
    let large = report(
        heap,
        &["large-state", "--set", "state_mb=1", "--set", "processes=10", "--set", "requests=200"],
    );
    assert_latency_histogram(&large, 200);
    assert!(large["metrics"]["state_rewrites"].as_f64().unwrap() >= 0.0, "{large}");
    let ring = report(heap, &["ring", "--set", "processes=10", "--set", "laps=10"]);
    assert_eq!(ring["metrics"]["hops"], 100.0);
    assert!(ring["metrics"]["ns_per_hop"].as_f64().unwrap() > 0.0, "{ring}");
    let binaries =
        report(heap, &["binaries", "--set", "max_bytes=8192", "--set", "sizes=2", "--set", "messages=40"]);
    assert_eq!(binaries["metrics"]["messages"], 80.0);
    assert!(binaries["metrics"]["throughput_4096b_per_s"].as_f64().unwrap() > 0.0, "{binaries}");
    let spawn = report(heap, &["spawn", "--set", "processes=1000"]);
    for metric in ["spawn_ns_per_process", "exit_ns_per_process"] {
        assert!(spawn["metrics"][metric].as_f64().unwrap() > 0.0, "{metric}: {spawn}");
    }
    // A difference of two heap readings: at 1,000 processes within the heap's own noise.
    assert!(spawn["metrics"]["bytes_per_process"].as_f64().is_some(), "{spawn}");
    // Its two explicit collections (before and after spawning) are in the collector's log.
    let pauses = spawn["histograms"]["gc_pause_us"]["count"].as_u64().unwrap();
    assert!(pauses >= 2, "{spawn}");
    assert!(spawn["metrics"]["gc_cycles"].as_f64().unwrap() >= 2.0, "{spawn}");
    let gc = &spawn["gc"];
    assert_eq!(gc["minor"].as_u64().unwrap() + gc["major"].as_u64().unwrap(), pauses, "{spawn}");
    assert!(gc["major"].as_u64().unwrap() >= 1, "{spawn}");
}

#[test]
fn every_workload_runs_under_the_jvm_where_java_is_installed() {
    if !java_installed() {
        return;
    }
    every_workload_runs("jvm-g1");
}

#[test]
fn every_workload_runs_under_go_where_go_is_installed() {
    if !installed("go") {
        return;
    }
    every_workload_runs("go");
    let report = report("go", &["ring", "--set", "processes=10", "--set", "laps=2"]);
    assert!(report["provenance"]["peer"]["go_version"].as_str().unwrap().starts_with("go"), "{report}");
}

#[test]
fn each_collector_logs_its_pauses_and_safepoints_where_java_is_installed() {
    if !java_installed() {
        return;
    }
    for heap in JVMS {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("csv");
        let json = dir.path().join("report.json");
        let args =
            ["bench", "spawn", "--heap", heap, "--set", "processes=2000", "--json", json.to_str().unwrap()];
        let output = heaplab(&[&args[..], &["--csv", csv.to_str().unwrap()]].concat());
        assert!(output.status.success(), "{heap}: {}", stderr(&output));
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let peer = &report["provenance"]["peer"];
        assert_eq!(peer["runtime"], "jvm", "{report}");
        let collectors = peer["collectors"].as_str().unwrap();
        let expected = match heap {
            "jvm-parallel" => "PS MarkSweep",
            "jvm-g1" => "G1 Old Generation",
            _ => "ZGC",
        };
        assert!(collectors.contains(expected), "{heap}: {collectors}");
        // Every pause happens inside a safepoint (Parallel's System.gc() is a young and a full
        // pause in one), so the safepoints add up to the pauses at least.
        let pauses = report["histograms"]["gc_pause_us"]["count"].as_u64().unwrap();
        assert!(pauses >= 2, "{heap}: {report}");
        assert!(report["metrics"]["safepoints"].as_f64().unwrap() >= 1.0, "{heap}: {report}");
        let stopped = report["metrics"]["safepoint_total_s"].as_f64().unwrap();
        assert!(stopped >= 0.95 * report["gc"]["gc_time_s"].as_f64().unwrap(), "{heap}: {report}");
        assert!(report["histograms"]["safepoint_us"]["max"].as_f64().unwrap() > 0.0, "{report}");
        // -Xmx2048m (the floor), or three quarters of a smaller machine's memory;
        // Runtime.maxMemory() leaves out what the collector keeps in reserve (Parallel: one
        // survivor space).
        let max = report["metrics"]["jvm_heap_max_bytes"].as_f64().unwrap();
        let xmx = heaplab::jvm::max_heap_bytes(0, heaplab::machine::memory_bytes()) as f64;
        assert!((0.8 * xmx..=xmx).contains(&max), "{heap}: {report}");
        assert!(report["metrics"]["jit_compile_s"].as_f64().is_some(), "{report}");
        assert_eq!(report["metrics"].get("allocation_stalls").is_some(), heap == "jvm-zgc", "{report}");
        let rows = std::fs::read_to_string(csv.join("gc_events.csv")).unwrap();
        assert_eq!(rows.lines().skip(1).count() as u64, pauses, "{rows}");
        assert!(rows.contains(",Pause "), "{rows}");
    }
}

#[test]
fn the_time_split_is_refused_under_the_peers_before_anything_runs() {
    if !java_installed() || !installed("go") {
        return;
    }
    for (heap, runtime) in [("jvm-parallel", "the JVM"), ("go", "the Go runtime")] {
        let output = heaplab(&["bench", "ring", "--heap", heap, "--set", "time_split=on"]);
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(
            stderr(&output).contains(&format!(
                "time_split=on is measured on heaplab's runtime only: {runtime} does not time its sends"
            )),
            "{}",
            stderr(&output)
        );
    }
}

#[test]
fn compare_has_the_jvm_and_go_columns_where_they_are_installed() {
    if !java_installed() || !installed("go") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("compare");
    let output = heaplab(&[
        "compare",
        "--suite",
        "smoke",
        "--no-beam",
        "--workload",
        "ring",
        "--workload",
        "exit",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let reports: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let heaps = |workload: &str| -> Vec<String> {
        reports
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["workload"] == workload)
            .map(|r| r["heap"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(heaps("ring"), ["per-process", "shared", "hybrid", "jvm-parallel", "jvm-g1", "jvm-zgc", "go"]);
    assert_eq!(heaps("exit"), ["per-process", "shared", "hybrid"]);
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        summary.contains("| figure | per-process | shared | hybrid | jvm-parallel | jvm-g1 | jvm-zgc | go |"),
        "{summary}"
    );
    assert!(summary.contains("No jvm-g1 version of this workload: no jvm-g1 column."), "{summary}");
}
