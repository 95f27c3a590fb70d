//! The Go column: the Go version of a workload (goroutines and channels) built with `go`
//! and run with `GODEBUG=gctrace=1` (`--heap go`). It is a [`Peer`]: [`crate::peer`] runs
//! the pass and builds the measurements; this module says how to build and start it and
//! reads the collector's trace.
//!
//! The Go sources live in `peers/go/` and are embedded in the binary: `report.go` (the
//! parameters, the line, and `main`, which runs the workload named by its first argument)
//! and one file per workload, each registering its workload with the `main` package.
//!
//! # Protocol
//! 1. [`tools`]: `go` is on the `PATH`; otherwise the note of [`peer::missing_tool`]
//!    (`apt-get install golang`); nothing is ever installed.
//! 2. [`GoPeer::prepare`]: write the workload's file, the files it uses and [`SUPPORT`]
//!    into the run's directory and `go build` them there into one program (one package of
//!    files and the standard library: `GO111MODULE=off`, `GOPROXY=off`, nothing fetched).
//! 3. [`GoPeer::pass`]: `GODEBUG=gctrace=1 GOMAXPROCS=N DIR/heaplab-go WORKLOAD
//!    NAME=VALUE...`: one pass; the runtime writes one line per collection cycle to standard
//!    error, which [`parse_gctrace`] reads ([`Peer::collector_log`]).
//!
//! # The heap
//! Go's collector is not sized with a maximum: it starts a cycle when the heap reaches
//! twice the live data of the last one (`GOGC=100`, the default, left as it is), so the
//! heap follows the live data.
//!
//! # Invariants
//! 1. Every workload listed in [`PROGRAMS`] exists in the workload table and its file reads
//!    exactly that workload's parameters with their defaults (tested).
//! 2. Every gctrace line gives two pauses, both `major` (Go's collector is not
//!    generational; every cycle covers the whole heap): the sweep termination and the mark
//!    termination, its two stop-the-world phases (the first and third of its wall-clock
//!    phases); the concurrent mark between them is no pause (`gc_concurrent_mark_s`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use regex::Regex;

use crate::failure::Failure;
use crate::gc_log::GcRecord;
use crate::peer::{self, CollectorLog, Peer, Program};
use crate::strategy::Strategy;
use crate::workload::{RunContext, Workload};

/// The Debian package with `go`.
pub const PACKAGE: &str = "golang";

/// The program `go build` writes, in the run's directory.
pub const BINARY: &str = "heaplab-go";

/// The churn file, whose servers and clients `churn-big` and `large-state` use too.
const CHURN: Program = Program {
    workload: "churn",
    name: "churn",
    file: "churn.go",
    source: include_str!("../peers/go/churn.go"),
    uses: &[],
};

/// Every workload with a Go version, in workload name order (Invariant 1).
pub const PROGRAMS: &[Program] = &[
    Program {
        workload: "binaries",
        name: "binaries",
        file: "binaries.go",
        source: include_str!("../peers/go/binaries.go"),
        uses: &[],
    },
    CHURN,
    Program {
        workload: "churn-big",
        name: "churn-big",
        file: "churn_big.go",
        source: include_str!("../peers/go/churn_big.go"),
        uses: &[CHURN],
    },
    Program {
        workload: "large-state",
        name: "large-state",
        file: "large_state.go",
        source: include_str!("../peers/go/large_state.go"),
        uses: &[CHURN],
    },
    Program {
        workload: "ring",
        name: "ring",
        file: "ring.go",
        source: include_str!("../peers/go/ring.go"),
        uses: &[],
    },
    Program {
        workload: "spawn",
        name: "spawn",
        file: "spawn.go",
        source: include_str!("../peers/go/spawn.go"),
        uses: &[],
    },
];

/// The file every program is built with: parameters, the line, `main`.
pub const SUPPORT: &[Program] = &[Program {
    workload: "",
    name: "report",
    file: "report.go",
    source: include_str!("../peers/go/report.go"),
    uses: &[],
}];

/// Go as a peer.
#[derive(Debug, Clone, Copy)]
pub struct GoPeer;

/// `--heap go`.
pub static GO: GoPeer = GoPeer;

