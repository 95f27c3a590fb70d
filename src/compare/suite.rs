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
//! 2. Entry ids are unique within a suite, with the workloads a program of one's own added
//!    (they name the CSV directories, the plots, the sections of summary.md and what
//!    `--workload` selects). An entry that runs a workload at the parameters the suite is
//!    about has the workload's name as id; another entry of the same workload has
//!    `<workload>-<variant>` (`ring-payload100`), which is no workload's name (tested).
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

/// One entry of the suite: a workload with its parameters in each suite (`NAME=VALUE`, as
/// for `--set`; unset parameters keep their defaults). A workload may have several entries,
/// each with parameters of its own and an id of its own (Invariant 2).
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The entry's id (Invariant 2): the workload's name, or `<workload>-<variant>` for a
    /// second entry of the same workload.
    pub id: &'static str,
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
    /// What the entry shows, under its heading in summary.md; for an entry whose parameters
    /// are not self-explanatory.
    pub note: Option<&'static str>,
}

/// Every entry, in the order docs/workloads.md lists them.
///
/// Quick parameters (Invariant 3), measured on the reference machine (2 cores, release,
/// both heaplab strategies): spawn at 200,000 processes (not a million) takes about a
/// second; ring, gc-copy and restart keep their defaults (under a second each); ring with
/// `payload=100` at 500 laps (not 1000) about 1.2 s on per-process heaps, which copy the
/// payload at every hop (about 2.3 us a hop), a fraction of that on the others; exit at
/// 32 MiB x 3 (not 64 MiB x 5) about half a second; churn, large-state, binaries and big
/// keep their defaults (churn's is the one the comparison is about), a few seconds to ten
/// per run.
pub const ENTRIES: &[Entry] = &[
    Entry {
        id: "spawn",
        workload: "spawn",
        quick: Some(&["processes=200000"]),
        full: &[],
        smoke: Some(&["processes=1000"]),
        headline: Headline::Metric("spawn_ns_per_process"),
        gc_charts: true,
        note: None,
    },
    Entry {
        id: "alloc",
        workload: "alloc",
        quick: Some(&[]),
        full: &[],
        smoke: None,
        headline: Headline::Metric("ns_per_word"),
        gc_charts: true,
        note: None,
    },
    Entry {
        id: "ring",
        workload: "ring",
        quick: Some(&[]),
        full: &[],
        smoke: Some(&["processes=10", "laps=10"]),
        headline: Headline::Metric("ns_per_hop"),
        gc_charts: true,
        note: None,
    },
    Entry {
        id: "ring-payload100",
        workload: "ring",
        quick: Some(&["payload=100", "laps=500"]),
        full: &["payload=100"],
        smoke: Some(&["processes=10", "laps=10", "payload=100"]),
        headline: Headline::Metric("ns_per_hop"),
        gc_charts: true,
        note: Some(
            "ring whose token carries a list of 100 integers: per-process heaps copy the token \
             at every hop (203 words), the shared heap copies nothing, the hybrid heap builds \
             the token's tuple in its message area and links the payload (3 words a hop; \
             `copied_words_per_hop`): does a hybrid hop cost about what a shared one does?",
        ),
    },
    Entry {
        id: "churn",
        workload: "churn",
        quick: Some(&[]),
        full: &[],
        smoke: Some(&["processes=20", "entries=10", "requests=200"]),
        headline: Headline::P999("request_latency_us"),
        gc_charts: true,
        note: None,
    },
    Entry {
        id: "churn-big",
        workload: "churn-big",
        quick: None,
        full: &[],
        smoke: None,
        headline: Headline::P999("request_latency_us"),
        gc_charts: true,
        note: None,
    },
    Entry {
        id: "large-state",
        workload: "large-state",
        quick: Some(&[]),
        full: &[],
        smoke: None,
        headline: Headline::P999("request_latency_us"),
        gc_charts: true,
        note: None,
    },
    Entry {
        id: "binaries",
        workload: "binaries",
        quick: Some(&[]),
        full: &[],
        smoke: None,
        headline: Headline::Metric("throughput_per_s"),
        gc_charts: true,
        note: None,
    },
    Entry {
        id: "big",
        workload: "big",
        quick: Some(&[]),
        full: &[],
        smoke: None,
        headline: Headline::WallTime,
        gc_charts: true,
        note: None,
    },
    Entry {
        id: "exit",
        workload: "exit",
        quick: Some(&["heap_mb=32", "repeats=3"]),
        full: &[],
        smoke: Some(&["heap_mb=1", "repeats=1"]),
        headline: Headline::Metric("drop_ns_many_objects"),
        gc_charts: false,
        note: None,
    },
    Entry {
        id: "gc-copy",
        workload: "gc-copy",
        quick: Some(&[]),
        full: &[],
        smoke: Some(&["live_mb=1", "collections=2"]),
        headline: Headline::Metric("copy_bytes_per_s"),
        gc_charts: true,
        note: None,
    },
    Entry {
        id: "restart",
        workload: "restart",
        quick: Some(&[]),
        full: &[],
        smoke: Some(&["crashes=20", "supervisor_crashes=10"]),
        headline: Headline::P99("restart_latency_us"),
        gc_charts: true,
        note: None,
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
    /// The id of the entry (Invariant 2).
    pub id: &'static str,
    /// The workload's name.
    pub workload: &'static str,
    /// Its parameters in this suite (`NAME=VALUE`).
    pub params: Vec<String>,
    /// Its headline figure.
    pub headline: Headline,
    /// Whether to draw its GC pause charts ([`Entry::gc_charts`]).
    pub gc_charts: bool,
    /// What it shows ([`Entry::note`]).
    pub note: Option<&'static str>,
}

impl Planned {
    /// The id of the entry (Invariant 2).
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
                id: entry.id,
                workload: entry.workload,
                params: params.iter().map(|s| (*s).to_owned()).collect(),
                headline: entry.headline,
                gc_charts: entry.gc_charts,
                note: entry.note,
            })
        })
        .collect()
}

