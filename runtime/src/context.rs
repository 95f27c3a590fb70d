//! [`Cx`]: what a process body uses to reach its heap, mailbox and the runtime.
//!
//! A `Cx` is owned by its process's body, and with it the process heap: nothing else ever
//! touches that heap. Terms are built and read inside `cx.with(|h| ...)` under the heap's
//! generative brand; they cannot live across an `.await`.
//!
//! # Protocol (safepoints)
//! Every await point of a `Cx` method is a safepoint:
//! 1. if the slice's reductions are spent, the process yields (wakes itself and returns
//!    `Pending`, so its scheduler queues it at the back);
//! 2. otherwise, if the heap needs a collection, it collects now and charges the reductions;
//!    a collection above `max_heap_size` asks the scheduler to end the process with
//!    [`ExitReason::MaxHeapSize`];
//! 3. then the operation proceeds (new messages are delivered into the heap first).

use std::future::{poll_fn, Future};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use heaplab_gc::{Atom, Collect, Fragment, Heap, HeapError, HeapStats, Mu, Pid, Term};

use crate::costs;
use crate::exit::ExitReason;
use crate::priority::Priority;
use crate::registry::RegisterError;
use crate::runtime::SpawnOptions;
use crate::scheduler;
use crate::table::SpawnError;
use crate::task::{Envelope, Task};
use crate::timer::TimerAction;

/// A process's context: its identity, heap and mailbox.
pub struct Cx {
    task: Arc<Task>,
    heap: Heap,
}

/// Sending to a registered name that nobody holds (`badarg` on the BEAM).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotRegistered(pub Atom);

impl std::fmt::Display for NotRegistered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no process is registered as {}", self.0)
    }
}

impl std::error::Error for NotRegistered {}

impl Cx {
    pub(crate) fn new(task: Arc<Task>, heap: Heap) -> Cx {
        Cx { task, heap }
    }

    /// This process's pid.
    pub fn self_pid(&self) -> Pid {
        self.task.pid
    }

