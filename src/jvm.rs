//! The JVM columns: the Java version of a workload under OpenJDK's `java`, with the
//! Parallel, G1 or Z collector (`--heap jvm-parallel`, `jvm-g1`, `jvm-zgc`). Each is a
//! [`Peer`]: [`crate::peer`] runs the pass and builds the measurements; this module says how
//! to compile and start it, how large a heap to give it, and reads the collector's log.
//!
//! The Java sources live in `peers/java/` and are embedded in the binary. An actor there is
//! a mailbox queue plus a scheduled flag, run by a fixed pool of one thread per scheduler
//! (`HeaplabActors.java`); clients are platform threads; a server's state is a linked list
//! of `{I, V, [I, V]}` entries rebuilt on every rewrite as the Erlang list comprehension
//! rebuilds it.
//!
//! # Protocol
//! 1. [`tools`]: `java` and `javac` are on the `PATH`; otherwise the note of
//!    [`peer::missing_tool`] (`apt-get install default-jdk-headless`); nothing is ever
//!    installed.
//! 2. [`Jvm::prepare`]: write the class's source, the sources of the classes it uses and
//!    [`SUPPORT`] into the run's directory and compile them with `javac`.
//! 3. [`Jvm::pass`]: `java -XX:+Use<Collector>GC -Xms<heap> -Xmx<heap> -XX:-UsePerfData
//!    -Dheaplab.schedulers=N -Xlog:gc*,safepoint:file=DIR/gc.log:uptimenanos,tags -cp DIR
//!    CLASS NAME=VALUE...`: one pass, the collector logging every pause and safepoint to the
//!    file; [`parse_log`] reads it ([`Peer::collector_log`]).
//!
//! # The heap (`-Xmx`)
//! [`max_heap_bytes`]: three times the live data the Java version keeps (its own layout:
//! 104 bytes per `{I, V, [I, V]}` entry with compressed oops), at least
//! [`MIN_HEAP_BYTES`] (2 GiB), rounded up to 64 MiB, and at most three quarters of the
//! machine's memory. Three times, because a copying young generation, a compacting old one
//! and ZGC's relocation all need room beside the live data: at about 1.1 times (1 GB for
//! churn-big's 1 GB of states) the Parallel collector does little but full collections.
//! The floor is the room a concurrent cycle needs for what is allocated while it runs.
//! `-Xms` is the same: the heap is sized once, and no collector resizes it mid-run (growing
//! Parallel's old generation costs full collections: on churn-big without `-Xms`, three of
//! up to 2.3 s). The report's `jvm_heap_max_bytes` is the maximum the JVM took.
//!
//! # Warm-up
//! Nothing runs before the measured window: the interpreter and the JIT compilers work
//! inside it, as in a service just started, and `jit_compile_s` says how much compiling
//! the window held. The first requests of a run are the slow ones.
//!
//! # Invariants
//! 1. Every workload listed in [`PROGRAMS`] exists in the workload table and its class reads
//!    exactly that workload's parameters with their defaults (tested).
//! 2. Every pause line of the log becomes one record: a young pause is `minor`, every other
//!    (full, remark, cleanup, ZGC's pauses) `major`; its start is the log's time stamp less
//!    its duration (a pause line is written at its end).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use regex::Regex;

use crate::failure::Failure;
use crate::gc_log::GcRecord;
use crate::histogram::DurationHistogram;
use crate::params::Params;
use crate::peer::{self, CollectorLog, Peer, Program};
use crate::strategy::Strategy;
use crate::workload::{RunContext, Workload};

/// The Debian package with `java` and `javac`.
pub const PACKAGE: &str = "default-jdk-headless";

/// The log file a pass writes, in the run's directory.
pub const LOG_FILE: &str = "gc.log";

/// The smallest `-Xmx` given: room for the allocation of a concurrent cycle beside the live
/// data. Measured on `churn` (100 MB live, about 0.5 GB/s allocated): at 1 GiB ZGC stalled
/// threads 12 times, up to 264 ms, and Parallel made 2 full collections of 0.5 s each; at
/// 2 GiB neither.
pub const MIN_HEAP_BYTES: u64 = 2 << 30;

