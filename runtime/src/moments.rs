//! Moments for latency attribution: when a process was last made runnable and when its
//! current slice began, and when each scheduler thread was off its CPU while it had work.
//!
//! With [`Config::attribution`](crate::Config::attribution) on, every process carries a
//! small block of stamps the scheduler writes, and every scheduler thread watches its own
//! kernel accounting (`/proc/thread-self/schedstat`, the time the thread spent runnable
//! but waiting for a CPU). A workload that times requests reads its processes' stamps with
//! [`Cx::moments`](crate::Cx::moments) right after a receive returns and the off-CPU
//! intervals with [`Runtime::off_cpu`](crate::Runtime::off_cpu) at the end, and so can say
//! where each request's time went (the root crate's `attribution` module).
//!
//! # Invariants
//! 1. Every time is in nanoseconds since the runtime's epoch
//!    ([`Runtime::epoch`](crate::Runtime::epoch)), read from the same monotonic clock as
//!    [`Instant`].
//! 2. Without attribution no stamp is kept and no clock is read for it: a process's stamp
//!    block is `None`, one branch per wake-up and per slice.
//! 3. A process's stamps, read by the process itself during a slice, describe that slice:
//!    `started_ns` is its start and `runnable_ns` the moment it was last made runnable
//!    before it (a wake-up during the slice is stamped when the slice ends), so
//!    `runnable_ns <= started_ns`.
//! 4. An off-CPU interval ends at the moment its thread was seen back on a CPU and is no
//!    longer than the wall time the thread was not accounted for (the gap between two of
//!    its own clock reads: two slice starts, or the two ends of a park): the kernel tells how long the thread waited, not when, so the
//!    wait is placed at the end of the gap that contains it. Waits shorter than
//!    [`OFF_CPU_GAP`] inside a gap shorter than that are not looked for.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A gap this long between two clock reads of a scheduler thread (from one slice's start
/// to the next's, or a park) makes the thread read its kernel accounting: about twenty times a
/// plain request's slice in `churn`, and well under a kernel time slice (CFS's minimum
/// granularity is 0.75 ms), so a preemption is seen while a read (2 µs) stays rare.
pub const OFF_CPU_GAP: Duration = Duration::from_micros(50);

/// Besides the gaps, a thread reads its accounting at least this often while it runs
/// slices, so the waiting time a gap's reading sees accrued within about this long.
const REBASE_EVERY: Duration = Duration::from_millis(1);

/// When a process was last made runnable and when its current slice began, as the process
/// reads them during a slice (Invariant 3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Moments {
    /// When it was last made runnable (queued), before the current slice.
    pub runnable_ns: u64,
    /// The scheduler whose thread made it runnable (`u32::MAX`: a thread outside the
    /// runtime).
    pub runnable_on: u32,
    /// When the current slice began.
    pub started_ns: u64,
    /// The scheduler running the slice.
    pub started_on: u32,
}

/// A scheduler thread runnable but not on a CPU, as its kernel accounting tells
/// (Invariant 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffCpu {
    /// The scheduler whose thread waited.
    pub scheduler: u32,
    /// Start, in nanoseconds since the runtime's epoch.
    pub start_ns: u64,
    /// End: when the thread was seen running again.
    pub end_ns: u64,
}

/// Nanoseconds from `epoch` to `at` (0 before it).
#[inline]
pub fn since(epoch: Instant, at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch).as_nanos()).unwrap_or(u64::MAX)
}

/// A process's stamp block, written by schedulers and read by the process.
#[derive(Default)]
pub(crate) struct Stamps {
    runnable_ns: AtomicU64,
    runnable_on: AtomicU32,
    started_ns: AtomicU64,
    started_on: AtomicU32,
}

impl Stamps {
    /// The process was made runnable now, by scheduler `on` (`None`: from outside).
    #[inline]
    pub(crate) fn runnable(&self, epoch: Instant, on: Option<u32>) {
        self.runnable_ns.store(since(epoch, Instant::now()), Ordering::Relaxed);
        self.runnable_on.store(on.unwrap_or(u32::MAX), Ordering::Relaxed);
    }

    /// A slice of the process begins at `at`, on scheduler `on`.
    #[inline]
    pub(crate) fn started(&self, at_ns: u64, on: u32) {
        self.started_ns.store(at_ns, Ordering::Relaxed);
        self.started_on.store(on, Ordering::Relaxed);
    }

    /// The stamps as the process sees them (Invariant 3: the queue hand-over orders the
    /// scheduler's stores before the slice that reads them).
    pub(crate) fn read(&self) -> Moments {
        Moments {
            runnable_ns: self.runnable_ns.load(Ordering::Relaxed),
            runnable_on: self.runnable_on.load(Ordering::Relaxed),
            started_ns: self.started_ns.load(Ordering::Relaxed),
            started_on: self.started_on.load(Ordering::Relaxed),
        }
    }
}

/// The kernel's accounting of one thread: cumulative nanoseconds it spent runnable but not
/// on a CPU (the second field of `schedstat`).
pub(crate) struct SchedStat {
    file: File,
}

impl SchedStat {
    /// The accounting of the calling thread, if the kernel offers it.
    pub(crate) fn of_this_thread() -> Option<SchedStat> {
        let stat = SchedStat { file: File::open("/proc/thread-self/schedstat").ok()? };
        stat.run_delay_ns().map(|_| stat)
    }

    /// Nanoseconds waited on a run queue so far.
    pub(crate) fn run_delay_ns(&self) -> Option<u64> {
        let mut buf = [0u8; 96];
        // The file is rendered anew at each read from offset 0.
        let n = self.file.read_at(&mut buf, 0).ok()?;
        parse_run_delay(std::str::from_utf8(&buf[..n]).ok()?)
    }
}

