//! Raw data as CSV (`--csv DIR`), for re-analysis outside heaplab: one row per garbage
//! collection in `gc_events.csv`, and one file per histogram with every recorded value.
//! [`read_dir`] reads a directory back (`compare` runs each workload in its own process and
//! plots from what that process wrote).
//!
//! # Invariants
//! 1. Every file starts with a header row; columns never change meaning, new columns are
//!    only appended.
//! 2. Times are integers in nanoseconds (`*_ns`) from the run's start, or exact decimal
//!    microseconds (`value_us`, three decimals, converted from the recorded nanoseconds).
//! 3. An unknown pid or scheduler is an empty cell, never a made-up 0.
//! 4. [`read_dir`] gives back exactly what [`write_dir`] was given (tested).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use heaplab_gc::GcKind;

use crate::gc_log::GcRecord;
use crate::histogram::DurationHistogram;

/// The header of `gc_events.csv`.
pub const GC_EVENTS_HEADER: &str = "kind,pid,scheduler,start_ns,duration_ns,words_before,\
words_after,words_copied,words_promoted,binaries_freed,reason,time_to_safepoint_ns,max_worker_words";

/// The file of the requests above p99 with where their time went (`attribution=on`; see
/// [`crate::attribution::requests_csv`]); not a histogram, so [`read_dir`] passes it by.
pub const TAIL_REQUESTS: &str = "tail_requests.csv";

/// `records` as the text of `gc_events.csv`.
pub fn gc_events_csv(records: &[GcRecord]) -> String {
    let mut text = String::with_capacity(64 * (records.len() + 1));
    text.push_str(GC_EVENTS_HEADER);
    text.push('\n');
    for record in records {
        let optional = |value: Option<u64>| value.map(|v| v.to_string()).unwrap_or_default();
        let _ = writeln!(
            text,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            record.kind,
            optional(record.pid),
            optional(record.scheduler.map(u64::from)),
            record.start_ns,
            record.duration_ns,
            record.words_before,
            record.words_after,
            record.words_copied,
            record.words_promoted,
            record.binaries_freed,
            record.reason,
            record.time_to_safepoint_ns,
            record.max_worker_words,
        );
    }
    text
}

/// The raw samples of `histogram` as CSV text: a `value_us` column in recording order.
pub fn samples_csv(histogram: &DurationHistogram) -> String {
    let mut text = String::with_capacity(16 * (histogram.raw_ns().len() + 1));
    text.push_str("value_us\n");
    for nanos in histogram.raw_ns() {
        let _ = writeln!(text, "{}.{:03}", nanos / 1000, nanos % 1000);
    }
    text
}

/// Writes `gc_events.csv` and one `<name>.csv` per histogram into `dir`, creating it if
/// needed. Returns the paths written.
///
/// # Errors
/// Any I/O error creating the directory or writing a file.
pub fn write_dir<'a>(
    dir: &Path,
    records: &[GcRecord],
    histograms: impl IntoIterator<Item = (&'a str, &'a DurationHistogram)>,
) -> io::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let path = dir.join("gc_events.csv");
    fs::write(&path, gc_events_csv(records))?;
    written.push(path);
    for (name, histogram) in histograms {
        let path = dir.join(format!("{name}.csv"));
        fs::write(&path, samples_csv(histogram))?;
        written.push(path);
    }
    Ok(written)
}

/// Reads back a directory [`write_dir`] wrote: the collections of `gc_events.csv` and every
/// other `<name>.csv` as histogram `name` (Invariant 4).
///
/// # Errors
/// An I/O error, or `InvalidData` naming the file and line that does not parse.
pub fn read_dir(dir: &Path) -> io::Result<(Vec<GcRecord>, BTreeMap<String, DurationHistogram>)> {
    let invalid = |path: &Path, why: String| {
        io::Error::new(io::ErrorKind::InvalidData, format!("{}: {why}", path.display()))
    };
    let mut records = Vec::new();
    let mut histograms = BTreeMap::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".csv"))
        else {
            continue;
        };
        if Some(name) == TAIL_REQUESTS.strip_suffix(".csv") {
            continue;
        }
        let text = fs::read_to_string(&path)?;
        if name == "gc_events" {
            records = parse_gc_events(&text).map_err(|why| invalid(&path, why))?;
        } else {
            histograms.insert(name.to_owned(), parse_samples(&text).map_err(|why| invalid(&path, why))?);
        }
    }
    Ok((records, histograms))
}

/// The records of a `gc_events.csv` text.
fn parse_gc_events(text: &str) -> Result<Vec<GcRecord>, String> {
    let mut lines = text.lines();
    if lines.next() != Some(GC_EVENTS_HEADER) {
        return Err("not the gc_events header".to_owned());
    }
    lines
        .enumerate()
        .map(|(i, line)| parse_gc_event(line).ok_or_else(|| format!("line {}: cannot read '{line}'", i + 2)))
        .collect()
}

