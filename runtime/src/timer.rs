//! Per-scheduler timer wheels: receive timeouts, `sleep` and `send_after`.
//!
//! A hashed wheel of [`SLOTS`] slots of one [`TICK`] each: a timer goes into the slot of its
//! deadline tick modulo the wheel size and fires when the scheduler's clock passes that
//! tick, so insertion is O(1) and advancing costs one slot per elapsed tick. Timers further
//! away than one turn share slots with nearer ones and wait for their own tick. A timer
//! belongs to the wheel of the scheduler that set it (timers set from outside the runtime
//! go to scheduler 0); the process it wakes may run anywhere.
//!
//! # Invariants
//! 1. An entry fires at the first advance whose tick is at or past its deadline tick, and
//!    never before its deadline instant (deadlines round up to the next tick).
//! 2. `earliest` is at most the smallest deadline tick of any entry.
//! 3. The timers one advance fires come out in deadline-tick order, and timers of the same
//!    tick in the order they were set (a slot keeps insertion order), so two `send_after`s
//!    due together deliver in the order their deadlines say.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use heaplab_gc::{Fragment, Pid};

use crate::task::Task;

/// Timer resolution.
pub const TICK: Duration = Duration::from_millis(1);
/// Slots of the wheel: one turn is 512 ms.
pub const SLOTS: usize = 512;

/// What a timer does when it fires.
pub(crate) enum TimerAction {
    /// Wakes a waiting process unless the wait was cancelled. The process is held weakly,
    /// so a pending timer does not keep an exited process's cell alive.
    Wake(Weak<Task>, Arc<AtomicBool>),
    /// Delivers a message (`erlang:send_after/3`).
    Send(Pid, Fragment),
}

impl TimerAction {
    fn is_cancelled(&self) -> bool {
        matches!(self, TimerAction::Wake(_, cancelled) if cancelled.load(Ordering::Acquire))
    }

    pub(crate) fn fire(self, shared: &crate::runtime::Shared) {
        match self {
            TimerAction::Wake(task, cancelled) => {
                if !cancelled.load(Ordering::Acquire) {
                    if let Some(task) = task.upgrade() {
                        task.schedule();
                    }
                }
            }
            TimerAction::Send(pid, fragment) => shared.send_message(pid, fragment.into()),
        }
    }
}

struct Entry {
    tick: u64,
    action: TimerAction,
}

pub(crate) struct TimerWheel {
    origin: Instant,
    current: u64,
    slots: Vec<Vec<Entry>>,
    len: usize,
    earliest: u64,
}

impl TimerWheel {
    pub(crate) fn new(origin: Instant) -> TimerWheel {
        TimerWheel {
            origin,
            current: 0,
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
            len: 0,
            earliest: u64::MAX,
        }
    }

    fn tick_of(&self, t: Instant, round_up: bool) -> u64 {
        let d = t.saturating_duration_since(self.origin);
        let ticks = d.as_nanos() / TICK.as_nanos();
        let exact = d.as_nanos().is_multiple_of(TICK.as_nanos());
        (ticks + u128::from(round_up && !exact)) as u64
    }

    /// Adds a timer; returns it back if its deadline has passed already (fire it now).
    pub(crate) fn insert(&mut self, deadline: Instant, action: TimerAction) -> Option<TimerAction> {
        let tick = self.tick_of(deadline, true);
        if tick <= self.current {
            return Some(action);
        }
        self.slots[(tick % SLOTS as u64) as usize].push(Entry { tick, action });
        self.len += 1;
        self.earliest = self.earliest.min(tick);
        None
    }

    /// Moves the clock to `now`; returns the timers that fired.
    pub(crate) fn advance(&mut self, now: Instant) -> Vec<TimerAction> {
        let now_tick = self.tick_of(now, false);
        if now_tick <= self.current {
            return Vec::new();
        }
        let mut fired: Vec<Entry> = Vec::new();
        if self.len > 0 && now_tick >= self.earliest {
            let steps = (now_tick - self.current).min(SLOTS as u64);
            for step in 1..=steps {
                let slot = &mut self.slots[((self.current + step) % SLOTS as u64) as usize];
                if slot.iter().any(|e| e.tick <= now_tick) {
                    // Invariant 3: a stable split keeps the slot's insertion order.
                    let (due, later): (Vec<Entry>, Vec<Entry>) =
                        std::mem::take(slot).into_iter().partition(|e| e.tick <= now_tick);
                    *slot = later;
                    fired.extend(due);
                }
            }
            // Invariant 3: slots are visited in tick order only within one turn; when the
            // clock jumped further, a later tick can sit in an earlier-visited slot.
            fired.sort_by_key(|e| e.tick);
            self.len -= fired.len();
            self.current = now_tick;
            self.recompute_earliest();
        }
        self.current = now_tick;
        fired.into_iter().map(|e| e.action).collect()
    }

