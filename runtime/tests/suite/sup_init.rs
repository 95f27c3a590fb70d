//! Starting a supervisor, against OTP's `supervisor:init/1` and `supervisor_SUITE`: the
//! init callback's three answers and its crash, flags and child specs refused with OTP's
//! reasons, and start functions that panic. Every failed start leaves no process behind
//! and, for a starter that traps exits, no message.

use std::time::Duration;

use crate::common::{assert_drains, guarded};
use crate::sup_support::{drain, runtime, worker, worker_with, Log, OnShutdown};
use heaplab_runtime::gen_server::{StartResult, Started};
use heaplab_runtime::heaplab_gc::{Atom, OwnedTerm};
use heaplab_runtime::supervisor::{
    self, start_fn, AutoShutdown, ChildCounts, ChildSpec, Flags, Restart, Strategy, Supervisor,
    SupervisorError, SupervisorInit,
};
use heaplab_runtime::{receive, Cx, ExitReason};

/// A callback that answers `init` as told, logging that it ran.
struct Callback {
    log: Log,
    answer: Answer,
}

/// What [`Callback::init`] does.
#[derive(Clone)]
enum Answer {
    Start(Flags, Vec<ChildSpec>),
    Ignore,
    Error(OwnedTerm),
    Panic,
}

impl Supervisor for Callback {
    async fn init(&mut self, cx: &mut Cx) -> SupervisorInit {
        self.log.push(format!("init trapping={}", cx.trap_exit(true)));
        match self.answer.clone() {
            Answer::Start(flags, children) => SupervisorInit::Ok(flags, children),
            Answer::Ignore => SupervisorInit::Ignore,
            Answer::Error(term) => SupervisorInit::Error(term),
            Answer::Panic => panic!("init crashed"),
        }
    }
}

/// Starts a supervisor answering `answer` from a process that traps exits; returns the
/// start's result, what is left in that process's mailbox, and the callback's log. No
/// process may be left once the starter has returned.
fn start_with(answer: Answer) -> (StartResult, Vec<OwnedTerm>, Vec<String>) {
    let log = Log::default();
    let callback = Callback { log: log.clone(), answer };
    let (result, left) = guarded(move || {
        let rt = runtime();
        let out = rt
            .block_on(move |mut cx| async move {
                cx.trap_exit(true);
                let result = supervisor::start_link_with(&mut cx, callback).await;
                if let Ok(Started::Pid(sup)) = result {
                    supervisor::which_children(&mut cx, sup).await.unwrap();
                    heaplab_runtime::gen_server::stop(&mut cx, sup).await.unwrap();
                }
                cx.sleep(Duration::from_millis(10)).await;
                (result, drain(&mut cx).await)
            })
            .unwrap();
        assert_drains(&rt, 0);
        out
    });
    (result, left, log.entries())
}

/// Starts a supervisor answering `answer` from a process that does not trap exits, and
/// returns the reason that process died with: the supervisor's own exit reason, carried
/// by the link (OTP: "the supervisor terminates with reason Term").
fn exit_reason_of_a_failed_start(answer: Answer) -> ExitReason {
    let callback = Callback { log: Log::default(), answer };
    guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                let (_, monitor) = cx
                    .spawn_monitor(move |mut cx| async move {
                        let _ = supervisor::start_link_with(&mut cx, callback).await;
                        cx.receive(|_, _| None::<()>).await
                    })
                    .unwrap();
                receive!(cx, { {DOWN, ^monitor, process, _, reason: ExitReason} => reason })
            })
            .unwrap()
    })
}

fn tuple(items: Vec<OwnedTerm>) -> OwnedTerm {
    OwnedTerm::tuple(items)
}

fn atom(name: &str) -> OwnedTerm {
    OwnedTerm::atom(name)
}

/// `init` returning `{ok, {Flags, Specs}}` (supervisor:init/1): the children start in
/// order, after the supervisor traps exits (the callback sees `trap_exit` already set).
#[test]
fn an_init_callback_gives_the_flags_and_children() {
    let children = Log::default();
    let specs = vec![worker("a", &children), worker("b", &children)];
    let (result, left, log) = start_with(Answer::Start(Flags::new(Strategy::OneForAll), specs));
    assert!(matches!(result, Ok(Started::Pid(_))), "{result:?}");
    assert_eq!(left.len(), 1, "the stopped supervisor's 'EXIT' alone: {left:?}");
    assert_eq!(log, ["init trapping=true"]);
    assert_eq!(children.entries(), ["start a", "start b"]);
}

