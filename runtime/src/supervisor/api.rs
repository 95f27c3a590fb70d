//! The client side of a supervisor: starting one, and the requests OTP's `supervisor`
//! module offers (`which_children`, `count_children`, `start_child`, `terminate_child`,
//! `restart_child`, `delete_child`).
//!
//! Each request is a `gen_server` call with no timeout (OTP's supervisor calls wait
//! `infinity`: a supervisor may be busy restarting or shutting children down, and always
//! answers).

use heaplab_gc::{Atom, Mu, Pid, Term};

use crate::context::Cx;
use crate::exit::ExitReason;
use crate::gen_server::{self, CallError, Server, StartResult, Started, Timeout};

use super::behaviour::{Given, Supervisor};
use super::children::ChildState;
use super::parcel;
use super::protocol::{self, Request};
use super::server::SupervisorServer;
use super::spec::{ChildSpec, ChildType, Flags};

/// Starts a supervisor linked to this process with these flags and children, and returns
/// when all its children have started (`supervisor:start_link/2` with a callback whose
/// `init` returns them; see [`start_link_with`] for the failures).
pub async fn start_link(cx: &mut Cx, flags: Flags, children: Vec<ChildSpec>) -> StartResult {
    start_link_with(cx, Given(Some((flags, children)))).await
}

/// As [`start_link`], registered under `name` (`supervisor:start_link({local, Name}, ...)`).
pub async fn start_link_named(
    cx: &mut Cx,
    name: Atom,
    flags: Flags,
    children: Vec<ChildSpec>,
) -> StartResult {
    start_link_named_with(cx, name, Given(Some((flags, children)))).await
}

/// Starts a supervisor linked to this process whose flags and children `callback` gives in
/// its `init` (`supervisor:start_link/2`), and returns when all its children have started.
/// The start fails, and the supervisor process has exited, when
/// - `init` returns [`SupervisorInit::Error`](super::SupervisorInit::Error): `{bad_return, {Module, init,
///   Term}}`; or panics: `{panic, Message}`;
/// - the flags are invalid: `{supervisor_data, Reason}` (see [`Flags::check`]);
/// - a `simple_one_for_one` supervisor is not given exactly one spec:
///   `{bad_start_spec, Ids}`; a spec is invalid or an id repeats: `{start_spec, Reason}`;
/// - a child fails to start: the children started so far are stopped (in reverse order)
///   and the start fails with `{shutdown, {failed_to_start_child, Id, Reason}}`.
///
/// `init` returning [`SupervisorInit::Ignore`](super::SupervisorInit::Ignore) gives
/// [`Started::Ignore`](crate::gen_server::Started::Ignore).
pub async fn start_link_with<C: Supervisor>(cx: &mut Cx, callback: C) -> StartResult {
    gen_server::start_link(cx, SupervisorServer::new(callback)).await
}

/// As [`start_link_with`], registered under `name`.
pub async fn start_link_named_with<C: Supervisor>(cx: &mut Cx, name: Atom, callback: C) -> StartResult {
    gen_server::start_link_named(cx, name, SupervisorServer::new(callback)).await
}

/// One child, as `which_children` reports it (`{Id, Child, Type, Modules}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildInfo {
    /// The id; `None` (`undefined`) for a dynamic child.
    pub id: Option<Atom>,
    /// Its process.
    pub child: ChildState,
    /// Worker or supervisor.
    pub child_type: ChildType,
}

/// What `count_children` reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChildCounts {
    /// Child specifications (static children), or dynamic children.
    pub specs: usize,
    /// Children that are alive.
    pub active: usize,
    /// Children of type supervisor, alive or not.
    pub supervisors: usize,
    /// Children of type worker, alive or not.
    pub workers: usize,
}

/// A child named in a request: by id, or by pid (dynamic children).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChildRef {
    /// A static child.
    Id(Atom),
    /// A dynamic child.
    Pid(Pid),
}

impl From<Atom> for ChildRef {
    fn from(id: Atom) -> Self {
        ChildRef::Id(id)
    }
}

impl From<&str> for ChildRef {
    fn from(id: &str) -> Self {
        ChildRef::Id(Atom::new(id))
    }
}

impl From<Pid> for ChildRef {
    fn from(pid: Pid) -> Self {
        ChildRef::Pid(pid)
    }
}

/// Why a supervisor request failed (OTP's `{error, Reason}`, or the `noproc` exit of a call
/// to a supervisor that does not exist).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SupervisorError {
    /// The supervisor does not exist, or no process has its name (`noproc`; OTP's call
    /// exits with `{noproc, {gen_server, call, ...}}`).
    NoProc,
    /// No such child (`not_found`).
    NotFound,
    /// The child is running; terminate it first (`running`).
    Running,
    /// The child's restart is being retried (`restarting`).
    Restarting,
    /// A child with this id exists but is not running (`already_present`).
    AlreadyPresent,
    /// A child with this id runs as this process (`{already_started, Pid}`).
    AlreadyStarted(Pid),
    /// Not available for a `simple_one_for_one` supervisor (`simple_one_for_one`).
    SimpleOneForOne,
    /// The child was not started: its spec was refused (`{bad_combination, ...}`) or its
    /// start function failed, with this reason.
    Start(ExitReason),
    /// The supervisor died during the request (or another call failure than `noproc`).
    Call(CallError),
}

