//! The process table: pid -> process cell, with the process limit.
//!
//! A pid is an index into the table plus a serial (generation) number: the low
//! [`INDEX_BITS`] bits name the slot and the bits above count how often the slot was reused,
//! so a pid is not reused while anything could still mean the old process (the BEAM's pid
//! number and serial, printed `<0.Index.Serial>`). Slots live in chunks of [`CHUNK`]
//! allocated on first use; free slots are recycled through a lock-free queue, so spawn and
//! exit never take a global lock, and lookup takes one slot's read lock.
//!
//! After a burst of processes has exited, [`ProcessTable::release_free_chunks`] (called by
//! the idle trim, trim.rs) frees every chunk whose slots are all free and puts the free
//! indices of the kept chunks back lowest first, so that the population packs into the first
//! chunks. A released chunk is made again, before the table grows, when a spawn finds no free
//! slot. Lookups reach chunks through `arc-swap`, so a lookup that raced a release reads the
//! old chunk (which holds no process) until it is done with it, and then it is freed. What a
//! trim keeps: the chunks holding a live process (and the top chunk, which the table grows
//! into), their free indices, and per chunk a pointer and a serial base (16 bytes per
//! [`CHUNK`] slots of the limit).
//!
//! # Invariants
//! 1. `count` is at least the number of processes in the table and at most `limit`: a spawn
//!    reserves a place before inserting and gives it back if insertion fails.
//! 2. A slot index below `limit` is in exactly one of: `free`; at or above `next`; a chunk
//!    listed in `released` (all its indices); held by one live process or by the spawn
//!    inserting it; held by a running release that is putting it back.
//! 3. A chunk is released only when all its indices were in `free` (so no process and no
//!    spawn holds one); its serial base is then raised above every serial its slots used,
//!    and a chunk made again starts every slot there: a pid from before the release never
//!    matches a process made after it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use arc_swap::ArcSwapOption;
use crossbeam_queue::SegQueue;
use heaplab_gc::{Pid, MAX_PID, PID_INDEX_BITS};

use crate::task::Task;

/// Bits of a pid that index the table.
pub const INDEX_BITS: u32 = PID_INDEX_BITS;
/// Most processes the table can address at once (the last index is kept for
/// [`EXTERNAL_PID`](crate::EXTERNAL_PID)).
pub const MAX_TABLE_PROCESSES: usize = (1 << INDEX_BITS) - 1;
/// Slots per chunk.
pub(crate) const CHUNK: usize = 4096;

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

struct Slot {
    serial: u64,
    task: Option<Arc<Task>>,
}

/// [`CHUNK`] slots.
struct Chunk {
    slots: Box<[RwLock<Slot>]>,
}

impl Chunk {
    /// A chunk whose slots start at serial `base` (Invariant 3).
    fn new(base: u64) -> Arc<Chunk> {
        Arc::new(Chunk {
            slots: (0..CHUNK).map(|_| RwLock::new(Slot { serial: base, task: None })).collect(),
        })
    }
}

pub(crate) struct ProcessTable {
    /// `None`: never made, or released.
    chunks: Vec<ArcSwapOption<Chunk>>,
    /// Per chunk, the serial its slots start at when it is made (Invariant 3).
    serial_bases: Vec<AtomicU64>,
    free: SegQueue<usize>,
    /// Chunks released by [`ProcessTable::release_free_chunks`], to be made again.
    released: SegQueue<usize>,
    next: AtomicUsize,
    count: AtomicUsize,
    /// The most processes alive at once since [`ProcessTable::reset_peak`].
    peak: AtomicUsize,
    limit: usize,
}

/// The serial a pid carries for a slot's serial: a slot's count goes on past the pid's
/// serial bits, and pids wrap as the BEAM's do.
fn pid_serial(slot_serial: u64) -> u64 {
    slot_serial % ((MAX_PID >> INDEX_BITS) + 1)
}

fn split(pid: Pid) -> (usize, u64) {
    ((pid.number() & ((1 << INDEX_BITS) - 1)) as usize, pid.number() >> INDEX_BITS)
}

impl ProcessTable {
    pub(crate) fn new(limit: usize) -> ProcessTable {
        let chunks = limit.div_ceil(CHUNK);
        ProcessTable {
            chunks: (0..chunks).map(|_| ArcSwapOption::empty()).collect(),
            serial_bases: (0..chunks).map(|_| AtomicU64::new(0)).collect(),
            free: SegQueue::new(),
            released: SegQueue::new(),
            next: AtomicUsize::new(0),
            count: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            limit,
        }
    }

    /// A new chunk for chunk number `c`, its slots at the chunk's serial base (Invariant 3).
    fn make_chunk(&self, c: usize) -> Arc<Chunk> {
        Chunk::new(self.serial_bases[c].load(Ordering::Acquire))
    }

