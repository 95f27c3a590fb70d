//! Collection events and the sinks that receive them.
//!
//! Every collection produces exactly one [`GcEvent`], delivered to the heap's sink (if any)
//! and returned to the caller inside a [`GcOutcome`](crate::GcOutcome).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::term::Pid;

/// Which collection ran.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum GcKind {
    /// Young generation only; mature data promoted to the old generation.
    Minor,
    /// Fullsweep: everything live copied into a fresh heap.
    Major,
    /// A minor collection of the hybrid heap's message area: its live nursery objects
    /// promoted into its old generation, every process stopped.
    AreaMinor,
    /// A major collection of the message area: everything live in it copied into one
    /// fresh old-generation chunk, every process stopped.
    AreaMajor,
    /// One increment of an incremental collection of the message area (Sagonas and
    /// Wilhelmsson, ISMM 2004): a bounded share of a cycle's copying, every process stopped
    /// for that share only.
    AreaIncrement,
}

impl GcKind {
    /// Every kind.
    pub const ALL: [GcKind; 5] =
        [GcKind::Minor, GcKind::Major, GcKind::AreaMinor, GcKind::AreaMajor, GcKind::AreaIncrement];

    /// The kind whose [`GcKind::as_str`] is `name`.
    pub fn from_name(name: &str) -> Option<GcKind> {
        GcKind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// Lower-case name (`minor`, `major`, `area-minor`, `area-major`, `area-increment`).
    pub fn as_str(self) -> &'static str {
        match self {
            GcKind::Minor => "minor",
            GcKind::Major => "major",
            GcKind::AreaMinor => "area-minor",
            GcKind::AreaMajor => "area-major",
            GcKind::AreaIncrement => "area-increment",
        }
    }
}

/// Why a collection ran.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum GcReason {
    /// The young heap (with its fragments) was full.
    HeapFull,
    /// Off-heap binaries referenced from the young heap exceeded the vheap budget.
    VheapFull,
    /// `fullsweep_after` minor collections had run since the last major one.
    FullsweepAfter,
    /// The old generation had no room for the mature data of a minor collection.
    OldFull,
    /// Off-heap binaries referenced from the old generation reached their budget
    /// (erl_gc.c `bin_old_vheap_sz`): only a major collection can free dead ones there.
    OldVheapFull,
    /// Requested explicitly (`erlang:garbage_collect/0`).
    Requested,
}

/// One collection, as measured by the collector.
#[derive(Clone, Debug)]
pub struct GcEvent {
    /// Minor or major.
    pub kind: GcKind,
    /// What triggered it.
    pub reason: GcReason,
    /// The process owning the heap, when the heap belongs to one.
    pub pid: Option<Pid>,
    /// The scheduler that ran the collection, when known.
    pub scheduler: Option<u32>,
    /// When the collection started; for the shared heap, when it was requested.
    pub start: Instant,
    /// How long the collection took: the pause of this process, or for the shared heap the
    /// pause of every process, from the request to the restart.
    pub duration: Duration,
    /// Of `duration`, the time from the request until every worker had stopped at a
    /// safepoint (zero for a per-process collection, which needs no safepoint).
    pub time_to_safepoint: Duration,
    /// Words in use before (young + old + fragments).
    pub words_before: u64,
    /// Words in use after: the objects' words (under the shared heap, the filler words that
    /// cover the unused tails of its copy buffers are not counted).
    pub words_after: u64,
    /// Words copied (live data moved, promoted words included).
    pub words_copied: u64,
    /// Of `words_copied`, the words moved into the old generation.
    pub words_promoted: u64,
    /// Off-heap binaries whose last reference this collection dropped.
    pub binaries_freed: u64,
    /// Words copied by the busiest collector thread: `words_copied` for a private heap;
    /// `words_copied / max_worker_words` is how many threads' worth of copying ran in
    /// parallel (1 to the number of workers).
    pub max_worker_words: u64,
}

/// Receives every collection event of the heaps it is attached to.
pub trait GcEventSink: Send + Sync {
    /// Called once per collection, right after it finished, on the collecting thread.
    fn record(&self, event: &GcEvent);
}

/// A sink that keeps every event in memory.
#[derive(Default)]
pub struct VecSink {
    events: Mutex<Vec<GcEvent>>,
}

impl VecSink {
    /// An empty sink.
    pub fn new() -> VecSink {
        VecSink::default()
    }

    /// Takes the events recorded so far.
    pub fn take(&self) -> Vec<GcEvent> {
        std::mem::take(&mut *self.events.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Number of events recorded and not yet taken.
    pub fn len(&self) -> usize {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl GcEventSink for VecSink {
    fn record(&self, event: &GcEvent) {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).push(event.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::GcKind;

    #[test]
    fn every_kind_is_found_by_its_name_and_no_other_name_is() {
        for kind in GcKind::ALL {
            assert_eq!(GcKind::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(GcKind::from_name("Minor"), None);
        assert_eq!(GcKind::from_name(""), None);
    }
}
