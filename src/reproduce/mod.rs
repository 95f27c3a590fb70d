//! `heaplab reproduce <PAPER>`: runs the experiments of one folder of `papers/` and writes
//! its results, tables and plots.
//!
//! # Protocol
//! 1. Find the paper ([`PAPERS`]; an unknown name is a one-line usage error listing the
//!    available ones, exit code 2) and its experiments at the size asked for
//!    ([`experiment::Size`]); check every parameter set before anything runs.
//! 2. Decide the peer columns (the BEAM, the JVM's collectors, Go; [`crate::peer`]): every
//!    experiment that wants them, where the peer's tools are on the `PATH` and the workload
//!    has a version in its language; otherwise one note per missing tool says how to
//!    install it and the reproduction carries on without it.
//! 3. Plan the runs: every point of every experiment under its heaplab strategies
//!    ([`Experiment::heaps`]: per-process, shared, hybrid) and (step 2) the peers, each distinct run once (experiments may share runs), `--runs N` times, interleaved
//!    across the strategies (A B C A B C ...). Run them one at a time with progress lines,
//!    each in a fresh `heaplab bench` process, so that a run's memory figures
//!    (`bytes_per_process`, `peak_rss_bytes`) are not lowered or raised by what earlier runs
//!    left resident; after each point, aggregate its runs ([`crate::stats`]) and rewrite
//!    `results/report.json` (an array of reports), so an interrupted reproduction keeps what
//!    it measured. Then write `results/meta.json`. On Ctrl-C the run under way stops, step 4
//!    renders what finished, and the command exits with 130.
//! 4. Render from the JSON alone ([`render`]): plots into `plots/`, the generated blocks of
//!    `README.md` between their markers ([`markers`]), and, when writing into `papers/`
//!    itself, the index block of `papers/README.md`. `--render-only` does step 4 alone.
//!
//! Only a full run, or an explicit `--out papers/<PAPER>`, writes into `papers/`; smaller
//! sizes go to `target/heaplab/reproduce/<PAPER>/` ([`default_out`]).
//!
//! # Invariants
//! 1. A failing run is reported with its one-line reason and never stops the reproduction;
//!    the command exits with code 1 at the end, after writing everything.
//! 2. Only the text between the markers of a README changes; a README without a block's
//!    markers is an error (the results are written first), a missing README is created with
//!    every block.

pub mod beam_claims;
pub mod experiment;
pub mod johansson;
pub mod markers;
pub mod render;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use experiment::{Experiment, Size};
use render::Meta;

use crate::cli::ReproduceArgs;
use crate::compare::driver::{self, Progress};
use crate::failure::Failure;
use crate::provenance::{self, Provenance};
use crate::report::Report;
use crate::strategy::Strategy;
use crate::{peer, runs, stats};

/// One reproduction: a folder of `papers/`.
#[derive(Debug, Clone, Copy)]
pub struct Paper {
    /// The folder's name.
    pub name: &'static str,
    /// The heading of a README created from scratch.
    pub title: &'static str,
    /// Its experiments at a size.
    pub experiments: fn(Size) -> Vec<Experiment>,
    /// One line per claim, computed from the reports.
    pub findings: fn(&[Report], &[Experiment]) -> Vec<String>,
}

/// Every paper, in name order.
pub const PAPERS: &[Paper] = &[
    Paper {
        name: "beam-claims",
        title: "The BEAM's process and memory claims",
        experiments: beam_claims::experiments,
        findings: beam_claims::findings,
    },
    Paper {
        name: "johansson-2002",
        title: "Heap architectures for concurrent languages using message passing (ISMM 2002)",
        experiments: johansson::experiments,
        findings: johansson::findings,
    },
];

/// Where the papers live when `--out` is not given.
pub const PAPERS_DIR: &str = "papers";

/// The README block of the findings and the run's metadata.
pub const SUMMARY_BLOCK: &str = "summary";

