//! The runtime: shared state, spawning, message delivery, process exit and shutdown.
//!
//! # Invariants
//! 1. A process is in the table from spawn until `finish`, which marks it done, removes it,
//!    unregisters its name, drops its body (and with it its heap), sends exit signals to its
//!    links and `'DOWN'` messages to its monitors, answers its dead letters, and runs its
//!    exit hooks, in that order.
//! 2. After `Runtime::shutdown` returns, no scheduler thread runs, every process has been
//!    finished with reason `shutdown`, and no process cell or heap is left.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_deque::{Injector, Stealer};
use heaplab_gc::{Atom, Fragment, HeapOptions, OwnedTerm, Pid, Ref};

use crate::config::{Builder, Config, ConfigError};
use crate::context::Cx;
use crate::exit::ExitReason;
use crate::priority::Priority;
use crate::registry::{RegisterError, Registry};
use crate::scheduler::{self, SchedulerCounters, Sleepers};
use crate::stats::{RuntimeStats, SchedulerStats, ShardedCounter};
use crate::strategy::{self, HeapStrategy, Message};
use crate::table::{ProcessTable, SpawnError};
use crate::task::{Body, Envelope, Task};
use crate::timer::TimerSlot;
use crate::trim::Trimmer;

/// Options of one spawn.
#[derive(Clone, Debug, Default)]
pub struct SpawnOptions {
    /// The new process's priority.
    pub priority: Priority,
    /// Heap options for this process instead of the runtime's.
    pub heap: Option<HeapOptions>,
}

/// How a new process is tied to the process that spawns it.
pub(crate) enum Relation {
    /// Spawned from outside the runtime.
    None,
    /// Spawned by this process, with no link or monitor.
    Child(Arc<Task>),
    /// `spawn_link`: linked both ways before the child runs.
    Link(Arc<Task>),
    /// `spawn_monitor`: the parent monitors the child under this reference.
    Monitor(Arc<Task>, Ref),
}

/// The pid that signals and messages sent from outside the runtime carry as sender: a table
/// index no process gets.
pub const EXTERNAL_PID: Pid = Pid::new(crate::table::MAX_TABLE_PROCESSES as u64);

/// A callback run once when a process exits, with its reason.
pub(crate) type ExitHook = Box<dyn FnOnce(Pid, &ExitReason) + Send>;

pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) table: ProcessTable,
    pub(crate) injectors: [Injector<Arc<Task>>; 4],
    /// Processes queued per priority, anywhere: lets a scheduler skip empty levels without
    /// probing every queue. Normal is not counted (scheduler.rs `counted`).
    pub(crate) runnable: [AtomicUsize; 4],
    pub(crate) stealers: Vec<[Stealer<Arc<Task>>; 4]>,
    pub(crate) sleepers: Sleepers,
    pub(crate) timers: Vec<TimerSlot>,
    pub(crate) counters: Vec<SchedulerCounters>,
    pub(crate) registry: Registry,
    /// The heap strategy (config `heap_kind`).
    pub(crate) strategy: Box<dyn HeapStrategy>,
    /// `strategy.may_stop()`, read once.
    strategy_may_stop: bool,
    shutting_down: AtomicBool,
    /// Processes spawned and exited since start, counted per scheduler (stats.rs).
    spawned: ShardedCounter,
    exited: ShardedCounter,
    /// Memory back to the OS after a burst of exits (trim.rs).
    pub(crate) trimmer: Trimmer,
    /// The origin of attribution times (moments.rs Invariant 1).
    pub(crate) epoch: Instant,
    /// Off-CPU intervals of the scheduler threads found so far (attribution only).
    pub(crate) off_cpu: Mutex<Vec<crate::moments::OffCpu>>,
}

impl Shared {
    /// Whether the heap strategy asks every scheduler to stop at its next safepoint.
    #[inline]
    pub(crate) fn stop_requested(&self) -> bool {
        self.strategy_may_stop && self.strategy.stop_requested()
    }

