//! External peers: a workload's version in another language, run by that language's own
//! runtime on the same machine (the BEAM, [`crate::beam`]; the JVM with a choice of
//! collector, [`crate::jvm`]; Go, [`crate::go`]), so a table has that runtime's column,
//! measured and reported as heaplab's own strategies are.
//!
//! A peer says how to check for its tools, compile a workload's version and start one pass
//! of it ([`Peer`]); this module holds what they share (the embedded sources, [`Program`];
//! finding tools, [`find_on_path`], [`require_tools`]), runs the passes, reads what they
//! print and builds the measurements, the same way for every peer.
//!
//! # Protocol
//! 1. [`Peer::require`], before anything runs: the peer has a version of the workload and
//!    its tools are installed; otherwise a usage failure saying how to install them
//!    (nothing is ever installed).
//! 2. [`run`]: [`Peer::prepare`] (compile) into a fresh temporary directory, timed as
//!    `peer_compile_s`.
//! 3. The passes, each a child process ([`Peer::pass`], [`crate::child`]). A peer whose
//!    collections are traced at a cost ([`Peer::traced_pass`]: the BEAM) runs two: untraced,
//!    then with every collection traced (tracing slows the traced processes: on `churn` it
//!    halves the BEAM's throughput). A peer whose collector logs its own pauses (the JVM's
//!    `-Xlog:gc*,safepoint`, Go's `GODEBUG=gctrace=1`: one line per pause or cycle) runs one
//!    pass with the log on, and [`Peer::collector_log`] parses it. Each pass prints one line
//!    (below); the last line that parses counts.
//! 4. The measurements: the untraced pass's metrics and samples (histograms); the
//!    collections, from the traced pass's tracer (with its counters `gc_events_dropped`,
//!    `gc_events_unfinished`, `gc_tracer_bytes`) or from the collector's log (with the
//!    metrics and histograms it gives, such as `safepoint_us`), into the run's GC log, for
//!    `gc_pause_us` and the `gc` totals. The report's `wall_s` is the untraced pass's workload
//!    time as the runtime measured it (`peer.wall_ns`: without compilation, VM start and
//!    stop); the rest is reported apart: `peer_start_stop_s` (the untraced process's running
//!    time less `wall_s`), `peer_traced_pass_s` (the traced process's running time, where
//!    there is one). `user_time_s`, `sys_time_s`, `minor_page_faults` and
//!    `major_page_faults` are the untraced process's getrusage figures. The runtime's
//!    versions go to the report's `provenance.peer`.
//!
//! # The line
//! One JSON object: metric names to numbers, and three optional fields that are not numbers:
//! - `"gc_events"`: `[[kind, pid, start_ns, duration_ns, words_before, words_after,
//!   old_words_before, old_words_after], ...]` ([`PeerGcEvent`]);
//! - `"samples"`: `{"request_latency_us": [ns, ...], ...}`, every recorded value in
//!   nanoseconds, so a peer's histograms are real histograms;
//! - `"peer"`: `{"runtime": "beam", "otp_release": "25", ..., "wall_ns": N}`.
//!
//! # Invariants
//! 1. A peer's report has the fields every report has: the same metric names as heaplab's
//!    version of the workload where the peer measures the same thing, a `gc_pause_us`
//!    histogram, and getrusage figures of the measured process.
//! 2. Every workload a peer lists has a program whose source reads exactly that workload's
//!    parameters with their defaults (tested per peer).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::child;
use crate::failure::Failure;
use crate::gc_log::GcRecord;
use crate::histogram::DurationHistogram;
use crate::params::ParamValue;
use crate::strategy::Strategy;
use crate::workload::{Measurements, RunContext, Workload};

