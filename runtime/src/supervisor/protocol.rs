//! Requests a supervisor serves and its replies, as terms in OTP's shapes.
//!
//! | request | message (a gen_server call) | reply |
//! |---------|---------|-------|
//! | `which_children` | `which_children` | `[{Id, Child, Type, Modules}]` |
//! | `count_children` | `count_children` | `[{specs, N}, {active, N}, {supervisors, N}, {workers, N}]` |
//! | `start_child` | `{start_child, {'$child_spec', Parcel}}` | `{ok, Pid}`, `{ok, undefined}`, `{error, Reason}` |
//! | `start_child` (dynamic) | `{start_child, Args}` | as above |
//! | `terminate_child` | `{terminate_child, Id or Pid}` | `ok`, `{error, Reason}` |
//! | `restart_child` | `{restart_child, Id or Pid}` | `{ok, Pid}`, `{ok, undefined}`, `{error, Reason}` |
//! | `delete_child` | `{delete_child, Id or Pid}` | `ok`, `{error, Reason}` |
//!
//! A supervisor whose restart fails casts itself `{try_again_restart, Id or Pid}`.
//! `Child` is a pid, `restarting` or `undefined`; `Id` is `undefined` for dynamic children;
//! `Type` is `worker` or `supervisor`; `Modules` is always `[]` (there are no modules).
//!
//! # Invariants
//! 1. Every reply a server encodes here decodes to the same Rust value with the reader
//!    here (tested), so client and server cannot disagree on a shape.

use heaplab_gc::{Atom, Mu, OwnedTerm, Ref, Term};

use crate::exit::ExitReason;
use crate::gen_server::protocol::{is, reason};
use crate::gen_server::Started;

use super::api::{ChildCounts, ChildInfo, ChildRef, SupervisorError};
use super::children::ChildState;
use super::spec::ChildType;

/// The atoms of the protocol.
pub(crate) mod atom {
    crate::gen_server::protocol::atoms! {
        which_children = "which_children";
        count_children = "count_children";
        start_child = "start_child";
        child_spec = "$child_spec";
        terminate_child = "terminate_child";
        restart_child = "restart_child";
        delete_child = "delete_child";
        try_again_restart = "try_again_restart";
        restarting = "restarting";
        worker = "worker";
        supervisor = "supervisor";
        specs = "specs";
        active = "active";
        supervisors = "supervisors";
        workers = "workers";
        not_found = "not_found";
        running = "running";
        already_present = "already_present";
        already_started = "already_started";
        simple_one_for_one = "simple_one_for_one";
    }
}

/// A request, read from its term.
#[derive(Debug)]
pub(crate) enum Request {
    WhichChildren,
    CountChildren,
    /// A static child's spec, in a parcel.
    StartChild(Ref),
    /// A dynamic child's arguments.
    StartDynamicChild(OwnedTerm),
    TerminateChild(ChildRef),
    RestartChild(ChildRef),
    DeleteChild(ChildRef),
}

impl Request {
    pub(crate) fn to_term<'h>(&self, h: Mu<'h>) -> Term<'h> {
        let tagged = |tag: Atom, value: Term<'h>| h.tuple(&[h.atom(tag), value]);
        match self {
            Request::WhichChildren => h.atom(atom::which_children()),
            Request::CountChildren => h.atom(atom::count_children()),
            Request::StartChild(parcel) => {
                tagged(atom::start_child(), tagged(atom::child_spec(), h.reference(*parcel)))
            }
            Request::StartDynamicChild(args) => tagged(atom::start_child(), h.from_owned(args)),
            Request::TerminateChild(child) => tagged(atom::terminate_child(), child_ref(h, *child)),
            Request::RestartChild(child) => tagged(atom::restart_child(), child_ref(h, *child)),
            Request::DeleteChild(child) => tagged(atom::delete_child(), child_ref(h, *child)),
        }
    }

    pub(crate) fn read(term: Term<'_>) -> Option<Request> {
        if is(term, atom::which_children()) {
            return Some(Request::WhichChildren);
        }
        if is(term, atom::count_children()) {
            return Some(Request::CountChildren);
        }
        let [kind, value] = term.as_tuple()? else { return None };
        let kind = kind.as_atom()?;
        if kind == atom::start_child() {
            return Some(match value.as_tuple() {
                Some([tag, parcel]) if is(*tag, atom::child_spec()) => Request::StartChild(parcel.as_ref()?),
                _ => Request::StartDynamicChild(value.to_owned_term()),
            });
        }
        let child = read_child_ref(*value)?;
        if kind == atom::terminate_child() {
            Some(Request::TerminateChild(child))
        } else if kind == atom::restart_child() {
            Some(Request::RestartChild(child))
        } else if kind == atom::delete_child() {
            Some(Request::DeleteChild(child))
        } else {
            None
        }
    }
}

fn child_ref<'h>(h: Mu<'h>, child: ChildRef) -> Term<'h> {
    match child {
        ChildRef::Id(id) => h.atom(id),
        ChildRef::Pid(pid) => h.pid(pid),
    }
}

