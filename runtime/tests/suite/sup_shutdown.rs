//! How a supervisor stops children, against OTP's `supervisor`: reverse start order, the
//! shutdown timeout and `brutal_kill`, `infinity` for supervisors, nested trees, and a
//! supervisor following its parent out.

use std::time::{Duration, Instant};

use crate::common::guarded;
use crate::sup_support::{child_pid, down, restarted, runtime, worker_with, Log, OnShutdown};
use heaplab_runtime::gen_server::{self, Timeout};
use heaplab_runtime::heaplab_gc::Pid;
use heaplab_runtime::supervisor::{
    self, ChildCounts, ChildSpec, ChildState, ChildType, Flags, Shutdown, Strategy,
};
use heaplab_runtime::{receive, Cx, ExitReason};

async fn start(cx: &mut Cx, flags: Flags, children: Vec<ChildSpec>) -> Pid {
    supervisor::start_link(cx, flags, children).await.expect("supervisor starts").pid().unwrap()
}

fn four_workers(log: &Log) -> Vec<ChildSpec> {
    ["a", "b", "c", "d"].iter().map(|id| worker_with(id, log, OnShutdown::Clean)).collect()
}

#[test]
fn stop_shuts_children_down_in_reverse_start_order() {
    let log = Log::default();
    let children = four_workers(&log);
    let reason = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                // The supervisor's `shutdown` would end this linked process too.
                cx.trap_exit(true);
                let sup = start(&mut cx, Flags::default(), children).await;
                let monitor = cx.monitor(sup);
                gen_server::stop_with(&mut cx, sup, ExitReason::Shutdown, Timeout::Infinity).await.unwrap();
                down(&mut cx, monitor).await
            })
            .unwrap()
    });
    assert_eq!(reason, ExitReason::Shutdown);
    assert_eq!(
        log.entries(),
        ["start a", "start b", "start c", "start d", "stop d", "stop c", "stop b", "stop a"]
    );
}

#[test]
fn a_supervisor_follows_its_parent_out_stopping_its_children_first() {
    let log = Log::default();
    let children = four_workers(&log);
    let test_log = log.clone();
    let reason = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                let me = cx.self_pid();
                let parent = cx
                    .spawn(move |mut cx| async move {
                        let sup = start(&mut cx, Flags::default(), children).await;
                        cx.send(me, |h| h.pid(sup));
                        cx.receive(|_, _| Some(())).await;
                        cx.exit::<()>(ExitReason::atom("parent_gone")).await
                    })
                    .unwrap();
                let sup = cx.receive(|_, m| m.as_pid()).await;
                let monitor = cx.monitor(sup);
                cx.send(parent, |h| h.atom_named("go"));
                let reason = down(&mut cx, monitor).await;
                test_log.push("supervisor down");
                reason
            })
            .unwrap()
    });
    assert_eq!(reason, ExitReason::atom("parent_gone"));
    assert_eq!(log.with_prefix("stop"), ["stop d", "stop c", "stop b", "stop a"]);
    assert_eq!(log.entries().last().unwrap(), "supervisor down");
}

/// Terminates the only child, shut down with `how` and behaving as `on_shutdown`; returns
/// its exit reason, the time the termination took, and the log.
fn terminate_one(how: Shutdown, on_shutdown: OnShutdown) -> (ExitReason, Duration, Vec<String>) {
    let log = Log::default();
    let spec = worker_with("w", &log, on_shutdown).shutdown(how);
    let (reason, took) = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                let sup = start(&mut cx, Flags::default(), vec![spec]).await;
                let child = child_pid(&mut cx, sup, "w").await.unwrap();
                cx.sleep(Duration::from_millis(20)).await; // the child sets trap_exit
                let monitor = cx.monitor(child);
                let started = Instant::now();
                supervisor::terminate_child(&mut cx, sup, "w").await.unwrap();
                let took = started.elapsed();
                let state = supervisor::which_children(&mut cx, sup).await.unwrap()[0].child;
                assert_eq!(state, ChildState::Undefined, "the spec is kept, not running");
                (down(&mut cx, monitor).await, took)
            })
            .unwrap()
    });
    (reason, took, log.entries())
}

#[test]
fn brutal_kill_kills_at_once_without_a_shutdown_signal() {
    let (reason, took, log) = terminate_one(Shutdown::BrutalKill, OnShutdown::Ignore);
    assert_eq!(reason, ExitReason::Killed);
    assert!(took < Duration::from_millis(500), "took {took:?}");
    assert_eq!(log, ["start w"], "the child never saw a shutdown signal");
}

#[test]
fn a_child_ignoring_shutdown_is_killed_when_the_timeout_runs_out() {
    let (reason, took, log) =
        terminate_one(Shutdown::Timeout(Duration::from_millis(200)), OnShutdown::Ignore);
    assert_eq!(reason, ExitReason::Killed);
    assert!(took >= Duration::from_millis(200), "killed after {took:?}");
    assert_eq!(log, ["start w", "ignore w"]);
}

#[test]
fn a_trapping_child_cleans_up_within_the_timeout() {
    let (reason, took, log) = terminate_one(Shutdown::Timeout(Duration::from_secs(5)), OnShutdown::Clean);
    assert_eq!(reason, ExitReason::Shutdown);
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(log, ["start w", "stop w"]);
}

#[test]
fn a_child_that_does_not_trap_exits_dies_with_shutdown() {
    let (reason, _, log) = terminate_one(Shutdown::Timeout(Duration::from_secs(5)), OnShutdown::Die);
    assert_eq!(reason, ExitReason::Shutdown);
    assert_eq!(log, ["start w"]);
}

