//! The client side: [`call`], [`cast`], [`reply`], [`stop`] and [`stop_with`].
//!
//! # Protocol (a call, as OTP's `gen:do_call/4`)
//! 1. Resolve the server (a registered name that nobody holds is `noproc`); calling oneself
//!    fails at once (`calling_self`), as it could only time out.
//! 2. Monitor the server; the monitor's reference is the call's tag (protocol Invariant 1).
//!    A server that is dead already answers the monitor with `'DOWN'` `noproc`.
//! 3. Send `{'$gen_call', {Self, Tag}, Request}`.
//! 4. Receive selectively, leaving every other message in place: `{Tag, Reply}` is the
//!    answer (then drop the monitor, flushing a `'DOWN'` that may have followed); the
//!    `'DOWN'` of the monitor means the server ended first, with that reason.
//! 5. On timeout, give up on the tag ([`Cx::unalias`]) so that a late reply is never
//!    delivered, and drop the monitor with its `'DOWN'`, if any.
//!
//! # Invariants
//! 1. After a call returns, no message of that call (reply or `'DOWN'`) is or will be in
//!    the caller's mailbox.

use std::time::Duration;

use heaplab_gc::{Atom, Mu, OwnedTerm, Pid, Ref, Term};

use crate::context::Cx;
use crate::exit::ExitReason;

use super::protocol;

/// How long a caller waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timeout {
    /// For as long as it takes (`infinity`).
    Infinity,
    /// At most this long.
    After(Duration),
}

/// The default of `gen_server:call/2`: 5 seconds.
pub const DEFAULT_CALL_TIMEOUT: Timeout = Timeout::After(Duration::from_secs(5));

impl From<Duration> for Timeout {
    fn from(d: Duration) -> Self {
        Timeout::After(d)
    }
}

/// A server to talk to: a pid, or a registered name looked up at each request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Server {
    /// This process.
    Pid(Pid),
    /// Whoever is registered under this name.
    Name(Atom),
}

impl From<Pid> for Server {
    fn from(pid: Pid) -> Self {
        Server::Pid(pid)
    }
}

impl From<Atom> for Server {
    fn from(name: Atom) -> Self {
        Server::Name(name)
    }
}

impl From<&str> for Server {
    fn from(name: &str) -> Self {
        Server::Name(Atom::new(name))
    }
}

impl Server {
    /// The pid it names now, if any.
    pub fn resolve(self, cx: &Cx) -> Option<Pid> {
        match self {
            Server::Pid(pid) => Some(pid),
            Server::Name(name) => cx.whereis(name),
        }
    }
}

/// Who made a call (OTP's `From`): what [`reply`] needs. It can be handed to another
/// process, in a closure or as a term ([`Caller::to_term`]), to reply from there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Caller {
    pid: Pid,
    tag: Ref,
}

impl Caller {
    /// The calling process.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// The call's unique tag.
    pub fn tag(&self) -> Ref {
        self.tag
    }

    /// `{Pid, Tag}`, the term form OTP passes around.
    pub fn to_term<'h>(&self, h: Mu<'h>) -> Term<'h> {
        protocol::from_term(h, self.pid, self.tag)
    }

    /// Reads `{Pid, Tag}`.
    pub fn from_term(term: Term<'_>) -> Option<Caller> {
        protocol::read_from(term).map(|(pid, tag)| Caller { pid, tag })
    }
}

/// Why a [`call`] or [`stop`] returned no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallError {
    /// No reply within the timeout; a reply coming later is dropped.
    Timeout,
    /// The server does not exist (or the name is not registered): `noproc`.
    NoProc,
    /// The server ended before replying, with this reason.
    Exit(ExitReason),
    /// A process called itself (`calling_self`).
    CallingSelf,
}

impl CallError {
    /// The error for a server that ended with `reason` (`noproc` is [`CallError::NoProc`]).
    pub fn from_reason(reason: ExitReason) -> CallError {
        if reason == ExitReason::noproc() {
            CallError::NoProc
        } else {
            CallError::Exit(reason)
        }
    }

    /// The reason a caller would exit with on the BEAM (`timeout`, `noproc`, ...).
    pub fn reason(&self) -> ExitReason {
        match self {
            CallError::Timeout => ExitReason::atom("timeout"),
            CallError::NoProc => ExitReason::noproc(),
            CallError::Exit(reason) => reason.clone(),
            CallError::CallingSelf => ExitReason::atom("calling_self"),
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "call failed: {}", self.reason())
    }
}

impl std::error::Error for CallError {}

/// What a call's selective receive found (Protocol step 4).
enum Answer<R> {
    Reply(R),
    Down(ExitReason),
}

/// Protocol step 1.
fn resolve(cx: &Cx, server: Server) -> Result<Pid, CallError> {
    let pid = server.resolve(cx).ok_or(CallError::NoProc)?;
    if pid == cx.self_pid() {
        return Err(CallError::CallingSelf);
    }
    Ok(pid)
}

/// Waits for the `'DOWN'` of `monitor`, or `timeout`.
async fn wait_down(cx: &mut Cx, monitor: Ref, timeout: Timeout) -> Option<ExitReason> {
    let matcher = crate::pattern::matcher(|_, m| protocol::read_down(m, monitor).map(protocol::reason));
    match timeout {
        Timeout::Infinity => Some(cx.receive(matcher).await),
        Timeout::After(d) => cx.receive_timeout(d, matcher).await,
    }
}