fn read_child_ref(term: Term<'_>) -> Option<ChildRef> {
    term.as_atom().map(ChildRef::Id).or_else(|| term.as_pid().map(ChildRef::Pid))
}

/// `{try_again_restart, Id or Pid}`.
pub(crate) fn try_again<'h>(h: Mu<'h>, child: ChildRef) -> Term<'h> {
    h.tuple(&[h.atom(atom::try_again_restart()), child_ref(h, child)])
}

/// Reads `{try_again_restart, Id or Pid}`.
pub(crate) fn read_try_again(term: Term<'_>) -> Option<ChildRef> {
    match term.as_tuple()? {
        [kind, child] if is(*kind, atom::try_again_restart()) => read_child_ref(*child),
        _ => None,
    }
}

fn child_type(h: Mu<'_>, t: ChildType) -> Term<'_> {
    h.atom(match t {
        ChildType::Worker => atom::worker(),
        ChildType::Supervisor => atom::supervisor(),
    })
}

/// The `which_children` reply.
pub(crate) fn children_term<'h>(h: Mu<'h>, children: &[ChildInfo]) -> Term<'h> {
    h.list(children.iter().map(|c| {
        let id = h.atom(c.id.unwrap_or(Atom::UNDEFINED));
        let child = match c.child {
            ChildState::Running(pid) => h.pid(pid),
            ChildState::Restarting => h.atom(atom::restarting()),
            ChildState::Undefined => h.atom(Atom::UNDEFINED),
        };
        h.tuple(&[id, child, child_type(h, c.child_type), h.nil()])
    }))
}

pub(crate) fn read_children(term: Term<'_>) -> Option<Vec<ChildInfo>> {
    term.iter_list()
        .map(|item| {
            let [id, child, kind, _modules] = item.as_tuple()? else { return None };
            let id = id.as_atom().filter(|&a| a != Atom::UNDEFINED);
            let child = match child.as_pid() {
                Some(pid) => ChildState::Running(pid),
                None if is(*child, atom::restarting()) => ChildState::Restarting,
                None => ChildState::Undefined,
            };
            let child_type =
                if is(*kind, atom::supervisor()) { ChildType::Supervisor } else { ChildType::Worker };
            Some(ChildInfo { id, child, child_type })
        })
        .collect()
}

/// The `count_children` reply.
pub(crate) fn counts_term<'h>(h: Mu<'h>, counts: &ChildCounts) -> Term<'h> {
    let pair = |name: Atom, n: usize| h.tuple(&[h.atom(name), h.int(n as i64)]);
    h.list([
        pair(atom::specs(), counts.specs),
        pair(atom::active(), counts.active),
        pair(atom::supervisors(), counts.supervisors),
        pair(atom::workers(), counts.workers),
    ])
}

pub(crate) fn read_counts(term: Term<'_>) -> Option<ChildCounts> {
    let mut counts = ChildCounts::default();
    for item in term.iter_list() {
        let [name, n] = item.as_tuple()? else { return None };
        let (name, n) = (name.as_atom()?, usize::try_from(n.as_int()?).ok()?);
        let field = if name == atom::specs() {
            &mut counts.specs
        } else if name == atom::active() {
            &mut counts.active
        } else if name == atom::supervisors() {
            &mut counts.supervisors
        } else if name == atom::workers() {
            &mut counts.workers
        } else {
            return None;
        };
        *field = n;
    }
    Some(counts)
}

fn error_term<'h>(h: Mu<'h>, error: &SupervisorError) -> Term<'h> {
    let why = match error {
        SupervisorError::NotFound => h.atom(atom::not_found()),
        SupervisorError::Running => h.atom(atom::running()),
        SupervisorError::Restarting => h.atom(atom::restarting()),
        SupervisorError::AlreadyPresent => h.atom(atom::already_present()),
        SupervisorError::AlreadyStarted(pid) => h.tuple(&[h.atom(atom::already_started()), h.pid(*pid)]),
        SupervisorError::SimpleOneForOne => h.atom(atom::simple_one_for_one()),
        SupervisorError::Start(reason) => h.from_owned(&reason.to_term()),
        // Client-side errors, never in a supervisor's reply: written for completeness.
        SupervisorError::NoProc => h.from_owned(&ExitReason::noproc().to_term()),
        SupervisorError::Call(e) => h.from_owned(&e.reason().to_term()),
    };
    h.tuple(&[h.atom(Atom::ERROR), why])
}