/// An external runtime that runs versions of heaplab's workloads (module docs).
pub trait Peer: Sync {
    /// The `--heap` strategy that selects it.
    fn strategy(&self) -> Strategy;
    /// The runtime's name in messages (`BEAM`, `JVM`, `Go runtime`).
    fn runtime(&self) -> &'static str;
    /// Its versions of the workloads, in workload name order (Invariant 2).
    fn programs(&self) -> &'static [Program];
    /// The workloads it has a version of, in name order.
    fn workloads(&self) -> Vec<&'static str> {
        self.programs().iter().map(|program| program.workload).collect()
    }
    /// The version of workload `name`, if it has one.
    fn program(&self, name: &str) -> Option<&'static Program> {
        program_of(self.programs(), name)
    }
    /// Whether its tools are installed; else the one-line note saying how to get them.
    ///
    /// # Errors
    /// The note.
    fn tools(&self) -> Result<(), String>;
    /// The most scheduler threads it runs; more are capped to this with a note. By default
    /// `--schedulers`' own limit.
    fn max_schedulers(&self) -> u32 {
        MAX_SCHEDULERS
    }
    /// Checks the run's parameters against what the peer measures: by default, refuses
    /// `time_split=on`, which only heaplab's runtime measures (it times its sends), and
    /// `attribution=on` (it stamps wake-ups and slice starts).
    ///
    /// # Errors
    /// A usage failure for a parameter the peer cannot honour.
    fn check(&self, context: &RunContext) -> Result<(), Failure> {
        if crate::workloads::time_split_on(&context.params) {
            return Err(Failure::usage(format!(
                "time_split=on is measured on heaplab's runtime only: the {} does not time its sends",
                self.runtime()
            )));
        }
        if crate::workloads::attribution_on(&context.params) {
            return Err(Failure::usage(format!(
                "attribution=on is measured on heaplab's runtime only: the {} version of the \
                 workload does not record a request's moments",
                self.runtime()
            )));
        }
        Ok(())
    }
    /// Writes and compiles the workload's version into `dir` (Protocol step 2).
    ///
    /// # Errors
    /// A run failure when compiling fails.
    fn prepare(&self, workload: &dyn Workload, dir: &Path) -> Result<(), Failure>;
    /// The command of one pass (Protocol step 3).
    fn pass(&self, workload: &dyn Workload, dir: &Path, context: &RunContext, traced: bool) -> Command;
    /// The longest one pass may run before it is killed and the run fails.
    fn pass_limit(&self) -> Duration {
        PASS_LIMIT
    }
    /// Whether collections are traced in a second pass of their own (Protocol step 3); when
    /// false, the one pass logs them and [`Peer::collector_log`] reads the log.
    fn traced_pass(&self) -> bool {
        true
    }
    /// The collections a single pass logged, read from its directory or output (Protocol
    /// step 3).
    ///
    /// # Errors
    /// A run failure when the log cannot be read.
    fn collector_log(&self, dir: &Path, output: &std::process::Output) -> Result<CollectorLog, Failure> {
        let _ = (dir, output);
        Ok(CollectorLog::default())
    }

    /// Protocol step 1.
    ///
    /// # Errors
    /// A usage failure when the workload has no version here or the tools are missing.
    fn require(&self, workload: &dyn Workload) -> Result<(), Failure> {
        let names = self.workloads();
        if !names.contains(&workload.name()) {
            return Err(Failure::usage(format!(
                "workload '{}' has no version for --heap {}; workloads with one: {}",
                workload.name(),
                self.strategy(),
                names.join(", ")
            )));
        }
        self.tools().map_err(Failure::usage)
    }
}

/// The peer of `strategy`, if it is one.
pub fn of(strategy: Strategy) -> Option<&'static dyn Peer> {
    match strategy {
        Strategy::Beam => Some(&crate::beam::BEAM),
        Strategy::JvmParallel => Some(&crate::jvm::PARALLEL),
        Strategy::JvmG1 => Some(&crate::jvm::G1),
        Strategy::JvmZgc => Some(&crate::jvm::ZGC),
        Strategy::Go => Some(&crate::go::GO),
        Strategy::PerProcess | Strategy::Shared | Strategy::Hybrid => None,
    }
}

/// Each peer's column in a suite (`compare`, `reproduce`): run, or why not. `skipped`
/// names the command-line flag that leaves a peer out, if one does (`--no-jvm`); a peer
/// whose tools are missing is left out with its install note (nothing is installed).
pub fn columns(skipped: impl Fn(Strategy) -> Option<&'static str>) -> Vec<(Strategy, Result<(), String>)> {
    Strategy::ALL
        .into_iter()
        .filter_map(|strategy| of(strategy).map(|peer| (strategy, peer)))
        .map(|(strategy, peer)| {
            let status = match skipped(strategy) {
                Some(flag) => Err(format!("not run ({flag})")),
                None => peer.tools().map_err(|note| format!("not run ({note})")),
            };
            (strategy, status)
        })
        .collect()
}

