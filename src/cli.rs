//! The `heaplab` command line: argument types (clap derive), parsing with one-line errors,
//! and dispatch to the commands.
//!
//! # Invariants
//! 1. Every bad argument is reported on one line on stderr and exits with code 2, whether
//!    clap found it (unknown flag, bad `--heap`) or heaplab did (unknown workload or
//!    parameter, bad value, unavailable strategy); see [`one_line_error`].
//! 2. `--help` and `--version` print to stdout and exit 0.
//! 3. `bench --help` lists every workload and parameter from the workload table, so the help
//!    and the validation never disagree.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::compare::SuiteName;
use crate::failure::Failure;
use crate::strategy::Strategy;
#[cfg(test)]
use crate::workloads;
use crate::{bench, compare, reproduce, workload};

/// heaplab: per-process garbage collection in the BEAM's memory model, measured.
#[derive(Debug, Parser)]
#[command(name = "heaplab", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one workload under one heap strategy and print (and optionally save) its report.
    Bench(BenchArgs),
    /// Run the suite under every heap strategy (and the BEAM, the JVM's collectors and Go,
    /// where installed) and write side-by-side reports.
    ///
    /// Writes to DIR: report.json (one report per workload and strategy, aggregated over
    /// --runs), summary.md (a table per workload, medians with 95% intervals), meta.json,
    /// csv/WORKLOAD-HEAP/run-I/ (raw GC events and samples), plots/ (SVG) and a Chrome trace
    /// of a short traced run (trace-WORKLOAD.json, opens in Perfetto). --quick (one run each)
    /// takes under 10 minutes on 2 cores (about a minute measured); the full suite (default
    /// parameters, plus churn-big with 850 MB live, about 2 GB of memory; three runs each)
    /// about 5 minutes. Ctrl-C stops the run under way and writes what was measured.
    Compare(CompareArgs),
    /// Reproduce one published result (one folder of papers/).
    ///
    /// Runs the paper's experiments under per-process, shared and (where installed) the BEAM,
    /// the JVM and Go, writes papers/PAPER/results/report.json and meta.json, SVG plots in
    /// papers/PAPER/plots/ and regenerates the tables of papers/PAPER/README.md between its
    /// `<!-- results:KEY:begin/end -->` markers.
    Reproduce(ReproduceArgs),
}

/// Arguments of `heaplab bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// The workload to run (listed below).
    #[arg(value_name = "WORKLOAD")]
    pub workload: String,
    /// The heap strategy to run under.
    #[arg(long, value_enum, default_value_t = Strategy::PerProcess)]
    pub heap: Strategy,
    /// Scheduler threads [default: one per core].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub schedulers: Option<u32>,
    /// Set a workload parameter; repeat for several.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    /// Also write the report as JSON to FILE ('-': standard output, the table then goes to
    /// standard error).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write raw data as CSV into DIR: gc_events.csv and one file per histogram.
    #[arg(long, value_name = "DIR")]
    pub csv: Option<PathBuf>,
    /// Write a Chrome trace-event file (opens in Perfetto) of the run's GC events.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Run N times, each in a fresh process, and report the medians with 95% confidence
    /// intervals (every run's report is kept under "per_run").
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub runs: u32,
}

/// Arguments of `heaplab compare`.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Run the quick suite: cut-down parameters, no churn-big (under 10 minutes on 2 cores,
    /// about a minute measured; the full suite about 2 minutes).
    #[arg(long)]
    pub quick: bool,
    /// Directory for reports, tables, plots and raw data [default: target/heaplab/compare].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Skip the BEAM column even if `erl` is installed.
    #[arg(long)]
    pub no_beam: bool,
    /// Skip the JVM columns (jvm-parallel, jvm-g1, jvm-zgc) even if `java` is installed.
    #[arg(long)]
    pub no_jvm: bool,
    /// Skip the Go column even if `go` is installed.
    #[arg(long)]
    pub no_go: bool,
    /// The suite by name (quick, full, smoke). Hidden: `smoke` is a seconds-long suite for
    /// the end-to-end tests; users pick with --quick.
    #[arg(long, value_enum, hide = true, conflicts_with = "quick")]
    pub suite: Option<SuiteName>,
    /// Runs of each workload under each strategy, each in a fresh process, interleaved
    /// across strategies; figures are medians with 95% intervals [default: 3; 1 with --quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub runs: Option<u32>,
    /// Run nothing: redraw summary.md and the plots of the compare in --out DIR.
    #[arg(long, conflicts_with_all = ["quick", "runs", "clear", "workloads", "no_beam", "no_jvm", "no_go", "attribution"])]
    pub render_only: bool,
    /// Run the request/reply workloads (churn, churn-big, large-state) with attribution=on on
    /// heaplab's heaps: summary.md and plots/ then say what each strategy's p99 and p999
    /// tails are made of (it costs heaplab's columns 5-8% throughput; see the README).
    #[arg(long)]
    pub attribution: bool,
    /// Remove the files of an earlier compare in DIR first (without it, such a DIR is refused).
    #[arg(long)]
    pub clear: bool,
    /// Run only this entry of the suite, by id: a workload's name, or ring-payload100 (ring
    /// with payload=100), or a workload a program of its own added; repeat for several.
    #[arg(long = "workload", value_name = "ID")]
    pub workloads: Vec<String>,
}