/// The block of `papers/README.md` listing every paper's findings.
pub const INDEX_BLOCK: &str = "index";

/// The paper called `name`.
///
/// # Errors
/// A usage failure naming `name` and the available papers.
pub fn find(name: &str) -> Result<&'static Paper, Failure> {
    PAPERS.iter().find(|paper| paper.name == name).ok_or_else(|| {
        let names: Vec<&str> = PAPERS.iter().map(|paper| paper.name).collect();
        Failure::usage(format!("unknown paper '{name}'; available: {}", names.join(", ")))
    })
}

/// Where a reproduction writes without `--out`: the paper's folder of `papers/` for a full
/// run, `target/heaplab/reproduce/<paper>/` for a smaller one, so only a full run touches
/// the committed results.
pub fn default_out(paper: &Paper, size: Size) -> PathBuf {
    match size {
        Size::Full => Path::new(PAPERS_DIR).join(paper.name),
        Size::Quick | Size::Smoke => Path::new(QUICK_DIR).join(paper.name),
    }
}

/// Where smaller reproductions write without `--out`.
pub const QUICK_DIR: &str = "target/heaplab/reproduce";

/// Whether `out` is the paper's folder of `papers/`: then the index of `papers/README.md`
/// is regenerated too.
fn writes_into_papers(paper: &Paper, out: &Path) -> bool {
    let papers = Path::new(PAPERS_DIR).join(paper.name);
    match (std::fs::canonicalize(out), std::fs::canonicalize(&papers)) {
        (Ok(a), Ok(b)) => a == b,
        _ => out == papers,
    }
}

/// The size a command line asks for.
pub fn size_of(args: &ReproduceArgs) -> Size {
    args.size.unwrap_or(if args.quick { Size::Quick } else { Size::Full })
}

/// One point of the plan, under each of its strategies.
struct Planned {
    label: String,
    experiment: usize,
    point: usize,
    strategies: Vec<Strategy>,
}