/// The install notes of the peers [`columns`] left out for missing tools, one per tool:
/// `"<note>: the beam column is left out"`, `"<note>: the jvm-parallel, jvm-g1, jvm-zgc
/// columns are left out"`.
pub fn missing_notes(columns: &[(Strategy, Result<(), String>)]) -> Vec<String> {
    let mut notes: Vec<(String, Vec<&str>)> = Vec::new();
    for (strategy, status) in columns {
        let Some(note) = status.as_ref().err().and_then(|why| why.strip_prefix("not run (")) else {
            continue;
        };
        let note = note.strip_suffix(')').unwrap_or(note);
        if !note.contains("apt-get install") {
            continue;
        }
        match notes.iter_mut().find(|(n, _)| n == note) {
            Some((_, names)) => names.push(strategy.name()),
            None => notes.push((note.to_owned(), vec![strategy.name()])),
        }
    }
    notes
        .into_iter()
        .map(|(note, names)| {
            let columns = if names.len() == 1 { "column is" } else { "columns are" };
            format!("{note}: the {} {columns} left out", names.join(", "))
        })
        .collect()
}

/// The longest one pass of a workload may run: far above the longest run of the full
/// reproductions (a few minutes); a pass past it is killed and the run fails, so a hung
/// runtime cannot stall `compare` or `reproduce`.
pub const PASS_LIMIT: Duration = Duration::from_secs(30 * 60);

/// The most scheduler threads a peer is given by default (`--schedulers`' own limit).
pub const MAX_SCHEDULERS: u32 = 4096;

/// The longest a peer's compiler may take to compile a workload's sources.
pub const COMPILE_LIMIT: Duration = Duration::from_secs(300);

/// A workload's version in a peer's language, embedded in the binary (Invariant 2).
#[derive(Debug, Clone, Copy)]
pub struct Program {
    /// The heaplab workload it implements ("" for support code every program uses).
    pub workload: &'static str,
    /// What runs it: the Erlang module, the Java class, the Go workload name.
    pub name: &'static str,
    /// The source file's name, as written into the run's directory.
    pub file: &'static str,
    /// The source.
    pub source: &'static str,
    /// Other programs whose code this one calls, compiled beside it (`churn-big` runs
    /// `churn` with other defaults).
    pub uses: &'static [Program],
}

