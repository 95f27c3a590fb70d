//! The process table: pid -> process cell, with the process limit.
//!
//! A pid is an index into the table plus a serial (generation) number: the low
//! [`INDEX_BITS`] bits name the slot and the bits above count how often the slot was reused,
//! so a pid is not reused while anything could still mean the old process (the BEAM's pid
//! number and serial, printed `<0.Index.Serial>`). Slots live in chunks of [`CHUNK`]
//! allocated on first use. Free slots are recycled through free lists, one per scheduler
//! thread and one for every other thread (tokio shards its task list the same way): a spawn
//! or exit locks its own thread's list, which no other thread touches unless its own list is
//! empty, so spawn and exit never contend on one global lock or queue; lookup takes one
//! slot's read lock. A spawn whose own list is empty takes a batch from another list.
//!
//! After a burst of processes has exited, [`ProcessTable::release_free_chunks`] (called by
//! the idle trim, trim.rs) frees every chunk whose slots are all free and puts the free
//! indices of the kept chunks back lowest first, so that the population packs into the first
//! chunks. A released chunk is made again, before the table grows, when a spawn finds no free
//! slot. Lookups reach chunks through `arc-swap`, so a lookup that raced a release reads the
//! old chunk (which holds no process) until it is done with it, and then it is freed. What a
//! trim keeps: the chunks holding a live process (and the top chunk, which the table grows
//! into), their free indices, and per chunk a pointer, a serial base and a release count (24
//! bytes per [`CHUNK`] slots of the limit).
//!
//! # Invariants
//! 1. `count` is at least the number of processes in the table and at most `limit`: a spawn
//!    reserves a place before inserting and gives it back if insertion fails.
//! 2. A slot index below `limit` is in exactly one of: a free list; at or above `next`; a chunk
//!    listed in `released` (all its indices); held by one live process or by the spawn
//!    inserting it; in a batch a spawn is moving from one free list to another; held by a
//!    running release that is putting it back.
//! 3. A chunk is released only when all its indices were in the free lists (so no process and no
//!    spawn holds one); its serial base is then raised above every serial its slots used,
//!    and a chunk made again starts every slot there: a pid from before the release never
//!    matches a process made after it.
//! 4. A scheduler thread keeps a handle on the chunk it last inserted into or removed from,
//!    with the chunk's release count when it took the handle: a spawn and an exit then reach
//!    their slot without an `arc-swap` load (two atomic read-modify-writes each). It uses
//!    the handle only while the release count is unchanged, and writes a slot through it
//!    only when the slot's index is held (Invariant 2: by the spawn, or by the process that
//!    ends), so the chunk cannot be released meanwhile: the handle is then the chunk in the
//!    table. A handle on a released chunk keeps its memory until the thread next parks,
//!    when it lets go.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

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

/// Most free indices a spawn whose own free list is empty moves over from another thread's
/// list at once: enough that a scheduler spawning processes that end on another scheduler
/// locks that one's list once per batch, not once per spawn.
const STEAL_BATCH: usize = 64;

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

/// A scheduler thread's handle on a chunk (Invariant 4).
struct HeldChunk {
    /// The table's [`ProcessTable::id`].
    table: u64,
    chunk: usize,
    /// The chunk's release count when the handle was taken.
    releases: u64,
    handle: Arc<Chunk>,
}

thread_local! {
    /// This scheduler thread's handle on the chunk it used last (Invariant 4).
    static HELD: RefCell<Option<HeldChunk>> = const { RefCell::new(None) };
}

/// Lets go of this thread's handle on a chunk (Invariant 4): a scheduler about to park or
/// stop calls it, so that a released chunk's memory goes.
pub(crate) fn forget_held_chunk() {
    let held = HELD.with(|held| held.borrow_mut().take());
    drop(held);
}

/// Numbers the tables, so that a thread's held chunk names the table it belongs to.
static TABLES: AtomicU64 = AtomicU64::new(0);

pub(crate) struct ProcessTable {
    /// Tells this table apart from every other made in this program (Invariant 4).
    id: u64,
    /// `None`: never made, or released.
    chunks: Vec<ArcSwapOption<Chunk>>,
    /// Per chunk, how often it was released (Invariant 4).
    releases: Vec<AtomicU64>,
    /// Per chunk, the serial its slots start at when it is made (Invariant 3).
    serial_bases: Vec<AtomicU64>,
    free: FreeLists,
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

/// Free slot indices: one list per scheduler thread and one for every other thread (module
/// docs). Each list pops from its end, so indices put back in descending order come out
/// lowest first. At most one list is locked at a time, except by [`FreeLists::lock_all`],
/// which locks them in order: two threads taking from each other's lists never wait on
/// each other.
struct FreeLists {
    lists: Box<[Mutex<Vec<usize>>]>,
}

/// A free list's lock; a panic cannot leave a list half-changed (every change is one push,
/// pop, extend or drain), so a poisoned lock is taken as it is.
fn lock(list: &Mutex<Vec<usize>>) -> MutexGuard<'_, Vec<usize>> {
    list.lock().unwrap_or_else(|e| e.into_inner())
}

