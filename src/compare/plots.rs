//! SVG plots of a comparison, drawn with plotters: per workload, every strategy on one
//! chart.
//!
//! - `<workload>-latency-nines.svg`: every `*_latency_us` histogram on a percentile
//!   ("nines") axis that spreads the tail: x at p50, p90, p99, p99.9, p99.99 (each step a
//!   tenth of what is left), y the latency on a log axis; each line ends at the maximum.
//! - `<workload>-gc-pause-nines.svg`: the same for `gc_pause_us`.
//! - `<workload>-gc-pauses-over-time.svg`: one point per collection of the first run (x:
//!   seconds since the run started; y: pause, log scale).
//! - `<workload>-gc-pause-vs-heap.svg`: one point per collection of the first run that left
//!   live data (x: live heap after it, log scale; y: pause, log scale).
//!
//! - `<workload>-tail-attribution.svg`: per strategy, a stacked bar of where the time of
//!   the requests above p99 went and one for those above p99.9 (report `tail_attribution`,
//!   runs with `attribution=on`), one colour per component.
//!
//! `<workload>` is the suite entry's id, which titles its charts too: the workload's name, or
//! e.g. `ring-payload100` for a second entry of `ring` ([`super::suite::Entry::id`]).
//!
//! With several runs a nines line is the median over the runs at each percentile, and a band
//! around it the 95% Student t interval ([`crate::stats`]).
//!
//! # Invariants
//! 1. A chart compares strategies, so it is written only when at least two have data for it
//!    (a chart of one strategy is a table, not a comparison); a scatter needs
//!    [`MIN_SCATTER`] points and leaves out collections of an empty heap; GC charts are left
//!    out for workloads whose collections are set-up, not what they measure
//!    ([`Charts::gc`]). The caller learns which plots were written.
//! 2. Every plot has a title naming the workload, axis labels with units and a legend naming
//!    each strategy, beside the plotting area so it never covers data.
//! 3. A strategy keeps its colour across charts: per-process blue, shared red, hybrid
//!    purple, beam green, jvm-parallel orange, jvm-g1 brown, jvm-zgc pink, go cyan.
//! 4. Ticks use one notation per axis: decimal units for durations (µs, ms, s) and bytes
//!    (kB, MB, GB), `k`/`M`/`G` for plain numbers, percentiles on the nines axis.
//! 5. A nines line never claims a percentile its samples cannot give: a run of n samples
//!    reaches the nines position log10(n) (p99.9 needs 1,000 samples), then its maximum.
//! 6. Charts stay small: a nines line has a point per [`NINES_STEP`] of the axis, a scatter
//!    at most [`SCATTER_POINTS`] per strategy (the largest pauses always among them; the
//!    legend says when points were left out).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use plotters::coord::ranged1d::{AsRangedCoord, DefaultFormatting, KeyPointHint, Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::bench::GC_PAUSE_HISTOGRAM;
use crate::gc_log::GcRecord;
use crate::histogram::DurationHistogram;
use crate::stats;

/// Most points per strategy in a scatter plot (Invariant 6).
pub const SCATTER_POINTS: usize = 4000;

/// Fewest points a scatter plot needs (Invariant 1).
pub const MIN_SCATTER: usize = 20;

/// Distance between two points of a nines line, in nines (Invariant 6).
pub const NINES_STEP: f64 = 0.05;

/// Size of every chart in pixels, legend included.
const SIZE: (u32, u32) = (1000, 600);

/// Width of the legend column right of the plotting area (Invariant 2).
const LEGEND_WIDTH: u32 = 230;

/// Bytes per heap word.
const BYTES_PER_WORD: f64 = 8.0;

/// Which charts a workload gets (Invariant 1).
#[derive(Debug, Clone, Copy)]
pub struct Charts {
    /// The GC pause charts.
    pub gc: bool,
}

/// One strategy's raw data for the plots of a workload.
#[derive(Debug, Clone, Copy)]
pub struct RunData<'a> {
    /// The strategy's name.
    pub heap: &'a str,
    /// Every collection of the run (under a peer, as its GC tracer reported them).
    pub gc_records: &'a [GcRecord],
    /// The run's histograms with their raw samples.
    pub histograms: &'a BTreeMap<String, DurationHistogram>,
}

/// The percentiles of one histogram of one run, on the nines axis (Invariant 5).
#[derive(Debug, Clone, PartialEq)]
pub struct Nines {
    /// (position on the nines axis, value in µs), every [`NINES_STEP`] up to log10(n).
    points: Vec<(f64, f64)>,
    /// The largest value, in µs, drawn at position log10(n).
    max: f64,
    /// The samples: their count.
    count: usize,
}

/// The position of quantile `q` on the nines axis: -log10(1 - q) (p90 at 1, p99 at 2).
pub fn nines(q: f64) -> f64 {
    -(1.0 - q).log10()
}

