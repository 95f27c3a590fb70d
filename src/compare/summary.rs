//! `summary.md`: the comparison as Markdown, one side-by-side table per suite entry (headed
//! by its id: a workload's name, or e.g. `ring-payload100`), and the closing lines `compare`
//! prints.
//!
//! A table's rows are the run's wall time, every metric, the percentiles of every histogram
//! and the GC totals; its columns are the heap strategies in `--heap` order (per-process,
//! shared, hybrid, beam), then one ratio column per strategy against per-process
//! (`shared/per-process`: above 1 means the figure is larger under the shared heap).
//!
//! # Invariants
//! 1. Every report of a workload has its column; a failed run has its column too, with `—`
//!    in every cell and its one-line reason under the table, so a failure is never mistaken
//!    for a missing strategy.
//! 2. A missing value is `—`, never 0; a ratio is `—` when either side is missing or the
//!    per-process value is 0.
//! 3. Values are rendered by [`crate::table`]'s unit rules (from the name's suffix), so the
//!    summary and `heaplab bench` show a figure alike; the JSON keeps full precision.
//! 4. Rendering is a pure function of its inputs (no clock, no environment), so it is tested
//!    on made-up reports.
//! 5. A run that reports a distribution as metrics rather than a histogram (reports of the
//!    BEAM from before its programs returned raw samples: `restart_latency_p99_us` and its
//!    siblings) fills that histogram's percentile rows from those metrics, so the column
//!    lines up with the others; its count row stays `—`.
//! 6. An aggregate of several runs shows each figure as its median with the 95% interval
//!    beside it (`1.20 ms [1.10–1.31]`), and a ratio is marked `*` when the two intervals do
//!    not overlap (significant; [`crate::stats::significant`]).
//! 7. A p999 is shown only for a histogram of at least [`P999_MIN_COUNT`] samples: below
//!    that it is the maximum under another name.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::suite::Headline;
use crate::report::{HistogramSummary, Report};
use crate::table;

/// The strategy the ratio columns divide by.
pub const BASELINE: &str = "per-process";

/// The fewest samples a p999 is shown for (Invariant 7).
pub const P999_MIN_COUNT: u64 = 1000;

/// What summary.md says about the whole run.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Header {
    /// When the suite started, e.g. `2026-12-01 13:24 UTC`.
    pub date: String,
    /// The command line, e.g. `heaplab compare --quick`.
    pub command: String,
    /// The suite's name.
    pub suite: String,
    /// The machine, one line.
    pub machine: String,
    /// The columns run and why any is missing, one line.
    pub strategies: String,
    /// Wall time of the whole suite.
    pub elapsed_s: f64,
    /// Runs of each workload under each strategy.
    pub runs: u32,
}

/// One column of a workload's table: a strategy's report, or why it has none.
#[derive(Debug, Clone, Copy)]
pub struct Column<'a> {
    /// The strategy's name.
    pub heap: &'a str,
    /// The report, or the failure's one-line message.
    pub outcome: Result<&'a Report, &'a str>,
}

/// One suite entry's table.
#[derive(Debug, Clone)]
pub struct Section<'a> {
    /// The entry's id: its workload's name, or e.g. `ring-payload100` for a second entry of
    /// one workload ([`super::suite::Entry::id`]).
    pub id: &'a str,
    /// The parameters as set by the suite (`NAME=VALUE`), shown when no run succeeded.
    pub assignments: &'a [String],
    /// Its headline figure.
    pub headline: Headline,
    /// The columns, in strategy order.
    pub columns: Vec<Column<'a>>,
    /// Notes printed under the heading.
    pub notes: Vec<String>,
}

/// How a row's values are shown.
#[derive(Debug, Clone, Copy)]
enum Unit<'n> {
    /// By the metric name's suffix.
    Metric(&'n str),
    /// Microseconds.
    Micros,
    /// Seconds.
    Seconds,
    /// A plain count.
    Count,
}