fn parse_gc_event(line: &str) -> Option<GcRecord> {
    let cells: Vec<&str> = line.split(',').collect();
    let [kind, pid, scheduler, start, duration, before, after, copied, promoted, freed, reason, safepoint, worker] =
        cells.as_slice()
    else {
        return None;
    };
    let number = |cell: &str| cell.parse::<u64>().ok();
    let optional = |cell: &str| if cell.is_empty() { Some(None) } else { number(cell).map(Some) };
    Some(GcRecord {
        kind: GcKind::from_name(kind)?.as_str(),
        pid: optional(pid)?,
        scheduler: optional(scheduler)?.map(u32::try_from).transpose().ok()?,
        start_ns: number(start)?,
        duration_ns: number(duration)?,
        words_before: number(before)?,
        words_after: number(after)?,
        words_copied: number(copied)?,
        words_promoted: number(promoted)?,
        binaries_freed: number(freed)?,
        reason: (*reason).to_owned(),
        time_to_safepoint_ns: number(safepoint)?,
        max_worker_words: number(worker)?,
    })
}

/// The samples of a histogram's CSV text, in file order.
fn parse_samples(text: &str) -> Result<DurationHistogram, String> {
    let mut lines = text.lines();
    if lines.next() != Some("value_us") {
        return Err("not a value_us column".to_owned());
    }
    let mut histogram = DurationHistogram::new();
    for (i, line) in lines.enumerate() {
        let nanos = line
            .split_once('.')
            .filter(|(_, fraction)| fraction.len() == 3)
            .and_then(|(micros, fraction)| {
                Some(micros.parse::<u64>().ok()? * 1000 + fraction.parse::<u64>().ok()?)
            })
            .ok_or_else(|| format!("line {}: cannot read '{line}'", i + 2))?;
        histogram.record_ns(nanos);
    }
    Ok(histogram)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gc_log::tests::record;

    #[test]
    fn gc_events_have_a_header_and_one_row_each() {
        let mut second = record("major", 5_000, 2_000);
        second.pid = Some(7);
        second.scheduler = Some(1);
        let text = gc_events_csv(&[record("minor", 0, 1_000), second]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("kind,pid,scheduler,start_ns,duration_ns,"));
        assert_eq!(lines[1], "minor,,,0,1000,100,60,60,10,0,Requested,0,0");
        assert_eq!(lines[2], "major,7,1,5000,2000,100,60,60,10,0,Requested,0,0");
    }

    #[test]
    fn samples_are_exact_microseconds() {
        let mut histogram = DurationHistogram::new();
        histogram.record_ns(1_234_567);
        histogram.record_ns(5);
        assert_eq!(samples_csv(&histogram), "value_us\n1234.567\n0.005\n");
    }

    #[test]
    fn a_directory_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut second = record("major", 5_000, 2_000);
        (second.pid, second.scheduler, second.reason) = (Some(7), Some(1), "HeapFull".to_owned());
        // The hybrid heap's message-area collections read back too, with no pid.
        let records = vec![
            record("minor", 0, 1_000),
            second,
            record("area-minor", 9_000, 500),
            record("area-major", 12_000, 700),
        ];
        let mut pauses = DurationHistogram::new();
        for nanos in [1_234_567, 5, 0, 999] {
            pauses.record_ns(nanos);
        }
        let empty = DurationHistogram::new();
        write_dir(dir.path(), &records, [("gc_pause_us", &pauses), ("request_latency_us", &empty)]).unwrap();
        let (read, histograms) = read_dir(dir.path()).unwrap();
        assert_eq!(read, records);
        assert_eq!(histograms.keys().collect::<Vec<_>>(), ["gc_pause_us", "request_latency_us"]);
        assert_eq!(histograms["gc_pause_us"].raw_ns(), pauses.raw_ns());
        assert!(histograms["request_latency_us"].is_empty());
    }

    #[test]
    fn a_malformed_file_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("gc_pause_us.csv"), "value_us\n1.000\n2.5\n").unwrap();
        let error = read_dir(dir.path()).unwrap_err().to_string();
        assert!(error.contains("gc_pause_us.csv: line 3"), "{error}");
    }

    #[test]
    fn a_directory_gets_one_file_per_histogram() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("nested");
        let histogram = DurationHistogram::new();
        let written = write_dir(&out, &[], [("gc_pause_us", &histogram)]).unwrap();
        assert_eq!(written, [out.join("gc_events.csv"), out.join("gc_pause_us.csv")]);
        assert!(fs::read_to_string(&written[0]).unwrap().starts_with("kind,"));
    }
}
