//! The BEAM column: runs the Erlang version of a workload under the real BEAM (`erl`) on the
//! same machine, so every table can show the reference implementation next to heaplab.
//!
//! The Erlang sources live in `bench/erlang/` and are embedded in the binary, so an installed
//! `heaplab` needs nothing but `erl` and `erlc` on the `PATH`.
//!
//! # Protocol
//! 1. [`require`] (before anything runs): the workload has an Erlang version, and `erl` and
//!    `erlc` are on the `PATH`. Otherwise a usage failure; nothing is ever installed.
//! 2. [`run`]: write the module's source, the sources of the modules it uses and
//!    [`SUPPORT`] into a fresh temporary directory, compile them with `erlc`, and run `erl -noshell -pa DIR +S N:N +P LIMIT -eval 'MODULE:main(PARAMS)' -s
//!    init stop`, where PARAMS is the proplist of the run's parameters. A pass still running
//!    after [`PASS_LIMIT`] is killed and the run fails ([`crate::child`]).
//! 3. The module measures inside the VM (`erlang:monotonic_time`, `erlang:memory`) and
//!    prints one line of JSON: an object of metric names to numbers, plus one `gc_events`
//!    field, the collections its GC tracer saw ([`BeamGcEvent`], see
//!    `heaplab_report:gc_trace_start/0`). Its last such line on stdout becomes the run's
//!    metrics, and each event a [`GcRecord`] in the run's GC log, from which the report's
//!    `gc` totals and `gc_pause_us` come as for any strategy; the directory is removed.
//!
//! # Measurement passes
//! Tracing every collection costs the traced processes two trace messages per collection:
//! on `churn` it halves the BEAM's throughput. So [`run`] runs the module twice, with
//! `-heaplab_gc_trace off` and then `on`: the workload's metrics (latency, throughput,
//! memory) come from the untraced pass, the collections (and the tracer's own counters
//! `gc_events_dropped`, `gc_events_unfinished`, `gc_tracer_bytes`) from the traced one. The
//! report's `wall_s` covers both passes and the compilation.
//!
//! # Invariants
//! 1. Every workload listed in [`PROGRAMS`] exists in the workload table and its Erlang
//!    module takes exactly that workload's parameters (tested).
//! 2. The emulator's process limit (`+P`) leaves room for the workload's processes plus the
//!    VM's own, so a run never fails on the limit that heaplab does not have.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::child;
use crate::failure::Failure;
use crate::gc_log::GcRecord;
use crate::params::{ParamValue, Params};
use crate::workload::{Measurements, RunContext, Workload};

/// The message for a missing `erl` (Protocol step 1).
pub const ERL_MISSING: &str =
    "erl not found on PATH; install it with `apt-get install erlang-base` (nothing is installed automatically)";

/// The Erlang version of a workload.
#[derive(Debug, Clone, Copy)]
pub struct Program {
    /// The heaplab workload it implements.
    pub workload: &'static str,
    /// The Erlang module name; the source is `<module>.erl`.
    pub module: &'static str,
    /// The module's source.
    pub source: &'static str,
    /// Other programs whose modules this one calls, compiled beside it (`churn-big` runs
    /// `heaplab_churn` with other defaults).
    pub uses: &'static [Program],
}

/// The churn program, whose servers and clients `churn-big` and `large-state` use too.
const CHURN: Program = Program {
    workload: "churn",
    module: "heaplab_churn",
    source: include_str!("../bench/erlang/heaplab_churn.erl"),
    uses: &[],
};