impl Unit<'_> {
    fn render(self, value: f64) -> String {
        match self {
            Unit::Metric(name) => table::metric(name, value),
            Unit::Micros => micros(value),
            Unit::Seconds => table::seconds(value),
            Unit::Count => table::number(value),
        }
    }
}

/// Microseconds in the largest fitting unit; below a millisecond straight from the
/// microsecond value, so 100 µs does not become `100.0 us` through a round trip in seconds.
pub(crate) fn micros(value: f64) -> String {
    if value < 0.0 {
        format!("-{}", micros(-value))
    } else if value < 1000.0 && value != 0.0 {
        format!("{} us", table::significant(value))
    } else {
        table::duration(value * 1e-6)
    }
}

/// One row: a label, one value per column and its interval, if the column has one.
struct Row<'n> {
    label: String,
    unit: Unit<'n>,
    values: Vec<Option<f64>>,
    intervals: Vec<Option<[f64; 2]>>,
}

/// Reads one figure of a `T`.
type Get<T> = fn(&T) -> f64;

/// The percentiles shown per histogram, with their labels.
const PERCENTILES: [(&str, Get<HistogramSummary>); 5] =
    [("p50", |h| h.p50), ("p90", |h| h.p90), ("p99", |h| h.p99), ("p999", |h| h.p999), ("max", |h| h.max)];

/// Percentile `label` of distribution `name` in `report` (Invariant 5): from its histogram
/// when it recorded anything (an empty one has no percentiles, Invariant 2), else from the
/// metric `<base>_<label>_us` for a histogram `<base>_us`.
pub(crate) fn percentile(
    report: &Report,
    name: &str,
    label: &str,
    get: Get<HistogramSummary>,
) -> Option<f64> {
    if let Some(histogram) = report.histograms.get(name).filter(|h| h.count > 0) {
        return Some(get(histogram));
    }
    let base = name.strip_suffix("_us")?;
    report.metrics.get(&format!("{base}_{label}_us")).copied()
}

fn reports<'a, 'c>(columns: &'c [Column<'a>]) -> impl Iterator<Item = &'a Report> + 'c {
    columns.iter().filter_map(|column| column.outcome.ok())
}

fn rows<'a>(columns: &[Column<'a>]) -> Vec<Row<'a>> {
    let each = |get: &dyn Fn(&Report) -> Option<f64>| -> Vec<Option<f64>> {
        columns.iter().map(|column| column.outcome.ok().and_then(get)).collect()
    };
    let intervals = |key: &str| -> Vec<Option<[f64; 2]>> {
        columns.iter().map(|column| column.outcome.ok().and_then(|r| r.ci95.get(key).copied())).collect()
    };
    let mut rows = vec![Row {
        label: "wall time".to_owned(),
        unit: Unit::Seconds,
        values: each(&|r| Some(r.wall_s)),
        intervals: intervals("wall_s"),
    }];

    let metrics: BTreeSet<&str> =
        reports(columns).flat_map(|r| r.metrics.keys().map(String::as_str)).collect();
    for name in metrics {
        rows.push(Row {
            label: format!("`{name}`"),
            unit: Unit::Metric(name),
            values: each(&|r| r.metrics.get(name).copied()),
            intervals: intervals(name),
        });
    }

    let histograms: BTreeSet<&str> =
        reports(columns).flat_map(|r| r.histograms.keys().map(String::as_str)).collect();
    for name in histograms {
        let counts = each(&|r| r.histograms.get(name).map(|h| h.count as f64));
        let recorded = counts.iter().flatten().any(|count| *count > 0.0);
        rows.push(Row {
            label: format!("`{name}` count"),
            unit: Unit::Count,
            values: counts,
            intervals: intervals(&format!("{name}.count")),
        });
        if !recorded {
            continue;
        }
        let unit = if name.ends_with("_us") { Unit::Micros } else { Unit::Count };
        for (label, get) in PERCENTILES {
            let values = each(&|r| {
                // Invariant 7: a p999 of fewer than 1,000 samples is the maximum.
                let few = r.histograms.get(name).is_some_and(|h| h.count > 0 && h.count < P999_MIN_COUNT);
                if label == "p999" && few {
                    return None;
                }
                percentile(r, name, label, get)
            });
            rows.push(Row {
                label: format!("`{name}` {label}"),
                unit,
                values,
                intervals: intervals(&format!("{name}.{label}")),
            });
        }
    }

    let gc: [(&str, &str, Unit, Get<Report>); 5] = [
        ("gc minor collections", "gc.minor", Unit::Count, |r| r.gc.minor as f64),
        ("gc major collections", "gc.major", Unit::Count, |r| r.gc.major as f64),
        ("gc words copied", "gc.words_copied", Unit::Count, |r| r.gc.words_copied as f64),
        ("gc words promoted", "gc.words_promoted", Unit::Count, |r| r.gc.words_promoted as f64),
        ("gc time", "gc.gc_time_s", Unit::Seconds, |r| r.gc.gc_time_s),
    ];
    for (label, key, unit, get) in gc {
        rows.push(Row {
            label: label.to_owned(),
            unit,
            values: each(&|r| Some(get(r))),
            intervals: intervals(key),
        });
    }
    rows
}

