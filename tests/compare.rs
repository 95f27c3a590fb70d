//! `heaplab compare` end to end, on the hidden smoke suite (tiny parameters, seconds in a
//! debug build) without the BEAM: every output is written and readable.

use std::path::Path;
use std::process::{Command, Output};

mod common;

fn heaplab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_heaplab")).args(args).output().expect("the heaplab binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_smoke_suite_writes_reports_summary_csv_plots_and_a_trace() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("compare");
    let output = heaplab(&[
        "compare",
        "--suite",
        "smoke",
        "--no-beam",
        "--no-jvm",
        "--no-go",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);

    // report.json: one report per entry and strategy, in the report schema; ring has two
    // entries, the default token and a payload of 100 integers.
    let reports: serde_json::Value = serde_json::from_str(&read(&out.join("report.json"))).unwrap();
    let reports = reports.as_array().expect("an array of reports");
    let workloads = ["spawn", "ring", "churn", "exit", "gc-copy", "restart"];
    let ids = ["spawn", "ring", "ring-payload100", "churn", "exit", "gc-copy", "restart"];
    assert_eq!(reports.len(), ids.len() * 3, "one report per entry and strategy");
    for workload in workloads {
        for heap in ["per-process", "shared", "hybrid"] {
            let found = reports.iter().find(|r| r["workload"] == workload && r["heap"] == heap);
            let report = found.unwrap_or_else(|| panic!("no report of {workload} on {heap}"));
            assert_eq!(report["schema"], "heaplab.report/2");
            assert!(report["histograms"]["gc_pause_us"].is_object(), "{report}");
        }
    }
    for id in ids {
        for heap in ["per-process", "shared", "hybrid"] {
            let csv = out.join("csv").join(format!("{id}-{heap}")).join("run-1").join("gc_events.csv");
            assert!(csv.exists(), "csv of {id} on {heap}");
        }
    }
    for heap in ["per-process", "shared", "hybrid"] {
        let payloads: Vec<&serde_json::Value> = reports
            .iter()
            .filter(|r| r["workload"] == "ring" && r["heap"] == heap)
            .map(|r| &r["params"]["payload"])
            .collect();
        assert_eq!(payloads, [0, 100], "ring's two entries on {heap}, in suite order");
    }
    assert!(reports.iter().all(|r| r["heap"] != "beam"), "--no-beam");

    // summary.md: a header and one side-by-side table per workload.
    let summary = read(&out.join("summary.md"));
    assert!(summary.starts_with("# heaplab compare\n"), "{summary}");
    assert!(summary.contains("- suite: smoke"), "{summary}");
    assert!(summary.contains("beam not run (--no-beam)"), "{summary}");
    for id in ids {
        assert!(summary.contains(&format!("\n## {id}\n")), "{id}: {summary}");
    }
    let payload = section(&summary, "ring-payload100");
    assert!(payload.contains("payload=100"), "{payload}");
    assert!(payload.contains("| `copied_words_per_hop` | 203 | 0 | 3 |"), "{payload}");
    let ring = section(&summary, "ring");
    assert!(ring.contains("| `copied_words_per_hop` | 0 | 0 | 0 |"), "{ring}");
    assert!(
        summary
            .contains("| figure | per-process | shared | hybrid | shared/per-process | hybrid/per-process |"),
        "{summary}"
    );
    assert!(summary.contains("| `ns_per_hop` |"), "{summary}");
    assert!(summary.contains("| `restart_latency_us` p99 |"), "{summary}");

    // Plots: SVG files with a title, at least the GC and restart latency ones.
    let plots: Vec<_> = std::fs::read_dir(out.join("plots")).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(plots.iter().any(|p| p.ends_with("restart-latency-nines.svg")), "{plots:?}");
    assert!(plots.iter().any(|p| p.ends_with("gc-copy-gc-pause-nines.svg")), "{plots:?}");
    assert!(
        !plots.iter().any(|p| p.to_string_lossy().contains("exit-gc-")),
        "exit's collections are set-up: {plots:?}"
    );
    for plot in &plots {
        let svg = read(plot);
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{}", plot.display());
        let name = plot.file_name().unwrap().to_string_lossy().into_owned();
        let id = ids.iter().filter(|id| name.starts_with(&format!("{id}-"))).max_by_key(|id| id.len());
        let id = id.unwrap_or_else(|| panic!("{name}: a plot of no entry"));
        assert!(svg.contains(&format!("{id}: ")), "{}: no title", plot.display());
    }

    // The trace: scheduler tracks with process slices.
    let trace_name =
        if reports.iter().any(|r| r["workload"] == "churn") { "trace-churn.json" } else { "trace-ring.json" };
    let trace: serde_json::Value = serde_json::from_str(&read(&out.join(trace_name))).unwrap();
    let events = trace.as_array().unwrap();
    assert!(events.iter().any(|e| e["ph"] == "M" && e["name"] == "thread_name"));
    assert!(events.iter().any(|e| e["ph"] == "X" && e["cat"] == "process"));

    // The closing lines: where things went and one headline per workload.
    assert!(stdout.contains("summary.md") && stdout.contains(trace_name), "{stdout}");
    assert!(stdout.contains("ring: ns_per_hop: per-process "), "{stdout}");
    assert!(stdout.contains("ring-payload100: ns_per_hop: per-process "), "{stdout}");
}

