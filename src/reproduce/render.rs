//! The generated parts of a paper's folder, built from `results/report.json` and
//! `results/meta.json` alone: one Markdown table per experiment, SVG plots, the summary block
//! with the findings.
//!
//! # Invariants
//! 1. Rendering reads only the reports and the run's metadata: no clock, no environment, so
//!    the README can be regenerated from the committed JSON (`--render-only`) and is tested
//!    on made-up reports.
//! 2. A strategy has a column for a figure only where the results hold that figure of it for
//!    the experiment (the JVM and Go have no `copied_words_per_hop`: a send copies nothing
//!    there); a missing value is `—`, never 0.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::experiment::{Experiment, Figure};
use crate::compare::plots;
use crate::report::Report;
use crate::table;

/// The strategies in column order.
pub const HEAPS: [&str; 8] =
    ["per-process", "shared", "hybrid", "beam", "jvm-parallel", "jvm-g1", "jvm-zgc", "go"];

/// The strategies whose first figure the table divides by per-process's, each in a column
/// `<heap> ÷ per-process`.
pub const RATIO_HEAPS: [&str; 2] = ["shared", "hybrid"];

/// What `results/meta.json` records about a reproduction run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// The paper's folder name.
    pub paper: String,
    /// The command line.
    pub command: String,
    /// When it started, `YYYY-MM-DD HH:MM UTC`.
    pub date: String,
    /// `full`, `quick` or `smoke`.
    pub size: String,
    /// The machine, one line.
    pub machine: String,
    /// Wall time of the whole reproduction.
    pub elapsed_s: f64,
    /// `ran`, or why the BEAM column is missing.
    pub beam: String,
    /// The other peers' columns: `jvm-g1 ran`, or why one is missing, `; `-separated (empty
    /// in results made before the JVM and Go columns).
    #[serde(default)]
    pub peers: String,
    /// One line per failed run.
    pub failures: Vec<String>,
    /// Runs of each point under each strategy (1 in results made before `--runs`).
    #[serde(default = "one")]
    pub runs: u32,
}

fn one() -> u32 {
    1
}

/// The report of point `index` of `experiment` under `heap`.
pub fn lookup<'r>(
    reports: &'r [Report],
    experiment: &Experiment,
    index: usize,
    heap: &str,
) -> Option<&'r Report> {
    reports.iter().find(|report| report.heap == heap && experiment.matches(index, report))
}

/// `figure` at point `index` under `heap`.
pub fn value(
    reports: &[Report],
    experiment: &Experiment,
    index: usize,
    heap: &str,
    figure: Figure,
) -> Option<f64> {
    lookup(reports, experiment, index, heap).and_then(|report| figure.value(report))
}

/// The 95% interval of `figure` at point `index` under `heap`, when its report aggregates
/// several runs.
pub fn interval(
    reports: &[Report],
    experiment: &Experiment,
    index: usize,
    heap: &str,
    figure: Figure,
) -> Option<[f64; 2]> {
    lookup(reports, experiment, index, heap).and_then(|report| report.ci95.get(&figure.key()).copied())
}

/// The strategies with a report for `experiment`, in column order (Invariant 2).
pub fn heaps_present(reports: &[Report], experiment: &Experiment) -> Vec<&'static str> {
    HEAPS
        .into_iter()
        .filter(|heap| (0..experiment.points.len()).any(|i| lookup(reports, experiment, i, heap).is_some()))
        .collect()
}

fn cell(value: Option<f64>, figure: Figure) -> String {
    value.map_or_else(|| "—".to_owned(), |v| figure.render(v))
}

/// A cell with its interval, `1.20 ms [1.10–1.31 ms]`, when there is one.
fn cell_with_interval(value: Option<f64>, interval: Option<[f64; 2]>, figure: Figure) -> String {
    match (value, interval) {
        (Some(v), Some([low, high])) => {
            format!("{} [{}–{}]", figure.render(v), figure.render(low), figure.render(high))
        }
        _ => cell(value, figure),
    }
}

/// `a / b` as a cell, as `summary.md` shows ratios (two significant digits at least).
pub fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    crate::compare::summary::ratio(a, b)
}

/// The assignments of point `index` other than the swept one.
fn others(experiment: &Experiment, index: usize) -> String {
    let prefix = format!("{}=", experiment.x);
    let rest: Vec<&str> =
        experiment.points[index].iter().filter(|a| !a.starts_with(&prefix)).map(String::as_str).collect();
    rest.join(" ")
}