impl Nines {
    /// The nines of `histogram`'s raw samples; `None` when empty.
    pub fn of(histogram: &DurationHistogram) -> Option<Nines> {
        let mut samples: Vec<u64> = histogram.raw_ns().to_vec();
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let n = samples.len();
        let end = (n as f64).log10();
        let mut points = Vec::new();
        let mut step = 0;
        loop {
            let x = step as f64 * NINES_STEP;
            if x >= end {
                break;
            }
            let q = 1.0 - 10f64.powf(-x);
            // Rank ceil(q n), as HdrHistogram reports percentiles.
            let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
            points.push((x, micros(samples[rank - 1])));
            step += 1;
        }
        Some(Nines { points, max: micros(samples[n - 1]), count: n })
    }

    /// The end of the line: log10 of the sample count (Invariant 5).
    fn end(&self) -> f64 {
        (self.count as f64).log10()
    }
}

/// What the plots need of one run, reduced from its raw data (Invariant 6).
#[derive(Debug, Clone)]
pub struct RunPlot {
    heap: String,
    /// The nines of each `*_latency_us` histogram with samples.
    latency: Vec<(String, Nines)>,
    /// The nines of `gc_pause_us`, if it has samples.
    pauses: Option<Nines>,
    /// (seconds since the start, pause in µs) of the collections kept.
    over_time: Vec<(f64, f64)>,
    /// (live bytes after, pause in µs) of the kept collections that left live data.
    vs_heap: Vec<(f64, f64)>,
    /// Collections kept and collections in all.
    kept: usize,
    collections: usize,
}

impl RunPlot {
    /// Reduces one run's raw data to what its plots show.
    pub fn new(run: RunData<'_>) -> RunPlot {
        let latency = run
            .histograms
            .iter()
            .filter(|(name, _)| name.ends_with("_latency_us"))
            .filter_map(|(name, histogram)| Some((name.clone(), Nines::of(histogram)?)))
            .collect();
        let pauses = run.histograms.get(GC_PAUSE_HISTOGRAM).and_then(Nines::of);
        let kept = thin(run.gc_records);
        RunPlot {
            heap: run.heap.to_owned(),
            latency,
            pauses,
            over_time: kept.iter().map(|r| (r.start_ns as f64 / 1e9, micros(r.duration_ns))).collect(),
            vs_heap: kept
                .iter()
                .filter(|r| r.words_after > 0)
                .map(|r| (r.words_after as f64 * BYTES_PER_WORD, micros(r.duration_ns)))
                .collect(),
            kept: kept.len(),
            collections: run.gc_records.len(),
        }
    }

    /// The legend label of this run's scatter series (Invariant 6).
    fn scatter_label(&self, runs: usize) -> String {
        let run = if runs > 1 { format!(", run 1 of {runs}") } else { String::new() };
        if self.kept < self.collections {
            format!("{} ({} of {} collections{run})", self.heap, self.kept, self.collections)
        } else if runs > 1 {
            format!("{} (run 1 of {runs})", self.heap)
        } else {
            self.heap.clone()
        }
    }
}

/// The colour of a strategy (Invariant 3).
pub fn color(heap: &str) -> RGBColor {
    match heap {
        "per-process" => RGBColor(31, 119, 180),
        "shared" => RGBColor(214, 39, 40),
        "hybrid" => RGBColor(148, 103, 189),
        "beam" => RGBColor(44, 160, 44),
        "jvm-parallel" => RGBColor(255, 127, 14),
        "jvm-g1" => RGBColor(140, 86, 75),
        "jvm-zgc" => RGBColor(227, 119, 194),
        "go" => RGBColor(23, 190, 207),
        _ => RGBColor(127, 127, 127),
    }
}

/// One line or set of points, with an optional interval at each point.
struct Series {
    label: String,
    color: RGBColor,
    points: Vec<(f64, f64)>,
    /// [low, high] at each point (same length as `points`), when several runs give one.
    bands: Option<Vec<[f64; 2]>>,
}

/// How a series is drawn.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// A line with a shaded interval band.
    Line,
    /// Dots.
    Dots,
    /// A line with dots and error bars.
    LineWithDots,
}

/// A chart's text (Invariant 2).
struct Text<'t> {
    title: &'t str,
    x: &'t str,
    y: &'t str,
}

/// Writes every plot of `workload` that has data into `dir` (Invariant 1); `runs` holds
/// each strategy's runs. Returns the paths written.
///
/// # Errors
/// A one-line message naming the plot that could not be drawn or written.
pub fn write_workload(
    dir: &Path,
    workload: &str,
    runs: &[Vec<RunPlot>],
    charts: Charts,
) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create '{}': {e}", dir.display()))?;
    let mut written = Vec::new();
    let mut emit = |name: &str, result: Result<bool, String>| -> Result<(), String> {
        if result.map_err(|e| format!("plot {name}: {e}"))? {
            written.push(dir.join(name));
        }
        Ok(())
    };
    let latency = format!("{workload}-latency-nines.svg");
    emit(&latency, latency_nines(&dir.join(&latency), workload, runs))?;
    if charts.gc {
        let pauses = format!("{workload}-gc-pause-nines.svg");
        emit(&pauses, pause_nines(&dir.join(&pauses), workload, runs))?;
        let over_time = format!("{workload}-gc-pauses-over-time.svg");
        emit(&over_time, pauses_over_time(&dir.join(&over_time), workload, runs))?;
        let vs_heap = format!("{workload}-gc-pause-vs-heap.svg");
        emit(&vs_heap, pause_vs_heap(&dir.join(&vs_heap), workload, runs))?;
    }
    Ok(written)
}