/// The entry of a workload added by a program of one's own
/// ([`crate::registry::Registry::with`]): its name as id, its default parameters, its wall
/// time as headline.
pub fn added(name: &'static str) -> Planned {
    Planned {
        id: name,
        workload: name,
        params: Vec::new(),
        headline: Headline::WallTime,
        gc_charts: true,
        note: None,
    }
}

/// The headline of the entry `id` of the suite, else (a workload added by a program of one's
/// own) the wall time.
pub fn headline_of(id: &str) -> Headline {
    ENTRIES.iter().find(|e| e.id == id).map_or(Headline::WallTime, |e| e.headline)
}

/// The plan of a compare: the suite's entries and the added workloads, or with `only`
/// (`--workload`, entry ids) just those, in the order given, each once.
///
/// # Errors
/// A usage failure naming an id of `only` that is neither a suite entry's nor an added
/// workload's, or an added workload whose name is the id of a suite entry (Invariant 2).
pub fn select(
    suite: SuiteName,
    added_names: &[&'static str],
    only: &[String],
) -> Result<Vec<Planned>, Failure> {
    if let Some(clash) = added_names.iter().find(|name| ENTRIES.iter().any(|e| e.id == **name)) {
        return Err(Failure::usage(format!(
            "the added workload '{clash}' has the id of an entry of the suite; give it another name"
        )));
    }
    let mut all = plan(suite);
    all.extend(added_names.iter().map(|name| added(name)));
    if only.is_empty() {
        return Ok(all);
    }
    let mut selected: Vec<Planned> = Vec::new();
    for id in only {
        let Some(found) = all.iter().find(|p| p.id == id) else {
            let ids: Vec<&str> = all.iter().map(|p| p.id).collect();
            return Err(Failure::usage(format!(
                "--workload '{id}' is not in the {} suite; it has: {}",
                suite.name(),
                ids.join(", ")
            )));
        };
        if selected.iter().all(|p| p.id != found.id) {
            selected.push(found.clone());
        }
    }
    Ok(selected)
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
        let mut ids: Vec<&str> = ENTRIES.iter().map(|e| e.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), ENTRIES.len());
        for entry in ENTRIES {
            if entry.id != entry.workload {
                assert!(entry.id.starts_with(&format!("{}-", entry.workload)), "{}", entry.id);
                assert!(workload::find(entry.id).is_err(), "{} is a workload's name", entry.id);
            }
        }
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
    fn ring_runs_with_a_payload_of_100_in_every_suite_beside_its_default() {
        for suite in [SuiteName::Quick, SuiteName::Full, SuiteName::Smoke] {
            let planned = plan(suite);
            let ring: Vec<&Planned> = planned.iter().filter(|p| p.workload == "ring").collect();
            assert_eq!(ring.len(), 2, "{suite:?}: {ring:?}");
            assert!(!ring[0].params.iter().any(|p| p.starts_with("payload=")), "{:?}", ring[0]);
            assert_eq!(ring[1].id(), "ring-payload100");
            assert!(ring[1].params.contains(&"payload=100".to_owned()), "{:?}", ring[1]);
            assert_eq!(ring[1].headline, Headline::Metric("ns_per_hop"));
            assert!(ring[1].note.is_some());
        }
        assert_eq!(headline_of("ring-payload100"), Headline::Metric("ns_per_hop"));
        assert_eq!(headline_of("churn"), Headline::P999("request_latency_us"));
        assert_eq!(headline_of("list-ping-pong"), Headline::WallTime);
    }

    #[test]
    fn workload_selects_entries_by_id_once_each_in_the_order_given() {
        let only = |ids: &[&str]| ids.iter().map(|id| (*id).to_owned()).collect::<Vec<String>>();
        let ids = |planned: Vec<Planned>| planned.iter().map(Planned::id).collect::<Vec<_>>();
        let selected = select(SuiteName::Smoke, &[], &only(&["ring-payload100", "ring", "ring-payload100"]));
        assert_eq!(ids(selected.unwrap()), ["ring-payload100", "ring"]);
        let selected = select(SuiteName::Smoke, &["mine"], &only(&["mine", "ring"])).unwrap();
        assert_eq!((selected[0].workload, selected[1].workload), ("mine", "ring"));
        let unknown = select(SuiteName::Smoke, &[], &only(&["ring-payload7"])).unwrap_err();
        assert_eq!(unknown.exit_code(), 2);
        assert!(unknown.message().contains("ring-payload100"), "{unknown}");
        let clash = select(SuiteName::Smoke, &["ring-payload100"], &[]).unwrap_err();
        assert!(clash.message().contains("'ring-payload100'"), "{clash}");
        assert_eq!(ids(select(SuiteName::Quick, &[], &[]).unwrap()), ids(plan(SuiteName::Quick)));
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