/// The program of `workload` in `programs`, if there is one.
pub fn program_of(programs: &'static [Program], workload: &str) -> Option<&'static Program> {
    programs.iter().find(|program| program.workload == workload)
}

/// Writes `program`'s source, those of the programs it uses and `support` into `dir`;
/// returns their paths, the program's first.
///
/// # Errors
/// A run failure naming the file that could not be written.
pub fn write_sources(
    program: &'static Program,
    support: &'static [Program],
    dir: &Path,
) -> Result<Vec<std::path::PathBuf>, Failure> {
    let mut paths = Vec::new();
    for source in std::iter::once(program).chain(program.uses).chain(support) {
        let path = dir.join(source.file);
        if paths.contains(&path) {
            continue;
        }
        std::fs::write(&path, source.source)
            .map_err(|e| Failure::run(format!("cannot write '{}': {e}", path.display())))?;
        paths.push(path);
    }
    Ok(paths)
}

/// Runs a compiler within [`COMPILE_LIMIT`]; a failure names what it compiled and its last
/// lines.
///
/// # Errors
/// A run failure when the compiler cannot run or fails.
pub fn compile(command: &mut Command, what: &str) -> Result<(), Failure> {
    let program = Path::new(command.get_program())
        .file_name()
        .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
    let compiled = child::output_within(command, COMPILE_LIMIT)?;
    if !compiled.status.success() {
        return Err(Failure::run(format!(
            "{program} failed on {what} ({}): {}",
            compiled.status,
            last_lines(&compiled.stderr, &compiled.stdout)
        )));
    }
    Ok(())
}

/// The note for a tool missing from the `PATH`, naming the package that has it (Protocol
/// step 1).
pub fn missing_tool(tool: &str, package: &str) -> String {
    format!("{tool} not found on PATH; install it with `apt-get install {package}` (nothing is installed automatically)")
}

/// Each of `tools` (name, the Debian package that has it) on the `PATH`, or the note for
/// the first one missing.
///
/// # Errors
/// The [`missing_tool`] note.
pub fn require_tools(tools: &[(&str, &str)]) -> Result<Vec<std::path::PathBuf>, String> {
    tools
        .iter()
        .map(|(tool, package)| find_on_path(tool).ok_or_else(|| missing_tool(tool, package)))
        .collect()
}

/// The first executable file called `name` in a directory of the `PATH`.
pub fn find_on_path(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// The run's parameters as `NAME=VALUE` arguments, in name order (the JVM's and Go's
/// programs read them so).
pub fn assignments(params: &crate::params::Params) -> Vec<String> {
    params.iter().map(|(name, value)| format!("{name}={value}")).collect()
}

/// The integer parameter `name` of `params`, 0 when it has none (a peer sizing its heap
/// or process limit from a parameter another workload lacks).
pub fn integer_param(params: &crate::params::Params, name: &str) -> u64 {
    params.iter().find(|(n, _)| *n == name).map_or(0, |(_, value)| match value {
        ParamValue::Integer(n) => n,
        ParamValue::Word(_) => 0,
    })
}

/// What a collector's own log says of a pass (Protocol step 3): every pause as a record,
/// and the figures the log gives beyond them.
#[derive(Debug, Default)]
pub struct CollectorLog {
    /// Every pause, in the order logged.
    pub records: Vec<GcRecord>,
    /// Metrics, e.g. `gc_cycles`, `safepoint_total_s`.
    pub metrics: BTreeMap<String, f64>,
    /// Histograms, e.g. `safepoint_us`, `allocation_stall_us`.
    pub histograms: BTreeMap<String, DurationHistogram>,
}

/// Protocol steps 2 to 4.
///
/// # Errors
/// A usage failure from [`Peer::require`] or [`Peer::check`]; a run failure when compiling
/// or a pass fails or prints no line; [`Failure::Interrupted`] on a signal.
pub fn run(peer: &dyn Peer, workload: &dyn Workload, context: &RunContext) -> Result<Measurements, Failure> {
    peer.require(workload)?;
    peer.check(context)?;
    let dir = child::TempDir::new(peer.strategy().name()).map_err(Failure::run)?;
    let compiling = Instant::now();
    peer.prepare(workload, dir.path())?;
    let compile_s = compiling.elapsed().as_secs_f64();

    let (untraced, untraced_run) = run_pass(peer, workload, dir.path(), context, false)?;
    let mut metrics = untraced.metrics;
    let mut histograms: BTreeMap<String, DurationHistogram> = untraced
        .samples
        .iter()
        .map(|(name, samples)| {
            let mut histogram = DurationHistogram::with_capacity(samples.len());
            for &ns in samples {
                histogram.record_ns(ns);
            }
            (name.clone(), histogram)
        })
        .collect();
    let runtime;
    if peer.traced_pass() {
        let (traced, traced_run) = run_pass(peer, workload, dir.path(), context, true)?;
        runtime =
            traced.versions.get("runtime").cloned().unwrap_or_else(|| peer.strategy().name().to_owned());
        for event in &traced.gc_events {
            context.gc_log.push(event.to_record(&runtime));
        }
        for name in ["gc_events_dropped", "gc_events_unfinished", "gc_tracer_bytes"] {
            if let Some(value) = traced.metrics.get(name) {
                metrics.insert(name.to_owned(), *value);
            }
        }
        metrics.insert("peer_traced_pass_s".to_owned(), traced_run.elapsed.as_secs_f64());
    } else {
        runtime =
            untraced.versions.get("runtime").cloned().unwrap_or_else(|| peer.strategy().name().to_owned());
        let log = peer.collector_log(dir.path(), &untraced_run.output)?;
        for record in log.records {
            context.gc_log.push(record);
        }
        metrics.extend(log.metrics);
        histograms.extend(log.histograms);
    }
    let process_s = untraced_run.elapsed.as_secs_f64();
    let wall_s = untraced.wall_ns.map_or(process_s, |ns| ns as f64 / 1e9);
    metrics.insert("peer_compile_s".to_owned(), compile_s);
    metrics.insert("peer_start_stop_s".to_owned(), (process_s - wall_s).max(0.0));
    for (name, value) in untraced_run.usage.metrics() {
        metrics.insert(name.to_owned(), value);
    }
    let mut versions = untraced.versions;
    versions.entry("runtime".to_owned()).or_insert(runtime);
    Ok(Measurements { metrics, histograms, wall_s: Some(wall_s), peer: versions, attribution: None })
}

/// Runs one pass and parses its line.
fn run_pass(
    peer: &dyn Peer,
    workload: &dyn Workload,
    dir: &Path,
    context: &RunContext,
    traced: bool,
) -> Result<(PeerOutput, child::Finished), Failure> {
    let mut command = peer.pass(workload, dir, context, traced);
    let shown = command_text(&command);
    let finished = child::run_within(&mut command, peer.pass_limit())?;
    let output = &finished.output;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let parsed = find_output(&stdout).map_err(|why| {
        Failure::run(format!(
            "{shown} ({}) printed no JSON line of metrics{why}: {}",
            output.status,
            last_lines(&output.stderr, &output.stdout)
        ))
    })?;
    if !output.status.success() {
        return Err(Failure::run(format!(
            "{shown} exited with {}: {}",
            output.status,
            last_lines(&output.stderr, &output.stdout)
        )));
    }
    Ok((parsed, finished))
}

/// A command as one line for a message: the program's name and what it ran (the `-eval`
/// expression for `erl`; the arguments otherwise).
fn command_text(command: &Command) -> String {
    let program = Path::new(command.get_program()).file_name().map_or_else(
        || command.get_program().to_string_lossy().into_owned(),
        |name| name.to_string_lossy().into_owned(),
    );
    let args: Vec<String> = command.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
    match args.iter().position(|a| a == "-eval").and_then(|i| args.get(i + 1)) {
        Some(expression) => format!("{program} ran `{expression}`"),
        None if args.is_empty() => program,
        None => format!("{program} ran `{}`", args.join(" ")),
    }
}

/// The field of the line holding the collections.
pub const GC_EVENTS_FIELD: &str = "gc_events";
/// The field of the line holding raw samples.
pub const SAMPLES_FIELD: &str = "samples";
/// The field of the line naming the runtime.
pub const PEER_FIELD: &str = "peer";

/// What a pass printed (the line, module docs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerOutput {
    /// Metric names to numbers.
    pub metrics: BTreeMap<String, f64>,
    /// Every collection its tracer recorded, in the order they ended.
    pub gc_events: Vec<PeerGcEvent>,
    /// Raw samples in nanoseconds, by histogram name.
    pub samples: BTreeMap<String, Vec<u64>>,
    /// The runtime and its versions (strings), from the `peer` field.
    pub versions: BTreeMap<String, String>,
    /// The workload's wall time measured inside the runtime, from the `peer` field.
    pub wall_ns: Option<u64>,
}

/// The `peer` field: strings, and the number `wall_ns`.
#[derive(Deserialize)]
#[serde(untagged)]
enum PeerValue {
    Text(String),
    Number(u64),
}

/// The kind of a collection (under the BEAM: `gc_minor_*` or `gc_major_*` trace events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerGcKind {
    /// A generational (young) collection.
    Minor,
    /// A fullsweep.
    Major,
}

