//! Helpers shared by the supervision tests (`sup_*`, `sig_conformance`): a runtime that keeps
//! crash reports quiet, an event log shared with the processes under test, a scripted worker,
//! and waits that poll a supervisor until it has done what a test expects.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use heaplab_runtime::gen_server::Server;
use heaplab_runtime::heaplab_gc::{Mu, OwnedTerm, Pid, Ref, Term};
use heaplab_runtime::supervisor::{self, ChildSpec};
use heaplab_runtime::{receive, Cx, ExitReason, Runtime};

/// Longest a test waits for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A two-scheduler runtime whose process panics are not printed (tests crash processes on
/// purpose).
pub fn runtime() -> Runtime {
    crate::common::builder().schedulers(2).report_panics(false).build().expect("valid configuration")
}

/// Events recorded by processes, in the order they happened.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, event: impl Into<String>) {
        self.0.lock().unwrap().push(event.into());
    }

    pub fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// The entries that start with `prefix`.
    pub fn with_prefix(&self, prefix: &str) -> Vec<String> {
        self.entries().into_iter().filter(|e| e.starts_with(prefix)).collect()
    }

    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

/// How a scripted worker reacts to its supervisor's shutdown signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnShutdown {
    /// Does not trap exits: the signal ends it.
    Die,
    /// Traps exits, logs `stop NAME`, then exits with the signal's reason.
    Clean,
    /// Traps exits and ignores the signal (only `kill` ends it).
    Ignore,
}

/// The body of a scripted worker: `crash` panics, `{exit, Reason}` exits with the reason,
/// `{ping, From}` answers `pong`, and the supervisor's exit signal (trapped unless
/// [`OnShutdown::Die`]) is handled as `on_shutdown` says.
pub async fn worker_body(mut cx: Cx, name: String, log: Log, on_shutdown: OnShutdown) {
    if on_shutdown != OnShutdown::Die {
        cx.trap_exit(true);
    }
    loop {
        receive!(cx, {
            crash => panic!("crash {name}"),
            {exit, reason: ExitReason} => return cx.exit(reason).await,
            {ping, from: Pid} => cx.send(from, |h| h.atom_named("pong")),
            {EXIT, _, reason: ExitReason} if on_shutdown == OnShutdown::Ignore => log.push(format!("ignore {name}")),
            {EXIT, _, reason: ExitReason} => {
                log.push(format!("stop {name}"));
                return cx.exit(reason).await;
            }
        });
    }
}

/// A permanent scripted worker with id `name`.
pub fn worker(name: &str, log: &Log) -> ChildSpec {
    worker_with(name, log, OnShutdown::Die)
}

/// Spawns a scripted worker linked to the caller, logging `start NAME` first: the log shows
/// the order in which a supervisor starts its children (a worker's body may run later).
pub fn spawn_worker(
    cx: &mut Cx,
    name: String,
    log: &Log,
    on_shutdown: OnShutdown,
) -> Result<Pid, heaplab_runtime::SpawnError> {
    log.push(format!("start {name}"));
    let log = log.clone();
    cx.spawn_link(move |cx| worker_body(cx, name, log, on_shutdown))
}

/// A permanent scripted worker with id `name` and the given shutdown behaviour.
pub fn worker_with(name: &str, log: &Log, on_shutdown: OnShutdown) -> ChildSpec {
    let (id, log) = (name.to_owned(), log.clone());
    ChildSpec::worker(name, move |cx| spawn_worker(cx, id.clone(), &log, on_shutdown))
}

/// A `simple_one_for_one` template of scripted workers, each logging `start ARGS`.
pub fn template(log: &Log) -> ChildSpec {
    let log = log.clone();
    ChildSpec::worker_with_args("template", move |cx, args| {
        spawn_worker(cx, args.to_string(), &log, OnShutdown::Die)
    })
}

/// `{exit, Reason}` for a scripted worker.
pub fn exit_command<'h>(h: Mu<'h>, reason: &ExitReason) -> Term<'h> {
    let reason = h.from_owned(&reason.to_term());
    h.tuple(&[h.atom_named("exit"), reason])
}

/// The pid the child `id` runs as now.
pub async fn child_pid(cx: &mut Cx, sup: impl Into<Server>, id: &str) -> Option<Pid> {
    let children = supervisor::which_children(cx, sup).await.expect("supervisor answers");
    children.iter().find(|c| c.id.is_some_and(|a| a.name() == id))?.child.pid()
}

/// Waits until the child `id` runs as a process other than `old`; returns its pid.
pub async fn restarted(cx: &mut Cx, sup: Pid, id: &str, old: Pid) -> Pid {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(pid) = child_pid(cx, sup, id).await.filter(|&p| p != old) {
            return pid;
        }
        assert!(Instant::now() < deadline, "child {id} was not restarted");
        cx.sleep(Duration::from_millis(1)).await;
    }
}

/// The reason in the `'DOWN'` of `monitor`, waiting at most [`PATIENCE`].
pub async fn down(cx: &mut Cx, monitor: Ref) -> ExitReason {
    receive!(cx, {
        {DOWN, ^monitor, process, _, reason: ExitReason} => reason,
    } after PATIENCE => panic!("no 'DOWN' in time"))
}

/// Monitors `pid` and returns the reason it exits with.
pub async fn exit_reason_of(cx: &mut Cx, pid: Pid) -> ExitReason {
    let monitor = cx.monitor(pid);
    down(cx, monitor).await
}

/// The next `{'EXIT', From, Reason}` from `from`, waiting at most [`PATIENCE`].
pub async fn exit_message_from(cx: &mut Cx, from: Pid) -> ExitReason {
    receive!(cx, { {EXIT, ^from, reason: ExitReason} => reason } after PATIENCE => panic!("no 'EXIT' in time"))
}

/// Every message in the mailbox now, oldest first, as owned terms (taken out).
pub async fn drain(cx: &mut Cx) -> Vec<OwnedTerm> {
    let mut all = Vec::new();
    while let Some(m) = cx.receive_timeout(Duration::ZERO, |_, m| Some(m.to_owned_term())).await {
        all.push(m);
    }
    all
}
