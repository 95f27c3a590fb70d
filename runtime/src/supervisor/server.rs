//! The supervisor process: a [`GenServer`] that traps exits, asks its callback for flags
//! and children, starts the children, restarts them by its strategy when they exit, and
//! stops them when it stops (OTP's `supervisor` is a `gen_server` in the same way).
//!
//! # Protocol (start, OTP's `supervisor:init/1`)
//! 1. Trap exits, then run the callback's `init` (behaviour Invariant 1).
//! 2. Refuse invalid flags with `{supervisor_data, Reason}` ([`Flags::check`]).
//! 3. `simple_one_for_one`: exactly one spec, the template, or `{bad_start_spec, Ids}`;
//!    otherwise every spec valid ([`ChildSpec::check`]) and ids unique, or
//!    `{start_spec, Reason}`.
//! 4. Start the static children in order; if one fails, stop those started (in reverse)
//!    and fail with `{shutdown, {failed_to_start_child, Id, Reason}}`. A start function
//!    that panics fails with `{'EXIT', {panic, Message}}`, as OTP reports a start function
//!    that raised (`do_start_child_i`, `catch apply(M, F, A)`).
//!
//! # Protocol (a child exits: `{'EXIT', Child, Reason}`)
//! 1. An exit from a process that is not a current child is ignored (a child restarted or
//!    terminated meanwhile, or a stranger).
//! 2. If the child's restart type does not call for a restart (see
//!    [`strategy::restarts`]), a temporary child is removed and any other is marked
//!    `undefined`; then, if the child was significant, the automatic shutdown decides
//!    whether the supervisor stops with `shutdown` (OTP's `do_auto_shutdown/2`).
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
//!    restarts and at the supervisor's own exit; `which_children` lists them most recently
//!    added first, as OTP keeps its child ids (`save_child/2` prepends).
//!
//! Not modelled (known compromises): reports to a logger (there is none), the child spec
//! in the error of a failed `start_child` (OTP's `{error, {Reason, Child}}`), and
//! `get_childspec`/`check_childspecs`.

use std::sync::Arc;
use std::time::Instant;

use heaplab_gc::{Atom, OwnedTerm, Pid, Root};

use crate::context::Cx;
use crate::exit::ExitReason;
use crate::gen_server::protocol::{read_exit, reason};
use crate::gen_server::{self, CallResult, CastResult, CatchPanic, GenServer, StartResult, Started};

use super::api::{ChildCounts, ChildInfo, ChildRef, SupervisorError};
use super::behaviour::{self, Supervisor, SupervisorInit};
use super::children::{ChildState, DynamicChildren, StaticChildren};
use super::intensity::{Intensity, Verdict};
use super::parcel;
use super::protocol::{self, Request};
use super::shutdown::{shutdown, shutdown_all};
use super::spec::{AutoShutdown, ChildSpec, ChildType, Flags, Restart, Strategy};
use super::strategy;

/// The children, by kind of supervisor.
enum Children {
    /// `one_for_one`, `one_for_all`, `rest_for_one`.
    Static(StaticChildren),
    /// `simple_one_for_one`.
    Dynamic(DynamicChildren),
}

/// A supervisor process: its callback and, once `init` ran, its state.
pub(crate) struct SupervisorServer<C> {
    callback: C,
    state: State,
}

impl<C: Supervisor> SupervisorServer<C> {
    pub(crate) fn new(callback: C) -> SupervisorServer<C> {
        // Replaced by `init` before any request is served.
        let flags = Flags::default();
        let state = State {
            flags,
            children: Children::Static(StaticChildren::default()),
            intensity: Intensity::new(flags.intensity, flags.period),
        };
        SupervisorServer { callback, state }
    }
}

/// What a supervisor keeps: its flags, children and restart history.
struct State {
    flags: Flags,
    children: Children,
    intensity: Intensity,
}

/// Runs a child's start function; a panic in it is a failed start (start Protocol step 4).
async fn start(cx: &mut Cx, spec: &ChildSpec, args: &OwnedTerm) -> StartResult {
    let start = Arc::clone(&spec.start);
    match CatchPanic::new(start(cx, args)).await {
        Ok(started) => started,
        Err(message) => Err(ExitReason::Other(OwnedTerm::tuple(vec![
            OwnedTerm::atom("EXIT"),
            ExitReason::Panic(message).to_term(),
        ]))),
    }
}