/// The Go version of `workload`, if there is one.
pub fn program(workload: &str) -> Option<&'static Program> {
    peer::program_of(PROGRAMS, workload)
}

/// `go` on the `PATH`, or the note saying how to get it (Protocol step 1).
///
/// # Errors
/// The [`peer::missing_tool`] note.
pub fn tools() -> Result<PathBuf, String> {
    Ok(peer::require_tools(&[("go", PACKAGE)])?.remove(0))
}

impl Peer for GoPeer {
    fn strategy(&self) -> Strategy {
        Strategy::Go
    }

    fn runtime(&self) -> &'static str {
        "Go runtime"
    }

    fn programs(&self) -> &'static [Program] {
        PROGRAMS
    }

    fn tools(&self) -> Result<(), String> {
        tools().map(|_| ())
    }

    fn prepare(&self, workload: &dyn Workload, dir: &Path) -> Result<(), Failure> {
        let program = program(workload.name()).expect("checked by require");
        let go = tools().map_err(Failure::usage)?;
        let sources = peer::write_sources(program, SUPPORT, dir)?;
        let mut command = Command::new(go);
        command
            .current_dir(dir)
            .args(["build", "-o", BINARY])
            .args(sources.iter().map(|path| path.file_name().expect("a file")))
            .env("GOPROXY", "off")
            .env("GO111MODULE", "off");
        // Without a home the build cache goes with the run's directory.
        if std::env::var_os("HOME").is_none() && std::env::var_os("GOCACHE").is_none() {
            command.env("GOCACHE", dir.join("cache"));
        }
        peer::compile(&mut command, program.file)
    }

    fn pass(&self, workload: &dyn Workload, dir: &Path, context: &RunContext, _traced: bool) -> Command {
        let program = program(workload.name()).expect("checked by require");
        let mut command = Command::new(dir.join(BINARY));
        command
            .env("GODEBUG", "gctrace=1")
            .env("GOMAXPROCS", context.schedulers.to_string())
            .arg(program.name)
            .args(peer::assignments(&context.params));
        command
    }

    fn traced_pass(&self) -> bool {
        false
    }

    fn collector_log(&self, _dir: &Path, output: &std::process::Output) -> Result<CollectorLog, Failure> {
        Ok(parse_gctrace(&String::from_utf8_lossy(&output.stderr)))
    }
}

/// `gc N @Ts P%: A+B+C ms clock, ... ms cpu, H0->H1->H2 MB, G MB goal, ...`: one cycle
/// (runtime/mgc.go, `gcMarkTermination`, Go 1.19; `MB` sizes, the phase times in ms).
static GCTRACE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^gc (\d+) @(\d+(?:\.\d+)?)s \d+%: (\d+(?:\.\d+)?)\+(\d+(?:\.\d+)?)\+(\d+(?:\.\d+)?) ms clock, .*? (\d+)->(\d+)->(\d+) MB, ",
    )
    .expect("a valid pattern")
});

