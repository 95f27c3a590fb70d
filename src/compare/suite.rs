//! The comparison suite: which workloads `heaplab compare` runs, with which parameters, and
//! which figure of each is its headline.
//!
//! Entries name their workload rather than point at it, so the suite can list workloads a
//! build does not have yet: such an entry is skipped with a note ([`resolve`]), and runs as
//! soon as the workload is in [`crate::workloads::ALL`].
//!
//! # Invariants
//! 1. Every parameter assignment of every suite is valid for its workload whenever that
//!    workload is in [`crate::workloads::ALL`] (tested), so a suite never fails on a typo.
//! 2. Entry ids are unique within a suite (they name the CSV directories and plots).
//! 3. The quick suite finishes in under 10 minutes on 2 cores with every strategy and the
//!    peer columns (the BEAM, the JVM's three collectors, Go): its parameters are cut down from the defaults (docs/workloads.md), and
//!    `churn-big` (850 MB live) is in the full suite only.

use clap::ValueEnum;

use crate::failure::Failure;
use crate::workload::{self, Workload};

/// A suite: what `--quick`, the default and the hidden `--suite` select.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SuiteName {
    /// `--quick`: every workload, cut-down parameters (minutes).
    Quick,
    /// The default: every workload at its docs/workloads.md parameters, plus `churn-big`.
    Full,
    /// Tiny parameters that only check the machinery works (seconds, even in a debug
    /// build); used by the end-to-end tests through the hidden `--suite smoke`.
    Smoke,
}

impl SuiteName {
    /// The name as given to `--suite`.
    pub fn name(self) -> &'static str {
        match self {
            SuiteName::Quick => "quick",
            SuiteName::Full => "full",
            SuiteName::Smoke => "smoke",
        }
    }
}

/// The figure that sums a workload up in the closing lines and at the top of summary.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Headline {
    /// A metric of the report, by name.
    Metric(&'static str),
    /// The 99th percentile of a histogram, by name.
    P99(&'static str),
    /// The 99.9th percentile of a histogram, by name.
    P999(&'static str),
    /// The run's wall time.
    WallTime,
}

/// One workload of the suite, with its parameters in each suite (`NAME=VALUE`, as for
/// `--set`; unset parameters keep their defaults).
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The workload's name in [`crate::workloads::ALL`].
    pub workload: &'static str,
    /// Parameters in the quick suite; `None`: not in the quick suite.
    pub quick: Option<&'static [&'static str]>,
    /// Parameters in the full suite.
    pub full: &'static [&'static str],
    /// Parameters in the smoke suite; `None`: not in the smoke suite.
    pub smoke: Option<&'static [&'static str]>,
    /// Its headline figure.
    pub headline: Headline,
    /// Whether its GC pause charts mean something: not for `exit`, whose collections are the
    /// set-up compactions, not what it measures.
    pub gc_charts: bool,
}

/// Every entry, in the order docs/workloads.md lists them.
///
/// Quick parameters (Invariant 3), measured on the reference machine (2 cores, release,
/// both heaplab strategies): spawn at 200,000 processes (not a million) takes about a
/// second; ring, gc-copy and restart keep their defaults (under a second each); exit at
/// 32 MiB x 3 (not 64 MiB x 5) about half a second; churn, large-state, binaries and big
/// keep their defaults (churn's is the one the comparison is about), a few seconds to ten
/// per run.
pub const ENTRIES: &[Entry] = &[
    Entry {
        workload: "spawn",
        quick: Some(&["processes=200000"]),
        full: &[],
        smoke: Some(&["processes=1000"]),
        headline: Headline::Metric("spawn_ns_per_process"),
        gc_charts: true,
    },
    Entry {
        workload: "alloc",
        quick: Some(&[]),
        full: &[],
        smoke: None,
        headline: Headline::Metric("ns_per_word"),
        gc_charts: true,
    },
    Entry {
        workload: "ring",
        quick: Some(&[]),
        full: &[],
        smoke: Some(&["processes=10", "laps=10"]),
        headline: Headline::Metric("ns_per_hop"),
        gc_charts: true,
    },
    Entry {
        workload: "churn",
        quick: Some(&[]),
        full: &[],
        smoke: Some(&["processes=20", "entries=10", "requests=200"]),
        headline: Headline::P999("request_latency_us"),
        gc_charts: true,
    },
    Entry {
        workload: "churn-big",
        quick: None,
        full: &[],
        smoke: None,
        headline: Headline::P999("request_latency_us"),
        gc_charts: true,
    },
    Entry {
        workload: "large-state",
        quick: Some(&[]),
        full: &[],
        smoke: None,
        headline: Headline::P999("request_latency_us"),
        gc_charts: true,
    },
    Entry {
        workload: "binaries",
        quick: Some(&[]),
        full: &[],
        smoke: None,
        headline: Headline::Metric("throughput_per_s"),
        gc_charts: true,
    },
    Entry {
        workload: "big",
        quick: Some(&[]),
        full: &[],
        smoke: None,
        headline: Headline::WallTime,
        gc_charts: true,
    },
    Entry {
        workload: "exit",
        quick: Some(&["heap_mb=32", "repeats=3"]),
        full: &[],
        smoke: Some(&["heap_mb=1", "repeats=1"]),
        headline: Headline::Metric("drop_ns_many_objects"),
        gc_charts: false,
    },
    Entry {
        workload: "gc-copy",
        quick: Some(&[]),
        full: &[],
        smoke: Some(&["live_mb=1", "collections=2"]),
        headline: Headline::Metric("copy_bytes_per_s"),
        gc_charts: true,
    },
    Entry {
        workload: "restart",
        quick: Some(&[]),
        full: &[],
        smoke: Some(&["crashes=20", "supervisor_crashes=10"]),
        headline: Headline::P99("restart_latency_us"),
        gc_charts: true,
    },
];

