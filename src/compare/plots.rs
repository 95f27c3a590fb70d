//! SVG plots of a comparison, drawn with plotters: per workload, every strategy on one
//! chart.
//!
//! - `<workload>-latency-cdf.svg`: the distribution of every `*_latency_us` histogram
//!   (x: latency in µs, log scale; y: percentile).
//! - `<workload>-gc-pause-cdf.svg`: the same for `gc_pause_us`.
//! - `<workload>-gc-pauses-over-time.svg`: one point per collection (x: seconds since the
//!   run started; y: pause in µs, log scale).
//! - `<workload>-gc-pause-vs-heap.svg`: one point per collection (x: live heap after it, in
//!   bytes, log scale; y: pause in µs, log scale).
//!
//! # Invariants
//! 1. A plot is written only when some strategy has data for it (BEAM runs have no raw
//!    samples or per-collection records): no empty charts; the caller learns which plots
//!    were written.
//! 2. Every plot has a title naming the workload, axis labels with units and a legend
//!    naming each strategy (and histogram, where there are several).
//! 3. A strategy keeps its colour across charts: per-process blue, shared red, hybrid
//!    purple, beam green.
//! 4. Charts stay small enough to open at once: a CDF has at most [`CDF_POINTS`] points
//!    per line (the tail quantiles always among them), a scatter at most [`SCATTER_POINTS`]
//!    per strategy (the largest pauses always among them; the legend says when points were
//!    left out).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use crate::bench::GC_PAUSE_HISTOGRAM;
use crate::gc_log::GcRecord;
use crate::histogram::DurationHistogram;

/// Most points per CDF line (Invariant 4).
pub const CDF_POINTS: usize = 600;

/// Most points per strategy in a scatter plot (Invariant 4).
pub const SCATTER_POINTS: usize = 4000;

/// Size of every chart in pixels.
const SIZE: (u32, u32) = (960, 600);

/// Quantiles always on a CDF line, so the tail is drawn exactly (Invariant 4).
const TAIL_QUANTILES: [f64; 7] = [0.9, 0.99, 0.995, 0.999, 0.9995, 0.9999, 1.0];

/// Bytes per heap word.
const BYTES_PER_WORD: f64 = 8.0;

/// One strategy's raw data for the plots of a workload.
#[derive(Debug, Clone, Copy)]
pub struct RunData<'a> {
    /// The strategy's name.
    pub heap: &'a str,
    /// Every collection of the run (under the BEAM, as its GC tracer reported them).
    pub gc_records: &'a [GcRecord],
    /// The run's histograms with their raw samples (none under the BEAM).
    pub histograms: &'a BTreeMap<String, DurationHistogram>,
}

/// What the plots need of one run, reduced from its raw data (Invariant 4) so the driver
/// can drop the raw data as soon as the run is written: a suite keeps kilobytes per run, not
/// every sample, and later runs' memory figures do not carry earlier runs' data.
#[derive(Debug, Clone)]
pub struct RunPlot {
    heap: String,
    /// CDF points (µs, percentile) of each `*_latency_us` histogram with samples.
    latency: Vec<(String, Vec<(f64, f64)>)>,
    /// CDF points of `gc_pause_us`, if it has samples.
    pauses: Option<Vec<(f64, f64)>>,
    /// (seconds since the start, pause in µs) of the collections kept.
    over_time: Vec<(f64, f64)>,
    /// (live bytes after, pause in µs) of the same collections.
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
            .filter_map(|(name, histogram)| Some((name.clone(), cdf_points(histogram)?)))
            .collect();
        let pauses = run.histograms.get(GC_PAUSE_HISTOGRAM).and_then(cdf_points);
        let kept = thin(run.gc_records);
        RunPlot {
            heap: run.heap.to_owned(),
            latency,
            pauses,
            over_time: kept.iter().map(|r| (r.start_ns as f64 / 1e9, micros(r.duration_ns))).collect(),
            vs_heap: kept
                .iter()
                .map(|r| (r.words_after.max(1) as f64 * BYTES_PER_WORD, micros(r.duration_ns)))
                .collect(),
            kept: kept.len(),
            collections: run.gc_records.len(),
        }
    }

    /// The legend label of this run's scatter series (Invariant 4).
    fn scatter_label(&self) -> String {
        if self.kept < self.collections {
            format!("{} ({} of {} collections)", self.heap, self.kept, self.collections)
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
        _ => RGBColor(127, 127, 127),
    }
}