    /// Counters of the runtime and each scheduler.
    pub(crate) fn stats(&self) -> RuntimeStats {
        let (trims, trim_ns) = self.trimmer.counts();
        RuntimeStats {
            trims,
            trim_ns,
            processes: self.table.count(),
            process_limit: self.table.limit(),
            spawned: self.spawned.sum(),
            exited: self.exited.sum(),
            registered: self.registry.len(),
            schedulers: self.counters.iter().map(SchedulerStats::from_counters).collect(),
            process_table_chunks: self.table.chunks_made(),
        }
    }

    /// The off-CPU intervals of the scheduler threads found so far (moments.rs).
    pub(crate) fn off_cpu(&self) -> Vec<crate::moments::OffCpu> {
        self.off_cpu.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Processes that exited since start.
    pub(crate) fn exited_count(&self) -> u64 {
        self.exited.sum()
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// Creates a process running `body` and makes it runnable.
    pub(crate) fn spawn<F, Fut>(
        self: &Arc<Self>,
        opts: SpawnOptions,
        body: F,
        relation: Relation,
    ) -> Result<Pid, SpawnError>
    where
        F: FnOnce(Cx) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.spawn_related(opts, body, None, relation)
    }

    pub(crate) fn spawn_related<F, Fut>(
        self: &Arc<Self>,
        opts: SpawnOptions,
        body: F,
        hook: Option<ExitHook>,
        relation: Relation,
    ) -> Result<Pid, SpawnError>
    where
        F: FnOnce(Cx) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        if self.is_shutting_down() {
            return Err(SpawnError::ShuttingDown);
        }
        // Checked before the pid is taken, so a refusal leaves no trace. The runtime's own
        // options were checked when it started (config Invariant 1).
        if let Some(options) = &opts.heap {
            self.strategy.validate(options).map_err(SpawnError::InvalidHeapOptions)?;
        }
        let task = self.table.insert_with(|pid| match crate::scheduler::take_spare_task(self) {
            Some(mut task) => {
                Arc::get_mut(&mut task).expect("a spare cell is unshared").reuse(pid, opts.priority);
                task
            }
            None => Arc::new(Task::new(pid, opts.priority, Arc::clone(self))),
        })?;
        if let Some(hook) = hook {
            task.with_control(|c| c.exit_hooks.push(hook));
        }
        let parent = match relation {
            Relation::None => None,
            Relation::Child(parent) => Some(parent),
            Relation::Link(parent) => {
                task.with_control(|c| c.links.push(parent.pid));
                parent.with_control(|c| c.links.push(task.pid));
                Some(parent)
            }
            Relation::Monitor(parent, reference) => {
                task.with_control(|c| c.monitored_by.push((reference, parent.pid)));
                parent.with_control(|c| c.monitors.push((reference, task.pid)));
                Some(parent)
            }
        };
        // Options were checked above (and the runtime's when it started, config Invariant 1);
        // the heap is made on the process's first use of it.
        let cx = Cx::new(Arc::clone(&task), opts.heap, parent);
        *task.body.lock().unwrap_or_else(|e| e.into_inner()) = Some(Body::new(&task, body(cx)));
        self.spawned.increment();
        let pid = task.pid;
        task.schedule_owned();
        Ok(pid)
    }

    /// Names the process `task` (registry Invariant 1). Taken under the process's name lock,
    /// which `finish` takes after marking the process done: either this sees it done and
    /// refuses, or `finish` sees the name and removes it.
    pub(crate) fn register(&self, name: Atom, task: &Task) -> Result<(), RegisterError> {
        let mut control = task.control_lock();
        if task.is_done() || task.exiting.load(Ordering::Acquire) {
            return Err(RegisterError::NoProc(task.pid));
        }
        let control = control.get_or_insert_with(Box::default);
        if let Some(existing) = control.name {
            return Err(RegisterError::AlreadyNamed(existing));
        }
        self.registry.register(name, task.pid)?;
        control.name = Some(name);
        Ok(())
    }