/// Runs `heaplab reproduce` (the whole protocol).
///
/// # Errors
/// A usage failure from step 1 (nothing ran); a run failure when something could not be
/// written or, after everything was written, when some run failed (Invariant 1).
pub fn run(args: &ReproduceArgs) -> Result<(), Failure> {
    let started = Instant::now();
    // Protocol step 1.
    let paper = find(&args.paper)?;
    let size = size_of(args);
    let out = args.out.clone().unwrap_or_else(|| default_out(paper, size));
    let index = writes_into_papers(paper, &out);
    if args.render_only {
        return render_folder(paper, &out, index);
    }
    let experiments = (paper.experiments)(size);
    for experiment in &experiments {
        let workload = experiment.resolve()?;
        for index in 0..experiment.points.len() {
            crate::params::Params::from_assignments(
                workload.name(),
                workload.params(),
                &experiment.points[index],
            )?;
        }
    }
    let results = out.join("results");
    std::fs::create_dir_all(&results).map_err(|e| cannot_write(&results, &e))?;

    // Protocol step 2.
    let columns =
        peer::columns(|strategy| driver::skip_flag(args.no_beam, args.no_jvm, args.no_go, strategy));
    for note in peer::missing_notes(&columns) {
        eprintln!("heaplab: note: {note}");
    }
    if cfg!(debug_assertions) {
        eprintln!(
            "heaplab: note: debug build: the heap verifier runs in every collection, so timings are \
             not representative (build with --release)"
        );
    }

    // Protocol step 3.
    let mut plan: Vec<Planned> = Vec::new();
    let mut seen: BTreeMap<String, ()> = BTreeMap::new();
    for (e, experiment) in experiments.iter().enumerate() {
        let mut strategies = experiment.heaps.to_vec();
        if experiment.peers {
            for (strategy, status) in &columns {
                let has_version =
                    peer::of(*strategy).is_some_and(|peer| peer.workloads().contains(&experiment.workload));
                if status.is_ok() && has_version {
                    strategies.push(*strategy);
                }
            }
        }
        for point in 0..experiment.points.len() {
            let params = experiment.full_params(point)?;
            let key = format!("{} {:?} {params:?}", experiment.workload, experiment.schedulers);
            let strategies: Vec<Strategy> = strategies
                .iter()
                .copied()
                .filter(|strategy| seen.insert(format!("{strategy} {key}"), ()).is_none())
                .collect();
            if strategies.is_empty() {
                continue;
            }
            let label = format!("{} {}", experiment.workload, experiment.points[point].join(" "));
            plan.push(Planned { label, experiment: e, point, strategies });
        }
    }
    let runs = args.runs;
    let total = plan.iter().map(|p| p.strategies.len()).sum::<usize>() * runs as usize;
    let progress = Progress::new("reproduce", total);
    let provenance = Provenance::now(&provenance::command_line());
    provenance::warn_if_loaded(&provenance);
    let mut reports: Vec<Report> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let mut interrupted: Option<Failure> = None;
    let report_path = results.join("report.json");
    for planned in &plan {
        let experiment = &experiments[planned.experiment];
        let workload = experiment.resolve()?;
        let mut done: Vec<Vec<Report>> = vec![Vec::new(); planned.strategies.len()];
        // Interleaved across strategies (A B C A B C ...): noise spreads over all of them.
        'runs: for run in 1..=runs {
            for (i, &strategy) in planned.strategies.iter().enumerate() {
                let label = if runs > 1 {
                    format!("{} on {strategy} (run {run} of {runs})", planned.label)
                } else {
                    format!("{} on {strategy}", planned.label)
                };
                progress.start(&label);
                let begun = Instant::now();
                let spec = runs::Spec {
                    workload,
                    strategy,
                    params: &experiment.points[planned.point],
                    schedulers: experiment.schedulers,
                };
                match runs::isolated(&spec, None) {
                    Ok(report) => {
                        progress.finish_one(&format!("{label}: done in {}", driver::secs(report.wall_s)));
                        done[i].push(report);
                    }
                    Err(failure) if failure.is_interrupt() => {
                        progress.finish_one(&format!("{label}: interrupted"));
                        interrupted = Some(failure);
                        break 'runs;
                    }
                    Err(failure) => {
                        let line = format!(
                            "{label}: FAILED after {}: {}",
                            driver::secs(begun.elapsed().as_secs_f64()),
                            failure.message()
                        );
                        progress.finish_one(&line);
                        failures.push(line);
                    }
                }
            }
        }
        for runs_of_one in done.into_iter().filter(|r| !r.is_empty()) {
            if runs == 1 {
                reports.extend(runs_of_one);
            } else {
                reports.push(stats::aggregate(runs_of_one, provenance.clone()));
            }
        }
        write_json(&report_path, &reports)?;
        if interrupted.is_some() {
            break;
        }
    }
    progress.done();
    write_json(&report_path, &reports)?;
    let mut command = format!("heaplab reproduce {}", paper.name);
    match size {
        Size::Full => {}
        Size::Quick => command.push_str(" --quick"),
        Size::Smoke => command.push_str(" --size smoke"),
    }
    for (flag, given) in [("--no-beam", args.no_beam), ("--no-jvm", args.no_jvm), ("--no-go", args.no_go)] {
        if given {
            command.push(' ');
            command.push_str(flag);
        }
    }
    if runs > 1 {
        command.push_str(&format!(" --runs {runs}"));
    }
    let meta = Meta {
        paper: paper.name.to_owned(),
        command,
        date: driver::utc_date(SystemTime::now()),
        size: size.name().to_owned(),
        machine: driver::machine_line(),
        elapsed_s: started.elapsed().as_secs_f64(),
        beam: columns.iter().find(|(strategy, _)| *strategy == Strategy::Beam).map_or_else(
            String::new,
            |(_, status)| match status {
                Ok(()) => "ran (workloads with an Erlang version)".to_owned(),
                Err(why) => why.clone(),
            },
        ),
        peers: columns
            .iter()
            .filter(|(strategy, _)| *strategy != Strategy::Beam)
            .map(|(strategy, status)| match status {
                Ok(()) => format!("{strategy} ran"),
                Err(why) => format!("{strategy} {why}"),
            })
            .collect::<Vec<_>>()
            .join("; "),
        failures: failures.clone(),
        runs,
    };
    write_json(&results.join("meta.json"), &meta)?;

    // Protocol step 4.
    render_folder(paper, &out, index)?;
    if let Some(Failure::Interrupted { signal, .. }) = interrupted {
        return Err(Failure::Interrupted {
            signal,
            message: format!(
                "interrupted: wrote the results, tables and plots of the {} finished runs to {}",
                reports.len(),
                out.display()
            ),
        });
    }
    println!(
        "heaplab reproduce {} ({} size, {}): {} runs, wrote {}",
        paper.name,
        size.name(),
        driver::secs(started.elapsed().as_secs_f64()),
        reports.len(),
        out.display()
    );
    if !failures.is_empty() {
        return Err(Failure::run(format!(
            "{} of {} runs failed; see {}",
            failures.len(),
            plan.len(),
            out.join("README.md").display()
        )));
    }
    Ok(())
}