/// One collection of the peer's runtime, the JSON array `[kind, pid, start_ns, duration_ns, words_before,
/// words_after, old_words_before, old_words_after]` (exactly those 8 elements; `kind` is
/// `"minor"` or `"major"`, the rest non-negative integers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct PeerGcEvent {
    /// Minor or major.
    pub kind: PeerGcKind,
    /// The process (under the BEAM `<0.Index.Serial>` as Index + Serial x 2^28, how heaplab
    /// prints pid numbers, see [`crate::trace::pid_name`]).
    pub pid: u64,
    /// Start, in nanoseconds since the tracer started.
    pub start_ns: u64,
    /// From the collection's start to its end, in nanoseconds.
    pub duration_ns: u64,
    /// `heap_size + old_heap_size + mbuf_size` at the start: words in use in both
    /// generations and in the message fragments the collection takes in.
    pub words_before: u64,
    /// `heap_size + old_heap_size` at the end.
    pub words_after: u64,
    /// `old_heap_size` at the start.
    pub old_words_before: u64,
    /// `old_heap_size` at the end.
    pub old_words_after: u64,
}

impl PeerGcEvent {
    /// The event as a record of the run's GC log, its reason the runtime's name. The trace tells no copy counts, so they
    /// are derived from the heap sizes: a major collection copies everything live
    /// (`words_copied` = `words_after`); a minor one copies the young generation's survivors,
    /// kept young or promoted (`words_after - old_words_before`), and promotes the growth of
    /// the old generation (`old_words_after - old_words_before`).
    pub fn to_record(&self, runtime: &str) -> GcRecord {
        let (kind, words_copied, words_promoted) = match self.kind {
            PeerGcKind::Minor => (
                "minor",
                self.words_after.saturating_sub(self.old_words_before),
                self.old_words_after.saturating_sub(self.old_words_before),
            ),
            PeerGcKind::Major => ("major", self.words_after, self.old_words_after),
        };
        GcRecord {
            kind,
            reason: runtime.to_owned(),
            pid: Some(self.pid),
            scheduler: None,
            start_ns: self.start_ns,
            duration_ns: self.duration_ns,
            words_before: self.words_before,
            words_after: self.words_after,
            words_copied,
            words_promoted,
            binaries_freed: 0,
            time_to_safepoint_ns: 0,
            max_worker_words: 0,
        }
    }
}