    /// Delivers a message; a message to a process that does not exist is dropped, as on the
    /// BEAM.
    pub(crate) fn send_message(&self, to: Pid, message: Message) {
        if let Some(task) = self.table.get(to) {
            task.post_owned(Envelope::Message(message));
        }
    }

    /// Invariant 1: ends a process.
    pub(crate) fn finish(&self, task: &Arc<Task>, reason: ExitReason) {
        task.mark_done();
        if self.table.remove(task.pid).is_some() {
            self.exited.increment();
        }
        let control = task.control_lock().take();
        if let Some(name) = control.as_ref().and_then(|c| c.name) {
            self.registry.unregister(name, task.pid);
        }
        let body = task.body.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(body);
        let mut hooks = Vec::new();
        if let Some(control) = control {
            hooks = control.exit_hooks;
            for partner in control.links {
                self.post(partner, Envelope::Exit { from: task.pid, reason: reason.clone(), linked: true });
            }
            for (reference, watcher) in control.monitored_by {
                self.post(watcher, Envelope::Down { from: task.pid, reference, reason: reason.clone() });
            }
            for (reference, target) in control.monitors {
                self.post(target, Envelope::Demonitor { from: task.pid, reference });
            }
        }
        self.drain_dead_letters(task);
        for hook in hooks {
            hook(task.pid, &reason);
        }
    }

    /// Delivers an envelope to `to` if it exists; answers it as a dead letter otherwise.
    pub(crate) fn post(&self, to: Pid, envelope: Envelope) {
        match self.table.get(to) {
            Some(task) => task.post_owned(envelope),
            None => self.answer_dead_letter(to, envelope),
        }
    }

    /// Everything left in an exited process's inbox is a dead letter.
    pub(crate) fn drain_dead_letters(&self, task: &Task) {
        for letter in task.inbox.take() {
            self.answer_dead_letter(task.pid, letter);
        }
    }

    /// A signal to a process that does not exist: a link answers with an exit signal
    /// `noproc`, a monitor with a `'DOWN'` message `noproc`; anything else is dropped.
    pub(crate) fn answer_dead_letter(&self, dead: Pid, letter: Envelope) {
        match letter {
            Envelope::Link { from } => {
                self.post(from, Envelope::Exit { from: dead, reason: ExitReason::noproc(), linked: true })
            }
            Envelope::Monitor { from, reference } => {
                self.post(from, Envelope::Down { from: dead, reference, reason: ExitReason::noproc() })
            }
            _ => {}
        }
    }
}

/// The node name a process monitored by registered name is reported on: a BEAM that is not
/// distributed is `nonode@nohost` (erlang:node/0), and heaplab is one node.
pub const NODE: &str = "nonode@nohost";

/// `{'DOWN', Ref, process, Object, Reason}`: `Object` is the pid, or `{Name, Node}` for a
/// monitor set by registered name (erlang:monitor/2).
pub(crate) fn down_message(reference: Ref, pid: Pid, name: Option<Atom>, reason: &ExitReason) -> Fragment {
    let reason = reason.to_term();
    Fragment::build(|h| {
        let reason = h.from_owned(&reason);
        let object = match name {
            Some(name) => h.tuple(&[h.atom(name), h.atom_named(NODE)]),
            None => h.pid(pid),
        };
        h.tuple(&[h.atom_named("DOWN"), h.reference(reference), h.atom_named("process"), object, reason])
    })
}

/// `{'EXIT', From, Reason}`.
pub(crate) fn exit_message(from: Pid, reason: &ExitReason) -> Fragment {
    let reason = reason.to_term();
    Fragment::build(|h| {
        let reason = h.from_owned(&reason);
        h.tuple(&[h.atom_named("EXIT"), h.pid(from), reason])
    })
}