/// `sup_start_ignore_init`: `ignore = start_link(ignore)` and the supervisor exits `normal`.
#[test]
fn init_ignore_starts_nothing() {
    let (result, left, log) = start_with(Answer::Ignore);
    assert_eq!(result, Ok(Started::Ignore));
    assert_eq!(left, vec![]);
    assert_eq!(log, ["init trapping=true"]);
}

/// `sup_start_error_return`: an `init` that returns anything else fails the start with
/// `{error, {bad_return, {Module, init, Returned}}}`, and the supervisor exits with it.
#[test]
fn init_error_fails_the_start_with_bad_return() {
    let returned = tuple(vec![atom("no"), OwnedTerm::Int(1)]);
    let expected = ExitReason::Other(tuple(vec![
        atom("bad_return"),
        tuple(vec![atom("Callback"), atom("init"), returned.clone()]),
    ]));
    let (result, left, _) = start_with(Answer::Error(returned.clone()));
    assert_eq!(result, Err(expected.clone()));
    assert_eq!(left, vec![]);
    assert_eq!(exit_reason_of_a_failed_start(Answer::Error(returned)), expected);
}

/// `sup_start_fail`: an `init` that crashes fails the start with the crash's reason, and
/// the supervisor exits with it (here a panic, `{panic, Message}`).
#[test]
fn a_crash_in_init_fails_the_start_with_its_reason() {
    let expected = ExitReason::Panic("init crashed".into());
    let (result, left, _) = start_with(Answer::Panic);
    assert_eq!(result, Err(expected.clone()));
    assert_eq!(left, vec![]);
    assert_eq!(exit_reason_of_a_failed_start(Answer::Panic), expected);
}

/// `sup_flags`: a period of 0 is refused, `{error, {supervisor_data, {invalid_period, _}}}`,
/// before any child starts, and no process is left. (The intensity is a `u32`: OTP's
/// negative `invalid_intensity` cannot be written.)
#[test]
fn invalid_flags_are_refused_before_any_child_starts() {
    let children = Log::default();
    let flags = Flags::new(Strategy::OneForOne).period(Duration::ZERO);
    let (result, left, _) = start_with(Answer::Start(flags, vec![worker("a", &children)]));
    let invalid = tuple(vec![atom("invalid_period"), OwnedTerm::Int(0)]);
    assert_eq!(result, Err(ExitReason::Other(tuple(vec![atom("supervisor_data"), invalid]))));
    assert_eq!(left, vec![]);
    assert_eq!(children.entries(), Vec::<String>::new(), "no child started");
    // The same through start_link, which takes the flags directly.
    let refused = guarded(move || {
        let rt = runtime();
        let refused = rt
            .block_on(move |mut cx| async move {
                cx.trap_exit(true);
                let zero = Flags::new(Strategy::SimpleOneForOne).period(Duration::ZERO);
                supervisor::start_link(&mut cx, zero, vec![]).await
            })
            .unwrap();
        assert_drains(&rt, 0);
        refused
    });
    assert_eq!(refused.unwrap_err().to_string(), "{supervisor_data,{invalid_period,0}}");
}

/// `child_specs` in supervisor_SUITE: a `simple_one_for_one` supervisor needs exactly one
/// spec, `{error, {bad_start_spec, Specs}}` (here the specs by id).
#[test]
fn simple_one_for_one_needs_exactly_one_spec() {
    let log = Log::default();
    let simple = Flags::new(Strategy::SimpleOneForOne);
    let (none, _, _) = start_with(Answer::Start(simple, vec![]));
    let (two, left, _) = start_with(Answer::Start(simple, vec![worker("a", &log), worker("b", &log)]));
    let bad = |ids: Vec<OwnedTerm>| {
        Err(ExitReason::Other(tuple(vec![atom("bad_start_spec"), OwnedTerm::list(ids)])))
    };
    assert_eq!(none, bad(vec![]));
    assert_eq!(two, bad(vec![atom("a"), atom("b")]));
    assert_eq!(left, vec![]);
}

