//! Managing a supervisor's children at run time, against OTP's `supervisor`: `start_child`,
//! `terminate_child`, `restart_child`, `delete_child`, `which_children`, `count_children`,
//! start failures, registered names, and a gen_server child found by name after a restart.

use std::time::Duration;

use crate::common::guarded;
use crate::sup_support::{child_pid, drain, restarted, runtime, worker, worker_with, Log, OnShutdown};
use heaplab_runtime::gen_server::{self, CallResult, Caller, GenServer, Server, Started};
use heaplab_runtime::heaplab_gc::{Atom, OwnedTerm, Pid, Root};
use heaplab_runtime::supervisor::{
    self, start_fn, ChildCounts, ChildSpec, ChildState, Flags, Restart, Strategy, SupervisorError,
};
use heaplab_runtime::{Cx, ExitReason};

async fn start(cx: &mut Cx, children: Vec<ChildSpec>) -> Pid {
    supervisor::start_link(cx, Flags::default().intensity(10), children)
        .await
        .expect("supervisor starts")
        .pid()
        .unwrap()
}

async fn ids(cx: &mut Cx, sup: Pid) -> Vec<&'static str> {
    let children = supervisor::which_children(cx, sup).await.unwrap();
    children.iter().map(|c| c.id.unwrap().name()).collect()
}

/// A child whose start function fails with `reason`, or returns `ignore` if `reason` is
/// `None`.
fn unstartable(id: &str, reason: Option<ExitReason>) -> ChildSpec {
    ChildSpec::new(
        id,
        start_fn(move |_, _| {
            let result = reason.clone().map_or(Ok(Started::Ignore), Err);
            Box::pin(std::future::ready(result))
        }),
    )
}

/// supervisor:start_child/2 adds the child after the others in start order; which_children
/// lists the most recently started first (`sup_start_ignore_child` in supervisor_SUITE:
/// `[{child2, ...}, {child1, ...}]` after starting child1, then child2).
#[test]
fn start_child_adds_a_child_after_the_others() {
    let log = Log::default();
    let children = vec![worker("a", &log), worker("b", &log)];
    let spec = worker("c", &log);
    let (started, order) = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                let sup = start(&mut cx, children).await;
                let started = supervisor::start_child(&mut cx, sup, spec).await.unwrap();
                assert_eq!(child_pid(&mut cx, sup, "c").await, started.pid());
                (started, ids(&mut cx, sup).await)
            })
            .unwrap()
    });
    assert!(started.pid().is_some());
    assert_eq!(order, ["c", "b", "a"]);
}

#[test]
fn start_child_refuses_an_id_in_use() {
    let log = Log::default();
    let children = vec![worker("a", &log)];
    let again = worker("a", &log);
    guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                let sup = start(&mut cx, children).await;
                let a = child_pid(&mut cx, sup, "a").await.unwrap();
                let running = supervisor::start_child(&mut cx, sup, again.clone()).await;
                assert_eq!(running, Err(SupervisorError::AlreadyStarted(a)));
                supervisor::terminate_child(&mut cx, sup, "a").await.unwrap();
                let stopped = supervisor::start_child(&mut cx, sup, again).await;
                assert_eq!(stopped, Err(SupervisorError::AlreadyPresent));
            })
            .unwrap()
    });
}

#[test]
fn start_child_with_a_failing_start_keeps_nothing() {
    let failing = unstartable("f", Some(ExitReason::atom("broken")));
    let (result, order) = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                let sup = start(&mut cx, vec![]).await;
                let result = supervisor::start_child(&mut cx, sup, failing).await;
                (result, ids(&mut cx, sup).await)
            })
            .unwrap()
    });
    assert_eq!(result, Err(SupervisorError::Start(ExitReason::atom("broken"))));
    assert!(order.is_empty());
}

