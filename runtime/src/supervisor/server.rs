//! The supervisor process: a [`GenServer`] that traps exits, starts its children, restarts
//! them by its strategy when they exit, and stops them when it stops (OTP's `supervisor`
//! is a `gen_server` in the same way).
//!
//! # Protocol (a child exits: `{'EXIT', Child, Reason}`)
//! 1. An exit from a process that is not a current child is ignored (a child restarted or
//!    terminated meanwhile, or a stranger).
//! 2. If the child's restart type does not call for a restart (see
//!    [`strategy::restarts`]), a temporary child is removed and any other is marked
//!    `undefined`.
//! 3. Otherwise the restart is counted ([`Intensity`]); past the intensity the supervisor
//!    stops with reason `shutdown`, terminating all children in reverse order first.
//! 4. The involved children (see [`strategy::involved`]) other than the one that exited are
//!    terminated from the last backwards (temporary ones are removed), then all of them are
//!    started again in order.
//! 5. If a start fails, that child is marked `restarting`, those after it stay
//!    `undefined`, and the supervisor casts itself `{try_again_restart, Id}`: the retry is
//!    step 3 again, so a child that never starts exhausts the intensity.
//!
//! # Invariants
//! 1. The supervisor traps exits from `init` on and is linked to every running child (the
//!    start functions link, spec Invariant 1); a child is unlinked only to be shut down.
//! 2. Children are started in list order and terminated in reverse list order, at init, at
//!    restarts and at the supervisor's own exit.
//!
//! Not modelled (known compromises): `auto_shutdown` and significant children (a
//! supervisor here never stops because a child did), reports to a logger (there is none),
//! and `get_childspec`/`check_childspecs`. A start function that panics takes the
//! supervisor down with it (OTP catches a crashing start function and reports
//! `{error, Reason}`); start functions built with [`ChildSpec`]'s constructors cannot panic.

use std::sync::Arc;
use std::time::Instant;

use heaplab_gc::{Atom, OwnedTerm, Root};

use crate::context::Cx;
use crate::exit::ExitReason;
use crate::gen_server::protocol::{read_exit, reason};
use crate::gen_server::{self, CallResult, Caller, CastResult, GenServer, Init, StartResult, Started};

use super::api::{ChildCounts, ChildInfo, ChildRef, SupervisorError};
use super::children::{ChildState, DynamicChildren, StaticChildren};
use super::intensity::{Intensity, Verdict};
use super::parcel;
use super::protocol::{self, Request};
use super::shutdown::{shutdown, shutdown_all};
use super::spec::{ChildSpec, ChildType, Flags, Restart, Strategy};
use super::strategy;

/// The children, by kind of supervisor.
enum Children {
    /// `one_for_one`, `one_for_all`, `rest_for_one`.
    Static(StaticChildren),
    /// `simple_one_for_one`.
    Dynamic(DynamicChildren),
}

/// A supervisor's state.
pub(crate) struct Supervisor {
    flags: Flags,
    /// The specs given at start, until `init` takes them.
    specs: Vec<ChildSpec>,
    children: Children,
    intensity: Intensity,
}

/// Runs a child's start function.
async fn start(cx: &mut Cx, spec: &ChildSpec, args: &OwnedTerm) -> StartResult {
    let start = Arc::clone(&spec.start);
    start(cx, args).await
}

/// `{Tag, Value}` as an exit reason.
fn tagged(tag: &str, value: OwnedTerm) -> ExitReason {
    ExitReason::Other(OwnedTerm::tuple(vec![OwnedTerm::atom(tag), value]))
}

impl Supervisor {
    pub(crate) fn new(flags: Flags, specs: Vec<ChildSpec>) -> Supervisor {
        Supervisor {
            flags,
            specs,
            children: Children::Static(StaticChildren::default()),
            intensity: Intensity::new(flags.intensity, flags.period),
        }
    }

    /// Starts the static children from `from` on, up to position `to` (exclusive) or the
    /// end (Invariant 2); `Err` names the position of the child that failed, and why.
    async fn start_static(
        cx: &mut Cx,
        list: &mut StaticChildren,
        from: usize,
        to: Option<usize>,
    ) -> Result<(), (usize, ExitReason)> {
        let mut i = from;
        while i < to.unwrap_or(list.len()).min(list.len()) {
            let spec = list.get(i).spec.clone();
            match start(cx, &spec, &OwnedTerm::Nil).await {
                Ok(Started::Pid(pid)) => list.set_state(i, ChildState::Running(pid)),
                Ok(Started::Ignore) if spec.restart == Restart::Temporary => {
                    list.remove(i);
                    continue;
                }
                Ok(Started::Ignore) => list.set_state(i, ChildState::Undefined),
                Err(reason) => return Err((i, reason)),
            }
            i += 1;
        }
        Ok(())
    }

