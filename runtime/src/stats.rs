//! Runtime and scheduler counters.

use std::sync::atomic::Ordering;

use crate::scheduler::SchedulerCounters;

/// A snapshot of one scheduler's counters.
#[derive(Clone, Debug, Default)]
pub struct SchedulerStats {
    /// Slices run (process polls).
    pub slices: usize,
    /// Processes stolen from other schedulers.
    pub steals: usize,
    /// Times the scheduler parked for lack of work.
    pub parks: usize,
    /// Slices longer than the overrun threshold.
    pub overruns: usize,
    /// Slice length percentiles in nanoseconds: p50, p99, p999, max (0 when unknown).
    pub slice_ns: [u64; 4],
    /// Nanoseconds spent in timed sends, from the call of `Cx::send` to its return
    /// (building the message, copying it under per-process heaps, enqueueing it, waking the
    /// receiver); 0 unless the runtime times sends ([`crate::Config::time_sends`]).
    pub send_ns: u64,
    /// Sends timed.
    pub timed_sends: u64,
}

impl SchedulerStats {
    pub(crate) fn from_counters(c: &SchedulerCounters) -> SchedulerStats {
        let slice_ns = c.slice_ns.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map_or([0; 4], |h| {
            [h.value_at_quantile(0.5), h.value_at_quantile(0.99), h.value_at_quantile(0.999), h.max()]
        });
        SchedulerStats {
            slices: c.slices.load(Ordering::Relaxed),
            steals: c.steals.load(Ordering::Relaxed),
            parks: c.parks.load(Ordering::Relaxed),
            overruns: c.overruns.load(Ordering::Relaxed),
            slice_ns,
            send_ns: c.send_ns.load(Ordering::Relaxed),
            timed_sends: c.timed_sends.load(Ordering::Relaxed),
        }
    }
}

/// A snapshot of the runtime's counters.
#[derive(Clone, Debug, Default)]
pub struct RuntimeStats {
    /// Processes alive.
    pub processes: usize,
    /// The process limit.
    pub process_limit: usize,
    /// Processes spawned since start.
    pub spawned: u64,
    /// Processes that exited since start.
    pub exited: u64,
    /// Registered names.
    pub registered: usize,
    /// Per scheduler.
    pub schedulers: Vec<SchedulerStats>,
    /// Times an idle scheduler gave memory back after a burst of exits (see
    /// [`TRIM_AFTER_EXITS`](crate::TRIM_AFTER_EXITS)).
    pub trims: u64,
    /// Nanoseconds those trims took, in all.
    pub trim_ns: u64,
    /// Chunks of the process table in memory, each [`PROCESS_TABLE_CHUNK`] slots; a trim
    /// frees the chunks whose slots are all free.
    pub process_table_chunks: usize,
}

/// Slots per chunk of the process table.
pub const PROCESS_TABLE_CHUNK: usize = crate::table::CHUNK;

impl RuntimeStats {
    /// Steals over all schedulers.
    pub fn steals(&self) -> usize {
        self.schedulers.iter().map(|s| s.steals).sum()
    }

    /// Nanoseconds in timed sends over all schedulers.
    pub fn send_ns(&self) -> u64 {
        self.schedulers.iter().map(|s| s.send_ns).sum()
    }

    /// Timed sends over all schedulers.
    pub fn timed_sends(&self) -> u64 {
        self.schedulers.iter().map(|s| s.timed_sends).sum()
    }

    /// Overruns over all schedulers.
    pub fn overruns(&self) -> usize {
        self.schedulers.iter().map(|s| s.overruns).sum()
    }
}

/// A counter that many threads add to, in one cache line per scheduler (and one for
/// threads outside the runtime): a spawn or an exit adds to its own scheduler's line, so
/// counting them puts no line that every scheduler writes into the spawn and exit paths.
/// Reading sums the lines; each add is atomic, so none is lost, whichever thread adds
/// where (a scheduler of another runtime that spawns here shares a line with one of ours).
pub(crate) struct ShardedCounter {
    shards: Box<[crossbeam_utils::CachePadded<std::sync::atomic::AtomicU64>]>,
}

impl ShardedCounter {
    /// A counter for `schedulers` scheduler threads.
    pub(crate) fn new(schedulers: usize) -> ShardedCounter {
        ShardedCounter { shards: (0..=schedulers).map(|_| Default::default()).collect() }
    }

    /// Adds one, on the line of the scheduler running on this thread.
    #[inline]
    pub(crate) fn increment(&self) {
        let last = self.shards.len() - 1;
        // A division only for a scheduler of a larger runtime.
        let shard = match crate::scheduler::current_scheduler() {
            Some(i) if (i as usize) < last => i as usize,
            Some(i) => i as usize % last.max(1),
            None => last,
        };
        self.shards[shard].fetch_add(1, Ordering::Relaxed);
    }

    /// The sum over all lines.
    pub(crate) fn sum(&self) -> u64 {
        self.shards.iter().map(|s| s.load(Ordering::Relaxed)).sum()
    }
}