impl<'de> Deserialize<'de> for PeerOutput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(OutputVisitor)
    }
}

struct OutputVisitor;

impl<'de> Visitor<'de> for OutputVisitor {
    type Value = PeerOutput;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "an object of metric names to numbers, with optional `{GC_EVENTS_FIELD}`, `{SAMPLES_FIELD}` and `{PEER_FIELD}` fields"
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PeerOutput, A::Error> {
        let mut output = PeerOutput::default();
        let mut seen_events = false;
        while let Some(name) = map.next_key::<String>()? {
            if name == SAMPLES_FIELD {
                output.samples = map
                    .next_value::<BTreeMap<String, Vec<u64>>>()
                    .map_err(|e| de::Error::custom(format_args!("`{SAMPLES_FIELD}`: {e}")))?;
            } else if name == PEER_FIELD {
                let fields = map
                    .next_value::<BTreeMap<String, PeerValue>>()
                    .map_err(|e| de::Error::custom(format_args!("`{PEER_FIELD}`: {e}")))?;
                for (key, value) in fields {
                    match (key.as_str(), value) {
                        ("wall_ns", PeerValue::Number(ns)) => output.wall_ns = Some(ns),
                        (_, PeerValue::Text(text)) => {
                            output.versions.insert(key, text);
                        }
                        (_, PeerValue::Number(n)) => {
                            output.versions.insert(key, n.to_string());
                        }
                    }
                }
            } else if name == GC_EVENTS_FIELD {
                if seen_events {
                    return Err(de::Error::duplicate_field(GC_EVENTS_FIELD));
                }
                seen_events = true;
                output.gc_events = map
                    .next_value::<Vec<PeerGcEvent>>()
                    .map_err(|e| de::Error::custom(format_args!("`{GC_EVENTS_FIELD}`: {e}")))?;
            } else {
                let value = map
                    .next_value::<f64>()
                    .map_err(|e| de::Error::custom(format_args!("metric `{name}`: {e}")))?;
                if output.metrics.insert(name.clone(), value).is_some() {
                    return Err(de::Error::custom(format_args!("metric `{name}` appears twice")));
                }
            }
        }
        Ok(output)
    }
}