    /// Terminates the static children from the last down to position `from` (Invariant
    /// 2); temporary ones are removed, the others left `undefined`.
    async fn terminate_static(cx: &mut Cx, list: &mut StaticChildren, from: usize) {
        for i in (from..list.len()).rev() {
            Self::terminate_static_one(cx, list, i).await;
        }
    }

    /// Terminates the static child at `i`: removed if temporary, `undefined` otherwise.
    /// Removing it leaves the positions before `i` as they were.
    async fn terminate_static_one(cx: &mut Cx, list: &mut StaticChildren, i: usize) {
        let child = list.get(i);
        let (restart, how) = (child.spec.restart, child.spec.shutdown);
        if let ChildState::Running(pid) = child.state {
            // A child that did not stop as asked is stopped all the same; OTP reports the
            // mismatch to its logger, which heaplab does not have.
            let _ = shutdown(cx, pid, how).await;
        }
        if restart == Restart::Temporary {
            list.remove(i);
        } else {
            list.set_state(i, ChildState::Undefined);
        }
    }

    /// Casts `{try_again_restart, Child}` to this supervisor (Protocol step 5).
    fn try_again(cx: &mut Cx, child: ChildRef) {
        let me = cx.self_pid();
        gen_server::cast(cx, me, |h| protocol::try_again(h, child));
    }

    /// Protocol steps 3 to 5 for `child`.
    async fn restart(&mut self, cx: &mut Cx, child: ChildRef) -> CastResult {
        // Protocol step 3.
        if self.intensity.add_restart(Instant::now()) == Verdict::Exceeded {
            return CastResult::Stop(ExitReason::Shutdown);
        }
        match (&mut self.children, child) {
            (Children::Static(list), ChildRef::Id(id)) => {
                let Some(failed) = list.position(id) else { return CastResult::NoReply };
                // Protocol step 4.
                let involved = strategy::involved(self.flags.strategy, failed, list.len());
                if involved.len() > 1 {
                    Self::terminate_static(cx, list, involved.start).await;
                }
                let to = (self.flags.strategy == Strategy::OneForOne).then_some(failed + 1);
                // Protocol step 5.
                if let Err((i, _)) = Self::start_static(cx, list, involved.start, to).await {
                    list.set_state(i, ChildState::Restarting);
                    Self::try_again(cx, ChildRef::Id(list.get(i).spec.id));
                }
            }
            (Children::Dynamic(dynamic), ChildRef::Pid(old)) => {
                let Some(child) = dynamic.get(old) else { return CastResult::NoReply };
                let args = child.args.clone();
                let template = dynamic.template.clone();
                match start(cx, &template, &args).await {
                    Ok(Started::Pid(new)) => {
                        dynamic.remove(old);
                        dynamic.insert(new, args);
                    }
                    Ok(Started::Ignore) => {
                        dynamic.remove(old);
                    }
                    Err(_) => {
                        dynamic.set_restarting(old);
                        Self::try_again(cx, ChildRef::Pid(old));
                    }
                }
            }
            _ => {}
        }
        CastResult::NoReply
    }

    /// Protocol steps 1 and 2, then the restart.
    async fn child_exited(&mut self, cx: &mut Cx, pid: heaplab_gc::Pid, reason: ExitReason) -> CastResult {
        let child = match &mut self.children {
            Children::Static(list) => {
                let Some(i) = list.position_of_pid(pid) else { return CastResult::NoReply };
                let spec = &list.get(i).spec;
                let (id, restart) = (spec.id, spec.restart);
                if restart == Restart::Temporary {
                    list.remove(i);
                } else {
                    list.set_state(i, ChildState::Undefined);
                }
                if !strategy::restarts(restart, &reason) {
                    return CastResult::NoReply;
                }
                ChildRef::Id(id)
            }
            Children::Dynamic(dynamic) => {
                if dynamic.get(pid).is_none() {
                    return CastResult::NoReply;
                }
                if !strategy::restarts(dynamic.template.restart, &reason) {
                    dynamic.remove(pid);
                    return CastResult::NoReply;
                }
                ChildRef::Pid(pid)
            }
        };
        self.restart(cx, child).await
    }