/// The reports and metadata of a paper's folder.
///
/// # Errors
/// A run failure when the files are missing or unreadable.
pub fn read_results(dir: &Path) -> Result<(Vec<Report>, Meta), Failure> {
    let read = |name: &str| {
        let path = dir.join("results").join(name);
        std::fs::read_to_string(&path)
            .map_err(|e| Failure::run(format!("cannot read '{}': {e}", path.display())))
    };
    let reports: Vec<Report> = serde_json::from_str(&read("report.json")?)
        .map_err(|e| Failure::run(format!("results/report.json: {e}")))?;
    let meta: Meta = serde_json::from_str(&read("meta.json")?)
        .map_err(|e| Failure::run(format!("results/meta.json: {e}")))?;
    Ok((reports, meta))
}

/// The size recorded in `meta`.
fn size_named(name: &str) -> Size {
    match name {
        "quick" => Size::Quick,
        "smoke" => Size::Smoke,
        _ => Size::Full,
    }
}

/// Protocol step 4: plots, README blocks and (when `index`) the index of `papers/`.
fn render_folder(paper: &Paper, out: &Path, index: bool) -> Result<(), Failure> {
    let (reports, meta) = read_results(out)?;
    let experiments = (paper.experiments)(size_named(&meta.size));
    let plots_dir = out.join("plots");
    let mut problems = Vec::new();
    for experiment in &experiments {
        if let Err(problem) = render::write_plots(&plots_dir, &reports, experiment) {
            problems.push(problem);
        }
    }
    let mut blocks = vec![(
        SUMMARY_BLOCK.to_owned(),
        render::summary_block(&meta, &(paper.findings)(&reports, &experiments)),
    )];
    for experiment in &experiments {
        blocks.push((experiment.id.to_owned(), render::experiment_block(&reports, experiment, &plots_dir)));
    }
    let readme = out.join("README.md");
    let text = match std::fs::read_to_string(&readme) {
        Ok(text) => text,
        Err(_) => fresh_readme(paper, &experiments),
    };
    match markers::replace_blocks(&text, &blocks) {
        Ok(next) => std::fs::write(&readme, next).map_err(|e| cannot_write(&readme, &e))?,
        Err(problem) => problems.push(format!("{}: {problem}", readme.display())),
    }
    if index {
        if let Some(root) = out.parent() {
            if let Err(problem) = write_index(root) {
                problems.push(problem);
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::run(problems.join("; ")))
    }
}

/// A README for a folder that has none: the title and every block.
fn fresh_readme(paper: &Paper, experiments: &[Experiment]) -> String {
    let mut text = format!("# {}\n\n{}", paper.title, markers::empty_block(SUMMARY_BLOCK));
    for experiment in experiments {
        text.push_str(&format!("\n## {}\n\n{}", experiment.id, markers::empty_block(experiment.id)));
    }
    text
}

/// The index block of `root/README.md`: each paper with results, its findings.
///
/// # Errors
/// A one-line message when the index cannot be written.
pub fn write_index(root: &Path) -> Result<(), String> {
    let mut content = String::new();
    for paper in PAPERS {
        let dir = root.join(paper.name);
        content.push_str(&format!("- [{}]({}/README.md) — {}\n", paper.name, paper.name, paper.title));
        match read_results(&dir) {
            Ok((reports, meta)) => {
                let experiments = (paper.experiments)(size_named(&meta.size));
                content.push_str(&format!("  - _{} size, {}:_\n", meta.size, meta.date));
                for finding in (paper.findings)(&reports, &experiments) {
                    content.push_str(&format!("  - {finding}\n"));
                }
            }
            Err(_) => {
                content.push_str(&format!("  - no results yet: `heaplab reproduce {} --quick`\n", paper.name))
            }
        }
    }
    let path = root.join("README.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| format!("# Reproductions\n\n{}", markers::empty_block(INDEX_BLOCK)));
    let next = markers::replace_block(&text, INDEX_BLOCK, &content)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::write(&path, next).map_err(|e| format!("cannot write '{}': {e}", path.display()))
}

fn write_json<T: serde::Serialize + ?Sized>(path: &PathBuf, value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).expect("reports hold only maps, numbers and strings");
    std::fs::write(path, text + "\n").map_err(|e| cannot_write(path, &e))
}

fn cannot_write(path: &Path, error: &std::io::Error) -> Failure {
    Failure::run(format!("cannot write '{}': {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Params;

    #[test]
    fn every_parameter_set_is_valid_for_its_workload() {
        for paper in PAPERS {
            for size in [Size::Full, Size::Quick, Size::Smoke] {
                let experiments = (paper.experiments)(size);
                let mut ids: Vec<&str> = experiments.iter().map(|e| e.id).collect();
                ids.sort_unstable();
                ids.dedup();
                assert_eq!(ids.len(), experiments.len(), "{}: ids are unique", paper.name);
                for experiment in &experiments {
                    let workload = experiment.resolve().unwrap_or_else(|e| panic!("{}: {e}", experiment.id));
                    assert!(!experiment.points.is_empty() && !experiment.figures.is_empty());
                    assert_eq!(
                        experiment.schedulers.is_none(),
                        workload.threads() == crate::workload::Threads::CallingThread,
                        "{}: schedulers only for runtime workloads",
                        experiment.id
                    );
                    for point in &experiment.points {
                        Params::from_assignments(workload.name(), workload.params(), point)
                            .unwrap_or_else(|e| panic!("{} {}: {e}", paper.name, experiment.id));
                        assert!(
                            point.iter().any(|a| a.starts_with(&format!("{}=", experiment.x))),
                            "{} {}: every point sets the swept parameter",
                            paper.name,
                            experiment.id
                        );
                    }
                    if experiment.peers {
                        assert!(
                            crate::beam::program(experiment.workload).is_some(),
                            "{}: beam",
                            experiment.id
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn unknown_papers_list_the_available_ones() {
        let failure = find("nowhere-1999").unwrap_err();
        assert_eq!(failure.exit_code(), 2);
        assert_eq!(failure.message(), "unknown paper 'nowhere-1999'; available: beam-claims, johansson-2002");
    }

    #[test]
    fn findings_render_without_results() {
        for paper in PAPERS {
            let experiments = (paper.experiments)(Size::Quick);
            let lines = (paper.findings)(&[], &experiments);
            assert!(!lines.is_empty());
            assert!(lines.iter().all(|line| !line.contains('\n')));
        }
    }
}