/// A line holding a JSON object of metric names to numbers, with the optional fields of the
/// module docs.
///
/// # Errors
/// What is wrong with the line, e.g. a metric that is not a number or an event that is not
/// an array of 8 elements.
pub fn parse_output(line: &str) -> Result<PeerOutput, String> {
    let line = line.trim();
    if !line.starts_with('{') {
        return Err("not a JSON object".to_owned());
    }
    serde_json::from_str(line).map_err(|e| e.to_string())
}

/// The last line of `stdout` that [`parse_output`] accepts. Else an error to append to
/// "without printing a JSON line of metrics": empty when no line looks like JSON, otherwise
/// why the last line that does was refused.
fn find_output(stdout: &str) -> Result<PeerOutput, String> {
    let mut refused = None;
    for line in stdout.lines().rev() {
        match parse_output(line) {
            Ok(output) => return Ok(output),
            Err(why) if refused.is_none() && line.trim_start().starts_with('{') => refused = Some(why),
            Err(_) => {}
        }
    }
    Err(refused.map(|why| format!(" (its last JSON line is malformed: {why})")).unwrap_or_default())
}

/// The last few non-empty lines of a command's output, on one line, for an error message.
pub(crate) fn last_lines(stderr: &[u8], stdout: &[u8]) -> String {
    let text = if stderr.iter().any(|b| !b.is_ascii_whitespace()) { stderr } else { stdout };
    let text = String::from_utf8_lossy(text);
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(3)..];
    if tail.is_empty() {
        "no output".to_owned()
    } else {
        tail.join(" | ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_read_from_a_json_line() {
        let output = parse_output(r#"{"ns_per_hop":512.5,"hops":1000}"#).unwrap();
        assert_eq!(output.metrics["ns_per_hop"], 512.5);
        assert_eq!(output.metrics["hops"], 1000.0);
        assert!(output.gc_events.is_empty());
        assert_eq!(parse_output("Eshell V13").unwrap_err(), "not a JSON object");
        let error = parse_output(r#"{"name":"x"}"#).unwrap_err();
        assert!(error.starts_with("metric `name`: invalid type: string \"x\", expected f64"), "{error}");
        assert!(parse_output("{not json").is_err());
        let error = parse_output(r#"{"hops":1,"hops":2}"#).unwrap_err();
        assert!(error.contains("metric `hops` appears twice"), "{error}");
    }

    const EVENTS_LINE: &str = r#"{"hops":100,"gc_events":[["minor",80,100282,5282,289,218,0,0],["major",268435537,108279,8493,289,180,0,0],["minor",80,119580,8690,364,364,0,180]],"gc_events_dropped":0}"#;

    #[test]
    fn gc_events_are_read_from_the_json_line() {
        let output = parse_output(EVENTS_LINE).unwrap();
        assert_eq!(output.metrics.len(), 2);
        assert_eq!(output.metrics["gc_events_dropped"], 0.0);
        assert_eq!(output.gc_events.len(), 3);
        assert_eq!(
            output.gc_events[0],
            PeerGcEvent {
                kind: PeerGcKind::Minor,
                pid: 80,
                start_ns: 100_282,
                duration_ns: 5282,
                words_before: 289,
                words_after: 218,
                old_words_before: 0,
                old_words_after: 0,
            }
        );
        assert_eq!(output.gc_events[1].kind, PeerGcKind::Major);
        assert_eq!(crate::trace::pid_name(output.gc_events[1].pid), "<0.81.1>");
        assert!(parse_output(r#"{"gc_events":[]}"#).unwrap().gc_events.is_empty());
    }

    #[test]
    fn malformed_gc_events_are_refused_with_the_reason() {
        let cases = [
            (r#"{"gc_events":[["minor",1,2,3,4,5,6]]}"#, "`gc_events`: invalid length 7"),
            (r#"{"gc_events":[["minor",1,2,3,4,5,6,7,8]]}"#, "`gc_events`: "),
            (r#"{"gc_events":[["full",1,2,3,4,5,6,7]]}"#, "`gc_events`: unknown variant `full`"),
            (r#"{"gc_events":[["minor",-1,2,3,4,5,6,7]]}"#, "`gc_events`: invalid value: integer `-1`"),
            (r#"{"gc_events":[["minor",1,2.5,3,4,5,6,7]]}"#, "`gc_events`: invalid type: floating point"),
            (r#"{"gc_events":{"minor":1}}"#, "`gc_events`: invalid type: map"),
            (r#"{"gc_events":7}"#, "`gc_events`: invalid type: integer"),
            (r#"{"gc_events":[],"gc_events":[]}"#, "duplicate field `gc_events`"),
        ];
        for (line, expected) in cases {
            let error = parse_output(line).unwrap_err();
            assert!(error.contains(expected), "{line}: {error}");
        }
        let stdout = format!("{}\n{}\n", r#"{"hops":1}"#, r#"{"gc_events":[["minor"]]}"#);
        // An earlier well-formed line still counts (as before: the last line that parses).
        assert_eq!(find_output(&stdout).unwrap().metrics["hops"], 1.0);
        let error = find_output(r#"{"gc_events":[["minor"]]}"#).unwrap_err();
        assert!(
            error.starts_with(" (its last JSON line is malformed: `gc_events`: invalid length 1"),
            "{error}"
        );
        assert_eq!(find_output("Eshell V13\nno metrics\n").unwrap_err(), "");
    }

    #[test]
    fn gc_events_become_records_the_report_counts() {
        let output = parse_output(EVENTS_LINE).unwrap();
        let records: Vec<GcRecord> = output.gc_events.iter().map(|event| event.to_record("beam")).collect();
        let minor = &records[0];
        assert_eq!((minor.kind, minor.pid, minor.scheduler), ("minor", Some(80), None));
        assert_eq!((minor.start_ns, minor.duration_ns), (100_282, 5282));
        assert_eq!((minor.words_before, minor.words_after, minor.words_copied), (289, 218, 218));
        assert_eq!(minor.words_promoted, 0);
        let major = &records[1];
        assert_eq!((major.kind, major.words_copied, major.words_promoted), ("major", 180, 0));
        // A minor collection that promotes: every survivor is copied, and the old
        // generation grows from 0 to 180 words.
        let promoting = &records[2];
        assert_eq!((promoting.words_copied, promoting.words_promoted), (364, 180));

        let summary = crate::gc_log::summarize(&records);
        assert_eq!((summary.minor, summary.major), (2, 1));
        assert_eq!(summary.words_copied, 218 + 180 + 364);
        assert!((summary.gc_time_s - (5282.0 + 8493.0 + 8690.0) / 1e9).abs() < 1e-15);
        let pauses = crate::gc_log::pause_histogram(&records);
        assert_eq!(pauses.raw_ns(), [5282, 8493, 8690]);
        assert!((pauses.summary().max - 8.69).abs() < 0.01, "{:?}", pauses.summary());

        let log = crate::gc_log::GcLog::new();
        for record in &records {
            log.push(record.clone());
        }
        assert_eq!(log.take(), records);
    }

    #[test]
    fn output_tails_fit_one_line() {
        assert_eq!(last_lines(b"", b""), "no output");
        assert_eq!(last_lines(b"a\n\nb\nc\nd\n", b"out"), "b | c | d");
        assert_eq!(last_lines(b"  \n", b"only stdout"), "only stdout");
    }
    #[test]
    fn samples_and_the_peer_field_are_read() {
        let line = r#"{"hops":1,"samples":{"request_latency_us":[1000,2500]},"peer":{"runtime":"beam","otp_release":"25","wall_ns":1500000}}"#;
        let output = parse_output(line).unwrap();
        assert_eq!(output.metrics.len(), 1);
        assert_eq!(output.samples["request_latency_us"], [1000, 2500]);
        assert_eq!(output.versions["runtime"], "beam");
        assert_eq!(output.versions["otp_release"], "25");
        assert_eq!(output.wall_ns, Some(1_500_000));
        let error = parse_output(r#"{"samples":{"x_us":[1.5]}}"#).unwrap_err();
        assert!(error.contains("`samples`"), "{error}");
        let error = parse_output(r#"{"peer":{"runtime":[1]}}"#).unwrap_err();
        assert!(error.contains("`peer`"), "{error}");
    }
}