fn read_error(why: Term<'_>) -> SupervisorError {
    let simple = [
        (atom::not_found(), SupervisorError::NotFound),
        (atom::running(), SupervisorError::Running),
        (atom::restarting(), SupervisorError::Restarting),
        (atom::already_present(), SupervisorError::AlreadyPresent),
        (atom::simple_one_for_one(), SupervisorError::SimpleOneForOne),
    ];
    if let Some(a) = why.as_atom() {
        if let Some((_, e)) = simple.into_iter().find(|(name, _)| *name == a) {
            return e;
        }
    }
    if let Some([kind, pid]) = why.as_tuple() {
        if let (true, Some(pid)) = (is(*kind, atom::already_started()), pid.as_pid()) {
            return SupervisorError::AlreadyStarted(pid);
        }
    }
    SupervisorError::Start(reason(why))
}

/// `{ok, Pid}`, `{ok, undefined}` or `{error, Reason}`.
pub(crate) fn started_term<'h>(h: Mu<'h>, result: &Result<Started, SupervisorError>) -> Term<'h> {
    match result {
        Ok(started) => {
            let pid = started.pid().map_or(h.atom(Atom::UNDEFINED), |p| h.pid(p));
            h.tuple(&[h.atom(Atom::OK), pid])
        }
        Err(e) => error_term(h, e),
    }
}

pub(crate) fn read_started(term: Term<'_>) -> Option<Result<Started, SupervisorError>> {
    match term.as_tuple()? {
        [ok, pid] if is(*ok, Atom::OK) => Some(Ok(pid.as_pid().map_or(Started::Ignore, Started::Pid))),
        [error, why] if is(*error, Atom::ERROR) => Some(Err(read_error(*why))),
        _ => None,
    }
}

/// `ok` or `{error, Reason}`.
pub(crate) fn done_term<'h>(h: Mu<'h>, result: &Result<(), SupervisorError>) -> Term<'h> {
    match result {
        Ok(()) => h.atom(Atom::OK),
        Err(e) => error_term(h, e),
    }
}

pub(crate) fn read_done(term: Term<'_>) -> Option<Result<(), SupervisorError>> {
    if is(term, Atom::OK) {
        return Some(Ok(()));
    }
    match term.as_tuple()? {
        [error, why] if is(*error, Atom::ERROR) => Some(Err(read_error(*why))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use heaplab_gc::{Heap, Pid};

    use super::*;

    fn pid(n: u64) -> Pid {
        Pid::new(n)
    }

    #[test]
    fn requests_round_trip() {
        let mut heap = Heap::default();
        let requests = [
            Request::WhichChildren,
            Request::CountChildren,
            Request::StartChild(Ref::new()),
            Request::StartDynamicChild(OwnedTerm::list(vec![1.into(), OwnedTerm::atom("x")])),
            Request::TerminateChild(ChildRef::Id(Atom::new("w"))),
            Request::TerminateChild(ChildRef::Pid(pid(4))),
            Request::RestartChild(ChildRef::Id(Atom::new("w"))),
            Request::DeleteChild(ChildRef::Pid(pid(5))),
        ];
        heap.enter(|h| {
            for request in requests {
                let read = Request::read(request.to_term(h)).unwrap();
                assert_eq!(format!("{read:?}"), format!("{request:?}"));
            }
            assert!(Request::read(h.atom_named("bogus")).is_none());
            let again = try_again(h, ChildRef::Id(Atom::new("w")));
            assert_eq!(read_try_again(again), Some(ChildRef::Id(Atom::new("w"))));
        });
    }

    #[test]
    fn replies_round_trip() {
        let mut heap = Heap::default();
        let children = vec![
            ChildInfo {
                id: Some(Atom::new("a")),
                child: ChildState::Running(pid(1)),
                child_type: ChildType::Worker,
            },
            ChildInfo {
                id: Some(Atom::new("b")),
                child: ChildState::Restarting,
                child_type: ChildType::Supervisor,
            },
            ChildInfo { id: None, child: ChildState::Undefined, child_type: ChildType::Worker },
        ];
        let counts = ChildCounts { specs: 4, active: 3, supervisors: 1, workers: 3 };
        let errors = [
            SupervisorError::NotFound,
            SupervisorError::Running,
            SupervisorError::Restarting,
            SupervisorError::AlreadyPresent,
            SupervisorError::AlreadyStarted(pid(9)),
            SupervisorError::SimpleOneForOne,
            SupervisorError::Start(ExitReason::atom("bad")),
        ];
        heap.enter(|h| {
            assert_eq!(read_children(children_term(h, &children)).unwrap(), children);
            let term = counts_term(h, &counts);
            assert_eq!(term.to_string(), "[{specs,4},{active,3},{supervisors,1},{workers,3}]");
            assert_eq!(read_counts(term).unwrap(), counts);
            for started in [Started::Pid(pid(2)), Started::Ignore] {
                assert_eq!(read_started(started_term(h, &Ok(started))).unwrap(), Ok(started));
            }
            assert_eq!(read_done(done_term(h, &Ok(()))).unwrap(), Ok(()));
            for e in errors {
                assert_eq!(read_started(started_term(h, &Err(e.clone()))).unwrap(), Err(e.clone()));
                assert_eq!(read_done(done_term(h, &Err(e.clone()))).unwrap(), Err(e));
            }
        });
    }
}