/// One line or set of points.
struct Series {
    label: String,
    color: RGBColor,
    points: Vec<(f64, f64)>,
}

/// How a series is drawn.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    Line,
    Dots,
    LineWithDots,
}

/// A chart's text (Invariant 2).
struct Text<'t> {
    title: &'t str,
    x: &'t str,
    y: &'t str,
}

/// Writes every plot of `workload` that has data into `dir` and returns the paths written
/// (Invariant 1).
///
/// # Errors
/// A one-line message naming the plot that could not be drawn or written.
pub fn write_workload(dir: &Path, workload: &str, runs: &[RunPlot]) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create '{}': {e}", dir.display()))?;
    let mut written = Vec::new();
    let mut emit = |name: &str, result: Result<bool, String>| -> Result<(), String> {
        if result.map_err(|e| format!("plot {name}: {e}"))? {
            written.push(dir.join(name));
        }
        Ok(())
    };
    let latency = format!("{workload}-latency-cdf.svg");
    emit(&latency, latency_cdf(&dir.join(&latency), workload, runs))?;
    let pauses = format!("{workload}-gc-pause-cdf.svg");
    emit(&pauses, pause_cdf(&dir.join(&pauses), workload, runs))?;
    let over_time = format!("{workload}-gc-pauses-over-time.svg");
    emit(&over_time, pauses_over_time(&dir.join(&over_time), workload, runs))?;
    let vs_heap = format!("{workload}-gc-pause-vs-heap.svg");
    emit(&vs_heap, pause_vs_heap(&dir.join(&vs_heap), workload, runs))?;
    Ok(written)
}

/// The CDF of every `*_latency_us` histogram of every strategy; `false` if none has samples.
fn latency_cdf(path: &Path, workload: &str, runs: &[RunPlot]) -> Result<bool, String> {
    let names: std::collections::BTreeSet<&String> =
        runs.iter().flat_map(|run| run.latency.iter().map(|(name, _)| name)).collect();
    let several = names.len() > 1;
    let mut series = Vec::new();
    for run in runs {
        for (name, points) in &run.latency {
            let label = if several { format!("{} {name}", run.heap) } else { run.heap.clone() };
            // Several histograms per strategy: the palette tells them apart, the label says which.
            let color = if several { palette(series.len()) } else { color(&run.heap) };
            series.push(Series { label, color, points: points.clone() });
        }
    }
    let title = format!("{workload}: latency CDF (every *_latency_us histogram, every strategy)");
    cdf_chart(path, &title, "latency (µs, log scale)", series)
}

/// The CDF of `gc_pause_us` of every strategy; `false` if none has samples.
fn pause_cdf(path: &Path, workload: &str, runs: &[RunPlot]) -> Result<bool, String> {
    let series: Vec<Series> = runs
        .iter()
        .filter_map(|run| {
            let points = run.pauses.clone()?;
            Some(Series { label: run.heap.clone(), color: color(&run.heap), points })
        })
        .collect();
    let title = format!("{workload}: GC pause CDF (gc_pause_us, every strategy)");
    cdf_chart(path, &title, "GC pause (µs, log scale)", series)
}

/// One series per strategy with collections, of the points `get` picks.
fn scatter_series(runs: &[RunPlot], get: fn(&RunPlot) -> &Vec<(f64, f64)>) -> Vec<Series> {
    runs.iter()
        .filter(|run| !get(run).is_empty())
        .map(|run| Series { label: run.scatter_label(), color: color(&run.heap), points: get(run).clone() })
        .collect()
}

/// One collection per point, over the run's time; `false` if no strategy has records.
fn pauses_over_time(path: &Path, workload: &str, runs: &[RunPlot]) -> Result<bool, String> {
    let series = scatter_series(runs, |run| &run.over_time);
    if series.is_empty() {
        return Ok(false);
    }
    let (x, y) = bounds(&series);
    let x = 0.0..(x.end * 1.02).max(1e-6);
    let text = Text {
        title: &format!("{workload}: GC pauses over time (one point per collection)"),
        x: "time since run start (s)",
        y: "GC pause (µs, log scale)",
    };
    draw(path, &text, x, log_range(y).log_scale(), &series, Mark::Dots, Axis::Seconds, Axis::Number)?;
    Ok(true)
}

