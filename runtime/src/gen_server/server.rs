//! The server side: starting a [`GenServer`] and its receive loop.
//!
//! # Protocol (start, as OTP's `proc_lib:start_link` and `gen:init_it`)
//! 1. The starter spawns the server (linked for `start_link`) with a fresh tag, then
//!    monitors it, so a server that dies before acknowledging cannot leave it waiting.
//! 2. The server registers its name, if it has one; a taken name is acknowledged as
//!    `{error, {already_started, Holder}}` and the server exits `normal`.
//! 3. The server runs `init` and acknowledges: `{ok, Pid}` and serves; `ignore` and exits
//!    `normal`; `{error, Reason}` and exits with `Reason`. A panic in `init` is acknowledged
//!    as `{error, {panic, Message}}` and the server exits with that reason.
//! 4. The starter takes the acknowledgement (or the `'DOWN'` of a server that died without
//!    one). On anything but `ok` it waits for the server's `'DOWN'` and, if it traps exits,
//!    removes the server's `{'EXIT', Pid, _}` message, so a failed start leaves no message
//!    behind (as OTP 26's `proc_lib` does).
//! 5. With a start timeout ([`StartOptions::timeout`]), a server that has not acknowledged
//!    in time is unlinked and killed, the starter waits for its `'DOWN'` and drops any
//!    acknowledgement or `'EXIT'` it sent, and the start fails with `timeout`
//!    (`gen_server:start_link/4`: "it is terminated and the start function returns
//!    `{error,timeout}`").
//!
//! # Protocol (serving)
//! 1. Take the oldest message, whatever it is (a server never receives selectively), and
//!    sort it: a call, a cast, a stop request, an exit signal from the parent, or anything
//!    else (info).
//! 2. Run the matching callback; send its reply, if it returned one.
//! 3. On a stop (a callback's `Stop`, [`stop`](super::stop), the parent's exit signal, or a
//!    panic in a callback): run `terminate` with the reason, send the pending reply if
//!    there is one, and exit with the reason.
//!
//! # Invariants
//! 1. The parent is the process that called `start_link`; a server started with `start`
//!    has none, so no exit signal is treated as its parent's.
//!
//! Of OTP's start options, the name and `{timeout, T}` are modelled ([`StartOptions`]);
//! `{spawn_opt, _}`, `{debug, _}` and `{hibernate_after, _}` are not.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use heaplab_gc::{Atom, Mu, OwnedTerm, Pid, Ref, Root, Term};

use crate::context::Cx;
use crate::exit::ExitReason;
use crate::scheduler::panic_message;
use crate::table::SpawnError;

use super::behaviour::{CallResult, CastResult, GenServer, Init, Reply};
use super::client::{await_down, Caller, Timeout};
use super::protocol::{self, Ack};

/// How a start went, when it did not fail (OTP's `{ok, Pid}` or `ignore`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Started {
    /// The process runs.
    Pid(Pid),
    /// `init` returned `ignore`: nothing runs.
    Ignore,
}

impl Started {
    /// The pid, unless the start was ignored.
    pub fn pid(self) -> Option<Pid> {
        match self {
            Started::Pid(pid) => Some(pid),
            Started::Ignore => None,
        }
    }
}

/// What a start returns: `{ok, Pid}`, `ignore`, or `{error, Reason}`.
pub type StartResult = Result<Started, ExitReason>;

/// The reason of a start that could not spawn: `{spawn_failed, Why}`.
pub fn spawn_failed(error: &SpawnError) -> ExitReason {
    ExitReason::Other(OwnedTerm::tuple(vec![
        OwnedTerm::atom("spawn_failed"),
        OwnedTerm::Binary(error.to_string().into_bytes()),
    ]))
}

