//! Scheduler threads: run queues, work stealing, parking, and the run loop.
//!
//! Each scheduler thread owns one local run queue per priority (`crossbeam-deque` workers);
//! processes woken from outside the runtime go to a global injector per priority. A scheduler
//! looks for work in its own queue, then the injector, then steals from the others; with
//! nothing to do it parks (no spinning), with a timeout when its timer wheel has a timer.
//!
//! # Protocol (parking without lost wake-ups)
//! 1. A pusher makes the process visible in a queue, then (SeqCst fence) reads the sleeper
//!    count and unparks one sleeper if there is one.
//! 2. A scheduler about to park registers as a sleeper, (SeqCst fence) checks every queue
//!    again, and only then parks. Either the pusher sees the sleeper or the sleeper sees the
//!    work; `unpark` before `park` makes the park return at once.
//!
//! Work sharing: a push onto a local queue wakes a sleeper only when that queue already held
//! work, so a process passing a message to one other process keeps it on a warm core, while
//! a burst of runnable processes spreads over idle schedulers.
//!
//! Next slot: a normal-priority process woken by a message sent on a scheduler whose normal
//! queue is empty is put in that scheduler's next slot instead, and runs next. The order is
//! the one the queue would give (nothing else was waiting), but the hand-over skips the
//! deque, which is most of a message hop between two processes. Only an empty slot beside an
//! empty queue is used, so the run order stays first-in first-out, as on the BEAM: a slot
//! that could jump the queue (tokio's LIFO slot) made `churn`'s request latency p99 10%
//! worse. A process in the slot cannot be stolen; it waits at most until the current slice
//! ends, as it would at the front of a queue no other scheduler looks at.

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crossbeam_deque::{Injector, Steal, Stealer, Worker};
use heaplab_gc::Heap;

use crate::exit::ExitReason;
use crate::moments::{OffCpu, OffCpuWatch};
use crate::priority::{Priority, LOW_SKIPS};
use crate::runtime::Shared;
use crate::task::Task;

pub(crate) type Queues = [Worker<Arc<Task>>; 4];

/// Parked schedulers.
#[derive(Default)]
pub(crate) struct Sleepers {
    count: AtomicUsize,
    idle: Mutex<Vec<usize>>,
    threads: Mutex<Vec<Thread>>,
}

impl Sleepers {
    pub(crate) fn set_threads(&self, threads: Vec<Thread>) {
        *self.threads.lock().unwrap_or_else(|e| e.into_inner()) = threads;
    }

    fn register(&self, index: usize) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(index);
        self.count.fetch_add(1, Ordering::SeqCst);
    }

    fn unregister(&self, index: usize) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = idle.iter().position(|&x| x == index) {
            idle.swap_remove(i);
            self.count.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Protocol step 1 (after the fence): unparks one sleeper, if any.
    pub(crate) fn wake_one(&self) {
        if self.count.load(Ordering::SeqCst) == 0 {
            return;
        }
        let index = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            let Some(index) = idle.pop() else { return };
            self.count.fetch_sub(1, Ordering::SeqCst);
            index
        };
        self.unpark(index);
    }

    pub(crate) fn unpark(&self, index: usize) {
        if let Some(t) = self.threads.lock().unwrap_or_else(|e| e.into_inner()).get(index) {
            t.unpark();
        }
    }

    pub(crate) fn unpark_all(&self) {
        for t in self.threads.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            t.unpark();
        }
    }
}