    /// Builds or reads terms on this process's heap under a fresh brand. Costs one reduction
    /// plus one per 16 words allocated.
    pub fn with<R>(&mut self, f: impl for<'h> FnOnce(Mu<'h>) -> R) -> R {
        let before = self.heap.used_words();
        let r = self.heap.enter(f);
        let words = self.heap.used_words().saturating_sub(before) as u64;
        scheduler::consume(costs::WITH + words / costs::WORDS_PER_REDUCTION);
        r
    }

    /// Sends the term `build` makes (on this heap) to `to`: the term is copied into a
    /// message fragment, as a BEAM send copies. Sending to a dead process does nothing.
    pub fn send(&mut self, to: Pid, build: impl for<'h> FnOnce(Mu<'h>) -> Term<'h>) {
        let fragment = self.heap.enter(|h| {
            let t = build(h);
            h.to_fragment(t)
        });
        self.send_fragment(to, fragment);
    }

    /// Sends a prepared fragment.
    pub fn send_fragment(&mut self, to: Pid, message: Fragment) {
        scheduler::consume(costs::SEND + message.words() as u64 / costs::WORDS_PER_REDUCTION);
        self.task.shared.send_fragment(to, message);
    }

    /// Sends to a registered name.
    pub fn send_named(
        &mut self,
        name: Atom,
        build: impl for<'h> FnOnce(Mu<'h>) -> Term<'h>,
    ) -> Result<(), NotRegistered> {
        let pid = self.task.shared.registry.whereis(name).ok_or(NotRegistered(name))?;
        self.send(pid, build);
        Ok(())
    }

    /// Delivers the message to `to` after `delay` (`erlang:send_after/3`).
    pub fn send_after(&mut self, delay: Duration, to: Pid, build: impl for<'h> FnOnce(Mu<'h>) -> Term<'h>) {
        let fragment = self.heap.enter(|h| {
            let t = build(h);
            h.to_fragment(t)
        });
        scheduler::add_timer(&self.task.shared, Instant::now() + delay, TimerAction::Send(to, fragment));
    }

    /// Waits for the first message (oldest first) that `matcher` accepts; messages it
    /// rejects (returns `None` for) stay in the mailbox in order. Messages already examined
    /// are not examined again by this receive when new ones arrive (the save pointer).
    pub async fn receive<R>(&mut self, matcher: impl for<'h> FnMut(Mu<'h>, Term<'h>) -> Option<R>) -> R {
        match self.receive_until(None, matcher).await {
            Some(r) => r,
            None => unreachable!("a receive without a deadline ended without a message"),
        }
    }

    /// As [`Cx::receive`], giving up with `None` after `timeout` (`receive ... after`).
    pub async fn receive_timeout<R>(
        &mut self,
        timeout: Duration,
        matcher: impl for<'h> FnMut(Mu<'h>, Term<'h>) -> Option<R>,
    ) -> Option<R> {
        self.receive_until(Some(Instant::now() + timeout), matcher).await
    }

    async fn receive_until<R>(
        &mut self,
        deadline: Option<Instant>,
        mut matcher: impl for<'h> FnMut(Mu<'h>, Term<'h>) -> Option<R>,
    ) -> Option<R> {
        let mut scanned = 0;
        let mut timer: Option<Arc<AtomicBool>> = None;
        let result = poll_fn(|cx| {
            if self.safepoint(cx).is_pending() {
                return Poll::Pending;
            }
            self.deliver_inbox();
            let count = self.heap.message_count();
            while scanned < count {
                scheduler::consume(costs::RECEIVE_PER_MESSAGE);
                let i = scanned;
                let hit = self.heap.enter(|h| {
                    let message = h.message(i).expect("index below message count");
                    let r = matcher(h, message)?;
                    h.take_message(i);
                    Some(r)
                });
                if hit.is_some() {
                    return Poll::Ready(hit);
                }
                scanned += 1;
            }
            if let Some(deadline) = deadline {
                if Instant::now() >= deadline {
                    return Poll::Ready(None);
                }
                if timer.is_none() {
                    let cancelled = Arc::new(AtomicBool::new(false));
                    let action = TimerAction::Wake(cx.waker().clone(), Arc::clone(&cancelled));
                    scheduler::add_timer(&self.task.shared, deadline, action);
                    timer = Some(cancelled);
                }
            }
            Poll::Pending
        })
        .await;
        if let Some(cancelled) = timer {
            cancelled.store(true, Ordering::Release);
        }
        result
    }

    /// Moves newly arrived envelopes from the inbox into the heap's message queue.
    fn deliver_inbox(&mut self) {
        if self.task.inbox.is_empty() {
            return;
        }
        let mut arrived = Vec::new();
        self.task.inbox.take_all(&mut arrived);
        for envelope in arrived {
            match envelope {
                Envelope::Message(fragment) => self.heap.deliver(fragment),
            }
        }
    }

    /// Protocol steps 1 and 2. `Pending` means: yield now.
    fn safepoint(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if scheduler::budget_spent() {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if self.heap.needs_gc() {
            self.collect(Collect::Auto);
        }
        Poll::Ready(())
    }

    fn collect(&mut self, request: Collect) {
        self.heap.set_scheduler(scheduler::current_scheduler());
        match self.heap.collect(request) {
            Ok(outcome) => {
                scheduler::consume(outcome.reductions);
            }
            Err(HeapError::MaxHeapSize { limit, size }) => {
                *self.task.exit_request.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(ExitReason::MaxHeapSize { limit, size });
                // The scheduler ends the process after this poll; spend the slice so no
                // further work is done in it.
                scheduler::consume(u64::MAX);
            }
        }
    }

    /// Whether an exit was requested for this process (it will end at its next await).
    fn exiting(&self) -> bool {
        self.task.exit_request.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    /// Yields to other processes: the process goes to the back of its run queue.
    pub async fn yield_now(&mut self) {
        let mut yielded = false;
        let this = self;
        poll_fn(move |cx| {
            if yielded && !this.exiting() {
                return Poll::Ready(());
            }
            yielded = true;
            if this.heap.needs_gc() {
                this.collect(Collect::Auto);
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await
    }

    /// Charges `n` reductions of pure computation; yields if the slice is spent. Long loops
    /// call this so the scheduler can be fair (a busy loop cannot be preempted otherwise).
    pub async fn tick(&mut self, n: u64) {
        if scheduler::consume(n) {
            self.yield_now().await;
        }
    }

    /// Sleeps for `d` (`timer:sleep/1`); other processes run meanwhile.
    pub async fn sleep(&mut self, d: Duration) {
        let deadline = Instant::now() + d;
        let mut timer: Option<Arc<AtomicBool>> = None;
        // `move` so the future holds `&mut Cx` (Send), not `&&mut Cx` (which needs Sync).
        let this = self;
        poll_fn(move |cx| {
            if Instant::now() >= deadline && !this.exiting() {
                return Poll::Ready(());
            }
            if timer.is_none() {
                let cancelled = Arc::new(AtomicBool::new(false));
                scheduler::add_timer(
                    &this.task.shared,
                    deadline,
                    TimerAction::Wake(cx.waker().clone(), Arc::clone(&cancelled)),
                );
                timer = Some(cancelled);
            }
            Poll::Pending
        })
        .await
    }

    /// A major collection of this process's heap now (`erlang:garbage_collect/0`).
    pub async fn garbage_collect(&mut self) {
        self.collect(Collect::Major);
        self.yield_if_spent().await;
    }

    /// A collection of the kind requested, at this await point.
    pub async fn collect_now(&mut self, request: Collect) {
        self.collect(request);
        self.yield_if_spent().await;
    }

    async fn yield_if_spent(&mut self) {
        if scheduler::budget_spent() || self.exiting() {
            self.yield_now().await;
        }
    }

    /// Spawns a process.
    pub fn spawn<F, Fut>(&mut self, body: F) -> Result<Pid, SpawnError>
    where
        F: FnOnce(Cx) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.spawn_opt(SpawnOptions::default(), body)
    }

    /// Spawns a process with options.
    pub fn spawn_opt<F, Fut>(&mut self, opts: SpawnOptions, body: F) -> Result<Pid, SpawnError>
    where
        F: FnOnce(Cx) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        scheduler::consume(costs::SPAWN);
        self.task.shared.spawn(opts, body)
    }

    /// Registers this process under `name`.
    pub fn register(&mut self, name: Atom) -> Result<(), RegisterError> {
        let mut own = self.task.name.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(existing) = *own {
            return Err(RegisterError::AlreadyNamed(existing));
        }
        self.task.shared.registry.register(name, self.task.pid)?;
        *own = Some(name);
        Ok(())
    }

    /// Removes this process's name; returns whether it had one.
    pub fn unregister(&mut self) -> bool {
        let name = self.task.name.lock().unwrap_or_else(|e| e.into_inner()).take();
        name.is_some_and(|n| self.task.shared.registry.unregister(n, self.task.pid))
    }

    /// The pid registered under `name`.
    pub fn whereis(&self, name: Atom) -> Option<Pid> {
        self.task.shared.registry.whereis(name)
    }

    /// Whether `pid` names a live process.
    pub fn is_alive(&self, pid: Pid) -> bool {
        self.task.shared.table.get(pid).is_some_and(|t| !t.is_done())
    }

    /// Sets this process's priority (`process_flag(priority, P)`); returns the old one.
    pub fn set_priority(&mut self, p: Priority) -> Priority {
        let old = self.task.priority();
        self.task.set_priority(p);
        old
    }

    /// Sets `max_heap_size` in words (`process_flag(max_heap_size, W)`); `None` = unlimited.
    pub fn set_max_heap_size(&mut self, words: Option<usize>) -> Result<(), heaplab_gc::ConfigError> {
        self.heap.set_max_heap_size(words)
    }

    /// Sets `fullsweep_after` (`process_flag(fullsweep_after, N)`).
    pub fn set_fullsweep_after(&mut self, n: u32) {
        self.heap.set_fullsweep_after(n);
    }

    /// This process's heap sizes and counters.
    pub fn heap_stats(&self) -> HeapStats {
        self.heap.stats()
    }

    /// Messages delivered to the heap and not yet received (new arrivals are counted after
    /// the next receive or [`Cx::deliver_now`]).
    pub fn mailbox_len(&self) -> usize {
        self.heap.message_count()
    }

    /// Moves arrived messages into the heap now (they are otherwise moved at receive).
    pub fn deliver_now(&mut self) {
        self.deliver_inbox();
    }

    /// The scheduler running this process now.
    pub fn scheduler_id(&self) -> Option<u32> {
        scheduler::current_scheduler()
    }

    /// Number of scheduler threads.
    pub fn schedulers(&self) -> usize {
        self.task.shared.config.schedulers
    }
}

impl std::fmt::Debug for Cx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cx({})", self.task.pid)
    }
}

// A process body must be `Send`: so must `Cx` and the futures of its methods.
const _: () = {
    fn assert_send<T: Send>(_: &T) {}
    #[allow(dead_code)]
    fn receive_is_send(cx: &mut Cx) {
        assert_send(cx);
        assert_send(&cx.receive(|_, m| m.as_int()));
        assert_send(&cx.sleep(Duration::ZERO));
        assert_send(&cx.yield_now());
        assert_send(&cx.tick(1));
        assert_send(&cx.receive_timeout(Duration::ZERO, |_, m| m.as_int()));
        assert_send(&cx.garbage_collect());
    }
};
