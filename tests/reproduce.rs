//! `heaplab reproduce` end to end, at the hidden smoke size without the BEAM: the JSON, the
//! regenerated README tables and the plots are written with a column for every heaplab heap
//! (per-process, shared, hybrid), and `--render-only` reproduces the README from the JSON
//! alone.

use std::path::Path;
use std::process::{Command, Output};

fn heaplab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_heaplab")).args(args).output().expect("the heaplab binary runs")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_smoke_reproduction_writes_json_tables_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("johansson-2002");
    std::fs::create_dir_all(&out).unwrap();
    // A hand-written README: only the blocks between the markers may change.
    let mut readme = String::from(
        "# Prose kept\n\nIntro.\n\n<!-- results:summary:begin -->\nstale\n<!-- results:summary:end -->\n",
    );
    for id in [
        "send-cost",
        "sharing",
        "small-messages",
        "procs",
        "time-split",
        "time-split-procs",
        "pause-vs-processes",
        "pause-vs-live",
        "space",
        "area-pause-vs-live",
        "area-pause-vs-processes",
        "exit",
        "two-schedulers",
    ] {
        readme.push_str(&format!(
            "\n## {id}\n\n<!-- results:{id}:begin -->\n<!-- results:{id}:end -->\n\nDiscussion of {id}.\n"
        ));
    }
    std::fs::write(out.join("README.md"), &readme).unwrap();

    let args = [
        "reproduce",
        "johansson-2002",
        "--size",
        "smoke",
        "--no-beam",
        "--no-jvm",
        "--no-go",
        "--out",
        out.to_str().unwrap(),
    ];
    let output = heaplab(&args);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let reports: serde_json::Value = serde_json::from_str(&read(&out.join("results/report.json"))).unwrap();
    let reports = reports.as_array().expect("an array of reports");
    for workload in ["ring", "big", "churn", "exit", "large-state"] {
        for heap in ["per-process", "shared", "hybrid"] {
            assert!(
                reports.iter().any(|r| r["workload"] == workload && r["heap"] == heap),
                "no report of {workload} on {heap}"
            );
        }
    }
    // The hybrid column holds measured figures: every ring run timed its hops and counted
    // its message-area collections, the time split adds up, and the largest payload of
    // `area-pause-vs-live` fills the area's nursery, so its collection's pause is reported.
    let hybrid_rings: Vec<&serde_json::Value> =
        reports.iter().filter(|r| r["workload"] == "ring" && r["heap"] == "hybrid").collect();
    assert!(!hybrid_rings.is_empty());
    for r in &hybrid_rings {
        let hop = r["metrics"]["ns_per_hop"].as_f64().unwrap_or(0.0);
        assert!(hop > 0.0 && hop.is_finite(), "{r}");
        assert!(r["metrics"]["area_collections"].is_number(), "{r}");
        if r["params"]["time_split"] == "on" {
            let total: f64 =
                ["mutator_pct", "send_pct", "gc_pct"].iter().map(|m| r["metrics"][m].as_f64().unwrap()).sum();
            assert!((total - 100.0).abs() < 0.01, "{r}");
        }
    }
    let filled = hybrid_rings
        .iter()
        .find(|r| r["params"]["payload"] == 150_000)
        .expect("the largest smoke payload of area-pause-vs-live");
    assert!(filled["metrics"]["area_collections"].as_f64().unwrap() >= 1.0, "{filled}");
    assert!(filled["histograms"]["area_pause_us"]["max"].as_f64().unwrap() > 0.0, "{filled}");
    assert!(reports.iter().all(|r| r["schema"] == "heaplab.report/2" && r["heap"] != "beam"));
    let meta: serde_json::Value = serde_json::from_str(&read(&out.join("results/meta.json"))).unwrap();
    assert_eq!(meta["size"], "smoke");
    assert!(meta["failures"].as_array().unwrap().is_empty(), "{meta}");

    let text = read(&out.join("README.md"));
    assert!(text.starts_with("# Prose kept\n\nIntro.\n"), "{text}");
    assert!(text.contains("Discussion of two-schedulers."), "{text}");
    assert!(!text.contains("stale"), "{text}");
    assert!(text.contains("BEAM column: not run (--no-beam)"), "{text}");
    assert!(
        text.contains("| `payload` | `ns_per_hop` per-process | `ns_per_hop` shared | `ns_per_hop` hybrid |"),
        "{text}"
    );
    assert!(text.contains(" shared ÷ per-process | hybrid ÷ per-process |"), "{text}");
    assert!(text.contains("| `area_pause_us max` hybrid |"), "{text}");
    assert!(text.contains("Not run under `per-process`: it has no message area"), "{text}");
    assert!(text.contains("\n| 1 | "), "a row per payload: {text}");
    assert!(text.contains("![send-cost: ns_per_hop](plots/send-cost-ns-per-hop.svg)"), "{text}");
    let svg = read(&out.join("plots/send-cost-ns-per-hop.svg"));
    assert!(svg.contains("<svg") && svg.contains("send-cost: ns_per_hop vs payload"));

    // The README is a function of the JSON: rendering again changes nothing.
    let output = heaplab(&["reproduce", "johansson-2002", "--render-only", "--out", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(read(&out.join("README.md")), text);
}

#[test]
fn a_readme_without_markers_is_an_error_after_the_results_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("beam-claims");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("README.md"), "# No markers\n").unwrap();
    let output = heaplab(&[
        "reproduce",
        "beam-claims",
        "--size",
        "smoke",
        "--no-beam",
        "--no-jvm",
        "--no-go",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("results:summary:begin"), "{stderr}");
    assert!(out.join("results/report.json").exists());
    assert_eq!(read(&out.join("README.md")), "# No markers\n");
}

#[test]
fn unknown_papers_are_a_one_line_usage_error() {
    let output = heaplab(&["reproduce", "nowhere-1999"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("available: beam-claims, johansson-2002"), "{stderr}");
}

#[test]
fn smaller_sizes_write_under_target_not_into_papers() {
    let dir = tempfile::tempdir().unwrap();
    let papers = dir.path().join("papers");
    std::fs::create_dir_all(&papers).unwrap();
    std::fs::write(papers.join("README.md"), "committed\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_heaplab"))
        .args([
            "reproduce",
            "beam-claims",
            "--size",
            "smoke",
            "--no-beam",
            "--no-jvm",
            "--no-go",
            "--runs",
            "2",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let out = dir.path().join("target/heaplab/reproduce/beam-claims");
    let reports: serde_json::Value = serde_json::from_str(&read(&out.join("results/report.json"))).unwrap();
    assert!(reports.as_array().unwrap().iter().all(|r| r["runs"] == 2 && r["ci95"].is_object()));
    let readme = read(&out.join("README.md"));
    assert!(readme.contains("median of 2 runs"), "{readme}");
    assert!(readme.contains(" [") && readme.contains("–"), "intervals in the tables: {readme}");
    assert_eq!(read(&papers.join("README.md")), "committed\n", "papers/ untouched");
    assert!(!papers.join("beam-claims").exists());
}