/// `check_childspec` (OTP 24 `significant`): a significant child needs an automatic
/// shutdown and a restart type other than permanent; refused at init as
/// `{start_spec, {bad_combination, ...}}`, and by start_child as `{error, {bad_combination,
/// ...}}`, with the supervisor running on.
#[test]
fn significant_children_need_auto_shutdown_and_no_permanent_restart() {
    let log = Log::default();
    let significant = worker("s", &log).restart(Restart::Transient).significant(true);
    let pair = |k: &str, v: &str| tuple(vec![atom(k), atom(v)]);
    let combination = |k: &str, v: &str| {
        tuple(vec![atom("bad_combination"), OwnedTerm::list(vec![pair(k, v), pair("significant", "true")])])
    };
    let never = Flags::new(Strategy::OneForOne);
    let (result, _, _) = start_with(Answer::Start(never, vec![significant.clone()]));
    let start_spec = |why| Err(ExitReason::Other(tuple(vec![atom("start_spec"), why])));
    assert_eq!(result, start_spec(combination("auto_shutdown", "never")));
    let any = never.auto_shutdown(AutoShutdown::AnySignificant);
    let permanent = significant.clone().restart(Restart::Permanent);
    let (result, _, _) = start_with(Answer::Start(any, vec![permanent.clone()]));
    assert_eq!(result, start_spec(combination("restart", "permanent")));
    let refused = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                let sup = supervisor::start_link(&mut cx, never, vec![]).await.unwrap().pid().unwrap();
                let refused = supervisor::start_child(&mut cx, sup, significant).await;
                assert_eq!(supervisor::count_children(&mut cx, sup).await, Ok(ChildCounts::default()));
                refused
            })
            .unwrap()
    });
    assert_eq!(
        refused,
        Err(SupervisorError::Start(ExitReason::Other(combination("auto_shutdown", "never"))))
    );
    assert_eq!(log.entries(), Vec::<String>::new(), "no significant child started");
}

/// A start function that panics is a failed start, as OTP's `do_start_child_i` catches a
/// start function that raises (`{error, {'EXIT', Reason}}`): at init the children started
/// before it are stopped and the start fails with `{shutdown, {failed_to_start_child, Id,
/// {'EXIT', {panic, Message}}}}`; by start_child it is an error and the supervisor runs on.
#[test]
fn a_start_function_that_panics_fails_that_start_only() {
    let log = Log::default();
    let panicking = || ChildSpec::new("bad", start_fn(|_, _| Box::pin(async { panic!("boom") })));
    let children = vec![worker_with("a", &log, OnShutdown::Clean), panicking()];
    let spec = panicking();
    let (at_init, left, at_runtime, alive) = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                cx.trap_exit(true);
                let at_init = supervisor::start_link(&mut cx, Flags::default(), children).await;
                let left = drain(&mut cx).await;
                let sup =
                    supervisor::start_link(&mut cx, Flags::default(), vec![]).await.unwrap().pid().unwrap();
                let at_runtime = supervisor::start_child(&mut cx, sup, spec).await;
                let alive = supervisor::count_children(&mut cx, sup).await.is_ok();
                (at_init, left, at_runtime, alive)
            })
            .unwrap()
    });
    let crashed = tuple(vec![atom("EXIT"), ExitReason::Panic("boom".into()).to_term()]);
    let failed = tuple(vec![atom("failed_to_start_child"), atom("bad"), crashed.clone()]);
    assert_eq!(at_init, Err(ExitReason::Other(tuple(vec![atom("shutdown"), failed]))));
    assert_eq!(left, vec![]);
    assert_eq!(log.entries(), ["start a", "stop a"]);
    assert_eq!(at_runtime, Err(SupervisorError::Start(ExitReason::Other(crashed))));
    assert!(alive, "the supervisor survived the panicking start function");
}

/// A supervisor child whose own supervisor is given by a callback
/// (`ChildSpec::supervisor_with`), registered under a name the callback reads.
#[test]
fn a_callback_supervisor_can_be_a_child() {
    struct Inner(Log);

    impl Supervisor for Inner {
        async fn init(&mut self, cx: &mut Cx) -> SupervisorInit {
            cx.register(Atom::new("sup_init_inner")).unwrap();
            SupervisorInit::Ok(Flags::default(), vec![worker("leaf", &self.0)])
        }
    }

    let log = Log::default();
    let inner_log = log.clone();
    let counts = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                let child = ChildSpec::supervisor_with("inner", move || Inner(inner_log.clone()));
                supervisor::start_link(&mut cx, Flags::default(), vec![child]).await.unwrap();
                supervisor::count_children(&mut cx, "sup_init_inner").await.unwrap()
            })
            .unwrap()
    });
    assert_eq!(counts, ChildCounts { specs: 1, active: 1, supervisors: 0, workers: 1 });
    assert_eq!(log.entries()[0], "start leaf");
}