/// `value / base` as a table cell (Invariant 2), two significant digits at least, so a
/// small ratio is `0.0041×`, never `0.00×`.
pub(crate) fn ratio(value: Option<f64>, base: Option<f64>) -> String {
    match (value, base) {
        (Some(value), Some(base)) if base != 0.0 && value.is_finite() && base.is_finite() => {
            let ratio = value / base;
            let magnitude = ratio.abs();
            if magnitude >= 100.0 {
                format!("{ratio:.0}×")
            } else if magnitude >= 0.1 || ratio == 0.0 {
                format!("{ratio:.2}×")
            } else {
                // Two significant digits: 0.041×, 0.0041×.
                let decimals = (1.0 - magnitude.log10().floor()) as usize;
                format!("{ratio:.decimals$}×")
            }
        }
        _ => "—".to_owned(),
    }
}

/// The significance mark of a ratio (Invariant 6): `*` when both sides have intervals that
/// do not overlap, nothing otherwise.
fn mark(a: Option<[f64; 2]>, b: Option<[f64; 2]>) -> &'static str {
    match (a, b) {
        (Some(a), Some(b)) if crate::stats::significant(a, b) => " *",
        _ => "",
    }
}

/// Markdown-safe text for a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The table of one workload.
pub fn table(columns: &[Column<'_>]) -> String {
    let mut out = String::new();
    let baseline = columns.iter().position(|column| column.heap == BASELINE);
    let others: Vec<usize> = match baseline {
        Some(base) => (0..columns.len()).filter(|i| *i != base).collect(),
        None => Vec::new(),
    };
    let mut header = String::from("| figure |");
    let mut rule = String::from("|---|");
    for column in columns {
        let _ = write!(header, " {} |", column.heap);
        rule.push_str("---:|");
    }
    for &i in &others {
        let _ = write!(header, " {}/{BASELINE} |", columns[i].heap);
        rule.push_str("---:|");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    for row in rows(columns) {
        let _ = write!(out, "| {} |", row.label);
        for (value, interval) in row.values.iter().zip(&row.intervals) {
            let text = match (value, interval) {
                (None, _) => "—".to_owned(),
                (Some(v), None) => row.unit.render(*v),
                (Some(v), Some([low, high])) => {
                    format!("{} [{}–{}]", row.unit.render(*v), row.unit.render(*low), row.unit.render(*high))
                }
            };
            let _ = write!(out, " {} |", cell(&text));
        }
        if let Some(base) = baseline {
            for &i in &others {
                let significance = if row.values[i].is_some() && row.values[base].is_some() {
                    mark(row.intervals[i], row.intervals[base])
                } else {
                    ""
                };
                let _ = write!(out, " {}{significance} |", ratio(row.values[i], row.values[base]));
            }
        }
        out.push('\n');
    }
    out
}

/// The parameters a workload ran with: those of its first report (defaults included), else
/// the suite's assignments.
fn params(section: &Section<'_>) -> String {
    if let Some(report) = reports(&section.columns).next() {
        let params: Vec<String> = report
            .params
            .iter()
            .map(|(name, value)| match value {
                serde_json::Value::String(text) => format!("{name}={text}"),
                other => format!("{name}={other}"),
            })
            .collect();
        return params.join(" ");
    }
    if section.assignments.is_empty() {
        "defaults".to_owned()
    } else {
        section.assignments.join(" ")
    }
}

/// The headline figure of one report, rendered, with its interval when it has one.
fn headline_value(headline: Headline, report: &Report) -> Option<String> {
    let (value, key, render): (Option<f64>, String, &dyn Fn(f64) -> String) = match headline {
        Headline::Metric(name) => {
            (report.metrics.get(name).copied(), name.to_owned(), &|v| table::metric(name, v))
        }
        Headline::P99(name) => (percentile(report, name, "p99", |h| h.p99), format!("{name}.p99"), &micros),
        Headline::P999(name) => {
            (percentile(report, name, "p999", |h| h.p999), format!("{name}.p999"), &micros)
        }
        Headline::WallTime => (Some(report.wall_s), "wall_s".to_owned(), &table::seconds),
    };
    let value = value?;
    Some(match report.ci95.get(&key) {
        Some([low, high]) => format!("{} [{}–{}]", render(value), render(*low), render(*high)),
        None => render(value),
    })
}

/// What a headline is called, e.g. `request_latency_us p999`.
pub fn headline_label(headline: Headline) -> String {
    match headline {
        Headline::Metric(name) => name.to_owned(),
        Headline::P99(name) => format!("{name} p99"),
        Headline::P999(name) => format!("{name} p999"),
        Headline::WallTime => "wall time".to_owned(),
    }
}

/// One line for a workload: its headline under every strategy, e.g.
/// `churn: request_latency_us p999: per-process 1.20 ms, shared 31.0 ms`.
pub fn headline_line(section: &Section<'_>) -> String {
    let values: Vec<String> = section
        .columns
        .iter()
        .map(|column| {
            let value = match column.outcome {
                Ok(report) => headline_value(section.headline, report).unwrap_or_else(|| "—".to_owned()),
                Err(_) => "failed".to_owned(),
            };
            format!("{} {value}", column.heap)
        })
        .collect();
    format!("{}: {}: {}", section.id, headline_label(section.headline), values.join(", "))
}

/// What the tails of each strategy that attributed them are made of, in words, e.g.
/// `- per-process p999 (200 requests, mean 4.78 ms): 85% descheduled threads, 14% GC`;
/// empty when no column has a `tail_attribution`.
pub fn tail_lines(columns: &[Column<'_>]) -> String {
    let mut out = String::new();
    for column in columns {
        let Ok(report) = column.outcome else { continue };
        let Some(tails) = &report.tail_attribution else { continue };
        if out.is_empty() {
            out.push_str(
                "\nWhere the time of the requests above each percentile went (`attribution=on`):\n\n",
            );
        }
        for (label, tail) in [("p99", &tails.above_p99), ("p999", &tails.above_p999)] {
            if tail.count == 0 {
                let _ = writeln!(out, "- {} {label}: no requests above it", column.heap);
                continue;
            }
            let _ = writeln!(
                out,
                "- {} {label} ({} requests, mean {}): {}",
                column.heap,
                tail.count,
                micros(tail.mean_us),
                tail.in_words()
            );
        }
    }
    out
}

/// The whole of summary.md.
pub fn render(header: &Header, notes: &[String], sections: &[Section<'_>]) -> String {
    let mut out = String::from("# heaplab compare\n\n");
    let _ = writeln!(out, "- date: {}", header.date);
    let _ = writeln!(out, "- command: `{}`", header.command);
    let _ = writeln!(out, "- suite: {}", header.suite);
    let _ = writeln!(out, "- machine: {}", header.machine);
    let _ = writeln!(out, "- strategies: {}", header.strategies);
    let _ = writeln!(out, "- suite wall time: {}", table::seconds(header.elapsed_s));
    let _ = writeln!(out, "- runs: {} of each workload under each strategy", header.runs.max(1));
    out.push_str(
        "\nTimings on a shared 2-core machine are noisy: compare columns of one run, and rerun \
         before trusting a digit. Ratio columns divide by per-process: above 1 means larger \
         under that strategy. Histogram figures are microseconds as recorded, shown in the \
         largest fitting unit; a p999 is shown only for 1,000 samples or more.\n",
    );
    if header.runs > 1 {
        out.push_str(
            "\nEach figure is the median over the runs, with [low–high] its 95% confidence interval \
             (Student t interval of the mean over the runs; see README). A ratio marked `*` is \
             significant: the two intervals do not overlap.\n",
        );
    }
    if !notes.is_empty() {
        out.push_str("\n## Notes\n\n");
        for note in notes {
            let _ = writeln!(out, "- {note}");
        }
    }
    if !sections.is_empty() {
        out.push_str("\n## Headlines\n\n");
        for section in sections {
            let _ = writeln!(out, "- {}", headline_line(section));
        }
    }
    for section in sections {
        let _ = writeln!(out, "\n## {}\n", section.id);
        let _ = writeln!(out, "params: `{}`\n", params(section));
        for note in &section.notes {
            let _ = writeln!(out, "> {note}\n");
        }
        out.push_str(&table(&section.columns));
        out.push_str(&tail_lines(&section.columns));
        let failures: Vec<String> = section
            .columns
            .iter()
            .filter_map(|column| {
                column.outcome.err().map(|message| format!("- {} failed: {message}", column.heap))
            })
            .collect();
        if !failures.is_empty() {
            out.push('\n');
            for failure in failures {
                let _ = writeln!(out, "{failure}");
            }
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::report::{GcSummary, Machine, SCHEMA};

    /// A made-up report for tests of the compare modules.
    pub(crate) fn fake_report(workload: &str, heap: &str, p999_us: f64) -> Report {
        let latency = HistogramSummary {
            count: 1000,
            mean: 10.0,
            p50: 8.0,
            p90: 12.0,
            p99: 20.0,
            p999: p999_us,
            max: p999_us,
        };
        Report {
            schema: SCHEMA.to_owned(),
            workload: workload.to_owned(),
            heap: heap.to_owned(),
            schedulers: 2,
            params: BTreeMap::from([("processes".to_owned(), serde_json::json!(20))]),
            wall_s: 1.5,
            metrics: BTreeMap::from([("throughput_per_s".to_owned(), 1000.0)]),
            histograms: BTreeMap::from([
                ("request_latency_us".to_owned(), latency),
                ("gc_pause_us".to_owned(), HistogramSummary::default()),
            ]),
            gc: GcSummary { minor: 4, major: 1, words_copied: 1000, words_promoted: 10, gc_time_s: 0.002 },
            machine: Machine { cores: 2, os: "linux".to_owned(), rustc: "1.95.0".to_owned() },
            provenance: Default::default(),
            runs: None,
            per_run: Vec::new(),
            ci95: BTreeMap::new(),
            tail_attribution: None,
        }
    }

    fn section<'a>(columns: Vec<Column<'a>>, assignments: &'a [String]) -> Section<'a> {
        Section {
            id: "churn",
            assignments,
            headline: Headline::P999("request_latency_us"),
            columns,
            notes: vec!["a note".to_owned()],
        }
    }

    /// A tail attribution with `gc` and the rest run-queue wait, in both tails.
    pub(crate) fn fake_tails(gc: f64) -> crate::attribution::TailAttribution {
        let tail = crate::attribution::TailShare {
            count: 20,
            mean_us: 1500.0,
            share: BTreeMap::from([("gc".to_owned(), gc), ("run_queue".to_owned(), 1.0 - gc)]),
        };
        crate::attribution::TailAttribution { above_p99: tail.clone(), above_p999: tail }
    }

    #[test]
    fn the_tails_are_said_in_words_per_strategy() {
        let mut attributed = fake_report("churn", "per-process", 900.0);
        attributed.tail_attribution = Some(fake_tails(0.12));
        let plain = fake_report("churn", "beam", 900.0);
        let columns = [
            Column { heap: "per-process", outcome: Ok(&attributed) },
            Column { heap: "beam", outcome: Ok(&plain) },
        ];
        let text = tail_lines(&columns);
        assert!(
            text.contains("- per-process p999 (20 requests, mean 1.50 ms): 88% run-queue wait, 12% GC"),
            "{text}"
        );
        assert!(text.contains("- per-process p99 "), "{text}");
        assert!(!text.contains("beam"), "{text}");
        assert_eq!(tail_lines(&columns[1..]), "");
    }

    #[test]
    fn tables_put_strategies_side_by_side_with_ratios() {
        let per_process = fake_report("churn", "per-process", 100.0);
        let shared = fake_report("churn", "shared", 2500.0);
        let columns = vec![
            Column { heap: "per-process", outcome: Ok(&per_process) },
            Column { heap: "shared", outcome: Ok(&shared) },
        ];
        let text = table(&columns);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "| figure | per-process | shared | shared/per-process |");
        assert_eq!(lines[1], "|---|---:|---:|---:|");
        assert!(text.contains("| wall time | 1.500 s | 1.500 s | 1.00× |"), "{text}");
        assert!(text.contains("| `throughput_per_s` | 1,000/s | 1,000/s | 1.00× |"), "{text}");
        assert!(text.contains("| `request_latency_us` p999 | 100 us | 2.50 ms | 25.00× |"), "{text}");
        assert!(text.contains("| `request_latency_us` max |"), "{text}");
        // An empty histogram shows its count and no percentiles.
        assert!(text.contains("| `gc_pause_us` count | 0 | 0 | — |"), "{text}");
        assert!(!text.contains("`gc_pause_us` p50"), "{text}");
        assert!(text.contains("| gc minor collections | 4 | 4 | 1.00× |"), "{text}");
        assert!(lines.iter().all(|line| line.matches('|').count() == 5), "{text}");
    }

    #[test]
    fn failed_runs_keep_their_column_and_say_why() {
        let per_process = fake_report("churn", "per-process", 100.0);
        let beam = fake_report("churn", "beam", 50.0);
        let assignments = ["processes=20".to_owned()];
        let sections = [section(
            vec![
                Column { heap: "per-process", outcome: Ok(&per_process) },
                Column { heap: "shared", outcome: Err("churn: out of memory | badly") },
                Column { heap: "beam", outcome: Ok(&beam) },
            ],
            &assignments,
        )];
        let header = Header {
            date: "2026-12-01 13:24 UTC".to_owned(),
            command: "heaplab compare --quick".to_owned(),
            suite: "quick".to_owned(),
            machine: "2 cores".to_owned(),
            strategies: "per-process, shared, beam".to_owned(),
            elapsed_s: 12.0,
            runs: 1,
        };
        let text = render(&header, &["skipped big: not in this build".to_owned()], &sections);
        assert!(text.starts_with("# heaplab compare\n"), "{text}");
        assert!(text.contains("- command: `heaplab compare --quick`"), "{text}");
        assert!(text.contains("- skipped big: not in this build"), "{text}");
        assert!(text.contains("## churn\n"), "{text}");
        assert!(text.contains("params: `processes=20`"), "{text}");
        assert!(text.contains("> a note"), "{text}");
        assert!(
            text.contains("| figure | per-process | shared | beam | shared/per-process | beam/per-process |"),
            "{text}"
        );
        assert!(text.contains("| wall time | 1.500 s | — | 1.500 s | — | 1.00× |"), "{text}");
        assert!(text.contains("- shared failed: churn: out of memory | badly"), "{text}");
        assert!(
            text.contains(
                "- churn: request_latency_us p999: per-process 100 us, shared failed, beam 50.0 us"
            ),
            "{text}"
        );
    }

    #[test]
    fn percentiles_reported_as_metrics_fill_the_histogram_rows() {
        let per_process = fake_report("churn", "per-process", 100.0);
        let mut beam = fake_report("churn", "beam", 0.0);
        beam.histograms.clear();
        beam.metrics.insert("request_latency_p99_us".to_owned(), 40.0);
        let columns = vec![
            Column { heap: "per-process", outcome: Ok(&per_process) },
            Column { heap: "beam", outcome: Ok(&beam) },
        ];
        let text = table(&columns);
        assert!(text.contains("| `request_latency_us` p99 | 20.0 us | 40.0 us | 2.00× |"), "{text}");
        assert!(text.contains("| `request_latency_us` p50 | 8.00 us | — | — |"), "{text}");
        assert!(text.contains("| `request_latency_us` count | 1,000 | — | — |"), "{text}");
        let section = Section {
            id: "churn",
            assignments: &[],
            headline: Headline::P99("request_latency_us"),
            columns,
            notes: Vec::new(),
        };
        assert_eq!(
            headline_line(&section),
            "churn: request_latency_us p99: per-process 20.0 us, beam 40.0 us"
        );
    }

    #[test]
    fn intervals_stand_beside_medians_and_ratios_say_whether_they_are_significant() {
        let mut per_process = fake_report("churn", "per-process", 100.0);
        let mut shared = fake_report("churn", "shared", 2500.0);
        per_process.ci95.insert("request_latency_us.p999".to_owned(), [90.0, 110.0]);
        shared.ci95.insert("request_latency_us.p999".to_owned(), [2000.0, 3000.0]);
        per_process.ci95.insert("throughput_per_s".to_owned(), [900.0, 1100.0]);
        shared.ci95.insert("throughput_per_s".to_owned(), [950.0, 1050.0]);
        let columns = vec![
            Column { heap: "per-process", outcome: Ok(&per_process) },
            Column { heap: "shared", outcome: Ok(&shared) },
        ];
        let text = table(&columns);
        assert!(
            text.contains("| `request_latency_us` p999 | 100 us [90.0 us–110 us] | 2.50 ms [2.00 ms–3.00 ms] | 25.00× * |"),
            "{text}"
        );
        assert!(
            text.contains(
                "| `throughput_per_s` | 1,000/s [900/s–1,100/s] | 1,000/s [950/s–1,050/s] | 1.00× |"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_p999_of_fewer_than_1000_samples_is_not_shown() {
        let mut report = fake_report("churn", "per-process", 100.0);
        report.histograms.get_mut("request_latency_us").unwrap().count = 999;
        let text = table(&[Column { heap: "per-process", outcome: Ok(&report) }]);
        assert!(text.contains("| `request_latency_us` p999 | — |"), "{text}");
        assert!(text.contains("| `request_latency_us` max | 100 us |"), "{text}");
    }

    #[test]
    fn small_ratios_keep_two_significant_digits() {
        assert_eq!(ratio(Some(0.41), Some(100.0)), "0.0041×");
        assert_eq!(ratio(Some(4.1), Some(100.0)), "0.041×");
        assert_eq!(ratio(Some(50.0), Some(100.0)), "0.50×");
        assert_eq!(ratio(Some(0.0), Some(100.0)), "0.00×");
    }

    #[test]
    fn without_a_per_process_column_there_are_no_ratios() {
        let shared = fake_report("churn", "shared", 100.0);
        let text = table(&[Column { heap: "shared", outcome: Ok(&shared) }]);
        assert!(text.starts_with("| figure | shared |\n"), "{text}");
        assert_eq!(ratio(Some(1.0), Some(0.0)), "—");
        assert_eq!(ratio(None, Some(1.0)), "—");
        assert_eq!(ratio(Some(300.0), Some(1.0)), "300×");
    }
}