/// What `-Xmx` is rounded up to.
const HEAP_STEP: u64 = 64 << 20;

/// Bytes of one `{I, V, [I, V]}` entry in the Java version (`HeaplabChurn.ENTRY_BYTES`):
/// the list cell (24), the entry (32) and the two cells of `[I, V]` (24 each), with
/// compressed oops and 12-byte headers.
pub const ENTRY_BYTES: u64 = 104;

/// Bytes of an idle actor: the actor, its mailbox queue and its first node, its flag.
const ACTOR_BYTES: u64 = 160;

/// The churn class, whose servers and clients `churn-big` and `large-state` use too.
const CHURN: Program = Program {
    workload: "churn",
    name: "HeaplabChurn",
    file: "HeaplabChurn.java",
    source: include_str!("../peers/java/HeaplabChurn.java"),
    uses: &[],
};

/// Every workload with a Java version, in workload name order (Invariant 1).
pub const PROGRAMS: &[Program] = &[
    Program {
        workload: "binaries",
        name: "HeaplabBinaries",
        file: "HeaplabBinaries.java",
        source: include_str!("../peers/java/HeaplabBinaries.java"),
        uses: &[],
    },
    CHURN,
    Program {
        workload: "churn-big",
        name: "HeaplabChurnBig",
        file: "HeaplabChurnBig.java",
        source: include_str!("../peers/java/HeaplabChurnBig.java"),
        uses: &[CHURN],
    },
    Program {
        workload: "large-state",
        name: "HeaplabLargeState",
        file: "HeaplabLargeState.java",
        source: include_str!("../peers/java/HeaplabLargeState.java"),
        uses: &[CHURN],
    },
    Program {
        workload: "ring",
        name: "HeaplabRing",
        file: "HeaplabRing.java",
        source: include_str!("../peers/java/HeaplabRing.java"),
        uses: &[],
    },
    Program {
        workload: "spawn",
        name: "HeaplabSpawn",
        file: "HeaplabSpawn.java",
        source: include_str!("../peers/java/HeaplabSpawn.java"),
        uses: &[],
    },
];

/// The classes every program uses: the report line and the actors.
pub const SUPPORT: &[Program] = &[
    Program {
        workload: "",
        name: "HeaplabReport",
        file: "HeaplabReport.java",
        source: include_str!("../peers/java/HeaplabReport.java"),
        uses: &[],
    },
    Program {
        workload: "",
        name: "HeaplabActors",
        file: "HeaplabActors.java",
        source: include_str!("../peers/java/HeaplabActors.java"),
        uses: &[],
    },
];

/// A collector of the JVM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collector {
    /// `-XX:+UseParallelGC`: stop-the-world, parallel young and full collections.
    Parallel,
    /// `-XX:+UseG1GC`: regions, stop-the-world evacuation, concurrent marking.
    G1,
    /// `-XX:+UseZGC`: concurrent marking and relocation, pauses to start and end them.
    Z,
}

/// The JVM with one collector, as a peer.
#[derive(Debug, Clone, Copy)]
pub struct Jvm {
    /// Its collector.
    pub collector: Collector,
}

/// `--heap jvm-parallel`.
pub static PARALLEL: Jvm = Jvm { collector: Collector::Parallel };
/// `--heap jvm-g1`.
pub static G1: Jvm = Jvm { collector: Collector::G1 };
/// `--heap jvm-zgc`.
pub static ZGC: Jvm = Jvm { collector: Collector::Z };

/// The Java version of `workload`, if there is one.
pub fn program(workload: &str) -> Option<&'static Program> {
    peer::program_of(PROGRAMS, workload)
}

/// `java` and `javac` on the `PATH`, or the note saying how to get them (Protocol step 1).
///
/// # Errors
/// The [`peer::missing_tool`] note of the first one missing.
pub fn tools() -> Result<(PathBuf, PathBuf), String> {
    let found = peer::require_tools(&[("java", PACKAGE), ("javac", PACKAGE)])?;
    Ok((found[0].clone(), found[1].clone()))
}

