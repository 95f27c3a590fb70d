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
use std::task::Wake;

use heaplab_gc::{Atom, Fragment, Pid};

use crate::exit::ExitReason;
use crate::inbox::Inbox;
use crate::priority::Priority;

pub(crate) const IDLE: u8 = 0;
pub(crate) const SCHEDULED: u8 = 1;
pub(crate) const RUNNING: u8 = 2;
pub(crate) const NOTIFIED: u8 = 3;
pub(crate) const DONE: u8 = 4;

/// A process body.
pub(crate) type Body = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What arrives in an inbox.
pub(crate) enum Envelope {
    /// A message, already copied out of the sender's heap.
    Message(Fragment),
}

pub(crate) struct Task {
    pub(crate) pid: Pid,
    state: AtomicU8,
    priority: AtomicU8,
    pub(crate) inbox: Inbox<Envelope>,
    pub(crate) body: Mutex<Option<Body>>,
    /// An exit the process asked for from inside (e.g. `max_heap_size`), applied after the
    /// current poll.
    pub(crate) exit_request: Mutex<Option<ExitReason>>,
    /// The registered name, removed from the registry at exit.
    pub(crate) name: Mutex<Option<Atom>>,
    /// Run once at exit with the reason.
    pub(crate) exit_hooks: Mutex<Vec<crate::runtime::ExitHook>>,
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
            exit_request: Mutex::new(None),
            name: Mutex::new(None),
            exit_hooks: Mutex::new(Vec::new()),
            shared,
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
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            let next = match state {
                IDLE => SCHEDULED,
                RUNNING => NOTIFIED,
                _ => return,
            };
            match self.state.compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    if next == SCHEDULED {
                        crate::scheduler::push(&self.shared, Arc::clone(self));
                    }
                    return;
                }
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

    /// Delivers an envelope and wakes the process.
    pub(crate) fn post(self: &Arc<Self>, envelope: Envelope) {
        if self.is_done() {
            return;
        }
        self.inbox.push(envelope);
        self.schedule();
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