/// One strategy's nines line over its runs: the median at each position every run reaches,
/// the interval when there are several runs, and the median maximum at the end.
fn nines_series(label: String, color: RGBColor, runs: &[&Nines]) -> Option<Series> {
    let end = runs.iter().map(|n| n.end()).fold(f64::INFINITY, f64::min);
    if runs.is_empty() || !end.is_finite() {
        return None;
    }
    let steps = runs.iter().map(|n| n.points.len()).min().unwrap_or(0);
    let mut points = Vec::new();
    let mut bands = Vec::new();
    let columns =
        (0..steps).map(|i| (runs[0].points[i].0, runs.iter().map(|n| n.points[i].1).collect::<Vec<_>>()));
    let max = (end, runs.iter().map(|n| n.max).collect::<Vec<_>>());
    for (x, values) in columns.chain([max]) {
        let Some(median) = stats::median(&values) else { continue };
        points.push((x, median));
        bands.push(stats::ci95(&values).unwrap_or([median, median]));
    }
    let bands = (runs.len() > 1).then_some(bands);
    let label = if runs.len() > 1 { format!("{label} (median of {} runs)", runs.len()) } else { label };
    Some(Series { label, color, points, bands })
}

/// The nines of every `*_latency_us` histogram of every strategy; `false` if fewer than two
/// strategies have samples (Invariant 1).
fn latency_nines(path: &Path, workload: &str, runs: &[Vec<RunPlot>]) -> Result<bool, String> {
    let names: std::collections::BTreeSet<&String> =
        runs.iter().flatten().flat_map(|run| run.latency.iter().map(|(name, _)| name)).collect();
    let several = names.len() > 1;
    let mut series = Vec::new();
    let mut strategies = std::collections::BTreeSet::new();
    for strategy in runs {
        let Some(first) = strategy.first() else { continue };
        for name in &names {
            let lines: Vec<&Nines> = strategy
                .iter()
                .filter_map(|run| run.latency.iter().find(|(n, _)| n == *name).map(|(_, nines)| nines))
                .collect();
            let label = if several { format!("{} {name}", first.heap) } else { first.heap.clone() };
            // Several histograms per strategy: the palette tells them apart, the label says which.
            let color = if several { palette(series.len()) } else { color(&first.heap) };
            if let Some(line) = nines_series(label, color, &lines) {
                strategies.insert(first.heap.clone());
                series.push(line);
            }
        }
    }
    if strategies.len() < 2 {
        return Ok(false);
    }
    let title = format!("{workload}: latency by percentile (every *_latency_us histogram)");
    nines_chart(path, &title, "latency (log scale)", series)
}

/// The nines of `gc_pause_us` of every strategy; `false` if fewer than two have samples.
fn pause_nines(path: &Path, workload: &str, runs: &[Vec<RunPlot>]) -> Result<bool, String> {
    let series: Vec<Series> = runs
        .iter()
        .filter_map(|strategy| {
            let first = strategy.first()?;
            let lines: Vec<&Nines> = strategy.iter().filter_map(|run| run.pauses.as_ref()).collect();
            nines_series(first.heap.clone(), color(&first.heap), &lines)
        })
        .collect();
    if series.len() < 2 {
        return Ok(false);
    }
    let title = format!("{workload}: GC pause by percentile (gc_pause_us)");
    nines_chart(path, &title, "GC pause (log scale)", series)
}

/// One series per strategy with enough collections in its first run, of the points `get`
/// picks (Invariant 1).
fn scatter_series(runs: &[Vec<RunPlot>], get: fn(&RunPlot) -> &Vec<(f64, f64)>) -> Vec<Series> {
    let series: Vec<Series> = runs
        .iter()
        .filter_map(|strategy| {
            let first = strategy.first()?;
            let points = get(first);
            (!points.is_empty()).then(|| Series {
                label: first.scatter_label(strategy.len()),
                color: color(&first.heap),
                points: points.clone(),
                bands: None,
            })
        })
        .collect();
    let total: usize = series.iter().map(|s| s.points.len()).sum();
    if series.len() < 2 || total < MIN_SCATTER {
        return Vec::new();
    }
    series
}