impl Collector {
    /// The flag that selects it.
    pub fn flag(self) -> &'static str {
        match self {
            Collector::Parallel => "-XX:+UseParallelGC",
            Collector::G1 => "-XX:+UseG1GC",
            Collector::Z => "-XX:+UseZGC",
        }
    }
}

/// The live data the Java version of `workload` keeps with `params`, in bytes: what
/// `-Xmx` is sized from.
pub fn live_bytes(workload: &str, params: &Params) -> u64 {
    let int = |name: &str| peer::integer_param(params, name);
    match workload {
        "churn" | "churn-big" => int("processes") * int("entries") * ENTRY_BYTES,
        "large-state" => {
            // The Erlang version's entry count (80-byte entries), in the JVM's layout.
            let entries = (int("state_mb") << 20).div_ceil(80);
            entries * ENTRY_BYTES + int("processes") * (10 * ENTRY_BYTES + ACTOR_BYTES)
        }
        "spawn" | "ring" => int("processes") * ACTOR_BYTES + int("payload") * (int("copies") + 1) * 24,
        "binaries" => {
            let kept = int("consumers") * int("keep");
            let in_flight = int("producers") * 17;
            (kept + in_flight) * int("max_bytes")
        }
        _ => 0,
    }
}

/// `-Xmx` for a run (module docs): 3 x the live data, at least [`MIN_HEAP_BYTES`], rounded
/// up to 64 MiB, at most `memory` x 3/4 (when the machine's memory is known; the cap wins
/// over the floor, down to 64 MiB).
pub fn max_heap_bytes(live: u64, memory: Option<u64>) -> u64 {
    let wanted = live.saturating_mul(3).max(MIN_HEAP_BYTES).div_ceil(HEAP_STEP) * HEAP_STEP;
    match memory {
        Some(memory) => wanted.min((memory / 4 * 3 / HEAP_STEP * HEAP_STEP).max(HEAP_STEP)),
        None => wanted,
    }
}

impl Peer for Jvm {
    fn strategy(&self) -> Strategy {
        match self.collector {
            Collector::Parallel => Strategy::JvmParallel,
            Collector::G1 => Strategy::JvmG1,
            Collector::Z => Strategy::JvmZgc,
        }
    }

    fn runtime(&self) -> &'static str {
        "JVM"
    }

    fn programs(&self) -> &'static [Program] {
        PROGRAMS
    }

    fn tools(&self) -> Result<(), String> {
        tools().map(|_| ())
    }

    fn prepare(&self, workload: &dyn Workload, dir: &Path) -> Result<(), Failure> {
        let program = program(workload.name()).expect("checked by require");
        let (_, javac) = tools().map_err(Failure::usage)?;
        let sources = peer::write_sources(program, SUPPORT, dir)?;
        peer::compile(Command::new(&javac).arg("-d").arg(dir).args(&sources), program.file)
    }

    fn pass(&self, workload: &dyn Workload, dir: &Path, context: &RunContext, _traced: bool) -> Command {
        let program = program(workload.name()).expect("checked by require");
        let java = peer::find_on_path("java").unwrap_or_else(|| PathBuf::from("java"));
        let heap =
            max_heap_bytes(live_bytes(workload.name(), &context.params), crate::machine::memory_bytes());
        let mut command = Command::new(java);
        command
            .arg(self.collector.flag())
            .arg(format!("-Xms{}m", heap >> 20))
            .arg(format!("-Xmx{}m", heap >> 20))
            .arg("-XX:-UsePerfData")
            .arg(format!("-Dheaplab.schedulers={}", context.schedulers))
            .arg(format!("-Xlog:gc*,safepoint:file={}:uptimenanos,tags", dir.join(LOG_FILE).display()))
            .arg("-cp")
            .arg(dir)
            .arg(program.name)
            .args(peer::assignments(&context.params));
        command
    }

    fn traced_pass(&self) -> bool {
        false
    }

    fn collector_log(&self, dir: &Path, _output: &std::process::Output) -> Result<CollectorLog, Failure> {
        let path = dir.join(LOG_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Failure::run(format!("cannot read the JVM's GC log '{}': {e}", path.display())))?;
        Ok(parse_log(&text))
    }
}