/// Arguments of `heaplab reproduce`.
#[derive(Debug, Clone, Args)]
pub struct ReproduceArgs {
    /// The paper to reproduce: the name of its folder in papers/ (beam-claims,
    /// johansson-2002).
    #[arg(value_name = "PAPER")]
    pub paper: String,
    /// Smaller sweeps (minutes rather than tens of minutes).
    #[arg(long)]
    pub quick: bool,
    /// The paper's folder to write into [default: papers/PAPER for a full run, with the
    /// index in papers/README.md; target/heaplab/reproduce/PAPER with --quick, so a quick
    /// run never touches the committed results].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Skip the BEAM column even if `erl` is installed.
    #[arg(long)]
    pub no_beam: bool,
    /// Skip the JVM columns (jvm-parallel, jvm-g1, jvm-zgc) even if `java` is installed.
    #[arg(long)]
    pub no_jvm: bool,
    /// Skip the Go column even if `go` is installed.
    #[arg(long)]
    pub no_go: bool,
    /// Runs of each point under each strategy, each in a fresh process, interleaved across
    /// strategies; figures are medians with 95% intervals.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub runs: u32,
    /// Run nothing: regenerate the README tables and plots from the folder's results/.
    #[arg(long)]
    pub render_only: bool,
    /// The sweep size by name (full, quick, smoke). Hidden: `smoke` is a seconds-long size
    /// for the end-to-end tests; users pick with --quick.
    #[arg(long, value_enum, hide = true, conflicts_with = "quick")]
    pub size: Option<crate::reproduce::experiment::Size>,
}

/// The clap command with the workload table in `bench --help` (Invariant 3).
pub fn command() -> clap::Command {
    Cli::command().mut_subcommand("bench", |bench| {
        bench.after_help(workload::describe(crate::registry::current().workloads()))
    })
}

/// Parses a command line (program name first).
///
/// # Errors
/// The clap error, for [`one_line_error`] or [`clap::Error::print`] (help, version).
pub fn parse<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = command().try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

/// A clap error folded onto one line (Invariant 1): the message and the accepted values it
/// names, without the usage block and the "try --help" hint.
pub fn one_line_error(error: &clap::Error) -> String {
    let rendered = error.render().to_string();
    let lines: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .filter(|line| {
            !line.is_empty() && !line.starts_with("Usage:") && !line.starts_with("For more information")
        })
        .collect();
    let text = lines.join("; ");
    text.strip_prefix("error: ").unwrap_or(&text).to_owned()
}