/// One collection per point, over the run's time; `false` if not enough collections.
fn pauses_over_time(path: &Path, workload: &str, runs: &[Vec<RunPlot>]) -> Result<bool, String> {
    let series = scatter_series(runs, |run| &run.over_time);
    if series.is_empty() {
        return Ok(false);
    }
    let (x, y) = bounds(&series);
    let x = 0.0..(x.end * 1.02).max(1e-6);
    let text = Text {
        title: &format!("{workload}: GC pauses over time (one point per collection)"),
        x: "time since run start",
        y: "GC pause (log scale)",
    };
    draw(path, &text, x, log_range(y).log_scale(), &series, Mark::Dots, Axis::Seconds, Axis::Micros)?;
    Ok(true)
}

/// One collection per point, against the live heap it left; `false` if not enough.
fn pause_vs_heap(path: &Path, workload: &str, runs: &[Vec<RunPlot>]) -> Result<bool, String> {
    let series = scatter_series(runs, |run| &run.vs_heap);
    if series.is_empty() {
        return Ok(false);
    }
    let (x, y) = bounds(&series);
    let text = Text {
        title: &format!("{workload}: GC pause vs live heap (one point per collection)"),
        x: "live heap after the collection (log scale)",
        y: "GC pause (log scale)",
    };
    draw(
        path,
        &text,
        log_range(x).log_scale(),
        log_range(y).log_scale(),
        &series,
        Mark::Dots,
        Axis::Bytes,
        Axis::Micros,
    )?;
    Ok(true)
}

/// One line of a sweep chart: a strategy and its points (x, y, 95% interval of y).
pub type SweepLine = (String, Vec<(f64, f64, Option<[f64; 2]>)>);

/// How the y axis of a sweep chart labels its ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Microseconds.
    Micros,
    /// Nanoseconds.
    Nanos,
    /// Seconds.
    Seconds,
    /// Bytes.
    Bytes,
    /// A plain number.
    Number,
}

/// A line chart of one figure against a swept parameter, one line per strategy in its
/// colour, both axes on a log scale (points with a value of 0 or less are left out), error
/// bars where a point has an interval; `false` when no line has a point. Used by
/// `heaplab reproduce`.
///
/// # Errors
/// A one-line message when the chart cannot be drawn or written.
pub fn sweep_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    y_unit: Unit,
    lines: &[SweepLine],
) -> Result<bool, String> {
    let series: Vec<Series> = lines
        .iter()
        .map(|(heap, points)| {
            let kept: Vec<&(f64, f64, Option<[f64; 2]>)> =
                points.iter().filter(|(x, y, _)| *x > 0.0 && *y > 0.0).collect();
            let any_band = kept.iter().any(|(_, _, band)| band.is_some());
            Series {
                label: heap.clone(),
                color: color(heap),
                points: kept.iter().map(|(x, y, _)| (*x, *y)).collect(),
                bands: any_band.then(|| kept.iter().map(|(_, y, band)| band.unwrap_or([*y, *y])).collect()),
            }
        })
        .filter(|series| !series.points.is_empty())
        .collect();
    if series.is_empty() {
        return Ok(false);
    }
    let (x, y) = bounds(&series);
    let text = Text { title, x: x_label, y: y_label };
    let y_axis = match y_unit {
        Unit::Micros => Axis::Micros,
        Unit::Nanos => Axis::Nanos,
        Unit::Seconds => Axis::Seconds,
        Unit::Bytes => Axis::Bytes,
        Unit::Number => Axis::Number,
    };
    draw(
        path,
        &text,
        log_range(x).log_scale(),
        log_range(y).log_scale(),
        &series,
        Mark::LineWithDots,
        Axis::Number,
        y_axis,
    )?;
    Ok(true)
}

/// One bar of a tail chart: its label and the shares of its components.
type TailBar<'a> = (String, &'a crate::attribution::TailShare);