/// Adds one to a counter of this scheduler's [`SchedulerCounters`]. Only the scheduler's own
/// thread writes its counters, so a load and a store suffice: no read-modify-write (a locked
/// instruction on every slice), and readers on other threads still see whole values.
#[inline]
fn bump(counter: &AtomicUsize) {
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

/// Per-scheduler counters, readable from any thread; written only by their scheduler's
/// thread (except the send timings, which any thread may add to).
#[derive(Default)]
pub(crate) struct SchedulerCounters {
    pub(crate) slices: AtomicUsize,
    pub(crate) steals: AtomicUsize,
    pub(crate) parks: AtomicUsize,
    pub(crate) overruns: AtomicUsize,
    pub(crate) slice_ns: Mutex<Option<hdrhistogram::Histogram<u64>>>,
    /// Time spent in timed sends ([`crate::Config::time_sends`]), and their number.
    pub(crate) send_ns: AtomicU64,
    pub(crate) timed_sends: AtomicU64,
}

struct Local {
    shared: Arc<Shared>,
    index: usize,
    queues: Queues,
    /// A normal-priority process woken by a message while the normal queue was empty: it
    /// runs next (module docs, next slot).
    next: Cell<Option<Arc<Task>>>,
    /// Processes run from `next` in a row.
    next_streak: Cell<u32>,
    /// A pristine per-process heap of the runtime's options, left by a process that ended,
    /// for the next process here that needs a heap (context.rs, `impl Drop for Cx`).
    spare_heap: Cell<Option<Box<Heap>>>,
    /// The cell of a process that ended here and that nothing else referred to any more,
    /// for the next spawn here (task.rs, `Task::reuse`): that spawn allocates no cell.
    spare_task: Cell<Option<Arc<Task>>>,
}

/// Most processes a scheduler runs from its next slot in a row before the slot's process
/// goes through the queue (tokio's `MAX_LIFO_POLLS_PER_TICK`, 3): a bound on how long the
/// slot can keep a process out of other schedulers' reach.
const NEXT_SLOT_RUNS: u32 = 3;

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
    /// Reductions left in the current slice of the process being polled on this thread.
    static BUDGET: Cell<i64> = const { Cell::new(i64::MAX) };
    /// Index of the scheduler this thread is, for GC events.
    static SCHEDULER: Cell<Option<u32>> = const { Cell::new(None) };
    /// Set while polling a process of a runtime that keeps process panics quiet.
    static QUIET_PANICS: Cell<bool> = const { Cell::new(false) };
}

/// Installs, once per program, a panic hook that stays silent for panics inside processes
/// of runtimes built with `report_panics(false)` and defers to the previous hook otherwise.
pub(crate) fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET_PANICS.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// The scheduler running on this thread, if any.
pub(crate) fn current_scheduler() -> Option<u32> {
    SCHEDULER.with(Cell::get)
}

/// Makes this thread count as scheduler `index` (or as none), for tests of what scheduler
/// threads do differently.
#[cfg(test)]
pub(crate) fn set_current_scheduler(index: Option<u32>) {
    SCHEDULER.with(|s| s.set(index));
}

/// Spends `n` reductions of the current slice; returns whether the slice is used up.
pub(crate) fn consume(n: u64) -> bool {
    BUDGET.with(|b| {
        let left = b.get().saturating_sub(n.min(i64::MAX as u64) as i64);
        b.set(left);
        left <= 0
    })
}

/// Whether the current slice is used up.
pub(crate) fn budget_spent() -> bool {
    BUDGET.with(|b| b.get() <= 0)
}

/// Whether runnable processes of `priority` are counted in `Shared::runnable`, so that a
/// scheduler skips an empty level with one load. Normal, where nearly every process runs,
/// is looked for anyway: counting it would put a read-modify-write that every scheduler
/// contends for into every wake-up and every pick.
fn counted(priority: usize) -> bool {
    priority != Priority::Normal as usize
}

/// Runs `f` with this thread's scheduler state if this thread is one of the schedulers of
/// `runtime` (and that state is not borrowed already); `None` otherwise.
fn on_own_scheduler<R>(runtime: *const Shared, f: impl FnOnce(&Local) -> R) -> Option<R> {
    LOCAL.with(|l| {
        let l = l.try_borrow().ok()?;
        let local = l.as_ref().filter(|l| Arc::as_ptr(&l.shared) == runtime)?;
        Some(f(local))
    })
}

/// Makes `task` runnable: onto this scheduler's local queue when called from one of this
/// runtime's schedulers, otherwise onto the injector.
pub(crate) fn push(task: Arc<Task>) {
    stamp_runnable(&task);
    push_unstamped(task);
}

/// Stamps the moment `task` is made runnable, with attribution on (moments.rs).
#[inline(always)]
fn stamp_runnable(task: &Task) {
    if let Some(stamps) = task.moments.as_deref() {
        stamps.runnable(task.shared.epoch, current_scheduler());
    }
}

/// [`push`] without the stamp (taken already).
fn push_unstamped(task: Arc<Task>) {
    let priority = task.priority() as usize;
    let runtime = Arc::as_ptr(&task.shared);
    let mut task = Some(task);
    // On one of the runtime's schedulers, its own handle on the runtime serves, so the
    // task can move into the queue without another reference being taken to reach it.
    on_own_scheduler(runtime, |local| {
        let task = task.take().expect("task pushed once");
        enqueue(&local.shared, priority, |_| {
            let queue = &local.queues[priority];
            let share = !queue.is_empty();
            queue.push(task);
            share
        });
    });
    if let Some(task) = task {
        let shared = Arc::clone(&task.shared);
        enqueue(&shared, priority, |shared| {
            shared.injectors[priority].push(task);
            true
        });
    }
}

