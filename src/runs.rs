//! Runs in processes of their own: one (workload, strategy) run as a fresh `heaplab bench`
//! process of the current program ([`isolated`]), so its memory figures are its own and
//! not what earlier runs left resident, and N such runs aggregated ([`repeat`]).
//!
//! # Invariants
//! 1. The child is the current executable, so a program of one's own
//!    ([`crate::registry::Registry::run_cli`]) runs its own workloads in its children.
//! 2. A failed child becomes its one-line message; an interrupted one
//!    [`Failure::Interrupted`] (see [`crate::child`]), which callers stop on.

use std::path::Path;
use std::time::Duration;

use crate::failure::Failure;
use crate::provenance::Provenance;
use crate::report::Report;
use crate::strategy::Strategy;
use crate::workload::Workload;

/// What one isolated run is.
#[derive(Debug, Clone, Copy)]
pub struct Spec<'a, S: AsRef<str>> {
    /// The workload.
    pub workload: &'a dyn Workload,
    /// The strategy.
    pub strategy: Strategy,
    /// Its `--set` assignments.
    pub params: &'a [S],
    /// `--schedulers`, if set.
    pub schedulers: Option<u32>,
}

/// Runs `spec` in a fresh `heaplab bench` process and reads its report back; with `csv`, the
/// child writes its raw data there (`--csv`).
///
/// # Errors
/// The child's one-line failure (a run failure), or [`Failure::Interrupted`] (Invariant 2).
pub fn isolated<S: AsRef<str>>(spec: &Spec<'_, S>, csv: Option<&Path>) -> Result<Report, Failure> {
    isolated_with(spec, csv, None)
}

/// [`isolated`], the child also writing a Chrome trace of the run to `trace` (`--trace`).
///
/// # Errors
/// As [`isolated`].
pub fn isolated_with<S: AsRef<str>>(
    spec: &Spec<'_, S>,
    csv: Option<&Path>,
    trace: Option<&Path>,
) -> Result<Report, Failure> {
    let exe =
        std::env::current_exe().map_err(|e| Failure::run(format!("cannot find the heaplab program: {e}")))?;
    let dir = crate::child::TempDir::new("run").map_err(Failure::run)?;
    let json = dir.path().join("report.json");
    let mut command = std::process::Command::new(exe);
    command.args(["bench", spec.workload.name(), "--heap", spec.strategy.name(), "--json"]).arg(&json);
    if let Some(n) = spec.schedulers {
        command.arg("--schedulers").arg(n.to_string());
    }
    for param in spec.params {
        command.arg("--set").arg(param.as_ref());
    }
    if let Some(dir) = csv {
        command.arg("--csv").arg(dir);
    }
    if let Some(path) = trace {
        command.arg("--trace").arg(path);
    }
    // Both passes of a peer and the rest of the run.
    let limit = 2 * crate::peer::PASS_LIMIT + Duration::from_secs(300);
    let output = crate::child::output_within(&mut command, limit)?;
    if !output.status.success() {
        return Err(Failure::run(failure_reason(&String::from_utf8_lossy(&output.stderr), &output.status)));
    }
    let text = std::fs::read_to_string(&json)
        .map_err(|e| Failure::run(format!("the run wrote no report '{}': {e}", json.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| Failure::run(format!("the run's report '{}' is not valid: {e}", json.display())))
}

/// Why a child failed: its last line on standard error that is not a note or a warning,
/// without the `heaplab: ` prefix; its exit status when it wrote none.
fn failure_reason(stderr: &str, status: &std::process::ExitStatus) -> String {
    stderr
        .lines()
        .rfind(|line| {
            !line.starts_with("heaplab: note:")
                && !line.starts_with("heaplab: warning:")
                && !line.trim().is_empty()
        })
        .map_or_else(|| status.to_string(), |line| line.trim_start_matches("heaplab: ").to_owned())
}

/// What [`repeat`] measured: the aggregate of the runs that finished, and the interrupt that
/// stopped the others, if one did.
pub struct Repeated {
    /// The aggregate ([`crate::stats::aggregate`]); `None` when no run finished.
    pub report: Option<Report>,
    /// The signal that stopped the runs, if one did.
    pub interrupted: Option<i32>,
}

/// Runs `spec` `runs` times, each in its own process, and aggregates the reports
/// ([`crate::stats::aggregate`]); `csv_dir(i)` names run i's raw-data directory (from 1).
/// An interrupt stops the runs and keeps the aggregate of those that finished.
///
/// # Errors
/// The first failed run's failure.
pub fn repeat<S: AsRef<str>>(
    spec: &Spec<'_, S>,
    runs: u32,
    csv_dir: impl Fn(u32) -> Option<std::path::PathBuf>,
    provenance: Provenance,
    mut progress: impl FnMut(u32, &Report),
) -> Result<Repeated, Failure> {
    let mut reports = Vec::new();
    let mut interrupted = None;
    for run in 1..=runs {
        match isolated(spec, csv_dir(run).as_deref()) {
            Ok(report) => {
                progress(run, &report);
                reports.push(report);
            }
            Err(Failure::Interrupted { signal, .. }) => {
                interrupted = Some(signal);
                break;
            }
            Err(failure) => return Err(failure),
        }
    }
    let report = (!reports.is_empty()).then(|| crate::stats::aggregate(reports, provenance));
    Ok(Repeated { report, interrupted })
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt as _;

    use super::*;

    #[test]
    fn a_failed_childs_reason_is_its_last_line_that_is_not_a_note() {
        let status = std::process::ExitStatus::from_raw(1 << 8);
        let stderr =
            "heaplab: note: debug build\nheaplab: parameter 'live_mb' must be a positive integer, got '0'\n\
                      heaplab: warning: load average 3 exceeds half of the 2 cores\n";
        assert_eq!(
            failure_reason(stderr, &status),
            "parameter 'live_mb' must be a positive integer, got '0'"
        );
        assert_eq!(failure_reason("", &status), status.to_string());
    }
}