    /// A slot index for a spawn that reserved a place (Invariant 2): a free one, else the
    /// first of a released chunk made again (its other indices go to `free`), else a fresh
    /// one. Every index below the limit may be taken or held by a running release (count <=
    /// limit, Invariant 1): then the release is putting some back, and this waits for it.
    fn take_index(&self) -> usize {
        loop {
            if let Some(index) = self.free.pop() {
                return index;
            }
            if let Some(c) = self.released.pop() {
                self.chunks[c].store(Some(self.make_chunk(c)));
                for index in c * CHUNK + 1..(c + 1) * CHUNK {
                    self.free.push(index);
                }
                return c * CHUNK;
            }
            let limit = self.limit;
            if let Ok(index) =
                self.next.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < limit).then_some(n + 1))
            {
                return index;
            }
            std::thread::yield_now();
        }
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
        let index = self.take_index();
        let cell = &self.chunks[index / CHUNK];
        loop {
            // A guard, not a clone of the `Arc`: spawns on every scheduler would otherwise
            // share the chunk's reference count.
            let guard = cell.load();
            if let Some(chunk) = guard.as_ref() {
                let mut slot = chunk.slots[index % CHUNK].write().unwrap_or_else(|e| e.into_inner());
                let serial = pid_serial(slot.serial);
                let task = make(Pid::new(serial << INDEX_BITS | index as u64));
                slot.task = Some(Arc::clone(&task));
                return Ok(task);
            }
            drop(guard);
            // A fresh index's chunk is made here; another spawn may make it at the same
            // moment, and the first one's stays.
            cell.compare_and_swap(&None::<Arc<Chunk>>, Some(self.make_chunk(index / CHUNK)));
        }
    }

    pub(crate) fn get(&self, pid: Pid) -> Option<Arc<Task>> {
        let (index, serial) = split(pid);
        let guard = self.chunks.get(index / CHUNK)?.load();
        let slot = guard.as_ref()?.slots[index % CHUNK].read().unwrap_or_else(|e| e.into_inner());
        slot.task.as_ref().filter(|_| pid_serial(slot.serial) == serial).cloned()
    }

    /// Removes an exited process; its slot becomes free under the next serial.
    pub(crate) fn remove(&self, pid: Pid) -> Option<Arc<Task>> {
        let (index, serial) = split(pid);
        let task = {
            let guard = self.chunks.get(index / CHUNK)?.load();
            let mut slot = guard.as_ref()?.slots[index % CHUNK].write().unwrap_or_else(|e| e.into_inner());
            if pid_serial(slot.serial) != serial || slot.task.is_none() {
                return None;
            }
            slot.serial += 1;
            slot.task.take()
        };
        self.free.push(index);
        self.count.fetch_sub(1, Ordering::AcqRel);
        task
    }

    /// Frees every chunk whose slots are all free, below the top chunk, and puts the free
    /// indices of the others back lowest first (module docs).
    pub(crate) fn release_free_chunks(&self) {
        let mut held: Vec<usize> = std::iter::from_fn(|| self.free.pop()).collect();
        // Only chunks the table has grown past: the top one is still being handed out.
        let top = self.next.load(Ordering::Acquire) / CHUNK;
        let mut free_per_chunk = vec![0usize; top];
        for &index in &held {
            if let Some(n) = free_per_chunk.get_mut(index / CHUNK) {
                *n += 1;
            }
        }
        let mut released = vec![false; top];
        for (c, _) in free_per_chunk.iter().enumerate().filter(|(_, &n)| n == CHUNK) {
            // Invariant 3: every slot is free, so nobody writes one; a lookup still holding
            // the chunk only reads it.
            if let Some(chunk) = self.chunks[c].swap(None) {
                let used =
                    chunk.slots.iter().map(|s| s.read().unwrap_or_else(|e| e.into_inner()).serial).max();
                self.serial_bases[c].store(used.unwrap_or(0), Ordering::Release);
                released[c] = true;
                self.released.push(c);
            }
        }
        held.sort_unstable();
        for index in held {
            if !released.get(index / CHUNK).copied().unwrap_or(false) {
                self.free.push(index);
            }
        }
    }

    /// Chunks of slots in memory now.
    pub(crate) fn chunks_made(&self) -> usize {
        self.chunks.iter().filter(|c| c.load().is_some()).count()
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
        self.chunks[..used.div_ceil(CHUNK)]
            .iter()
            .filter_map(ArcSwapOption::load_full)
            .flat_map(|chunk| {
                chunk
                    .slots
                    .iter()
                    .filter_map(|s| s.read().unwrap_or_else(|e| e.into_inner()).task.clone())
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}