/// The text of summary.md's section `## <id>`, up to the next section.
fn section<'s>(summary: &'s str, id: &str) -> &'s str {
    let heading = format!("\n## {id}\n");
    let start = summary.find(&heading).unwrap_or_else(|| panic!("no section {id}: {summary}"));
    let body = &summary[start + heading.len()..];
    &body[..body.find("\n## ").unwrap_or(body.len())]
}

#[test]
fn bad_compare_arguments_exit_2_with_one_line() {
    for args in [
        &["compare", "--bogus"][..],
        &["compare", "--suite", "huge"],
        &["compare", "--quick", "--suite", "smoke"],
        &["compare", "--out"],
    ] {
        let output = heaplab(args);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {message}");
        assert_eq!(message.lines().count(), 1, "{args:?}: {message}");
        assert!(message.starts_with("heaplab: "), "{args:?}: {message}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn help_states_how_long_the_suites_take() {
    let output = heaplab(&["compare", "--help"]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("under 10 minutes"), "{help}");
    assert!(help.contains("full suite"), "{help}");
    assert!(!help.contains("--suite"), "the smoke suite stays hidden: {help}");
}

/// Writes an executable shell script `name` into `dir`.
#[cfg(unix)]
fn script(dir: &Path, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The BEAM column's plumbing, with stand-ins for `erlc` (compiles nothing) and `erl` (prints
/// one line of metrics as the Erlang programs do), so it is tested where Erlang is not
/// installed. The real programs are tested by `bench --heap beam` where it is.
#[cfg(unix)]
#[test]
fn the_beam_column_appears_when_erl_is_on_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    script(&bin, "erlc", "exit 0");
    script(&bin, "erl", r#"echo '{"ns_per_hop": 250, "hops": 100, "spawn_ns_per_process": 1500}'"#);
    let out = dir.path().join("compare");
    let output = Command::new(env!("CARGO_BIN_EXE_heaplab"))
        .args(["compare", "--suite", "smoke", "--out", out.to_str().unwrap()])
        .env("PATH", &bin)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let reports: serde_json::Value = serde_json::from_str(&read(&out.join("report.json"))).unwrap();
    let beam: Vec<&str> = reports
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["heap"] == "beam")
        .map(|r| r["workload"].as_str().unwrap())
        .collect();
    // Every workload has an Erlang version: each gets its BEAM column.
    for workload in ["spawn", "ring", "churn", "exit", "gc-copy", "restart"] {
        assert!(beam.contains(&workload), "{workload} has an Erlang version: {beam:?}");
    }
    assert_eq!(beam.iter().filter(|w| **w == "ring").count(), 2, "ring and ring-payload100: {beam:?}");
    let summary = read(&out.join("summary.md"));
    assert!(
        summary.contains(
            "| figure | per-process | shared | hybrid | beam | shared/per-process | hybrid/per-process | beam/per-process |"
        )
    );
    assert!(summary.contains("| `ns_per_hop` |"), "{summary}");
    assert!(!summary.contains("No Erlang version of this workload yet"), "{summary}");
    assert!(!stderr(&output).contains("apt-get install erlang-base"), "erl was found");
}

#[test]
fn without_erl_the_beam_column_is_left_out_with_one_note() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("compare");
    let output = Command::new(env!("CARGO_BIN_EXE_heaplab"))
        .args(["compare", "--suite", "smoke", "--out", out.to_str().unwrap()])
        .env("PATH", dir.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let notes = stderr(&output);
    assert_eq!(notes.matches("apt-get install erlang-base").count(), 1, "{notes}");
    let summary = read(&out.join("summary.md"));
    assert!(summary.contains("beam not run (erl not found on PATH"), "{summary}");
}

#[test]
fn a_folder_with_an_earlier_compare_is_refused_unless_cleared_and_renders_again() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("compare");
    let out_arg = out.to_str().unwrap();
    let args = [
        "compare",
        "--suite",
        "smoke",
        "--no-beam",
        "--no-jvm",
        "--no-go",
        "--workload",
        "ring",
        "--workload",
        "ring-payload100",
        "--workload",
        "gc-copy",
        "--runs",
        "2",
    ];
    let output = heaplab(&[&args[..], &["--out", out_arg]].concat());
    assert!(output.status.success(), "{}", stderr(&output));
    let reports: serde_json::Value = serde_json::from_str(&read(&out.join("report.json"))).unwrap();
    let reports = reports.as_array().unwrap();
    assert_eq!(reports.len(), 9, "one aggregate per entry and strategy");
    for report in reports {
        assert_eq!(report["runs"], 2, "{report}");
        assert_eq!(report["per_run"].as_array().unwrap().len(), 2);
        assert!(report["ci95"]["wall_s"].is_array(), "{report}");
        assert!(report["provenance"]["command"].as_str().unwrap().contains("compare"), "{report}");
    }
    let summary = read(&out.join("summary.md"));
    assert!(summary.contains("- runs: 2 of each workload"), "{summary}");
    assert!(summary.contains("95% confidence interval"), "{summary}");
    assert!(
        summary.lines().any(|l| l.starts_with("| `ns_per_hop` |") && l.contains(" [") && l.contains("–")),
        "{summary}"
    );
    assert!(out.join("csv/ring-shared/run-2/gc_events.csv").exists());
    assert!(out.join("csv/ring-payload100-shared/run-2/gc_events.csv").exists());
    let copied = |id: &str| {
        let text = section(&summary, id);
        let row = text.lines().find(|l| l.starts_with("| `copied_words_per_hop` |"));
        row.unwrap_or_else(|| panic!("{text}")).to_owned()
    };
    assert!(copied("ring").starts_with("| `copied_words_per_hop` | 0 "), "{}", copied("ring"));
    assert!(copied("ring-payload100").starts_with("| `copied_words_per_hop` | 203 "), "{summary}");

    // Into the same folder: refused, nothing changed.
    let again = heaplab(&[&args[..], &["--out", out_arg]].concat());
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(stderr(&again).contains("holds an earlier compare") && stderr(&again).contains("--clear"));
    assert_eq!(read(&out.join("summary.md")), summary);

    // Render only: the same summary from the folder alone, plots again.
    std::fs::remove_dir_all(out.join("plots")).unwrap();
    std::fs::write(out.join("summary.md"), "stale").unwrap();
    let rendered = heaplab(&["compare", "--render-only", "--out", out_arg]);
    assert!(rendered.status.success(), "{}", stderr(&rendered));
    assert_eq!(read(&out.join("summary.md")), summary);
    assert!(out.join("plots").read_dir().unwrap().count() > 0);
    let empty = dir.path().join("empty");
    let nothing = heaplab(&["compare", "--render-only", "--out", empty.to_str().unwrap()]);
    assert_eq!(nothing.status.code(), Some(2), "{}", stderr(&nothing));

    // With --clear: the old files go, a file of the user's stays.
    std::fs::write(out.join("mine.txt"), "keep").unwrap();
    let cleared = heaplab(&[
        "compare",
        "--suite",
        "smoke",
        "--no-beam",
        "--no-jvm",
        "--no-go",
        "--workload",
        "ring",
        "--clear",
        "--out",
        out_arg,
    ]);
    assert!(cleared.status.success(), "{}", stderr(&cleared));
    assert_eq!(read(&out.join("mine.txt")), "keep");
    assert!(!out.join("csv/gc-copy-shared").exists(), "the earlier run's data is gone");
    let unknown = heaplab(&[
        "compare",
        "--suite",
        "smoke",
        "--workload",
        "nope",
        "--out",
        dir.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("'nope'") && stderr(&unknown).contains("ring"), "{}", stderr(&unknown));
}

#[cfg(unix)]
#[test]
fn ctrl_c_keeps_what_was_measured_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("compare");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let args = [
        "compare",
        "--suite",
        "smoke",
        "--no-beam",
        "--no-jvm",
        "--no-go",
        "--runs",
        "3",
        "--out",
        out.to_str().unwrap(),
    ];
    let (status, stderr) =
        common::interrupt_when(&args, &[("TMPDIR", &tmp)], common::Ready::Line(": done in"), "-INT");
    assert_eq!(status.code(), Some(130), "{stderr}");
    let last = stderr.trim_end().lines().last().unwrap();
    assert!(last.starts_with("heaplab: interrupted: wrote the summary and plots of "), "{stderr}");
    assert!(last.contains(out.to_str().unwrap()), "{last}");
    let summary = read(&out.join("summary.md"));
    assert!(summary.contains("Interrupted"), "{summary}");
    let reports: serde_json::Value = serde_json::from_str(&read(&out.join("report.json"))).unwrap();
    assert!(!reports.as_array().unwrap().is_empty(), "the finished runs are kept");
    assert!(read(&out.join("meta.json")).contains("\"interrupted\": true"));
    // No temporary directory and no process of the run is left.
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(common::processes_mentioning(out.to_str().unwrap()), Vec::<String>::new());
}

/// The example program of docs/workloads.md, built by `cargo test` beside this test.
fn example(name: &str) -> std::path::PathBuf {
    let deps = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    deps.parent().unwrap().join("examples").join(name)
}

#[test]
fn a_workload_of_ones_own_runs_through_compare_with_runs() {
    let program = example("custom_workload");
    if !program.exists() {
        eprintln!("note: {} not built (cargo test builds the examples); skipped", program.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mine");
    let output = Command::new(&program)
        .args([
            "compare",
            "--suite",
            "smoke",
            "--no-beam",
            "--no-jvm",
            "--no-go",
            "--workload",
            "list-ping-pong",
            "--runs",
            "2",
        ])
        .args(["--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let reports: serde_json::Value = serde_json::from_str(&read(&out.join("report.json"))).unwrap();
    let reports = reports.as_array().unwrap();
    assert_eq!(reports.len(), 3, "per-process, shared and hybrid");
    for report in reports {
        assert_eq!(report["workload"], "list-ping-pong");
        assert_eq!(report["runs"], 2);
        assert_eq!(report["histograms"]["round_trip_latency_us"]["count"], 2000);
    }
    assert!(read(&out.join("summary.md")).contains("## list-ping-pong"));
    assert!(out.join("plots/list-ping-pong-latency-nines.svg").exists());
}
