//! The process cell: the part of a process that other threads touch.
//!
//! The process body (a future owning its [`Cx`](crate::Cx), heap included) is stored here
//! and polled by whichever scheduler runs the process; senders push envelopes into the
//! lock-free inbox and wake the process.
//!
//! # Protocol (process state)
//! 1. `IDLE` — waiting; not in any run queue. A wake moves it to `SCHEDULED` and pushes it
//!    onto a run queue: only the waker that wins the transition pushes, so a process is in
//!    at most one queue.
//! 2. `SCHEDULED` — in a run queue. Further wakes do nothing.
//! 3. `RUNNING` — a scheduler is polling the body. A wake moves it to `NOTIFIED`.
//! 4. After the poll, `RUNNING` -> `IDLE`; or `NOTIFIED` -> `SCHEDULED` and the scheduler
//!    re-queues it, so a message that arrived during the poll is never missed.
//! 5. `DONE` — exited; wakes do nothing and the body has been dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};

use heaplab_gc::{Atom, Pid, Ref};

use crate::exit::ExitReason;
use crate::inbox::Inbox;
use crate::priority::Priority;

pub(crate) const IDLE: u8 = 0;
pub(crate) const SCHEDULED: u8 = 1;
pub(crate) const RUNNING: u8 = 2;
pub(crate) const NOTIFIED: u8 = 3;
pub(crate) const DONE: u8 = 4;

/// A process body and the waker it is polled with. The waker is made once, at spawn: it
/// holds a reference to the task, so making one per slice would cost two reference-count
/// updates on every slice. The reference cycle (task -> body -> waker -> task) is broken
/// when the process ends: `finish` takes the body out of the task.
pub(crate) struct Body {
    pub(crate) future: Pin<Box<dyn Future<Output = ()> + Send>>,
    pub(crate) waker: Waker,
}

impl Body {
    pub(crate) fn new(task: &Arc<Task>, future: impl Future<Output = ()> + Send + 'static) -> Body {
        Body { future: Box::pin(future), waker: Waker::from(Arc::clone(task)) }
    }
}

/// What arrives in an inbox: messages and signals share one queue, so everything one
/// process sends another arrives in the order sent (the BEAM's signal ordering guarantee).
pub(crate) enum Envelope {
    /// A message: copied out of the sender's heap, or a reference into the shared heap.
    Message(crate::strategy::Message),
    /// An exit signal: from a link partner that ended (`linked`), or from `exit/2`.
    Exit { from: Pid, reason: ExitReason, linked: bool },
    /// `from` linked itself to this process.
    Link { from: Pid },
    /// `from` removed its link to this process.
    Unlink { from: Pid },
    /// `from` monitors this process under `reference`.
    Monitor { from: Pid, reference: Ref },
    /// `from` dropped its monitor `reference` on this process.
    Demonitor { from: Pid, reference: Ref },
    /// The process `from` that this process monitors under `reference` ended; becomes a
    /// `'DOWN'` message unless the monitor was dropped meanwhile.
    Down { from: Pid, reference: Ref, reason: ExitReason },
    /// Run a major collection now (`erlang:garbage_collect/1`): an idle process keeps the
    /// heap it grew to until its next collection, which only this brings about.
    GarbageCollect,
}

/// Links and monitors of one process; touched by the process itself and, once, by the code
/// that finishes it.
#[derive(Default)]
pub(crate) struct Control {
    /// Link partners.
    pub(crate) links: Vec<Pid>,
    /// Monitors other processes hold on this one: (reference, watcher).
    pub(crate) monitored_by: Vec<(Ref, Pid)>,
    /// Monitors this process holds: (reference, target).
    pub(crate) monitors: Vec<(Ref, Pid)>,
    /// The registered name each monitor set by name was set on (`monitor(process, Name)`):
    /// its `'DOWN'` names the process by `{Name, Node}`. Entries leave with their monitor.
    pub(crate) monitor_names: Vec<(Ref, Atom)>,
    /// The registered name, removed from the registry at exit.
    pub(crate) name: Option<Atom>,
    /// An exit the process asked for from inside (e.g. `max_heap_size`), applied after the
    /// current poll.
    pub(crate) exit_request: Option<ExitReason>,
    /// Run once at exit with the reason (taken with the whole block when the process ends).
    pub(crate) exit_hooks: Vec<crate::runtime::ExitHook>,
}

pub(crate) struct Task {
    pub(crate) pid: Pid,
    state: AtomicU8,
    priority: AtomicU8,
    pub(crate) inbox: Inbox<Envelope>,
    pub(crate) body: Mutex<Option<Body>>,
    /// Whether an exit request is set (`Control::exit_request`): read at every await point,
    /// so an atomic, not the lock.
    pub(crate) exiting: std::sync::atomic::AtomicBool,
    /// Links, monitors, the name, an exit request and exit hooks: what most processes never
    /// have, boxed on first use so a process without any pays one word. Taken whole (and the
    /// process marked done first) when the process ends: a link, monitor, name or hook added
    /// under this lock either sees the process done or is found by the exit.
    pub(crate) control: Mutex<Option<Box<Control>>>,
    /// `process_flag(trap_exit, true)`: exit signals become `{'EXIT', From, Reason}` messages.
    pub(crate) trap_exit: std::sync::atomic::AtomicBool,
    /// When the process was made runnable and its slice began, with attribution on
    /// (moments.rs Invariant 2).
    pub(crate) moments: Option<Box<crate::moments::Stamps>>,
    pub(crate) shared: Arc<crate::runtime::Shared>,
}