impl std::fmt::Display for SupervisorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SupervisorError::NoProc => f.write_str("noproc"),
            SupervisorError::NotFound => f.write_str("not_found"),
            SupervisorError::Running => f.write_str("running"),
            SupervisorError::Restarting => f.write_str("restarting"),
            SupervisorError::AlreadyPresent => f.write_str("already_present"),
            SupervisorError::AlreadyStarted(pid) => write!(f, "{{already_started,{pid}}}"),
            SupervisorError::SimpleOneForOne => f.write_str("simple_one_for_one"),
            SupervisorError::Start(reason) => write!(f, "{reason}"),
            SupervisorError::Call(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SupervisorError {}

impl From<CallError> for SupervisorError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::NoProc => SupervisorError::NoProc,
            other => SupervisorError::Call(other),
        }
    }
}

/// Sends `request` and reads the reply with `read`; a reply that does not read is reported
/// as the supervisor's answer it is (`{bad_reply, Reply}`).
async fn request<R: Send>(
    cx: &mut Cx,
    supervisor: Server,
    request: Request,
    read: impl for<'h> FnOnce(Term<'h>) -> Option<Result<R, SupervisorError>> + Send,
) -> Result<R, SupervisorError> {
    let reply = gen_server::call_with(
        cx,
        supervisor,
        |h| request.to_term(h),
        Timeout::Infinity,
        |_, t| read(t).ok_or_else(|| t.to_owned_term()),
    )
    .await?;
    reply.unwrap_or_else(|bad| {
        Err(SupervisorError::Start(ExitReason::Other(heaplab_gc::OwnedTerm::tuple(vec![
            heaplab_gc::OwnedTerm::atom("bad_reply"),
            bad,
        ]))))
    })
}

/// The children (`supervisor:which_children/1`): static children most recently started
/// first, as OTP lists them (the reverse of their start order, a child added with
/// [`start_child`] first of all); dynamic children in no particular order.
pub async fn which_children(
    cx: &mut Cx,
    supervisor: impl Into<Server>,
) -> Result<Vec<ChildInfo>, SupervisorError> {
    request(cx, supervisor.into(), Request::WhichChildren, |t| protocol::read_children(t).map(Ok)).await
}

/// Counts of specs, active children, supervisors and workers
/// (`supervisor:count_children/1`).
pub async fn count_children(
    cx: &mut Cx,
    supervisor: impl Into<Server>,
) -> Result<ChildCounts, SupervisorError> {
    request(cx, supervisor.into(), Request::CountChildren, |t| protocol::read_counts(t).map(Ok)).await
}

/// Adds a child to a static supervisor and starts it, after all others
/// (`supervisor:start_child/2`). Fails with [`SupervisorError::AlreadyStarted`] or
/// [`SupervisorError::AlreadyPresent`] if the id is taken, and with
/// [`SupervisorError::Start`] if the start function fails (the spec is then not kept).
pub async fn start_child(
    cx: &mut Cx,
    supervisor: impl Into<Server>,
    spec: ChildSpec,
) -> Result<Started, SupervisorError> {
    let parcel = parcel::put(spec);
    let result = request(cx, supervisor.into(), Request::StartChild(parcel), protocol::read_started).await;
    // Parcel Invariant 1: reclaim it if the supervisor did not take it.
    drop(parcel::take::<ChildSpec>(parcel));
    result
}

/// Starts a child of a `simple_one_for_one` supervisor from its template, with the
/// arguments `args` builds (`supervisor:start_child/2` with a list of extra arguments).
pub async fn start_dynamic_child(
    cx: &mut Cx,
    supervisor: impl Into<Server>,
    args: impl for<'h> FnOnce(Mu<'h>) -> Term<'h>,
) -> Result<Started, SupervisorError> {
    let args = cx.with(|h| args(h).to_owned_term());
    request(cx, supervisor.into(), Request::StartDynamicChild(args), protocol::read_started).await
}

/// Stops a child (`supervisor:terminate_child/2`), by id (the spec is kept, unless the child
/// is temporary) or, for a `simple_one_for_one` supervisor, by pid (the child is removed;
/// a pid that is no longer alive is `Ok`, a live process that is not a child
/// [`SupervisorError::NotFound`]).
pub async fn terminate_child(
    cx: &mut Cx,
    supervisor: impl Into<Server>,
    child: impl Into<ChildRef>,
) -> Result<(), SupervisorError> {
    request(cx, supervisor.into(), Request::TerminateChild(child.into()), protocol::read_done).await
}

/// Starts again a static child that is not running (`supervisor:restart_child/2`).
/// [`SupervisorError::NotFound`] for an id no spec has (or a pid: static children are
/// named by id), [`SupervisorError::SimpleOneForOne`] for a `simple_one_for_one`
/// supervisor.
pub async fn restart_child(
    cx: &mut Cx,
    supervisor: impl Into<Server>,
    child: impl Into<ChildRef>,
) -> Result<Started, SupervisorError> {
    request(cx, supervisor.into(), Request::RestartChild(child.into()), protocol::read_started).await
}

/// Removes the spec of a static child that is not running (`supervisor:delete_child/2`);
/// errors as [`restart_child`].
pub async fn delete_child(
    cx: &mut Cx,
    supervisor: impl Into<Server>,
    child: impl Into<ChildRef>,
) -> Result<(), SupervisorError> {
    request(cx, supervisor.into(), Request::DeleteChild(child.into()), protocol::read_done).await
}