/// Makes `task`, woken by a message, runnable: into this scheduler's next slot when called
/// from one of this runtime's schedulers, the process is of normal priority, and both the
/// slot and the normal queue are empty (module docs); otherwise as [`push`] does.
pub(crate) fn push_woken(task: Arc<Task>) {
    if task.priority() != Priority::Normal {
        return push(task);
    }
    stamp_runnable(&task);
    let runtime = Arc::as_ptr(&task.shared);
    let mut task = Some(task);
    on_own_scheduler(runtime, |local| {
        let slot = local.next.take();
        let free = slot.is_none() && local.queues[Priority::Normal as usize].is_empty();
        local.next.set(if free { task.take() } else { slot });
    });
    if let Some(task) = task {
        push_unstamped(task);
    }
}

/// Takes the spare heap of this scheduler, if this thread is one of `runtime`'s schedulers
/// and it has one.
pub(crate) fn take_spare_heap(runtime: &Shared) -> Option<Box<Heap>> {
    on_own_scheduler(runtime, |local| local.spare_heap.take()).flatten()
}

/// Keeps `heap`, pristine and of `runtime`'s heap options, as this scheduler's spare heap;
/// off `runtime`'s schedulers it is dropped.
pub(crate) fn keep_spare_heap(runtime: &Shared, heap: Box<Heap>) {
    debug_assert!(heap.is_pristine());
    let mut heap = Some(heap);
    on_own_scheduler(runtime, |local| local.spare_heap.set(heap.take()));
    drop(heap);
}

/// Takes the spare process cell of this scheduler, if this thread is one of `runtime`'s
/// schedulers and it has one; the cell is the caller's alone.
pub(crate) fn take_spare_task(runtime: &Shared) -> Option<Arc<Task>> {
    on_own_scheduler(runtime, |local| local.spare_task.take()).flatten()
}

/// Keeps the cell of a process that ended on this scheduler as its spare if nothing else
/// refers to it (no other reference, no `Weak`: a timer's wake-up holds one); otherwise
/// drops this reference.
fn keep_spare_task(shared: &Shared, mut task: Arc<Task>) {
    if Arc::get_mut(&mut task).is_none() {
        return;
    }
    let mut task = Some(task);
    on_own_scheduler(shared, |local| local.spare_task.set(task.take()));
}

/// Takes the process in this scheduler's next slot, unless it has run [`NEXT_SLOT_RUNS`]
/// from there in a row: then the process goes to the back of the queue instead.
fn take_next() -> Option<Arc<Task>> {
    LOCAL.with(|l| {
        let l = l.borrow();
        let local = l.as_ref().expect("scheduler thread");
        let Some(task) = local.next.take() else {
            local.next_streak.set(0);
            return None;
        };
        let streak = local.next_streak.get();
        if streak < NEXT_SLOT_RUNS {
            local.next_streak.set(streak + 1);
            return Some(task);
        }
        local.next_streak.set(0);
        local.queues[Priority::Normal as usize].push(task);
        None
    })
}

/// Counts a process of `priority` as runnable, makes it visible with `put` (which says
/// whether other schedulers should be told), and wakes a sleeping scheduler if so.
#[inline(always)]
fn enqueue(shared: &Shared, priority: usize, put: impl FnOnce(&Shared) -> bool) {
    // Counted before it becomes visible, so a scheduler that reads zero has really nothing
    // to find at that level (or finds it on its next pass; parking checks the queues).
    if counted(priority) {
        shared.runnable[priority].fetch_add(1, Ordering::AcqRel);
    }
    if put(shared) {
        fence(Ordering::SeqCst);
        shared.sleepers.wake_one();
    }
}

/// Sets a timer on this scheduler's wheel (or scheduler 0's from outside the runtime).
pub(crate) fn add_timer(shared: &Arc<Shared>, deadline: Instant, action: crate::timer::TimerAction) {
    let index = on_own_scheduler(Arc::as_ptr(shared), |l| l.index);
    let wheel = index.unwrap_or(0);
    let due = shared.timers[wheel].insert(deadline, action);
    if let Some(action) = due {
        action.fire(shared);
    } else if index.is_none() {
        // Scheduler 0 may be parked without a timeout: make it look at its wheel again.
        shared.sleepers.unpark(0);
    }
}