/// A running heaplab runtime: scheduler threads and the processes they run.
///
/// ```
/// use heaplab_runtime::Runtime;
///
/// let rt = Runtime::builder().schedulers(2).build().unwrap();
/// let sum = rt
///     .block_on(|mut cx| async move {
///         let me = cx.self_pid();
///         let child = cx
///             .spawn(move |mut cx| async move {
///                 let n = cx.receive(|_, msg| msg.as_int()).await;
///                 cx.send(me, |h| h.int(n * 2));
///             })
///             .unwrap();
///         cx.send(child, |h| h.int(21));
///         cx.receive(|_, msg| msg.as_int()).await
///     })
///     .unwrap();
/// assert_eq!(sum, 42);
/// ```
pub struct Runtime {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl Runtime {
    /// The state the runtime shares with its processes, for the crate's own tests.
    #[cfg(test)]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// A builder with the defaults of [`Config`].
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A runtime with the default configuration.
    pub fn new() -> Result<Runtime, ConfigError> {
        Runtime::builder().build()
    }

    pub(crate) fn start(config: Config) -> Runtime {
        if !config.report_panics {
            scheduler::install_panic_hook();
        }
        let n = config.schedulers;
        let mut queues = Vec::with_capacity(n);
        let mut stealers = Vec::with_capacity(n);
        for _ in 0..n {
            let (q, s) = scheduler::new_queues();
            queues.push(q);
            stealers.push(s);
        }
        let origin = Instant::now();
        let strategy = strategy::build(&config.heap_kind, n, config.gc_sink.as_ref());
        let shared = Arc::new(Shared {
            table: ProcessTable::new(config.max_processes, n),
            injectors: scheduler::new_injectors(),
            runnable: Default::default(),
            stealers,
            sleepers: Sleepers::default(),
            timers: (0..n).map(|_| TimerSlot::new(origin)).collect(),
            counters: (0..n).map(|_| SchedulerCounters::default()).collect(),
            registry: Registry::default(),
            strategy_may_stop: strategy.may_stop(),
            strategy,
            shutting_down: AtomicBool::new(false),
            spawned: ShardedCounter::new(n),
            exited: ShardedCounter::new(n),
            trimmer: Trimmer::default(),
            epoch: origin,
            off_cpu: Mutex::new(Vec::new()),
            config,
        });
        let threads: Vec<JoinHandle<()>> = queues
            .into_iter()
            .enumerate()
            .map(|(i, q)| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("heaplab-scheduler-{i}"))
                    .spawn(move || scheduler::run(shared, i, q))
                    .expect("spawn scheduler thread")
            })
            .collect();
        shared.sleepers.set_threads(threads.iter().map(|t| t.thread().clone()).collect());
        Runtime { shared, threads }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Spawns a process running `body`, which receives the process context.
    pub fn spawn<F, Fut>(&self, body: F) -> Result<Pid, SpawnError>
    where
        F: FnOnce(Cx) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.shared.spawn(SpawnOptions::default(), body, Relation::None)
    }

    /// Spawns with options.
    pub fn spawn_opt<F, Fut>(&self, opts: SpawnOptions, body: F) -> Result<Pid, SpawnError>
    where
        F: FnOnce(Cx) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.shared.spawn(opts, body, Relation::None)
    }

    /// Runs `body` as a process and waits for its result; `Err` carries the exit reason if
    /// the process ended without producing one (a panic, a kill, `max_heap_size`).
    pub fn block_on<F, Fut, R>(&self, body: F) -> Result<R, ExitReason>
    where
        F: FnOnce(Cx) -> Fut,
        Fut: Future<Output = R> + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = mpsc::channel::<Result<R, ExitReason>>();
        let on_exit = tx.clone();
        let hook: ExitHook = Box::new(move |_, reason| {
            let _ = on_exit.send(Err(reason.clone()));
        });
        let spawned = self.shared.spawn_related(
            SpawnOptions::default(),
            move |cx| {
                let fut = body(cx);
                async move {
                    let r = fut.await;
                    let _ = tx.send(Ok(r));
                }
            },
            Some(hook),
            Relation::None,
        );
        if let Err(e) = spawned {
            return Err(ExitReason::Other(OwnedTerm::tuple(vec![
                OwnedTerm::atom("spawn_failed"),
                OwnedTerm::Binary(e.to_string().into_bytes()),
            ])));
        }
        // The body's result, if any, is sent before the exit hook's reason.
        rx.recv().unwrap_or(Err(ExitReason::Shutdown))
    }

    /// Sends a message from outside the runtime.
    pub fn send(&self, to: Pid, message: Fragment) {
        self.shared.send_message(to, message.into());
    }

    /// Sends an owned term from outside the runtime.
    pub fn send_owned(&self, to: Pid, message: &OwnedTerm) {
        self.send(to, Fragment::from_owned(message));
    }

    /// Sends an exit signal from outside the runtime (`exit(Pid, Reason)`; the sender is
    /// [`EXTERNAL_PID`]).
    pub fn exit(&self, pid: Pid, reason: ExitReason) {
        self.shared.post(pid, Envelope::Exit { from: EXTERNAL_PID, reason, linked: false });
    }

    /// Asks `pid` to run a major collection of its heap as soon as it runs
    /// (`erlang:garbage_collect(Pid)`); the process is woken for it. A heap grown by a burst
    /// of messages otherwise keeps its size until the process collects on its own, which an
    /// idle process does not. Does nothing if `pid` does not exist.
    pub fn garbage_collect(&self, pid: Pid) {
        self.shared.post(pid, Envelope::GarbageCollect);
    }

    /// Monitors `pid` from outside: `on_exit` runs once with the exit reason (`noproc` at
    /// once if `pid` does not exist).
    pub fn on_exit(&self, pid: Pid, on_exit: impl FnOnce(Pid, &ExitReason) + Send + 'static) {
        match self.shared.table.get(pid) {
            Some(task) => {
                // Under the control lock: the exit marks the process done before it takes
                // the block, so the hook is either found by the exit or refused here.
                let mut control = task.control_lock();
                if task.is_done() {
                    drop(control);
                    on_exit(pid, &ExitReason::noproc());
                } else {
                    control.get_or_insert_with(Box::default).exit_hooks.push(Box::new(on_exit));
                }
            }
            None => on_exit(pid, &ExitReason::noproc()),
        }
    }

    /// The pid registered under `name`.
    pub fn whereis(&self, name: &str) -> Option<Pid> {
        self.shared.registry.whereis(Atom::new(name))
    }

    /// Whether `pid` names a live process.
    pub fn is_alive(&self, pid: Pid) -> bool {
        self.shared.table.get(pid).is_some_and(|t| !t.is_done())
    }

    /// Processes alive now.
    pub fn process_count(&self) -> usize {
        self.shared.table.count()
    }

    /// Counters of the runtime and each scheduler.
    pub fn stats(&self) -> RuntimeStats {
        self.shared.stats()
    }

    /// The origin of the times of [`Cx::moments`] and [`Runtime::off_cpu`].
    pub fn epoch(&self) -> Instant {
        self.shared.epoch
    }

    /// The intervals in which a scheduler thread was runnable but off its CPU, found so far
    /// (empty without [`Config::attribution`](crate::Config::attribution), or where the
    /// kernel keeps no per-thread accounting); see [`crate::moments`].
    pub fn off_cpu(&self) -> Vec<crate::moments::OffCpu> {
        self.shared.off_cpu()
    }

    /// Stops the schedulers and ends every process with reason `shutdown` (Invariant 2).
    pub fn shutdown(mut self) -> RuntimeStats {
        self.stop();
        self.stats()
    }

    fn stop(&mut self) {
        if self.threads.is_empty() {
            return;
        }
        self.shared.shutting_down.store(true, Ordering::Release);
        self.shared.sleepers.unpark_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        for timers in &self.shared.timers {
            timers.clear();
        }
        for task in self.shared.table.snapshot() {
            self.shared.finish(&task, ExitReason::Shutdown);
        }
        // Last, as finishing a process signals its links and monitors, which queues those
        // still alive here; a queued process left behind would keep `Shared` alive through
        // its own reference to it (Invariant 2).
        for injector in &self.shared.injectors {
            while !injector.steal().is_empty() {}
        }
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("schedulers", &self.shared.config.schedulers)
            .field("processes", &self.shared.table.count())
            .finish()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop();
    }
}
