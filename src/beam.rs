//! The BEAM column: the Erlang version of a workload under the real BEAM (`erl`) on the same
//! machine, so every table can show the reference implementation next to heaplab. The BEAM
//! is a [`Peer`]: [`crate::peer`] runs the passes and builds the measurements; this module
//! says how to compile and start them.
//!
//! The Erlang sources live in `peers/erlang/` and are embedded in the binary, so an installed
//! `heaplab` needs nothing but `erl` and `erlc` on the `PATH`.
//!
//! # Protocol
//! 1. [`tools`]: `erl` and `erlc` are on the `PATH`; otherwise the note of
//!    [`peer::missing_tool`] (`erl not found on PATH; install it with `apt-get install
//!    erlang-base``); nothing is ever installed.
//! 2. [`Beam::prepare`]: write the module's source, the sources of the modules it uses and
//!    [`SUPPORT`] into the run's directory and compile them with `erlc`.
//! 3. [`Beam::pass`]: `erl -noshell -heaplab_gc_trace off|on -pa DIR +S N:N +P LIMIT -eval
//!    'heaplab_report:run(MODULE, PARAMS)' -s init stop`, where PARAMS is the proplist of the
//!    run's parameters; `heaplab_report:run/2` times `MODULE:main/1` inside the VM, and the
//!    module prints the line of the peer protocol (`heaplab_report:print_json/1`).
//!
//! # Invariants
//! 1. Every workload listed in [`PROGRAMS`] exists in the workload table and its Erlang
//!    module takes exactly that workload's parameters (tested).
//! 2. The emulator's process limit (`+P`) leaves room for the workload's processes plus the
//!    VM's own, so a run never fails on the limit that heaplab does not have.
//! 3. `+S` never exceeds [`MAX_SCHEDULERS`], the emulator's own limit.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::failure::Failure;
use crate::params::{ParamValue, Params};
use crate::peer::{self, find_on_path, Peer, Program};
use crate::strategy::Strategy;
use crate::workload::{RunContext, Workload};

/// The Debian package with `erl` and `erlc`.
pub const PACKAGE: &str = "erlang-base";

/// The churn program, whose servers and clients `churn-big` and `large-state` use too.
const CHURN: Program = Program {
    workload: "churn",
    name: "heaplab_churn",
    file: "heaplab_churn.erl",
    source: include_str!("../peers/erlang/heaplab_churn.erl"),
    uses: &[],
};

/// Every workload with an Erlang version, in workload name order (Invariant 1).
pub const PROGRAMS: &[Program] = &[
    Program {
        workload: "alloc",
        name: "heaplab_alloc",
        file: "heaplab_alloc.erl",
        source: include_str!("../peers/erlang/heaplab_alloc.erl"),
        uses: &[],
    },
    Program {
        workload: "big",
        name: "heaplab_big",
        file: "heaplab_big.erl",
        source: include_str!("../peers/erlang/heaplab_big.erl"),
        uses: &[],
    },
    Program {
        workload: "binaries",
        name: "heaplab_binaries",
        file: "heaplab_binaries.erl",
        source: include_str!("../peers/erlang/heaplab_binaries.erl"),
        uses: &[],
    },
    CHURN,
    Program {
        workload: "churn-big",
        name: "heaplab_churn_big",
        file: "heaplab_churn_big.erl",
        source: include_str!("../peers/erlang/heaplab_churn_big.erl"),
        uses: &[CHURN],
    },
    Program {
        workload: "exit",
        name: "heaplab_exit",
        file: "heaplab_exit.erl",
        source: include_str!("../peers/erlang/heaplab_exit.erl"),
        uses: &[],
    },
    Program {
        workload: "gc-copy",
        name: "heaplab_gc_copy",
        file: "heaplab_gc_copy.erl",
        source: include_str!("../peers/erlang/heaplab_gc_copy.erl"),
        uses: &[],
    },
    Program {
        workload: "large-state",
        name: "heaplab_large_state",
        file: "heaplab_large_state.erl",
        source: include_str!("../peers/erlang/heaplab_large_state.erl"),
        uses: &[CHURN],
    },
    Program {
        workload: "preempt",
        name: "heaplab_preempt",
        file: "heaplab_preempt.erl",
        source: include_str!("../peers/erlang/heaplab_preempt.erl"),
        uses: &[],
    },
    Program {
        workload: "restart",
        name: "heaplab_restart",
        file: "heaplab_restart.erl",
        source: include_str!("../peers/erlang/heaplab_restart.erl"),
        uses: &[],
    },
    Program {
        workload: "ring",
        name: "heaplab_ring",
        file: "heaplab_ring.erl",
        source: include_str!("../peers/erlang/heaplab_ring.erl"),
        uses: &[],
    },
    Program {
        workload: "spawn",
        name: "heaplab_spawn",
        file: "heaplab_spawn.erl",
        source: include_str!("../peers/erlang/heaplab_spawn.erl"),
        uses: &[],
    },
];