/// The run delay of a `schedstat` line: `cpu_ns run_delay_ns timeslices`.
pub(crate) fn parse_run_delay(line: &str) -> Option<u64> {
    let mut fields = line.split_ascii_whitespace();
    fields.next()?.parse::<u64>().ok()?;
    let delay = fields.next()?.parse().ok()?;
    fields.next()?.parse::<u64>().ok()?;
    Some(delay)
}

/// One scheduler thread's watch on its own off-CPU time (Invariant 4).
pub(crate) struct OffCpuWatch {
    stat: SchedStat,
    scheduler: u32,
    /// The run delay at the last reading, and when that reading was taken.
    delay_ns: u64,
    read_at_ns: u64,
}

impl OffCpuWatch {
    /// A watch for scheduler `scheduler` on the calling thread, if its accounting is there.
    pub(crate) fn start(scheduler: u32, epoch: Instant) -> Option<OffCpuWatch> {
        let stat = SchedStat::of_this_thread()?;
        let delay_ns = stat.run_delay_ns()?;
        Some(OffCpuWatch { stat, scheduler, delay_ns, read_at_ns: since(epoch, Instant::now()) })
    }

    /// The thread read its clock at `from` and again at `to`, having done nothing but run
    /// the runtime (or park) in between: reads the accounting if the gap is long, or the
    /// last reading old, and returns the wait it finds, placed at the end of the gap.
    pub(crate) fn observe(&mut self, from: Instant, to: Instant, epoch: Instant) -> Option<OffCpu> {
        let gap = to.saturating_duration_since(from);
        let (to_ns, gap_ns) = (since(epoch, to), u64::try_from(gap.as_nanos()).unwrap_or(u64::MAX));
        let stale = to_ns.saturating_sub(self.read_at_ns) >= REBASE_EVERY.as_nanos() as u64;
        if gap < OFF_CPU_GAP && !stale {
            return None;
        }
        let delay_ns = self.stat.run_delay_ns()?;
        let waited = delay_ns.saturating_sub(self.delay_ns);
        self.delay_ns = delay_ns;
        self.read_at_ns = to_ns;
        let placed = waited.min(gap_ns);
        (gap >= OFF_CPU_GAP && placed > 0).then(|| OffCpu {
            scheduler: self.scheduler,
            start_ns: to_ns - placed,
            end_ns: to_ns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_woken_process_sees_its_wake_up_before_its_slice() {
        // One scheduler: the reply can only come after the root's slice that sent the
        // request, so the root is woken by it.
        let rt = crate::Runtime::builder().schedulers(1).attribution(true).build().unwrap();
        let (before, moments, after) = rt
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                let echo = cx
                    .spawn(move |mut cx| async move {
                        let from = cx.receive(|_, m| m.as_pid()).await;
                        cx.send(from, |h| h.int(1));
                    })
                    .unwrap();
                let before = cx.clock_ns();
                cx.send(echo, |h| h.pid(me));
                cx.receive(|_, m| m.as_int()).await;
                (before, cx.moments().expect("attribution is on"), cx.clock_ns())
            })
            .unwrap();
        let off = rt.off_cpu();
        rt.shutdown();
        assert!(before <= moments.runnable_ns, "made runnable by the reply");
        assert!(moments.runnable_ns <= moments.started_ns && moments.started_ns <= after);
        assert_eq!((moments.runnable_on, moments.started_on), (0, 0));
        assert!(off.iter().all(|o| o.start_ns <= o.end_ns && o.scheduler == 0));
    }

    #[test]
    fn without_attribution_there_are_no_moments() {
        let rt = crate::Runtime::builder().schedulers(1).build().unwrap();
        let moments = rt.block_on(|cx| async move { cx.moments() }).unwrap();
        assert_eq!(moments, None);
        assert!(rt.off_cpu().is_empty());
    }

    #[test]
    fn a_schedstat_line_gives_its_second_field() {
        assert_eq!(parse_run_delay("40604396 88117206 33\n"), Some(88_117_206));
        assert_eq!(parse_run_delay("1 2"), None);
        assert_eq!(parse_run_delay("x 2 3"), None);
    }

    #[test]
    fn this_thread_has_accounting_on_linux() {
        if cfg!(target_os = "linux") && std::path::Path::new("/proc/thread-self/schedstat").exists() {
            let stat = SchedStat::of_this_thread().expect("schedstat readable");
            let first = stat.run_delay_ns().unwrap();
            assert!(stat.run_delay_ns().unwrap() >= first);
        }
    }

    #[test]
    fn a_short_gap_with_a_fresh_reading_reads_nothing() {
        let epoch = Instant::now();
        let Some(mut watch) = OffCpuWatch::start(0, epoch) else { return };
        let now = Instant::now();
        assert_eq!(watch.observe(now, now, epoch), None);
    }

    #[test]
    fn a_wait_is_placed_at_the_end_of_its_gap_and_never_longer() {
        let epoch = Instant::now();
        let Some(mut watch) = OffCpuWatch::start(3, epoch) else { return };
        // Pretend the last reading saw much less waiting than there was since.
        watch.delay_ns = 0;
        let from = Instant::now();
        let to = from + Duration::from_millis(2);
        let found = watch.observe(from, to, epoch);
        if let Some(off) = found {
            assert_eq!(off.scheduler, 3);
            assert_eq!(off.end_ns, since(epoch, to));
            assert!(off.end_ns - off.start_ns <= 2_000_000);
        }
        assert!(watch.read_at_ns == since(epoch, to), "a long gap is read");
    }
}