/// Every cycle of a `GODEBUG=gctrace=1` standard error as its two stop-the-world pauses
/// (Invariant 2); metrics `gc_cycles` and `gc_concurrent_mark_s`. Other lines (the
/// program's own, the scavenger's) are skipped.
pub fn parse_gctrace(text: &str) -> CollectorLog {
    let mut log = CollectorLog::default();
    let mut cycles = 0u64;
    let mut concurrent_ns = 0u64;
    let ms = |text: &str| (text.parse::<f64>().unwrap_or(0.0) * 1e6).round() as u64;
    let mb_words = |text: &str| text.parse::<u64>().unwrap_or(0) << 17;
    for line in text.lines() {
        let Some(cycle) = GCTRACE.captures(line.trim()) else { continue };
        cycles += 1;
        let at = (cycle[2].parse::<f64>().unwrap_or(0.0) * 1e9).round() as u64;
        let (sweep_termination, mark, mark_termination) = (ms(&cycle[3]), ms(&cycle[4]), ms(&cycle[5]));
        concurrent_ns += mark;
        let (start_heap, end_heap, live) = (mb_words(&cycle[6]), mb_words(&cycle[7]), mb_words(&cycle[8]));
        let pause = |reason: &str, start_ns: u64, duration_ns: u64, before: u64, after: u64| GcRecord {
            kind: "major",
            reason: reason.to_owned(),
            pid: None,
            scheduler: None,
            start_ns,
            duration_ns,
            words_before: before,
            words_after: after,
            words_copied: 0,
            words_promoted: 0,
            binaries_freed: 0,
            time_to_safepoint_ns: 0,
            max_worker_words: 0,
        };
        log.records.push(pause("sweep termination", at, sweep_termination, start_heap, start_heap));
        log.records.push(pause(
            "mark termination",
            at + sweep_termination + mark,
            mark_termination,
            end_heap,
            live,
        ));
    }
    log.metrics = BTreeMap::from([
        ("gc_cycles".to_owned(), cycles as f64),
        ("gc_concurrent_mark_s".to_owned(), concurrent_ns as f64 / 1e9),
    ]);
    log
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_program_names_a_workload_and_reads_its_parameters() {
        let names: Vec<&str> = PROGRAMS.iter().map(|program| program.workload).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        for program in PROGRAMS.iter().chain(SUPPORT) {
            assert!(program.source.starts_with("// ") && program.source.contains("\npackage main\n"));
        }
        for program in PROGRAMS {
            let workload = crate::workload::find(program.workload).unwrap();
            assert_eq!(program.name, program.workload);
            let registration = format!("register(\"{}\", ", program.name);
            assert!(program.source.contains(&registration), "{}: {registration}", program.file);
            for param in workload.params() {
                let pattern = match param.kind {
                    crate::params::ParamKind::Integer { .. } => {
                        format!("integer(\"{}\", {})", param.name, param.default)
                    }
                    crate::params::ParamKind::OneOf(_) => {
                        format!("word(\"{}\", \"{}\")", param.name, param.default)
                    }
                };
                assert!(program.source.contains(&pattern), "{}: {pattern}", program.file);
            }
        }
        for workload in ["churn", "churn-big", "large-state", "ring", "spawn", "binaries"] {
            assert!(program(workload).is_some(), "{workload}");
        }
    }

    /// Standard error of a Go 1.19 program under `GODEBUG=gctrace=1`, with a forced cycle
    /// and a line of the program's own.
    const TRACE: &str = "\
gc 1 @0.012s 2%: 0.010+1.2+0.003 ms clock, 0.021+0.5/1.1/0+0.007 ms cpu, 4->4->1 MB, 5 MB goal, 0 MB stacks, 0 MB globals, 2 P
some output of the program
gc 2 @1.500s 7%: 0.25+35+0.10 ms clock, 0.50+10/30/0+0.20 ms cpu, 180->190->95 MB, 190 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)
";

    #[test]
    fn gctrace_lines_become_two_pauses_each() {
        let log = parse_gctrace(TRACE);
        let pauses: Vec<(&str, u64, u64)> =
            log.records.iter().map(|r| (r.reason.as_str(), r.start_ns, r.duration_ns)).collect();
        assert_eq!(
            pauses,
            [
                ("sweep termination", 12_000_000, 10_000),
                ("mark termination", 12_000_000 + 10_000 + 1_200_000, 3_000),
                ("sweep termination", 1_500_000_000, 250_000),
                ("mark termination", 1_500_000_000 + 250_000 + 35_000_000, 100_000),
            ]
        );
        assert!(log.records.iter().all(|r| r.kind == "major"));
        let last = &log.records[3];
        assert_eq!((last.words_before, last.words_after), (190 << 17, 95 << 17));
        assert_eq!(log.metrics["gc_cycles"], 2.0);
        assert!((log.metrics["gc_concurrent_mark_s"] - 0.0362).abs() < 1e-12);
        let pauses = crate::gc_log::pause_histogram(&log.records);
        assert_eq!(pauses.raw_ns(), [10_000, 3_000, 250_000, 100_000]);
    }

    #[test]
    fn lines_that_are_not_cycles_are_skipped() {
        let log = parse_gctrace("scvg: 0 MB released\ngc 1 @x\n");
        assert!(log.records.is_empty());
        assert_eq!(log.metrics["gc_cycles"], 0.0);
    }
}