#[test]
fn an_ignored_start_keeps_the_spec_unless_temporary() {
    let kept = unstartable("kept", None);
    let dropped = unstartable("dropped", None).restart(Restart::Temporary);
    let (results, listed) = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                let sup = start(&mut cx, vec![]).await;
                let results = [
                    supervisor::start_child(&mut cx, sup, kept).await,
                    supervisor::start_child(&mut cx, sup, dropped).await,
                ];
                let listed = supervisor::which_children(&mut cx, sup).await.unwrap();
                (results, listed.iter().map(|c| (c.id.unwrap().name(), c.child)).collect::<Vec<_>>())
            })
            .unwrap()
    });
    assert_eq!(results, [Ok(Started::Ignore), Ok(Started::Ignore)]);
    assert_eq!(listed, [("kept", ChildState::Undefined)]);
}

#[test]
fn terminate_restart_and_delete_follow_the_child_state() {
    let log = Log::default();
    let children = vec![worker("a", &log), worker("b", &log)];
    guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                use SupervisorError::{NotFound, Running};
                let sup = start(&mut cx, children).await;
                let a = child_pid(&mut cx, sup, "a").await.unwrap();
                // Running: cannot be restarted or deleted.
                assert_eq!(supervisor::restart_child(&mut cx, sup, "a").await, Err(Running));
                assert_eq!(supervisor::delete_child(&mut cx, sup, "a").await, Err(Running));
                // Terminated: the spec stays, not running, and is not restarted.
                supervisor::terminate_child(&mut cx, sup, "a").await.unwrap();
                assert!(!cx.is_alive(a));
                cx.sleep(Duration::from_millis(20)).await;
                assert_eq!(child_pid(&mut cx, sup, "a").await, None);
                let counts = supervisor::count_children(&mut cx, sup).await.unwrap();
                assert_eq!(counts, ChildCounts { specs: 2, active: 1, supervisors: 0, workers: 2 });
                // Restarted by request: a new process.
                let again = supervisor::restart_child(&mut cx, sup, "a").await.unwrap().pid().unwrap();
                assert_ne!(again, a);
                assert_eq!(child_pid(&mut cx, sup, "a").await, Some(again));
                // Terminated again, then deleted: gone.
                supervisor::terminate_child(&mut cx, sup, "a").await.unwrap();
                supervisor::delete_child(&mut cx, sup, "a").await.unwrap();
                assert_eq!(ids(&mut cx, sup).await, ["b"]);
                // Unknown ids.
                assert_eq!(supervisor::terminate_child(&mut cx, sup, "a").await, Err(NotFound));
                assert_eq!(supervisor::restart_child(&mut cx, sup, "a").await, Err(NotFound));
                assert_eq!(supervisor::delete_child(&mut cx, sup, "a").await, Err(NotFound));
                let me = cx.self_pid();
                assert_eq!(supervisor::terminate_child(&mut cx, sup, me).await, Err(NotFound));
            })
            .unwrap()
    });
}

#[test]
fn terminating_a_temporary_child_removes_its_spec() {
    let log = Log::default();
    let children = vec![worker("t", &log).restart(Restart::Temporary), worker("p", &log)];
    let order = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                let sup = start(&mut cx, children).await;
                supervisor::terminate_child(&mut cx, sup, "t").await.unwrap();
                ids(&mut cx, sup).await
            })
            .unwrap()
    });
    assert_eq!(order, ["p"]);
}

