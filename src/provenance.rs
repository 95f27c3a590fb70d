//! Where a report comes from: the build, the command, the date, the machine and how busy it
//! was (`"provenance"` in every report, see `docs/workloads.md`), and the getrusage figures of
//! a run (`user_time_s`, `sys_time_s`, `minor_page_faults`, `major_page_faults`).
//!
//! # Invariants
//! 1. `git_commit` and `git_dirty` describe the source the binary was built from (recorded
//!    by `build.rs`), not whatever checkout the binary runs in; `git_dirty` is true when files
//!    compiled into it differed from the commit.
//! 2. The load average is read when the run starts; a reader of the report sees how busy the
//!    machine was, and [`warn_if_loaded`] says so on stderr when it exceeds half the cores.
//! 3. A figure the system does not offer is `"unknown"` or 0, never guessed.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use nix::sys::resource::{getrusage, UsageWho};
use serde::{Deserialize, Serialize};

use crate::machine;

/// The provenance of one report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The heaplab crate version.
    pub heaplab_version: String,
    /// The git commit the binary was built from, or `unknown` (Invariant 1).
    pub git_commit: String,
    /// Whether the built source had uncommitted changes (Invariant 1).
    pub git_dirty: bool,
    /// `release` or `debug`.
    pub build_profile: String,
    /// The command line that produced the report.
    pub command: String,
    /// When the run started, UTC, ISO 8601 (`2026-12-01T13:24:05Z`).
    pub date: String,
    /// The `rustc` that built the binary.
    pub rustc: String,
    /// The external runtime that ran the workload, with its versions (`runtime`: `beam`,
    /// `otp_release`, `erts_version`); empty for heaplab's own strategies.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub peer: std::collections::BTreeMap<String, String>,
    /// The kernel release (`uname -r`).
    pub kernel: String,
    /// The CPU model name.
    pub cpu_model: String,
    /// Logical cores available to the process.
    pub cores: usize,
    /// Physical memory, in bytes (0 when unknown).
    pub memory_bytes: u64,
    /// The 1, 5 and 15 minute load averages when the run started (Invariant 2).
    pub load_average: [f64; 3],
}

impl Provenance {
    /// The provenance of a run starting now with `command`.
    pub fn now(command: &str) -> Provenance {
        Provenance {
            heaplab_version: env!("CARGO_PKG_VERSION").to_owned(),
            git_commit: env!("HEAPLAB_GIT_COMMIT").to_owned(),
            git_dirty: env!("HEAPLAB_GIT_DIRTY") == "true",
            build_profile: if cfg!(debug_assertions) { "debug" } else { "release" }.to_owned(),
            command: command.to_owned(),
            date: iso_date(SystemTime::now()),
            rustc: machine::RUSTC_VERSION.to_owned(),
            peer: Default::default(),
            kernel: machine::kernel_release().unwrap_or_else(|| "unknown".to_owned()),
            cpu_model: machine::cpu_model().unwrap_or_else(|| "unknown".to_owned()),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            memory_bytes: machine::memory_bytes().unwrap_or(0),
            load_average: machine::load_average().unwrap_or([0.0; 3]),
        }
    }

    /// Whether the machine was busier than half its cores when the run started.
    pub fn loaded(&self) -> bool {
        self.load_average[0] > self.cores as f64 / 2.0
    }
}

/// This process's command line, each argument quoted where a shell would need it.
pub fn command_line() -> String {
    let mut line = String::new();
    for (i, arg) in std::env::args().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        let arg = if i == 0 { program_name(&arg) } else { arg };
        if !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_=./:,+@%".contains(c)) {
            line.push_str(&arg);
        } else {
            let _ = write!(line, "'{}'", arg.replace('\'', "'\\''"));
        }
    }
    line
}

/// The program's file name without its directory (`heaplab`, not `target/release/heaplab`).
fn program_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map_or_else(|| path.to_owned(), |n| n.to_string_lossy().into_owned())
}

/// Prints one warning line when the machine is loaded (Invariant 2).
pub fn warn_if_loaded(provenance: &Provenance) {
    if provenance.loaded() {
        eprintln!(
            "heaplab: warning: load average {:.2} exceeds half of the {} cores: the figures will be noisy",
            provenance.load_average[0], provenance.cores
        );
    }
}