/// The `heaplab` program: parses the process's arguments, runs the command and maps a
/// failure to its exit code (2 for bad arguments, 1 for a failed run, 130 after an
/// interrupt), printing it on one line. The `heaplab` binary is this function;
/// [`crate::registry::Registry::run_cli`] calls it for a program with workloads of its own.
pub fn main() -> ExitCode {
    crate::interrupt::install();
    let cli = match parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help and --version: print to stdout, exit 0.
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) if error.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // `heaplab` alone: the full help is more useful than one line; still exit 2.
            let _ = error.print();
            return ExitCode::from(2);
        }
        Err(error) => {
            eprintln!("heaplab: {}", one_line_error(&error));
            return ExitCode::from(2);
        }
    };
    match execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("heaplab: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}

/// Runs a parsed command line.
///
/// # Errors
/// A [`Failure`] whose exit code the caller returns.
pub fn execute(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Bench(args) => bench::run(&args).map(|_| ()),
        Command::Compare(args) => compare::run(&args, &crate::provenance::command_line()),
        Command::Reproduce(args) => reproduce::run(&args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(args: &[&str]) -> Cli {
        parse(args.iter().copied()).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    fn parse_err(args: &[&str]) -> clap::Error {
        parse(args.iter().copied()).expect_err("should not parse")
    }

    #[test]
    fn the_command_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn bench_takes_every_documented_option() {
        let cli = parse_ok(&[
            "heaplab",
            "bench",
            "gc-copy",
            "--heap",
            "per-process",
            "--schedulers",
            "2",
            "--set",
            "live_mb=4",
            "--set",
            "collections=3",
            "--json",
            "r.json",
            "--csv",
            "raw",
            "--trace",
            "t.json",
        ]);
        let Command::Bench(args) = cli.command else { panic!("not bench") };
        assert_eq!(args.workload, "gc-copy");
        assert_eq!(args.heap, Strategy::PerProcess);
        assert_eq!(args.schedulers, Some(2));
        assert_eq!(args.set, ["live_mb=4", "collections=3"]);
        assert_eq!(args.json, Some(PathBuf::from("r.json")));
        assert_eq!(args.csv, Some(PathBuf::from("raw")));
        assert_eq!(args.trace, Some(PathBuf::from("t.json")));
    }

    #[test]
    fn bench_defaults() {
        let Command::Bench(args) = parse_ok(&["heaplab", "bench", "exit"]).command else {
            panic!("not bench")
        };
        assert_eq!(args.heap, Strategy::PerProcess);
        assert_eq!(args.schedulers, None);
        assert!(args.set.is_empty() && args.json.is_none());
    }

    #[test]
    fn every_strategy_parses_so_the_driver_can_explain_it() {
        for name in ["per-process", "shared", "hybrid", "beam", "jvm-parallel", "jvm-g1", "jvm-zgc", "go"] {
            parse_ok(&["heaplab", "bench", "exit", "--heap", name]);
        }
    }

    #[test]
    fn compare_and_reproduce_parse() {
        let Command::Compare(args) =
            parse_ok(&["heaplab", "compare", "--quick", "--out", "o", "--no-beam", "--no-jvm", "--no-go"])
                .command
        else {
            panic!("not compare")
        };
        assert!(args.quick && args.no_beam && args.no_jvm && args.no_go);
        assert_eq!(args.out, Some(PathBuf::from("o")));
        let Command::Reproduce(args) = parse_ok(&["heaplab", "reproduce", "x"]).command else {
            panic!("not reproduce")
        };
        assert_eq!(args.paper, "x");
    }

    #[test]
    fn clap_errors_fold_onto_one_line_with_the_accepted_values() {
        let error = parse_err(&["heaplab", "bench", "exit", "--heap", "global"]);
        assert_eq!(error.exit_code(), 2);
        let line = one_line_error(&error);
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("'global'"), "{line}");
        assert!(line.contains("per-process"), "{line}");

        let line = one_line_error(&parse_err(&["heaplab", "bench", "exit", "--schedulers", "0"]));
        assert!(line.contains("'0'") && !line.contains('\n'), "{line}");

        let line = one_line_error(&parse_err(&["heaplab", "bench"]));
        assert!(line.contains("<WORKLOAD>") && !line.contains('\n'), "{line}");
    }

    #[test]
    fn bench_help_lists_workloads_and_parameters() {
        let help = command().find_subcommand_mut("bench").unwrap().render_long_help().to_string();
        for workload in workloads::ALL {
            assert!(help.contains(workload.name()), "{help}");
            for param in workload.params() {
                assert!(help.contains(&format!("{}={}", param.name, param.default)), "{help}");
            }
        }
    }

    #[test]
    fn reproduce_names_the_unknown_paper() {
        let cli = parse_ok(&["heaplab", "reproduce", "nowhere-1999"]);
        let failure = execute(cli).unwrap_err();
        assert_eq!(failure.exit_code(), 2);
        assert!(failure.message().contains("'nowhere-1999'"));
    }
}