/// The Markdown table of one experiment: a row per point; per figure a column per strategy
/// that has it (Invariant 2); `shared ÷ per-process` and `hybrid ÷ per-process` of the first
/// figure, for those of the two that ran beside per-process.
pub fn table(reports: &[Report], experiment: &Experiment) -> String {
    let heaps = heaps_present(reports, experiment);
    let mut out = String::new();
    if heaps.is_empty() {
        let _ = writeln!(out, "_No results yet: run the command above._");
        return out;
    }
    let columns: Vec<(Figure, Vec<&str>)> = experiment
        .figures
        .iter()
        .map(|&figure| {
            let with = heaps
                .iter()
                .copied()
                .filter(|heap| {
                    (0..experiment.points.len())
                        .any(|i| value(reports, experiment, i, heap, figure).is_some())
                })
                .collect();
            (figure, with)
        })
        .collect();
    let varying = (1..experiment.points.len()).any(|i| others(experiment, i) != others(experiment, 0));
    let mut header = format!("| `{}` |", experiment.x);
    let mut rule = String::from("|---:|");
    if varying {
        header.push_str(" other parameters |");
        rule.push_str("---|");
    }
    for (figure, with) in &columns {
        for heap in with {
            let _ = write!(header, " `{}` {heap} |", figure.label());
            rule.push_str("---:|");
        }
    }
    let ratios: Vec<&str> = if heaps.contains(&"per-process") {
        RATIO_HEAPS.into_iter().filter(|heap| heaps.contains(heap)).collect()
    } else {
        Vec::new()
    };
    for heap in &ratios {
        let _ = write!(header, " {heap} ÷ per-process |");
        rule.push_str("---:|");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    for index in 0..experiment.points.len() {
        let _ = write!(out, "| {} |", experiment.x_value(index));
        if varying {
            let _ = write!(out, " `{}` |", others(experiment, index));
        }
        for (figure, with) in &columns {
            let figure = *figure;
            for heap in with {
                let v = value(reports, experiment, index, heap, figure);
                let ci = interval(reports, experiment, index, heap, figure);
                let _ = write!(out, " {} |", cell_with_interval(v, ci, figure));
            }
        }
        let first = experiment.figures[0];
        let per_process = value(reports, experiment, index, "per-process", first);
        for heap in &ratios {
            let _ = write!(out, " {} |", ratio(value(reports, experiment, index, heap, first), per_process));
        }
        out.push('\n');
    }
    if !varying && !others(experiment, 0).is_empty() {
        let _ = writeln!(out, "\nOther parameters: `{}`.", others(experiment, 0));
    }
    out
}

/// The file name of the plot of `figure` in `experiment`.
pub fn plot_name(experiment: &Experiment, figure: Figure) -> String {
    let slug: String = figure
        .label()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect();
    format!("{}-{}.svg", experiment.id, slug.trim_matches('-'))
}

/// Draws the plots of `experiment` into `dir`; returns the file names written.
///
/// # Errors
/// A one-line message naming the plot that could not be written.
pub fn write_plots(dir: &Path, reports: &[Report], experiment: &Experiment) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create '{}': {e}", dir.display()))?;
    let mut written = Vec::new();
    for &figure in &experiment.plots {
        let lines: Vec<plots::SweepLine> = heaps_present(reports, experiment)
            .into_iter()
            .map(|heap| {
                let points = (0..experiment.points.len())
                    .filter_map(|i| {
                        let x = experiment.x_value(i).parse::<f64>().ok()?;
                        let y = value(reports, experiment, i, heap, figure)?;
                        Some((x, y, interval(reports, experiment, i, heap, figure)))
                    })
                    .collect();
                (heap.to_owned(), points)
            })
            .collect();
        let name = plot_name(experiment, figure);
        let path = dir.join(&name);
        let title = format!("{}: {} vs {}", experiment.id, figure.label(), experiment.x);
        let x_label = format!("{} (log scale)", experiment.x);
        if plots::sweep_chart(&path, &title, &x_label, &figure.axis(), figure.unit(), &lines)
            .map_err(|e| format!("plot {name}: {e}"))?
        {
            written.push(path);
        }
    }
    Ok(written)
}