impl FreeLists {
    fn new(schedulers: usize) -> FreeLists {
        FreeLists { lists: (0..=schedulers).map(|_| Mutex::new(Vec::new())).collect() }
    }

    /// The list of the calling thread: its scheduler's, or the last one off the schedulers
    /// (a scheduler of another runtime counts as off them; only contention depends on the
    /// choice).
    fn own(&self) -> usize {
        let others = self.lists.len() - 1;
        crate::scheduler::current_scheduler().map_or(others, |i| (i as usize).min(others))
    }

    /// A free index from list `own`, else one of a batch of at most [`STEAL_BATCH`] moved
    /// over from the first other list that has any (the end it pops from, so the order is
    /// kept).
    fn pop(&self, own: usize) -> Option<usize> {
        if let Some(index) = lock(&self.lists[own]).pop() {
            return Some(index);
        }
        for (_, other) in self.lists.iter().enumerate().filter(|&(i, _)| i != own) {
            let batch: Vec<usize> = {
                let mut theirs = lock(other);
                let at = theirs.len().saturating_sub(STEAL_BATCH);
                theirs.drain(at..).collect()
            };
            if !batch.is_empty() {
                let mut mine = lock(&self.lists[own]);
                mine.extend(batch);
                return mine.pop();
            }
        }
        None
    }

    /// Puts `indices` on list `own`; the last comes out first.
    fn push(&self, own: usize, indices: impl IntoIterator<Item = usize>) {
        lock(&self.lists[own]).extend(indices);
    }

    /// Every list, locked, in order.
    fn lock_all(&self) -> Vec<MutexGuard<'_, Vec<usize>>> {
        self.lists.iter().map(lock).collect()
    }
}