/// Every workload with an Erlang version, in workload name order (Invariant 1).
pub const PROGRAMS: &[Program] = &[
    Program {
        workload: "alloc",
        module: "heaplab_alloc",
        source: include_str!("../bench/erlang/heaplab_alloc.erl"),
        uses: &[],
    },
    Program {
        workload: "big",
        module: "heaplab_big",
        source: include_str!("../bench/erlang/heaplab_big.erl"),
        uses: &[],
    },
    Program {
        workload: "binaries",
        module: "heaplab_binaries",
        source: include_str!("../bench/erlang/heaplab_binaries.erl"),
        uses: &[],
    },
    CHURN,
    Program {
        workload: "churn-big",
        module: "heaplab_churn_big",
        source: include_str!("../bench/erlang/heaplab_churn_big.erl"),
        uses: &[CHURN],
    },
    Program {
        workload: "exit",
        module: "heaplab_exit",
        source: include_str!("../bench/erlang/heaplab_exit.erl"),
        uses: &[],
    },
    Program {
        workload: "gc-copy",
        module: "heaplab_gc_copy",
        source: include_str!("../bench/erlang/heaplab_gc_copy.erl"),
        uses: &[],
    },
    Program {
        workload: "large-state",
        module: "heaplab_large_state",
        source: include_str!("../bench/erlang/heaplab_large_state.erl"),
        uses: &[CHURN],
    },
    Program {
        workload: "preempt",
        module: "heaplab_preempt",
        source: include_str!("../bench/erlang/heaplab_preempt.erl"),
        uses: &[],
    },
    Program {
        workload: "restart",
        module: "heaplab_restart",
        source: include_str!("../bench/erlang/heaplab_restart.erl"),
        uses: &[],
    },
    Program {
        workload: "ring",
        module: "heaplab_ring",
        source: include_str!("../bench/erlang/heaplab_ring.erl"),
        uses: &[],
    },
    Program {
        workload: "spawn",
        module: "heaplab_spawn",
        source: include_str!("../bench/erlang/heaplab_spawn.erl"),
        uses: &[],
    },
];

/// Helpers every program calls (`heaplab_report:vm_kb/1`, `print_json/1`), compiled beside it.
pub const SUPPORT: Program = Program {
    workload: "",
    module: "heaplab_report",
    source: include_str!("../bench/erlang/heaplab_report.erl"),
    uses: &[],
};

/// The smallest `+P` passed to the emulator: the BEAM's default.
const MIN_PROCESS_LIMIT: u64 = 1 << 20;

/// The longest `erlc` may take to compile a workload's modules.
const COMPILE_LIMIT: Duration = Duration::from_secs(300);

/// The longest one pass of a workload may run under `erl`: far above the longest run of the
/// full reproductions (a few minutes); a pass past it is killed and the run fails, so a hung
/// VM cannot stall `compare` or `reproduce`.
pub const PASS_LIMIT: Duration = Duration::from_secs(30 * 60);
/// Processes the VM itself may run besides the workload's (Invariant 2).
const VM_PROCESSES: u64 = 10_000;
/// The emulator's largest `+P`.
const MAX_PROCESS_LIMIT: u64 = 134_217_727;

/// The `erl` and `erlc` executables found on the `PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    /// The emulator front end.
    pub erl: PathBuf,
    /// The compiler.
    pub erlc: PathBuf,
}

/// The Erlang version of `workload`, if there is one.
pub fn program(workload: &str) -> Option<&'static Program> {
    PROGRAMS.iter().find(|program| program.workload == workload)
}

/// Protocol step 1: the workload's Erlang program and the tools to run it.
///
/// # Errors
/// A usage failure when the workload has no Erlang version, or when `erl` or `erlc` is not
/// on the `PATH` ([`ERL_MISSING`]).
pub fn require(workload: &dyn Workload) -> Result<(&'static Program, Tools), Failure> {
    let program = program(workload.name()).ok_or_else(|| {
        let names: Vec<&str> = PROGRAMS.iter().map(|program| program.workload).collect();
        Failure::usage(format!(
            "workload '{}' has no Erlang version for --heap beam; workloads with one: {}",
            workload.name(),
            names.join(", ")
        ))
    })?;
    let erl = find_on_path("erl").ok_or_else(|| Failure::usage(ERL_MISSING))?;
    let erlc = find_on_path("erlc").ok_or_else(|| {
        Failure::usage(format!(
            "erlc not found on PATH (erl is at {}); install it with `apt-get install erlang-base` \
             (nothing is installed automatically)",
            erl.display()
        ))
    })?;
    Ok((program, Tools { erl, erlc }))
}