/// The traced run of a suite: the first of these workloads that the build has, run once on
/// per-process heaps with every scheduler slice recorded (`trace-<workload>.json`).
pub const TRACE_CANDIDATES: &[&str] = &["churn", "ring"];

/// Parameters of the traced run: short, so the trace opens at once (a few thousand
/// requests or hops, tens of thousands of slices).
pub fn trace_params(workload: &str, suite: SuiteName) -> &'static [&'static str] {
    match (workload, suite) {
        ("churn", SuiteName::Smoke) => &["processes=20", "entries=10", "requests=200"],
        ("churn", _) => &["processes=1000", "requests=5000"],
        ("ring", SuiteName::Smoke) => &["processes=10", "laps=10"],
        ("ring", _) => &["processes=100", "laps=100"],
        _ => &[],
    }
}

/// One entry as one suite runs it.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The workload's name: the id of the entry (Invariant 2).
    pub id: &'static str,
    /// Its parameters in this suite (`NAME=VALUE`).
    pub params: Vec<String>,
    /// Its headline figure.
    pub headline: Headline,
    /// Whether to draw its GC pause charts ([`Entry::gc_charts`]).
    pub gc_charts: bool,
}

impl Planned {
    /// The id of the entry: its workload's name (Invariant 2).
    pub fn id(&self) -> &'static str {
        self.id
    }
}

/// The entries of `suite`, in order.
pub fn plan(suite: SuiteName) -> Vec<Planned> {
    ENTRIES
        .iter()
        .filter_map(|entry| {
            let params = match suite {
                SuiteName::Quick => entry.quick?,
                SuiteName::Full => entry.full,
                SuiteName::Smoke => entry.smoke?,
            };
            Some(Planned {
                id: entry.workload,
                params: params.iter().map(|s| (*s).to_owned()).collect(),
                headline: entry.headline,
                gc_charts: entry.gc_charts,
            })
        })
        .collect()
}

/// The entry of a workload added by a program of one's own
/// ([`crate::registry::Registry::with`]): its default parameters, its wall time as headline.
pub fn added(name: &'static str) -> Planned {
    Planned { id: name, params: Vec::new(), headline: Headline::WallTime, gc_charts: true }
}

/// The plan of a compare: the suite's entries and the added workloads, or with `only`
/// (`--workload`) just those, in the order given.
///
/// # Errors
/// A usage failure naming a workload of `only` that is neither in the suite nor added.
pub fn select(
    suite: SuiteName,
    added_names: &[&'static str],
    only: &[String],
) -> Result<Vec<Planned>, Failure> {
    let mut all = plan(suite);
    all.extend(added_names.iter().map(|name| added(name)));
    if only.is_empty() {
        return Ok(all);
    }
    only.iter()
        .map(|name| {
            all.iter().find(|p| p.id == name).cloned().ok_or_else(|| {
                let ids: Vec<&str> = all.iter().map(|p| p.id).collect();
                Failure::usage(format!(
                    "--workload '{name}' is not in the {} suite; it has: {}",
                    suite.name(),
                    ids.join(", ")
                ))
            })
        })
        .collect()
}

/// The workload of `name` in this build, or the one-line note saying it is skipped.
///
/// # Errors
/// The note, when the build has no such workload.
pub fn resolve(name: &str) -> Result<&'static dyn Workload, String> {
    workload::find(name)
        .map_err(|_| format!("skipped {name}: this build has no '{name}' workload (not in the registry)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Params;

    fn check(workload: &str, params: &[&str]) {
        if let Ok(found) = resolve(workload) {
            Params::from_assignments(found.name(), found.params(), params)
                .unwrap_or_else(|e| panic!("suite parameters of {workload}: {e}"));
        }
    }

    #[test]
    fn every_suite_parameter_is_valid_for_its_workload_when_it_exists() {
        for entry in ENTRIES {
            for params in [entry.quick, Some(entry.full), entry.smoke].into_iter().flatten() {
                check(entry.workload, params);
            }
        }
        for workload in TRACE_CANDIDATES {
            for suite in [SuiteName::Quick, SuiteName::Full, SuiteName::Smoke] {
                check(workload, trace_params(workload, suite));
            }
        }
    }

    #[test]
    fn ids_are_unique_and_suites_nest() {
        let mut ids: Vec<&str> = ENTRIES.iter().map(|e| e.workload).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), ENTRIES.len());
        let full = plan(SuiteName::Full).len();
        assert_eq!(full, ENTRIES.len(), "the full suite runs every entry");
        assert!(plan(SuiteName::Quick).len() < full);
        assert!(plan(SuiteName::Quick).iter().all(|p| p.id() != "churn-big"));
        assert!(plan(SuiteName::Smoke).len() <= plan(SuiteName::Quick).len());
    }

    #[test]
    fn the_workloads_md_suite_is_listed() {
        let ids: Vec<&str> = plan(SuiteName::Full).iter().map(Planned::id).collect();
        for name in [
            "spawn",
            "ring",
            "churn",
            "churn-big",
            "large-state",
            "binaries",
            "big",
            "exit",
            "gc-copy",
            "restart",
        ] {
            assert!(ids.contains(&name), "{name}");
        }
    }

    #[test]
    fn missing_workloads_are_a_note_and_present_ones_resolve() {
        assert_eq!(resolve("ring").unwrap().name(), "ring");
        let note = resolve("no-such-workload").unwrap_err();
        assert!(note.starts_with("skipped no-such-workload:") && !note.contains('\n'), "{note}");
    }

    #[test]
    fn a_trace_candidate_exists_in_every_build() {
        assert!(TRACE_CANDIDATES.iter().any(|name| resolve(name).is_ok()));
    }
}