/// Adds one timed send to the counters of the scheduler running on this thread (none off a
/// scheduler thread).
pub(crate) fn add_send_time(shared: &Shared, elapsed: Duration) {
    if let Some(counters) = current_scheduler().and_then(|i| shared.counters.get(i as usize)) {
        counters.send_ns.fetch_add(elapsed.as_nanos().min(u128::from(u64::MAX)) as u64, Ordering::Relaxed);
        counters.timed_sends.fetch_add(1, Ordering::Relaxed);
    }
}

/// The body of scheduler thread `index`.
pub(crate) fn run(shared: Arc<Shared>, index: usize, queues: Queues) {
    SCHEDULER.with(|s| s.set(Some(index as u32)));
    QUIET_PANICS.with(|q| q.set(!shared.config.report_panics));
    crate::inbox::keep_spares(true);
    LOCAL.with(|l| {
        *l.borrow_mut() = Some(Local {
            shared: Arc::clone(&shared),
            index,
            queues,
            next: Cell::new(None),
            next_streak: Cell::new(0),
            spare_heap: Cell::new(None),
            spare_task: Cell::new(None),
        })
    });
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1));
    let mut normal_picks = 0u32;
    let mut picks = 0u32;
    let mut slices = SliceRecorder::new();
    // Slice lengths only when asked (Config::time_slices): then one clock read per slice,
    // a slice's end being the next one's start. Otherwise the clock is read only while
    // timers are pending.
    let timed = shared.config.time_slices;
    // With attribution, the clock read that stamps a slice's start also serves the watch:
    // a long gap between two slice starts (or a park) makes the thread look at its kernel
    // accounting (moments.rs Invariant 4).
    let mut watch =
        if shared.config.attribution { OffCpuWatch::start(index as u32, shared.epoch) } else { None };
    let mut last_start: Option<Instant> = None;
    let mut clock = timed.then(Instant::now);
    shared.strategy.scheduler_started(index);
    while !shared.is_shutting_down() {
        if shared.stop_requested() {
            stop_for_strategy(&shared, index);
            clock = timed.then(Instant::now);
        }
        if shared.timers[index].any_pending() {
            fire_timers(&shared, index, clock.unwrap_or_else(Instant::now));
        }
        picks = picks.wrapping_add(1);
        let injector_first = picks.is_multiple_of(INJECTOR_INTERVAL);
        match find_work(&shared, index, &mut rng, &mut normal_picks, injector_first) {
            Some(task) => {
                let (end, started) = run_task(&shared, index, task, clock);
                if let (Some(start), Some(end)) = (clock, end) {
                    slices.record(&shared.counters[index], end.saturating_duration_since(start));
                }
                if let (Some(watch), Some(from), Some(to)) = (&mut watch, last_start, started) {
                    note_off_cpu(&shared, watch.observe(from, to, shared.epoch));
                }
                last_start = started.or(last_start);
                clock = end;
            }
            None => {
                slices.publish_if_many(&shared.counters[index]);
                let parked = watch.as_ref().map(|_| Instant::now());
                park(&shared, index);
                clock = timed.then(Instant::now);
                // Back from a park: the wait for a CPU after the wake-up ends now, and the
                // park is no gap between slices.
                if let (Some(watch), Some(from)) = (&mut watch, parked) {
                    let to = Instant::now();
                    note_off_cpu(&shared, watch.observe(from, to, shared.epoch));
                    last_start = Some(to);
                }
            }
        }
    }
    shared.strategy.scheduler_stopped(index);
    slices.publish(&shared.counters[index]);
    LOCAL.with(|l| *l.borrow_mut() = None);
    crate::table::forget_held_chunk();
    crate::inbox::keep_spares(false);
    SCHEDULER.with(|s| s.set(None));
}

/// Keeps an off-CPU interval a watch found (rare: moments.rs `OFF_CPU_GAP`).
fn note_off_cpu(shared: &Shared, found: Option<OffCpu>) {
    if let Some(off) = found {
        shared.off_cpu.lock().unwrap_or_else(|e| e.into_inner()).push(off);
    }
}

fn fire_timers(shared: &Arc<Shared>, index: usize, now: Instant) {
    for action in shared.timers[index].advance(now) {
        action.fire(shared);
    }
}