/// The first executable file called `name` in a directory of the `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
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

/// Protocol steps 2 and 3: runs `workload`'s Erlang version with the context's parameters
/// and schedulers and returns the metrics it printed.
///
/// # Errors
/// A usage failure from [`require`]; a run failure when compiling or running fails or the
/// program prints no JSON line.
pub fn run(workload: &dyn Workload, context: &RunContext) -> Result<Measurements, Failure> {
    let (program, tools) = require(workload)?;
    if crate::workloads::time_split_on(&context.params) {
        return Err(Failure::usage(
            "time_split=on is measured on heaplab's runtime only: the BEAM does not time its sends",
        ));
    }
    let dir = child::TempDir::new(program.module).map_err(Failure::run)?;
    let mut sources = Vec::new();
    for module in std::iter::once(program).chain(program.uses).chain([&SUPPORT]) {
        let source = dir.path().join(format!("{}.erl", module.module));
        std::fs::write(&source, module.source)
            .map_err(|e| Failure::run(format!("cannot write '{}': {e}", source.display())))?;
        sources.push(source);
    }

    let compiled = child::output_within(
        Command::new(&tools.erlc).arg("-o").arg(dir.path()).args(&sources),
        COMPILE_LIMIT,
    )
    .map_err(Failure::run)?;
    if !compiled.status.success() {
        return Err(Failure::run(format!(
            "erlc failed on {}.erl ({}): {}",
            program.module,
            compiled.status,
            last_lines(&compiled.stderr, &compiled.stdout)
        )));
    }

    // Two passes (see "Measurement passes" in the module docs): the workload's own
    // figures from an untraced run, then the collections from a traced one.
    let untraced = run_pass(program, &tools, dir.path(), context, Pass::Untraced)?;
    let traced = run_pass(program, &tools, dir.path(), context, Pass::Traced)?;
    for event in &traced.gc_events {
        context.gc_log.push(event.to_record());
    }
    let mut metrics = untraced.metrics;
    for name in ["gc_events_dropped", "gc_events_unfinished", "gc_tracer_bytes"] {
        if let Some(value) = traced.metrics.get(name) {
            metrics.insert(name.to_owned(), *value);
        }
    }
    Ok(Measurements { metrics, histograms: BTreeMap::new() })
}

/// One run of an Erlang workload: with its collections traced or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    Untraced,
    Traced,
}

/// Runs the compiled `program` once and parses its line of output.
fn run_pass(
    program: &Program,
    tools: &Tools,
    dir: &std::path::Path,
    context: &RunContext,
    pass: Pass,
) -> Result<BeamOutput, Failure> {
    let expression = format!("{}:main({})", program.module, proplist(&context.params));
    let mut command = Command::new(&tools.erl);
    command
        .arg("-noshell")
        .args(["-heaplab_gc_trace", if pass == Pass::Traced { "on" } else { "off" }])
        .arg("-pa")
        .arg(dir)
        .arg("+S")
        .arg(format!("{0}:{0}", context.schedulers))
        .arg("+P")
        .arg(process_limit(&context.params).to_string())
        .arg("-eval")
        .arg(&expression)
        .args(["-s", "init", "stop"]);
    let output = child::output_within(&mut command, PASS_LIMIT).map_err(Failure::run)?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let parsed = find_output(&stdout).map_err(|why| {
        Failure::run(format!(
            "erl ran `{expression}` ({}) without printing a JSON line of metrics{why}: {}",
            output.status,
            last_lines(&output.stderr, &output.stdout)
        ))
    })?;
    if !output.status.success() {
        return Err(Failure::run(format!(
            "erl ran `{expression}` but exited with {}: {}",
            output.status,
            last_lines(&output.stderr, &output.stdout)
        )));
    }
    Ok(parsed)
}

