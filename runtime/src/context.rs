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
//!
//! # Protocol (exiting)
//! 1. An exit is decided by the process itself ([`Cx::exit`], or an exit signal it sends
//!    itself with [`Cx::exit_process`], handled before that call returns, as `exit/2` to
//!    `self()` is on the BEAM), by an exit signal from another process when it is delivered,
//!    or by a collection above `max_heap_size`. The first decision wins.
//! 2. From that moment the process is dead to the rest of the system: the Rust code after
//!    the decision still runs up to the next await point (Rust cannot stop it), but every
//!    send from it is dropped, a spawn fails with [`SpawnError::Exiting`], and a link,
//!    unlink, monitor or exit signal it asks for is not made. So nothing it does after the
//!    decision is seen, as on the BEAM, where no expression after it runs.
//! 3. Its next await point does not return; the scheduler ends the process after the poll.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use heaplab_gc::{Atom, Collect, Fragment, HeapError, HeapOptions, HeapStats, Mu, Pid, Ref, Term};

use crate::costs;
use crate::exit::ExitReason;
use crate::priority::Priority;
use crate::registry::RegisterError;
use crate::runtime::{down_message, exit_message, Relation, SpawnOptions};
use crate::scheduler;
use crate::stats::RuntimeStats;
use crate::strategy::{AnyHeap, Message};
use crate::table::SpawnError;
use crate::task::{Envelope, Task};
use crate::timer::TimerAction;

/// A process's heap, made on its first use: a process that only ever waits (for a message
/// that will start its work, or to be told to stop) costs no heap at all.
enum HeapSlot {
    /// Not made yet; the options to make it with (`None`: the runtime's), checked at spawn.
    Pending(Option<Box<HeapOptions>>),
    Ready(AnyHeap),
}

/// A process's context: its identity, heap and mailbox.
pub struct Cx {
    task: Arc<Task>,
    heap: HeapSlot,
    /// Tags given up with [`Cx::unalias`], oldest first: a message `{Tag, _}` carrying one
    /// is dropped on delivery. At most [`UNALIASED_TAGS`] are kept.
    unaliased: Vec<Ref>,
    /// The process this one sent a message to last (before its first send, the process
    /// that spawned it, if one did). A run of sends to one process (a ring's next member, a
    /// client's server) then skips the table lookup. Pids are never reused, so a process
    /// with the pid sent to is the one the table would give; once it has ended, the table
    /// is asked again. Keeps at most one ended process's cell (not its heap, which went with
    /// its body) until the next send elsewhere.
    last_to: Option<Arc<Task>>,
}

/// The future of [`Cx::receive`]. A future of its own, not an `async fn` or a `poll_fn`:
/// the hop from one process to the next goes through it on every message, each generator
/// layer copied the matcher's result once more, and a `poll_fn` was left out of line, so the
/// waiting process read the result back at once from where the call had just written it
/// piecewise (a store-forwarding stall on every hop).
struct Receive<'a, M> {
    cx: &'a mut Cx,
    matcher: M,
    /// Messages this receive has examined and rejected (the save pointer).
    scanned: usize,
}

// The matcher is never pinned (no pinned reference to it is ever made), so the future may
// move whatever the matcher is.
impl<M> Unpin for Receive<'_, M> {}

impl<R, M> Future for Receive<'_, M>
where
    M: for<'h> FnMut(Mu<'h>, Term<'h>) -> Option<R>,
{
    type Output = R;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R> {
        let this = self.get_mut();
        match this.cx.poll_match(cx, &mut this.scanned, &mut this.matcher) {
            Poll::Ready(Some(r)) => Poll::Ready(r),
            _ => Poll::Pending,
        }
    }
}

/// Most tags [`Cx::unalias`] remembers. A tag is forgotten when the message it was waiting
/// for is dropped, or, past this many, oldest first: a reply that comes later than that many
/// newer abandoned requests reaches the mailbox. Known compromise: the BEAM deactivates an
/// alias for good at no cost because messages are addressed to the alias itself; here they
/// are addressed to the pid, so the receiver has to remember what it gave up on.
pub const UNALIASED_TAGS: usize = 256;

/// A heap for the process of `task` with `options` (`None`: the runtime's).
fn make_heap(task: &Task, options: Option<&HeapOptions>) -> AnyHeap {
    let shared = &task.shared;
    let options = options.unwrap_or(&shared.config.heap);
    shared
        .strategy
        .new_process(task.pid, options, shared.config.gc_sink.as_ref())
        .expect("heap options validated when the process was spawned")
}

/// Linking to a process that does not exist (`noproc`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoProc(pub Pid);

impl std::fmt::Display for NoProc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "noproc: {} does not exist", self.0)
    }
}

impl std::error::Error for NoProc {}