#[test]
fn a_failing_child_fails_the_start_and_stops_the_children_started_before_it() {
    let log = Log::default();
    let children = vec![
        worker_with("a", &log, OnShutdown::Clean),
        worker_with("b", &log, OnShutdown::Clean),
        unstartable("bad", Some(ExitReason::atom("broken"))),
        worker_with("c", &log, OnShutdown::Clean),
    ];
    let (result, left) = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                cx.trap_exit(true);
                let result = supervisor::start_link(&mut cx, Flags::default(), children).await;
                (result, drain(&mut cx).await)
            })
            .unwrap()
    });
    let expected = OwnedTerm::tuple(vec![
        OwnedTerm::atom("shutdown"),
        OwnedTerm::tuple(vec![
            OwnedTerm::atom("failed_to_start_child"),
            OwnedTerm::atom("bad"),
            OwnedTerm::atom("broken"),
        ]),
    ]);
    assert_eq!(result, Err(ExitReason::Other(expected)));
    assert_eq!(left, vec![], "no 'EXIT' of the failed supervisor left behind");
    assert_eq!(log.entries(), ["start a", "start b", "stop b", "stop a"]);
}

#[test]
fn bad_specs_fail_the_start() {
    let log = Log::default();
    let duplicate = vec![worker("a", &log), worker("a", &log)];
    let two_templates = vec![worker("a", &log), worker("b", &log)];
    let (duplicate, two_templates) = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                cx.trap_exit(true);
                let duplicate = supervisor::start_link(&mut cx, Flags::default(), duplicate).await;
                let simple = Flags::new(Strategy::SimpleOneForOne);
                let two_templates = supervisor::start_link(&mut cx, simple, two_templates).await;
                (duplicate, two_templates)
            })
            .unwrap()
    });
    let start_spec =
        |why: OwnedTerm| Err(ExitReason::Other(OwnedTerm::tuple(vec![OwnedTerm::atom("start_spec"), why])));
    let duplicate_name =
        OwnedTerm::tuple(vec![OwnedTerm::atom("duplicate_child_name"), OwnedTerm::atom("a")]);
    assert_eq!(duplicate, start_spec(duplicate_name));
    assert!(two_templates.is_err());
    assert!(log.entries().is_empty(), "nothing started");
}

#[test]
fn a_named_supervisor_answers_by_name() {
    let log = Log::default();
    let children = vec![worker("a", &log)];
    let counts = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                let name = Atom::new("sup_children_named");
                let sup =
                    supervisor::start_link_named(&mut cx, name, Flags::default(), children).await.unwrap();
                assert_eq!(cx.whereis(name), sup.pid());
                supervisor::count_children(&mut cx, name).await.unwrap()
            })
            .unwrap()
    });
    assert_eq!(counts, ChildCounts { specs: 1, active: 1, supervisors: 0, workers: 1 });
}

/// Answers every call with `pong`.
struct Pong;

impl GenServer for Pong {
    async fn handle_call(&mut self, _cx: &mut Cx, _request: Root, _from: Caller) -> CallResult {
        CallResult::reply(|h| h.atom_named("pong"))
    }
}

#[test]
fn a_restarted_gen_server_child_takes_its_name_again() {
    let reply = guarded(|| {
        runtime()
            .block_on(|mut cx| async move {
                let name = Atom::new("sup_children_pong");
                let spec = ChildSpec::gen_server_named("pong", name, || Pong);
                let sup = start(&mut cx, vec![spec]).await;
                let first = cx.whereis(name).unwrap();
                cx.exit_process(first, ExitReason::Kill);
                let second = restarted(&mut cx, sup, "pong", first).await;
                assert_eq!(cx.whereis(name), Some(second));
                gen_server::call(&mut cx, name, |h| h.atom_named("ping"), Duration::from_secs(1)).await
            })
            .unwrap()
    });
    assert_eq!(reply, Ok(OwnedTerm::atom("pong")));
}