/// The run's parameters as an Erlang proplist: `[{processes,1000},{kind,'major'}]`.
pub fn proplist(params: &Params) -> String {
    let mut text = String::from("[");
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        let _ = match value {
            ParamValue::Integer(n) => write!(text, "{{{name},{n}}}"),
            ParamValue::Word(word) => write!(text, "{{{name},'{word}'}}"),
        };
    }
    text.push(']');
    text
}

/// `+P` for a run (Invariant 2).
fn process_limit(params: &Params) -> u64 {
    let processes =
        params.iter().find(|(name, _)| *name == "processes").map_or(0, |(_, value)| match value {
            ParamValue::Integer(n) => n,
            ParamValue::Word(_) => 0,
        });
    (processes + VM_PROCESSES).clamp(MIN_PROCESS_LIMIT, MAX_PROCESS_LIMIT)
}

/// The name of the one field of the JSON line that is not a number.
pub const GC_EVENTS_FIELD: &str = "gc_events";

/// What an Erlang program printed: its metrics and the collections it traced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BeamOutput {
    /// Metric names to numbers.
    pub metrics: BTreeMap<String, f64>,
    /// Every collection its tracer recorded, in the order they ended.
    pub gc_events: Vec<BeamGcEvent>,
}

/// The kind of a BEAM collection: `gc_minor_*` or `gc_major_*` trace events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BeamGcKind {
    /// A generational (young) collection.
    Minor,
    /// A fullsweep.
    Major,
}

/// One BEAM collection, the JSON array `[kind, pid, start_ns, duration_ns, words_before,
/// words_after, old_words_before, old_words_after]` (exactly those 8 elements; `kind` is
/// `"minor"` or `"major"`, the rest non-negative integers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct BeamGcEvent {
    /// Minor or major.
    pub kind: BeamGcKind,
    /// The process, `<0.Index.Serial>` as Index + Serial x 2^28 (how heaplab prints pid
    /// numbers, see [`crate::trace::pid_name`]).
    pub pid: u64,
    /// Start (the `gc_*_start` event), in nanoseconds since the tracer started.
    pub start_ns: u64,
    /// From the `gc_*_start` event to the `gc_*_end` event, in nanoseconds.
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

