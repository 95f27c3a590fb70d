//! Memory back after a burst: when many processes have exited and the population has
//! fallen to at most half its peak, a scheduler about to park gives the memory they left
//! behind back to the operating system ([`heaplab_gc::trim_memory`]: free heap blocks and
//! the C allocator's free pages, where the process cells, inboxes and message copies went).
//!
//! The BEAM returns such memory through its allocators' carrier and segment caches; without
//! this, a system that once held a million processes would keep their memory resident for
//! good (it is reused by the next burst, never returned).
//!
//! What glibc keeps: `malloc_trim` drops the pages of every free chunk, but the free top of
//! an arena other than the main one (each scheduler thread allocates from one of its own) is
//! given back only as memory is freed, and only past the trim threshold, which glibc raises
//! to twice the size of any block it had mapped on its own once the program frees it. A
//! program that freed an 8 MB vector before its processes exited keeps up to 16 MB resident
//! per scheduler that way. Fixing the threshold (`mallopt`) would bound it, but also turns
//! off the raise of the map threshold that keeps large binaries out of `mmap`: the
//! `binaries` workload ran 4x slower with both fixed at their initial 128 KiB.
//!
//! # Invariants
//! 1. A trim runs only on a scheduler that found no work (it holds allocator locks for as
//!    long as the walk takes), at most once per [`TRIM_AFTER_EXITS`] exits, and only once
//!    the exits have stopped: no process exited between two looks [`TRIM_SETTLE`] apart, so
//!    a burst that is still ending is not slowed by trims half-way.
//! 2. A steady population never trims, however many processes come and go: the peak is
//!    reset to the population at every trim, and a trim needs the population at or below
//!    half of it and at least [`TRIM_AFTER_EXITS`] below it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::runtime::Shared;

/// Exits since the last trim before an idle scheduler looks at the population.
pub const TRIM_AFTER_EXITS: u64 = 10_000;

/// How long the exit count must stand still before a trim.
pub const TRIM_SETTLE: Duration = Duration::from_millis(10);

/// When memory was last trimmed and what trimming has cost.
#[derive(Default)]
pub(crate) struct Trimmer {
    /// The exit count at the last trim.
    exits_at_trim: AtomicU64,
    /// The exit count at the last look.
    exits_seen: AtomicU64,
    trims: AtomicU64,
    trim_ns: AtomicU64,
}

impl Trimmer {
    /// Trims if a burst has ended (module doc); called by a scheduler about to park.
    /// Returns whether a burst is ending but the exits have not stopped yet: the scheduler
    /// should look again after [`TRIM_SETTLE`] instead of sleeping until woken.
    pub(crate) fn maybe_trim(&self, shared: &Shared) -> bool {
        let exited = shared.exited_count();
        let last = self.exits_at_trim.load(Ordering::Relaxed);
        if exited.saturating_sub(last) < TRIM_AFTER_EXITS {
            return false;
        }
        let (alive, peak) = (shared.table.count(), shared.table.peak());
        if alive.saturating_mul(2) > peak || ((peak - alive) as u64) < TRIM_AFTER_EXITS {
            return false;
        }
        if self.exits_seen.swap(exited, Ordering::Relaxed) != exited {
            return true;
        }
        // Invariant 1: one scheduler trims; the others find the mark moved.
        if self.exits_at_trim.compare_exchange(last, exited, Ordering::Relaxed, Ordering::Relaxed).is_err() {
            return false;
        }
        shared.table.reset_peak();
        let start = std::time::Instant::now();
        shared.table.release_free_chunks();
        heaplab_gc::trim_memory();
        let took = start.elapsed();
        self.trims.fetch_add(1, Ordering::Relaxed);
        self.trim_ns.fetch_add(took.as_nanos().min(u128::from(u64::MAX)) as u64, Ordering::Relaxed);
        false
    }

    /// Trims done and their total time in nanoseconds.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (self.trims.load(Ordering::Relaxed), self.trim_ns.load(Ordering::Relaxed))
    }
}