/// One collection per point, against the live heap it left; `false` if no records.
fn pause_vs_heap(path: &Path, workload: &str, runs: &[RunPlot]) -> Result<bool, String> {
    let series = scatter_series(runs, |run| &run.vs_heap);
    if series.is_empty() {
        return Ok(false);
    }
    let (x, y) = bounds(&series);
    let text = Text {
        title: &format!("{workload}: GC pause vs live heap (one point per collection)"),
        x: "live heap after the collection (bytes, log scale)",
        y: "GC pause (µs, log scale)",
    };
    draw(
        path,
        &text,
        log_range(x).log_scale(),
        log_range(y).log_scale(),
        &series,
        Mark::Dots,
        Axis::Bytes,
        Axis::Number,
    )?;
    Ok(true)
}

/// A line chart of one figure against a swept parameter, one line per strategy in its
/// colour, both axes on a log scale (points with a value of 0 or less are left out);
/// `false` when no line has a point. Used by `heaplab reproduce`.
///
/// # Errors
/// A one-line message when the chart cannot be drawn or written.
pub fn sweep_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    lines: &[(String, Vec<(f64, f64)>)],
) -> Result<bool, String> {
    let series: Vec<Series> = lines
        .iter()
        .map(|(heap, points)| Series {
            label: heap.clone(),
            color: color(heap),
            points: points.iter().copied().filter(|(x, y)| *x > 0.0 && *y > 0.0).collect(),
        })
        .filter(|series| !series.points.is_empty())
        .collect();
    if series.is_empty() {
        return Ok(false);
    }
    let (x, y) = bounds(&series);
    let text = Text { title, x: x_label, y: y_label };
    draw(
        path,
        &text,
        log_range(x).log_scale(),
        log_range(y).log_scale(),
        &series,
        Mark::LineWithDots,
        Axis::Number,
        Axis::Number,
    )?;
    Ok(true)
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

/// The CDF of `histogram`'s raw samples as (µs, percentile) points (Invariant 4); `None`
/// when empty.
fn cdf_points(histogram: &DurationHistogram) -> Option<Vec<(f64, f64)>> {
    let mut samples: Vec<u64> = histogram.raw_ns().to_vec();
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let last = samples.len() - 1;
    let steps = CDF_POINTS - TAIL_QUANTILES.len();
    let mut quantiles: Vec<f64> = (0..=steps).map(|i| i as f64 / steps as f64).collect();
    quantiles.extend(TAIL_QUANTILES);
    quantiles.sort_by(f64::total_cmp);
    quantiles.dedup();
    let points = quantiles
        .into_iter()
        .map(|q| {
            let index = ((q * last as f64).round() as usize).min(last);
            (micros(samples[index]), q * 100.0)
        })
        .collect();
    Some(points)
}

/// Draws CDF lines on a log x axis and a percentile y axis; `false` if there are none.
fn cdf_chart(path: &Path, title: &str, x_label: &str, series: Vec<Series>) -> Result<bool, String> {
    if series.is_empty() {
        return Ok(false);
    }
    let (x, _) = bounds(&series);
    let text = Text { title, x: x_label, y: "percentile (%)" };
    draw(path, &text, log_range(x).log_scale(), 0.0..100.0, &series, Mark::Line, Axis::Number, Axis::Number)?;
    Ok(true)
}

/// The collections a scatter shows: all of them up to [`SCATTER_POINTS`], else every
/// stride-th one plus the largest pauses (Invariant 4).
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

/// The x and y extent of every point (only called with at least one point).
fn bounds(series: &[Series]) -> (Range<f64>, Range<f64>) {
    let points = || series.iter().flat_map(|s| s.points.iter().copied());
    let fold = |get: fn((f64, f64)) -> f64| {
        points()
            .map(get)
            .fold(f64::INFINITY..f64::NEG_INFINITY, |range, v| range.start.min(v)..range.end.max(v))
    };
    (fold(|p| p.0), fold(|p| p.1))
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

/// How an axis labels its ticks.
#[derive(Clone, Copy)]
enum Axis {
    Number,
    Seconds,
    Bytes,
}

impl Axis {
    fn tick(self, value: f64) -> String {
        match self {
            Axis::Number | Axis::Seconds => {
                let magnitude = value.abs();
                if magnitude == 0.0 {
                    "0".to_owned()
                } else if !(1e-2..1e5).contains(&magnitude) {
                    format!("{value:.0e}")
                } else if magnitude >= 10.0 {
                    format!("{value:.0}")
                } else {
                    let text = format!("{value:.2}");
                    text.trim_end_matches('0').trim_end_matches('.').to_owned()
                }
            }
            Axis::Bytes => crate::table::metric("bytes", value),
        }
    }
}

/// Draws `series` into an SVG file at `path` (Invariant 2).
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
    let mut chart = ChartBuilder::on(&root)
        .caption(text.title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
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
    for s in series {
        let color = s.color;
        let drawn = match mark {
            Mark::Line => chart.draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2))),
            Mark::Dots => chart
                .draw_series(s.points.iter().map(|&point| Circle::new(point, 3, color.mix(0.6).filled()))),
            Mark::LineWithDots => {
                chart
                    .draw_series(s.points.iter().map(|&point| Circle::new(point, 4, color.filled())))
                    .map_err(|e| e.to_string())?;
                chart.draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))
            }
        }
        .map_err(|e| e.to_string())?;
        drawn.label(s.label.clone()).legend(move |(x, y)| {
            PathElement::new(
                vec![(x, y), (x + 18, y)],
                color.stroke_width(if mark == Mark::Dots { 6 } else { 2 }),
            )
        });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
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

    fn assert_svg(path: &Path, title: &str) {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(text.contains("<svg"), "{}", path.display());
        assert!(text.trim_end().ends_with("</svg>"), "{}", path.display());
        assert!(text.contains(title), "{}: no title '{title}'", path.display());
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
        let stw = [record("major", 0, 0)];
        let empty = BTreeMap::new();
        let runs = [
            RunData { heap: "per-process", gc_records: &records, histograms: &per_process },
            RunData { heap: "shared", gc_records: &stw, histograms: &shared },
            RunData { heap: "beam", gc_records: &[], histograms: &empty },
        ];
        let plots: Vec<RunPlot> = runs.into_iter().map(RunPlot::new).collect();
        let written = write_workload(dir.path(), "churn", &plots).unwrap();
        let names: Vec<String> =
            written.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(
            names,
            [
                "churn-latency-cdf.svg",
                "churn-gc-pause-cdf.svg",
                "churn-gc-pauses-over-time.svg",
                "churn-gc-pause-vs-heap.svg"
            ]
        );
        assert_svg(&written[0], "churn: latency CDF");
        assert_svg(&written[1], "churn: GC pause CDF");
        assert_svg(&written[2], "churn: GC pauses over time");
        assert_svg(&written[3], "churn: GC pause vs live heap");
        let latency = std::fs::read_to_string(&written[0]).unwrap();
        for needle in ["latency (µs, log scale)", "percentile (%)", "per-process", "shared"] {
            assert!(latency.contains(needle), "'{needle}' missing from the latency plot");
        }
        let over_time = std::fs::read_to_string(&written[2]).unwrap();
        assert!(over_time.contains("time since run start (s)"));
        assert!(over_time.contains(" of 10000 collections)"), "the legend says the plot is thinned");
    }

    #[test]
    fn runs_without_data_make_no_plots() {
        let dir = tempfile::tempdir().unwrap();
        let empty = BTreeMap::from([(GC_PAUSE_HISTOGRAM.to_owned(), DurationHistogram::new())]);
        let runs = [RunPlot::new(RunData { heap: "beam", gc_records: &[], histograms: &empty })];
        assert!(write_workload(dir.path(), "ring", &runs).unwrap().is_empty());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn cdf_lines_are_bounded_and_end_at_the_maximum() {
        let points = cdf_points(&histogram(1..=100_000)).unwrap();
        assert!(points.len() <= CDF_POINTS);
        assert_eq!(*points.last().unwrap(), (100.0, 100.0));
        assert!(points.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        let records: Vec<GcRecord> = (0..10 * SCATTER_POINTS as u64).map(|i| record("minor", i, i)).collect();
        let kept = thin(&records);
        assert!(kept.len() <= SCATTER_POINTS);
        assert_eq!(kept.iter().map(|r| r.duration_ns).max(), Some(10 * SCATTER_POINTS as u64 - 1));
        assert_eq!(Axis::Number.tick(1000.0), "1000");
        assert_eq!(Axis::Number.tick(0.5), "0.5");
        assert_eq!(Axis::Number.tick(1e6), "1e6");
    }
}