/// Helpers every program calls (`heaplab_report:vm_kb/1`, `print_json/1`), compiled beside it.
pub const SUPPORT: Program = Program {
    workload: "",
    name: "heaplab_report",
    file: "heaplab_report.erl",
    source: include_str!("../peers/erlang/heaplab_report.erl"),
    uses: &[],
};

/// The smallest `+P` passed to the emulator: the BEAM's default.
const MIN_PROCESS_LIMIT: u64 = 1 << 20;

/// Processes the VM itself may run besides the workload's (Invariant 2).
const VM_PROCESSES: u64 = 10_000;
/// The emulator's largest `+P`.
const MAX_PROCESS_LIMIT: u64 = 134_217_727;

/// The emulator's largest scheduler count (`+S`, erl(1): "the maximum for both values is
/// 1024").
pub const MAX_SCHEDULERS: u32 = 1024;

/// The BEAM as a peer.
#[derive(Debug, Clone, Copy)]
pub struct Beam;

/// The BEAM.
pub static BEAM: Beam = Beam;

/// The Erlang version of `workload`, if there is one.
pub fn program(workload: &str) -> Option<&'static Program> {
    peer::program_of(PROGRAMS, workload)
}

/// `erl` and `erlc` on the `PATH`, or the note saying how to get them (Protocol step 1).
///
/// # Errors
/// The [`peer::missing_tool`] note of the first one missing.
pub fn tools() -> Result<(PathBuf, PathBuf), String> {
    let found = peer::require_tools(&[("erl", PACKAGE), ("erlc", PACKAGE)])?;
    Ok((found[0].clone(), found[1].clone()))
}

impl Peer for Beam {
    fn strategy(&self) -> Strategy {
        Strategy::Beam
    }

    fn runtime(&self) -> &'static str {
        "BEAM"
    }

    fn programs(&self) -> &'static [Program] {
        PROGRAMS
    }

    fn tools(&self) -> Result<(), String> {
        tools().map(|_| ())
    }

    fn max_schedulers(&self) -> u32 {
        MAX_SCHEDULERS
    }

    fn prepare(&self, workload: &dyn Workload, dir: &Path) -> Result<(), Failure> {
        let program = program(workload.name()).expect("checked by require");
        let (_, erlc) = tools().map_err(Failure::usage)?;
        let sources = peer::write_sources(program, std::slice::from_ref(&SUPPORT), dir)?;
        peer::compile(Command::new(&erlc).arg("-o").arg(dir).args(&sources), program.file)
    }

    fn pass(&self, workload: &dyn Workload, dir: &Path, context: &RunContext, traced: bool) -> Command {
        let program = program(workload.name()).expect("checked by require");
        let erl = find_on_path("erl").unwrap_or_else(|| PathBuf::from("erl"));
        let expression = format!("heaplab_report:run({}, {})", program.name, proplist(&context.params));
        let schedulers = context.schedulers.min(MAX_SCHEDULERS);
        let mut command = Command::new(erl);
        command
            .arg("-noshell")
            .args(["-heaplab_gc_trace", if traced { "on" } else { "off" }])
            .arg("-pa")
            .arg(dir)
            .arg("+S")
            .arg(format!("{schedulers}:{schedulers}"))
            .arg("+P")
            .arg(process_limit(&context.params).to_string())
            .arg("-eval")
            .arg(&expression)
            .args(["-s", "init", "stop"]);
        command
    }
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
    let processes = peer::integer_param(params, "processes");
    (processes + VM_PROCESSES).clamp(MIN_PROCESS_LIMIT, MAX_PROCESS_LIMIT)
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
            assert!(program.source.contains(&format!("-module({}).", program.name)));
            assert_eq!(program.file, format!("{}.erl", program.name));
            assert!(program.source.contains("main/1"), "{}", program.name);
            for param in workload.params() {
                let pattern = format!("proplists:get_value({}, Params, {})", param.name, param.default);
                assert!(program.source.contains(&pattern), "{}: {pattern}", program.name);
            }
            for used in program.uses {
                assert!(PROGRAMS.iter().any(|p| p.name == used.name), "{}", used.name);
                let call = format!("{}:", used.name);
                assert!(program.source.contains(&call), "{} does not call {}", program.name, used.name);
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
    fn every_workload_has_an_erlang_version() {
        let programs: Vec<&str> = PROGRAMS.iter().map(|p| p.workload).collect();
        let workloads: Vec<&str> = workloads::ALL.iter().map(|w| w.name()).collect();
        assert_eq!(programs, workloads);
    }
}