/// Options of a start (the `Options` of `gen_server:start_link/4`). The default registers
/// no name and waits for `init` as long as it takes (OTP's default, `infinity`).
///
/// ```
/// use std::time::Duration;
///
/// use heaplab_runtime::gen_server::{self, CallResult, Caller, GenServer, Init, StartOptions};
/// use heaplab_runtime::heaplab_gc::Root;
/// use heaplab_runtime::{Cx, ExitReason, Runtime};
///
/// /// A server whose `init` takes a second.
/// struct Slow;
///
/// impl GenServer for Slow {
///     async fn init(&mut self, cx: &mut Cx) -> Init {
///         cx.sleep(Duration::from_secs(1)).await;
///         Init::Ok
///     }
///
///     async fn handle_call(&mut self, _: &mut Cx, _: Root, _: Caller) -> CallResult {
///         CallResult::NoReply
///     }
/// }
///
/// let rt = Runtime::builder().schedulers(1).build().unwrap();
/// let started = rt
///     .block_on(|mut cx| async move {
///         let options = StartOptions::new().timeout(Duration::from_millis(10));
///         gen_server::start_link_opt(&mut cx, Slow, options).await
///     })
///     .unwrap();
/// assert_eq!(started, Err(ExitReason::atom("timeout")));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartOptions {
    /// Registers the server under this name before `init` runs (`{local, Name}`); the start
    /// fails with `{already_started, Pid}` if the name is taken.
    pub name: Option<Atom>,
    /// How long `init` may take (`{timeout, T}`): past it the server is killed and the
    /// start fails with `timeout`.
    pub timeout: Timeout,
}

impl Default for StartOptions {
    fn default() -> Self {
        StartOptions { name: None, timeout: Timeout::Infinity }
    }
}

impl StartOptions {
    /// No name, no start timeout.
    pub fn new() -> StartOptions {
        StartOptions::default()
    }

    /// Sets the name.
    pub fn name(mut self, name: Atom) -> StartOptions {
        self.name = Some(name);
        self
    }

    /// Sets the start timeout.
    pub fn timeout(mut self, timeout: impl Into<Timeout>) -> StartOptions {
        self.timeout = timeout.into();
        self
    }
}

/// Starts `server` in a new process linked to this one and returns when its `init` has
/// returned (`gen_server:start_link/3`). This process becomes the server's parent.
pub async fn start_link<S: GenServer>(cx: &mut Cx, server: S) -> StartResult {
    start_with(cx, server, StartOptions::new(), true).await
}

/// As [`start_link`], registering the server under `name` before `init` runs
/// (`gen_server:start_link({local, Name}, ...)`); fails with `{already_started, Pid}` if
/// the name is taken.
pub async fn start_link_named<S: GenServer>(cx: &mut Cx, name: Atom, server: S) -> StartResult {
    start_with(cx, server, StartOptions::new().name(name), true).await
}

/// As [`start_link`], with options (`gen_server:start_link/4`).
pub async fn start_link_opt<S: GenServer>(cx: &mut Cx, server: S, options: StartOptions) -> StartResult {
    start_with(cx, server, options, true).await
}

/// Starts `server` without a link and without a parent (`gen_server:start/3`).
pub async fn start<S: GenServer>(cx: &mut Cx, server: S) -> StartResult {
    start_with(cx, server, StartOptions::new(), false).await
}

/// As [`start`], registered under `name`.
pub async fn start_named<S: GenServer>(cx: &mut Cx, name: Atom, server: S) -> StartResult {
    start_with(cx, server, StartOptions::new().name(name), false).await
}

/// As [`start`], with options (`gen_server:start/4`).
pub async fn start_opt<S: GenServer>(cx: &mut Cx, server: S, options: StartOptions) -> StartResult {
    start_with(cx, server, options, false).await
}

/// What the starter waits for (start Protocol step 4).
enum Outcome {
    Ack(Ack),
    Down(ExitReason),
}