/// The README block of one experiment: what ran, the table, the plots that exist in
/// `plots_dir` (linked relative to the README).
pub fn experiment_block(reports: &[Report], experiment: &Experiment, plots_dir: &Path) -> String {
    let mut out = String::new();
    let schedulers = match experiment.schedulers {
        Some(1) => ", 1 scheduler".to_owned(),
        Some(n) => format!(", {n} schedulers"),
        None => ", on the calling thread".to_owned(),
    };
    let _ = writeln!(out, "_{}_ — workload `{}`{schedulers}.\n", experiment.title, experiment.workload);
    out.push_str(&table(reports, experiment));
    for (strategy, why) in experiment.left_out {
        let _ = writeln!(out, "\nNot run under `{strategy}`: {why}");
    }
    for &figure in &experiment.plots {
        let name = plot_name(experiment, figure);
        if plots_dir.join(&name).exists() {
            let _ = writeln!(out, "\n![{}: {}](plots/{name})", experiment.id, figure.label());
        }
    }
    out
}

/// The summary block: how the results were made, the findings, the failures.
pub fn summary_block(meta: &Meta, findings: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Generated by `{}` ({} size) on {}, in {}; machine: {}. BEAM column: {}.{}\n",
        meta.command,
        meta.size,
        meta.date,
        table::seconds(meta.elapsed_s),
        meta.machine,
        meta.beam,
        if meta.peers.is_empty() { String::new() } else { format!(" JVM and Go columns: {}.", meta.peers) }
    );
    if meta.runs > 1 {
        let _ = writeln!(
            out,
            "Each figure is the median of {} runs (interleaved across strategies), with the 95% Student t \
             interval of the mean in brackets.\n",
            meta.runs
        );
    }
    for finding in findings {
        let _ = writeln!(out, "- {finding}");
    }
    if !meta.failures.is_empty() {
        let _ = writeln!(out, "\nFailed runs:\n");
        for failure in &meta.failures {
            let _ = writeln!(out, "- {failure}");
        }
    }
    out
}

/// A figure rendered, or `—`.
pub fn show(figure: Figure, value: Option<f64>) -> String {
    cell(value, figure)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::report::{GcSummary, Machine};
    use crate::reproduce::experiment::Size;

    fn report(experiment: &Experiment, index: usize, heap: &str, metrics: &[(&str, f64)]) -> Report {
        Report {
            schema: crate::report::SCHEMA.to_owned(),
            workload: experiment.workload.to_owned(),
            heap: heap.to_owned(),
            schedulers: experiment.schedulers.unwrap_or(2),
            params: experiment.full_params(index).unwrap(),
            wall_s: 1.0,
            metrics: metrics.iter().map(|(name, value)| ((*name).to_owned(), *value)).collect(),
            histograms: BTreeMap::new(),
            gc: GcSummary::default(),
            machine: Machine { cores: 2, os: "linux".to_owned(), rustc: "1.95.0".to_owned() },
            provenance: Default::default(),
            runs: None,
            per_run: Vec::new(),
            ci95: BTreeMap::new(),
            tail_attribution: None,
        }
    }

    #[test]
    fn a_figure_a_strategy_never_reports_gets_no_column() {
        let experiments = crate::reproduce::johansson::experiments(Size::Smoke);
        let copies = Figure::Metric("copied_words_per_hop");
        let experiment = experiments
            .iter()
            .find(|e| e.figures.first() == Some(&Figure::Metric("ns_per_hop")) && e.figures.contains(&copies))
            .expect("the ring payload experiment");
        let reports: Vec<Report> = (0..experiment.points.len())
            .flat_map(|i| {
                [
                    report(
                        experiment,
                        i,
                        "per-process",
                        &[("ns_per_hop", 200.0), ("copied_words_per_hop", 3.0)],
                    ),
                    report(experiment, i, "go", &[("ns_per_hop", 150.0)]),
                ]
            })
            .collect();
        let text = table(&reports, experiment);
        let header = text.lines().next().unwrap();
        assert!(
            header.contains("`ns_per_hop` per-process |") && header.contains("`ns_per_hop` go |"),
            "{header}"
        );
        assert!(header.contains("`copied_words_per_hop` per-process |"), "{header}");
        assert!(!header.contains("`copied_words_per_hop` go"), "{header}");
        let columns = header.matches('|').count() - 1;
        let rows: Vec<&str> = text.lines().skip(2).filter(|line| line.starts_with('|')).collect();
        assert_eq!(rows.len(), experiment.points.len(), "{text}");
        assert!(rows.iter().all(|row| row.matches('|').count() - 1 == columns), "{text}");
    }
}