impl Task {
    pub(crate) fn new(pid: Pid, priority: Priority, shared: Arc<crate::runtime::Shared>) -> Task {
        Task {
            pid,
            state: AtomicU8::new(IDLE),
            priority: AtomicU8::new(priority as u8),
            inbox: Inbox::new(),
            body: Mutex::new(None),
            exiting: std::sync::atomic::AtomicBool::new(false),
            control: Mutex::new(None),
            trap_exit: std::sync::atomic::AtomicBool::new(false),
            moments: shared.config.attribution.then(Box::default),
            shared,
        }
    }

    /// Makes the cell of an ended process, which nothing else refers to, the cell of a new
    /// process `pid`: as [`Task::new`] makes it, without allocating. `finish` took the
    /// body and the control block and drained the inbox.
    pub(crate) fn reuse(&mut self, pid: Pid, priority: Priority) {
        debug_assert!(self.is_done() && self.inbox.is_empty());
        debug_assert!(self.body.get_mut().map_or(true, |b| b.is_none()));
        debug_assert!(self.control.get_mut().map_or(true, |c| c.is_none()));
        // Every user of these locks takes a poisoned one as it is; cleared all the same, so
        // the new process starts as a new cell would.
        self.body.clear_poison();
        self.control.clear_poison();
        self.pid = pid;
        *self.state.get_mut() = IDLE;
        *self.priority.get_mut() = priority as u8;
        *self.exiting.get_mut() = false;
        *self.trap_exit.get_mut() = false;
        if let Some(stamps) = self.moments.as_deref_mut() {
            *stamps = crate::moments::Stamps::default();
        }
    }

    pub(crate) fn priority(&self) -> Priority {
        Priority::from_u8(self.priority.load(Ordering::Relaxed))
    }

    pub(crate) fn set_priority(&self, p: Priority) {
        self.priority.store(p as u8, Ordering::Relaxed);
    }

    /// Protocol steps 1 and 3: wakes the process.
    pub(crate) fn schedule(self: &Arc<Self>) {
        if self.claim_queue() {
            crate::scheduler::push(Arc::clone(self));
        }
    }

    /// [`Task::schedule`] with a reference the caller gives up (a new process's): it
    /// becomes the run queue's, which saves taking another and dropping this one.
    pub(crate) fn schedule_owned(self: Arc<Self>) {
        if self.claim_queue() {
            crate::scheduler::push(self);
        }
    }

    /// Protocol steps 1 and 3: marks the process woken; returns whether it must be queued
    /// (it was idle), as opposed to running (it will be queued again when its poll ends) or
    /// queued already.
    fn claim_queue(&self) -> bool {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let next = match state {
                IDLE => SCHEDULED,
                RUNNING => NOTIFIED,
                _ => return false,
            };
            match self.state.compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return next == SCHEDULED,
                Err(actual) => state = actual,
            }
        }
    }

    /// Protocol: a scheduler takes the process out of its queue to run it.
    pub(crate) fn start_running(&self) -> bool {
        self.state.compare_exchange(SCHEDULED, RUNNING, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// Protocol step 4. Returns whether the process must be queued again.
    pub(crate) fn stop_running(&self) -> bool {
        match self.state.compare_exchange(RUNNING, IDLE, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => false,
            Err(NOTIFIED) => {
                self.state.store(SCHEDULED, Ordering::Release);
                true
            }
            Err(other) => unreachable!("process in state {other} while running"),
        }
    }

    /// Protocol step 5.
    pub(crate) fn mark_done(&self) {
        self.state.store(DONE, Ordering::Release);
    }

    pub(crate) fn is_done(&self) -> bool {
        self.state.load(Ordering::Acquire) == DONE
    }

    /// Records an exit for the scheduler to carry out after the current poll; the first
    /// request wins.
    pub(crate) fn request_exit(&self, reason: ExitReason) {
        self.with_control(|c| {
            if c.exit_request.is_none() {
                c.exit_request = Some(reason);
                self.exiting.store(true, Ordering::Release);
            }
        });
    }

    /// The exit requested, if any (taken: the scheduler carries it out once).
    pub(crate) fn take_exit_request(&self) -> Option<ExitReason> {
        if !self.exiting.load(Ordering::Acquire) {
            return None;
        }
        self.control_lock().as_mut().and_then(|c| c.exit_request.take())
    }

    /// Runs `f` on the control block, creating it if needed.
    pub(crate) fn with_control<R>(&self, f: impl FnOnce(&mut Control) -> R) -> R {
        f(self.control_lock().get_or_insert_with(Box::default))
    }

    /// The control block's lock.
    pub(crate) fn control_lock(&self) -> std::sync::MutexGuard<'_, Option<Box<Control>>> {
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Delivers an envelope and wakes the process. An envelope that reaches a process that
    /// has just exited is answered as a dead letter (a link or monitor gets `noproc`).
    pub(crate) fn post(self: &Arc<Self>, envelope: Envelope) {
        if self.deposit(envelope) && self.claim_queue() {
            crate::scheduler::push_woken(Arc::clone(self));
        }
    }

    /// [`Task::post`] with a reference the caller gives up (a lookup's): it becomes the run
    /// queue's if the process must be queued, which saves taking another.
    pub(crate) fn post_owned(self: Arc<Self>, envelope: Envelope) {
        if self.deposit(envelope) && self.claim_queue() {
            crate::scheduler::push_woken(self);
        }
    }

    /// Puts `envelope` in the inbox; returns whether the process should be woken (false if
    /// it has ended: then the envelope was answered as a dead letter).
    fn deposit(&self, envelope: Envelope) -> bool {
        if self.is_done() {
            self.shared.answer_dead_letter(self.pid, envelope);
            return false;
        }
        self.inbox.push(envelope);
        if self.is_done() {
            // Raced with the exit: the finisher may have drained the inbox already.
            self.shared.drain_dead_letters(self);
            return false;
        }
        true
    }
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        self.schedule();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.schedule();
    }
}