async fn start_with<S: GenServer>(cx: &mut Cx, server: S, options: StartOptions, link: bool) -> StartResult {
    let name = options.name;
    // Start Protocol step 1.
    let tag = Ref::new();
    let starter = cx.self_pid();
    let parent = link.then_some(starter);
    let body = move |child: Cx| run(child, server, Launch { starter, tag, name, parent });
    let spawned = if link { cx.spawn_link(body) } else { cx.spawn(body) };
    let pid = spawned.map_err(|e| spawn_failed(&e))?;
    let monitor = cx.monitor(pid);
    // Start Protocol step 4.
    let matcher = crate::pattern::matcher(|_, m| {
        if let Some(ack) = protocol::read_ack(m, tag) {
            return Some(Outcome::Ack(ack));
        }
        protocol::read_down(m, monitor).map(|why| Outcome::Down(protocol::reason(why)))
    });
    let outcome = match options.timeout {
        Timeout::Infinity => cx.receive(matcher).await,
        Timeout::After(limit) => match cx.receive_timeout(limit, matcher).await {
            Some(outcome) => outcome,
            None => return Err(abandon_start(cx, pid, tag, monitor, link).await),
        },
    };
    let result = match outcome {
        Outcome::Ack(Ack::Ok) => {
            cx.demonitor_flush(monitor);
            return Ok(Started::Pid(pid));
        }
        Outcome::Ack(Ack::Ignore) => {
            await_down(cx, monitor).await;
            Ok(Started::Ignore)
        }
        Outcome::Ack(Ack::Error(reason)) => {
            await_down(cx, monitor).await;
            Err(reason)
        }
        Outcome::Down(reason) => Err(reason),
    };
    if link {
        // The exit signal came before the 'DOWN' (one sender, signals in order): as a
        // message if this process traps exits, or not at all.
        let _ = cx
            .receive_timeout(std::time::Duration::ZERO, |_, m| {
                protocol::read_exit(m).filter(|&(from, _)| from == pid).map(|_| ())
            })
            .await;
    }
    result
}

/// Start Protocol step 5: ends a server that did not acknowledge in time; returns the
/// reason the start fails with.
async fn abandon_start(cx: &mut Cx, pid: Pid, tag: Ref, monitor: Ref, link: bool) -> ExitReason {
    if link {
        // Unlinked first, so the kill does not reach this process.
        cx.unlink(pid);
    }
    cx.exit_process(pid, ExitReason::Kill);
    await_down(cx, monitor).await;
    // Whatever it sent came before its 'DOWN' (one sender, in order): drop an
    // acknowledgement sent just before the kill, and an 'EXIT' that came before the unlink.
    let _ =
        cx.receive_timeout(std::time::Duration::ZERO, |_, m| protocol::read_ack(m, tag).map(|_| ())).await;
    let _ = cx
        .receive_timeout(std::time::Duration::ZERO, |_, m| {
            protocol::read_exit(m).filter(|&(from, _)| from == pid).map(|_| ())
        })
        .await;
    ExitReason::atom("timeout")
}

/// What a new server needs to know about its start.
struct Launch {
    starter: Pid,
    tag: Ref,
    name: Option<Atom>,
    parent: Option<Pid>,
}

/// Why the serving loop ended (serving Protocol step 3).
struct Stopping {
    reason: ExitReason,
    reply: Option<(Caller, Reply)>,
}

/// The body of a server process.
async fn run<S: GenServer>(mut cx: Cx, mut server: S, launch: Launch) {
    let Launch { starter, tag, name, parent } = launch;
    let me = cx.self_pid();
    let acknowledge = |cx: &mut Cx, ack: &Ack| cx.send(starter, |h| protocol::ack(h, tag, me, ack));
    // Start Protocol step 2.
    if let Some(name) = name {
        if cx.register(name).is_err() {
            let holder = cx.whereis(name).unwrap_or(me);
            acknowledge(&mut cx, &Ack::Error(protocol::already_started(holder)));
            return;
        }
    }
    // Start Protocol step 3.
    let init = CatchPanic::new(server.init(&mut cx)).await;
    match init {
        Ok(Init::Ok) => acknowledge(&mut cx, &Ack::Ok),
        Ok(Init::Ignore) => return acknowledge(&mut cx, &Ack::Ignore),
        Ok(Init::Stop(reason)) => {
            acknowledge(&mut cx, &Ack::Error(reason.clone()));
            return cx.exit(reason).await;
        }
        Err(message) => {
            let reason = ExitReason::Panic(message);
            acknowledge(&mut cx, &Ack::Error(reason.clone()));
            return cx.exit(reason).await;
        }
    }
    // Serving Protocol steps 1 and 2; a panic ends the loop with its reason.
    let stopping = match CatchPanic::new(serve(&mut cx, &mut server, parent)).await {
        Ok(stopping) => stopping,
        Err(message) => Stopping { reason: ExitReason::Panic(message), reply: None },
    };
    // Serving Protocol step 3. A panic in `terminate` ends the process with that panic.
    server.terminate(&mut cx, &stopping.reason).await;
    if let Some((caller, reply)) = stopping.reply {
        super::client::reply(&mut cx, caller, |h| reply.build(h));
    }
    if !stopping.reason.is_normal() {
        cx.exit::<()>(stopping.reason).await;
    }
}