/// `time` as ISO 8601 UTC with seconds, `YYYY-MM-DDTHH:MM:SSZ`.
pub fn iso_date(time: SystemTime) -> String {
    let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    let rest = seconds % 86_400;
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// The civil date of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// CPU time and page faults, as getrusage(2) counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// User CPU time, in seconds.
    pub user_s: f64,
    /// System CPU time, in seconds.
    pub sys_s: f64,
    /// Page faults served without I/O.
    pub minor_faults: u64,
    /// Page faults that needed I/O.
    pub major_faults: u64,
}

/// The metric names of a [`Usage`], in the order [`Usage::metrics`] gives them.
pub const USAGE_METRICS: [&str; 4] = ["user_time_s", "sys_time_s", "minor_page_faults", "major_page_faults"];

impl Usage {
    /// This process so far (all its threads).
    pub fn of_self() -> Usage {
        Usage::of(UsageWho::RUSAGE_SELF)
    }

    /// Every child of this process that has ended and been waited for, so far. The
    /// difference of two readings around one child's run is that child's usage (children
    /// run one at a time).
    pub fn of_children() -> Usage {
        Usage::of(UsageWho::RUSAGE_CHILDREN)
    }

    fn of(who: UsageWho) -> Usage {
        let Ok(usage) = getrusage(who) else { return Usage::default() };
        let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 * 1e-6;
        Usage {
            user_s: seconds(usage.user_time()),
            sys_s: seconds(usage.system_time()),
            minor_faults: u64::try_from(usage.minor_page_faults()).unwrap_or(0),
            major_faults: u64::try_from(usage.major_page_faults()).unwrap_or(0),
        }
    }

    /// What was used from `earlier` to `self`.
    pub fn since(self, earlier: Usage) -> Usage {
        Usage {
            user_s: (self.user_s - earlier.user_s).max(0.0),
            sys_s: (self.sys_s - earlier.sys_s).max(0.0),
            minor_faults: self.minor_faults.saturating_sub(earlier.minor_faults),
            major_faults: self.major_faults.saturating_sub(earlier.major_faults),
        }
    }

    /// The four metrics, named as [`USAGE_METRICS`].
    pub fn metrics(self) -> [(&'static str, f64); 4] {
        [
            (USAGE_METRICS[0], self.user_s),
            (USAGE_METRICS[1], self.sys_s),
            (USAGE_METRICS[2], self.minor_faults as f64),
            (USAGE_METRICS[3], self.major_faults as f64),
        ]
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn dates_are_iso_utc() {
        assert_eq!(iso_date(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let leap_day = UNIX_EPOCH + Duration::from_secs(951_782_400 + 13 * 3600 + 24 * 60 + 5);
        assert_eq!(iso_date(leap_day), "2000-02-29T13:24:05Z");
    }

    #[test]
    fn the_provenance_names_the_build_and_the_machine() {
        let provenance = Provenance::now("heaplab bench ring");
        assert_eq!(provenance.heaplab_version, env!("CARGO_PKG_VERSION"));
        assert!(provenance.git_commit == "unknown" || provenance.git_commit.len() == 40, "{provenance:?}");
        assert_eq!(provenance.command, "heaplab bench ring");
        assert!(provenance.date.ends_with('Z') && provenance.date.len() == 20, "{provenance:?}");
        assert!(provenance.cores >= 1);
        #[cfg(target_os = "linux")]
        {
            assert!(provenance.memory_bytes > 0, "{provenance:?}");
            assert_ne!(provenance.kernel, "unknown");
            assert!(provenance.load_average.iter().all(|l| *l >= 0.0));
        }
    }

    #[test]
    fn a_machine_is_loaded_above_half_its_cores() {
        let mut provenance = Provenance { cores: 2, ..Provenance::default() };
        provenance.load_average = [1.0, 0.0, 0.0];
        assert!(!provenance.loaded());
        provenance.load_average = [1.01, 0.0, 0.0];
        assert!(provenance.loaded());
    }

    #[test]
    fn usage_grows_with_work_and_differences_are_never_negative() {
        let before = Usage::of_self();
        let mut pages: Vec<Vec<u8>> = Vec::new();
        for _ in 0..64 {
            pages.push(vec![1u8; 1 << 16]);
        }
        std::hint::black_box(&pages);
        let used = Usage::of_self().since(before);
        assert!(used.minor_faults > 0, "{used:?}");
        assert_eq!(before.since(Usage::of_self()).minor_faults, 0);
        assert_eq!(USAGE_METRICS, used.metrics().map(|(name, _)| name));
    }
}