impl ProcessTable {
    /// A table of at most `limit` processes, with a free list for each of `schedulers`
    /// scheduler threads and one for every other thread.
    pub(crate) fn new(limit: usize, schedulers: usize) -> ProcessTable {
        let chunks = limit.div_ceil(CHUNK);
        ProcessTable {
            id: TABLES.fetch_add(1, Ordering::Relaxed),
            chunks: (0..chunks).map(|_| ArcSwapOption::empty()).collect(),
            releases: (0..chunks).map(|_| AtomicU64::new(0)).collect(),
            serial_bases: (0..chunks).map(|_| AtomicU64::new(0)).collect(),
            free: FreeLists::new(schedulers),
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
    /// first of a released chunk made again (its other indices go to the free lists), else a
    /// fresh one. Every index below the limit may be taken or held by a running release
    /// (count <= limit, Invariant 1): then the release is putting some back, and this waits
    /// for it.
    fn take_index(&self) -> usize {
        loop {
            let own = self.free.own();
            if let Some(index) = self.free.pop(own) {
                return index;
            }
            if let Some(c) = self.released.pop() {
                self.chunks[c].store(Some(self.make_chunk(c)));
                self.free.push(own, (c * CHUNK + 1..(c + 1) * CHUNK).rev());
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
        let c = index / CHUNK;
        let mut make = Some(make);
        loop {
            let inserted = self.with_held_chunk(c, |chunk| {
                let mut slot = chunk.slots[index % CHUNK].write().unwrap_or_else(|e| e.into_inner());
                let serial = pid_serial(slot.serial);
                let make = make.take().expect("one insertion");
                let task = make(Pid::new(serial << INDEX_BITS | index as u64));
                slot.task = Some(Arc::clone(&task));
                task
            });
            if let Some(task) = inserted {
                return Ok(task);
            }
            // A fresh index's chunk is made here; another spawn may make it at the same
            // moment, and the first one's stays.
            self.chunks[c].compare_and_swap(&None::<Arc<Chunk>>, Some(self.make_chunk(c)));
        }
    }

    /// Runs `f` on chunk `c` if it is made. The caller holds an index in it (Invariant 2),
    /// or looks for a process that may have gone (then a handle on a released chunk finds
    /// its slot free, as the table would). On a scheduler thread, through its held chunk
    /// when that is chunk `c` as it is now (Invariant 4); otherwise, and to take a new
    /// handle, through the table.
    #[inline]
    fn with_held_chunk<R>(&self, c: usize, f: impl FnOnce(&Chunk) -> R) -> Option<R> {
        // Read before a handle is taken: a release between the two leaves a count that no
        // longer matches, never a handle that looks current and is not.
        let releases = self.releases[c].load(Ordering::Acquire);
        HELD.with(|held| {
            if let Some(h) = held.borrow().as_ref() {
                if h.table == self.id && h.chunk == c && h.releases == releases {
                    return Some(f(&h.handle));
                }
            }
            if crate::scheduler::current_scheduler().is_none() {
                // Off the schedulers no handle is kept: such a thread may never park.
                return self.chunks[c].load().as_deref().map(f);
            }
            let handle = self.chunks[c].load_full()?;
            let result = f(&handle);
            let replaced = held.replace(Some(HeldChunk { table: self.id, chunk: c, releases, handle }));
            drop(replaced);
            Some(result)
        })
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
        if index / CHUNK >= self.chunks.len() {
            return None;
        }
        let task = self
            .with_held_chunk(index / CHUNK, |chunk| {
                let mut slot = chunk.slots[index % CHUNK].write().unwrap_or_else(|e| e.into_inner());
                if pid_serial(slot.serial) != serial || slot.task.is_none() {
                    return None;
                }
                slot.serial += 1;
                slot.task.take()
            })
            .flatten()?;
        self.free.push(self.free.own(), [index]);
        self.count.fetch_sub(1, Ordering::AcqRel);
        Some(task)
    }

    /// Frees every chunk whose slots are all free, below the top chunk, and puts the free
    /// indices of the others back lowest first (module docs).
    pub(crate) fn release_free_chunks(&self) {
        // Every list is locked to the end: a spawn or exit waits for the release (a trim is
        // rare and only runs once a burst is over, trim.rs Invariant 1).
        let mut lists = self.free.lock_all();
        let mut held: Vec<usize> = lists.iter_mut().flat_map(|l| std::mem::take(&mut **l)).collect();
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
                self.releases[c].fetch_add(1, Ordering::Release);
                let used =
                    chunk.slots.iter().map(|s| s.read().unwrap_or_else(|e| e.into_inner()).serial).max();
                self.serial_bases[c].store(used.unwrap_or(0), Ordering::Release);
                released[c] = true;
                self.released.push(c);
            }
        }
        // Descending, so that the list gives them out lowest first.
        held.sort_unstable_by(|a, b| b.cmp(a));
        held.retain(|index| !released.get(index / CHUNK).copied().unwrap_or(false));
        // The indices of a whole burst were collected here (8 bytes each, a million after a
        // million exits); only the kept chunks' stay, and so does no more room than they fill.
        held.shrink_to_fit();
        *lists[0] = held;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_takes_its_own_list_first_lowest_first() {
        let free = FreeLists::new(2);
        free.push(0, [7, 5, 3]);
        free.push(1, [1]);
        assert_eq!(free.pop(0), Some(3));
        assert_eq!(free.pop(0), Some(5));
        assert_eq!(free.pop(1), Some(1));
        assert_eq!(free.pop(0), Some(7));
    }

    #[test]
    fn an_empty_list_takes_a_batch_from_another_in_order() {
        let free = FreeLists::new(1);
        free.push(1, (0..100).rev());
        let taken: Vec<usize> = std::iter::from_fn(|| free.pop(0)).take(STEAL_BATCH).collect();
        assert_eq!(taken, (0..STEAL_BATCH).collect::<Vec<_>>());
        // The batch moved over whole: list 1 lost exactly one batch.
        let lists = free.lock_all();
        assert!(lists[0].is_empty());
        assert_eq!(*lists[1], (STEAL_BATCH..100).rev().collect::<Vec<_>>());
    }

    #[test]
    fn every_free_index_is_seen_by_a_release() {
        let free = FreeLists::new(3);
        for own in 0..4 {
            free.push(own, [own * 10, own * 10 + 1]);
        }
        assert_eq!(free.pop(3), Some(31));
        let mut seen: Vec<usize> = free.lock_all().iter().flat_map(|l| l.iter().copied()).collect();
        seen.sort_unstable();
        assert_eq!(seen, vec![0, 1, 10, 11, 20, 21, 30]);
    }

    /// Invariant 4: a scheduler thread holding a handle on a chunk that was released since
    /// does not use it: a stale pid finds nothing, and a spawn goes into the chunk made
    /// again, where lookups find it.
    #[test]
    fn a_handle_on_a_released_chunk_is_not_used() {
        let rt = crate::Runtime::builder().schedulers(1).build().expect("valid configuration");
        let table = ProcessTable::new(3 * CHUNK, 1);
        let make = |pid| Arc::new(Task::new(pid, crate::priority::Priority::Normal, Arc::clone(rt.shared())));
        crate::scheduler::set_current_scheduler(Some(0));
        // Chunks 0 and 1 full, chunk 2 the top one.
        let pids: Vec<Pid> = (0..2 * CHUNK + 1).map(|_| table.insert_with(make).expect("room").pid).collect();
        // Chunk 0 emptied; this thread now holds a handle on it.
        for &pid in &pids[..CHUNK] {
            assert!(table.remove(pid).is_some());
        }
        table.release_free_chunks();
        assert_eq!(table.chunks_made(), 2);
        assert!(table.remove(pids[0]).is_none(), "a process of the released chunk");
        let task = table.insert_with(make).expect("room");
        let (index, _) = split(task.pid);
        assert_eq!(index / CHUNK, 0, "the released chunk is made again first");
        assert!(Arc::ptr_eq(&table.get(task.pid).expect("found"), &task));
        assert!(table.get(pids[0]).is_none());
        assert!(Arc::ptr_eq(&table.remove(task.pid).expect("removed"), &task));
        crate::scheduler::set_current_scheduler(None);
        forget_held_chunk();
    }

    #[test]
    fn the_calling_thread_off_the_schedulers_has_the_last_list() {
        assert_eq!(FreeLists::new(4).own(), 4);
    }
}