/// Writes `<workload>-tail-attribution.svg` into `dir` from `reports` (one per strategy, in
/// column order) when at least two strategies attributed their tails (Invariant 1);
/// returns the path written, if any.
///
/// # Errors
/// A one-line message when the chart cannot be drawn or written.
pub fn write_tail_attribution(
    dir: &Path,
    workload: &str,
    reports: &[&crate::report::Report],
) -> Result<Option<PathBuf>, String> {
    let attributed: Vec<&crate::report::Report> =
        reports.iter().copied().filter(|r| r.tail_attribution.is_some()).collect();
    if attributed.len() < 2 {
        return Ok(None);
    }
    let mut bars: Vec<TailBar<'_>> = Vec::new();
    for report in &attributed {
        let tails = report.tail_attribution.as_ref().expect("filtered on it");
        for (label, tail) in [("p99", &tails.above_p99), ("p99.9", &tails.above_p999)] {
            if tail.count > 0 {
                bars.push((format!("{} {label} ({} req.)", report.heap, tail.count), tail));
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create '{}': {e}", dir.display()))?;
    let name = format!("{workload}-tail-attribution.svg");
    let path = dir.join(&name);
    tail_chart(&path, workload, &bars).map_err(|e| format!("plot {name}: {e}"))?;
    Ok(Some(path))
}

/// Draws the stacked bars, one row each, the components' legend in its own column.
fn tail_chart(path: &Path, workload: &str, bars: &[TailBar<'_>]) -> Result<(), String> {
    use crate::attribution::Component;
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let title = format!("{workload}: where the tail requests' time went");
    let root = root.titled(&title, ("sans-serif", 20)).map_err(|e| e.to_string())?;
    let (plot_area, legend_area) = root.split_horizontally(SIZE.0 - LEGEND_WIDTH);
    let rows = bars.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&plot_area)
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(230)
        .build_cartesian_2d(0.0..100.0, 0.0..rows)
        .map_err(|e| e.to_string())?;
    let label = |y: &f64| {
        let row = (rows - y - 0.5).round();
        if (rows - y - 0.5 - row).abs() < 0.01 && row >= 0.0 {
            bars.get(row as usize).map_or_else(String::new, |b| b.0.clone())
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .x_desc("share of the tail requests' time (%)")
        .y_desc("strategy and tail")
        .y_labels(bars.len() * 2 + 1)
        .y_label_formatter(&label)
        .x_label_formatter(&|v: &f64| format!("{v:.0}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|e| e.to_string())?;
    for (row, (_, tail)) in bars.iter().enumerate() {
        let (top, bottom) = (rows - row as f64 - 0.15, rows - row as f64 - 0.85);
        let mut left = 0.0;
        for (i, c) in Component::ALL.iter().enumerate() {
            let width = 100.0 * tail.share.get(c.name()).copied().unwrap_or(0.0);
            if width <= 0.0 {
                continue;
            }
            let colour = palette(i);
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(left, bottom), (left + width, top)],
                    colour.filled(),
                )))
                .map_err(|e| e.to_string())?;
            left += width;
        }
    }
    let style = ("sans-serif", 14).into_font().color(&BLACK);
    for (i, c) in Component::ALL.iter().enumerate() {
        let y = 40 + 26 * i as i32;
        legend_area
            .draw(&PathElement::new(vec![(8, y), (30, y)], palette(i).stroke_width(8)))
            .map_err(|e| e.to_string())?;
        legend_area
            .draw(&plotters::element::Text::new(c.words(), (38, y - 7), style.clone()))
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

/// A nanosecond count in microseconds, floored at 1 ns so a log axis can show it.
fn micros(nanos: u64) -> f64 {
    nanos.max(1) as f64 / 1000.0
}

/// A distinct colour per index, for series that are not one per strategy.
fn palette(index: usize) -> RGBColor {
    let (r, g, b) = Palette99::pick(index).rgb();
    RGBColor(r, g, b)
}

/// The labelled positions of the nines axis: p50, p90, p99, ... up to `end`.
fn nines_ticks(end: f64) -> Vec<f64> {
    let mut ticks = vec![nines(0.5)];
    let mut x = 1.0;
    while x <= end + 1e-9 {
        ticks.push(x);
        x += 1.0;
    }
    ticks
}

/// The percentile a nines position stands for, as a tick label.
fn nines_label(x: f64) -> String {
    let percent = 100.0 * (1.0 - 10f64.powf(-x));
    let text = format!("{percent:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("p{text}")
}

/// The nines axis: linear in nines, ticks only at the labelled percentiles.
struct NinesAxis {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ranged for NinesAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

/// Draws nines lines: x the nines axis (module docs), y log scale in µs.
fn nines_chart(path: &Path, title: &str, y_label: &str, series: Vec<Series>) -> Result<bool, String> {
    let (x, y) = bounds(&series);
    let end = x.end.max(1.0);
    let x_range = NinesAxis { inner: (0.0..end * 1.04).into(), ticks: nines_ticks(end) };
    let text = Text {
        title,
        x: "percentile (nines axis: each step right is 10x rarer; lines end at the max)",
        y: y_label,
    };
    draw(path, &text, x_range, log_range(y).log_scale(), &series, Mark::Line, Axis::Nines, Axis::Micros)?;
    Ok(true)
}

/// The collections a scatter shows: all of them up to [`SCATTER_POINTS`], else every
/// stride-th one plus the largest pauses (Invariant 6).
fn thin(records: &[GcRecord]) -> Vec<&GcRecord> {
    if records.len() <= SCATTER_POINTS {
        return records.iter().collect();
    }
    let largest = SCATTER_POINTS / 4;
    let stride = records.len().div_ceil(SCATTER_POINTS - largest);
    let mut by_pause: Vec<&GcRecord> = records.iter().collect();
    by_pause.sort_by_key(|record| std::cmp::Reverse(record.duration_ns));
    let mut kept: Vec<&GcRecord> = records.iter().step_by(stride).collect();
    kept.extend(by_pause.into_iter().take(largest));
    kept
}

/// The x and y extent of every point and band (only called with at least one point).
fn bounds(series: &[Series]) -> (Range<f64>, Range<f64>) {
    let points = || series.iter().flat_map(|s| s.points.iter().copied());
    let fold = |values: &mut dyn Iterator<Item = f64>| {
        values.fold(f64::INFINITY..f64::NEG_INFINITY, |range, v| range.start.min(v)..range.end.max(v))
    };
    let x = fold(&mut points().map(|p| p.0));
    let mut y = fold(&mut points().map(|p| p.1));
    for band in series.iter().filter_map(|s| s.bands.as_ref()).flatten() {
        // A band's low end can be 0 or below (a t interval is symmetric): the axis is log.
        if band[0] > 0.0 {
            y.start = y.start.min(band[0]);
        }
        y.end = y.end.max(band[1]);
    }
    (x, y)
}

/// A positive range around `range` for a log axis: a little wider than the data, and at
/// least [`MIN_DECADES`] decades wide so the axis gets several labelled ticks.
fn log_range(range: Range<f64>) -> Range<f64> {
    let low = range.start.max(1e-3) / 1.5;
    let high = range.end.max(low) * 1.5;
    let missing = (MIN_DECADES - (high / low).log10()).max(0.0);
    let widen = 10f64.powf(missing / 2.0);
    (low / widen)..(high * widen)
}

/// Decades a log axis spans at least (see [`log_range`]).
const MIN_DECADES: f64 = 2.0;

/// How an axis labels its ticks (Invariant 4).
#[derive(Clone, Copy)]
enum Axis {
    /// A plain number: 1, 10, 100, 1k, 10k, 1M.
    Number,
    /// Seconds: 0 s, 500 ms, 1 s.
    Seconds,
    /// A value in µs: 10 µs, 1 ms, 1 s.
    Micros,
    /// A value in ns: 100 ns, 1 µs.
    Nanos,
    /// Bytes, decimal: 1 kB, 10 MB.
    Bytes,
    /// A nines position: p50, p99.9.
    Nines,
}

/// `value` with at most three significant digits, trailing zeros dropped.
fn short(value: f64) -> String {
    let magnitude = value.abs();
    let decimals = if magnitude >= 100.0 || magnitude == 0.0 {
        0
    } else if magnitude >= 10.0 {
        1
    } else if magnitude >= 1.0 {
        2
    } else {
        3
    };
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// `value` scaled by the largest of `units` (factor, suffix) it reaches.
fn scaled(value: f64, units: &[(f64, &str)]) -> String {
    let magnitude = value.abs();
    let (factor, suffix) =
        units.iter().rev().find(|(factor, _)| magnitude >= *factor).copied().unwrap_or(units[0]);
    format!("{}{suffix}", short(value / factor))
}

impl Axis {
    fn tick(self, value: f64) -> String {
        match self {
            Axis::Number => scaled(value, &[(1.0, ""), (1e3, "k"), (1e6, "M"), (1e9, "G")]),
            Axis::Seconds if value == 0.0 => "0 s".to_owned(),
            Axis::Seconds => scaled(value, &[(1e-6, " µs"), (1e-3, " ms"), (1.0, " s")]),
            Axis::Micros => scaled(value, &[(1e-3, " ns"), (1.0, " µs"), (1e3, " ms"), (1e6, " s")]),
            Axis::Nanos => scaled(value, &[(1.0, " ns"), (1e3, " µs"), (1e6, " ms"), (1e9, " s")]),
            Axis::Bytes => {
                scaled(value, &[(1.0, " B"), (1e3, " kB"), (1e6, " MB"), (1e9, " GB"), (1e12, " TB")])
            }
            Axis::Nines => nines_label(value),
        }
    }
}

/// Draws `series` into an SVG file at `path`, the legend in a column of its own
/// (Invariant 2).
#[allow(clippy::too_many_arguments)]
fn draw<X, Y>(
    path: &Path,
    text: &Text<'_>,
    x: X,
    y: Y,
    series: &[Series],
    mark: Mark,
    x_axis: Axis,
    y_axis: Axis,
) -> Result<(), String>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let root = root.titled(text.title, ("sans-serif", 20)).map_err(|e| e.to_string())?;
    let (plot_area, legend_area) = root.split_horizontally(SIZE.0 - LEGEND_WIDTH);
    let mut chart = ChartBuilder::on(&plot_area)
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d(x, y)
        .map_err(|e| e.to_string())?;
    let x_tick = |v: &f64| x_axis.tick(*v);
    let y_tick = |v: &f64| y_axis.tick(*v);
    chart
        .configure_mesh()
        .x_desc(text.x)
        .y_desc(text.y)
        .x_label_formatter(&x_tick)
        .y_label_formatter(&y_tick)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|e| e.to_string())?;
    let floor = bounds(series).1.start.max(1e-9);
    for s in series {
        let color = s.color;
        if let Some(bands) = &s.bands {
            let clamp = |v: f64| v.max(floor);
            match mark {
                Mark::Line => {
                    let mut outline: Vec<(f64, f64)> =
                        s.points.iter().zip(bands).map(|(p, band)| (p.0, clamp(band[0]))).collect();
                    outline.extend(s.points.iter().zip(bands).rev().map(|(p, band)| (p.0, clamp(band[1]))));
                    chart
                        .draw_series(std::iter::once(Polygon::new(outline, color.mix(0.18).filled())))
                        .map_err(|e| e.to_string())?;
                }
                Mark::LineWithDots | Mark::Dots => {
                    chart
                        .draw_series(s.points.iter().zip(bands).map(|(p, band)| {
                            PathElement::new(
                                vec![(p.0, clamp(band[0])), (p.0, clamp(band[1]))],
                                color.stroke_width(2),
                            )
                        }))
                        .map_err(|e| e.to_string())?;
                }
            }
        }
        match mark {
            Mark::Line => {
                chart
                    .draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))
                    .map_err(|e| e.to_string())?;
                if let Some(&end) = s.points.last() {
                    chart
                        .draw_series(std::iter::once(Circle::new(end, 4, color.filled())))
                        .map_err(|e| e.to_string())?;
                }
            }
            Mark::Dots => {
                chart
                    .draw_series(s.points.iter().map(|&point| Circle::new(point, 3, color.mix(0.6).filled())))
                    .map_err(|e| e.to_string())?;
            }
            Mark::LineWithDots => {
                chart
                    .draw_series(s.points.iter().map(|&point| Circle::new(point, 4, color.filled())))
                    .map_err(|e| e.to_string())?;
                chart
                    .draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    draw_legend(&legend_area, series, mark)?;
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

/// The legend in its own column (Invariant 2): a mark and the label of each series, and a
/// line on the bands when there are any.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    series: &[Series],
    mark: Mark,
) -> Result<(), String> {
    let style = ("sans-serif", 14).into_font().color(&BLACK);
    let mut y = 40;
    for s in series {
        let stroke = if mark == Mark::Dots { 6 } else { 2 };
        area.draw(&PathElement::new(vec![(8, y), (30, y)], s.color.stroke_width(stroke)))
            .map_err(|e| e.to_string())?;
        // Long labels wrap onto a second line rather than run off the chart.
        let words: Vec<&str> = s.label.split(' ').collect();
        let mut line = String::new();
        for word in words {
            if line.len() + word.len() > 27 && !line.is_empty() {
                area.draw(&plotters::element::Text::new(line.clone(), (38, y - 7), style.clone()))
                    .map_err(|e| e.to_string())?;
                y += 17;
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        area.draw(&plotters::element::Text::new(line, (38, y - 7), style.clone()))
            .map_err(|e| e.to_string())?;
        y += 26;
    }
    if series.iter().any(|s| s.bands.is_some()) {
        let note =
            if mark == Mark::Line { "band: 95% interval over runs" } else { "bars: 95% interval over runs" };
        area.draw(&plotters::element::Text::new(note, (8, y), ("sans-serif", 12).into_font().color(&BLACK)))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gc_log::tests::record;

    fn histogram(values_ns: impl IntoIterator<Item = u64>) -> DurationHistogram {
        let mut histogram = DurationHistogram::new();
        for value in values_ns {
            histogram.record_ns(value);
        }
        histogram
    }

    #[test]
    fn a_tail_chart_needs_two_attributed_strategies() {
        let dir = tempfile::tempdir().unwrap();
        let mut per_process = crate::compare::summary::tests::fake_report("churn", "per-process", 900.0);
        let mut shared = crate::compare::summary::tests::fake_report("churn", "shared", 900.0);
        per_process.tail_attribution = Some(crate::compare::summary::tests::fake_tails(0.1));
        assert_eq!(write_tail_attribution(dir.path(), "churn", &[&per_process, &shared]).unwrap(), None);
        shared.tail_attribution = Some(crate::compare::summary::tests::fake_tails(0.9));
        let path = write_tail_attribution(dir.path(), "churn", &[&per_process, &shared]).unwrap().unwrap();
        assert_svg(&path, "churn: where the tail requests");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("shared p99.9 (20 req.)") && text.contains("run-queue wait"),
            "labels and legend"
        );
    }

    fn assert_svg(path: &Path, title: &str) {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(text.contains("<svg"), "{}", path.display());
        assert!(text.trim_end().ends_with("</svg>"), "{}", path.display());
        assert!(text.contains(title), "{}: no title '{title}'", path.display());
    }

    fn plots(heap: &str, runs: &[(Vec<GcRecord>, BTreeMap<String, DurationHistogram>)]) -> Vec<RunPlot> {
        runs.iter()
            .map(|(records, histograms)| RunPlot::new(RunData { heap, gc_records: records, histograms }))
            .collect()
    }

    #[test]
    fn every_plot_with_data_is_a_valid_svg_with_title_axes_and_legend() {
        let dir = tempfile::tempdir().unwrap();
        let per_process = BTreeMap::from([
            ("request_latency_us".to_owned(), histogram((1..=5000).map(|i| i * 1000))),
            (GC_PAUSE_HISTOGRAM.to_owned(), histogram([2_000, 3_000, 50_000])),
        ]);
        let shared = BTreeMap::from([
            ("request_latency_us".to_owned(), histogram((1..=100).map(|i| i * 90_000))),
            (GC_PAUSE_HISTOGRAM.to_owned(), histogram([900_000])),
        ]);
        let records: Vec<GcRecord> = (0..10_000)
            .map(|i| record(if i % 10 == 0 { "major" } else { "minor" }, i * 1_000, 500 + i))
            .collect();
        let stw = vec![record("major", 0, 0)];
        let runs = [
            plots("per-process", &[(records.clone(), per_process.clone()), (records, per_process)]),
            plots("shared", &[(stw, shared)]),
            plots("beam", &[(Vec::new(), BTreeMap::new())]),
        ];
        let written = write_workload(dir.path(), "churn", &runs, Charts { gc: true }).unwrap();
        let names: Vec<String> =
            written.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(
            names,
            [
                "churn-latency-nines.svg",
                "churn-gc-pause-nines.svg",
                "churn-gc-pauses-over-time.svg",
                "churn-gc-pause-vs-heap.svg"
            ]
        );
        assert_svg(&written[0], "churn: latency by percentile");
        assert_svg(&written[1], "churn: GC pause by percentile");
        assert_svg(&written[2], "churn: GC pauses over time");
        assert_svg(&written[3], "churn: GC pause vs live heap");
        let latency = std::fs::read_to_string(&written[0]).unwrap();
        for needle in ["p99.9", "p50", "ms", "per-process (median of 2", "shared", "band: 95% interval"] {
            assert!(latency.contains(needle), "'{needle}' missing from the latency plot");
        }
        let over_time = std::fs::read_to_string(&written[2]).unwrap();
        assert!(over_time.contains("time since run start"));
        assert!(over_time.contains("of 10000"), "the legend says the plot is thinned");
        assert!(!write_workload(dir.path(), "exit", &runs, Charts { gc: false })
            .unwrap()
            .iter()
            .any(|p| { p.to_string_lossy().contains("gc-") }));
    }

    #[test]
    fn a_chart_with_one_strategy_is_not_a_comparison() {
        let dir = tempfile::tempdir().unwrap();
        let pauses = BTreeMap::from([(GC_PAUSE_HISTOGRAM.to_owned(), histogram([1_000, 2_000]))]);
        let empty = BTreeMap::from([(GC_PAUSE_HISTOGRAM.to_owned(), DurationHistogram::new())]);
        let records: Vec<GcRecord> = (0..100).map(|i| record("minor", i * 1000, 100)).collect();
        let runs = [
            plots("beam", &[(records, pauses)]),
            plots("per-process", &[(Vec::new(), empty.clone())]),
            plots("shared", &[(Vec::new(), empty)]),
        ];
        assert!(write_workload(dir.path(), "spawn", &runs, Charts { gc: true }).unwrap().is_empty());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn nines_stop_where_the_samples_do() {
        let nines = Nines::of(&histogram(1..=999)).unwrap();
        // 999 samples reach log10(999) < 3: no p99.9 point, then the maximum.
        assert!(nines.points.iter().all(|(x, _)| *x < 3.0));
        assert!(nines.points.last().unwrap().0 > 2.9);
        assert_eq!(nines.max, 0.999);
        assert_eq!(nines.points[0], (0.0, 0.001));
        let p90 = nines.points.iter().find(|(x, _)| (*x - 1.0).abs() < 1e-9).unwrap();
        assert_eq!(p90.1, 0.9, "rank ceil(0.9 x 999) = 900");
        assert!(nines.points.windows(2).all(|w| w[0].1 <= w[1].1));
        let records: Vec<GcRecord> = (0..10 * SCATTER_POINTS as u64).map(|i| record("minor", i, i)).collect();
        let kept = thin(&records);
        assert!(kept.len() <= SCATTER_POINTS);
        assert_eq!(kept.iter().map(|r| r.duration_ns).max(), Some(10 * SCATTER_POINTS as u64 - 1));
    }

    #[test]
    fn ticks_use_one_notation_per_axis() {
        assert_eq!(Axis::Number.tick(1000.0), "1k");
        assert_eq!(Axis::Number.tick(0.5), "0.5");
        assert_eq!(Axis::Number.tick(1e6), "1M");
        assert_eq!(Axis::Micros.tick(1000.0), "1 ms");
        assert_eq!(Axis::Micros.tick(10.0), "10 µs");
        assert_eq!(Axis::Micros.tick(0.1), "100 ns");
        assert_eq!(Axis::Bytes.tick(1e6), "1 MB");
        assert_eq!(Axis::Seconds.tick(0.5), "500 ms");
        assert_eq!(Axis::Nines.tick(nines(0.5)), "p50");
        assert_eq!(Axis::Nines.tick(3.0), "p99.9");
        assert_eq!(Axis::Nines.tick(1.0), "p90");
    }
}