/// The tag of a message `{Tag, _}` whose first element is a reference (a reply).
fn tag_of(message: Term<'_>) -> Option<Ref> {
    match message.as_tuple()? {
        [tag, _] => tag.as_ref(),
        _ => None,
    }
}

/// Removes `(reference, pid)` from a monitor list; returns whether it was there.
fn remove_pair(list: &mut Vec<(Ref, Pid)>, reference: Ref, pid: Pid) -> bool {
    match list.iter().position(|&(r, p)| r == reference && p == pid) {
        Some(i) => {
            list.swap_remove(i);
            true
        }
        None => false,
    }
}

/// Removes the name a monitor was set on, if it was set by name.
fn take_name(names: &mut Vec<(Ref, Atom)>, reference: Ref) -> Option<Atom> {
    let i = names.iter().position(|&(r, _)| r == reference)?;
    Some(names.swap_remove(i).1)
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

/// A process's heap that nothing was ever kept in goes to its scheduler's spare when the
/// process ends, instead of being freed: the next process of that scheduler to need a heap
/// of the runtime's options takes it (`Cx::heap`), so a process that only passes
/// immediates (a reply `ok`, a done signal, a counter) costs no heap made or freed. Only a
/// per-process heap of the runtime's options qualifies; the spare is one heap per
/// scheduler, freed when the scheduler stops.
impl Drop for Cx {
    fn drop(&mut self) {
        if let HeapSlot::Ready(AnyHeap::Private(heap)) = &self.heap {
            if heap.is_pristine() && *heap.options() == self.task.shared.config.heap {
                let HeapSlot::Ready(AnyHeap::Private(heap)) =
                    std::mem::replace(&mut self.heap, HeapSlot::Pending(None))
                else {
                    unreachable!("matched just above")
                };
                scheduler::keep_spare_heap(&self.task.shared, heap);
            }
        }
    }
}

impl Cx {
    /// A context whose heap is made on first use, with `options` (`None`: the runtime's),
    /// which the runtime has validated. A process's first message nearly always goes to the
    /// process that spawned it (an acknowledgement, a result), so `last_to` starts as that
    /// process: the send then needs no table lookup.
    pub(crate) fn new(task: Arc<Task>, options: Option<HeapOptions>, parent: Option<Arc<Task>>) -> Cx {
        Cx { task, heap: HeapSlot::Pending(options.map(Box::new)), unaliased: Vec::new(), last_to: parent }
    }

    /// The process's heap, made now if this is its first use.
    fn heap(&mut self) -> &mut AnyHeap {
        if let HeapSlot::Pending(options) = &mut self.heap {
            let spare = match options {
                None => scheduler::take_spare_heap(&self.task.shared),
                Some(_) => None,
            };
            let heap = match spare {
                Some(mut heap) => {
                    heap.set_pid(Some(self.task.pid));
                    AnyHeap::Private(heap)
                }
                None => make_heap(&self.task, options.as_deref()),
            };
            self.heap = HeapSlot::Ready(heap);
        }
        match &mut self.heap {
            HeapSlot::Ready(heap) => heap,
            HeapSlot::Pending(_) => unreachable!("made just above"),
        }
    }

    /// The process's heap if it has been made.
    fn made_heap(&self) -> Option<&AnyHeap> {
        match &self.heap {
            HeapSlot::Ready(heap) => Some(heap),
            HeapSlot::Pending(_) => None,
        }
    }

    /// Runs `f` under a fresh brand of this process's heap; returns its result and the
    /// words allocated.
    fn enter<R>(&mut self, f: impl for<'h> FnOnce(Mu<'h>) -> R) -> (R, u64) {
        self.heap().enter(f)
    }

    /// Counters of the runtime and each scheduler, as [`Runtime::stats`](crate::Runtime::stats)
    /// gives them outside (`erlang:statistics/1`).
    pub fn runtime_stats(&self) -> RuntimeStats {
        self.task.shared.stats()
    }

    /// This process's pid.
    pub fn self_pid(&self) -> Pid {
        self.task.pid
    }

    /// Builds or reads terms on this process's heap under a fresh brand. Costs one reduction
    /// plus one per 16 words allocated.
    pub fn with<R>(&mut self, f: impl for<'h> FnOnce(Mu<'h>) -> R) -> R {
        let (r, words) = self.enter(f);
        scheduler::consume(costs::WITH + words / costs::WORDS_PER_REDUCTION);
        r
    }

    /// Sends the term `build` makes (on this heap) to `to`. Under per-process heaps the term
    /// is copied into a message fragment, as a BEAM send copies; under the shared heap it is
    /// sent by reference. Sending to a dead process does nothing.
    pub fn send(&mut self, to: Pid, build: impl for<'h> FnOnce(Mu<'h>) -> Term<'h>) {
        // Exiting Protocol step 2: a process that is exiting sends nothing.
        if self.exiting() {
            return;
        }
        self.timed(|cx| {
            let message = cx.heap().message(build);
            cx.send_message(to, message);
        });
    }

    /// Sends a prepared fragment (copied into the receiver's heap on delivery).
    pub fn send_fragment(&mut self, to: Pid, message: Fragment) {
        if self.exiting() {
            return;
        }
        self.timed(|cx| cx.send_message(to, Message::Copied(message)));
    }

    /// Runs the send `f`, timing it when the runtime times sends ([`Config::time_sends`]).
    ///
    /// [`Config::time_sends`]: crate::Config::time_sends
    fn timed(&mut self, f: impl FnOnce(&mut Cx)) {
        if !self.task.shared.config.time_sends {
            return f(self);
        }
        let start = Instant::now();
        f(self);
        scheduler::add_send_time(&self.task.shared, start.elapsed());
    }

    fn send_message(&mut self, to: Pid, message: Message) {
        scheduler::consume(costs::SEND + message.copied_words() as u64 / costs::WORDS_PER_REDUCTION);
        let envelope = Envelope::Message(message);
        match &self.last_to {
            Some(task) if task.pid == to && !task.is_done() => task.post(envelope),
            _ => {
                self.last_to = self.task.shared.table.get(to);
                if let Some(task) = &self.last_to {
                    task.post(envelope);
                }
            }
        }
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
        if self.exiting() {
            return;
        }
        let (fragment, _) = self.enter(|h| {
            let t = build(h);
            h.to_fragment(t)
        });
        scheduler::add_timer(&self.task.shared, Instant::now() + delay, TimerAction::Send(to, fragment));
    }

    /// Waits for the first message (oldest first) that `matcher` accepts; messages it
    /// rejects (returns `None` for) stay in the mailbox in order. Messages already examined
    /// are not examined again by this receive when new ones arrive (the save pointer).
    pub fn receive<R, M>(&mut self, matcher: M) -> impl Future<Output = R> + use<'_, R, M>
    where
        M: for<'h> FnMut(Mu<'h>, Term<'h>) -> Option<R>,
    {
        Receive { cx: self, matcher, scanned: 0 }
    }

    /// As [`Cx::receive`], giving up with `None` after `timeout` (`receive ... after`).
    pub async fn receive_timeout<R>(
        &mut self,
        timeout: Duration,
        mut matcher: impl for<'h> FnMut(Mu<'h>, Term<'h>) -> Option<R>,
    ) -> Option<R> {
        let deadline = Instant::now() + timeout;
        let mut scanned = 0;
        let mut timer: Option<Arc<AtomicBool>> = None;
        let result = poll_fn(|cx| {
            match self.poll_match(cx, &mut scanned, &mut matcher) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(r)) => return Poll::Ready(Some(r)),
                Poll::Ready(None) => {}
            }
            if Instant::now() >= deadline {
                return Poll::Ready(None);
            }
            if timer.is_none() {
                let cancelled = Arc::new(AtomicBool::new(false));
                let action = TimerAction::Wake(Arc::downgrade(&self.task), Arc::clone(&cancelled));
                scheduler::add_timer(&self.task.shared, deadline, action);
                timer = Some(cancelled);
            }
            Poll::Pending
        })
        .await;
        if let Some(cancelled) = timer {
            cancelled.store(true, Ordering::Release);
        }
        result
    }

    /// One poll of a receive: a safepoint (`Pending` if the process stops there), then the
    /// messages after the first `scanned`, oldest first: `Ready(Some)` with what `matcher`
    /// made of the first it accepts (taken out of the mailbox), `Ready(None)` if it accepted
    /// none (all of them now counted in `scanned`).
    #[inline(always)]
    fn poll_match<R>(
        &mut self,
        cx: &mut Context<'_>,
        scanned: &mut usize,
        matcher: &mut impl for<'h> FnMut(Mu<'h>, Term<'h>) -> Option<R>,
    ) -> Poll<Option<R>> {
        if self.safepoint(cx).is_pending() {
            return Poll::Pending;
        }
        let count = self.mailbox_len();
        while *scanned < count {
            scheduler::consume(costs::RECEIVE_PER_MESSAGE);
            let i = *scanned;
            // The matcher's result goes straight into `hit`, as every copy of it costs on
            // the hop between processes.
            let mut hit = None;
            self.heap().enter_dyn(&mut |h| {
                let message = h.message(i).expect("index below message count");
                hit = matcher(h, message);
                if hit.is_some() {
                    h.take_message(i);
                }
            });
            if hit.is_some() {
                return Poll::Ready(hit);
            }
            *scanned += 1;
        }
        Poll::Ready(None)
    }

    /// Protocol step 3: moves newly arrived messages into the heap's message queue and acts
    /// on signals, in arrival order.
    fn deliver_inbox(&mut self) {
        if self.task.inbox.is_empty() {
            return;
        }
        for envelope in self.task.inbox.take() {
            self.handle(envelope);
        }
    }

    fn handle(&mut self, envelope: Envelope) {
        match envelope {
            Envelope::Message(message) => {
                self.heap().deliver(message);
                if !self.unaliased.is_empty() {
                    self.drop_newest_if_unaliased();
                }
            }
            Envelope::Link { from } => self.task.with_control(|c| {
                if !c.links.contains(&from) {
                    c.links.push(from);
                }
            }),
            Envelope::Unlink { from } => self.task.with_control(|c| c.links.retain(|&p| p != from)),
            Envelope::Monitor { from, reference } => {
                self.task.with_control(|c| c.monitored_by.push((reference, from)))
            }
            Envelope::Demonitor { from, reference } => {
                self.task.with_control(|c| c.monitored_by.retain(|&(r, p)| !(r == reference && p == from)))
            }
            Envelope::Down { from, reference, reason } => {
                let active = self.task.with_control(|c| {
                    remove_pair(&mut c.monitors, reference, from)
                        .then(|| take_name(&mut c.monitor_names, reference))
                });
                if let Some(name) = active {
                    self.heap().deliver(down_message(reference, from, name, &reason).into());
                }
            }
            Envelope::Exit { from, reason, linked } => self.handle_exit_signal(from, reason, linked),
            // No term is alive here (`&mut self`), so a collection is safe at any delivery.
            Envelope::GarbageCollect => self.collect(Collect::Major),
        }
    }

    /// Drops the message just delivered if it is `{Tag, _}` with a tag given up by
    /// [`Cx::unalias`], and forgets the tag (the one message it was waiting for has come).
    fn drop_newest_if_unaliased(&mut self) {
        let mut unaliased = std::mem::take(&mut self.unaliased);
        self.heap().enter(|h| {
            let mut drop_last = || -> Option<()> {
                let last = h.message_count().checked_sub(1)?;
                let tag = h.message(last).and_then(tag_of)?;
                let i = unaliased.iter().position(|&t| t == tag)?;
                unaliased.remove(i);
                h.take_message(last).map(|_| ())
            };
            drop_last();
        });
        self.unaliased = unaliased;
    }

    /// What an exit signal does (erlang:exit/2, links): `kill` from `exit/2` kills
    /// untrappably (reason `killed`); a trapping process gets `{'EXIT', From, Reason}`;
    /// `normal` is ignored unless the process sent it to itself; any other reason ends the
    /// process with that reason. A link signal from a former partner is ignored.
    fn handle_exit_signal(&mut self, from: Pid, reason: ExitReason, linked: bool) {
        if linked {
            let was_linked = self.task.with_control(|c| {
                let before = c.links.len();
                c.links.retain(|&p| p != from);
                c.links.len() != before
            });
            if !was_linked {
                return;
            }
        }
        if !linked && reason == ExitReason::Kill {
            self.request_exit(ExitReason::Killed);
        } else if self.task.trap_exit.load(Ordering::Acquire) {
            self.heap().deliver(exit_message(from, &reason).into());
        } else if reason.is_normal() {
            if from == self.task.pid && !linked {
                self.request_exit(ExitReason::Normal);
            }
        } else {
            self.request_exit(reason);
        }
    }

    /// Asks the scheduler to end this process after the current poll (the first request
    /// wins).
    fn request_exit(&mut self, reason: ExitReason) {
        self.task.request_exit(reason);
        // End the slice: no further work is done in it.
        scheduler::consume(u64::MAX);
    }

    /// Protocol steps 1-3 at an await point. `Pending` means: stop here (a yield, with a
    /// wake-up already arranged, or an exit the scheduler will carry out).
    #[inline]
    fn safepoint(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.exiting() {
            return Poll::Pending;
        }
        // A spent slice, or a stop-the-world collection waiting for this scheduler: yield.
        if scheduler::budget_spent() || self.task.shared.stop_requested() {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.deliver_inbox();
        if self.made_heap().is_some_and(|h| h.needs_gc()) {
            self.collect(Collect::Auto);
        }
        if self.exiting() {
            return Poll::Pending;
        }
        Poll::Ready(())
    }

    fn collect(&mut self, request: Collect) {
        match self.heap().as_dyn().collect(request, scheduler::current_scheduler()) {
            Ok(reductions) => {
                scheduler::consume(reductions);
            }
            Err(HeapError::MaxHeapSize { limit, size }) => {
                self.request_exit(ExitReason::MaxHeapSize { limit, size });
            }
        }
    }

    /// Whether an exit was decided for this process (it ends at its next await).
    fn exiting(&self) -> bool {
        self.task.exiting.load(Ordering::Acquire)
    }

    /// Exiting Protocol step 2: an exiting process spawns nothing.
    fn refuse_spawn_if_exiting(&self) -> Result<(), SpawnError> {
        if self.exiting() {
            Err(SpawnError::Exiting)
        } else {
            Ok(())
        }
    }

    /// Yields to other processes: the process goes to the back of its run queue.
    pub async fn yield_now(&mut self) {
        let mut yielded = false;
        // `move` so the future holds `&mut Cx` (Send), not `&&mut Cx` (which needs Sync).
        let this = self;
        poll_fn(move |cx| {
            if yielded {
                // Back from the queue: a safepoint without the budget check (a new slice).
                this.deliver_inbox();
                return if this.exiting() { Poll::Pending } else { Poll::Ready(()) };
            }
            yielded = true;
            this.deliver_inbox();
            if this.made_heap().is_some_and(|h| h.needs_gc()) {
                this.collect(Collect::Auto);
            }
            if !this.exiting() {
                cx.waker().wake_by_ref();
            }
            Poll::Pending
        })
        .await
    }

    /// Charges `n` reductions of pure computation, then passes a safepoint: yields if the
    /// slice is spent or a stop-the-world collection waits, and collects this process's heap
    /// if it is full. Long loops call this so the scheduler can be fair and the heap
    /// collected (a busy loop cannot be preempted otherwise).
    pub async fn tick(&mut self, n: u64) {
        scheduler::consume(n);
        // `move` so the future holds `&mut Cx` (Send), not `&&mut Cx` (which needs Sync).
        let this = self;
        poll_fn(move |cx| this.safepoint(cx)).await;
    }

    /// Sleeps for `d` (`timer:sleep/1`); other processes run meanwhile.
    pub async fn sleep(&mut self, d: Duration) {
        let deadline = Instant::now() + d;
        let mut timer: Option<Arc<AtomicBool>> = None;
        // `move` so the future holds `&mut Cx` (Send), not `&&mut Cx` (which needs Sync).
        let this = self;
        poll_fn(move |cx| {
            if this.safepoint(cx).is_pending() {
                return Poll::Pending;
            }
            if Instant::now() >= deadline {
                return Poll::Ready(());
            }
            if timer.is_none() {
                let cancelled = Arc::new(AtomicBool::new(false));
                scheduler::add_timer(
                    &this.task.shared,
                    deadline,
                    TimerAction::Wake(Arc::downgrade(&this.task), Arc::clone(&cancelled)),
                );
                timer = Some(cancelled);
            }
            Poll::Pending
        })
        .await
    }

    /// A major collection of this process's heap now (`erlang:garbage_collect/0`).
    pub async fn garbage_collect(&mut self) {
        self.collect_now(Collect::Major).await;
    }

    /// A collection of the kind requested, done when this returns.
    pub async fn collect_now(&mut self, request: Collect) {
        self.collect(request);
        self.yield_if_spent().await;
        // A shared heap collects at the next safepoint of every scheduler, and another
        // scheduler may resume this process before its own scheduler gets there: wait, so
        // the call returns after the collection, as it does on a private heap.
        while self.made_heap().is_some_and(|h| h.as_dyn_ref().collection_pending()) {
            self.yield_now().await;
        }
    }

    async fn yield_if_spent(&mut self) {
        if scheduler::budget_spent() || self.exiting() || self.task.shared.stop_requested() {
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
        self.refuse_spawn_if_exiting()?;
        scheduler::consume(costs::SPAWN);
        self.task.shared.spawn(opts, body, Relation::Child(Arc::clone(&self.task)))
    }

    /// Sets `trap_exit` (`process_flag(trap_exit, On)`); returns the old value.
    pub fn trap_exit(&mut self, on: bool) -> bool {
        self.task.trap_exit.swap(on, Ordering::AcqRel)
    }

    /// Links this process to `pid` (`link/1`). If `pid` does not exist: a trapping process
    /// gets `{'EXIT', Pid, noproc}`, others get `Err(NoProc)` (the BEAM raises `noproc`).
    pub fn link(&mut self, pid: Pid) -> Result<(), NoProc> {
        if pid == self.task.pid || self.exiting() {
            return Ok(());
        }
        let Some(target) = self.task.shared.table.get(pid).filter(|t| !t.is_done()) else {
            if self.task.trap_exit.load(Ordering::Acquire) {
                self.heap().deliver(exit_message(pid, &ExitReason::noproc()).into());
                return Ok(());
            }
            return Err(NoProc(pid));
        };
        self.task.with_control(|c| {
            if !c.links.contains(&pid) {
                c.links.push(pid);
            }
        });
        target.post(Envelope::Link { from: self.task.pid });
        Ok(())
    }

    /// Removes the link to `pid` (`unlink/1`); no exit signal due to it arrives afterwards.
    /// An exiting process keeps its links: its partners get its exit signal.
    pub fn unlink(&mut self, pid: Pid) {
        if self.exiting() {
            return;
        }
        let was = self.task.with_control(|c| {
            let before = c.links.len();
            c.links.retain(|&p| p != pid);
            c.links.len() != before
        });
        if was {
            self.task.shared.post(pid, Envelope::Unlink { from: self.task.pid });
        }
    }

    /// This process's link partners.
    pub fn links(&self) -> Vec<Pid> {
        self.task.with_control(|c| c.links.clone())
    }

    /// Monitors `pid` (`monitor(process, Pid)`): when it ends (or at once, if it does not
    /// exist) a `{'DOWN', Ref, process, Pid, Reason}` message arrives.
    pub fn monitor(&mut self, pid: Pid) -> Ref {
        let reference = Ref::new();
        if self.exiting() {
            return reference;
        }
        self.task.with_control(|c| c.monitors.push((reference, pid)));
        self.task.shared.post(pid, Envelope::Monitor { from: self.task.pid, reference });
        reference
    }

    /// Monitors the process registered as `name` (`monitor(process, Name)`): the process
    /// that holds the name now is monitored, and its `'DOWN'` names it as
    /// `{Name, Node}` (Node is [`NODE`](crate::NODE)). If nobody holds the name, the
    /// `'DOWN'` with reason `noproc` is in the mailbox when this returns, after the messages
    /// that arrived before.
    ///
    /// ```
    /// use heaplab_runtime::heaplab_gc::Atom;
    /// use heaplab_runtime::Runtime;
    ///
    /// let rt = Runtime::builder().schedulers(1).build().unwrap();
    /// let down = rt
    ///     .block_on(|mut cx| async move {
    ///         cx.monitor_named(Atom::new("nobody"));
    ///         cx.receive(|_, m| Some(m.to_string())).await
    ///     })
    ///     .unwrap();
    /// assert!(down.ends_with(",process,{nobody,nonode@nohost},noproc}"), "{down}");
    /// ```
    pub fn monitor_named(&mut self, name: Atom) -> Ref {
        let reference = Ref::new();
        if self.exiting() {
            return reference;
        }
        match self.task.shared.registry.whereis(name) {
            Some(pid) => {
                self.task.with_control(|c| {
                    c.monitors.push((reference, pid));
                    c.monitor_names.push((reference, name));
                });
                self.task.shared.post(pid, Envelope::Monitor { from: self.task.pid, reference });
            }
            None => {
                self.deliver_inbox();
                let down = down_message(reference, crate::EXTERNAL_PID, Some(name), &ExitReason::noproc());
                self.heap().deliver(down.into());
            }
        }
        reference
    }

    /// Drops a monitor (`demonitor/1`); returns whether it was active. A `'DOWN'` message
    /// already in the mailbox stays; see [`Cx::demonitor_flush`].
    pub fn demonitor(&mut self, reference: Ref) -> bool {
        let target = self.task.with_control(|c| {
            let i = c.monitors.iter().position(|&(r, _)| r == reference)?;
            take_name(&mut c.monitor_names, reference);
            Some(c.monitors.swap_remove(i).1)
        });
        match target {
            Some(pid) => {
                self.task.shared.post(pid, Envelope::Demonitor { from: self.task.pid, reference });
                true
            }
            None => false,
        }
    }

    /// Drops a monitor and removes its `'DOWN'` message from the mailbox if it arrived
    /// (`demonitor(Ref, [flush])`); returns whether the monitor was active.
    pub fn demonitor_flush(&mut self, reference: Ref) -> bool {
        let active = self.demonitor(reference);
        self.deliver_inbox();
        self.enter(|h| {
            let found = (0..h.message_count()).find(|&i| {
                h.message(i).and_then(|m| m.as_tuple()).is_some_and(|t| {
                    t.len() == 5
                        && t[0].as_atom().is_some_and(|a| a.name() == "DOWN")
                        && t[1].as_ref() == Some(reference)
                })
            });
            if let Some(i) = found {
                h.take_message(i);
            }
        });
        active
    }

    /// Gives up on messages tagged `tag`, as `unalias/1` deactivates a request alias on the
    /// BEAM: a message `{Tag, _}` whose first element is `tag` is removed from the mailbox if
    /// it is there, and otherwise dropped when it arrives. A `gen_server` call that timed out
    /// uses it so that a late reply never reaches the caller. See [`UNALIASED_TAGS`].
    pub fn unalias(&mut self, tag: Ref) {
        self.deliver_inbox();
        let (found, _) = self.enter(|h| {
            let i = (0..h.message_count()).find(|&i| h.message(i).and_then(tag_of) == Some(tag))?;
            h.take_message(i).map(|_| ())
        });
        if found.is_none() && !self.unaliased.contains(&tag) {
            if self.unaliased.len() == UNALIASED_TAGS {
                self.unaliased.remove(0);
            }
            self.unaliased.push(tag);
        }
    }

    /// Sends an exit signal to `pid` (`exit/2`).
    ///
    /// A signal to this process itself is handled before this returns, as `erlang:exit/2`
    /// handles a signal to `self()`: messages and signals that arrived before it are
    /// delivered first, then the signal acts as any exit signal does (see
    /// [`Cx::trap_exit`]). If it ends the process, it does so at once (exiting Protocol):
    /// `exit_process(self, normal)` ends a process that does not trap exits with `normal`,
    /// and nothing it sends afterwards leaves. A process that traps exits gets
    /// `{'EXIT', Self, Reason}` instead, after its earlier messages, unless the reason is
    /// `kill`.
    ///
    /// ```
    /// use heaplab_runtime::{ExitReason, Runtime};
    ///
    /// let rt = Runtime::builder().schedulers(1).build().unwrap();
    /// let received = rt
    ///     .block_on(|mut cx| async move {
    ///         let me = cx.self_pid();
    ///         let (_, monitor) = cx
    ///             .spawn_monitor(move |mut cx| async move {
    ///                 let own = cx.self_pid();
    ///                 cx.exit_process(own, ExitReason::Normal);
    ///                 cx.send(me, |h| h.atom_named("after_exit")); // never leaves
    ///                 cx.yield_now().await; // never returns
    ///             })
    ///             .unwrap();
    ///         cx.receive(|_, m| Some(m.to_string())).await
    ///     })
    ///     .unwrap();
    /// assert!(received.starts_with("{'DOWN',"), "{received}");
    /// assert!(received.ends_with(",normal}"), "{received}");
    /// ```
    pub fn exit_process(&mut self, pid: Pid, reason: ExitReason) {
        if self.exiting() {
            return;
        }
        if pid == self.task.pid {
            // Earlier signals first, so a trapped 'EXIT' comes after earlier messages.
            self.deliver_inbox();
            if !self.exiting() {
                self.handle_exit_signal(pid, reason, false);
            }
            return;
        }
        self.task.shared.post(pid, Envelope::Exit { from: self.task.pid, reason, linked: false });
    }

    /// Ends this process with `reason` (`exit/1`); never returns, and nothing after it runs.
    pub async fn exit<T>(&mut self, reason: ExitReason) -> T {
        self.request_exit(reason);
        poll_fn(|_| Poll::Pending).await
    }

    /// Spawns a process linked to this one before it runs (`spawn_link`).
    pub fn spawn_link<F, Fut>(&mut self, body: F) -> Result<Pid, SpawnError>
    where
        F: FnOnce(Cx) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.refuse_spawn_if_exiting()?;
        scheduler::consume(costs::SPAWN);
        let relation = Relation::Link(Arc::clone(&self.task));
        self.task.shared.spawn_related(SpawnOptions::default(), body, None, relation)
    }

    /// Spawns a process monitored by this one (`spawn_monitor`).
    pub fn spawn_monitor<F, Fut>(&mut self, body: F) -> Result<(Pid, Ref), SpawnError>
    where
        F: FnOnce(Cx) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.refuse_spawn_if_exiting()?;
        scheduler::consume(costs::SPAWN);
        let reference = Ref::new();
        let relation = Relation::Monitor(Arc::clone(&self.task), reference);
        let pid = self.task.shared.spawn_related(SpawnOptions::default(), body, None, relation)?;
        Ok((pid, reference))
    }

    /// Registers this process under `name` (`register(Name, self())`).
    pub fn register(&mut self, name: Atom) -> Result<(), RegisterError> {
        self.task.shared.register(name, &self.task)
    }

    /// Registers the live process `pid` under `name` (`register(Name, Pid)`). Fails as the
    /// BEAM's `badarg` does: [`RegisterError::NoProc`] if `pid` is not alive (or is
    /// exiting), [`RegisterError::AlreadyNamed`] if it has a name,
    /// [`RegisterError::NameTaken`] if another process has `name`. The name is released when
    /// `pid` exits, or when `pid` calls [`Cx::unregister`].
    pub fn register_pid(&mut self, name: Atom, pid: Pid) -> Result<(), RegisterError> {
        match self.task.shared.table.get(pid) {
            Some(task) => self.task.shared.register(name, &task),
            None => Err(RegisterError::NoProc(pid)),
        }
    }

    /// Removes this process's name; returns whether it had one.
    pub fn unregister(&mut self) -> bool {
        let name = self.task.control_lock().as_mut().and_then(|c| c.name.take());
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
        self.heap().as_dyn().set_max_heap_size(words)
    }

    /// Sets `fullsweep_after` (`process_flag(fullsweep_after, N)`).
    pub fn set_fullsweep_after(&mut self, n: u32) {
        self.heap().as_dyn().set_fullsweep_after(n);
    }

    /// This process's heap sizes and counters.
    pub fn heap_stats(&self) -> HeapStats {
        match &self.heap {
            HeapSlot::Ready(heap) => heap.as_dyn_ref().stats(),
            // What the heap would report the moment it is made.
            HeapSlot::Pending(options) => make_heap(&self.task, options.as_deref()).as_dyn_ref().stats(),
        }
    }

    /// Messages delivered to the heap and not yet received (new arrivals are counted after
    /// the next receive or [`Cx::deliver_now`]).
    pub fn mailbox_len(&self) -> usize {
        self.made_heap().map_or(0, |h| h.message_count())
    }

    /// Moves arrived messages into the heap now (they are otherwise moved at receive).
    pub fn deliver_now(&mut self) {
        self.deliver_inbox();
    }

    /// The scheduler running this process now.
    pub fn scheduler_id(&self) -> Option<u32> {
        scheduler::current_scheduler()
    }

    /// When this process was last made runnable and when its current slice began, with
    /// [`Config::attribution`](crate::Config::attribution) on (`None` otherwise); read
    /// right after a receive returns, they tell how the message that ended the wait was
    /// waited for (see [`crate::moments`]).
    pub fn moments(&self) -> Option<crate::moments::Moments> {
        self.task.moments.as_deref().map(crate::moments::Stamps::read)
    }

    /// Now, in nanoseconds since the runtime's epoch: the clock of [`Cx::moments`].
    pub fn clock_ns(&self) -> u64 {
        crate::moments::since(self.task.shared.epoch, Instant::now())
    }

    /// The runtime's epoch ([`Runtime::epoch`](crate::Runtime::epoch)).
    pub fn epoch(&self) -> Instant {
        self.task.shared.epoch
    }

    /// The off-CPU intervals of the scheduler threads found so far
    /// ([`Runtime::off_cpu`](crate::Runtime::off_cpu)).
    pub fn off_cpu(&self) -> Vec<crate::moments::OffCpu> {
        self.task.shared.off_cpu()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every idle process holds a context: its heap slot (a heap, or the options of one not
    /// made yet) is two words, whichever strategy the heap is of.
    #[test]
    fn the_heap_slot_is_two_words() {
        assert_eq!(std::mem::size_of::<HeapSlot>(), 2 * std::mem::size_of::<usize>());
    }

    /// The address of the process cell of `cx`.
    fn cell_address(cx: &Cx) -> i64 {
        Arc::as_ptr(&cx.task) as i64
    }

    /// The cell of a process that ended with nothing else referring to it serves the next
    /// spawn on its scheduler (scheduler.rs, `keep_spare_task`). The new process starts as
    /// one in a new cell does: none of the old one's flags, priority, links, name or mail,
    /// and a message to the old pid does not reach it.
    #[test]
    fn a_reused_process_cell_starts_afresh() {
        let rt = crate::Runtime::builder().schedulers(1).build().expect("valid configuration");
        let report = rt
            .block_on(|mut cx| async move {
                let me = cx.self_pid();
                let name = Atom::new("context_reused_cell");
                let (old, _) = cx
                    .spawn_monitor(move |mut cx| async move {
                        cx.trap_exit(true);
                        cx.set_priority(Priority::High);
                        cx.register(name).expect("a free name");
                        cx.link(me).expect("the parent is alive");
                        let address = cell_address(&cx);
                        cx.send(me, |h| h.int(address));
                    })
                    .expect("spawn");
                let old_address = cx.receive(|_, m| m.as_int()).await;
                // The 'DOWN': the old process has ended, and its cell was kept.
                cx.receive(|_, m| m.as_tuple().map(|_| ())).await;
                // Had the cell gone back to the allocator, this would take its memory (the
                // allocator hands a freed block of a size out first), and the new process
                // would get a cell elsewhere.
                let decoy: Vec<u8> =
                    Vec::with_capacity(std::mem::size_of::<Task>() + 2 * std::mem::size_of::<usize>());
                let new = cx
                    .spawn(move |mut cx| async move {
                        let first = cx.receive(|_, m| m.as_int()).await;
                        let report = [
                            cell_address(&cx),
                            first,
                            i64::from(cx.trap_exit(false)),
                            i64::from(cx.set_priority(Priority::Normal) == Priority::Normal),
                            cx.links().len() as i64,
                            i64::from(cx.whereis(name).is_some()),
                            cx.mailbox_len() as i64,
                        ];
                        cx.send(me, |h| h.tuple(&report.map(|n| h.int(n))));
                    })
                    .expect("spawn");
                assert_ne!(new, old, "a pid is not reused");
                cx.send(old, |h| h.int(-1));
                cx.send(new, |h| h.int(0));
                let report = cx
                    .receive(|_, m| m.as_tuple()?.iter().map(|t| t.as_int()).collect::<Option<Vec<i64>>>())
                    .await;
                drop(decoy);
                (old_address, report)
            })
            .expect("the root process returns");
        let (old_address, report) = report;
        // Cell, first message, trap_exit, normal priority, links, name, mail left.
        assert_eq!(report, vec![old_address, 0, 0, 1, 0, 0, 0]);
    }
}