/// Every this many picks a scheduler looks at the injector before its local queue. A local
/// queue need never empty (a process that yields in a loop queues itself there again), and
/// without this a process woken from outside the runtime would wait in the injector for as
/// long as its scheduler had local work: forever, with one scheduler. Tokio checks its global
/// queue every 61 ticks for the same reason; a prime keeps the check from falling into step
/// with a periodic workload.
const INJECTOR_INTERVAL: u32 = 61;

/// One priority level: the local queue, then the injector, then the other schedulers; the
/// injector first when `injector_first`.
fn take(
    shared: &Shared,
    index: usize,
    priority: usize,
    rng: &mut XorShift,
    injector_first: bool,
) -> Option<Arc<Task>> {
    if counted(priority) && shared.runnable[priority].load(Ordering::Acquire) == 0 {
        return None;
    }
    let found = LOCAL.with(|l| {
        let l = l.borrow();
        let local = l.as_ref().expect("scheduler thread");
        let queue = &local.queues[priority];
        let from_injector = || loop {
            match shared.injectors[priority].steal_batch_and_pop(queue) {
                Steal::Success(t) => return Some(t),
                Steal::Retry => continue,
                Steal::Empty => return None,
            }
        };
        if injector_first {
            if let Some(t) = from_injector() {
                return Some(t);
            }
        }
        if let Some(t) = queue.pop() {
            return Some(t);
        }
        if let Some(t) = from_injector() {
            return Some(t);
        }
        let n = shared.stealers.len();
        let start = rng.next() as usize % n.max(1);
        for k in 0..n {
            let victim = (start + k) % n;
            if victim == index {
                continue;
            }
            loop {
                match shared.stealers[victim][priority].steal_batch_and_pop(queue) {
                    Steal::Success(t) => {
                        bump(&shared.counters[index].steals);
                        return Some(t);
                    }
                    Steal::Retry => continue,
                    Steal::Empty => break,
                }
            }
        }
        None
    });
    if found.is_some() && counted(priority) {
        shared.runnable[priority].fetch_sub(1, Ordering::AcqRel);
    }
    found
}

fn find_work(
    shared: &Shared,
    index: usize,
    rng: &mut XorShift,
    normal_picks: &mut u32,
    injector_first: bool,
) -> Option<Arc<Task>> {
    for p in [Priority::Max, Priority::High] {
        if let Some(t) = take(shared, index, p as usize, rng, injector_first) {
            return Some(t);
        }
    }
    // Normal and low share a level: low gets one turn per LOW_SKIPS normal picks.
    if *normal_picks >= LOW_SKIPS {
        if let Some(t) = take(shared, index, Priority::Low as usize, rng, injector_first) {
            *normal_picks = 0;
            return Some(t);
        }
    }
    // The next slot first, except on the picks that look at the injector first: then after
    // the queues.
    let queued = |rng: &mut XorShift| take(shared, index, Priority::Normal as usize, rng, injector_first);
    let normal =
        if injector_first { queued(rng).or_else(take_next) } else { take_next().or_else(|| queued(rng)) };
    if let Some(t) = normal {
        *normal_picks += 1;
        return Some(t);
    }
    *normal_picks = 0;
    take(shared, index, Priority::Low as usize, rng, injector_first)
}

fn has_visible_work(shared: &Shared) -> bool {
    shared.injectors.iter().any(|q| !q.is_empty())
        || shared.stealers.iter().any(|s| s.iter().any(|q| !q.is_empty()))
}

/// Stops this scheduler at the strategy's safepoint, between two slices. Parked schedulers
/// are woken first: each must reach the safepoint too.
fn stop_for_strategy(shared: &Shared, index: usize) {
    shared.sleepers.unpark_all();
    shared.strategy.safepoint(index);
}

/// Protocol step 2. A pending safepoint counts as work: the requester wakes sleepers after
/// raising it, so checking it after registering loses no wake-up.
fn park(shared: &Shared, index: usize) {
    shared.sleepers.register(index);
    fence(Ordering::SeqCst);
    if has_visible_work(shared) || shared.is_shutting_down() || shared.stop_requested() {
        shared.sleepers.unregister(index);
        return;
    }
    bump(&shared.counters[index].parks);
    crate::table::forget_held_chunk();
    let trim_pending = shared.config.trim_when_idle && shared.trimmer.maybe_trim(shared);
    let deadline = shared.timers[index].next_deadline();
    let settle = trim_pending.then(|| Instant::now() + crate::trim::TRIM_SETTLE);
    match deadline.into_iter().chain(settle).min() {
        Some(d) => std::thread::park_timeout(d.saturating_duration_since(Instant::now())),
        None => std::thread::park(),
    }
    shared.sleepers.unregister(index);
}

