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
//!    init stop`, where PARAMS is the proplist of the run's parameters.
//! 3. The module measures inside the VM (`erlang:monotonic_time`, `erlang:memory`) and
//!    prints one line of JSON: an object of metric names to numbers. Its last such line on
//!    stdout becomes the run's metrics; the directory is removed.
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
use std::time::{SystemTime, UNIX_EPOCH};

use crate::failure::Failure;
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
pub fn require(workload: &Workload) -> Result<(&'static Program, Tools), Failure> {
    let program = program(workload.name).ok_or_else(|| {
        let names: Vec<&str> = PROGRAMS.iter().map(|program| program.workload).collect();
        Failure::usage(format!(
            "workload '{}' has no Erlang version for --heap beam; workloads with one: {}",
            workload.name,
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
pub fn run(workload: &Workload, context: &RunContext) -> Result<Measurements, Failure> {
    let (program, tools) = require(workload)?;
    let dir = TempDir::new(program.module)?;
    let mut sources = Vec::new();
    for module in std::iter::once(program).chain(program.uses).chain([&SUPPORT]) {
        let source = dir.path().join(format!("{}.erl", module.module));
        std::fs::write(&source, module.source)
            .map_err(|e| Failure::run(format!("cannot write '{}': {e}", source.display())))?;
        sources.push(source);
    }

    let compiled = Command::new(&tools.erlc)
        .arg("-o")
        .arg(dir.path())
        .args(&sources)
        .output()
        .map_err(|e| Failure::run(format!("cannot run '{}': {e}", tools.erlc.display())))?;
    if !compiled.status.success() {
        return Err(Failure::run(format!(
            "erlc failed on {}.erl ({}): {}",
            program.module,
            compiled.status,
            last_lines(&compiled.stderr, &compiled.stdout)
        )));
    }

    let expression = format!("{}:main({})", program.module, proplist(&context.params));
    let output = Command::new(&tools.erl)
        .arg("-noshell")
        .arg("-pa")
        .arg(dir.path())
        .arg("+S")
        .arg(format!("{0}:{0}", context.schedulers))
        .arg("+P")
        .arg(process_limit(&context.params).to_string())
        .arg("-eval")
        .arg(&expression)
        .args(["-s", "init", "stop"])
        .output()
        .map_err(|e| Failure::run(format!("cannot run '{}': {e}", tools.erl.display())))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let metrics = stdout.lines().rev().find_map(parse_metrics).ok_or_else(|| {
        Failure::run(format!(
            "erl ran `{expression}` ({}) without printing a JSON line of metrics: {}",
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
    Ok(Measurements { metrics, histograms: BTreeMap::new() })
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

/// A line holding a JSON object whose values are all numbers, as metrics.
pub fn parse_metrics(line: &str) -> Option<BTreeMap<String, f64>> {
    let line = line.trim();
    if !line.starts_with('{') {
        return None;
    }
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line).ok()?;
    object.into_iter().map(|(name, value)| Some((name, value.as_f64()?))).collect()
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

/// A directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> Result<TempDir, Failure> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!("heaplab-{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path)
            .map_err(|e| Failure::run(format!("cannot create '{}': {e}", path.display())))?;
        Ok(TempDir(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
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
            let workload = crate::workload::find(workloads::ALL, program.workload).unwrap();
            assert!(program.source.contains(&format!("-module({}).", program.module)));
            assert!(program.source.contains("main/1"), "{}", program.module);
            for param in workload.params {
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
        let ring = crate::workload::find(workloads::ALL, "ring").unwrap();
        let params = Params::from_assignments("ring", ring.params, &["laps=3"]).unwrap();
        assert_eq!(proplist(&params), "[{copies,1},{laps,3},{payload,0},{processes,1000}]");
    }

    #[test]
    fn the_process_limit_covers_the_workload() {
        let ring = crate::workload::find(workloads::ALL, "ring").unwrap();
        let spawn = crate::workload::find(workloads::ALL, "spawn").unwrap();
        let small = Params::from_assignments("ring", ring.params, &["processes=10"]).unwrap();
        assert_eq!(process_limit(&small), MIN_PROCESS_LIMIT);
        let big = Params::from_assignments("spawn", spawn.params, &["processes=3000000"]).unwrap();
        assert_eq!(process_limit(&big), 3_000_000 + VM_PROCESSES);
    }

    #[test]
    fn metrics_are_read_from_a_json_line() {
        let metrics = parse_metrics(r#"{"ns_per_hop":512.5,"hops":1000}"#).unwrap();
        assert_eq!(metrics["ns_per_hop"], 512.5);
        assert_eq!(metrics["hops"], 1000.0);
        assert!(parse_metrics("Eshell V13").is_none());
        assert!(parse_metrics(r#"{"name":"x"}"#).is_none());
        assert!(parse_metrics("{not json").is_none());
    }

    #[test]
    fn workloads_without_an_erlang_version_are_refused() {
        let exit = crate::workload::find(workloads::ALL, "exit").unwrap();
        let failure = require(exit).unwrap_err();
        assert_eq!(failure.exit_code(), 2);
        assert_eq!(
            failure.message(),
            "workload 'exit' has no Erlang version for --heap beam; workloads with one: big, binaries, churn, churn-big, large-state, preempt, restart, ring, spawn"
        );
    }

    #[test]
    fn output_tails_fit_one_line() {
        assert_eq!(last_lines(b"", b""), "no output");
        assert_eq!(last_lines(b"a\n\nb\nc\nd\n", b"out"), "b | c | d");
        assert_eq!(last_lines(b"  \n", b"only stdout"), "only stdout");
    }
}