/// Calls `server` with the request `build` makes and reads the reply with `read`
/// (`gen_server:call/3`); the reply is read in place, without a copy. See the module's
/// Protocol.
pub async fn call_with<R>(
    cx: &mut Cx,
    server: impl Into<Server>,
    build: impl for<'h> FnOnce(Mu<'h>) -> Term<'h>,
    timeout: impl Into<Timeout>,
    read: impl for<'h> FnOnce(Mu<'h>, Term<'h>) -> R + Send,
) -> Result<R, CallError>
where
    R: Send,
{
    let pid = resolve(cx, server.into())?;
    // Protocol steps 2 and 3.
    let tag = cx.monitor(pid);
    let me = cx.self_pid();
    cx.send(pid, |h| {
        let request = build(h);
        protocol::call(h, me, tag, request)
    });
    // Protocol step 4.
    let mut read = Some(read);
    let matcher = crate::pattern::matcher(|h, m| {
        if let Some(reply) = protocol::read_reply(m, tag) {
            let read = read.take().expect("a call reads one reply");
            return Some(Answer::Reply(read(h, reply)));
        }
        protocol::read_down(m, tag).map(|why| Answer::Down(protocol::reason(why)))
    });
    let answer = match timeout.into() {
        Timeout::Infinity => Some(cx.receive(matcher).await),
        Timeout::After(d) => cx.receive_timeout(d, matcher).await,
    };
    match answer {
        Some(Answer::Reply(r)) => {
            cx.demonitor_flush(tag);
            Ok(r)
        }
        // The monitor fired, so it is gone already.
        Some(Answer::Down(reason)) => Err(CallError::from_reason(reason)),
        None => {
            // Protocol step 5: unalias first, so a reply arriving meanwhile is dropped.
            cx.unalias(tag);
            cx.demonitor_flush(tag);
            Err(CallError::Timeout)
        }
    }
}

/// Calls `server` and returns the reply as an owned term (`gen_server:call/3`).
///
/// Fails with [`CallError::NoProc`] if the server does not exist, with
/// [`CallError::Exit`] if it ends before replying, with [`CallError::Timeout`] if no reply
/// comes in time (a late reply is then discarded).
pub async fn call(
    cx: &mut Cx,
    server: impl Into<Server>,
    build: impl for<'h> FnOnce(Mu<'h>) -> Term<'h>,
    timeout: impl Into<Timeout>,
) -> Result<OwnedTerm, CallError> {
    call_with(cx, server, build, timeout, |_, reply| reply.to_owned_term()).await
}

/// Sends the request `build` makes to `server` without waiting (`gen_server:cast/2`). As in
/// OTP, a cast to a dead server or an unregistered name is silently dropped.
pub fn cast(cx: &mut Cx, server: impl Into<Server>, build: impl for<'h> FnOnce(Mu<'h>) -> Term<'h>) {
    if let Some(pid) = server.into().resolve(cx) {
        cx.send(pid, |h| {
            let request = build(h);
            protocol::cast(h, request)
        });
    }
}

/// Replies to `caller` (`gen_server:reply/2`), from the server or from any other process.
pub fn reply(cx: &mut Cx, caller: Caller, build: impl for<'h> FnOnce(Mu<'h>) -> Term<'h>) {
    cx.send(caller.pid, |h| {
        let reply = build(h);
        protocol::reply(h, caller.tag, reply)
    });
}

/// Stops `server` with reason `normal` and waits as long as it takes until it has exited
/// (`gen_server:stop/1`, which is `stop(Server, normal, infinity)`); see [`stop_with`].
pub async fn stop(cx: &mut Cx, server: impl Into<Server>) -> Result<(), CallError> {
    stop_with(cx, server, ExitReason::Normal, Timeout::Infinity).await
}

/// Stops `server` with `reason` and waits until it has exited (`gen_server:stop/3`): the
/// server runs `terminate(reason)` and exits with `reason`. `Ok` when it exited with that
/// reason; [`CallError::Exit`] with the reason it exited with otherwise (its `terminate`
/// panicked, say); [`CallError::NoProc`] if it does not exist; [`CallError::Timeout`] if it
/// has not exited in time (it is left running, as OTP leaves it).
pub async fn stop_with(
    cx: &mut Cx,
    server: impl Into<Server>,
    reason: ExitReason,
    timeout: impl Into<Timeout>,
) -> Result<(), CallError> {
    let pid = resolve(cx, server.into())?;
    let monitor = cx.monitor(pid);
    let me = cx.self_pid();
    cx.send(pid, |h| protocol::stop(h, me, monitor, &reason));
    match wait_down(cx, monitor, timeout.into()).await {
        Some(exited) if exited.to_term() == reason.to_term() => Ok(()),
        Some(exited) => Err(CallError::from_reason(exited)),
        None => {
            cx.demonitor_flush(monitor);
            Err(CallError::Timeout)
        }
    }
}

/// Waits for the `'DOWN'` of `monitor` with no time limit (the monitored process is known
/// to be ending).
pub(crate) async fn await_down(cx: &mut Cx, monitor: Ref) -> ExitReason {
    wait_down(cx, monitor, Timeout::Infinity).await.expect("no deadline")
}

/// Waits at most `timeout` for the `'DOWN'` of `monitor`.
pub(crate) async fn await_down_within(cx: &mut Cx, monitor: Ref, timeout: Duration) -> Option<ExitReason> {
    wait_down(cx, monitor, Timeout::After(timeout)).await
}