#[test]
fn a_gen_server_child_receives_shutdown_through_terminate() {
    /// Traps exits and logs its `terminate` reason.
    struct Logged(Log);

    impl GenServer for Logged {
        async fn init(&mut self, cx: &mut Cx) -> gen_server::Init {
            cx.trap_exit(true);
            gen_server::Init::Ok
        }

        async fn handle_call(&mut self, _cx: &mut Cx, _request: Root, _from: Caller) -> CallResult {
            CallResult::NoReply
        }

        async fn terminate(&mut self, _cx: &mut Cx, reason: &ExitReason) {
            self.0.push(format!("terminate {reason}"));
        }
    }

    let log = Log::default();
    let server_log = log.clone();
    guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                let spec = ChildSpec::gen_server("logged", move || Logged(server_log.clone()));
                let sup = start(&mut cx, vec![spec]).await;
                supervisor::terminate_child(&mut cx, sup, "logged").await.unwrap();
            })
            .unwrap()
    });
    assert_eq!(log.entries(), ["terminate shutdown"]);
}

/// restart_child, delete_child and terminate_child name a child the same way (an id as an
/// atom or a string, or a pid): a pid names no static child (`not_found`, as OTP looks the
/// id up as given), and which_children keeps a child's place across its restarts
/// (`set_pid/3`) while a child added later comes first.
#[test]
fn child_requests_share_one_child_reference() {
    use supervisor::ChildRef;
    use SupervisorError::NotFound;
    let log = Log::default();
    let children = vec![worker("a", &log), worker("b", &log)];
    let late = worker("c", &log);
    guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                let sup = start(&mut cx, children).await;
                let a = Atom::new("a");
                let a_pid = child_pid(&mut cx, sup, "a").await.unwrap();
                assert_eq!(supervisor::restart_child(&mut cx, sup, a_pid).await, Err(NotFound));
                assert_eq!(supervisor::delete_child(&mut cx, sup, a_pid).await, Err(NotFound));
                supervisor::terminate_child(&mut cx, sup, a).await.unwrap();
                supervisor::start_child(&mut cx, sup, late).await.unwrap();
                supervisor::restart_child(&mut cx, sup, ChildRef::Id(a)).await.unwrap();
                assert_eq!(ids(&mut cx, sup).await, ["c", "b", "a"]);
                supervisor::terminate_child(&mut cx, sup, ChildRef::from("b")).await.unwrap();
                supervisor::delete_child(&mut cx, sup, Atom::new("b")).await.unwrap();
                supervisor::terminate_child(&mut cx, sup, "c").await.unwrap();
                supervisor::delete_child(&mut cx, sup, "c").await.unwrap();
                assert_eq!(ids(&mut cx, sup).await, ["a"]);
            })
            .unwrap()
    });
}

/// A request to a supervisor that does not exist, by pid or by a name nobody holds, is
/// `noproc` (`child_adm` in supervisor_SUITE: `{'EXIT', {noproc, {gen_server, call, _}}}`
/// for every request).
#[test]
fn a_request_to_a_dead_supervisor_is_noproc() {
    let log = Log::default();
    let spec = worker("a", &log);
    let results = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                let (dead, monitor) = cx.spawn_monitor(|_| async {}).unwrap();
                crate::sup_support::down(&mut cx, monitor).await;
                let mut results = Vec::new();
                for sup in [Server::Pid(dead), Server::from("sup_children_nobody")] {
                    results.push(supervisor::which_children(&mut cx, sup).await.map(|_| ()));
                    results.push(supervisor::count_children(&mut cx, sup).await.map(|_| ()));
                    results.push(supervisor::start_child(&mut cx, sup, spec.clone()).await.map(|_| ()));
                    results.push(supervisor::terminate_child(&mut cx, sup, "a").await);
                    results.push(supervisor::restart_child(&mut cx, sup, "a").await.map(|_| ()));
                    results.push(supervisor::delete_child(&mut cx, sup, "a").await);
                    results
                        .push(supervisor::start_dynamic_child(&mut cx, sup, |h| h.nil()).await.map(|_| ()));
                }
                results
            })
            .unwrap()
    });
    assert_eq!(results, vec![Err(SupervisorError::NoProc); 14]);
    assert_eq!(SupervisorError::NoProc.to_string(), "noproc");
    assert!(log.entries().is_empty());
}