impl BeamGcEvent {
    /// The event as a record of the run's GC log. The trace tells no copy counts, so they
    /// are derived from the heap sizes: a major collection copies everything live
    /// (`words_copied` = `words_after`); a minor one copies the young generation's survivors,
    /// kept young or promoted (`words_after - old_words_before`), and promotes the growth of
    /// the old generation (`old_words_after - old_words_before`).
    pub fn to_record(&self) -> GcRecord {
        let (kind, words_copied, words_promoted) = match self.kind {
            BeamGcKind::Minor => (
                "minor",
                self.words_after.saturating_sub(self.old_words_before),
                self.old_words_after.saturating_sub(self.old_words_before),
            ),
            BeamGcKind::Major => ("major", self.words_after, self.old_words_after),
        };
        GcRecord {
            kind,
            reason: "beam".to_owned(),
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

impl<'de> Deserialize<'de> for BeamOutput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(OutputVisitor)
    }
}

struct OutputVisitor;

impl<'de> Visitor<'de> for OutputVisitor {
    type Value = BeamOutput;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "an object of metric names to numbers, with an optional `{GC_EVENTS_FIELD}` array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BeamOutput, A::Error> {
        let mut output = BeamOutput::default();
        let mut seen_events = false;
        while let Some(name) = map.next_key::<String>()? {
            if name == GC_EVENTS_FIELD {
                if seen_events {
                    return Err(de::Error::duplicate_field(GC_EVENTS_FIELD));
                }
                seen_events = true;
                output.gc_events = map
                    .next_value::<Vec<BeamGcEvent>>()
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

/// A line holding a JSON object of metric names to numbers, with an optional `gc_events`
/// array of [`BeamGcEvent`]s.
///
/// # Errors
/// What is wrong with the line, e.g. a metric that is not a number or an event that is not
/// an array of 8 elements.
pub fn parse_output(line: &str) -> Result<BeamOutput, String> {
    let line = line.trim();
    if !line.starts_with('{') {
        return Err("not a JSON object".to_owned());
    }
    serde_json::from_str(line).map_err(|e| e.to_string())
}

/// The last line of `stdout` that [`parse_output`] accepts. Else an error to append to
/// "without printing a JSON line of metrics": empty when no line looks like JSON, otherwise
/// why the last line that does was refused.
fn find_output(stdout: &str) -> Result<BeamOutput, String> {
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
fn last_lines(stderr: &[u8], stdout: &[u8]) -> String {
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
    use crate::workloads;

    #[test]
    fn every_program_names_a_workload_and_its_module() {
        let names: Vec<&str> = PROGRAMS.iter().map(|program| program.workload).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        for program in PROGRAMS {
            let workload = crate::workload::find(program.workload).unwrap();
            assert!(program.source.contains(&format!("-module({}).", program.module)));
            assert!(program.source.contains("main/1"), "{}", program.module);
            for param in workload.params() {
                let pattern = format!("proplists:get_value({}, Params, {})", param.name, param.default);
                assert!(program.source.contains(&pattern), "{}: {pattern}", program.module);
            }
            for used in program.uses {
                assert!(PROGRAMS.iter().any(|p| p.module == used.module), "{}", used.module);
                let call = format!("{}:", used.module);
                assert!(program.source.contains(&call), "{} does not call {}", program.module, used.module);
            }
        }
    }

    #[test]
    fn parameters_become_a_proplist() {
        let ring = crate::workload::find("ring").unwrap();
        let params = Params::from_assignments("ring", ring.params(), &["laps=3"]).unwrap();
        assert_eq!(
            proplist(&params),
            "[{copies,1},{laps,3},{payload,0},{processes,1000},{time_split,'off'}]"
        );
    }

    #[test]
    fn the_process_limit_covers_the_workload() {
        let ring = crate::workload::find("ring").unwrap();
        let spawn = crate::workload::find("spawn").unwrap();
        let small = Params::from_assignments("ring", ring.params(), &["processes=10"]).unwrap();
        assert_eq!(process_limit(&small), MIN_PROCESS_LIMIT);
        let big = Params::from_assignments("spawn", spawn.params(), &["processes=3000000"]).unwrap();
        assert_eq!(process_limit(&big), 3_000_000 + VM_PROCESSES);
    }

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
            BeamGcEvent {
                kind: BeamGcKind::Minor,
                pid: 80,
                start_ns: 100_282,
                duration_ns: 5282,
                words_before: 289,
                words_after: 218,
                old_words_before: 0,
                old_words_after: 0,
            }
        );
        assert_eq!(output.gc_events[1].kind, BeamGcKind::Major);
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
        let records: Vec<GcRecord> = output.gc_events.iter().map(BeamGcEvent::to_record).collect();
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
    fn every_workload_has_an_erlang_version() {
        let programs: Vec<&str> = PROGRAMS.iter().map(|p| p.workload).collect();
        let workloads: Vec<&str> = workloads::ALL.iter().map(|w| w.name()).collect();
        assert_eq!(programs, workloads);
    }

    #[test]
    fn output_tails_fit_one_line() {
        assert_eq!(last_lines(b"", b""), "no output");
        assert_eq!(last_lines(b"a\n\nb\nc\nd\n", b"out"), "b | c | d");
        assert_eq!(last_lines(b"  \n", b"only stdout"), "only stdout");
    }
}