    /// Whether `child` is waiting for a retried restart.
    fn is_restarting(&self, child: ChildRef) -> bool {
        match (&self.children, child) {
            (Children::Static(list), ChildRef::Id(id)) => {
                list.position(id).is_some_and(|i| list.get(i).state == ChildState::Restarting)
            }
            (Children::Dynamic(dynamic), ChildRef::Pid(pid)) => {
                dynamic.get(pid).is_some_and(|c| c.restarting)
            }
            _ => false,
        }
    }

    fn which_children(&self) -> Vec<ChildInfo> {
        match &self.children {
            Children::Static(list) => list
                .iter()
                .map(|c| ChildInfo { id: Some(c.spec.id), child: c.state, child_type: c.spec.child_type })
                .collect(),
            Children::Dynamic(dynamic) => {
                let child_type = dynamic.template.child_type;
                dynamic.iter().map(|(_, child)| ChildInfo { id: None, child, child_type }).collect()
            }
        }
    }

    fn count_children(&self, cx: &Cx) -> ChildCounts {
        let mut counts = ChildCounts::default();
        for info in self.which_children() {
            counts.specs += 1;
            counts.active += usize::from(info.child.pid().is_some_and(|pid| cx.is_alive(pid)));
            match info.child_type {
                ChildType::Worker => counts.workers += 1,
                ChildType::Supervisor => counts.supervisors += 1,
            }
        }
        counts
    }

    async fn start_child(&mut self, cx: &mut Cx, spec: ChildSpec) -> Result<Started, SupervisorError> {
        let Children::Static(list) = &mut self.children else { return Err(SupervisorError::SimpleOneForOne) };
        if let Some(i) = list.position(spec.id) {
            return Err(match list.get(i).state {
                ChildState::Running(pid) => SupervisorError::AlreadyStarted(pid),
                _ => SupervisorError::AlreadyPresent,
            });
        }
        let started = start(cx, &spec, &OwnedTerm::Nil).await.map_err(SupervisorError::Start)?;
        match started {
            Started::Pid(pid) => list.push(spec, ChildState::Running(pid)),
            Started::Ignore if spec.restart != Restart::Temporary => list.push(spec, ChildState::Undefined),
            Started::Ignore => {}
        }
        Ok(started)
    }

    async fn start_dynamic_child(
        &mut self,
        cx: &mut Cx,
        args: OwnedTerm,
    ) -> Result<Started, SupervisorError> {
        let Children::Dynamic(dynamic) = &mut self.children else {
            return Err(SupervisorError::Start(tagged("invalid_child_spec", args)));
        };
        let template = dynamic.template.clone();
        let started = start(cx, &template, &args).await.map_err(SupervisorError::Start)?;
        if let Started::Pid(pid) = started {
            dynamic.insert(pid, args);
        }
        Ok(started)
    }

    async fn terminate_child(&mut self, cx: &mut Cx, child: ChildRef) -> Result<(), SupervisorError> {
        match (&mut self.children, child) {
            (Children::Static(list), ChildRef::Id(id)) => {
                let i = list.position(id).ok_or(SupervisorError::NotFound)?;
                Self::terminate_static_one(cx, list, i).await;
                Ok(())
            }
            (Children::Static(_), ChildRef::Pid(_)) => Err(SupervisorError::NotFound),
            (Children::Dynamic(dynamic), ChildRef::Pid(pid)) => {
                let child = dynamic.get(pid).ok_or(SupervisorError::NotFound)?;
                if !child.restarting {
                    let _ = shutdown(cx, pid, dynamic.template.shutdown).await;
                }
                dynamic.remove(pid);
                Ok(())
            }
            (Children::Dynamic(_), ChildRef::Id(_)) => Err(SupervisorError::SimpleOneForOne),
        }
    }

    async fn restart_child(&mut self, cx: &mut Cx, id: Atom) -> Result<Started, SupervisorError> {
        let Children::Static(list) = &mut self.children else { return Err(SupervisorError::SimpleOneForOne) };
        let i = list.position(id).ok_or(SupervisorError::NotFound)?;
        match list.get(i).state {
            ChildState::Running(_) => return Err(SupervisorError::Running),
            ChildState::Restarting => return Err(SupervisorError::Restarting),
            ChildState::Undefined => {}
        }
        let spec = list.get(i).spec.clone();
        let started = start(cx, &spec, &OwnedTerm::Nil).await.map_err(SupervisorError::Start)?;
        if let Started::Pid(pid) = started {
            list.set_state(i, ChildState::Running(pid));
        }
        Ok(started)
    }

