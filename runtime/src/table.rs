//! The process table: pid -> process cell, with the process limit.
//!
//! A pid is an index into the table plus a serial (generation) number: the low
//! [`INDEX_BITS`] bits name the slot and the bits above count how often the slot was reused,
//! so a pid is not reused while anything could still mean the old process (the BEAM's pid
//! number and serial, printed `<0.Index.Serial>`). Slots live in chunks of [`CHUNK`]
//! allocated on first use; free slots are recycled through a lock-free queue, so spawn and
//! exit never take a global lock, and lookup takes one slot's read lock.
//!
//! # Invariants
//! 1. `count` is at least the number of processes in the table and at most `limit`: a spawn
//!    reserves a place before inserting and gives it back if insertion fails.
//! 2. A slot index is either in `free`, above `next`, or held by exactly one live process.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use crossbeam_queue::SegQueue;
use heaplab_gc::{Pid, MAX_PID, PID_INDEX_BITS};

use crate::task::Task;

/// Bits of a pid that index the table.
pub const INDEX_BITS: u32 = PID_INDEX_BITS;
/// Most processes the table can address at once (the last index is kept for
/// [`EXTERNAL_PID`](crate::EXTERNAL_PID)).
pub const MAX_TABLE_PROCESSES: usize = (1 << INDEX_BITS) - 1;
/// Slots per chunk.
const CHUNK: usize = 4096;

/// Spawning past the process limit, or during shutdown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpawnError {
    /// `max_processes` processes are alive already.
    TooManyProcesses {
        /// The limit in force.
        limit: usize,
    },
    /// The runtime is shutting down.
    ShuttingDown,
    /// The spawn's own heap options are invalid.
    InvalidHeapOptions(heaplab_gc::ConfigError),
    /// The spawning process is exiting: an exit was decided for it and it ends at its next
    /// await point (see [`Cx::exit_process`](crate::Cx::exit_process)).
    Exiting,
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpawnError::TooManyProcesses { limit } => {
                write!(f, "cannot spawn: the process limit ({limit}) is reached")
            }
            SpawnError::ShuttingDown => write!(f, "cannot spawn: the runtime is shutting down"),
            SpawnError::InvalidHeapOptions(e) => write!(f, "cannot spawn: invalid heap options: {e}"),
            SpawnError::Exiting => write!(f, "cannot spawn: the spawning process is exiting"),
        }
    }
}

impl std::error::Error for SpawnError {}

#[derive(Default)]
struct Slot {
    serial: u64,
    task: Option<Arc<Task>>,
}

pub(crate) struct ProcessTable {
    chunks: Vec<OnceLock<Box<[RwLock<Slot>]>>>,
    free: SegQueue<usize>,
    next: AtomicUsize,
    count: AtomicUsize,
    /// The most processes alive at once since [`ProcessTable::reset_peak`].
    peak: AtomicUsize,
    limit: usize,
}

fn split(pid: Pid) -> (usize, u64) {
    ((pid.number() & ((1 << INDEX_BITS) - 1)) as usize, pid.number() >> INDEX_BITS)
}

impl ProcessTable {
    pub(crate) fn new(limit: usize) -> ProcessTable {
        ProcessTable {
            chunks: (0..limit.div_ceil(CHUNK)).map(|_| OnceLock::new()).collect(),
            free: SegQueue::new(),
            next: AtomicUsize::new(0),
            count: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            limit,
        }
    }

    fn slot(&self, index: usize) -> Option<&RwLock<Slot>> {
        let chunk = self.chunks.get(index / CHUNK)?;
        Some(&chunk.get_or_init(|| (0..CHUNK).map(|_| RwLock::new(Slot::default())).collect())[index % CHUNK])
    }

    /// Reserves a place, creates the process cell with its pid, and inserts it.
    pub(crate) fn insert_with(&self, make: impl FnOnce(Pid) -> Arc<Task>) -> Result<Arc<Task>, SpawnError> {
        let alive = self.count.fetch_add(1, Ordering::AcqRel) + 1;
        if alive > self.limit {
            self.count.fetch_sub(1, Ordering::AcqRel);
            return Err(SpawnError::TooManyProcesses { limit: self.limit });
        }
        // A load first: the read-modify-write only while the population grows past its peak.
        if alive > self.peak.load(Ordering::Relaxed) {
            self.peak.fetch_max(alive, Ordering::Relaxed);
        }
        // Invariant 2: a place reserved means a slot exists, free or never used.
        let index = self.free.pop().unwrap_or_else(|| self.next.fetch_add(1, Ordering::AcqRel));
        let slot = self.slot(index).expect("a reserved place has a slot");
        let mut slot = slot.write().unwrap_or_else(|e| e.into_inner());
        let serial = slot.serial % ((MAX_PID >> INDEX_BITS) + 1);
        let task = make(Pid::new(serial << INDEX_BITS | index as u64));
        slot.task = Some(Arc::clone(&task));
        Ok(task)
    }

    pub(crate) fn get(&self, pid: Pid) -> Option<Arc<Task>> {
        let (index, serial) = split(pid);
        let slot = self.slot(index)?.read().unwrap_or_else(|e| e.into_inner());
        slot.task.as_ref().filter(|_| slot.serial == serial).cloned()
    }

    /// Removes an exited process; its slot becomes free under the next serial.
    pub(crate) fn remove(&self, pid: Pid) -> Option<Arc<Task>> {
        let (index, serial) = split(pid);
        let task = {
            let mut slot = self.slot(index)?.write().unwrap_or_else(|e| e.into_inner());
            if slot.serial != serial || slot.task.is_none() {
                return None;
            }
            slot.serial += 1;
            slot.task.take()
        };
        self.free.push(index);
        self.count.fetch_sub(1, Ordering::AcqRel);
        task
    }

    pub(crate) fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Starts a new period of [`ProcessTable::peak`] at the population of now.
    pub(crate) fn reset_peak(&self) {
        self.peak.store(self.count(), Ordering::Relaxed);
    }

    /// The peak population since the last [`ProcessTable::reset_peak`].
    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Every live process cell (for shutdown).
    pub(crate) fn snapshot(&self) -> Vec<Arc<Task>> {
        let used = self.next.load(Ordering::Acquire).min(self.limit);
        (0..used)
            .filter_map(|i| self.slot(i)?.read().unwrap_or_else(|e| e.into_inner()).task.clone())
            .collect()
    }
}