/// `[<uptime>ns][<tags>] <message>`: the decorations `uptimenanos,tags` put before each line.
static LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\[(\d+)ns\]\[([a-z,]+)\s*\]\s?(.*)$").expect("a valid pattern"));

/// `GC(<id>) [Y: |O: ]Pause <what> [<before>-><after>(<capacity>)] <ms>ms`: a pause line of
/// Parallel, G1 (`gc`) or ZGC (`gc,phases`; `Y:`/`O:` in generational ZGC).
static PAUSE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^GC\((\d+)\) (?:[YO]: )?(Pause .*?)(?: (\d+)([KMG])->(\d+)([KMG])\((\d+)([KMG])\))? (\d+(?:\.\d+)?)ms$",
    )
    .expect("a valid pattern")
});

/// `Allocation Stall (<thread>) <ms>ms`: a thread of ZGC waiting for memory.
static STALL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"Allocation Stall \(.*\) (\d+(?:\.\d+)?)ms$").expect("a valid pattern"));

/// `Safepoint "<operation>", Time since last: N ns, Reaching safepoint: N ns, [Cleanup: N ns, ]At
/// safepoint: N ns, Total: N ns` (JDK 17 and later, `safepoint` tag at info level).
static SAFEPOINT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^Safepoint "([^"]*)", .*Reaching safepoint: (\d+) ns, .*Total: (\d+) ns$"#)
        .expect("a valid pattern")
});

/// `Total time for which application threads were stopped: S seconds, Stopping threads took:
/// S seconds` (the JDK 11 form of the same line).
static STOPPED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^Total time for which application threads were stopped: (\d+\.\d+) seconds, Stopping threads took: (\d+\.\d+) seconds$",
    )
    .expect("a valid pattern")
});

/// A size with its unit letter, in words (8 bytes).
fn words(amount: &str, unit: &str) -> u64 {
    let bytes = amount.parse::<u64>().unwrap_or(0)
        << match unit {
            "K" => 10,
            "M" => 20,
            _ => 30,
        };
    bytes / 8
}

/// Milliseconds as written in the log, in nanoseconds.
fn millis_ns(text: &str) -> u64 {
    (text.parse::<f64>().unwrap_or(0.0) * 1e6).round() as u64
}