    fn delete_child(&mut self, id: Atom) -> Result<(), SupervisorError> {
        let Children::Static(list) = &mut self.children else { return Err(SupervisorError::SimpleOneForOne) };
        let i = list.position(id).ok_or(SupervisorError::NotFound)?;
        match list.get(i).state {
            ChildState::Running(_) => Err(SupervisorError::Running),
            ChildState::Restarting => Err(SupervisorError::Restarting),
            ChildState::Undefined => {
                list.remove(i);
                Ok(())
            }
        }
    }
}

impl GenServer for Supervisor {
    async fn init(&mut self, cx: &mut Cx) -> Init {
        cx.trap_exit(true);
        let specs = std::mem::take(&mut self.specs);
        if self.flags.strategy == Strategy::SimpleOneForOne {
            let Ok([template]) = <[ChildSpec; 1]>::try_from(specs) else {
                return Init::Stop(tagged(
                    "start_spec",
                    OwnedTerm::atom("simple_one_for_one_needs_one_spec"),
                ));
            };
            self.children = Children::Dynamic(DynamicChildren::new(template));
            return Init::Ok;
        }
        let mut list = match StaticChildren::new(specs) {
            Ok(list) => list,
            Err(id) => {
                let duplicate =
                    OwnedTerm::tuple(vec![OwnedTerm::atom("duplicate_child_name"), OwnedTerm::Atom(id)]);
                return Init::Stop(tagged("start_spec", duplicate));
            }
        };
        let started = Self::start_static(cx, &mut list, 0, None).await;
        if let Err((i, why)) = started {
            let id = list.get(i).spec.id;
            Self::terminate_static(cx, &mut list, 0).await;
            let failed = OwnedTerm::tuple(vec![
                OwnedTerm::atom("failed_to_start_child"),
                OwnedTerm::Atom(id),
                why.to_term(),
            ]);
            return Init::Stop(tagged("shutdown", failed));
        }
        self.children = Children::Static(list);
        Init::Ok
    }

    async fn handle_call(&mut self, cx: &mut Cx, request: Root, _from: Caller) -> CallResult {
        let request = cx.with(|h| Request::read(h.get(&request)));
        let Some(request) = request else {
            return CallResult::reply(|h| h.tuple(&[h.atom(Atom::ERROR), h.atom_named("badarg")]));
        };
        match request {
            Request::WhichChildren => {
                let children = self.which_children();
                CallResult::reply(move |h| protocol::children_term(h, &children))
            }
            Request::CountChildren => {
                let counts = self.count_children(cx);
                CallResult::reply(move |h| protocol::counts_term(h, &counts))
            }
            Request::StartChild(reference) => {
                let result = match parcel::take::<ChildSpec>(reference) {
                    Some(spec) => self.start_child(cx, spec).await,
                    None => Err(SupervisorError::Start(ExitReason::atom("badarg"))),
                };
                CallResult::reply(move |h| protocol::started_term(h, &result))
            }
            Request::StartDynamicChild(args) => {
                let result = self.start_dynamic_child(cx, args).await;
                CallResult::reply(move |h| protocol::started_term(h, &result))
            }
            Request::TerminateChild(child) => {
                let result = self.terminate_child(cx, child).await;
                CallResult::reply(move |h| protocol::done_term(h, &result))
            }
            Request::RestartChild(id) => {
                let result = self.restart_child(cx, id).await;
                CallResult::reply(move |h| protocol::started_term(h, &result))
            }
            Request::DeleteChild(id) => {
                let result = self.delete_child(id);
                CallResult::reply(move |h| protocol::done_term(h, &result))
            }
        }
    }

    async fn handle_cast(&mut self, cx: &mut Cx, request: Root) -> CastResult {
        match cx.with(|h| protocol::read_try_again(h.get(&request))) {
            Some(child) if self.is_restarting(child) => self.restart(cx, child).await,
            _ => CastResult::NoReply,
        }
    }

    async fn handle_info(&mut self, cx: &mut Cx, message: Root) -> CastResult {
        let exit = cx.with(|h| read_exit(h.get(&message)).map(|(pid, why)| (pid, reason(why))));
        drop(message);
        match exit {
            Some((pid, why)) => self.child_exited(cx, pid, why).await,
            // OTP logs an unexpected message and goes on.
            None => CastResult::NoReply,
        }
    }

    async fn terminate(&mut self, cx: &mut Cx, _reason: &ExitReason) {
        match &mut self.children {
            Children::Static(list) => Self::terminate_static(cx, list, 0).await,
            Children::Dynamic(dynamic) => {
                let running: Vec<_> = dynamic.iter().filter_map(|(_, state)| state.pid()).collect();
                shutdown_all(cx, running, dynamic.template.shutdown).await;
            }
        }
    }
}