    /// Invariant 2 after timers fired: walks the ticks of the next turn in order, dropping
    /// cancelled waits on the way, and stops at the first slot holding a timer due at that
    /// tick. Only when nothing is due within a turn does it look at every entry.
    fn recompute_earliest(&mut self) {
        for step in 1..=SLOTS as u64 {
            let tick = self.current + step;
            let slot = &mut self.slots[(tick % SLOTS as u64) as usize];
            let before = slot.len();
            slot.retain(|e| !e.action.is_cancelled());
            self.len -= before - slot.len();
            if slot.iter().any(|e| e.tick == tick) {
                self.earliest = tick;
                return;
            }
        }
        self.earliest = self.slots.iter().flatten().map(|e| e.tick).min().unwrap_or(u64::MAX);
    }

    /// When the next timer is due, if any.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        (self.len > 0)
            .then(|| self.origin + Duration::from_nanos(TICK.as_nanos() as u64 * self.earliest.max(1)))
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

/// One scheduler's wheel behind its lock, with the count of its timers readable without
/// the lock: a scheduler looks at its wheel between every two slices, and most slices run
/// with no timer set, so that look must not cost a lock and a clock read.
pub(crate) struct TimerSlot {
    wheel: Mutex<TimerWheel>,
    /// The wheel's `len` as of the last change under the lock.
    pending: AtomicUsize,
}

impl TimerSlot {
    pub(crate) fn new(origin: Instant) -> TimerSlot {
        TimerSlot { wheel: Mutex::new(TimerWheel::new(origin)), pending: AtomicUsize::new(0) }
    }

    fn lock(&self) -> MutexGuard<'_, TimerWheel> {
        self.wheel.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the wheel held a timer at its last change. A timer set concurrently may be
    /// missed once; the scheduler looks again before its next slice and reads the wheel
    /// under the lock before it parks.
    pub(crate) fn any_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire) > 0
    }

    /// [`TimerWheel::insert`] under the lock.
    pub(crate) fn insert(&self, deadline: Instant, action: TimerAction) -> Option<TimerAction> {
        let mut wheel = self.lock();
        let due = wheel.insert(deadline, action);
        self.pending.store(wheel.len(), Ordering::Release);
        due
    }

    /// [`TimerWheel::advance`] under the lock.
    pub(crate) fn advance(&self, now: Instant) -> Vec<TimerAction> {
        let mut wheel = self.lock();
        let fired = wheel.advance(now);
        self.pending.store(wheel.len(), Ordering::Release);
        fired
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.lock().next_deadline()
    }

    /// Drops every timer (at shutdown).
    pub(crate) fn clear(&self) {
        *self.lock() = TimerWheel::new(Instant::now());
        self.pending.store(0, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_action(n: u64) -> TimerAction {
        TimerAction::Send(Pid::new(n), Fragment::build(|h| h.nil()))
    }

    fn pid_of(a: &TimerAction) -> u64 {
        match a {
            TimerAction::Send(p, _) => p.number(),
            TimerAction::Wake(..) => u64::MAX,
        }
    }

    #[test]
    fn fires_at_or_after_deadline_including_beyond_one_turn() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        assert!(w.insert(t0 + Duration::from_millis(5), send_action(1)).is_none());
        assert!(w.insert(t0 + Duration::from_millis(5 + 512), send_action(2)).is_none());
        assert!(w.insert(t0 + Duration::from_micros(1500), send_action(3)).is_none());
        assert_eq!(w.next_deadline(), Some(t0 + Duration::from_millis(2)));
        assert!(w.advance(t0 + Duration::from_millis(1)).is_empty());
        let f: Vec<_> = w.advance(t0 + Duration::from_millis(2)).iter().map(pid_of).collect();
        assert_eq!(f, vec![3]);
        let f: Vec<_> = w.advance(t0 + Duration::from_millis(6)).iter().map(pid_of).collect();
        assert_eq!(f, vec![1]);
        assert_eq!(w.len(), 1);
        assert!(w.advance(t0 + Duration::from_millis(516)).is_empty());
        let f: Vec<_> = w.advance(t0 + Duration::from_millis(517)).iter().map(pid_of).collect();
        assert_eq!(f, vec![2]);
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn past_deadlines_fire_at_once() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        w.advance(t0 + Duration::from_millis(10));
        assert!(w.insert(t0 + Duration::from_millis(3), send_action(1)).is_some());
    }
}