/// A child that takes `cleanup` to stop after the shutdown signal.
fn slow_to_stop(log: &Log, cleanup: Duration) -> ChildSpec {
    let log = log.clone();
    ChildSpec::worker("slow", move |cx| {
        let log = log.clone();
        cx.spawn_link(move |mut cx| async move {
            cx.trap_exit(true);
            receive!(cx, { {EXIT, _, _} => () });
            cx.sleep(cleanup).await;
            log.push("cleaned up");
            cx.exit::<()>(ExitReason::Shutdown).await
        })
    })
}

#[test]
fn infinity_waits_for_as_long_as_the_child_takes() {
    let log = Log::default();
    let spec = slow_to_stop(&log, Duration::from_millis(300)).shutdown(Shutdown::Infinity);
    let (reason, took) = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                let sup = start(&mut cx, Flags::default(), vec![spec]).await;
                let child = child_pid(&mut cx, sup, "slow").await.unwrap();
                cx.sleep(Duration::from_millis(20)).await;
                let monitor = cx.monitor(child);
                let started = Instant::now();
                supervisor::terminate_child(&mut cx, sup, "slow").await.unwrap();
                let took = started.elapsed();
                (down(&mut cx, monitor).await, took)
            })
            .unwrap()
    });
    assert_eq!(reason, ExitReason::Shutdown);
    assert!(took >= Duration::from_millis(300), "took {took:?}");
    assert_eq!(log.entries(), ["cleaned up"]);
}

/// A top supervisor with `x`, a nested supervisor `inner` of `i1` and `i2`, and `y`.
fn tree(log: &Log) -> Vec<ChildSpec> {
    let inner = vec![worker_with("i1", log, OnShutdown::Clean), worker_with("i2", log, OnShutdown::Clean)];
    vec![
        worker_with("x", log, OnShutdown::Clean),
        ChildSpec::supervisor("inner", Flags::new(Strategy::OneForOne), inner),
        worker_with("y", log, OnShutdown::Clean),
    ]
}

#[test]
fn a_nested_tree_starts_depth_first_and_stops_in_reverse() {
    let log = Log::default();
    let children = tree(&log);
    let test_log = log.clone();
    let (counts, inner) = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                cx.trap_exit(true);
                let top = start(&mut cx, Flags::default(), children).await;
                let counts = supervisor::count_children(&mut cx, top).await.unwrap();
                let listed = supervisor::which_children(&mut cx, top).await.unwrap();
                let inner = listed.iter().find(|c| c.id.unwrap().name() == "inner").unwrap();
                assert_eq!(inner.child_type, ChildType::Supervisor);
                let inner_pid = inner.child.pid().unwrap();
                let inner_counts = supervisor::count_children(&mut cx, inner_pid).await.unwrap();
                let monitor = cx.monitor(top);
                gen_server::stop_with(&mut cx, top, ExitReason::Shutdown, Timeout::Infinity).await.unwrap();
                down(&mut cx, monitor).await;
                test_log.push("top down");
                (counts, inner_counts)
            })
            .unwrap()
    });
    assert_eq!(counts, ChildCounts { specs: 3, active: 3, supervisors: 1, workers: 2 });
    assert_eq!(inner, ChildCounts { specs: 2, active: 2, supervisors: 0, workers: 2 });
    assert_eq!(
        log.entries(),
        ["start x", "start i1", "start i2", "start y", "stop y", "stop i2", "stop i1", "stop x", "top down"]
    );
}

#[test]
fn a_killed_nested_supervisor_is_restarted_with_fresh_children() {
    let log = Log::default();
    let children = tree(&log);
    guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                let top = start(&mut cx, Flags::default().intensity(5), children).await;
                let inner = child_pid(&mut cx, top, "inner").await.unwrap();
                let (i1, i2) = (
                    child_pid(&mut cx, inner, "i1").await.unwrap(),
                    child_pid(&mut cx, inner, "i2").await.unwrap(),
                );
                let x = child_pid(&mut cx, top, "x").await.unwrap();
                let i1_monitor = cx.monitor(i1);
                let i2_monitor = cx.monitor(i2);
                cx.exit_process(inner, ExitReason::Kill);
                // Its children see it die (they trap exits and leave with its reason); each
                // does so on its own schedule, so wait for both.
                assert_eq!(down(&mut cx, i1_monitor).await, ExitReason::Killed);
                assert_eq!(down(&mut cx, i2_monitor).await, ExitReason::Killed);
                let new_inner = restarted(&mut cx, top, "inner", inner).await;
                let (n1, n2) = (
                    child_pid(&mut cx, new_inner, "i1").await.unwrap(),
                    child_pid(&mut cx, new_inner, "i2").await.unwrap(),
                );
                assert!(n1 != i1 && n2 != i2);
                assert!(!cx.is_alive(i1) && !cx.is_alive(i2));
                assert_eq!(child_pid(&mut cx, top, "x").await, Some(x), "one_for_one: x untouched");
            })
            .unwrap()
    });
}

#[test]
fn terminate_child_racing_with_a_crash_leaves_the_child_stopped() {
    let log = Log::default();
    let spec = worker_with("w", &log, OnShutdown::Die);
    let state = guarded(move || {
        runtime()
            .block_on(move |mut cx| async move {
                let sup = start(&mut cx, Flags::default().intensity(10), vec![spec]).await;
                let child = child_pid(&mut cx, sup, "w").await.unwrap();
                cx.send(child, |h| h.atom_named("crash"));
                supervisor::terminate_child(&mut cx, sup, "w").await.unwrap();
                cx.sleep(Duration::from_millis(50)).await;
                supervisor::which_children(&mut cx, sup).await.unwrap()[0].child
            })
            .unwrap()
    });
    assert_eq!(state, ChildState::Undefined);
}