/// `{Tag, Value}` as an exit reason.
fn tagged(tag: &str, value: OwnedTerm) -> ExitReason {
    ExitReason::Other(OwnedTerm::tuple(vec![OwnedTerm::atom(tag), value]))
}

impl State {
    /// Start Protocol steps 2 to 4.
    async fn start(cx: &mut Cx, flags: Flags, specs: Vec<ChildSpec>) -> Result<State, ExitReason> {
        flags.check().map_err(|why| tagged("supervisor_data", why))?;
        let auto_shutdown = flags.auto_shutdown;
        let children = if flags.strategy == Strategy::SimpleOneForOne {
            let template = match <[ChildSpec; 1]>::try_from(specs) {
                Ok([template]) => template,
                Err(specs) => {
                    let ids = specs.iter().map(|spec| OwnedTerm::Atom(spec.id)).collect();
                    return Err(tagged("bad_start_spec", OwnedTerm::list(ids)));
                }
            };
            template.check(auto_shutdown).map_err(|why| tagged("start_spec", why))?;
            Children::Dynamic(DynamicChildren::new(template))
        } else {
            let duplicate = |id: Atom| {
                OwnedTerm::tuple(vec![OwnedTerm::atom("duplicate_child_name"), OwnedTerm::Atom(id)])
            };
            // In list order, as OTP's `check_startspec/2`: the first bad spec is reported.
            for (i, spec) in specs.iter().enumerate() {
                spec.check(auto_shutdown).map_err(|why| tagged("start_spec", why))?;
                if specs[..i].iter().any(|earlier| earlier.id == spec.id) {
                    return Err(tagged("start_spec", duplicate(spec.id)));
                }
            }
            let mut list = StaticChildren::new(specs).map_err(|id| tagged("start_spec", duplicate(id)))?;
            if let Err((i, why)) = Self::start_static(cx, &mut list, 0, None).await {
                let id = list.get(i).spec.id;
                Self::terminate_static(cx, &mut list, 0).await;
                let failed = OwnedTerm::tuple(vec![
                    OwnedTerm::atom("failed_to_start_child"),
                    OwnedTerm::Atom(id),
                    why.to_term(),
                ]);
                return Err(tagged("shutdown", failed));
            }
            Children::Static(list)
        };
        Ok(State { flags, children, intensity: Intensity::new(flags.intensity, flags.period) })
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

    /// Casts `{try_again_restart, Child}` to this supervisor (exit Protocol step 5).
    fn try_again(cx: &mut Cx, child: ChildRef) {
        let me = cx.self_pid();
        gen_server::cast(cx, me, |h| protocol::try_again(h, child));
    }

    /// Exit Protocol steps 3 to 5 for `child`.
    async fn restart(&mut self, cx: &mut Cx, child: ChildRef) -> CastResult {
        // Exit Protocol step 3.
        if self.intensity.add_restart(Instant::now()) == Verdict::Exceeded {
            return CastResult::Stop(ExitReason::Shutdown);
        }
        match (&mut self.children, child) {
            (Children::Static(list), ChildRef::Id(id)) => {
                let Some(failed) = list.position(id) else { return CastResult::NoReply };
                // Exit Protocol step 4.
                let involved = strategy::involved(self.flags.strategy, failed, list.len());
                if involved.len() > 1 {
                    Self::terminate_static(cx, list, involved.start).await;
                }
                let to = (self.flags.strategy == Strategy::OneForOne).then_some(failed + 1);
                // Exit Protocol step 5.
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

    /// Exit Protocol steps 1 and 2, then the restart.
    async fn child_exited(&mut self, cx: &mut Cx, pid: Pid, reason: ExitReason) -> CastResult {
        // The child to restart, or, when it is not restarted, whether it was significant.
        let restart = match &mut self.children {
            Children::Static(list) => {
                let Some(i) = list.position_of_pid(pid) else { return CastResult::NoReply };
                let spec = &list.get(i).spec;
                let (id, restart, significant) = (spec.id, spec.restart, spec.significant);
                if restart == Restart::Temporary {
                    list.remove(i);
                } else {
                    list.set_state(i, ChildState::Undefined);
                }
                if strategy::restarts(restart, &reason) {
                    Ok(ChildRef::Id(id))
                } else {
                    Err(significant)
                }
            }
            Children::Dynamic(dynamic) => {
                if dynamic.get(pid).is_none() {
                    return CastResult::NoReply;
                }
                if strategy::restarts(dynamic.template.restart, &reason) {
                    Ok(ChildRef::Pid(pid))
                } else {
                    dynamic.remove(pid);
                    Err(dynamic.template.significant)
                }
            }
        };
        match restart {
            Ok(child) => self.restart(cx, child).await,
            Err(significant) => self.auto_shutdown(significant),
        }
    }

    /// Exit Protocol step 2, the automatic shutdown after a child that was not restarted.
    fn auto_shutdown(&self, significant: bool) -> CastResult {
        let stop = significant
            && match self.flags.auto_shutdown {
                AutoShutdown::Never => false,
                AutoShutdown::AnySignificant => true,
                // No significant child left with a process (running, or being restarted).
                AutoShutdown::AllSignificant => match &self.children {
                    Children::Static(list) => {
                        !list.iter().any(|c| c.spec.significant && c.state != ChildState::Undefined)
                    }
                    Children::Dynamic(dynamic) => dynamic.len() == 0,
                },
            };
        if stop {
            CastResult::Stop(ExitReason::Shutdown)
        } else {
            CastResult::NoReply
        }
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

    /// Static children most recently added first (Invariant 2); dynamic ones in no order.
    fn which_children(&self) -> Vec<ChildInfo> {
        match &self.children {
            Children::Static(list) => list
                .iter()
                .rev()
                .map(|c| ChildInfo { id: Some(c.spec.id), child: c.state, child_type: c.spec.child_type })
                .collect(),
            Children::Dynamic(dynamic) => {
                let child_type = dynamic.template.child_type;
                dynamic.iter().map(|(_, child)| ChildInfo { id: None, child, child_type }).collect()
            }
        }
    }

    /// OTP's `count_children`: a static supervisor counts its specs and the live processes;
    /// a `simple_one_for_one` one counts its template as one spec, its children (those being
    /// restarted included) by the template's type, and those not being restarted as active.
    fn count_children(&self, cx: &Cx) -> ChildCounts {
        let mut counts = ChildCounts::default();
        let mut count_type = |child_type, n| match child_type {
            ChildType::Worker => counts.workers += n,
            ChildType::Supervisor => counts.supervisors += n,
        };
        match &self.children {
            Children::Static(list) => {
                for child in list.iter() {
                    count_type(child.spec.child_type, 1);
                }
                counts.specs = list.len();
                counts.active =
                    list.iter().filter(|c| c.state.pid().is_some_and(|pid| cx.is_alive(pid))).count();
            }
            Children::Dynamic(dynamic) => {
                count_type(dynamic.template.child_type, dynamic.len());
                counts.specs = 1;
                counts.active = dynamic.iter().filter(|(_, state)| state.pid().is_some()).count();
            }
        }
        counts
    }

    async fn start_child(&mut self, cx: &mut Cx, spec: ChildSpec) -> Result<Started, SupervisorError> {
        let Children::Static(list) = &mut self.children else { return Err(SupervisorError::SimpleOneForOne) };
        spec.check(self.flags.auto_shutdown).map_err(|why| SupervisorError::Start(ExitReason::Other(why)))?;
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
            (Children::Dynamic(dynamic), ChildRef::Pid(pid)) => match dynamic.get(pid) {
                Some(child) => {
                    if !child.restarting {
                        let _ = shutdown(cx, pid, dynamic.template.shutdown).await;
                    }
                    dynamic.remove(pid);
                    Ok(())
                }
                // OTP's `find_child/2`: a process that is not a child is not found while it
                // lives; once it has exited there is nothing to terminate, which is `ok`.
                None if cx.is_alive(pid) => Err(SupervisorError::NotFound),
                None => Ok(()),
            },
            (Children::Dynamic(_), ChildRef::Id(_)) => Err(SupervisorError::SimpleOneForOne),
        }
    }

    /// The position of the static child `child` names, for `restart_child` and
    /// `delete_child`: a pid names no static child (OTP looks the id up as given).
    fn static_position(&mut self, child: ChildRef) -> Result<(&mut StaticChildren, usize), SupervisorError> {
        let Children::Static(list) = &mut self.children else { return Err(SupervisorError::SimpleOneForOne) };
        let ChildRef::Id(id) = child else { return Err(SupervisorError::NotFound) };
        let i = list.position(id).ok_or(SupervisorError::NotFound)?;
        match list.get(i).state {
            ChildState::Running(_) => Err(SupervisorError::Running),
            ChildState::Restarting => Err(SupervisorError::Restarting),
            ChildState::Undefined => Ok((list, i)),
        }
    }

    async fn restart_child(&mut self, cx: &mut Cx, child: ChildRef) -> Result<Started, SupervisorError> {
        let (list, i) = self.static_position(child)?;
        let spec = list.get(i).spec.clone();
        let started = start(cx, &spec, &OwnedTerm::Nil).await.map_err(SupervisorError::Start)?;
        if let Started::Pid(pid) = started {
            list.set_state(i, ChildState::Running(pid));
        }
        Ok(started)
    }

    fn delete_child(&mut self, child: ChildRef) -> Result<(), SupervisorError> {
        let (list, i) = self.static_position(child)?;
        list.remove(i);
        Ok(())
    }

    async fn handle_call(&mut self, cx: &mut Cx, request: Root) -> CallResult {
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
            Request::RestartChild(child) => {
                let result = self.restart_child(cx, child).await;
                CallResult::reply(move |h| protocol::started_term(h, &result))
            }
            Request::DeleteChild(child) => {
                let result = self.delete_child(child);
                CallResult::reply(move |h| protocol::done_term(h, &result))
            }
        }
    }

    async fn terminate(&mut self, cx: &mut Cx) {
        match &mut self.children {
            Children::Static(list) => Self::terminate_static(cx, list, 0).await,
            Children::Dynamic(dynamic) => {
                let running: Vec<_> = dynamic.iter().filter_map(|(_, state)| state.pid()).collect();
                shutdown_all(cx, running, dynamic.template.shutdown).await;
            }
        }
    }
}

impl<C: Supervisor> GenServer for SupervisorServer<C> {
    /// Start Protocol.
    async fn init(&mut self, cx: &mut Cx) -> gen_server::Init {
        cx.trap_exit(true);
        let (flags, specs) = match self.callback.init(cx).await {
            SupervisorInit::Ok(flags, specs) => (flags, specs),
            SupervisorInit::Ignore => return gen_server::Init::Ignore,
            SupervisorInit::Error(returned) => {
                let module = OwnedTerm::Atom(behaviour::module_name::<C>());
                let bad = OwnedTerm::tuple(vec![module, OwnedTerm::atom("init"), returned]);
                return gen_server::Init::Stop(tagged("bad_return", bad));
            }
        };
        match State::start(cx, flags, specs).await {
            Ok(state) => {
                self.state = state;
                gen_server::Init::Ok
            }
            Err(reason) => gen_server::Init::Stop(reason),
        }
    }

    async fn handle_call(&mut self, cx: &mut Cx, request: Root, _from: gen_server::Caller) -> CallResult {
        self.state.handle_call(cx, request).await
    }

    async fn handle_cast(&mut self, cx: &mut Cx, request: Root) -> CastResult {
        match cx.with(|h| protocol::read_try_again(h.get(&request))) {
            Some(child) if self.state.is_restarting(child) => self.state.restart(cx, child).await,
            _ => CastResult::NoReply,
        }
    }

    async fn handle_info(&mut self, cx: &mut Cx, message: Root) -> CastResult {
        let exit = cx.with(|h| read_exit(h.get(&message)).map(|(pid, why)| (pid, reason(why))));
        drop(message);
        match exit {
            Some((pid, why)) => self.state.child_exited(cx, pid, why).await,
            // OTP logs an unexpected message and goes on.
            None => CastResult::NoReply,
        }
    }

    async fn terminate(&mut self, cx: &mut Cx, _reason: &ExitReason) {
        self.state.terminate(cx).await;
    }
}