/// A message as the server sorts it (serving Protocol step 1).
enum Incoming {
    Call(Caller, Root),
    Cast(Root),
    Stop(ExitReason),
    ParentExit(ExitReason),
    Info(Root),
}

impl Incoming {
    fn sort<'h>(h: Mu<'h>, message: Term<'h>, parent: Option<Pid>) -> Incoming {
        match message.as_tuple() {
            Some(&[kind, from, request]) if protocol::is(kind, protocol::atom::gen_call()) => {
                if let Some(caller) = Caller::from_term(from) {
                    return Incoming::Call(caller, h.root(request));
                }
            }
            Some(&[kind, request]) if protocol::is(kind, protocol::atom::gen_cast()) => {
                return Incoming::Cast(h.root(request));
            }
            Some(&[kind, _, request]) if protocol::is(kind, protocol::atom::system()) => {
                if let Some(&[what, reason]) = request.as_tuple() {
                    if protocol::is(what, protocol::atom::terminate()) {
                        return Incoming::Stop(protocol::reason(reason));
                    }
                }
            }
            _ => {
                if let Some((from, reason)) = protocol::read_exit(message) {
                    if Some(from) == parent {
                        return Incoming::ParentExit(protocol::reason(reason));
                    }
                }
            }
        }
        Incoming::Info(h.root(message))
    }
}

/// Serving Protocol steps 1 and 2, until a stop.
async fn serve<S: GenServer>(cx: &mut Cx, server: &mut S, parent: Option<Pid>) -> Stopping {
    loop {
        let incoming = cx.receive(|h, m| Some(Incoming::sort(h, m, parent))).await;
        let reason = match incoming {
            Incoming::Call(caller, request) => match server.handle_call(cx, request, caller).await {
                CallResult::Reply(reply) => {
                    super::client::reply(cx, caller, |h| reply.build(h));
                    continue;
                }
                CallResult::NoReply => continue,
                CallResult::Stop { reason, reply } => {
                    return Stopping { reason, reply: reply.map(|r| (caller, r)) };
                }
            },
            Incoming::Cast(request) => match server.handle_cast(cx, request).await {
                CastResult::NoReply => continue,
                CastResult::Stop(reason) => reason,
            },
            Incoming::Info(message) => match server.handle_info(cx, message).await {
                CastResult::NoReply => continue,
                CastResult::Stop(reason) => reason,
            },
            Incoming::Stop(reason) | Incoming::ParentExit(reason) => reason,
        };
        return Stopping { reason, reply: None };
    }
}

/// Runs a future, turning a panic while it is polled into `Err(message)`. Boxed so that it
/// needs no pin projection (and no `unsafe`); one allocation per use.
pub(crate) struct CatchPanic<F> {
    inner: Pin<Box<F>>,
}

impl<F: Future> CatchPanic<F> {
    pub(crate) fn new(inner: F) -> CatchPanic<F> {
        CatchPanic { inner: Box::pin(inner) }
    }
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The future is dropped after a panic and never polled again, so no broken
        // invariant inside it can be observed: asserting unwind safety is sound.
        match catch_unwind(AssertUnwindSafe(|| self.inner.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    }
}
