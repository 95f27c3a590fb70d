//! The [`GenServer`] behaviour: the callbacks a server implements and what they return.
//!
//! The shapes follow OTP's `gen_server` callbacks: `init/1` returns `{ok, State}`,
//! `{stop, Reason}` or `ignore` ([`Init`]); `handle_call/3` returns `{reply, Reply, State}`,
//! `{noreply, State}`, `{stop, Reason, Reply, State}` or `{stop, Reason, State}`
//! ([`CallResult`]); `handle_cast/2` and `handle_info/2` return `{noreply, State}` or
//! `{stop, Reason, State}` ([`CastResult`]). The state is the implementing value itself, so
//! "new state" is whatever the callback left in `self`.
//!
//! # Invariants
//! 1. A callback sees the message it handles as a [`Root`] on the server's heap: it survives
//!    the callback's awaits and collections, and is released when dropped.
//! 2. `terminate` runs at most once, after the last handled message, and never after `init`
//!    failed (as in OTP, a server whose `init` did not return `Ok` has nothing to clean up).
//!
//! Not modelled (known compromises): timeouts, `hibernate` and `{continue, _}` in callback
//! returns, `code_change` and `format_status` (there is no code loading to change code for).

use std::future::Future;

use heaplab_gc::{Mu, OwnedTerm, Root, Term};

use crate::context::Cx;
use crate::exit::ExitReason;

use super::client::Caller;

/// A term to send as a reply, built on the server's heap when it is sent.
pub struct Reply(Box<dyn for<'h> FnOnce(Mu<'h>) -> Term<'h> + Send>);

impl Reply {
    /// A reply built by `build` (which may read roots of the server's heap).
    pub fn new(build: impl for<'h> FnOnce(Mu<'h>) -> Term<'h> + Send + 'static) -> Reply {
        Reply(Box::new(build))
    }

    /// A reply holding a copy of `term`.
    pub fn owned(term: OwnedTerm) -> Reply {
        Reply::new(move |h| h.from_owned(&term))
    }

    /// The atom `ok`, the most common reply.
    pub fn ok() -> Reply {
        Reply::new(|h| h.atom(heaplab_gc::Atom::OK))
    }

    /// Builds the reply term.
    pub(crate) fn build<'h>(self, h: Mu<'h>) -> Term<'h> {
        (self.0)(h)
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reply(..)")
    }
}

/// What `init` returns (`{ok, State}`, `{stop, Reason}`, `ignore`).
#[derive(Debug)]
pub enum Init {
    /// Start serving: `start_link` returns the server's pid.
    Ok,
    /// Do not start: the server exits with the reason and `start_link` returns it as an
    /// error.
    Stop(ExitReason),
    /// Do not start: the server exits `normal` and `start_link` returns
    /// [`Started::Ignore`](super::Started::Ignore).
    Ignore,
}

/// What `handle_call` returns.
#[derive(Debug)]
pub enum CallResult {
    /// Reply now (`{reply, Reply, State}`).
    Reply(Reply),
    /// Reply later, or from another process, with [`reply`](super::reply) and the
    /// [`Caller`] (`{noreply, State}`).
    NoReply,
    /// Stop with `reason`: `terminate` runs, then the reply (if any) is sent, then the
    /// server exits (`{stop, Reason, Reply, State}` / `{stop, Reason, State}`).
    Stop {
        /// The server's exit reason.
        reason: ExitReason,
        /// A reply sent after `terminate`.
        reply: Option<Reply>,
    },
}

impl CallResult {
    /// `CallResult::Reply(Reply::new(build))`.
    pub fn reply(build: impl for<'h> FnOnce(Mu<'h>) -> Term<'h> + Send + 'static) -> CallResult {
        CallResult::Reply(Reply::new(build))
    }
}

/// What `handle_cast` and `handle_info` return.
#[derive(Debug)]
pub enum CastResult {
    /// Go on serving (`{noreply, State}`).
    NoReply,
    /// Stop with this reason after `terminate` (`{stop, Reason, State}`).
    Stop(ExitReason),
}

/// A server process: its state is the implementing value, its callbacks run one message at
/// a time in arrival order.
///
/// Every callback is asynchronous and gets the server's [`Cx`], so it may send, receive
/// selectively, call other servers or sleep, exactly as an Erlang callback may. A callback
/// that panics ends the server with reason `{panic, Message}` after `terminate` ran with
/// that reason (OTP calls `terminate` when a callback raises).
///
/// `terminate` runs when a callback returns `Stop`, when [`stop`](super::stop) is called,
/// when a callback panics, and when the server traps exits (`cx.trap_exit(true)` in `init`)
/// and its parent (the process that called `start_link`) sends it an exit signal, as a
/// supervisor does to shut a child down. A server that does not trap exits is ended by that
/// signal at once, without `terminate`.
pub trait GenServer: Send + 'static {
    /// Runs in the new server before `start_link` returns (`init/1`).
    fn init(&mut self, _cx: &mut Cx) -> impl Future<Output = Init> + Send {
        async { Init::Ok }
    }

    /// A request sent with [`call`](super::call) (`handle_call/3`). `from` identifies the
    /// caller, for a reply sent later with [`reply`](super::reply).
    fn handle_call(
        &mut self,
        cx: &mut Cx,
        request: Root,
        from: Caller,
    ) -> impl Future<Output = CallResult> + Send;

    /// A request sent with [`cast`](super::cast) (`handle_cast/2`). The default ignores it.
    fn handle_cast(&mut self, _cx: &mut Cx, _request: Root) -> impl Future<Output = CastResult> + Send {
        async { CastResult::NoReply }
    }

    /// Any other message, `{'EXIT', Pid, Reason}` from processes other than the parent
    /// included (`handle_info/2`). The default ignores it.
    fn handle_info(&mut self, _cx: &mut Cx, _message: Root) -> impl Future<Output = CastResult> + Send {
        async { CastResult::NoReply }
    }

    /// Runs once before the server exits with `reason` (`terminate/2`). The default does
    /// nothing.
    fn terminate(&mut self, _cx: &mut Cx, _reason: &ExitReason) -> impl Future<Output = ()> + Send {
        async {}
    }
}