/// Every pause, allocation stall and safepoint of a JVM unified log written with
/// `-Xlog:gc*,safepoint:...:uptimenanos,tags` (Invariant 2). Metrics: `gc_cycles` (distinct
/// GC ids with a pause), `safepoints`, `safepoint_total_s`; histograms: `safepoint_us` (each
/// safepoint's total), `time_to_safepoint_us` (its wait for every thread to stop); under
/// ZGC (or where a stall is logged) `allocation_stalls` and `allocation_stall_us`. Lines of
/// other forms are skipped.
pub fn parse_log(text: &str) -> CollectorLog {
    let mut log = CollectorLog::default();
    let mut cycles = BTreeSet::new();
    let mut safepoint = DurationHistogram::new();
    let mut reaching = DurationHistogram::new();
    let mut stalls = DurationHistogram::new();
    let mut zgc = false;
    for line in text.lines() {
        let Some(parts) = LINE.captures(line) else { continue };
        let uptime: u64 = parts[1].parse().unwrap_or(0);
        let tags = &parts[2];
        let message = parts[3].trim_end();
        if tags == "gc" || tags == "gc,phases" {
            zgc |= message.starts_with("Using The Z Garbage Collector");
            if let Some(pause) = PAUSE.captures(message) {
                let duration_ns = millis_ns(&pause[9]);
                let what = pause[2].to_owned();
                cycles.insert(pause[1].to_owned());
                let (before, after) = match (pause.get(3), pause.get(5)) {
                    (Some(b), Some(a)) => (words(b.as_str(), &pause[4]), words(a.as_str(), &pause[6])),
                    _ => (0, 0),
                };
                let young = what.starts_with("Pause Young");
                log.records.push(GcRecord {
                    kind: if young { "minor" } else { "major" },
                    reason: what,
                    pid: None,
                    scheduler: None,
                    start_ns: uptime.saturating_sub(duration_ns),
                    duration_ns,
                    words_before: before,
                    words_after: after,
                    // A copying pause copies what survives it; the log tells no more.
                    words_copied: 0,
                    words_promoted: 0,
                    binaries_freed: 0,
                    time_to_safepoint_ns: 0,
                    max_worker_words: 0,
                });
                continue;
            }
            if let Some(stall) = STALL.captures(message) {
                stalls.record_ns(millis_ns(&stall[1]));
            }
        } else if tags == "safepoint" {
            if let Some(point) = SAFEPOINT.captures(message) {
                reaching.record_ns(point[2].parse().unwrap_or(0));
                safepoint.record_ns(point[3].parse().unwrap_or(0));
            } else if let Some(point) = STOPPED.captures(message) {
                let seconds_ns = |text: &str| (text.parse::<f64>().unwrap_or(0.0) * 1e9).round() as u64;
                safepoint.record_ns(seconds_ns(&point[1]));
                reaching.record_ns(seconds_ns(&point[2]));
            }
        }
    }
    let total_ns: u64 = safepoint.raw_ns().iter().sum();
    log.metrics = BTreeMap::from([
        ("gc_cycles".to_owned(), cycles.len() as f64),
        ("safepoints".to_owned(), safepoint.len() as f64),
        ("safepoint_total_s".to_owned(), total_ns as f64 / 1e9),
    ]);
    log.histograms.insert("safepoint_us".to_owned(), safepoint);
    log.histograms.insert("time_to_safepoint_us".to_owned(), reaching);
    // Only ZGC stalls allocating threads; the others would show an always-empty row.
    if zgc || !stalls.is_empty() {
        log.metrics.insert("allocation_stalls".to_owned(), stalls.len() as f64);
        log.histograms.insert("allocation_stall_us".to_owned(), stalls);
    }
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
            assert_eq!(program.file, format!("{}.java", program.name));
            assert!(program.source.contains(&format!("public final class {} {{", program.name)));
        }
        for program in PROGRAMS {
            let workload = crate::workload::find(program.workload).unwrap();
            assert!(program.source.contains("public static void main(String[] args)"), "{}", program.name);
            for param in workload.params() {
                let pattern = match param.kind {
                    crate::params::ParamKind::Integer { .. } => {
                        format!("integer(\"{}\", {})", param.name, param.default)
                    }
                    crate::params::ParamKind::OneOf(_) => {
                        format!("word(\"{}\", \"{}\")", param.name, param.default)
                    }
                };
                assert!(program.source.contains(&pattern), "{}: {pattern}", program.name);
            }
            for used in program.uses {
                assert!(
                    program.source.contains(&format!("{}.", used.name)),
                    "{} uses {}",
                    program.name,
                    used.name
                );
            }
        }
        for workload in ["churn", "churn-big", "large-state", "ring", "spawn", "binaries"] {
            assert!(program(workload).is_some(), "{workload}");
        }
    }

    #[test]
    fn the_heap_is_three_times_the_live_data_within_bounds() {
        let churn = crate::workload::find("churn-big").unwrap();
        let params = Params::from_assignments("churn-big", churn.params(), &[] as &[&str]).unwrap();
        let live = live_bytes("churn-big", &params);
        assert_eq!(live, 10_000 * 1000 * ENTRY_BYTES);
        let gib = 1u64 << 30;
        let heap = max_heap_bytes(live, Some(24 * gib));
        assert_eq!(heap % HEAP_STEP, 0);
        assert!(heap >= 3 * live && heap < 3 * live + HEAP_STEP, "{heap}");
        assert_eq!(max_heap_bytes(1000, Some(24 * gib)), MIN_HEAP_BYTES);
        assert_eq!(max_heap_bytes(live, Some(2 * gib)), 3 * gib / 2, "three quarters of the memory");
        assert_eq!(max_heap_bytes(1000, Some(2 * gib)), 3 * gib / 2, "the cap wins over the floor");
        assert_eq!(max_heap_bytes(1000, Some(1 << 20)), HEAP_STEP);
        assert_eq!(max_heap_bytes(live, None), heap);
    }

    /// Lines of `java -XX:+UseParallelGC -Xlog:gc*,safepoint:file=...:uptimenanos,tags`
    /// (OpenJDK 17.0.15), with G1's and ZGC's pause forms and a JDK 11 safepoint line.
    const LOG: &str = "\
[6926615ns][gc] Using Parallel
[326680203ns][gc,start    ] GC(0) Pause Young (Allocation Failure)
[340882182ns][gc          ] GC(0) Pause Young (Allocation Failure) 95M->10M(362M) 14.201ms
[342042299ns][safepoint   ] Safepoint \"ParallelGCFailedAllocation\", Time since last: 307790522 ns, Reaching safepoint: 308640 ns, Cleanup: 51797 ns, At safepoint: 15392082 ns, Total: 15752519 ns
[900000000ns][gc          ] GC(1) Pause Full (Ergonomics) 300M->120M(512M) 250.500ms
[950000000ns][gc          ] GC(2) Pause Remark 45M->45M(380M) 1.234ms
[960000000ns][gc,phases   ] GC(3) Pause Mark Start 0.005ms
[961000000ns][gc,phases   ] GC(3) Y: Pause Mark End 0.013ms
[962000000ns][gc          ] Allocation Stall (heaplab-client-0) 12.500ms
[963000000ns][gc,phases   ] GC(3)   Pre Evacuate Collection Set: 0.1ms
[964000000ns][gc          ] GC(3) Garbage Collection (Allocation Rate) 70M(14%)->44M(9%)
[965000000ns][safepoint   ] Total time for which application threads were stopped: 0.0012345 seconds, Stopping threads took: 0.0000123 seconds
";

    #[test]
    fn pause_and_safepoint_lines_are_read() {
        let log = parse_log(LOG);
        let kinds: Vec<(&str, &str, u64)> =
            log.records.iter().map(|r| (r.kind, r.reason.as_str(), r.duration_ns)).collect();
        assert_eq!(
            kinds,
            [
                ("minor", "Pause Young (Allocation Failure)", 14_201_000),
                ("major", "Pause Full (Ergonomics)", 250_500_000),
                ("major", "Pause Remark", 1_234_000),
                ("major", "Pause Mark Start", 5_000),
                ("major", "Pause Mark End", 13_000),
            ]
        );
        let young = &log.records[0];
        assert_eq!(young.start_ns, 340_882_182 - 14_201_000);
        assert_eq!((young.words_before, young.words_after), (95 << 17, 10 << 17));
        assert_eq!(log.records[3].words_before, 0, "ZGC's pauses carry no sizes");
        assert_eq!(log.metrics["gc_cycles"], 4.0);
        assert_eq!(log.metrics["safepoints"], 2.0);
        assert!((log.metrics["safepoint_total_s"] - (15_752_519.0 + 1_234_500.0) / 1e9).abs() < 1e-12);
        assert_eq!(log.histograms["safepoint_us"].raw_ns(), [15_752_519, 1_234_500]);
        assert_eq!(log.histograms["time_to_safepoint_us"].raw_ns(), [308_640, 12_300]);
        assert_eq!(log.metrics["allocation_stalls"], 1.0);
        assert_eq!(log.histograms["allocation_stall_us"].raw_ns(), [12_500_000]);
        let summary = crate::gc_log::summarize(&log.records);
        assert_eq!((summary.minor, summary.major), (1, 4));
    }

    #[test]
    fn other_lines_are_skipped() {
        let log = parse_log("no decorations\n[12ns][gc,heap] GC(0) Eden: 1M->0M\n\n");
        assert!(log.records.is_empty());
        assert_eq!(log.metrics["safepoints"], 0.0);
        assert_eq!(log.histograms["safepoint_us"].len(), 0);
        assert!(!log.metrics.contains_key("allocation_stalls"), "no ZGC, no stall row");
        let log = parse_log("[6926615ns][gc] Using The Z Garbage Collector\n");
        assert_eq!(log.metrics["allocation_stalls"], 0.0);
    }
}