/// Slice lengths recorded on the scheduler thread and merged into the shared histogram now
/// and then, so recording costs no lock.
struct SliceRecorder {
    local: hdrhistogram::Histogram<u64>,
    unpublished: u32,
}

impl SliceRecorder {
    /// Publish after this many slices (or when the scheduler parks or stops).
    const BATCH: u32 = 4096;

    fn new() -> SliceRecorder {
        SliceRecorder { local: hdrhistogram::Histogram::new(2).expect("histogram"), unpublished: 0 }
    }

    fn record(&mut self, counters: &SchedulerCounters, elapsed: Duration) {
        let _ = self.local.record(elapsed.as_nanos().min(u128::from(u64::MAX)) as u64);
        self.unpublished += 1;
        if self.unpublished >= Self::BATCH {
            self.publish(counters);
        }
    }

    /// At a park: publish only a sizeable batch, as merging costs a pass over the buckets
    /// and a scheduler may park after every slice.
    fn publish_if_many(&mut self, counters: &SchedulerCounters) {
        if self.unpublished >= Self::BATCH / 16 {
            self.publish(counters);
        }
    }

    fn publish(&mut self, counters: &SchedulerCounters) {
        if self.unpublished == 0 {
            return;
        }
        let mut shared = counters.slice_ns.lock().unwrap_or_else(|e| e.into_inner());
        match shared.as_mut() {
            Some(h) => {
                let _ = h.add(&self.local);
            }
            None => *shared = Some(self.local.clone()),
        }
        self.local.reset();
        self.unpublished = 0;
    }
}

/// Polls one process for one slice, begun at `start` when slices are timed, and decides
/// what happens to it next; returns when the slice ended (when timed) and when it began
/// (when the process's moments are stamped).
fn run_task(
    shared: &Arc<Shared>,
    index: usize,
    task: Arc<Task>,
    start: Option<Instant>,
) -> (Option<Instant>, Option<Instant>) {
    if !task.start_running() {
        return (start, None);
    }
    let started = task.moments.as_deref().map(|stamps| {
        let now = Instant::now();
        stamps.started(crate::moments::since(shared.epoch, now), index as u32);
        now
    });
    BUDGET.with(|b| b.set(i64::from(shared.config.reductions)));
    // Slice tracing, trace.rs Invariant 1: one check, and a clock read only when traced.
    let traced_start = shared.config.slice_sink.as_ref().map(|_| Instant::now());
    let outcome = {
        let mut body = task.body.lock().unwrap_or_else(|e| e.into_inner());
        match body.as_mut() {
            Some(body) => {
                let mut cx = Context::from_waker(&body.waker);
                catch_unwind(AssertUnwindSafe(|| body.future.as_mut().poll(&mut cx)))
            }
            None => Ok(Poll::Ready(())),
        }
    };
    BUDGET.with(|b| b.set(i64::MAX));
    let end = start.map(|_| Instant::now());
    if let (Some(sink), Some(begun)) = (&shared.config.slice_sink, traced_start) {
        let duration = begun.elapsed();
        sink.record(&crate::trace::Slice { scheduler: index as u32, pid: task.pid, start: begun, duration });
    }
    let counters = &shared.counters[index];
    bump(&counters.slices);
    if let (Some(start), Some(end)) = (start, end) {
        if end.saturating_duration_since(start) > shared.config.overrun_threshold {
            bump(&counters.overruns);
        }
    }
    let exit = match outcome {
        Ok(Poll::Ready(())) => Some(ExitReason::Normal),
        Err(payload) => Some(ExitReason::Panic(panic_message(payload.as_ref()))),
        Ok(Poll::Pending) => task.take_exit_request(),
    };
    match exit {
        Some(reason) => {
            shared.finish(&task, reason);
            keep_spare_task(shared, task);
        }
        None => {
            if task.stop_running() {
                push(task);
            }
        }
    }
    (end, started)
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// A small, fast generator to pick steal victims.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// Creates the per-priority queues of one scheduler and their stealers.
pub(crate) fn new_queues() -> (Queues, [Stealer<Arc<Task>>; 4]) {
    let queues: Queues = std::array::from_fn(|_| Worker::new_fifo());
    let stealers = std::array::from_fn(|i| queues[i].stealer());
    (queues, stealers)
}

/// A fresh injector per priority.
pub(crate) fn new_injectors() -> [Injector<Arc<Task>>; 4] {
    std::array::from_fn(|_| Injector::new())
}
